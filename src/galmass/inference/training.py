"""Training runs of a profile: CNN -> features -> flow, one model per ``models`` entry.

``galmass train --config ...`` trains every model of the profile's ``models`` section (a
name and its training suites; the paper's are NIHAO-only, AURIGA-only and both), saving each
to ``models/<profile>/<name>/`` (resumable: a finished model is not retrained, an
interrupted one resumes from its checkpoint). Evaluation (``galmass evaluate``) is
:mod:`galmass.evaluation`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from galmass.config import Config, check_models, load_config
from galmass.constants import RADII_F
from galmass.dataset import load_arrays, load_inputs
from galmass.dataset.readers import dataset_id
from galmass.errors import GalmassError
from galmass.files import atomic_write_json, directory_lock, move_aside
from galmass.inference.cnn import predict_cnn, train_cnn
from galmass.inference.flow import train_flow
from galmass.inference.model import MassModel
from galmass.inference.preprocess import ResidualScale, flow_condition, flow_shift
from galmass.inference.ood import InputDomain
from galmass.stages import fingerprint

__all__ = ["RunSettings", "run_settings", "train_model", "train_all", "joint_model_name"]

_STR = h5py.string_dtype()


@dataclass
class RunSettings:
    """The training sections of a profile, with the seeds filled in and where models and
    results go (``evaluation`` keys: see :class:`galmass.config.EvaluationConfig`)."""

    cnn: Any
    flow: Any
    models: dict[str, list[str]]
    max_eval: int = 2000
    max_train_eval: int = 2000
    max_samples_stored: int = 500
    max_calibration_eval: int | None = None
    models_dir: Path = Path("models")
    results_dir: Path = Path("results")


def run_settings(cfg: Config) -> RunSettings:
    """The training sections of a profile (validated by :func:`galmass.config.load_config`);
    a CNN or flow seed of 0 takes the profile's seed."""
    cnn = dataclasses.replace(cfg.cnn, seed=cfg.cnn.seed or cfg.seed)
    flow = dataclasses.replace(cfg.flow, seed=cfg.flow.seed or cfg.seed)
    models = check_models(cfg.models, list(cfg.suites.names), f"profile {cfg.profile}")
    return RunSettings(cnn=cnn, flow=flow, models=models,
                       models_dir=cfg.models_dir, results_dir=cfg.results_dir,
                       **asdict(cfg.evaluation))


def _inputs(d: dict) -> dict[str, np.ndarray]:
    return {k: d[k] for k in ("map1", "map2", "scalars", "labels")}


def train_model(cfg: Config, name: str, suites: list[str], settings: RunSettings | None = None,
                progress: bool = True, replace_stale: bool = False):
    """Train (or load, if finished) model ``name`` on the training split of ``suites``.

    A finished model trained with other settings is an error, or with ``replace_stale``
    it is moved aside to ``<name>.stale-<k>`` (never deleted) and the model is retrained.
    """
    st = settings or run_settings(cfg)
    out = st.models_dir / name
    with directory_lock(out, f"model {name}"):  # a second `galmass train` waits, then finds it done
        return _train_model(cfg, name, suites, st, out, progress, replace_stale)


