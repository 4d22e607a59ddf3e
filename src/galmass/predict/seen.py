"""Which mock galaxies a model was trained on, so that it is never tested on them.

A model directory may carry ``seen_galaxies.json``: the galaxy ids (``<suite>_<number>``, as
the dataset index's ``galaxy_id``) of its training and validation galaxies. ``make
ship-model`` writes it beside the shipped model from the index of the profile that trained
it, because the model is then tested on the galaxies of *another* profile (chapter 7 on the
default profile), whose split by galaxy differs: on the suites both profiles share, 161 of
the default profile's test galaxies were training galaxies of the observed profile.

``python -m galmass.predict.seen INDEX OUT`` writes the file (atomically).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from galmass.errors import GalmassError
from galmass.files import atomic_write_json

__all__ = ["SEEN_FILE", "model_directory", "seen_galaxies", "write_seen_galaxies"]

#: Name of the file in a model directory.
SEEN_FILE = "seen_galaxies.json"


def model_directory(model: Any) -> Path | None:
    """The directory of ``model`` (None: the shipped default model; a path), or None for a
    :class:`~galmass.inference.model.MassModel` object, which does not know where it came from."""
    if model is None:
        from importlib import resources

        return Path(str(resources.files("galmass") / "default_model"))
    if isinstance(model, (str, Path)):
        return Path(model)
    return None


def write_seen_galaxies(index: str | Path, out: str | Path) -> dict[str, Any]:
    """Write the training and validation galaxy ids of a dataset ``index`` (``index.h5``) to ``out``.

    Returns what was written: ``{"index": str, "splits": {"train": [...], "validation": [...]}}``.
    """
    import h5py

    from galmass.dataset.shards import read_strings

    index = Path(index)
    if not index.is_file():
        raise GalmassError(f"{index} is missing: build the dataset of the model's profile first")
    with h5py.File(index, "r") as f:
        gid, split = read_strings(f["galaxy_id"]), read_strings(f["split"])
    splits = {s: sorted(set(gid[split == s].tolist())) for s in ("train", "validation")}
    obj = {"index": str(index), "splits": splits}
    atomic_write_json(out, obj)
    return obj


def seen_galaxies(model: Any) -> frozenset[str] | None:
    """Ids of the galaxies ``model`` was trained or validated on, or None if its directory has no record."""
    import json

    d = model_directory(model)
    if d is None or not (d / SEEN_FILE).is_file():
        return None
    try:
        obj = json.loads((d / SEEN_FILE).read_text(encoding="utf-8"))
        return frozenset(str(g) for s in ("train", "validation") for g in obj["splits"][s])
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise GalmassError(f"{d / SEEN_FILE} is malformed ({exc}); rebuild it with `make default-model`") from None


if __name__ == "__main__":  # python -m galmass.predict.seen INDEX OUT
    if len(sys.argv) != 3:
        sys.exit("usage: python -m galmass.predict.seen INDEX.h5 OUT.json")
    try:
        written = write_seen_galaxies(sys.argv[1], sys.argv[2])
    except GalmassError as exc:
        sys.exit(f"galmass: {exc}")
    print(f"{sys.argv[2]}: {sum(len(v) for v in written['splits'].values())} galaxies seen in training")
