"""The projection dataset: KDE maps, scalars and labels of every line of sight (Sect. 2.4, 4.1).

Pipeline
--------
1. :func:`build_dataset` projects every galaxy of the built suites (``<data_dir>/suites``)
   along ``n_los`` Fibonacci lines of sight (:func:`project_galaxy`) and stores, per
   projection, the two CNN input maps, the three scalars and the ten labels. One Dask task
   per dataset shard; shards are written atomically and a rerun only builds missing ones.
2. :func:`build_index` reads the (small) scalars and labels of all shards, balances the
   training suites per bin of ``log10 M(<R_h)`` (:func:`balance`), splits the training
   galaxies into train / validation (:func:`split_by_galaxy`) and writes ``index.h5``.
   It is cheap and can be rerun with other balancing options without rebuilding the maps.
3. :class:`ProjectionDataset` (PyTorch) reads the maps lazily from the shards;
   :func:`load_arrays` returns the scalars, labels and metadata of a selection as numpy
   arrays (no maps) for the classical estimators and the plots.

Layout of ``<dataset_dir>`` (``Config.dataset_dir`` = ``<data_dir>/dataset``)
------------------------------------------------------------------------------
``<suite>/manifest.json``
    The build parameters (dataset parameters, seed, the suite's own manifest, version).
    A later build with other parameters refuses to touch the directory.
``<suite>/shard_00000.h5`` ...
    Galaxies ``[k * shard_size, (k + 1) * shard_size)`` of the suite (galaxy index = its
    position in the suite), one row per projection:

    ======================  ================  ===============================================
    ``map1``                (N, S, S) f4      position map, PDF of (x/R_h, y/R_h) on [-2.4, 2.4]^2
    ``map2``                (N, S, S) f4      phase map, PDF of (R/R_h, v_los/v_p98) on [-2.4, 2.4] x [-1, 1]
    ``scalars``             (N, 3) f8         R_h [kpc], sigma_los [km/s], v_p98 [km/s]
    ``labels``              (N, 10) f8        log10 M(< f R_h) [Msun], f = ``radii_f`` (RADII_F)
    ``galaxy_id``           (N,) str          galaxy name (unique within the suite)
    ``galaxy_index``        (N,) i8           galaxy index within the suite
    ``suite``               (N,) str          suite name
    ``los``                 (N,) i4           line-of-sight index (``fibonacci_directions(n_los)``)
    ``direction``           (N, 3) f8         unit line-of-sight vector in the galaxy frame
    ``n_sample``            (N,) i4           stars in the projection's sub-sample
    ``skipped_index`` ...   (K,)              galaxies skipped: index, name (``skipped_name``) and
                                              one-line reason (``skipped_reason``)
    ======================  ================  ===============================================

    Maps are rows along the second coordinate (``map[i, j] = f(x_j, y_i)``, see
    :mod:`galmass.maps`), stored uncompressed in chunks of one map, so that reading one
    projection reads one contiguous chunk.
``index.h5``
    One row per projection of the indexed suites (*before* balancing, so Fig. 1 can be
    drawn): ``shard`` (path relative to ``dataset_dir``), ``row``, ``suite``,
    ``galaxy_id``, ``galaxy_index``, ``los``, ``scalars``, ``labels``, ``log_mass_rh``
    (= ``labels[:, RADII_F == 1]``), ``in_range`` (inside ``balance_range``), ``kept``
    (selected by balancing) and ``split`` (``"train"``, ``"validation"``, ``"test"`` for
    held-out suites, ``"dropped"`` when not kept); plus ``bin_edges`` and the skipped
    galaxies (``skipped_suite``, ``skipped_name``, ``skipped_reason``). Attributes record
    the options used.

Reproducibility: the sub-samples of galaxy ``i`` of ``suite`` use
``numpy.random.default_rng([seed, crc32(suite), i, PROJECTION_STREAM])`` (:func:`projection_rng`),
so the dataset does not depend on how the work was scheduled or resumed.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
import math
import os
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import h5py
import numpy as np

from . import __version__
from .config import DatasetConfig
from .constants import RADII_F
from .errors import GalmassError, one_line
from .galaxy import Galaxy
from .files import (atomic_path, atomic_write_json, directory_lock, h5_dataset, move_aside, stored_checksum,
                    write_checksum)
from .stages import fingerprint
from .storage import (_read_manifest, read_all_hdf5, read_shard_entries, set_aside_corrupt,
                      shard_state)

__all__ = [
    "SCALAR_NAMES",
    "LABEL_RH_INDEX",
    "PROJECTION_STREAM",
    "projection_rng",
    "project_galaxy",
    "load_inputs",
    "build_dataset",
    "DatasetBuild",
    "balance",
    "split_by_galaxy",
    "build_index",
    "load_arrays",
    "ProjectionDataset",
    "cli_build",
]

log = logging.getLogger(__name__)

#: Names (and order) of the three scalar inputs (Input 3 of the paper).
SCALAR_NAMES: tuple[str, str, str] = ("r_half", "sigma_los", "v_p98")
#: Column of the labels holding log10 M(< R_h) (f = 1.0 in RADII_F).
LABEL_RH_INDEX: int = int(np.flatnonzero(np.isclose(RADII_F, 1.0))[0])
#: Extra entropy word that separates projection random streams from galaxy generation.
PROJECTION_STREAM = 0x70726F6A  # "proj"
#: Version of the shard layout (part of the manifest: a change forces a rebuild elsewhere).
FORMAT_VERSION = 1

_STR = h5py.string_dtype()
#: Compression of the maps: none. Measured on 1152 maps of 64x64 (random access, one chunk
#: per map, warm cache): uncompressed 15 us/map; lzf 40 us (95 % of the raw size);
#: gzip-1 101 us (78 %); gzip-1 + shuffle 81 us (69 %). Writing is also 10x faster.
_MAP_COMPRESSION: dict[str, Any] = {}


# --------------------------------------------------------------------------- one galaxy
def _est_names() -> list[str]:
    from .estimators import ESTIMATORS

    return list(ESTIMATORS)


def _n_est() -> int:
    return len(_est_names())


def projection_rng(seed: int, suite: str, index: int) -> np.random.Generator:
    """Random generator of the projections of galaxy ``index`` of ``suite``."""
    return np.random.default_rng([int(seed), zlib.crc32(suite.encode()), int(index), PROJECTION_STREAM])


def project_galaxy(galaxy: Galaxy, n_los: int, rng: np.random.Generator, map_size: int, *,
                   n_min_sample: int = 200, n_max_sample: int = 10_000, min_stars: int = 50,
                   kde_bandwidth: str = "paper", n_sample_range: Sequence[int] | None = None,
                   v_err_range: Sequence[float] | None = None) -> dict[str, np.ndarray]:
    """All ``n_los`` projections of a galaxy as CNN inputs and labels.

    Each line of sight gets its own random sub-sample of
    :func:`~galmass.projection.subsample_size` ``(n_stars, n_min_sample, n_max_sample)``
    stars (:func:`galmass.projection.project_all`), from which ``R_h``, ``sigma_los`` and
    ``v_p98`` are computed and the two KDE maps are made (:func:`galmass.maps.position_maps`,
    :func:`galmass.maps.phase_maps`).

    Parameters
    ----------
    galaxy : Galaxy
        The galaxy.
    n_los : int
        Lines of sight (Fibonacci directions).
    rng : numpy.random.Generator
        Source of the sub-samples (use :func:`projection_rng` for reproducible datasets).
    map_size : int
        Maps are ``map_size x map_size``.
    n_min_sample, n_max_sample : int
        Bounds of the sub-sample size.
    min_stars : int
        Minimum number of star particles.
    kde_bandwidth : {"paper", "scott"}
        ``"paper"`` (Appendix A): the ``n`` of Scott's factor is the number of stars of the
        projection within ``0.5 R_h`` (at least 1); ``"scott"``: all stars of the projection.
    n_sample_range : (int, int), optional
        Observational realism: each projection draws its own star count log-uniformly in
        this range (:func:`~galmass.projection.draw_sample_sizes`, capped at the galaxy's
        stars) instead of ``subsample_size``.
    v_err_range : (float, float), optional
        Observational realism: Gaussian velocity errors [km/s]
        (:func:`~galmass.projection.draw_velocity_errors`) are added to ``v_los``; the maps
        use the observed velocities, ``sigma_los`` and ``v_p98`` are corrected for the
        errors (:func:`~galmass.projection.correct_for_errors`) and the estimators subtract
        them, exactly as :func:`galmass.predict.predict` does with a catalogue's ``v_err``.

    Returns
    -------
    dict
        ``map1``, ``map2`` (n_los, S, S) float32; ``scalars`` (n_los, 3) float64
        (:data:`SCALAR_NAMES`: R_h [kpc], sigma_los [km/s], v_p98 [km/s]); ``labels``
        (n_los, 10) float64 = log10 M(< f R_h) [Msun] for f in RADII_F; ``los`` (n_los,)
        int32; ``direction`` (n_los, 3); ``n_sample`` (n_los,) int32.

    Raises
    ------
    GalmassError
        The galaxy cannot be projected: fewer than ``min_stars`` stars, NaN/infinite
        values, zero velocity dispersion, a degenerate map, ... (one line).
    """
    from .estimators import ESTIMATORS, apply_all
    from .maps import phase_maps, position_maps
    from .projection import (correct_for_errors, draw_sample_sizes, draw_velocity_errors,
                             fibonacci_directions, project, project_all, sigma_los, subsample_size,
                             v_p98)

    if kde_bandwidth not in ("paper", "scott"):
        raise GalmassError(f"kde_bandwidth must be 'paper' or 'scott', got {kde_bandwidth!r}")
    n = galaxy.n_stars
    if n < min_stars:
        raise GalmassError(f"galaxy {galaxy.name!r} has {n} star particles, fewer than the "
                           f"minimum of {min_stars}")
    if not (np.all(np.isfinite(galaxy.star_pos)) and np.all(np.isfinite(galaxy.star_vel))):
        raise GalmassError(f"galaxy {galaxy.name!r}: star positions or velocities contain NaN "
                           f"or infinite values")
    if n_sample_range is None:
        n_sample = subsample_size(n, n_min_sample, n_max_sample)
        projs = project_all(galaxy, n_los, rng, n_sample=n_sample, min_stars=min_stars)
    else:
        sizes = draw_sample_sizes(n, n_los, rng, n_sample_range, min_stars)
        projs = [project(galaxy, d, rng, n_sample=int(k), los_index=i, min_stars=min_stars)
                 for i, (d, k) in enumerate(zip(fibonacci_directions(n_los), sizes))]
    # observed velocities (with errors when asked) and the error-corrected scalars
    vel, errs, sig, vp, vp_obs = [], [], [], [], []
    for p in projs:
        v, err = p.v_los, None
        if v_err_range is not None:
            err = draw_velocity_errors(len(v), rng, v_err_range)
            v = v + rng.normal(0.0, err)
            v = v - v.mean()
        s_obs, p_obs = sigma_los(v), v_p98(v)
        s_int, p_int = correct_for_errors(s_obs, p_obs, err, f"galaxy {galaxy.name!r}")
        vel.append(v); errs.append(err); sig.append(s_int); vp.append(p_int); vp_obs.append(p_obs)
    rh = [p.r_half for p in projs]
    Rs = [p.R for p in projs]
    if kde_bandwidth == "paper":
        bw = [max(1, int(np.count_nonzero(R < 0.5 * r))) for R, r in zip(Rs, rh)]
    else:
        bw = None
    shape = (int(map_size), int(map_size))
    map1 = position_maps([p.x for p in projs], [p.y for p in projs], rh, shape, bandwidth_points=bw)
    map2 = phase_maps(Rs, vel, rh, vp_obs, shape, bandwidth_points=bw)
    out = {
        "map1": np.ascontiguousarray(map1, dtype=np.float32),
        "map2": np.ascontiguousarray(map2, dtype=np.float32),
        "scalars": np.array([[p.r_half, a, b] for p, a, b in zip(projs, sig, vp)], dtype=np.float64),
        "labels": np.array([p.log10_mass for p in projs], dtype=np.float64),
        "los": np.array([p.los_index for p in projs], dtype=np.int32),
        "direction": np.array([p.direction for p in projs], dtype=np.float64),
        "n_sample": np.array([p.n_stars for p in projs], dtype=np.int32),
    }
    # the literature estimators (Sect. 3) on the same sub-sample, and the truth at their radii
    est_m, est_t = [], []
    for p, v, err in zip(projs, vel, errs):
        res = apply_all(p.R, v, p.r_half, v_err=err)
        est_m.append([np.log10(res[k][1]) for k in ESTIMATORS])
        est_t.append([np.log10(float(galaxy.enclosed_mass(res[k][0]))) for k in ESTIMATORS])
    out["est_log_mass"] = np.array(est_m, dtype=np.float64)
    out["est_log_truth"] = np.array(est_t, dtype=np.float64)
    for key in ("map1", "map2", "scalars", "labels"):
        if not np.all(np.isfinite(out[key])):
            raise GalmassError(f"galaxy {galaxy.name!r}: {key} of its projections is not finite")
    return out


# --------------------------------------------------------------------------- shards
_ROW_KEYS = ("map1", "map2", "scalars", "labels", "los", "direction", "n_sample",
             "est_log_mass", "est_log_truth")
#: Columns copied into ``index.h5`` (no maps).
_INDEX_ARRAYS = ("scalars", "labels", "est_log_mass", "est_log_truth")


@dataclass(frozen=True)
class _ShardTask:
    suite: str
    shard: int
    start: int  # galaxy indices [start, stop) of the suite
    stop: int
    sources: tuple[tuple[str, int, int, int], ...]  # (suite shard, its first index, lo, hi) local
    path: str
    params: str  # JSON of the build parameters


def _run_shard(task: _ShardTask) -> dict[str, Any]:
    params = json.loads(task.params)
    rows: dict[str, list[np.ndarray]] = {k: [] for k in _ROW_KEYS}
    gid: list[str] = []
    gidx: list[int] = []
    skipped: list[tuple[int, str, str]] = []
    for src, first, lo, hi in task.sources:
        gals = read_shard_entries(src)
        for local in range(lo, hi):
            index = first + local
            gal, name, reason = gals[local]
            if gal is not None:
                try:
                    res = project_galaxy(
                        gal, params["n_los"], projection_rng(params["seed"], task.suite, index),
                        params["map_size"], n_min_sample=params["n_min_sample"],
                        n_max_sample=params["n_max_sample"], min_stars=params["min_stars"],
                        kde_bandwidth=params["kde_bandwidth"],
                        n_sample_range=params.get("n_sample_range"),
                        v_err_range=params.get("v_err_range"))
                except GalmassError as exc:
                    reason = one_line(exc)
            if reason:
                skipped.append((index, name, reason))
                continue
            for k in _ROW_KEYS:
                rows[k].append(res[k])
            gid += [name] * len(res["los"])
            gidx += [index] * len(res["los"])
    S = int(params["map_size"])
    empty = {"map1": (0, S, S), "map2": (0, S, S), "scalars": (0, 3), "labels": (0, len(RADII_F)),
             "los": (0,), "direction": (0, 3), "n_sample": (0,),
             "est_log_mass": (0, _n_est()), "est_log_truth": (0, _n_est())}
    dtypes = {"map1": np.float32, "map2": np.float32, "scalars": np.float64, "labels": np.float64,
              "los": np.int32, "direction": np.float64, "n_sample": np.int32,
              "est_log_mass": np.float64, "est_log_truth": np.float64}
    arrays = {k: (np.concatenate(v) if v else np.zeros(empty[k])).astype(dtypes[k]) for k, v in rows.items()}
    path = Path(task.path)
    n = len(gid)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for k in ("map1", "map2"):
            h5_dataset(f, k, data=arrays[k], chunks=(1, S, S) if n else None, **_MAP_COMPRESSION)
        for k in ("scalars", "labels", "los", "direction", "n_sample", "est_log_mass", "est_log_truth"):
            h5_dataset(f, k, data=arrays[k])
        h5_dataset(f, "estimator_names", data=np.array(_est_names(), dtype=object), dtype=_STR)
        h5_dataset(f, "galaxy_id", data=np.array(gid, dtype=object), dtype=_STR)
        h5_dataset(f, "galaxy_index", data=np.array(gidx, dtype=np.int64))
        h5_dataset(f, "suite", data=np.array([task.suite] * n, dtype=object), dtype=_STR)
        h5_dataset(f, "radii_f", data=RADII_F)
        h5_dataset(f, "skipped_index", data=np.array([s[0] for s in skipped], dtype=np.int64))
        h5_dataset(f, "skipped_name", data=np.array([s[1] for s in skipped], dtype=object), dtype=_STR)
        h5_dataset(f, "skipped_reason", data=np.array([s[2] for s in skipped], dtype=object), dtype=_STR)
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["galmass_version"] = __version__
        f.attrs["suite"] = task.suite
        f.attrs["galaxy_start"] = task.start
        f.attrs["galaxy_stop"] = task.stop
        f.attrs["n_projections"] = n
        f.attrs["params"] = task.params
        f.attrs["scalar_names"] = json.dumps(SCALAR_NAMES)
        f.attrs["complete"] = True
    write_checksum(path)
    return {"path": task.path, "suite": task.suite, "n_projections": n, "skipped": skipped}


def _shard_ok(path: Path, start: int, stop: int, verify: bool = True) -> bool:
    """Whether a dataset shard of galaxies ``[start, stop)`` is built; with ``verify`` its
    checksum is checked and a corrupt shard is moved aside (to be rebuilt)."""
    if verify:
        state = shard_state(path, read_all_hdf5)
        if state == "corrupt":
            set_aside_corrupt(path, "dataset shard")
        if state != "ok":
            return False
    try:
        with h5py.File(path, "r") as f:
            return (bool(f.attrs["complete"]) and int(f.attrs["galaxy_start"]) == start
                    and int(f.attrs["galaxy_stop"]) == stop)
    except (OSError, KeyError):
        return False


def _suite_sources(suites_dir: Path, suite: str) -> tuple[list[tuple[str, int]], dict | None]:
    """Shards ``(path, n_galaxies)`` of a completely built suite, and its manifest."""
    directory = suites_dir / suite
    hint = "run `galmass suites build --config <profile>` first"
    shards = sorted(directory.glob("shard_*.h5")) if directory.is_dir() else []
    if not shards:
        raise GalmassError(f"suite {suite!r} is not built in {directory}; {hint}")
    mpath = directory / "manifest.json"
    manifest = json.loads(mpath.read_text()) if mpath.exists() else None
    counts = []
    for s in shards:
        if shard_state(s, read_all_hdf5) != "ok":
            raise GalmassError(f"suite shard {s} is corrupt (its checksum does not match, or it cannot be "
                               f"read); rerun `galmass suites build --config <profile>`: it moves the shard aside and "
                               f"rebuilds it")
        try:
            with h5py.File(s, "r") as f:
                counts.append(int(f.attrs["n_galaxies"]))
        except (OSError, KeyError):
            raise GalmassError(f"suite shard {s} is unreadable; {hint} (it rebuilds missing shards)") from None
    if manifest is not None:
        expected = math.ceil(manifest["n_galaxies"] / manifest["shard_size"])
        if len(shards) != expected or sum(counts) != manifest["n_galaxies"]:
            raise GalmassError(f"suite {suite!r} in {directory} is incomplete ({len(shards)} of "
                               f"{expected} shards); {hint} to finish it")
    return [(str(s), c) for s, c in zip(shards, counts)], manifest


@dataclass(frozen=True)
class DatasetBuild:
    """Result of :func:`build_dataset`.

    Attributes
    ----------
    directory : Path
        The dataset directory.
    shards : dict
        Suite -> tuple of its dataset shard paths.
    n_built : int
        Shards (re)built by this call (0: everything was already there).
    skipped : list of (suite, galaxy index, name, reason)
        Galaxies skipped in the shards built by this call.
    index : Path or None
        ``index.h5`` when written (by :func:`cli_build`).
    """

    directory: Path
    shards: dict[str, tuple[Path, ...]]
    n_built: int
    skipped: list[tuple[str, int, str, str]] = field(default_factory=list)
    index: Path | None = None


def _as_params(params: DatasetConfig | Mapping[str, Any] | None) -> DatasetConfig:
    if params is None:
        return DatasetConfig()
    if isinstance(params, DatasetConfig):
        return params
    try:
        return DatasetConfig(**dict(params))
    except TypeError as exc:
        raise GalmassError(f"dataset parameters: {exc}") from None


def build_dataset(params: DatasetConfig | Mapping[str, Any] | None, suites: Sequence[str],
                  suites_dir: str | Path, out_dir: str | Path, *, seed: int = 0, client=None,
                  scheduler: str | None = None, n_workers: int | None = None,
                  progress: bool = True, replace_stale: bool = False) -> DatasetBuild:
    """Project every galaxy of the built ``suites`` into dataset shards under ``out_dir``, on Dask.

    Parameters
    ----------
    params : DatasetConfig or mapping
        ``n_los``, ``map_size``, ``n_min_sample``, ``n_max_sample``, ``min_stars``,
        ``kde_bandwidth`` and ``shard_size`` are used (balancing and splits are options of
        :func:`build_index`).
    suites : sequence of str
        Suites to project; each must be built under ``suites_dir/<suite>``.
    suites_dir, out_dir : path
        Built suites (:func:`galmass.storage.build_suite`) and the dataset directory.
    seed : int
        Seed of the projection sub-samples (:func:`projection_rng`).
    client : dask.distributed.Client, optional
        Existing client; otherwise one is made from ``scheduler`` / ``n_workers``.
    progress : bool
        tqdm progress bar.

    Returns
    -------
    DatasetBuild

    Raises
    ------
    GalmassError
        A suite is missing or incomplete, or ``out_dir`` holds a dataset of a suite built
        with other parameters.

    Notes
    -----
    Complete shards already present are kept; only missing ones are computed (one Dask
    task per shard, written to ``*.h5.partial`` and renamed when complete). Galaxies that
    cannot be projected are skipped, logged (one warning line each) and recorded in their
    shard.
    """
    out = Path(out_dir)
    with directory_lock(out, "the projection dataset"):  # a second build waits, then finds it done
        return _build_dataset(_as_params(params), suites, Path(suites_dir), out, seed, client,
                              scheduler, n_workers, progress, replace_stale)


def _build_dataset(p: DatasetConfig, suites: Sequence[str], suites_dir: Path, out: Path, seed: int,
                   client, scheduler, n_workers, progress: bool, replace_stale: bool) -> DatasetBuild:
    from .parallel import dask_client, map_with_progress

    if not suites_dir.is_dir():
        raise GalmassError(f"suites directory {suites_dir} does not exist; run "
                           f"`galmass suites build --config <profile>` first")
    build_params = {"n_los": int(p.n_los), "map_size": int(p.map_size),
                    "n_min_sample": int(p.n_min_sample), "n_max_sample": int(p.n_max_sample),
                    "min_stars": int(p.min_stars), "kde_bandwidth": str(p.kde_bandwidth),
                    "shard_size": int(p.shard_size), "seed": int(seed),
                    "n_sample_range": None if p.n_sample_range is None else [int(v) for v in p.n_sample_range],
                    "v_err_range": None if p.v_err_range is None else [float(v) for v in p.v_err_range]}
    params_json = json.dumps(build_params, sort_keys=True)
    plan = {s: _suite_sources(suites_dir, s) for s in dict.fromkeys(suites)}
    tasks: list[_ShardTask] = []
    shards: dict[str, tuple[Path, ...]] = {}
    for suite, (sources, suite_manifest) in plan.items():
        directory = out / suite
        n_total = sum(c for _, c in sources)
        manifest = {"suite": suite, **build_params, "n_galaxies": n_total,
                    "suite_manifest": suite_manifest, "format_version": FORMAT_VERSION,
                    "galmass_version": __version__,
                    "code_hash": fingerprint("dataset")}
        mpath = directory / "manifest.json"
        if mpath.exists():
            old = _read_manifest(mpath)
            if old != manifest:
                if not replace_stale:
                    raise GalmassError(f"{directory} holds a dataset built with other parameters or code "
                                       f"({old}); remove it, choose another data_dir, or use --replace-stale")
                moved = move_aside(directory)
                log.warning("dataset %s: stale build moved aside to %s", suite, moved)
        if not mpath.exists():
            atomic_write_json(mpath, manifest)
        firsts = np.concatenate([[0], np.cumsum([c for _, c in sources])])
        paths = []
        size = int(p.shard_size)
        for k, start in enumerate(range(0, n_total, size)):
            stop = min(start + size, n_total)
            src = tuple((path, int(firsts[j]), int(max(start, firsts[j]) - firsts[j]),
                         int(min(stop, firsts[j + 1]) - firsts[j]))
                        for j, (path, _) in enumerate(sources)
                        if firsts[j] < stop and firsts[j + 1] > start)
            path = directory / f"shard_{k:05d}.h5"
            paths.append(path)
            if not _shard_ok(path, start, stop):
                tasks.append(_ShardTask(suite, k, start, stop, src, str(path), params_json))
        shards[suite] = tuple(paths)
    if tasks:
        if client is not None:
            results = map_with_progress(_run_shard, tasks, client=client, desc="dataset", progress=progress)
        else:
            with dask_client(scheduler, n_workers) as cl:
                results = map_with_progress(_run_shard, tasks, client=cl, desc="dataset", progress=progress)
    else:
        results = []
    skipped = []
    for res in results:
        for index, name, reason in res["skipped"]:
            log.warning("skipped galaxy %s (suite %s, index %d): %s", name, res["suite"], index, reason)
            skipped.append((res["suite"], index, name, reason))
    return DatasetBuild(out, shards, len(tasks), skipped)


# --------------------------------------------------------------------------- balance, splits
def _bin_of(values: np.ndarray, bins: int, rng_: tuple[float, float]) -> np.ndarray:
    """Bin number (0 .. bins-1) like ``numpy.histogram``; -1 outside ``[lo, hi]`` or NaN."""
    lo, hi = float(rng_[0]), float(rng_[1])
    v = np.asarray(values, dtype=float)
    out = np.full(v.shape, -1, dtype=np.int64)
    inside = (v >= lo) & (v <= hi)
    b = np.floor((v[inside] - lo) / (hi - lo) * bins).astype(np.int64)
    out[inside] = np.minimum(b, bins - 1)
    return out


def balance(log_mass: Sequence[float], suite: Sequence[str], training_suites: Iterable[str], *,
            bins: int = 30, range: tuple[float, float] = (7.5, 11.0), seed: int = 0,
            enabled: bool = True) -> np.ndarray:
    """Projections kept by the balancing of Sect. 2.4 (boolean mask).

    In each of ``bins`` equal bins of ``log_mass`` = log10 M(<R_h) [Msun] over ``range``
    (bin edges as ``numpy.histogram``), every training suite keeps the same number of
    projections: the smallest count among the training suites in that bin, chosen at
    random (``seed``); projections outside ``range`` are dropped. Projections of the other
    (held-out) suites are kept when inside ``range``, without balancing. With
    ``enabled=False`` everything is kept.

    Parameters
    ----------
    log_mass : array_like, shape (N,)
        log10 M(<R_h) of each projection.
    suite : array_like of str, shape (N,)
        Suite of each projection.
    training_suites : iterable of str
        Suites to balance against each other.
    bins, range, seed, enabled
        See above.

    Returns
    -------
    ndarray of bool, shape (N,)
    """
    log_mass = np.asarray(log_mass, dtype=float)
    suite = np.asarray(suite).astype(str)
    if log_mass.shape != suite.shape or log_mass.ndim != 1:
        raise GalmassError(f"balance: log_mass {log_mass.shape} and suite {suite.shape} must be "
                           f"1-D arrays of the same length")
    if not enabled:
        return np.ones(len(log_mass), dtype=bool)
    bins = int(bins)
    if bins < 1 or not float(range[0]) < float(range[1]):
        raise GalmassError(f"balance: need bins >= 1 and range (low, high) with low < high, "
                           f"got {bins}, {range}")
    b = _bin_of(log_mass, bins, range)
    training = sorted(set(training_suites))
    keep = (b >= 0) & ~np.isin(suite, training)
    if not training:
        return keep
    rng = np.random.default_rng([int(seed), 0xBA1A])
    members = {s: suite == s for s in training}
    for k in np.arange(bins):
        in_bin = b == k
        rows = {s: np.flatnonzero(in_bin & members[s]) for s in training}
        n_keep = min(len(r) for r in rows.values())
        for s in training:  # sorted order: the draws do not depend on the input order of suites
            r = rows[s]
            if n_keep:
                keep[r if len(r) == n_keep else rng.choice(r, size=n_keep, replace=False)] = True
    return keep


def galaxy_keys(suite: Sequence[str], galaxy_id: Sequence[str]) -> np.ndarray:
    """Ids unique across suites, ``"<suite>/<galaxy_id>"`` (array of str): the unit that the
    train/validation split keeps together and that calibration bootstraps resample."""
    return np.char.add(np.char.add(np.asarray(suite).astype(str), "/"), np.asarray(galaxy_id).astype(str))


def split_by_galaxy(galaxy_ids: Sequence[str], validation_fraction: float, seed: int = 0) -> np.ndarray:
    """Validation mask with all projections of a galaxy on the same side (boolean, shape (N,)).

    ``round(validation_fraction * n_galaxies)`` of the distinct ids (sorted, then permuted
    with ``seed``) are validation galaxies. Ids must be unique across suites (e.g.
    ``"<suite>/<name>"``).
    """
    ids = np.asarray(galaxy_ids).astype(str)
    frac = float(validation_fraction)
    if not 0.0 <= frac < 1.0:
        raise GalmassError(f"validation_fraction must be in [0, 1), got {validation_fraction!r}")
    uniq, inverse = np.unique(ids, return_inverse=True)
    n_val = int(round(frac * len(uniq)))
    chosen = np.zeros(len(uniq), dtype=bool)
    chosen[np.random.default_rng([int(seed), 0x5B117]).permutation(len(uniq))[:n_val]] = True
    return chosen[inverse.reshape(-1)]


# --------------------------------------------------------------------------- index
def _strings(ds) -> np.ndarray:
    return np.array([s.decode() if isinstance(s, bytes) else s for s in ds[:]], dtype=object)


def _dataset_suites(dataset_dir: Path) -> list[str]:
    return sorted(d.name for d in dataset_dir.iterdir() if d.is_dir() and (d / "manifest.json").exists())


def build_index(dataset_dir: str | Path, suites: Sequence[str] | None = None, *,
                training_suites: Iterable[str] | None = None, seed: int = 0,
                balance_projections: bool = True, bins: int = 30,
                range: tuple[float, float] = (7.5, 11.0),
                validation_fraction: float = 0.2) -> Path:
    """Balance, split and write ``<dataset_dir>/index.h5`` (see the module docstring).

    Parameters
    ----------
    dataset_dir : path
        A dataset built by :func:`build_dataset`.
    suites : sequence of str, optional
        Suites to index (default: all built under ``dataset_dir``).
    training_suites : iterable of str, optional
        Suites balanced and split into train/validation (default: the indexed suites that
        are training suites in :data:`galmass.suites.SUITE_SPECS`); the others are test
        suites (held out).
    seed : int
        Seed of the balancing draws and of the split.
    balance_projections, bins, range : see :func:`balance`.
    validation_fraction : float
        See :func:`split_by_galaxy` (over the training galaxies that keep projections).

    Returns
    -------
    Path
        The index file (written atomically).
    """
    from .suites import SUITE_SPECS

    d = Path(dataset_dir)
    if not d.is_dir():
        raise GalmassError(f"dataset directory {d} does not exist; build the dataset first")
    suites = list(dict.fromkeys(suites)) if suites is not None else _dataset_suites(d)
    if not suites:
        raise GalmassError(f"no dataset built in {d}")
    if training_suites is None:
        training_suites = [s for s in suites if s in SUITE_SPECS and SUITE_SPECS[s].training]
    training = sorted(set(training_suites) & set(suites))
    options = {"suites": suites, "training_suites": training, "seed": int(seed),
               "balance": bool(balance_projections), "bins": int(bins),
               "range": [float(v) for v in range], "validation_fraction": float(validation_fraction),
               "galmass_version": __version__, "code_hash": fingerprint("dataset")}
    shards = _index_shards(d, suites)
    inputs_sha = hashlib.sha256(json.dumps(
        {**options, "shards": [(f"{s}/{p.name}", _stored_digest(p)) for s, p in shards]},
        sort_keys=True).encode()).hexdigest()
    out = d / "index.h5"
    if _index_fingerprint(out) == inputs_sha:
        return out  # up to date: not rewritten (a finished read-only dataset stays usable)
    with directory_lock(d, "the projection dataset"):
        return _write_index(d, shards, training, inputs_sha, seed, balance_projections, bins, range,
                            validation_fraction, suites)


def _index_shards(d: Path, suites: Sequence[str]) -> list[tuple[str, Path]]:
    """``(suite, path)`` of every dataset shard of ``suites``; missing or incomplete ones raise."""
    shards = []
    for suite in suites:
        mpath = d / suite / "manifest.json"
        if not mpath.exists():
            raise GalmassError(f"suite {suite!r} has no dataset in {d}; build the dataset first")
        manifest = _read_manifest(mpath)
        if not isinstance(manifest, dict) or "n_galaxies" not in manifest:
            raise GalmassError(f"{mpath} is corrupt; rebuild the dataset with --replace-stale")
        n_gal, size = manifest["n_galaxies"], manifest["shard_size"]
        for k, start in enumerate(builtins.range(0, n_gal, size)):
            path = d / suite / f"shard_{k:05d}.h5"
            if not _shard_ok(path, start, min(start + size, n_gal), verify=False):
                raise GalmassError(f"dataset shard {path} is missing or incomplete; rerun the dataset build")
            shards.append((suite, path))
    return shards


def _stored_digest(path: Path) -> str:
    """The SHA-256 stored beside a shard (written when it was built or first verified)."""
    digest = stored_checksum(path)
    if digest is None:
        raise GalmassError(f"dataset shard {path} has no stored checksum; rerun the dataset build "
                           f"(it verifies and records it)")
    return digest


def _index_fingerprint(path: Path) -> str | None:
    try:
        with h5py.File(path, "r") as f:
            return str(f.attrs.get("inputs_sha256", "")) or None
    except (OSError, KeyError):
        return None


def _write_index(d: Path, shards: list[tuple[str, Path]], training: list[str], inputs_sha: str,
                 seed, balance_projections, bins, range, validation_fraction, suites) -> Path:
    cols: dict[str, list] = {k: [] for k in ("shard", "row", "suite", "galaxy_id", "galaxy_index",
                                             "los") + _INDEX_ARRAYS}
    skipped: dict[str, list] = {"suite": [], "name": [], "reason": []}
    for suite, path in shards:
        with h5py.File(path, "r") as f:
            n = int(f.attrs["n_projections"])
            cols["shard"].append(np.array([f"{suite}/{path.name}"] * n, dtype=object))
            cols["row"].append(np.arange(n, dtype=np.int64))
            cols["suite"].append(_strings(f["suite"]))
            cols["galaxy_id"].append(_strings(f["galaxy_id"]))
            cols["galaxy_index"].append(f["galaxy_index"][:])
            cols["los"].append(f["los"][:])
            for key in _INDEX_ARRAYS:
                cols[key].append(f[key][:])
            skipped["name"] += list(_strings(f["skipped_name"]))
            skipped["reason"] += list(_strings(f["skipped_reason"]))
            skipped["suite"] += [suite] * len(f["skipped_name"])
    t = {k: np.concatenate(v) for k, v in cols.items()}
    log_m = t["labels"][:, LABEL_RH_INDEX]
    in_range = _bin_of(log_m, int(bins), range) >= 0
    kept = balance(log_m, t["suite"], training, bins=bins, range=range, seed=seed,
                   enabled=balance_projections)
    is_train_suite = np.isin(t["suite"].astype(str), training)
    split = np.where(kept, np.where(is_train_suite, "train", "test"), "dropped").astype(object)
    sel = kept & is_train_suite
    val = split_by_galaxy(galaxy_keys(t["suite"], t["galaxy_id"])[sel], validation_fraction, seed)
    split[np.flatnonzero(sel)[val]] = "validation"
    out = d / "index.h5"
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        for k in ("shard", "suite", "galaxy_id"):
            h5_dataset(f, k, data=t[k], dtype=_STR)
        for k in ("row", "galaxy_index", "los") + _INDEX_ARRAYS:
            h5_dataset(f, k, data=t[k])
        h5_dataset(f, "estimator_names", data=np.array(_est_names(), dtype=object), dtype=_STR)
        h5_dataset(f, "log_mass_rh", data=log_m)
        h5_dataset(f, "in_range", data=in_range)
        h5_dataset(f, "kept", data=kept)
        h5_dataset(f, "split", data=split, dtype=_STR)
        h5_dataset(f, "bin_edges", data=np.linspace(float(range[0]), float(range[1]), int(bins) + 1))
        h5_dataset(f, "radii_f", data=RADII_F)
        for k, v in skipped.items():
            h5_dataset(f, f"skipped_{k}", data=np.array(v, dtype=object), dtype=_STR)
        f.attrs.update({
            "suites": json.dumps(suites), "training_suites": json.dumps(training),
            "seed": int(seed), "balance": bool(balance_projections), "bins": int(bins),
            "range": np.asarray(range, dtype=float), "validation_fraction": float(validation_fraction),
            "scalar_names": json.dumps(SCALAR_NAMES), "label_rh_index": LABEL_RH_INDEX,
            "galmass_version": __version__, "inputs_sha256": inputs_sha,
        })
    return out


# --------------------------------------------------------------------------- reading
_INDEX_STR = ("shard", "suite", "galaxy_id", "split")


def load_arrays(dataset_dir: str | Path, suites: str | Sequence[str] | None = None,
                split: str | Sequence[str] | None = None, kept: bool = True) -> dict[str, np.ndarray]:
    """Scalars, labels and metadata of a selection of projections (no maps), from ``index.h5``.

    Parameters
    ----------
    dataset_dir : path
        Dataset directory with an ``index.h5`` (:func:`build_index`).
    suites : str or sequence of str, optional
        Only these suites.
    split : str or sequence of str, optional
        Only these splits (``"train"``, ``"validation"``, ``"test"``, ``"dropped"``).
    kept : bool
        Only projections kept by the balancing (default). ``kept=False, split=None`` gives
        every projection (the distribution before balancing).

    Returns
    -------
    dict of ndarray
        ``scalars`` (n, 3) [R_h kpc, sigma_los km/s, v_p98 km/s], ``labels`` (n, 10)
        [log10 Msun], ``log_mass_rh``, ``suite``, ``galaxy_id``, ``galaxy_index``, ``los``,
        ``split``, ``in_range``, ``kept``, ``shard``, ``row`` (string columns as ``str``
        arrays).
    """
    path = Path(dataset_dir) / "index.h5"
    if not path.is_file():
        raise GalmassError(f"no dataset index at {path}; build the dataset first (`make data`)")
    with h5py.File(path, "r") as f:
        t = {k: (_strings(f[k]).astype(str) if k in _INDEX_STR else f[k][:])
             for k in ("shard", "row", "suite", "galaxy_id", "galaxy_index", "los", "scalars",
                       "labels", "est_log_mass", "est_log_truth", "log_mass_rh", "in_range",
                       "kept", "split")}
    mask = np.ones(len(t["row"]), dtype=bool)
    if kept:
        mask &= t["kept"]
    if suites is not None:
        suites = [suites] if isinstance(suites, str) else list(suites)
        unknown = sorted(set(suites) - set(np.unique(t["suite"])))
        if unknown:
            raise GalmassError(f"suite(s) {unknown} not in the dataset index {path}")
        mask &= np.isin(t["suite"], suites)
    if split is not None:
        splits = [split] if isinstance(split, str) else list(split)
        bad = sorted(set(splits) - {"train", "validation", "test", "dropped"})
        if bad:
            raise GalmassError(f"unknown split(s) {bad}; use train, validation, test or dropped")
        mask &= np.isin(t["split"], splits)
    return {k: v[mask] for k, v in t.items()}


class _ProjectionDatasetBase:
    """PyTorch dataset of projections: ``(map1[None], map2[None], scalars, labels)``.

    Maps are read lazily from the shards (each process opens the HDF5 files it needs on
    first use, so it works with ``DataLoader(num_workers > 0)``); only the selection
    (shard, row) is held in memory.

    Parameters
    ----------
    dataset_dir : path
        Dataset directory with an ``index.h5``.
    suites, split, kept
        Selection, as in :func:`load_arrays` (e.g. ``split="train"``).
    transform : callable, optional
        Applied to the tuple of tensors ``(map1, map2, scalars, labels)``; must return a
        tuple. No scaling is done here otherwise (maps are raw KDE densities, scalars in
        kpc and km/s, labels in log10 Msun).

    Items are float32 tensors of shapes (1, S, S), (1, S, S), (3,) and (10,). The
    selection's metadata is in :attr:`table` (the :func:`load_arrays` dict).

    The class subclasses ``torch.utils.data.Dataset``; it is created on first access of
    ``galmass.dataset.ProjectionDataset`` so that the Dask workers building the dataset
    never import torch.
    """

    def __init__(self, dataset_dir: str | Path, suites: str | Sequence[str] | None = None,
                 split: str | Sequence[str] | None = None, kept: bool = True,
                 transform: Callable[[tuple], tuple] | None = None):
        self.dataset_dir = Path(dataset_dir)
        self.table = load_arrays(self.dataset_dir, suites=suites, split=split, kept=kept)
        self.transform = transform
        self._shards = np.unique(self.table["shard"])
        self._shard_of = np.searchsorted(self._shards, self.table["shard"]).astype(np.int64)
        self._files: dict[int, h5py.File] = {}
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self._shard_of)

    def _file(self, k: int) -> h5py.File:
        if self._pid != os.getpid():  # forked into a DataLoader worker: do not share handles
            self._files, self._pid = {}, os.getpid()
        f = self._files.get(k)
        if f is None:
            f = self._files[k] = h5py.File(self.dataset_dir / self._shards[k], "r")
        return f

    def __getitem__(self, i: int):
        import torch

        f = self._file(int(self._shard_of[i]))
        row = int(self.table["row"][i])
        item = (torch.from_numpy(np.asarray(f["map1"][row], dtype=np.float32)[None]),
                torch.from_numpy(np.asarray(f["map2"][row], dtype=np.float32)[None]),
                torch.from_numpy(self.table["scalars"][i].astype(np.float32)),
                torch.from_numpy(self.table["labels"][i].astype(np.float32)))
        return self.transform(item) if self.transform is not None else item

    def close(self) -> None:
        """Close the open shard files (they are reopened on demand)."""
        for f in self._files.values():
            f.close()
        self._files = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_files"] = {}
        return state

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass


def __getattr__(name: str):
    if name == "ProjectionDataset":
        from torch.utils.data import Dataset

        cls = type("ProjectionDataset", (_ProjectionDatasetBase, Dataset),
                   {"__module__": __name__, "__qualname__": "ProjectionDataset",
                    "__doc__": _ProjectionDatasetBase.__doc__})
        globals()["ProjectionDataset"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- command line
def cli_build(config_path: str | Path, *, scheduler: str | None = None, progress: bool = True,
              replace_stale: bool = False) -> DatasetBuild:
    """Build the projection dataset and its index for a run profile (``make data``).

    The profile's suites must have been built (``galmass suites build``); otherwise a
    :class:`GalmassError` says so. Resumes an interrupted build.

    Returns
    -------
    DatasetBuild
        With ``index`` set to the written ``index.h5``.
    """
    from .config import load_config
    from .parallel import lazy_client

    cfg = load_config(config_path)
    p = cfg.dataset
    suites = list(cfg.suites.names)
    with lazy_client(scheduler or cfg.scheduler, cfg.n_workers) as client:
        res = build_dataset(p, suites, cfg.suites_dir, cfg.dataset_dir, seed=cfg.seed,
                            client=client, progress=progress, replace_stale=replace_stale)
    index = build_index(cfg.dataset_dir, suites, seed=cfg.seed, balance_projections=p.balance,
                        bins=p.balance_bins, range=tuple(p.balance_range),
                        validation_fraction=p.validation_fraction)
    log.info("dataset %s: %d shards built now, %d galaxies skipped, index %s",
             cfg.dataset_dir, res.n_built, len(res.skipped), index)
    return DatasetBuild(res.directory, res.shards, res.n_built, res.skipped, index)


def load_inputs(dataset_dir: str | Path, suites: str | Sequence[str] | None = None,
                split: str | Sequence[str] | None = None, kept: bool = True,
                max_n: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Everything the network needs for a selection, in memory: :func:`load_arrays` plus maps.

    ``max_n`` keeps a random (seeded) subset of at most that many projections, in index
    order. Returns the :func:`load_arrays` dict with ``map1`` and ``map2`` (n, S, S) float32.
    """
    t = load_arrays(dataset_dir, suites=suites, split=split, kept=kept)
    n = len(t["row"])
    if n == 0:
        raise GalmassError(f"no projections in {dataset_dir} for suites={suites} split={split}")
    if max_n is not None and n > max_n:
        keep = np.sort(np.random.default_rng(seed).choice(n, size=max_n, replace=False))
        t = {k: v[keep] for k, v in t.items()}
        n = max_n
    d = Path(dataset_dir)
    maps: dict[str, np.ndarray] = {}
    for shard in np.unique(t["shard"]):
        sel = np.flatnonzero(t["shard"] == shard)
        rows = t["row"][sel]
        order = np.argsort(rows)
        with h5py.File(d / shard, "r") as f:
            for key in ("map1", "map2"):
                if key not in maps:
                    maps[key] = np.empty((n,) + f[key].shape[1:], dtype=np.float32)
                maps[key][sel[order]] = f[key][rows[order]]
    return {**t, **maps}
