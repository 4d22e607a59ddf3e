"""Reading the dataset: a selection's scalars, labels and metadata (:func:`load_arrays`) and its maps (:func:`load_inputs`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np

from galmass.errors import GalmassError

log = logging.getLogger(__name__)
from galmass.dataset.shards import read_strings


# --------------------------------------------------------------------------- reading
_INDEX_STR = ("shard", "suite", "galaxy_id", "split")


def dataset_id(dataset_dir: str | Path) -> str:
    """The identity of a built dataset: the SHA-256 of its inputs recorded in ``index.h5``
    (every shard's checksum and the index settings). A model records it, so that a model
    trained on an older build of the same directory is stale."""
    from galmass.dataset.index import _index_fingerprint

    path = Path(dataset_dir) / "index.h5"
    value = _index_fingerprint(path)
    if not value:
        raise GalmassError(f"the dataset index {path} is missing, unreadable or records no inputs "
                           f"checksum; build the dataset (`make data`)")
    return value


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
        t = {k: (read_strings(f[k]).astype(str) if k in _INDEX_STR else f[k][:])
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


def load_inputs(dataset_dir: str | Path, suites: str | Sequence[str] | None = None,
                split: str | Sequence[str] | None = None, kept: bool = True,
                max_n: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Everything the network needs for a selection, in memory: :func:`load_arrays` plus maps.

    ``max_n`` keeps a random (seeded) subset of at most that many projections, in index
    order. Returns the :func:`load_arrays` dict with ``map1`` and ``map2`` (n, S, S) float32
    and ``n_stars`` (n,) int64, the stars each projection's inputs were made from (-1 where a
    shard predates it).
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
    n_stars = np.full(n, -1, dtype=np.int64)
    for shard in np.unique(t["shard"]):
        sel = np.flatnonzero(t["shard"] == shard)
        rows = t["row"][sel]
        order = np.argsort(rows)
        with h5py.File(d / shard, "r") as f:
            for key in ("map1", "map2"):
                if key not in maps:
                    maps[key] = np.empty((n,) + f[key].shape[1:], dtype=np.float32)
                maps[key][sel[order]] = f[key][rows[order]]
            if "n_sample" in f:
                n_stars[sel[order]] = f["n_sample"][rows[order]]
    return {**t, **maps, "n_stars": n_stars}
