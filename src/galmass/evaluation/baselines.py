"""Baselines for Table 1: what a model must beat to be worth its maps.

Each baseline is fitted on the training split of a model (the same projections the model
trained on) and predicts log10 M(< f R_h) [Msun] at the ten radii from what any
observer has without a network:

``baseline``
    The training mean of log10 M at each radius (the paper's baseline, Sect. 5.2, but
    fitted on the training set instead of being each evaluation set's own mean).
``scaling``
    The virial scaling ``log10 M_f = log10(R_h sigma_los^2 / G) + c_f``, one constant per
    radius: ``c_f`` is the training mean of ``log10 M_f - log10(R_h sigma_los^2 / G)``.
``summary_linear``
    Least squares on the summaries: ``log10 R_h``, ``log10 sigma_los``, ``log10 v_p98``
    and the five literature estimators' ``log10 M`` (:mod:`galmass.observe.estimators`).
``summary_gbt``
    scikit-learn's ``HistGradientBoostingRegressor`` (one per radius, seeded) on the same
    summaries.

:func:`fit_baselines` fits all four; :func:`summary_features` is the summaries' design
matrix. A table is a dict of arrays as read by :func:`galmass.dataset.load_arrays` or
:func:`galmass.evaluation.predictions.read_predictions` (``scalars`` (N, 3) R_h [kpc],
sigma_los and v_p98 [km/s]; ``est_log_mass`` (N, 5); ``labels`` (N, 10)).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from galmass.errors import GalmassError
from galmass.inference.preprocess import mass_scale

__all__ = ["BASELINES", "Baseline", "MeanBaseline", "ScalingBaseline", "LinearBaseline", "GBTBaseline",
           "summary_features", "fit_baselines"]


def summary_features(table: Mapping[str, np.ndarray]) -> np.ndarray:
    """Design matrix (N, 8): log10 of R_h [kpc], sigma_los, v_p98 [km/s] and the five
    literature estimators' masses [Msun] (``est_log_mass``, already log10).

    An estimator is undefined (NaN) on a projection whose velocity errors exceed the
    dispersion of the stars it uses (a few stars with large errors, dirty catalogues); its
    entry is then the projection's mass scale ``log10(R_h sigma_los^2 / G)`` plus the
    estimator's median offset from the mass scale over the rows where it is defined.
    """
    s = np.asarray(table["scalars"], dtype=float)
    est = np.asarray(table["est_log_mass"], dtype=float)
    if s.ndim != 2 or s.shape[1] != 3 or est.ndim != 2 or len(est) != len(s):
        raise GalmassError(f"summary_features: need scalars (N, 3) and est_log_mass (N, k), got "
                           f"{s.shape} and {est.shape}")
    if np.any(s <= 0):
        raise GalmassError("summary_features: R_h, sigma_los and v_p98 must be positive")
    bad = ~np.isfinite(est)
    if bad.any():
        scale = mass_scale(s)
        est = est.copy()
        for j in np.flatnonzero(bad.any(axis=0)):
            ok = ~bad[:, j]
            if not ok.any():
                raise GalmassError(f"summary_features: estimator column {j} is undefined on every projection")
            est[bad[:, j], j] = scale[bad[:, j]] + float(np.median(est[ok, j] - scale[ok]))
    return np.column_stack([np.log10(s), est])


@dataclass
class Baseline:
    """A fitted baseline: :meth:`predict` gives log10 M (N, n_radii) [Msun] of a table
    (``seed``: of any random choice in the fit)."""

    name: str = ""
    seed: int = 0

    def fit(self, table: Mapping[str, np.ndarray]) -> "Baseline":
        raise NotImplementedError

    def predict(self, table: Mapping[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError


def _labels(table: Mapping[str, np.ndarray]) -> np.ndarray:
    y = np.asarray(table["labels"], dtype=float)
    if y.ndim != 2 or len(y) < 2:
        raise GalmassError(f"a baseline needs at least 2 training projections with labels (N, n_radii), "
                           f"got {y.shape}")
    return y


@dataclass
class MeanBaseline(Baseline):
    """Every projection gets the training mean of log10 M at each radius."""

    name: str = "baseline"
    mean: np.ndarray | None = None

    def fit(self, table):
        self.mean = _labels(table).mean(axis=0)
        return self

    def predict(self, table):
        return np.broadcast_to(self.mean, (len(table["scalars"]), len(self.mean))).copy()


@dataclass
class ScalingBaseline(Baseline):
    """``log10 M_f = log10(R_h sigma_los^2 / G) + c_f`` (one constant per radius)."""

    name: str = "scaling"
    offset: np.ndarray | None = None

    def fit(self, table):
        y = _labels(table)
        self.offset = (y - mass_scale(table["scalars"])[:, None]).mean(axis=0)
        return self

    def predict(self, table):
        return mass_scale(table["scalars"])[:, None] + self.offset[None, :]


@dataclass
class LinearBaseline(Baseline):
    """Ordinary least squares of log10 M at each radius on :func:`summary_features`."""

    name: str = "summary_linear"
    coef: np.ndarray | None = None  # (1 + n_features, n_radii), intercept first

    def fit(self, table):
        y = _labels(table)
        X = np.column_stack([np.ones(len(y)), summary_features(table)])
        self.coef = np.linalg.lstsq(X, y, rcond=None)[0]
        return self

    def predict(self, table):
        X = np.column_stack([np.ones(len(table["scalars"])), summary_features(table)])
        return X @ self.coef


@dataclass
class GBTBaseline(Baseline):
    """Gradient-boosted trees (scikit-learn ``HistGradientBoostingRegressor``, one per radius)
    on :func:`summary_features`; seeded, with early stopping on 10% of the training rows."""

    name: str = "summary_gbt"
    models: list[Any] = field(default_factory=list)

    def fit(self, table):
        from sklearn.ensemble import HistGradientBoostingRegressor

        y = _labels(table)
        X = summary_features(table)
        self.models = [HistGradientBoostingRegressor(max_iter=300, learning_rate=0.1, early_stopping=True,
                                                     validation_fraction=0.1, random_state=self.seed + j)
                       .fit(X, y[:, j]) for j in range(y.shape[1])]
        return self

    def predict(self, table):
        X = summary_features(table)
        return np.column_stack([m.predict(X) for m in self.models])


#: The baselines of Table 1, in the order the book shows them.
BASELINES: dict[str, type[Baseline]] = {"baseline": MeanBaseline, "scaling": ScalingBaseline,
                                        "summary_linear": LinearBaseline, "summary_gbt": GBTBaseline}


def fit_baselines(train: Mapping[str, np.ndarray], seed: int = 0) -> dict[str, Baseline]:
    """Every baseline of :data:`BASELINES` fitted on a training table."""
    return {name: cls(seed=seed).fit(train) for name, cls in BASELINES.items()}
