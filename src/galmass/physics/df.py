"""Equilibrium distribution functions of spherical tracers, and sampling from them.

The family is Cuddeford's (1991, MNRAS 253, 414) generalisation of the Osipkov-Merritt
models: a tracer of density ``nu(r)`` in a spherical potential ``Phi(r) = -Psi(r)`` has

    f(E, L) = L^(-2 beta0) f_Q(Q),    Q = Psi - v^2/2 - L^2 / (2 r_a^2)  (relative energy form),

with anisotropy profile ``beta(r) = (beta0 + r^2/r_a^2) / (1 + r^2/r_a^2)``. It contains the
isotropic Eddington model (``beta0 = 0``, ``r_a = inf``), the Osipkov-Merritt models
(``beta0 = 0``) and the constant-anisotropy models (``r_a = inf``). ``f_Q`` follows from the
Abel-type inversion

    f_Q(Q) = 1 / (K Gamma(3/2 - beta0) Gamma(beta0 + 1/2)) * int_0^Q h''(Psi) (Q - Psi)^(beta0 - 1/2) dPsi,
    h(Psi) = r^(2 beta0) (1 + r^2/r_a^2)^(1 - beta0) nu(r),
    K = 2^(3/2 - beta0) pi^(3/2) Gamma(1 - beta0) / Gamma(3/2 - beta0),

valid for -1/2 < beta0 < 1/2 (which reduces to Eddington's formula at beta0 = 0). The
tracer feels the total potential (dark matter + the stars' own mass), so the velocities
are drawn from a real equilibrium model, not from Gaussians with Jeans dispersions.

Units: kpc, km/s, Msun; ``G`` from :mod:`galmass.constants`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy.interpolate import CubicSpline

from galmass.constants import G
from galmass.errors import GalmassError
from galmass.physics.profiles import MassProfile, Tracer

__all__ = ["CuddefordDF", "JeansGaussianICs", "UnphysicalDF", "anisotropy_beta"]


class UnphysicalDF(GalmassError):
    """The requested anisotropy has no non-negative distribution function for this tracer."""


def anisotropy_beta(r: np.ndarray, beta0: float, r_a: float) -> np.ndarray:
    """Anisotropy ``beta(r) = (beta0 + r^2/r_a^2) / (1 + r^2/r_a^2)`` of the Cuddeford family."""
    r = np.asarray(r, dtype=float)
    if not np.isfinite(r_a):
        return np.full_like(r, beta0)
    x2 = (r / r_a) ** 2
    return (beta0 + x2) / (1.0 + x2)


@dataclass
class CuddefordDF:
    """Cuddeford (1991) distribution function of ``tracer`` in the potential of ``total``.

    Parameters
    ----------
    tracer : Tracer
        Stellar density profile (its normalisation is irrelevant: ``f`` is a probability DF).
    total : MassProfile
        Total mass profile generating the potential [Msun, kpc].
    beta0 : float
        Central anisotropy, in (-0.5, 0.5).
    r_a : float
        Anisotropy radius [kpc]; ``inf`` for constant anisotropy.
    n_grid : int
        Number of radial grid points used for the potential and the inversion.
    """

    tracer: Tracer
    total: MassProfile
    beta0: float = 0.0
    r_a: float = np.inf
    n_grid: int = 1200
    n_quad: int = 160

    def __post_init__(self) -> None:
        if not (-0.5 < self.beta0 < 0.5):
            raise GalmassError(f"beta0 must be in (-0.5, 0.5), got {self.beta0}")
        if not (self.r_a > 0):
            raise GalmassError(f"anisotropy radius r_a must be positive, got {self.r_a}")
        self._build_potential()
        self._build_df()

    # ---------------------------------------------------------------- potential
    def _build_potential(self) -> None:
        r_half = self.tracer.r_half
        r_lo = min(self.tracer.radius_quantile(np.array(1e-7)), 1e-4 * r_half)
        r_hi = max(self.tracer.radius_quantile(np.array(1.0 - 1e-6)), 1e2 * r_half)
        self.r_min, self.r_max = float(r_lo), float(r_hi)
        lnr = np.linspace(np.log(self.r_min), np.log(self.r_max), self.n_grid)
        r = np.exp(lnr)
        gm_over_r = G * self.total.enclosed_mass(r) / r  # d Psi / d ln r = -G M / r
        # Psi(r) = int_r^rmax G M / r' d ln r' (trapezoid from the outside in); Psi(r_max) = 0
        seg = 0.5 * (gm_over_r[1:] + gm_over_r[:-1]) * np.diff(lnr)
        psi = np.concatenate([np.cumsum(seg[::-1])[::-1], [0.0]])
        self._lnr = lnr
        self._r = r
        self._psi = psi
        self._psi_spline = CubicSpline(lnr, psi)

    def psi(self, r: np.ndarray) -> np.ndarray:
        """Relative potential ``Psi = -Phi`` [(km/s)^2], zero at ``r_max``."""
        lnr = np.log(np.clip(np.asarray(r, dtype=float), self.r_min, self.r_max))
        return self._psi_spline(lnr)

    # ---------------------------------------------------------------- inversion
    def _augmented_density(self, r: np.ndarray) -> np.ndarray:
        nu = self.tracer.density(r) / self.tracer.mass
        aniso = (1.0 + (r / self.r_a) ** 2) ** (1.0 - self.beta0) if np.isfinite(self.r_a) else 1.0
        return r ** (2 * self.beta0) * aniso * nu

    def _build_df(self) -> None:
        b = self.beta0
        a = b + 0.5
        r, lnr, psi = self._r, self._lnr, self._psi
        h = self._augmented_density(r)
        gm_over_r = G * self.total.enclosed_mass(r) / r  # = -d Psi / d ln r
        with np.errstate(divide="ignore"):
            lnh = np.log(h)
        ok = np.isfinite(lnh)
        dlnh = np.zeros_like(r)
        dlnh[ok] = CubicSpline(lnr[ok], lnh[ok]).derivative()(lnr[ok])
        g = np.where(ok, -h * dlnh / gm_over_r, 0.0)  # dh / dPsi
        h2 = -CubicSpline(lnr, g).derivative()(lnr) / gm_over_r  # d^2 h / dPsi^2
        # product integration, exact for h'' piecewise linear in Psi between grid nodes
        p, h2 = psi[::-1], h2[::-1]  # ascending Psi
        slope = np.diff(h2) / np.diff(p)
        q = p[:, None]
        s_lo = np.clip(q - p[None, :-1], 0.0, None)
        s_hi = np.clip(q - p[None, 1:], 0.0, None)
        cell = ((h2[None, :-1] + slope[None, :] * s_lo) * (s_lo**a - s_hi**a) / a
                - slope[None, :] * (s_lo ** (a + 1) - s_hi ** (a + 1)) / (a + 1))
        integral = cell.sum(axis=1)
        k = 2 ** (1.5 - b) * np.pi**1.5 * special.gamma(1 - b) / special.gamma(1.5 - b)
        f = integral / (k * special.gamma(1.5 - b) * special.gamma(b + 0.5))
        fmax = np.max(f)
        if not np.isfinite(fmax) or fmax <= 0:
            raise UnphysicalDF("distribution function is nowhere positive")
        if np.min(f) < -1e-3 * fmax:
            raise UnphysicalDF(
                f"negative distribution function (min/max = {np.min(f) / fmax:.2e}) for "
                f"beta0={b:.3f}, r_a={self.r_a:.3g} kpc: anisotropy too radial for this tracer"
            )
        self._q = p
        self._f = np.maximum(f, 0.0)

    def f_q(self, q: np.ndarray) -> np.ndarray:
        """``f_Q(Q)`` (per unit tracer mass, arbitrary velocity-space units); 0 for Q <= 0."""
        q = np.asarray(q, dtype=float)
        return np.where(q > 0, np.interp(q, self._q, self._f, left=0.0, right=self._f[-1]), 0.0)

    # ---------------------------------------------------------------- sampling
    def sample(self, n: int, rng: np.random.Generator, n_u: int = 256,
               chunk: int = 20000) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` stars: positions [kpc] and velocities [km/s], shape (n, 3) each."""
        if n < 1:
            raise GalmassError(f"number of stars must be positive, got {n}")
        # radii follow the tracer, truncated at r_max where Psi = 0 (mass beyond it < 1e-6)
        u_max = float(self.tracer.enclosed_mass(np.array(self.r_max)) / self.tracer.mass)
        r = self.tracer.radius_quantile(rng.uniform(0.0, u_max, n))
        rhat = _isotropic_unit_vectors(n, rng)
        pos = r[:, None] * rhat
        vel = np.empty((n, 3))
        for start in range(0, n, chunk):
            sl = slice(start, min(n, start + chunk))
            vel[sl] = self._sample_velocities(r[sl], rhat[sl], rng, n_u)
        return pos, vel

    def _sample_velocities(self, r, rhat, rng, n_u):
        b = self.beta0
        n = len(r)
        psi = np.maximum(self.psi(r), 0.0)
        # speed in the scaled (w_r, w_t) plane: pdf(u) ~ u^(2-2b) f_Q(Psi (1 - u^2)), w = u sqrt(2 Psi)
        u = np.linspace(0.0, 1.0, n_u)
        pdf = u[None, :] ** (2 - 2 * b) * self.f_q(psi[:, None] * (1.0 - u[None, :] ** 2))
        u_s = _inverse_cdf_rows(u, pdf, rng.uniform(size=n))
        w = u_s * np.sqrt(2.0 * psi)
        # angle between w and the radial direction: pdf(eta) ~ sin^(1-2b) eta on [0, pi]
        eta = _sample_sin_power(1.0 - 2.0 * b, n, rng)
        v_r = w * np.cos(eta)
        scale = np.sqrt(1.0 + (r / self.r_a) ** 2) if np.isfinite(self.r_a) else 1.0
        v_t = w * np.sin(eta) / scale
        phi = rng.uniform(0.0, 2.0 * np.pi, n)
        e1, e2 = _tangent_basis(rhat)
        return (v_r[:, None] * rhat
                + (v_t * np.cos(phi))[:, None] * e1
                + (v_t * np.sin(phi))[:, None] * e2)


