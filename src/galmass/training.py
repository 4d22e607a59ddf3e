"""Training and evaluation runs of a profile: CNN -> features -> flow -> predictions -> metrics.

``galmass train --config ...`` trains every model of the profile's ``models`` section (a
name and its training suites; the paper's are NIHAO-only, AURIGA-only and both), saving each
to ``models/<profile>/<name>/`` (resumable: a finished model is not retrained, an
interrupted one resumes from its checkpoint). ``galmass evaluate`` samples the posteriors
of every model on the evaluation sets and writes ``results/<profile>/predictions/`` and
``results/<profile>/metrics.json``.
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

from .config import Config, check_models, load_config
from .constants import RADII_F
from .errors import GalmassError
from .files import atomic_path, atomic_write_json, directory_lock, h5_dataset, move_aside
from .stages import fingerprint

__all__ = ["RunSettings", "run_settings", "train_model", "train_all", "evaluate_all", "eval_sets"]

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
    from .cnn import predict_cnn, train_cnn
    from .dataset import load_inputs
    from .flow import train_flow
    from .model import MassModel, flow_shift

    spec = {"suites": suites, "cnn": asdict(st.cnn), "flow": asdict(st.flow),
            "map_size": cfg.dataset.map_size, "dataset": str(cfg.dataset_dir),
            "code": fingerprint("models")}  # the models stage's code (galmass.stages)
    reuse_cnn = None
    if (out / "model.json").exists():
        model = MassModel.load(out)
        old = model.info.get("spec", {})
        if old == json.loads(json.dumps(spec)):
            if model.domain is None:  # models saved before the input domain was recorded
                from .dataset import load_arrays
                from .ood import InputDomain

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
    # the flow models log10 M minus a per-projection shift (the mass scale or the CNN estimate)
    flow, fh = train_flow(tr["labels"] - flow_shift(pre, st.flow, p_tr, tr["scalars"]), f_tr,
                          va["labels"] - flow_shift(pre, st.flow, p_va, va["scalars"]), f_va, st.flow,
                          workdir=work, progress=progress)
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
                        else [float(v) for v in cfg.dataset.v_err_range]},
            **cnn_info,
            "flow_history": asdict(fh),
            "seconds": {"load": t_load, "cnn": t_cnn, "flow": t_flow}}
    from .ood import InputDomain

    model = MassModel(cnn, pre, flow, cfg.dataset.map_size, st.cnn, st.flow, RADII_F.copy(), info,
                      InputDomain.fit(tr["scalars"]))
    model.save(out)
    return model


def train_all(config: str | Path, progress: bool = True, replace_stale: bool = False) -> dict[str, Any]:
    """Train every model of a profile (``galmass train``)."""
    cfg = load_config(config)
    st = run_settings(cfg)
    return {name: train_model(cfg, name, suites, st, progress, replace_stale)
            for name, suites in st.models.items()}


def model_id(directory: str | Path) -> str:
    """Fingerprint of a saved model (its model.json), stamped on its predictions."""
    import hashlib

    return hashlib.sha256((Path(directory) / "model.json").read_bytes()).hexdigest()[:16]


def eval_sets(cfg: Config, st: RunSettings, model_suites: list[str]) -> dict[str, dict[str, Any]]:
    """Prediction sets of a model: its own train split (a random subset of at most
    ``max_train_eval``), every training suite's validation split and each held-out suite's
    test set (at most ``max_eval`` each), with samples stored for the first
    ``max_samples_stored`` (``n_stored``). For the joint model (the one trained on the most
    suites) with ``max_calibration_eval`` set, its suites' validation sets take up to that many
    projections, all stored. :func:`load_set` derives the others."""
    from .metrics import joint_model_name
    from .suites import SUITE_SPECS

    train_suites = [s for s in cfg.suites.names if SUITE_SPECS[s].training]
    held = [s for s in cfg.suites.names if not SUITE_SPECS[s].training]
    is_joint = list(model_suites) == list(st.models[joint_model_name(st)])
    n_st = st.max_samples_stored
    sets = {"train": {"suites": model_suites, "split": "train", "max_n": st.max_train_eval, "n_stored": n_st}}
    for s in train_suites:
        if is_joint and s in model_suites and st.max_calibration_eval:
            n = int(st.max_calibration_eval)
            sets[f"validation_{s}"] = {"suites": [s], "split": "validation", "max_n": n, "n_stored": n}
        else:
            sets[f"validation_{s}"] = {"suites": [s], "split": "validation", "max_n": st.max_eval, "n_stored": n_st}
    for s in held:
        sets[f"test_{s}"] = {"suites": [s], "split": "test", "max_n": st.max_eval, "n_stored": n_st}
    return sets


def set_names(cfg: Config, st: RunSettings, model: str) -> list[str]:
    """Every set :func:`load_set` can give for ``model``: the prediction sets, ``validation``
    (its suites' validation sets together) and ``train_<suite>`` for each of its suites."""
    names = list(eval_sets(cfg, st, st.models[model]))
    return names[:1] + ["validation"] + [f"train_{s}" for s in st.models[model]] + names[1:]


def load_set(st: RunSettings, model: str, set_name: str) -> dict[str, np.ndarray]:
    """Predictions of ``model`` on a set (see :func:`set_names`); GalmassError if absent."""
    d = st.results_dir / "predictions" / model

    def read(name):
        path = d / f"{name}.h5"
        if not path.exists():
            raise GalmassError(f"no predictions {path}; run `galmass evaluate`")
        return read_predictions(path)

    if set_name == "validation":
        parts = [read(f"validation_{s}") for s in st.models[model]]
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


def _write_predictions(path: Path, data: dict[str, np.ndarray], mid: str = "") -> None:
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["model_id"] = mid  # model fingerprint + what was predicted (see evaluate_all)
        for k, v in data.items():
            if v.dtype.kind in "OU":
                h5_dataset(f, k, data=v.astype(object), dtype=_STR)
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
    from .dataset import load_inputs
    from .flow import summarize_samples

    d = load_inputs(cfg.dataset_dir, suites=suites, split=split, max_n=max_n, seed=seed)
    cnn_pred, _ = model.features(d["map1"], d["map2"], d["scalars"])
    samples = model.sample(d["map1"], d["map2"], d["scalars"], n_samples=n_samples, seed=seed)
    summ = summarize_samples(samples)
    keep = {k: d[k] for k in ("suite", "galaxy_id", "los", "scalars", "labels", "est_log_mass", "est_log_truth")}
    return {**keep, "cnn_pred": cnn_pred, **summ,
            "samples": samples[:, :max_samples_stored].astype(np.float32)}


def evaluate_all(config: str | Path, progress: bool = True) -> Path:
    """Predictions of every model on its evaluation sets, then ``metrics.json``."""
    cfg = load_config(config)
    st = run_settings(cfg)
    with directory_lock(st.results_dir, f"results of profile {cfg.profile}"):
        return _evaluate_all(cfg, st, progress)


def _evaluate_all(cfg: Config, st: RunSettings, progress: bool) -> Path:
    from tqdm import tqdm

    from .metrics import write_metrics
    from .model import MassModel

    for name, suites in st.models.items():
        model = MassModel.load(st.models_dir / name)
        sets = eval_sets(cfg, st, suites)
        fingerprint = model_id(st.models_dir / name)
        for set_name, spec in tqdm(sets.items(), desc=f"evaluate {name}", disable=not progress):
            path = st.results_dir / "predictions" / name / f"{set_name}.h5"
            mid = f"{fingerprint} max_n={spec['max_n']} stored={spec['n_stored']} samples={st.flow.n_samples}"
            if path.exists():
                with h5py.File(path, "r") as f:
                    if f.attrs.get("model_id", "") == mid:
                        continue  # these predictions of this very model exist: keep them
            try:
                data = predict_set(model, cfg, spec["suites"], spec["split"], spec["max_n"],
                                   cfg.seed, st.flow.n_samples, spec["n_stored"])
            except GalmassError as exc:  # e.g. no projections in this set for a small profile
                print(f"evaluate {name}/{set_name}: skipped ({exc})")
                continue
            _write_predictions(path, data, mid)
    return write_metrics(cfg, st)
