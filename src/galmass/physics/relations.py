"""Published galaxy-halo scaling relations used to build the mock suites.

Masses in Msun, radii in kpc. Halo masses are M200c (mean density 200 times the critical
density at z = 0) in the Planck 2013 cosmology used by NIHAO and AURIGA (via ``colossus``).
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np

__all__ = [
    "cosmology",
    "r200_kpc",
    "concentration_dm14",
    "stellar_mass_moster13",
    "stellar_mass_behroozi13",
    "half_mass_radius_kravtsov13",
    "half_light_radius_dwarfs",
    "dc14_shape",
    "corenfw_n",
]


@lru_cache(maxsize=1)
def cosmology():
    """The colossus Planck 2013 cosmology (h = 0.6777, Omega_m = 0.307)."""
    from colossus.cosmology import cosmology as cc

    return cc.setCosmology("planck13", persistence="")


def r200_kpc(m200: np.ndarray) -> np.ndarray:
    """Radius [kpc] enclosing a mean density of 200 rho_crit(z=0) for mass ``m200`` [Msun]."""
    from colossus.halo import mass_so

    h = cosmology().h
    return np.asarray(mass_so.M_to_R(np.asarray(m200) * h, 0.0, "200c")) / h


def concentration_dm14(m200: np.ndarray) -> np.ndarray:
    """Median c200 of Dutton & Macciò (2014, MNRAS 441, 3359) at z = 0 (colossus ``dutton14``).

    The fit was made for M200 > 1e10 Msun/h; below that it is extrapolated (a power law in
    mass), which is what most dwarf-galaxy mass models do.
    """
    from colossus.halo import concentration

    h = cosmology().h
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return np.asarray(concentration.concentration(np.asarray(m200) * h, "200c", 0.0, model="dutton14"))


def stellar_mass_moster13(m200: np.ndarray) -> np.ndarray:
    """Median stellar mass [Msun] of Moster, Naab & White (2013, MNRAS 428, 3121), z = 0.

    ``M*/M = 2 N [(M/M1)^-beta + (M/M1)^gamma]^-1`` with N = 0.0351, log10 M1 = 11.590,
    beta = 1.376, gamma = 0.608 (their Table 1; halo mass M200c).
    """
    x = np.asarray(m200, dtype=float) / 10**11.590
    return np.asarray(m200) * 2 * 0.0351 / (x**-1.376 + x**0.608)


def stellar_mass_behroozi13(m200: np.ndarray) -> np.ndarray:
    """Median stellar mass [Msun] of Behroozi, Wechsler & Conroy (2013, ApJ 770, 57), z = 0.

    ``log10 M* = log10(eps M1) + f(log10(M/M1)) - f(0)``,
    ``f(x) = -log10(10^(alpha x) + 1) + delta (log10(1 + e^x))^gamma / (1 + exp(10^-x))``,
    with log10 eps = -1.777, log10 M1 = 11.514, alpha = -1.412, delta = 3.508, gamma = 0.316.
    Its low-mass slope (M* ~ M^1.41) is shallower than Moster et al.'s (M^2.38): a dwarf of
    given M* lives in a ~0.4 dex lighter halo (M* = 1e6.5 Msun: M200 ~ 1e9.5 instead of 1e9.9),
    closer to what the Milky Way satellites' dispersions imply.
    """
    log_eps, log_m1, alpha, delta, gamma = -1.777, 11.514, -1.412, 3.508, 0.316

    def f(x):
        return (-np.log10(10 ** (alpha * x) + 1.0)
                + delta * np.log10(1.0 + np.exp(x)) ** gamma / (1.0 + np.exp(10.0 ** (-x))))

    x = np.log10(np.asarray(m200, dtype=float)) - log_m1
    with np.errstate(over="ignore"):  # exp(10^-x) overflows to inf below ~1e8.9 Msun: its term is then 0
        return 10 ** (log_eps + log_m1 + f(x) - f(0.0))


def half_mass_radius_kravtsov13(r200: np.ndarray, norm: float = 0.015) -> np.ndarray:
    """3-D stellar half-mass radius [kpc] of Kravtsov (2013, ApJ 764, L31): ``r_1/2 = 0.015 r200``.

    ``norm`` lets suites differ in their median size at fixed halo (simulation suites do:
    Fig. 2 of the paper); the relation's scatter (~0.2 dex) is added by the caller.
    """
    return norm * np.asarray(r200)


def half_light_radius_dwarfs(mstar: np.ndarray) -> np.ndarray:
    """Median projected half-light radius [kpc] of dwarf galaxies at stellar mass ``mstar`` [Msun]:
    ``log10 R_h = -0.60 + 0.22 (log10 M* - 6.5)``.

    Slope fitted to the 524 confirmed galaxies of the Local Volume Database (Pace et al.;
    ``dwarf_all.csv``, 10^4.5 < M* < 10^9.5, residual scatter 0.31 dex); normalisation set to
    the Milky Way satellites at 10^6 <= M* <= 10^7.5 (median R_h 0.23 kpc: Carina, Leo II,
    Sculptor, Leo I, Antlia II), which are smaller than field dwarfs of the same mass (tides).
    The 3-D half-mass radius is about 4/3 of it (Wolf et al. 2010).
    """
    return 10 ** (-0.60 + 0.22 * (np.log10(np.asarray(mstar, dtype=float)) - 6.5))


def dc14_shape(log_mstar_mhalo: float) -> tuple[float, float, float, float]:
    """(alpha, beta, gamma, c_factor) of the Di Cintio et al. (2014, MNRAS 441, 2986) profile.

    With ``X = log10(M*/Mhalo)``, clipped to the fit's range -4.1 < X < -1.3:
    - alpha = 2.94 - log10[(10^(X+2.33))^-1.08 + (10^(X+2.33))^2.29]
    - beta  = 4.23 + 1.34 X + 0.26 X^2
    - gamma = -0.06 + log10[(10^(X+2.56))^-0.68 + 10^(X+2.56)]
    - c_DC14 = c_NFW (1 + 0.00003 exp(3.4 (X + 4.5)))

    Cores (gamma ~ 0) form near X = -2.7; cusps return at lower and higher X.
    """
    x = float(np.clip(log_mstar_mhalo, -4.1, -1.3))
    alpha = 2.94 - np.log10(10 ** ((x + 2.33) * -1.08) + 10 ** ((x + 2.33) * 2.29))
    beta = 4.23 + 1.34 * x + 0.26 * x**2
    gamma = -0.06 + np.log10(10 ** ((x + 2.56) * -0.68) + 10 ** (x + 2.56))
    c_factor = 1.0 + 0.00003 * np.exp(3.4 * (x + 4.5))
    return float(alpha), float(beta), float(max(gamma, 0.0)), float(c_factor)


def corenfw_n(log_mstar_mhalo: float, strength: float = 1.0) -> float:
    """Core completeness ``n`` of the coreNFW profile (Read et al. 2016) for the held-out suite.

    Read et al. tie ``n = tanh(kappa t_SF / t_dyn)`` to the duration of star formation. Here
    it is modelled as a Gaussian bump in ``X = log10(M*/Mhalo)`` centred at X = -2.5 (width
    0.6 dex, so low-mass dwarfs with little star formation keep their cusps), times a
    per-galaxy ``strength`` in [0, 1]: a different core prescription from the DC14 suite.
    """
    return float(np.clip(strength * np.exp(-0.5 * ((log_mstar_mhalo + 2.5) / 0.6) ** 2), 0.0, 1.0))
