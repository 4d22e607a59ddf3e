"""``results/<profile>/metrics.json``: every number the book quotes, computed by the run.

No reported number comes from the validation split (it chose epochs and learning rates):
sets are a model's ``train`` split and the ``test_<suite>`` sets (the test split of a
training suite, all of a held-out suite), ``test`` being a model's own suites' test sets
together. Keys:

- ``splits.<suite>.{train,validation,test}`` galaxies (and ``*_projections``) of the index;
- ``estimators.<name>.{radius_f, median_ratio, scatter, per_suite}``: literature
  estimators on the joint model's test set (all training suites);
- ``cnn_maf.<train|test>.{f, median_ratio, scatter}`` (lists over the radii) for the joint
  model, and ``cnn_maf.test.at_estimator_radii.<name>.{median_ratio, scatter}`` (posterior
  median interpolated in log f to each estimator's radius);
- ``models.<model>.<set>.{n, mse, mse_cnn, median_ratio, scatter}`` for every model and set;
- ``table1.<model>.<set>`` (MSE of log10 M over all radii) for every model, and
  ``table1.<baseline>.<set>`` for the baselines of :mod:`galmass.evaluation.baselines`
  fitted on the joint model's training split; ``baselines.<model>.<baseline>.<set>`` the
  same fitted on each model's own training split, and ``table1_gain.<model>.<set>`` =
  MSE(best of those baselines) / MSE(model);
- ``transfer.<set>.{label_outside_fraction, input_outside_fraction, nn_label_distance,
  nn_label_distance_train, nn_label_distance_ratio}`` of the joint model's test sets against
  its training split (:mod:`galmass.evaluation.transfer`);
- ``tarp.<set>.{max_deviation, n, n_galaxies, max_deviation_p16, max_deviation_p84}`` for the
  joint model, whose full curves are written beside metrics.json as
  ``tarp/<model>/<set>.npz`` (:func:`load_tarp_curve`), so that Fig. 10 plots the very
  computation the numbers come from;
- ``ood.fraction_outside`` and ``ood.<test_set>.{fraction_outside, n, mse_all, mse_inside,
  mse_outside}``;
- ``ablation.residual_target.<set>.{mse_absolute, mse_residual, n}`` when ``make ablation``
  has run (:mod:`galmass.evaluation.ablation`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from galmass.constants import RADII_F
from galmass.dataset import galaxy_keys, load_arrays
from galmass.errors import GalmassError
from galmass.evaluation.calibration import load_tarp, save_tarp, tarp_coverage
from galmass.evaluation.ablation import load_ablation
from galmass.evaluation.baselines import fit_baselines
from galmass.evaluation.predictions import held_out_suites, load_set, read_predictions, set_names
from galmass.evaluation.transfer import label_outside_fraction, nn_label_distance
from galmass.evaluation.stats import interp_log_profile, mse, ratio_stats
from galmass.files import atomic_write_json
from galmass.inference.model import MassModel
from galmass.inference.training import joint_model_name
from galmass.observe.estimators import ESTIMATORS

__all__ = ["write_metrics", "load_metrics", "load_tarp_curve"]


def _lst(x) -> list[float]:
    return [float(v) for v in np.atleast_1d(x)]


def estimator_metrics(table: dict[str, np.ndarray]) -> dict[str, Any]:
    """Median ratio and scatter of each literature estimator on a set of projections."""
    out = {}
    for j, (name, est) in enumerate(ESTIMATORS.items()):
        st = ratio_stats(table["est_log_mass"][:, j], table["est_log_truth"][:, j])
        per_suite = {}
        for s in np.unique(table["suite"]):
            sel = table["suite"] == s
            ps = ratio_stats(table["est_log_mass"][sel, j], table["est_log_truth"][sel, j])
            per_suite[str(s)] = {"median_ratio": float(ps["median_ratio"]), "scatter": float(ps["scatter"])}
        out[name] = {"radius_f": float(est.radius_factor), "median_ratio": float(st["median_ratio"]),
                     "scatter": float(st["scatter"]), "per_suite": per_suite, "n": int(len(table["suite"]))}
    return out


def write_metrics(cfg, st) -> Path:
    """Compute and write ``<results_dir>/metrics.json`` (atomically); returns its path."""
    joint = joint_model_name(st)
    test = load_arrays(cfg.dataset_dir, suites=st.models[joint], split="test")
    metrics: dict[str, Any] = {"profile": cfg.profile, "radii_f": _lst(RADII_F), "joint_model": joint,
                               "splits": split_counts(cfg), "estimators": estimator_metrics(test),
                               "models": {}, "table1": {}, "table1_gain": {}, "baselines": {}}
    trains = {name: load_arrays(cfg.dataset_dir, suites=suites, split="train") for name, suites in st.models.items()}
    for name, train in trains.items():
        fitted = fit_baselines(train, seed=cfg.seed)
        metrics["models"][name], metrics["table1"][name] = {}, {}
        metrics["table1_gain"][name], metrics["baselines"][name] = {}, {b: {} for b in fitted}
        for set_name in set_names(cfg, st, name):
            try:
                p = load_set(st, name, set_name)
            except GalmassError:
                continue
            rs = ratio_stats(p["p50"], p["labels"])
            m = mse(p["p50"], p["labels"])
            metrics["models"][name][set_name] = {
                "n": int(len(p["labels"])), "mse": m, "mse_cnn": mse(p["cnn_pred"], p["labels"]),
                "f": _lst(RADII_F), "median_ratio": _lst(rs["median_ratio"]), "scatter": _lst(rs["scatter"])}
            metrics["table1"][name][set_name] = m
            base = {b: mse(f.predict(p), p["labels"]) for b, f in fitted.items()}
            for b, v in base.items():
                metrics["baselines"][name][b][set_name] = v
            metrics["table1_gain"][name][set_name] = min(base.values()) / m if m > 0 else float("inf")
    # Table 1's baseline rows: fitted on the joint model's training split
    for b, per_set in metrics["baselines"][joint].items():
        metrics["table1"][b] = dict(per_set)
    jm = metrics["models"].get(joint, {})
    cm: dict[str, Any] = {}
    for split in ("train", "test"):
        if split in jm:
            cm[split] = {k: jm[split][k] for k in ("f", "median_ratio", "scatter", "n")}
    if "test" in cm:
        p = load_set(st, joint, "test")
        at = {}
        for j, (name, est) in enumerate(ESTIMATORS.items()):
            pred = interp_log_profile(RADII_F, p["p50"], est.radius_factor)
            rs = ratio_stats(pred, p["est_log_truth"][:, j])
            at[name] = {"radius_f": float(est.radius_factor), "median_ratio": float(rs["median_ratio"]),
                        "scatter": float(rs["scatter"])}
        cm["test"]["at_estimator_radii"] = at
    metrics["cnn_maf"] = cm
    domain = MassModel.load(st.models_dir / joint).domain
    metrics["transfer"] = transfer_metrics(cfg, st, joint, trains[joint], domain)
    metrics["tarp"] = tarp_metrics(cfg, st, joint)
    metrics["ood"] = ood_metrics(cfg, st, joint, domain)
    ablation = load_ablation(cfg.results_dir)
    if ablation is not None:  # `make ablation` (galmass.evaluation.ablation)
        metrics["ablation"] = {"residual_target": ablation}
    return atomic_write_json(st.results_dir / "metrics.json", metrics)


def split_counts(cfg) -> dict[str, dict[str, int]]:
    """Galaxies and projections per suite and split of the dataset index (dropped excluded)."""
    t = load_arrays(cfg.dataset_dir, kept=False)
    keys = galaxy_keys(t["suite"], t["galaxy_id"])
    out: dict[str, dict[str, int]] = {}
    for s in np.unique(t["suite"]):
        for split in ("train", "validation", "test"):
            sel = (t["suite"] == s) & (t["split"] == split)
            if sel.any():
                out.setdefault(str(s), {})[split] = int(len(np.unique(keys[sel])))
                out[str(s)][f"{split}_projections"] = int(sel.sum())
    return out


def transfer_metrics(cfg, st, model: str, train: dict[str, np.ndarray], domain) -> dict[str, Any]:
    """Per test set of ``model``: how far it lies from the model's training set ``train``
    (its :func:`load_arrays` table) and input domain (:mod:`galmass.evaluation.transfer`)."""
    train_keys = galaxy_keys(train["suite"], train["galaxy_id"])
    out: dict[str, Any] = {}
    for set_name in set_names(cfg, st, model):
        if not set_name.startswith("test"):
            continue
        try:
            p = load_set(st, model, set_name)
        except GalmassError:
            continue
        nn = nn_label_distance(train["labels"], train_keys, p["labels"], galaxy_keys(p["suite"], p["galaxy_id"]))
        out[set_name] = {
            "label_outside_fraction": label_outside_fraction(train["labels"], p["labels"]),
            "input_outside_fraction": float(domain.outside(p["scalars"])[0].mean()) if domain else None,
            "nn_label_distance": nn["set"], "nn_label_distance_train": nn["train"],
            "nn_label_distance_ratio": nn["ratio"], "n": int(len(p["labels"]))}
    return out


def tarp_of_set(st, model: str, set_name: str, seed: int, n_bootstrap: int = 100):
    """TARP (:func:`galmass.evaluation.calibration.tarp_coverage`) of ``model`` on an evaluation set
    with stored samples; the bootstrap resamples whole galaxies, since the projections of one
    galaxy share its mass profile and are not independent test cases."""

    p = load_set(st, model, set_name)
    n = p["samples"].shape[1]
    return tarp_coverage(p["samples"], p["labels"][:n], n_bootstrap=n_bootstrap, seed=seed,
                         groups=galaxy_keys(p["suite"][:n], p["galaxy_id"][:n]))


def tarp_curve_path(st, model: str, set_name: str) -> Path:
    """Where :func:`tarp_metrics` writes the TARP curve of ``model`` on ``set_name``."""
    return st.results_dir / "tarp" / model / f"{set_name}.npz"


def load_tarp_curve(st, model: str, set_name: str):
    """The :class:`~galmass.evaluation.calibration.TarpResult` behind ``metrics.json``'s
    ``tarp.<set_name>`` (written by :func:`write_metrics`)."""

    return load_tarp(tarp_curve_path(st, model, set_name))


def tarp_metrics(cfg, st, model: str) -> dict[str, Any]:
    """TARP maximum deviation of ``model`` on every evaluation set with stored samples, with
    the 16th/84th percentiles of the galaxy-bootstrap maximum deviations (:func:`tarp_of_set`).
    Each set's full curve is written to :func:`tarp_curve_path`."""

    out = {}
    for set_name in set_names(cfg, st, model):
        try:
            res = tarp_of_set(st, model, set_name, cfg.seed)
        except GalmassError:
            continue
        n = len(res.credibility)
        if n < 10:
            continue
        lo, hi = np.percentile(res.bootstrap_max_deviation, [16, 84])
        save_tarp(tarp_curve_path(st, model, set_name), res)
        out[set_name] = {"max_deviation": res.max_deviation, "n": int(n),
                         "n_galaxies": int(res.n_groups),
                         "max_deviation_p16": float(lo), "max_deviation_p84": float(hi)}
    return out


