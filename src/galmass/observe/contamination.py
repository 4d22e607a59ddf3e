"""Foreground contamination of a member list, and the membership mixture model that flags it.

A spectroscopic target list of a Milky Way dwarf keeps foreground stars of the Galaxy whose
velocities happen to be near the dwarf's; surveys give each star a membership probability
from a mixture model (Walker et al. 2009, AJ 137, 3100; Martinez et al. 2011, ApJ 738, 55;
Pace et al. 2020). This module makes such catalogues and their probabilities:

- :func:`draw_foreground`: foreground stars uniform over the spectroscopic field (a disc of
  radius ``field_radius`` [kpc] about the dwarf's centre) with a broad Gaussian velocity
  distribution about a mean offset from the systemic velocity [km/s] (the Besancon model
  toward the classical dwarfs gives dispersions of ~40-100 km/s and offsets of tens of km/s);
- :func:`membership_probabilities`: an expectation-maximisation fit of a two-component
  mixture, members = Plummer surface density x Gaussian velocities, foreground = uniform
  surface density x broad Gaussian velocities, both convolved with each star's velocity
  error, returning each star's posterior membership probability. It knows nothing of which
  stars are members, so its probabilities are noisy and imperfect as a survey's are.

Positions [kpc] are about the dwarf's (estimated) centre, velocities [km/s] about its
(estimated) systemic velocity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from galmass.errors import GalmassError

__all__ = ["draw_foreground", "MixtureFit", "membership_probabilities"]


def draw_foreground(n: int, rng: np.random.Generator, field_radius: float, v_mean: float,
                    v_sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` foreground stars: ``x, y`` [kpc] uniform in a disc of radius ``field_radius``
    [kpc], ``v`` [km/s] Gaussian with mean ``v_mean`` and dispersion ``v_sigma``."""
    if not (field_radius > 0 and v_sigma > 0):
        raise GalmassError(f"draw_foreground: need field_radius > 0 and v_sigma > 0, got {field_radius}, {v_sigma}")
    n = int(n)
    r = field_radius * np.sqrt(rng.uniform(size=n))
    phi = rng.uniform(0.0, 2 * np.pi, size=n)
    return r * np.cos(phi), r * np.sin(phi), rng.normal(v_mean, v_sigma, size=n)


@dataclass
class MixtureFit:
    """A fitted member + foreground mixture.

    ``p_member`` (N,) posterior membership probabilities; ``fraction`` the member fraction;
    ``v_mean``, ``sigma`` [km/s] of the members; ``scale`` [kpc] their Plummer radius;
    ``fg_mean``, ``fg_sigma`` [km/s] of the foreground; ``field_radius`` [kpc];
    ``n_iter`` EM iterations; ``converged``.
    """

    p_member: np.ndarray
    fraction: float
    v_mean: float
    sigma: float
    scale: float
    fg_mean: float
    fg_sigma: float
    field_radius: float
    n_iter: int
    converged: bool


def _gauss(v: np.ndarray, mu: float, var: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * (v - mu) ** 2 / var) / np.sqrt(2 * np.pi * var)


def _weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(x)
    cw = np.cumsum(w[order])
    return float(x[order][np.searchsorted(cw, q * cw[-1])])


def membership_probabilities(x: np.ndarray, y: np.ndarray, v: np.ndarray, v_err: np.ndarray | None = None, *,
                             field_radius: float | None = None, max_iter: int = 500,
                             tol: float = 1e-6) -> MixtureFit:
    """Fit the member + foreground mixture by EM and return each star's membership probability.

    Parameters
    ----------
    x, y : arrays (N,)
        Positions [kpc] about the centre.
    v : array (N,)
        Line-of-sight velocities [km/s] about the systemic velocity.
    v_err : array (N,), optional
        Velocity errors [km/s], added in quadrature to both components' dispersions.
    field_radius : float, optional
        Radius of the field [kpc] over which the foreground is uniform; default the largest
        star radius.

    Notes
    -----
    Members: ``Sigma(R) = 1 / (pi a^2 (1 + R^2/a^2)^2)`` (Plummer, ``a`` = the members'
    projected half-number radius, updated as their weighted median radius) truncated at the
    field edge, and velocities ``N(mu, sigma^2 + err^2)``; foreground: ``1 / (pi R_f^2)`` and
    ``N(mu_f, sigma_f^2 + err^2)``. The foreground dispersion is kept >= 3 times the members'
    so that the two components cannot swap.
    """
    x, y, v = (np.asarray(a, dtype=float) for a in (x, y, v))
    if not (x.shape == y.shape == v.shape and x.ndim == 1):
        raise GalmassError("membership_probabilities: x, y and v must be 1-D arrays of one length")
    if x.size < 10:
        raise GalmassError(f"membership_probabilities: {x.size} stars are too few for a mixture fit (need >= 10)")
    err2 = np.zeros_like(v) if v_err is None else np.asarray(v_err, dtype=float) ** 2
    R = np.hypot(x, y)
    rf = float(R.max() * (1 + 1e-9)) if field_radius is None else float(field_radius)
    if not rf > 0:
        raise GalmassError("membership_probabilities: field_radius must be > 0")
    # start: members = the stars within 3 robust sigmas of the median velocity
    med = float(np.median(v))
    mad = 1.4826 * float(np.median(np.abs(v - med))) + 1e-3
    p = (np.abs(v - med) < 3 * mad).astype(float) * 0.9 + 0.05
    prev = -np.inf
    converged = False
    for it in range(1, max_iter + 1):
        # M step
        f = float(np.clip(p.mean(), 1e-3, 1 - 1e-3))
        w, wf = p / p.sum(), (1 - p) / max((1 - p).sum(), 1e-12)
        mu = float(np.sum(w * v))
        sig2 = max(float(np.sum(w * ((v - mu) ** 2 - err2))), 0.01)
        a = max(_weighted_quantile(R, p, 0.5), 1e-3 * rf)
        mu_f = float(np.sum(wf * v)) if (1 - p).sum() > 1e-6 else mu
        sf2 = float(np.sum(wf * ((v - mu_f) ** 2 - err2))) if (1 - p).sum() > 1e-6 else 0.0
        sf2 = max(sf2, 9.0 * sig2, 25.0)
        # E step
        norm = 1.0 - 1.0 / (1.0 + (rf / a) ** 2)  # Plummer mass inside the field
        lm = f * _gauss(v, mu, sig2 + err2) / (np.pi * a * a * (1 + (R / a) ** 2) ** 2) / norm
        lf = (1 - f) * _gauss(v, mu_f, sf2 + err2) / (np.pi * rf * rf)
        tot = lm + lf + 1e-300
        p = lm / tot
        loglike = float(np.sum(np.log(tot)))
        if abs(loglike - prev) < tol * abs(loglike):
            converged = True
            break
        prev = loglike
    return MixtureFit(p, f, mu, float(np.sqrt(sig2)), a, mu_f, float(np.sqrt(sf2)), rf, it, converged)
