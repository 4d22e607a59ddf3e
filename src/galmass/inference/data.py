"""The projection dataset as a PyTorch ``Dataset`` (maps read lazily from the shards)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from galmass.dataset.readers import load_arrays

__all__ = ["ProjectionDataset"]


class ProjectionDataset(Dataset):
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

    It lives in :mod:`galmass.inference` (not :mod:`galmass.dataset`) so that the Dask
    workers building the dataset never import torch.
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