def ood_metrics(cfg, st, model: str, domain) -> dict[str, Any]:
    """Appendix C: fraction of each test set's projections outside the training inputs' 99%
    contours, and the model's MSE with and without them; ``fraction_outside`` is that of the
    first held-out suite (the paper's FIRE-2 number). ``domain``: the model's input domain."""
    out: dict[str, Any] = {}
    for s in cfg.suites.names:
        path = st.results_dir / "predictions" / model / f"test_{s}.h5"
        if not path.exists():
            continue
        p = read_predictions(path)
        flag, _ = domain.outside(p["scalars"])
        out[path.stem] = {"fraction_outside": float(flag.mean()), "n": int(len(flag)),
                          "mse_all": mse(p["p50"], p["labels"]),
                          "mse_inside": mse(p["p50"][~flag], p["labels"][~flag]) if (~flag).any() else None,
                          "mse_outside": mse(p["p50"][flag], p["labels"][flag]) if flag.any() else None}
    held = [f"test_{s}" for s in held_out_suites(cfg) if f"test_{s}" in out]
    if held:
        out["fraction_outside"] = out[held[0]]["fraction_outside"]
    return out


def load_metrics(path: str | Path) -> dict[str, Any]:
    """Read a metrics.json."""
    return json.loads(Path(path).read_text())
