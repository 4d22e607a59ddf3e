"""Ablation of the residual target (chapter 3): is the CNN's target log10 M relative to the
mass scale log10(R_h sigma_los^2 / G) what makes CPU-sized training reach the paper's
accuracy?

:func:`residual_target_ablation` trains the joint model's CNN once more with
``cnn.residual_target: false`` (the paper's literal target, log10 M itself) on the same
training and validation projections, and measures both CNNs' point predictions on the same
test projections of every suite. The result is ``<results_dir>/ablation/residual_target.json``
(``{"spec": ..., "sets": {<set>: {"mse_absolute", "mse_residual", "n"}}}``), read into
``metrics.json`` as ``ablation.residual_target`` by :func:`galmass.evaluation.metrics.write_metrics`.
It is not part of ``make reproduce`` (one more CNN training); ``make ablation`` runs it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from galmass.config import load_config
from galmass.dataset import load_inputs
from galmass.dataset.readers import dataset_id
from galmass.errors import GalmassError
from galmass.evaluation.stats import mse
from galmass.files import atomic_write_json, directory_lock
from galmass.inference.cnn import predict_cnn, train_cnn
from galmass.inference.model import MassModel
from galmass.inference.training import joint_model_name, run_settings
from galmass.stages import fingerprint

__all__ = ["residual_target_ablation", "ablation_path", "load_ablation"]


def ablation_path(results_dir: str | Path) -> Path:
    """Where :func:`residual_target_ablation` writes its result."""
    return Path(results_dir) / "ablation" / "residual_target.json"


def load_ablation(results_dir: str | Path) -> dict[str, Any] | None:
    """The stored ablation's per-set MSEs, or None if it has not been run."""
    path = ablation_path(results_dir)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())["sets"]
    except (ValueError, KeyError) as exc:
        raise GalmassError(f"{path} is corrupt ({exc}); delete it and rerun `make ablation`") from exc


def _stored_spec(path: Path) -> Any:
    """The spec of a stored result, or None (absent or unreadable: it is recomputed)."""
    try:
        return json.loads(path.read_text()).get("spec")
    except (OSError, ValueError, AttributeError):
        return None


def residual_target_ablation(config: str | Path, progress: bool = True) -> Path:
    """Train the joint CNN with the absolute target and compare it on the test sets (module docstring)."""
    cfg = load_config(config)
    st = run_settings(cfg)
    joint = joint_model_name(st)
    suites = st.models[joint]
    out = ablation_path(cfg.results_dir)
    cnn_cfg = dataclasses.replace(st.cnn, residual_target=False)
    spec = {"suites": suites, "cnn": dataclasses.asdict(cnn_cfg), "dataset": str(cfg.dataset_dir),
            "dataset_id": dataset_id(cfg.dataset_dir), "max_eval": st.max_eval, "seed": cfg.seed, "code": fingerprint("models")}
    with directory_lock(out.parent, f"the ablation of profile {cfg.profile}"):
        if _stored_spec(out) == json.loads(json.dumps(spec)):
            return out
        keys = ("map1", "map2", "scalars", "labels")
        tr = load_inputs(cfg.dataset_dir, suites=suites, split="train")
        va = load_inputs(cfg.dataset_dir, suites=suites, split="validation")
        cnn, pre, hist = train_cnn({k: tr[k] for k in keys}, {k: va[k] for k in keys}, cfg.dataset.map_size,
                                   cnn_cfg, workdir=out.parent / "work", progress=progress)
        ref = MassModel.load(st.models_dir / joint)
        sets = {}
        for s in cfg.suites.names:
            try:
                d = load_inputs(cfg.dataset_dir, suites=[s], split="test", max_n=st.max_eval, seed=cfg.seed)
            except GalmassError:
                continue
            absolute = predict_cnn(cnn, pre, d["map1"], d["map2"], d["scalars"])[0]
            residual = ref.features(d["map1"], d["map2"], d["scalars"])[0]
            sets[f"test_{s}"] = {"mse_absolute": mse(absolute, d["labels"]),
                                 "mse_residual": mse(residual, d["labels"]), "n": int(len(d["labels"]))}
        return atomic_write_json(out, {"spec": spec, "sets": sets,
                                       "history": {"best_epoch": hist.best_epoch, "epochs": len(hist.val_loss),
                                                   "seconds": hist.wall_seconds}})
