"""The two EDGE simulated dwarfs in ``../shared/data/simulations/edge`` as labelled galaxies.

The star files hold star particles (x, y, z [kpc], vx, vy, vz [km/s], mass [Msun]); the
``*_profiles.dat`` files, as distributed with GravSphere 2.0, hold a radius column and
cumulative stellar, gas and dark masses. Read as 3-D masses M(<r) about the stars' centre,
those files disagree with the stars' own kinematics: <v^2> / <G M(<r) / r> = 0.33-0.40 (a steady
tracer has 1). Measured here (issue #18, ``tests/test_edge.py``), the cause is the convention:

* the radius column holds bin *centres* and the masses are cumulative to the bin's *outer
  edge* (centre + half a bin width);
* the cumulative masses are *projected*: masses inside cylinders about the z axis, not
  spheres. The star particles inside such cylinders reproduce the files' stellar column at
  every radius: the radius that encloses each tabulated mass is the bin centre plus half a bin
  width to 0.5 pc (halo600, bins 157 pc) and 1 pc (halo383early, bins 187 pc) over the first
  10 bins, while in spheres, or cylinders about x or y, it is not.

A cylinder mass includes the whole line-of-sight column of the dark halo, so read as M(<r) it
overestimates the mass by 2-3 times at the stars' radii. Deprojected into spherical shells
(:func:`cylinder_to_sphere`, non-negative least squares, relative residual <= 2e-4), the
stellar column matches the particles' own 3-D M*(<r) at 0.2-4 kpc to 1-9% (halo600) and 2-12%
(halo383early), and the tracer virial ratio <v^2> / <G M(<r) / r> of the stars within 2, 5 and
10 kpc becomes 1.15, 0.95, 0.89 (halo600) and 1.36, 1.21, 1.17 (halo383early): near 1, as a
roughly steady tracer needs, where the raw reading gave 0.33-0.40. The density columns match
neither reading and are not used. The deprojection assumes spherical shells, which the
flattened dwarfs are not: the labels carry a ~10% systematic uncertainty.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from galmass.errors import GalmassError
from galmass.physics.profiles import TabulatedMass
from galmass.sources.galaxy import Galaxy

__all__ = ["EDGE_DWARFS", "cylinder_to_sphere", "read_edge_dwarf"]

#: The two dwarfs and the axis of their profile files' projection (measured, module docstring).
EDGE_DWARFS = {"halo600": 2, "halo383early": 2}


def _sphere_in_cylinder(s: np.ndarray, R: float) -> np.ndarray:
    """Volume [kpc^3] of a sphere of radius ``s`` inside an infinite cylinder of radius ``R``."""
    s = np.asarray(s, dtype=float)
    return 4 / 3 * np.pi * (s**3 - np.clip(s**2 - R**2, 0.0, None) ** 1.5)


def cylinder_to_sphere(edges: np.ndarray, m_cyl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spherical M(<r) [Msun] at ``edges[1:]`` [kpc] from the masses ``m_cyl`` [Msun] inside
    cylinders of radii ``edges[1:]``, for a density constant in each shell between ``edges``
    (``edges[0] = 0``; nothing beyond the last edge). Returns (M_3d, relative residual)."""
    edges = np.asarray(edges, dtype=float)
    m_cyl = np.asarray(m_cyl, dtype=float)
    if edges.ndim != 1 or len(edges) != len(m_cyl) + 1 or edges[0] != 0 or np.any(np.diff(edges) <= 0):
        raise GalmassError("cylinder_to_sphere: need increasing edges from 0, one more than the masses")
    a = np.array([_sphere_in_cylinder(edges[1:], R) - _sphere_in_cylinder(edges[:-1], R) for R in edges[1:]])
    rho, res = nnls(a, m_cyl, maxiter=50 * len(m_cyl))
    shells = rho * 4 / 3 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    return np.cumsum(shells), float(res / np.linalg.norm(m_cyl))


def read_edge_dwarf(name: str, root: str | Path) -> Galaxy:
    """One EDGE dwarf (``halo600`` or ``halo383early``) from the directory ``root`` as a
    :class:`Galaxy`: its star particles about the files' origin (the profiles' centre) in their
    rest frame,
    and the deprojected total (stars + gas + dark matter) M(<r) as its mass profile."""
    if name not in EDGE_DWARFS:
        raise GalmassError(f"unknown EDGE dwarf {name!r}; known: {', '.join(EDGE_DWARFS)}")
    root = Path(root)
    try:
        stars = np.loadtxt(root / f"{name}_stars.dat")
        prof = np.loadtxt(root / f"{name}_profiles.dat", skiprows=1)
    except (OSError, ValueError) as exc:
        raise GalmassError(f"cannot read EDGE dwarf {name} in {root}: {exc}") from None
    x, v, m = stars[:, :3], stars[:, 3:6], stars[:, 6]
    # the files' origin is the profiles' centre (the cylinder masses match about it); a
    # shrinking-sphere centre of the stars lies 11-12 pc away, recorded for reference
    c = np.average(x, axis=0, weights=m)
    rad = float(np.max(np.linalg.norm(x - c, axis=1)))
    while rad > 0.2:
        sel = np.linalg.norm(x - c, axis=1) < rad
        if sel.sum() < 100:
            break
        c = np.average(x[sel], axis=0, weights=m[sel])
        rad *= 0.9
    v = v - np.average(v, axis=0, weights=m)  # the stars' momentum frame
    dr = prof[1, 0] - prof[0, 0]
    edges = np.concatenate([[0.0], prof[:, 0] + dr / 2])
    m3, resid = cylinder_to_sphere(edges, prof[:, 1] + prof[:, 2] + prof[:, 3])
    keep = m3 > 0
    profile = TabulatedMass(edges[1:][keep], np.maximum.accumulate(m3[keep]))
    meta = {"source": "EDGE", "name": name, "projection_axis": EDGE_DWARFS[name],
            "deprojection_residual": resid, "stars_centre_offset_kpc": c.tolist(), "stellar_mass": float(m.sum())}
    return Galaxy(name=name, suite="edge", star_pos=x, star_vel=v, star_mass=m, mass_profile=profile, meta=meta)