def _train_model(cfg: Config, name: str, suites: list[str], st: RunSettings, out: Path,
                 progress: bool, replace_stale: bool):
    spec = {"suites": suites, "cnn": asdict(st.cnn), "flow": asdict(st.flow),
            "map_size": cfg.dataset.map_size, "dataset": str(cfg.dataset_dir),
            "dataset_id": dataset_id(cfg.dataset_dir),  # a rebuilt dataset makes the model stale
            "code": fingerprint("models")}  # the models stage's code (galmass.stages)
    reuse_cnn = None
    if (out / "model.json").exists():
        model = MassModel.load(out)
        old = model.info.get("spec", {})
        if old == json.loads(json.dumps(spec)):
            if model.domain is None:  # models saved before the input domain was recorded
                model.domain = InputDomain.fit(load_arrays(cfg.dataset_dir, suites=suites, split="train")["scalars"])
                model.save(out)
            return model
        if not replace_stale:
            raise GalmassError(f"{out} holds a model trained with other settings; remove it, or retrain "
                               f"with --replace-stale")
        same_cnn = {k: v for k, v in old.items() if k != "flow"} == \
            {k: v for k, v in json.loads(json.dumps(spec)).items() if k != "flow"}
        if same_cnn:  # only the flow settings changed: keep the trained CNN
            reuse_cnn = (model.cnn, model.preprocessor, model.info)
        print(f"model {name}: stale model moved aside to {move_aside(out)}"
              + (" (its CNN is reused: only the flow settings changed)" if same_cnn else ""))
    elif out.exists() and (out / "work" / "spec.json").exists() and \
            json.loads((out / "work" / "spec.json").read_text()) != json.loads(json.dumps(spec)):
        if not replace_stale:
            raise GalmassError(f"{out} holds an unfinished training with other settings; remove it, or use --replace-stale")
        print(f"model {name}: stale unfinished training moved aside to {move_aside(out)}")
    work = out / "work"
    atomic_write_json(work / "spec.json", spec, indent=None)
    t0 = time.perf_counter()
    tr = load_inputs(cfg.dataset_dir, suites=suites, split="train")
    va = load_inputs(cfg.dataset_dir, suites=suites, split="validation")
    t_load = time.perf_counter() - t0
    if reuse_cnn is None:
        cnn, pre, hist = train_cnn(_inputs(tr), _inputs(va), cfg.dataset.map_size, st.cnn, workdir=work,
                                   progress=progress)
        cnn_info = {"cnn_history": asdict(hist), "cnn_samples_per_second": hist.samples_per_second}
        t_cnn = hist.wall_seconds  # summed over every run of a resumed training
    else:
        cnn, pre, old_info = reuse_cnn
        cnn_info = {k: old_info[k] for k in ("cnn_history", "cnn_samples_per_second")}
        t_cnn = old_info["seconds"]["cnn"]
    p_tr, f_tr = predict_cnn(cnn, pre, tr["map1"], tr["map2"], tr["scalars"])
    p_va, f_va = predict_cnn(cnn, pre, va["map1"], va["map2"], va["scalars"])
    # the flow models log10 M minus a per-projection shift (the mass scale or the CNN estimate),
    # divided by a width that follows the star count if asked (fitted to the training residuals)
    r_tr = tr["labels"] - flow_shift(pre, st.flow, p_tr, tr["scalars"])
    r_va = va["labels"] - flow_shift(pre, st.flow, p_va, va["scalars"])
    scale = ResidualScale.fit(r_tr, tr["n_stars"]) if st.flow.scale_with_n_stars else None
    if scale is not None:
        r_tr, r_va = r_tr / scale(tr["n_stars"]), r_va / scale(va["n_stars"])
    flow, fh = train_flow(r_tr, flow_condition(f_tr, tr["n_stars"], st.flow),
                          r_va, flow_condition(f_va, va["n_stars"], st.flow), st.flow, workdir=work, progress=progress)
    t_flow = fh.wall_seconds
    info = {"profile": cfg.profile, "name": name, "spec": spec, "n_train": int(len(tr["row"])),
            "n_validation": int(len(va["row"])),
            # the preprocessing a catalogue must get at prediction time (galmass.predict)
            "dataset": {"kde_bandwidth": cfg.dataset.kde_bandwidth,
                        "n_max_sample": int(cfg.dataset.n_max_sample),
                        "min_stars": int(cfg.dataset.min_stars),
                        "n_sample_range": None if cfg.dataset.n_sample_range is None
                        else [int(v) for v in cfg.dataset.n_sample_range],
                        "v_err_range": None if cfg.dataset.v_err_range is None
                        else [float(v) for v in cfg.dataset.v_err_range],
                        "binary_fraction_range": cfg.dataset.binary_fraction_range,
                        "foreground_fraction_range": cfg.dataset.foreground_fraction_range,
                        "estimate_centre": bool(cfg.dataset.estimate_centre),
                        "membership_weights": bool(cfg.dataset.membership_weights)},
            **cnn_info,
            "flow_history": asdict(fh),
            "seconds": {"load": t_load, "cnn": t_cnn, "flow": t_flow}}

    model = MassModel(cnn, pre, flow, cfg.dataset.map_size, st.cnn, st.flow, RADII_F.copy(), info,
                      InputDomain.fit(tr["scalars"]), scale)
    model.save(out)
    return model


def train_all(config: str | Path, progress: bool = True, replace_stale: bool = False) -> dict[str, Any]:
    """Train every model of a profile (``galmass train``)."""
    cfg = load_config(config)
    st = run_settings(cfg)
    return {name: train_model(cfg, name, suites, st, progress, replace_stale)
            for name, suites in st.models.items()}


def joint_model_name(st: RunSettings) -> str:
    """The model trained on the most suites (the paper's NIHAO+AURIGA model)."""
    return max(st.models, key=lambda k: len(st.models[k]))