@dataclass
class JeansGaussianICs:
    """A different family of initial conditions: Gaussian velocities with the dispersions of
    the spherical Jeans equation (anisotropy ``beta(r)`` of the Cuddeford family), truncated
    below the escape speed.

    Not an equilibrium DF: the stars only reach a steady state after phase mixing in their
    potential (:func:`galmass.physics.orbits.phase_mix`), and the state they reach is not of
    the Cuddeford family (the held-out suite uses it so that its DF differs from training's).

    ``nu sigma_r^2 (r) = (1 / I(r)) int_r^inf I nu G M / r'^2 dr'`` with
    ``I(r) = r^(2 beta0) (1 + r^2 / r_a^2)^(1 - beta0)``; each tangential component has
    dispersion ``sqrt(1 - beta) sigma_r``. Units: kpc, km/s, Msun.
    """

    tracer: Tracer
    total: MassProfile
    beta0: float = 0.0
    r_a: float = np.inf
    n_grid: int = 800

    def __post_init__(self) -> None:
        if not (-1.0 <= self.beta0 < 1.0) or not self.r_a > 0:
            raise GalmassError(f"JeansGaussianICs: need -1 <= beta0 < 1 and r_a > 0, got {self.beta0}, {self.r_a}")
        r_half = self.tracer.r_half
        self.r_min = float(min(self.tracer.radius_quantile(np.array(1e-7)), 1e-4 * r_half))
        self.r_max = float(max(self.tracer.radius_quantile(np.array(1.0 - 1e-6)), 1e2 * r_half))
        lnr = np.linspace(np.log(self.r_min), np.log(self.r_max), self.n_grid)
        r = np.exp(lnr)
        gm = G * np.asarray(self.total.enclosed_mass(r), dtype=float)
        nu = np.asarray(self.tracer.density(r), dtype=float) / self.tracer.mass
        aniso = (1.0 + (r / self.r_a) ** 2) ** (1.0 - self.beta0) if np.isfinite(self.r_a) else 1.0
        ii = r ** (2 * self.beta0) * aniso
        integrand = ii * nu * gm / r  # d r' = r' d ln r'
        seg = 0.5 * (integrand[1:] + integrand[:-1]) * np.diff(lnr)
        tail = np.concatenate([np.cumsum(seg[::-1])[::-1], [0.0]])
        self._lnr = lnr
        self._sig2 = np.maximum(tail / np.maximum(ii * nu, 1e-300), 0.0)
        phi_seg = 0.5 * (gm[1:] / r[1:] + gm[:-1] / r[:-1]) * np.diff(lnr)
        self._psi = np.concatenate([np.cumsum(phi_seg[::-1])[::-1], [0.0]]) + gm[-1] / r[-1]

    def sigma_r(self, r: np.ndarray) -> np.ndarray:
        """Radial velocity dispersion [km/s] at radius ``r`` [kpc]."""
        lnr = np.log(np.clip(np.asarray(r, dtype=float), self.r_min, self.r_max))
        return np.sqrt(np.interp(lnr, self._lnr, self._sig2))

    def sample(self, n: int, rng: np.random.Generator, max_redraws: int = 20) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` stars: positions [kpc] and velocities [km/s], shape (n, 3) each; speeds
        above 0.95 of the escape speed are redrawn (then scaled down)."""
        if n < 1:
            raise GalmassError(f"number of stars must be positive, got {n}")
        u_max = float(self.tracer.enclosed_mass(np.array(self.r_max)) / self.tracer.mass)
        r = self.tracer.radius_quantile(rng.uniform(0.0, u_max, n))
        rhat = _isotropic_unit_vectors(n, rng)
        s_r = self.sigma_r(r)
        s_t = s_r * np.sqrt(1.0 - anisotropy_beta(r, self.beta0, self.r_a))
        v_esc = np.sqrt(2.0 * np.interp(np.log(r), self._lnr, self._psi))
        e1, e2 = _tangent_basis(rhat)
        w = np.empty((n, 3))
        todo = np.ones(n, dtype=bool)
        for _ in range(max_redraws):
            k = int(todo.sum())
            if k == 0:
                break
            w[todo] = rng.normal(size=(k, 3)) * np.stack([s_r[todo], s_t[todo], s_t[todo]], axis=1)
            todo = np.linalg.norm(w, axis=1) > 0.95 * v_esc
        speed = np.linalg.norm(w, axis=1)
        w *= np.minimum(1.0, 0.95 * v_esc / np.maximum(speed, 1e-300))[:, None]
        vel = w[:, :1] * rhat + w[:, 1:2] * e1 + w[:, 2:3] * e2
        return r[:, None] * rhat, vel


def _isotropic_unit_vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    cos_t = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    sin_t = np.sqrt(1.0 - cos_t**2)
    return np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], axis=1)


def _tangent_basis(rhat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors orthogonal to each row of ``rhat`` and to each other."""
    ref = np.zeros_like(rhat)
    use_x = np.abs(rhat[:, 2]) > 0.9
    ref[~use_x, 2] = 1.0
    ref[use_x, 0] = 1.0
    e1 = np.cross(ref, rhat)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(rhat, e1)
    return e1, e2


def _inverse_cdf_rows(x: np.ndarray, pdf: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """Sample one value per row of a tabulated (unnormalised) pdf on the grid ``x``.

    The pdf is taken as piecewise linear; the CDF is inverted exactly within each cell.
    """
    dx = np.diff(x)
    cell = 0.5 * (pdf[:, 1:] + pdf[:, :-1]) * dx[None, :]
    cdf = np.concatenate([np.zeros((len(pdf), 1)), np.cumsum(cell, axis=1)], axis=1)
    total = cdf[:, -1]
    if np.any(~(total > 0)):
        raise GalmassError("velocity distribution is empty at some radius (potential too shallow)")
    target = uniform * total
    idx = np.clip((cdf < target[:, None]).sum(axis=1) - 1, 0, len(x) - 2)
    rows = np.arange(len(pdf))
    p0, p1 = pdf[rows, idx], pdf[rows, idx + 1]
    c0 = cdf[rows, idx]
    h = dx[idx]
    slope = (p1 - p0) / h
    need = target - c0
    # solve p0 s + slope s^2 / 2 = need for s in [0, h]
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = np.sqrt(np.maximum(p0 * p0 + 2.0 * slope * need, 0.0))
        s_quad = np.where(np.abs(slope) > 1e-12 * np.maximum(p0, 1e-300) / h,
                          (disc - p0) / slope, need / np.maximum(p0, 1e-300))
    s = np.clip(np.nan_to_num(s_quad, nan=0.0), 0.0, h)
    return x[idx] + s


_SIN_GRID = np.linspace(0.0, np.pi, 2001)


def _sample_sin_power(p: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Sample angles on [0, pi] with density proportional to sin(eta)^p (p > 0)."""
    if abs(p - 1.0) < 1e-12:
        return np.arccos(rng.uniform(-1.0, 1.0, n))
    pdf = np.sin(_SIN_GRID) ** p
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(_SIN_GRID))])
    cdf /= cdf[-1]
    return np.interp(rng.uniform(size=n), cdf, _SIN_GRID)
