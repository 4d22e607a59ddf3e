"""Unresolved binary stars: the line-of-sight velocity of a binary's bright primary.

A spectroscopic survey of a dwarf galaxy measures the velocity of each star's photocentre,
in practice the red giant of a binary, which moves about the binary's centre of mass. In
ultra-faint dwarfs (sigma 3-6 km/s, 20-100 stars) these orbital velocities inflate the
single-epoch dispersion and the mass (e.g. Minor et al. 2010, ApJ 721, 1142; Spencer et
al. 2017, AJ 153, 254; Arroyo-Polonio et al. 2026).

The population follows the solar-neighbourhood binaries of Raghavan et al. (2010, ApJS 190,
1), as the binary models of dwarf spheroidals do:

- orbital period P: log-normal in days, mean ``log10 P = 5.03``, ``sigma = 2.28``;
- mass ratio ``q = m2 / m1``: uniform in [0.1, 1];
- eccentricity: circular below 12 days (tidal circularisation), otherwise uniform in
  ``[0, e_max(P)]`` with ``e_max = 1 - (P / 2 d)^(-2/3)`` (Moe & Di Stefano 2017, ApJS 230,
  15: orbits that would have touched at periastron are absent);
- primary mass 0.8 Msun (a red giant of an old population); orbits whose periastron is
  closer than ``min_periastron`` [AU] (the giant would fill its Roche lobe) are redrawn;
- orientation isotropic (cos i uniform), argument of periastron uniform, observing epoch at
  a uniform random mean anomaly.

The primary's line-of-sight velocity about the centre of mass is (e.g. Murray & Dermott)

    v_los = K [cos(omega + nu) + e cos(omega)],
    K = 2 pi a sin(i) q / ((1 + q) P sqrt(1 - e^2)),   a^3 = G (m1 + m2) P^2 / (4 pi^2),

with ``nu`` the true anomaly at the epoch (Kepler's equation ``E - e sin E = M``).
Everything is pure numpy and seeded by the caller's generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from galmass.errors import GalmassError

__all__ = ["BinaryPopulation", "BinaryOrbits", "draw_orbits", "eccentric_anomaly", "los_velocity",
           "binary_velocity_offsets", "AU_PER_YR_KMS"]

#: 1 AU/yr in km/s (IAU 2012 AU, Julian year); a test checks it against astropy.units.
AU_PER_YR_KMS = 149_597_870.7 / (365.25 * 86_400.0)

#: Days per Julian year.
_DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class BinaryPopulation:
    """A population of binaries (module docstring for the sources of the defaults).

    Attributes
    ----------
    log_period_mean, log_period_sigma : float
        Mean and dispersion of ``log10 P`` [P in days] (Raghavan et al. 2010: 5.03, 2.28).
    log_period_range : (float, float)
        Truncation of ``log10 P`` [days].
    q_range : (float, float)
        Bounds of the uniform mass ratio ``m2 / m1``.
    circular_period : float
        Orbits shorter than this [days] are circular.
    primary_mass : float
        Mass of the observed star [Msun].
    min_periastron : float
        Closest allowed periastron distance ``a (1 - e)`` [AU]; closer orbits are redrawn.
    """

    log_period_mean: float = 5.03
    log_period_sigma: float = 2.28
    log_period_range: tuple[float, float] = (-1.0, 10.0)
    q_range: tuple[float, float] = (0.1, 1.0)
    circular_period: float = 12.0
    primary_mass: float = 0.8
    min_periastron: float = 0.1

    def __post_init__(self) -> None:
        lo, hi = self.log_period_range
        if not (self.log_period_sigma > 0 and lo < hi):
            raise GalmassError("BinaryPopulation: need log_period_sigma > 0 and log_period_range lo < hi")
        qlo, qhi = self.q_range
        if not 0 < qlo <= qhi <= 1:
            raise GalmassError(f"BinaryPopulation.q_range must satisfy 0 < lo <= hi <= 1, got {self.q_range}")
        if not (self.primary_mass > 0 and self.min_periastron >= 0 and self.circular_period >= 0):
            raise GalmassError("BinaryPopulation: need primary_mass > 0, min_periastron >= 0, circular_period >= 0")


@dataclass
class BinaryOrbits:
    """Orbital elements of ``n`` binaries, arrays of shape (n,).

    ``period`` [days], ``q`` (m2/m1), ``e``, ``inclination`` [rad], ``omega`` (argument of
    periastron) [rad], ``mean_anomaly`` at the first epoch [rad], ``primary_mass`` [Msun].
    """

    period: np.ndarray
    q: np.ndarray
    e: np.ndarray
    inclination: np.ndarray
    omega: np.ndarray
    mean_anomaly: np.ndarray
    primary_mass: float

    @property
    def semi_major_axis(self) -> np.ndarray:
        """Semi-major axis of the relative orbit [AU] (Kepler's third law)."""
        p_yr = self.period / _DAYS_PER_YEAR
        return (self.primary_mass * (1.0 + self.q) * p_yr ** 2) ** (1.0 / 3.0)

    @property
    def semi_amplitude(self) -> np.ndarray:
        """The primary's radial-velocity semi-amplitude ``K`` [km/s]."""
        p_yr = self.period / _DAYS_PER_YEAR
        k = (2 * np.pi * self.semi_major_axis * np.sin(self.inclination) * self.q / (1.0 + self.q)
             / (p_yr * np.sqrt(1.0 - self.e ** 2)))
        return k * AU_PER_YR_KMS


def _max_eccentricity(period: np.ndarray, circular_period: float) -> np.ndarray:
    """``e_max(P) = 1 - (P / 2 d)^(-2/3)``, 0 below ``circular_period`` [days]."""
    emax = 1.0 - (np.maximum(period, 2.0) / 2.0) ** (-2.0 / 3.0)
    return np.where(period < circular_period, 0.0, emax)


def draw_orbits(n: int, rng: np.random.Generator, population: BinaryPopulation = BinaryPopulation(),
                max_rounds: int = 100) -> BinaryOrbits:
    """Draw ``n`` binary orbits from ``population`` (module docstring).

    Periods and eccentricities whose periastron is inside ``population.min_periastron`` are
    redrawn (the distributions are those of the surviving binaries).
    """
    n = int(n)
    pop = population
    period = np.empty(n)
    q = np.empty(n)
    e = np.empty(n)
    todo = np.arange(n)
    lo, hi = pop.log_period_range
    for _ in range(max_rounds):
        if todo.size == 0:
            break
        m = todo.size
        logp = rng.normal(pop.log_period_mean, pop.log_period_sigma, size=m)
        bad = (logp < lo) | (logp > hi)
        while bad.any():  # truncated normal by redrawing
            logp[bad] = rng.normal(pop.log_period_mean, pop.log_period_sigma, size=int(bad.sum()))
            bad = (logp < lo) | (logp > hi)
        p = 10.0 ** logp
        qq = rng.uniform(*pop.q_range, size=m)
        ee = rng.uniform(0.0, 1.0, size=m) * _max_eccentricity(p, pop.circular_period)
        a = (pop.primary_mass * (1.0 + qq) * (p / _DAYS_PER_YEAR) ** 2) ** (1.0 / 3.0)
        ok = a * (1.0 - ee) >= pop.min_periastron
        period[todo[ok]], q[todo[ok]], e[todo[ok]] = p[ok], qq[ok], ee[ok]
        todo = todo[~ok]
    if todo.size:
        raise GalmassError(f"draw_orbits: {todo.size} orbits still inside min_periastron="
                           f"{pop.min_periastron} AU after {max_rounds} rounds; lower min_periastron")
    inclination = np.arccos(rng.uniform(-1.0, 1.0, size=n))
    omega = rng.uniform(0.0, 2 * np.pi, size=n)
    mean_anomaly = rng.uniform(0.0, 2 * np.pi, size=n)
    return BinaryOrbits(period, q, e, inclination, omega, mean_anomaly, pop.primary_mass)


def eccentric_anomaly(mean_anomaly: np.ndarray, e: np.ndarray, tol: float = 1e-12,
                      max_iter: int = 50) -> np.ndarray:
    """Solve Kepler's equation ``E - e sin E = M`` [rad] by Newton's method (vectorised)."""
    m = np.mod(np.asarray(mean_anomaly, dtype=float), 2 * np.pi)
    e = np.broadcast_to(np.asarray(e, dtype=float), m.shape)
    ecc = np.where(e > 0.8, np.pi, m)  # a start from which Newton converges for all e < 1
    for _ in range(max_iter):
        f = ecc - e * np.sin(ecc) - m
        step = f / (1.0 - e * np.cos(ecc))
        ecc = ecc - step
        if np.all(np.abs(step) < tol):
            break
    return ecc


def los_velocity(orbits: BinaryOrbits, times: np.ndarray | float = 0.0) -> np.ndarray:
    """The primary's line-of-sight velocity about the centre of mass [km/s].

    Parameters
    ----------
    orbits : BinaryOrbits
        ``n`` orbits.
    times : float or array (T,)
        Epochs [yr] after the first one.

    Returns
    -------
    ndarray (n,) for a scalar ``times``, else (n, T).
    """
    t = np.asarray(times, dtype=float)
    p_yr = orbits.period / _DAYS_PER_YEAR
    mean = orbits.mean_anomaly[:, None] + 2 * np.pi * np.atleast_1d(t)[None, :] / p_yr[:, None]
    e = orbits.e[:, None]
    ecc = eccentric_anomaly(mean, e)
    nu = 2.0 * np.arctan2(np.sqrt(1.0 + e) * np.sin(ecc / 2), np.sqrt(1.0 - e) * np.cos(ecc / 2))
    w = orbits.omega[:, None]
    v = orbits.semi_amplitude[:, None] * (np.cos(w + nu) + e * np.cos(w))
    return v[:, 0] if t.ndim == 0 else v


def binary_velocity_offsets(n: int, rng: np.random.Generator, fraction: float,
                            population: BinaryPopulation = BinaryPopulation(),
                            times: np.ndarray | None = None) -> np.ndarray:
    """Orbital velocity offsets [km/s] of ``n`` stars of which a ``fraction`` are binaries.

    Singles get 0. With ``times`` (T,) [yr] the offsets at each epoch are returned, shape
    (n, T), for multi-epoch catalogues; otherwise one epoch, shape (n,).
    """
    if not 0.0 <= fraction <= 1.0:
        raise GalmassError(f"binary fraction must lie in [0, 1], got {fraction}")
    n = int(n)
    is_binary = rng.uniform(size=n) < fraction
    out = np.zeros((n,) if times is None else (n, len(np.atleast_1d(times))))
    k = int(is_binary.sum())
    if k:
        orbits = draw_orbits(k, rng, population)
        out[is_binary] = los_velocity(orbits, 0.0 if times is None else np.atleast_1d(times))
    return out
