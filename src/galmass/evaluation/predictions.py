"""Predictions of every model on its evaluation sets: which sets, how they are sampled, stored and read back."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from galmass.config import Config
from galmass.dataset import load_inputs
from galmass.dataset.shards import STR_DTYPE
from galmass.errors import GalmassError
from galmass.files import atomic_path, h5_dataset
from galmass.inference.preprocess import summarize_samples
from galmass.inference.training import RunSettings, joint_model_name
from galmass.sources.suites import HELDOUT_SUITES

__all__ = ["model_id", "eval_sets", "set_names", "held_out_suites", "load_set", "write_predictions", "read_predictions", "predict_set"]


def model_id(directory: str | Path) -> str:
    """Fingerprint of a saved model (its model.json), stamped on its predictions."""
    return hashlib.sha256((Path(directory) / "model.json").read_bytes()).hexdigest()[:16]


def eval_sets(cfg: Config, st: RunSettings, model_suites: list[str]) -> dict[str, dict[str, Any]]:
    """Prediction sets of a model: its own train split (a random subset of at most
    ``max_train_eval``) and the test galaxies of every suite, ``test_<suite>`` (the test split
    of a training suite, all of a held-out suite; at most ``max_eval`` projections each), with
    samples stored for the first ``max_samples_stored`` (``n_stored``). For the joint model
    (the one trained on the most suites) with ``max_calibration_eval`` set, its own suites'
    test sets take up to that many projections, all stored (the calibration test).

    No set comes from the validation split: it chose the models' epochs and learning rates,
    so a number measured on it would be optimistic. :func:`load_set` derives the others."""
    is_joint = list(model_suites) == list(st.models[joint_model_name(st)])
    n_st = st.max_samples_stored
    sets = {"train": {"suites": model_suites, "split": "train", "max_n": st.max_train_eval, "n_stored": n_st}}
    for s in cfg.suites.names:
        if is_joint and s in model_suites and st.max_calibration_eval:
            n = int(st.max_calibration_eval)
            sets[f"test_{s}"] = {"suites": [s], "split": "test", "max_n": n, "n_stored": n}
        else:
            sets[f"test_{s}"] = {"suites": [s], "split": "test", "max_n": st.max_eval, "n_stored": n_st}
    return sets


def set_names(cfg: Config, st: RunSettings, model: str) -> list[str]:
    """Every set :func:`load_set` can give for ``model``: the prediction sets, ``test`` (the
    test sets of its own suites together) and ``train_<suite>`` for each of its suites."""
    names = list(eval_sets(cfg, st, st.models[model]))
    return names[:1] + ["test"] + [f"train_{s}" for s in st.models[model]] + names[1:]


def held_out_suites(cfg: Config) -> list[str]:
    """The profile's suites that no model trains on (the paper's FIRE-2 role)."""
    return [s for s in cfg.suites.names if s in HELDOUT_SUITES]


def load_set(st: RunSettings, model: str, set_name: str) -> dict[str, np.ndarray]:
    """Predictions of ``model`` on a set (see :func:`set_names`); GalmassError if absent."""
    d = st.results_dir / "predictions" / model

    def read(name):
        path = d / f"{name}.h5"
        if not path.exists():
            raise GalmassError(f"no predictions {path}; run `galmass evaluate`")
        return read_predictions(path)

    if set_name == "test":
        parts = [read(f"test_{s}") for s in st.models[model]]
        # samples exist for the first projections of each part only: those rows come first
        n_s = [p["samples"].shape[1] for p in parts]
        out = {k: np.concatenate([p[k][:n] for p, n in zip(parts, n_s)] + [p[k][n:] for p, n in zip(parts, n_s)])
               for k in parts[0] if k != "samples"}
        out["samples"] = np.concatenate([p["samples"] for p in parts], axis=1)
        return out
    if set_name.startswith("train_"):
        p = read("train")
        sel = p["suite"] == set_name[len("train_"):]
        n = p["samples"].shape[1]
        return {k: (v[:, sel[:n]] if k == "samples" else v[sel]) for k, v in p.items()}
    return read(set_name)


def write_predictions(path: Path, data: dict[str, np.ndarray], mid: str = "") -> None:
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["model_id"] = mid  # model fingerprint + what was predicted (see evaluate_all)
        for k, v in data.items():
            if v.dtype.kind in "OU":
                h5_dataset(f, k, data=v.astype(object), dtype=STR_DTYPE)
            else:
                h5_dataset(f, k, data=v, compression="gzip" if v.size > 1e5 else None)


def read_predictions(path: str | Path) -> dict[str, np.ndarray]:
    """Read a predictions file written by :func:`evaluate_all`."""
    with h5py.File(path, "r") as f:
        return {k: (f[k][:].astype(str) if f[k].dtype.kind == "O" else f[k][:]) for k in f}


def predict_set(model, cfg: Config, suites, split, max_n, seed: int, n_samples: int,
                max_samples_stored: int = 500) -> dict[str, np.ndarray]:
    """Posterior summaries of a model on one evaluation set, with the full posterior samples
    of the first ``max_samples_stored`` projections (for calibration tests)."""
    d = load_inputs(cfg.dataset_dir, suites=suites, split=split, max_n=max_n, seed=seed)
    cnn_pred, _ = model.features(d["map1"], d["map2"], d["scalars"])
    samples = model.sample(d["map1"], d["map2"], d["scalars"], n_samples=n_samples, seed=seed, n_stars=d["n_stars"])
    summ = summarize_samples(samples)
    keep = {k: d[k] for k in ("suite", "galaxy_id", "los", "scalars", "labels", "est_log_mass", "est_log_truth")}
    return {**keep, "cnn_pred": cnn_pred, **summ,
            "samples": samples[:, :max_samples_stored].astype(np.float32)}
