"""Sky geometry: the gnomonic (tangent-plane) projection and the robust centre of a star catalogue
(:func:`galmass.observe.nuisances.find_centre`, which the dataset build also uses)."""

from __future__ import annotations

import math

import numpy as np

from galmass.errors import GalmassError
from galmass.observe.nuisances import find_centre  # the same centring as in training


# --------------------------------------------------------------------------- geometry
def gnomonic(ra: np.ndarray, dec: np.ndarray, ra0: float, dec0: float) -> tuple[np.ndarray, np.ndarray]:
    """Tangent-plane (gnomonic) coordinates [rad] of ``ra, dec`` [deg] about ``(ra0, dec0)`` [deg].

    ``xi`` points east (increasing RA), ``eta`` north; multiply by the distance for kpc.
    Stars 90 deg or more from the tangent point raise :class:`GalmassError`.
    """
    a, d = np.radians(np.asarray(ra, float)), np.radians(np.asarray(dec, float))
    a0, d0 = math.radians(ra0), math.radians(dec0)
    cos_c = np.sin(d0) * np.sin(d) + np.cos(d0) * np.cos(d) * np.cos(a - a0)
    if np.any(cos_c <= 0):
        raise GalmassError(f"{int(np.sum(cos_c <= 0))} star(s) lie 90 deg or more from the centre "
                           f"(ra, dec) = ({ra0:.4f}, {dec0:.4f}); not one galaxy")
    xi = np.cos(d) * np.sin(a - a0) / cos_c
    eta = (np.cos(d0) * np.sin(d) - np.sin(d0) * np.cos(d) * np.cos(a - a0)) / cos_c
    return xi, eta


def inverse_gnomonic(xi: np.ndarray, eta: np.ndarray, ra0: float, dec0: float) -> tuple[np.ndarray, np.ndarray]:
    """``ra, dec`` [deg] of tangent-plane coordinates ``xi, eta`` [rad] about ``(ra0, dec0)`` [deg]."""
    xi, eta = np.asarray(xi, float), np.asarray(eta, float)
    a0, d0 = math.radians(ra0), math.radians(dec0)
    denom = np.cos(d0) - eta * np.sin(d0)
    a = a0 + np.arctan2(xi, denom)
    d = np.arctan2(np.sin(d0) + eta * np.cos(d0), np.hypot(xi, denom))
    return np.degrees(a) % 360.0, np.degrees(d)


def _sky_centre(ra, dec, w) -> tuple[float, float]:
    a, d = np.radians(ra), np.radians(dec)
    vec = np.average(np.stack([np.cos(d) * np.cos(a), np.cos(d) * np.sin(a), np.sin(d)], 1), weights=w, axis=0)
    ra0 = math.degrees(math.atan2(vec[1], vec[0])) % 360.0
    dec0 = math.degrees(math.atan2(vec[2], math.hypot(vec[0], vec[1])))
    for _ in range(10):
        xi, eta = gnomonic(ra, dec, ra0, dec0)
        cx, cy = find_centre(xi, eta, w)
        new_ra, new_dec = inverse_gnomonic(np.array([cx]), np.array([cy]), ra0, dec0)
        ra0, dec0 = float(new_ra[0]), float(new_dec[0])
        if math.hypot(cx, cy) < 1e-6 * max(float(np.median(np.hypot(xi, eta))), 1e-300):
            break
    return ra0, dec0
