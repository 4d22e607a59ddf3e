"""Test helpers: isotropic Plummer spheres sampled in equilibrium (units kpc, km/s, Msun)."""

from __future__ import annotations

import numpy as np
from scipy import integrate

from galmass.constants import G


def isotropic_unit_vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random unit vectors, uniform on the sphere, shape (n, 3)."""
    z = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(0.0, 2 * np.pi, n)
    s = np.sqrt(1.0 - z * z)
    return np.stack([s * np.cos(phi), s * np.sin(phi), z], axis=1)


def plummer_radii(n: int, a: float, rng: np.random.Generator) -> np.ndarray:
    """3-D radii [kpc] of a Plummer sphere of scale radius ``a`` (inverse CDF)."""
    u = rng.uniform(1e-12, 1.0, n)
    return a / np.sqrt(u ** (-2.0 / 3.0) - 1.0)


def sample_plummer(n: int, M: float, a: float, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Self-consistent isotropic Plummer sphere (Aarseth, Hénon & Wielen 1974).

    Speeds follow the exact distribution function ``f(E) ~ E^(7/2)``: ``v = q v_esc(r)`` with
    ``q`` drawn from ``g(q) = q^2 (1 - q^2)^(7/2)`` by rejection (``max g < 0.1``) and
    ``v_esc = sqrt(2 G M / sqrt(r^2 + a^2))``.

    Returns
    -------
    pos [kpc], vel [km/s] : ndarray, shape (n, 3)
    """
    r = plummer_radii(n, a, rng)
    q = np.empty(0)
    while q.size < n:
        m = int(1.3 * (n - q.size) / 0.43) + 100
        qq = rng.uniform(0.0, 1.0, m)
        yy = rng.uniform(0.0, 0.1, m)
        q = np.concatenate([q, qq[yy < qq**2 * (1.0 - qq**2) ** 3.5]])
    v = q[:n] * np.sqrt(2.0 * G * M / np.sqrt(r * r + a * a))
    pos = r[:, None] * isotropic_unit_vectors(n, rng)
    vel = v[:, None] * isotropic_unit_vectors(n, rng)
    return pos, vel


def jeans_sigma_r(a: float, enclosed_mass, r: np.ndarray) -> np.ndarray:
    """Isotropic Jeans radial dispersion [km/s] of a Plummer tracer in the potential of
    ``enclosed_mass(r)`` [Msun]: ``sigma_r^2 = (1/nu) int_r^inf nu G M(r') / r'^2 dr'``."""
    grid = a * np.logspace(-5, 5, 4001)
    nu = (1.0 + (grid / a) ** 2) ** -2.5
    integrand = nu * G * enclosed_mass(grid) / grid  # d ln r
    lng = np.log(grid)
    tail = integrate.cumulative_trapezoid(integrand[::-1], -lng[::-1], initial=0.0)[::-1]
    s2 = tail / nu
    return np.sqrt(np.interp(np.log(r), lng, s2))


def sample_plummer_jeans(n: int, a: float, enclosed_mass, rng: np.random.Generator
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Plummer tracer (scale radius ``a`` [kpc]) in an external potential, isotropic.

    Velocities are Gaussian with the isotropic Jeans dispersion :func:`jeans_sigma_r`: not an
    exact distribution function, but exact second moments, which is all the mass
    estimators use.

    Returns
    -------
    pos [kpc], vel [km/s] : ndarray, shape (n, 3)
    """
    r = plummer_radii(n, a, rng)
    s = jeans_sigma_r(a, enclosed_mass, r)
    pos = r[:, None] * isotropic_unit_vectors(n, rng)
    vel = s[:, None] * rng.standard_normal((n, 3))
    return pos, vel
