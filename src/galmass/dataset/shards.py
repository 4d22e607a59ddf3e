"""The layout of a dataset shard: its format version, row columns, and whether a shard is complete and intact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from galmass.sources.storage import read_all_hdf5, set_aside_corrupt, shard_state


#: Version of the shard layout (part of the manifest: a change forces a rebuild elsewhere).
FORMAT_VERSION = 1

#: HDF5 dtype of the string columns.
STR_DTYPE = h5py.string_dtype()
#: Compression of the maps: none. Measured on 1152 maps of 64x64 (random access, one chunk
#: per map, warm cache): uncompressed 15 us/map; lzf 40 us (95 % of the raw size);
#: gzip-1 101 us (78 %); gzip-1 + shuffle 81 us (69 %). Writing is also 10x faster.
MAP_COMPRESSION: dict[str, Any] = {}
#: Per-projection columns of a shard (see :mod:`galmass.dataset`).
ROW_KEYS = ("map1", "map2", "scalars", "labels", "los", "direction", "n_sample",
            "est_log_mass", "est_log_truth")
#: Columns copied into ``index.h5`` (no maps).
INDEX_ARRAYS = ("scalars", "labels", "est_log_mass", "est_log_truth")


def read_strings(ds) -> np.ndarray:
    """An HDF5 string column as an object array of ``str``."""
    return np.array([s.decode() if isinstance(s, bytes) else s for s in ds[:]], dtype=object)


def shard_complete(path: Path, start: int, stop: int, verify: bool = True) -> bool:
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
