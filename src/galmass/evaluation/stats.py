"""Accuracy statistics of mass estimates (Sect. 5): ratios, scatter, MSE, binned medians
(the baselines of Table 1 are :mod:`galmass.evaluation.baselines`).

All masses are log10 M [Msun]. The paper's accuracy measure is the ratio
``M_pred / M_true``: its median (bias) and its 1-sigma scatter, here half the 16-84
percentile range of the ratio.
"""

from __future__ import annotations

import numpy as np

from galmass.constants import RADII_F
from galmass.observe.estimators import ESTIMATORS

__all__ = ["ratio_stats", "ratio_curve", "estimator_points", "mse", "interp_log_profile",
           "binned_medians"]


def ratio_stats(log_pred: np.ndarray, log_true: np.ndarray) -> dict[str, np.ndarray]:
    """Median ratio and scatter of ``10^(log_pred - log_true)`` along axis 0.

    Returns ``median_ratio``, ``p16``, ``p84`` and ``scatter = (p84 - p16) / 2``
    (arrays over the trailing axes, e.g. the 10 radii). Undefined predictions (NaN: a
    literature estimator whose velocity errors exceed the dispersion of its stars) are left
    out.
    """
    ratio = 10.0 ** (np.asarray(log_pred, dtype=float) - np.asarray(log_true, dtype=float))
    p16, p50, p84 = np.nanpercentile(ratio, [16, 50, 84], axis=0)
    return {"median_ratio": p50, "p16": p16, "p84": p84, "scatter": (p84 - p16) / 2}


def ratio_curve(log_pred: np.ndarray, log_true: np.ndarray) -> dict[str, np.ndarray]:
    """One curve of Figs. 6-9: ``f`` (the ten radii, units of R_h) with the
    :func:`ratio_stats` of predictions (N, 10) against the truth (N, 10)."""
    r = ratio_stats(log_pred, log_true)
    return {"f": RADII_F, "median_ratio": r["median_ratio"], "p16": r["p16"], "p84": r["p84"]}


def estimator_points(rows) -> dict[str, tuple[float, float, float, float]]:
    """The literature estimators' markers of Figs. 6-9: name -> (f, median ratio, p16, p84),
    from a selection's ``est_log_mass`` and ``est_log_truth`` (N, n_estimators) [log10 Msun]."""
    out = {}
    for j, (name, est) in enumerate(ESTIMATORS.items()):
        r = ratio_stats(rows["est_log_mass"][:, j], rows["est_log_truth"][:, j])
        out[name] = (float(est.radius_factor), float(r["median_ratio"]), float(r["p16"]), float(r["p84"]))
    return out


def mse(log_pred: np.ndarray, log_true: np.ndarray) -> float:
    """Mean squared error of log10 M over all projections and radii (Table 1)."""
    d = np.asarray(log_pred, dtype=float) - np.asarray(log_true, dtype=float)
    return float(np.mean(d**2))


def interp_log_profile(radii_f: np.ndarray, log_m: np.ndarray, f: float | np.ndarray) -> np.ndarray:
    """Interpolate log10 M(< f R_h) profiles (N, n_radii) to ``f`` linearly in log10 f."""
    x = np.log10(np.asarray(radii_f, dtype=float))
    f = np.atleast_1d(np.asarray(f, dtype=float))
    out = np.array([[np.interp(np.log10(fi), x, row) for fi in f] for row in np.asarray(log_m)])
    return out[:, 0] if out.shape[1] == 1 else out


def binned_medians(log_true: np.ndarray, log_pred: np.ndarray, n_bins: int = 10) -> dict[str, np.ndarray]:
    """Median prediction in bins of true mass (Fig. C.1), with 1/2/3-sigma percentile bands.

    Returns bin ``centres``, ``count``, ``median`` and percentiles ``p0.15, p2.5, p16, p84,
    p97.5, p99.85`` per bin (NaN for empty bins).
    """
    t, p = np.asarray(log_true, float), np.asarray(log_pred, float)
    edges = np.linspace(t.min(), t.max(), n_bins + 1)
    idx = np.clip(np.digitize(t, edges[1:-1]), 0, n_bins - 1)
    qs = [0.15, 2.5, 16, 50, 84, 97.5, 99.85]
    res = {f"p{q:g}": np.full(n_bins, np.nan) for q in qs}
    count = np.zeros(n_bins, int)
    for b in range(n_bins):
        sel = idx == b
        count[b] = sel.sum()
        if count[b]:
            for q, v in zip(qs, np.percentile(p[sel], qs)):
                res[f"p{q:g}"][b] = v
    res["median"] = res.pop("p50")
    return {"centres": 0.5 * (edges[1:] + edges[:-1]), "edges": edges, "count": count, **res}
