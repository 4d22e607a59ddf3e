"""The dataset's ``index.h5``: one row per projection (scalars, labels, balance and split), rebuilt only when its shards change."""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
from pathlib import Path
from typing import Iterable, Sequence

import h5py
import numpy as np

from galmass import __version__
from galmass.constants import RADII_F
from galmass.errors import GalmassError
from galmass.files import atomic_path, directory_lock, h5_dataset, stored_checksum
from galmass.sources.storage import _read_manifest
from galmass.stages import fingerprint

from galmass.dataset.balance import _bin_of, balance, galaxy_keys, split_by_galaxy
from galmass.dataset.project import LABEL_RH_INDEX, SCALAR_NAMES, _est_names

from galmass.dataset.shards import INDEX_ARRAYS, STR_DTYPE, read_strings, shard_complete
from galmass.sources.suites import SUITE_SPECS

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- index
def _dataset_suites(dataset_dir: Path) -> list[str]:
    return sorted(d.name for d in dataset_dir.iterdir() if d.is_dir() and (d / "manifest.json").exists())


def build_index(dataset_dir: str | Path, suites: Sequence[str] | None = None, *,
                training_suites: Iterable[str] | None = None, seed: int = 0,
                balance_projections: bool = True, bins: int = 30,
                range: tuple[float, float] = (7.5, 11.0),
                validation_fraction: float = 0.2, test_fraction: float = 0.0) -> Path:
    """Balance, split and write ``<dataset_dir>/index.h5`` (see the module docstring).

    Parameters
    ----------
    dataset_dir : path
        A dataset built by :func:`build_dataset`.
    suites : sequence of str, optional
        Suites to index (default: all built under ``dataset_dir``).
    training_suites : iterable of str, optional
        Suites balanced and split into train/validation/test (default: the indexed suites that
        are training suites in :data:`galmass.sources.suites.SUITE_SPECS`); the others are test
        suites (held out).
    seed : int
        Seed of the balancing draws and of the split.
    balance_projections, bins, range : see :func:`balance`.
    validation_fraction, test_fraction : float
        See :func:`split_by_galaxy` (over the training galaxies that keep projections).

    Returns
    -------
    Path
        The index file (written atomically).
    """
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
               "test_fraction": float(test_fraction), "galmass_version": __version__,
               "code_hash": fingerprint("dataset")}
    shards = _index_shards(d, suites)
    inputs_sha = hashlib.sha256(json.dumps(
        {**options, "shards": [(f"{s}/{p.name}", _stored_digest(p)) for s, p in shards]},
        sort_keys=True).encode()).hexdigest()
    out = d / "index.h5"
    if _index_fingerprint(out) == inputs_sha:
        return out  # up to date: not rewritten (a finished read-only dataset stays usable)
    with directory_lock(d, "the projection dataset"):
        return _write_index(d, shards, training, inputs_sha, seed, balance_projections, bins, range,
                            validation_fraction, test_fraction, suites)


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
            if not shard_complete(path, start, min(start + size, n_gal), verify=False):
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
                 seed, balance_projections, bins, range, validation_fraction, test_fraction,
                 suites) -> Path:
    cols: dict[str, list] = {k: [] for k in ("shard", "row", "suite", "galaxy_id", "galaxy_index",
                                             "los") + INDEX_ARRAYS}
    skipped: dict[str, list] = {"suite": [], "name": [], "reason": []}
    for suite, path in shards:
        with h5py.File(path, "r") as f:
            n = int(f.attrs["n_projections"])
            cols["shard"].append(np.array([f"{suite}/{path.name}"] * n, dtype=object))
            cols["row"].append(np.arange(n, dtype=np.int64))
            cols["suite"].append(read_strings(f["suite"]))
            cols["galaxy_id"].append(read_strings(f["galaxy_id"]))
            cols["galaxy_index"].append(f["galaxy_index"][:])
            cols["los"].append(f["los"][:])
            for key in INDEX_ARRAYS:
                cols[key].append(f[key][:])
            skipped["name"] += list(read_strings(f["skipped_name"]))
            skipped["reason"] += list(read_strings(f["skipped_reason"]))
            skipped["suite"] += [suite] * len(f["skipped_name"])
    t = {k: np.concatenate(v) for k, v in cols.items()}
    log_m = t["labels"][:, LABEL_RH_INDEX]
    in_range = _bin_of(log_m, int(bins), range) >= 0
    kept = balance(log_m, t["suite"], training, bins=bins, range=range, seed=seed,
                   enabled=balance_projections)
    is_train_suite = np.isin(t["suite"].astype(str), training)
    split = np.where(kept, np.where(is_train_suite, "train", "test"), "dropped").astype(object)
    sel = kept & is_train_suite
    split[np.flatnonzero(sel)] = split_by_galaxy(galaxy_keys(t["suite"], t["galaxy_id"])[sel],
                                                 validation_fraction, seed, test_fraction)
    out = d / "index.h5"
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        for k in ("shard", "suite", "galaxy_id"):
            h5_dataset(f, k, data=t[k], dtype=STR_DTYPE)
        for k in ("row", "galaxy_index", "los") + INDEX_ARRAYS:
            h5_dataset(f, k, data=t[k])
        h5_dataset(f, "estimator_names", data=np.array(_est_names(), dtype=object), dtype=STR_DTYPE)
        h5_dataset(f, "log_mass_rh", data=log_m)
        h5_dataset(f, "in_range", data=in_range)
        h5_dataset(f, "kept", data=kept)
        h5_dataset(f, "split", data=split, dtype=STR_DTYPE)
        h5_dataset(f, "bin_edges", data=np.linspace(float(range[0]), float(range[1]), int(bins) + 1))
        h5_dataset(f, "radii_f", data=RADII_F)
        for k, v in skipped.items():
            h5_dataset(f, f"skipped_{k}", data=np.array(v, dtype=object), dtype=STR_DTYPE)
        f.attrs.update({
            "suites": json.dumps(suites), "training_suites": json.dumps(training),
            "seed": int(seed), "balance": bool(balance_projections), "bins": int(bins),
            "range": np.asarray(range, dtype=float), "validation_fraction": float(validation_fraction),
            "test_fraction": float(test_fraction), "scalar_names": json.dumps(SCALAR_NAMES),
            "label_rh_index": LABEL_RH_INDEX,
            "galmass_version": __version__, "inputs_sha256": inputs_sha,
        })
    return out
