"""What goes in and out of the networks, in plain numpy (no torch): shared by training,
evaluation and prediction.

- :class:`Preprocessor`: standardisation of maps, scalars and labels (fitted on the training
  set), with the residual target relative to :func:`mass_scale`;
- :func:`flow_shift`, :func:`flow_condition`, :class:`ResidualScale`: what the flow models
  and is conditioned on;
- :func:`summarize_samples`: posterior percentiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from galmass.constants import G
from galmass.errors import GalmassError

__all__ = ["Preprocessor", "mass_scale", "flow_shift", "flow_condition", "ResidualScale", "summarize_samples"]


@dataclass
class Preprocessor:
    """Standardisation constants, fitted on the training set only.

    Maps are divided by ``map_scale`` (their mean value over the training set, one per
    input); scalars are log10-scaled and standardised; labels (log10 M) are standardised
    per radius. With ``residual_target`` the network's target is log10 M relative to the
    dimensional mass scale of the projection, ``log10(R_h sigma_los^2 / G)`` (see
    :func:`mass_scale`): a fixed, exact function of input 3, so the MSE on log10 M is
    unchanged while the network only has to learn the structure-dependent factor. With
    ``scale_free`` the network's scalar input is log10(v_p98 / sigma_los) alone (one
    column, see :class:`galmass.config.CNNConfig`), else the three log10 scalars.
    """

    map_scale: list[float]
    scalar_mean: list[float]
    scalar_std: list[float]
    label_mean: list[float]
    label_std: list[float]
    residual_target: bool = True
    scale_free: bool = False

    @classmethod
    def fit(cls, map1: np.ndarray, map2: np.ndarray, scalars: np.ndarray, labels: np.ndarray,
            residual_target: bool = True, scale_free: bool = False) -> "Preprocessor":
        if np.any(~np.isfinite(scalars)) or np.any(scalars <= 0):
            raise GalmassError("scalars (R_h, sigma_los, v_p98) must be finite and positive")
        if scale_free and not residual_target:
            raise GalmassError("scale_free inputs need the residual target (the mass scale carries R_h and sigma_los)")
        ls = _network_scalars(np.asarray(scalars, dtype=float), scale_free)
        target = labels - mass_scale(scalars)[:, None] if residual_target else labels
        return cls(
            map_scale=[float(np.mean(map1)), float(np.mean(map2))],
            scalar_mean=ls.mean(0).tolist(), scalar_std=(ls.std(0) + 1e-12).tolist(),
            label_mean=target.mean(0).tolist(), label_std=(target.std(0) + 1e-12).tolist(),
            residual_target=residual_target, scale_free=scale_free,
        )

    @property
    def n_scalars(self) -> int:
        """Width of the network's scalar input: 1 (scale-free) or 3."""
        return 1 if self.scale_free else 3

    def offset(self, scalars: np.ndarray) -> np.ndarray:
        """Per-projection shift between the target and log10 M: (N, 1)."""
        s = np.asarray(scalars, dtype=float)
        return mass_scale(s)[:, None] if self.residual_target else np.zeros((len(s), 1))

    def maps(self, map1: np.ndarray, map2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (np.asarray(map1, np.float32) / np.float32(self.map_scale[0]),
                np.asarray(map2, np.float32) / np.float32(self.map_scale[1]))

    def scalars(self, scalars: np.ndarray) -> np.ndarray:
        s = np.asarray(scalars, dtype=float)
        if np.any(~np.isfinite(s)) or np.any(s <= 0):
            raise GalmassError("scalars (R_h, sigma_los, v_p98) must be finite and positive")
        return ((_network_scalars(s, self.scale_free) - self.scalar_mean) / np.asarray(self.scalar_std)).astype(np.float32)

    def labels(self, labels: np.ndarray, scalars: np.ndarray) -> np.ndarray:
        """Standardised network targets from log10 M [Msun] (N, 10) and the scalars (N, 3)."""
        t = np.asarray(labels) - self.offset(scalars)
        return ((t - self.label_mean) / np.asarray(self.label_std)).astype(np.float32)

    def inverse_labels(self, z: np.ndarray, scalars: np.ndarray) -> np.ndarray:
        """log10 M [Msun] from standardised network outputs."""
        return np.asarray(z) * np.asarray(self.label_std) + np.asarray(self.label_mean) + self.offset(scalars)


def _network_scalars(s: np.ndarray, scale_free: bool) -> np.ndarray:
    """log10 of the scalars the network sees: (N, 3), or (N, 1) log10(v_p98 / sigma_los) if scale-free."""
    return np.log10(s[:, 2:3] / s[:, 1:2]) if scale_free else np.log10(s)


def mass_scale(scalars: np.ndarray) -> np.ndarray:
    """log10(R_h sigma_los^2 / G) [Msun] of projections with scalars (R_h kpc, sigma km/s, ...)."""
    s = np.asarray(scalars, dtype=float)
    return np.log10(s[:, 0] * s[:, 1] ** 2 / G)


def flow_shift(preprocessor, flow_config, cnn_pred: np.ndarray, scalars: np.ndarray) -> np.ndarray:
    """What the flow's variable is relative to, log10 M [Msun], shape (N, 10).

    The CNN's point estimate of log10 M (``cnn_pred``) with ``flow_config.relative_to_cnn``;
    otherwise the network's own offset (the mass scale log10(R_h sigma_los^2 / G) with a
    residual target, zero without), broadcast to the ten radii. The flow models
    ``log10 M - flow_shift`` given the CNN features; training and sampling both use this.
    """
    pred = np.asarray(cnn_pred, dtype=float)
    if flow_config.relative_to_cnn:
        return pred
    return np.broadcast_to(preprocessor.offset(scalars), pred.shape).astype(float)


def flow_condition(features: np.ndarray, n_stars: Any, flow_config) -> np.ndarray:
    """What the flow is conditioned on, float32 (N, n_features [+ 1]).

    The CNN's penultimate features; with ``flow_config.condition_on_n_stars`` also log10 of
    each projection's number of stars ``n_stars`` (N,) (the stars the inputs were made from:
    a dataset's ``n_stars``, a catalogue's stars after its membership cut). Training and
    sampling both use this.
    """
    f = np.asarray(features, dtype=np.float32)
    if not flow_config.condition_on_n_stars:
        return f
    if n_stars is None:
        raise GalmassError("this model's flow is conditioned on the number of stars: give n_stars")
    n = np.asarray(n_stars, dtype=float).reshape(-1)
    if n.shape != (len(f),) or not np.all(np.isfinite(n) & (n >= 1)):
        raise GalmassError(f"n_stars must be {len(f)} star counts >= 1 (one per projection)")
    return np.column_stack([f, np.log10(n)]).astype(np.float32)


@dataclass
class ResidualScale:
    """A width that follows the star count: ``s(N) = sqrt(a + b / N)`` [dex], per radius.

    The flow of a model with ``flow_config.scale_with_n_stars`` models
    ``(log10 M - flow_shift) / s(N)``: the error of a mass from N stars has a floor ``sqrt(a)``
    (what the maps cannot tell) plus a sampling part ``sqrt(b / N)`` (a dispersion from N
    stars is uncertain by ~1/sqrt(2N)). ``a``, ``b`` (10,) >= 0 [dex^2].
    """

    a: np.ndarray
    b: np.ndarray

    #: Smallest width [dex]; keeps the division finite.
    FLOOR = 1e-3

    def __call__(self, n_stars: Any) -> np.ndarray:
        """s(N) [dex], shape (len(n_stars), 10)."""
        n = np.asarray(n_stars, dtype=float).reshape(-1, 1)
        return np.maximum(np.sqrt(self.a[None] + self.b[None] / n), self.FLOOR)

    @classmethod
    def fit(cls, residuals: np.ndarray, n_stars: np.ndarray, n_bins: int = 12,
            min_per_bin: int = 50) -> "ResidualScale":
        """Fit a, b to residuals (N, 10) [dex] of projections with ``n_stars`` (N,) stars.

        The projections are split into equal-count bins of N; in each the variance is the
        squared half 16-84% width (robust to outliers); ``a + b / N_median`` is fitted to them
        by least squares with a, b >= 0.
        """
        r = np.asarray(residuals, dtype=float)
        n = np.asarray(n_stars, dtype=float).reshape(-1)
        if r.ndim != 2 or len(r) != len(n) or not np.all(np.isfinite(r)) or not np.all(n >= 1):
            raise GalmassError("ResidualScale.fit needs finite residuals (N, k) and N star counts >= 1")
        k = int(np.clip(len(n) // min_per_bin, 1, n_bins))
        order = np.argsort(n, kind="stable")
        x, v = [], []
        for idx in np.array_split(order, k):
            lo, hi = np.percentile(r[idx], [16, 84], axis=0)
            x.append(1.0 / np.median(n[idx]))
            v.append((0.5 * (hi - lo)) ** 2)
        x, v = np.asarray(x), np.asarray(v)  # (k,), (k, 10)
        a, b = np.empty(r.shape[1]), np.empty(r.shape[1])
        for j in range(r.shape[1]):
            a[j], b[j] = _nonnegative_line(x, v[:, j])
        return cls(a, b)

    def to_dict(self) -> dict[str, list[float]]:
        return {"a": list(map(float, self.a)), "b": list(map(float, self.b))}

    @classmethod
    def from_dict(cls, d: Any, n_out: int) -> "ResidualScale":
        if not isinstance(d, dict) or set(d) != {"a", "b"}:
            raise GalmassError("residual_scale must be an object with keys a and b")
        a, b = (np.asarray(d[k], dtype=float) for k in ("a", "b"))
        if a.shape != (n_out,) or b.shape != (n_out,) or not np.all(np.isfinite(a) & (a >= 0) & np.isfinite(b) & (b >= 0)):
            raise GalmassError(f"residual_scale a and b must be {n_out} finite numbers >= 0")
        return cls(a, b)


def _nonnegative_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares ``y = a + b x`` with a, b >= 0 (scipy's NNLS)."""
    from scipy.optimize import nnls  # training only: keeps scipy off the prediction path

    (a, b), _ = nnls(np.column_stack([np.ones_like(x), x]), np.asarray(y, dtype=float))
    return float(a), float(b)


def summarize_samples(samples: np.ndarray) -> dict[str, np.ndarray]:
    """Median and 16/84 percentiles over the sample axis: keys ``p16, p50, p84`` (N, 10)."""
    p16, p50, p84 = np.percentile(samples, [16, 50, 84], axis=0)
    return {"p16": p16, "p50": p50, "p84": p84}
