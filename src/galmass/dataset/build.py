"""Building the dataset's shards: one Dask task per shard of galaxies, written atomically, checksummed and resumable."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import h5py
import numpy as np

from galmass import __version__
from galmass.config import DatasetConfig
from galmass.constants import RADII_F
from galmass.dataset.project import SCALAR_NAMES, _est_names, _n_est, project_galaxy, projection_rng
from galmass.errors import GalmassError, one_line
from galmass.observe.nuisances import Nuisances
from galmass.files import atomic_path, atomic_write_json, directory_lock, h5_dataset, move_aside, write_checksum
from galmass.sources.storage import _read_manifest, read_all_hdf5, read_shard_entries, shard_state
from galmass.stages import fingerprint

from galmass.dataset.shards import FORMAT_VERSION, MAP_COMPRESSION, ROW_KEYS, STR_DTYPE, shard_complete

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- shards
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
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ROW_KEYS}
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
                        n_sample_range=params.get("n_sample_range"), nuisances=Nuisances.from_params(params))
                except GalmassError as exc:
                    reason = one_line(exc)
            if reason:
                skipped.append((index, name, reason))
                continue
            for k in ROW_KEYS:
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
            h5_dataset(f, k, data=arrays[k], chunks=(1, S, S) if n else None, **MAP_COMPRESSION)
        for k in ("scalars", "labels", "los", "direction", "n_sample", "est_log_mass", "est_log_truth"):
            h5_dataset(f, k, data=arrays[k])
        h5_dataset(f, "estimator_names", data=np.array(_est_names(), dtype=object), dtype=STR_DTYPE)
        h5_dataset(f, "galaxy_id", data=np.array(gid, dtype=object), dtype=STR_DTYPE)
        h5_dataset(f, "galaxy_index", data=np.array(gidx, dtype=np.int64))
        h5_dataset(f, "suite", data=np.array([task.suite] * n, dtype=object), dtype=STR_DTYPE)
        h5_dataset(f, "radii_f", data=RADII_F)
        h5_dataset(f, "skipped_index", data=np.array([s[0] for s in skipped], dtype=np.int64))
        h5_dataset(f, "skipped_name", data=np.array([s[1] for s in skipped], dtype=object), dtype=STR_DTYPE)
        h5_dataset(f, "skipped_reason", data=np.array([s[2] for s in skipped], dtype=object), dtype=STR_DTYPE)
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
        ``index.h5`` when written (by :func:`galmass.dataset.stage.build_from_config`).
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
        Built suites (:func:`galmass.sources.storage.build_suite`) and the dataset directory.
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
    from galmass.parallel import dask_client, map_with_progress

    if not suites_dir.is_dir():
        raise GalmassError(f"suites directory {suites_dir} does not exist; run "
                           f"`galmass suites build --config <profile>` first")
    build_params = {"n_los": int(p.n_los), "map_size": int(p.map_size),
                    "n_min_sample": int(p.n_min_sample), "n_max_sample": int(p.n_max_sample),
                    "min_stars": int(p.min_stars), "kde_bandwidth": str(p.kde_bandwidth),
                    "shard_size": int(p.shard_size), "seed": int(seed),
                    "n_sample_range": None if p.n_sample_range is None else [int(v) for v in p.n_sample_range],
                    "v_err_range": None if p.v_err_range is None else [float(v) for v in p.v_err_range]}
    if Nuisances(binary_fraction_range=p.binary_fraction_range, foreground_fraction_range=p.foreground_fraction_range,
                 estimate_centre=p.estimate_centre, membership_weights=p.membership_weights).dirty:  # recorded only when used, so clean datasets keep their parameters
        build_params.update(
            binary_fraction_range=None if p.binary_fraction_range is None else [float(v) for v in p.binary_fraction_range],
            foreground_fraction_range=(None if p.foreground_fraction_range is None
                                       else [float(v) for v in p.foreground_fraction_range]),
            estimate_centre=bool(p.estimate_centre), membership_weights=bool(p.membership_weights))
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
            if not shard_complete(path, start, stop):
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
