"""The record of a model's training galaxies (galmass.predict.seen), which tests leave out."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from galmass.errors import GalmassError
from galmass.predict.seen import SEEN_FILE, model_directory, seen_galaxies, write_seen_galaxies


def _index(path, ids, splits):
    with h5py.File(path, "w") as f:
        f["galaxy_id"] = np.array(ids, dtype="S")
        f["split"] = np.array(splits, dtype="S")


def test_written_record_holds_training_and_validation_galaxies_only(tmp_path):
    ids = ["a_000000", "a_000000", "a_000001", "b_000000", "b_000001", "b_000002"]
    splits = ["train", "train", "validation", "test", "train", "test"]
    _index(tmp_path / "index.h5", ids, splits)
    model = tmp_path / "model"
    model.mkdir()
    written = write_seen_galaxies(tmp_path / "index.h5", model / SEEN_FILE)
    assert written["splits"] == {"train": ["a_000000", "b_000001"], "validation": ["a_000001"]}
    assert seen_galaxies(model) == {"a_000000", "a_000001", "b_000001"}
    assert not list(model.glob("*.partial*"))  # written atomically


def test_no_record_and_malformed_record(tmp_path):
    assert seen_galaxies(tmp_path) is None
    (tmp_path / SEEN_FILE).write_text(json.dumps({"splits": {"train": []}}))
    with pytest.raises(GalmassError, match="malformed"):
        seen_galaxies(tmp_path)
    with pytest.raises(GalmassError, match="is missing"):
        write_seen_galaxies(tmp_path / "nope.h5", tmp_path / "out.json")


def test_shipped_model_records_its_training_galaxies():
    """The shipped model was trained on another profile than the book's default, so it must
    say which galaxies it saw (``make ship-model`` writes them)."""
    seen = seen_galaxies(None)
    assert seen is not None and len(seen) > 100
    assert model_directory(None).name == "default_model"
    assert all("_" in g and g.rsplit("_", 1)[1].isdigit() for g in seen)
