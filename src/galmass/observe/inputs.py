"""The network's inputs: ONE function makes them for training and for prediction.

:func:`make_inputs` turns the stars of one or more projections (positions [kpc] about the
centre, line-of-sight velocities [km/s] about the systemic velocity, optional per-star
velocity errors [km/s]) into the CNN inputs of the paper (Sect. 2.3):

- Input 1, the position map: KDE of ``(x / R_h, y / R_h)`` on ``[-2.4, 2.4]^2``
  (:func:`galmass.observe.maps.position_maps`);
- Input 2, the phase map: KDE of ``(R / R_h, v / v_p98)`` on ``[-2.4, 2.4] x [-1, 1]``
  (:func:`galmass.observe.maps.phase_maps`), with the *observed* velocities;
- Input 3, the scalars ``(R_h, sigma_los, v_p98)``: ``R_h`` the projected half-number
  radius, ``sigma_los`` and ``v_p98`` corrected for the velocity errors
  (:func:`galmass.observe.projection.correct_for_errors`).

Kernel bandwidths follow Scott's rule; with ``kde_bandwidth="paper"`` (Appendix A) the
``n`` of Scott's factor counts the stars within ``0.5 R_h`` (at least 1).

The dataset build (:func:`galmass.dataset.build.project_galaxy`, every line of sight of a
mock galaxy at once) and :func:`galmass.predict.predict` (one catalogue) both call it, so
the two cannot drift apart; a test checks that they agree bit for bit.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from galmass.errors import GalmassError
from galmass.observe.maps import phase_maps, position_maps
from galmass.observe.projection import correct_for_errors, r_half_projected, sigma_los, v_p98

__all__ = ["make_inputs", "KDE_BANDWIDTHS"]

#: Bandwidth rules of the KDE maps (see the module docstring).
KDE_BANDWIDTHS = ("paper", "scott")


def make_inputs(x: Sequence[np.ndarray], y: Sequence[np.ndarray], v: Sequence[np.ndarray], map_size: int, *,
                v_err: Sequence[np.ndarray | None] | None = None, kde_bandwidth: str = "paper",
                name: str = "projection", weights: Sequence[np.ndarray | None] | None = None) -> dict[str, Any]:
    """CNN inputs of ``P`` projections.

    Parameters
    ----------
    x, y : sequence of P arrays (N_p,)
        Star positions [kpc] about the centre.
    v : sequence of P arrays (N_p,)
        Observed line-of-sight velocities [km/s] about the systemic velocity.
    map_size : int
        Side ``S`` of the square maps.
    v_err : sequence of P arrays (N_p,) or None, optional
        Per-star velocity errors [km/s]; None (or a None entry): exact velocities.
    kde_bandwidth : {"paper", "scott"}
        Bandwidth rule (module docstring).
    name : str
        What the stars are, for error messages (e.g. ``"galaxy 'x'"``).
    weights : sequence of P arrays (N_p,) or None, optional
        Per-star weights, e.g. membership probabilities (None, or a None entry: every star
        counts once, the paper's inputs bit for bit). Weighted, ``R_h`` is the weighted
        median radius, ``sigma_los`` the weighted standard deviation about the weighted mean
        (reliability weights: ddof=1 for equal weights), ``v_p98`` the weighted 98th
        percentile of ``|v - mean|``, the velocity errors enter as their weighted mean
        square, the maps are weighted KDEs and Scott's ``n`` the effective number of stars.

    Returns
    -------
    dict
        ``map1``, ``map2`` (P, S, S) float32; ``scalars`` (P, 3) float64 = (R_h [kpc],
        sigma_los [km/s], v_p98 [km/s]), error-corrected; ``R`` list of (N_p,) projected
        radii [kpc]; ``sigma_los_obs``, ``v_p98_obs`` (P,) [km/s] of the observed velocities;
        ``bandwidth_points`` list of P ints (or None for ``"scott"``).

    Raises
    ------
    GalmassError
        Unknown bandwidth rule, or errors that account for all of the dispersion.
    """
    if kde_bandwidth not in KDE_BANDWIDTHS:
        raise GalmassError(f"kde_bandwidth must be 'paper' or 'scott', got {kde_bandwidth!r}")
    x = [np.ascontiguousarray(a, dtype=float) for a in x]
    y = [np.ascontiguousarray(a, dtype=float) for a in y]
    v = [np.ascontiguousarray(a, dtype=float) for a in v]
    errs = [None] * len(v) if v_err is None else list(v_err)
    if not len(x) == len(y) == len(v) == len(errs):
        raise GalmassError(f"{name}: x, y, v and v_err must hold the same number of projections")
    ws = [None] * len(v) if weights is None else [None if w is None else _weights(w, len(a), name)
                                                  for w, a in zip(weights, v)]
    if len(ws) != len(v):
        raise GalmassError(f"{name}: weights must hold one entry per projection")
    R = [np.hypot(a, b) for a, b in zip(x, y)]
    rh = [r_half_projected(a, b) if w is None else _wquantile(Ri, w, 0.5) for a, b, Ri, w in zip(x, y, R, ws)]
    sig_obs = [sigma_los(a) if w is None else _wstd(a, w) for a, w in zip(v, ws)]
    vp_obs = [v_p98(a) if w is None else _wquantile(np.abs(a - np.sum(w * a) / w.sum()), w, 0.98)
              for a, w in zip(v, ws)]
    scalars = []
    for r, s, p, e, w in zip(rh, sig_obs, vp_obs, errs, ws):
        if e is not None and w is not None:  # the weighted mean square error
            e = np.array([np.sqrt(np.sum(w * np.asarray(e, float) ** 2) / w.sum())])
        s_int, p_int = correct_for_errors(s, p, e, name)
        scalars.append([r, s_int, p_int])
    bw = None
    if kde_bandwidth == "paper":
        bw = [max(1, int(np.count_nonzero(Ri < 0.5 * r))) if w is None else _neff(w[Ri < 0.5 * r])
              for Ri, r, w in zip(R, rh, ws)]
    shape = (int(map_size), int(map_size))
    weighted = any(w is not None for w in ws)
    map1 = position_maps(x, y, rh, shape, bandwidth_points=bw, weights=ws if weighted else None)
    map2 = phase_maps(R, v, rh, vp_obs, shape, bandwidth_points=bw, weights=ws if weighted else None)
    return {"map1": np.ascontiguousarray(map1, dtype=np.float32),
            "map2": np.ascontiguousarray(map2, dtype=np.float32),
            "scalars": np.array(scalars, dtype=np.float64), "R": R,
            "sigma_los_obs": np.array(sig_obs, dtype=np.float64), "v_p98_obs": np.array(vp_obs, dtype=np.float64),
            "bandwidth_points": bw}


def _weights(w: np.ndarray, n: int, name: str) -> np.ndarray:
    wa = np.asarray(w, dtype=float)
    if wa.shape != (n,) or not (np.all(np.isfinite(wa)) and np.all(wa >= 0) and wa.sum() > 0):
        raise GalmassError(f"{name}: weights must be {n} finite values >= 0, not all zero")
    return wa


def _wquantile(a: np.ndarray, w: np.ndarray, q: float) -> float:
    """Weighted quantile: linear interpolation of the mid-point weighted CDF (the median of
    equal weights is numpy's)."""
    keep = w > 0  # stars of weight 0 are not in the sample
    order = np.argsort(a[keep], kind="stable")
    a, w = a[keep][order], w[keep][order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return float(np.interp(q, cdf, a))


def _wstd(v: np.ndarray, w: np.ndarray) -> float:
    """Weighted standard deviation with reliability weights (ddof=1 for equal weights) [km/s]."""
    v = np.asarray(v, dtype=float)
    mean = np.sum(w * v) / w.sum()
    v1, v2 = w.sum(), np.sum(w * w)
    return float(np.sqrt(np.sum(w * (v - mean) ** 2) / (v1 - v2 / v1)))


def _neff(w: np.ndarray) -> float:
    """Effective number of weighted stars ``(sum w)^2 / sum w^2`` (at least 1)."""
    return max(1.0, float(w.sum() ** 2 / np.sum(w * w))) if w.size and w.sum() > 0 else 1.0
