"""Non-spherical, rotating mock galaxies in steady state (issue #18).

A spherical mock (halo + stars + their equilibrium DF, :mod:`galmass.sources.suites`) becomes
a flattened or triaxial, possibly rotating galaxy in four steps:

1. **Shapes.** The halo and the stellar mass get ellipsoidal potentials
   (:class:`~galmass.physics.potentials.EllipsoidalPotential`). Priors are on the *density*
   axis ratios (``b/a``, ``c/a``, as simulations report them); the potential is rounder,
   ``1 - q_Phi ~ (1 - q_rho) / 3``. A shape whose total density turns negative inside
   ``DENSITY_CHECK_RADIUS`` stellar half-mass radii is made rounder until it does not.
2. **Initial conditions.** The spherical sample is squeezed to the stars' axis ratios
   (keeping the area of the long-middle plane), each velocity component is scaled so that the tensor virial theorem holds
   axis by axis, ``<v_i^2> = <-x_i a_i>``, and for a fraction of the counter-rotating stars
   the azimuthal velocity about the short axis is reversed (net rotation; a symmetry of
   axisymmetric steady states, Lynden-Bell 1960).
3. **Phase mixing.** The orbits are integrated in the total potential for ``t_mix`` half-mass
   dynamical times and each star is read at its own random late step
   (:func:`~galmass.physics.orbits.phase_mix_ellipsoids`): whatever is left of the initial conditions'
   imbalance mixes away, so the sample is a steady state of the non-spherical potential.
4. **Orientation.** The galaxy is turned to a random orientation, so that the dataset's fixed
   lines of sight see it from random directions; the stored truth
   (:class:`~galmass.physics.potentials.NonSphericalMass`) carries the rotation.

``Galaxy.enclosed_mass(r)`` stays the total mass inside the 3-D sphere (Gauss's theorem).
Units: kpc, km/s, Msun; times in kpc / (km/s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from galmass.constants import G
from galmass.errors import GalmassError
from galmass.physics.orbits import phase_mix_ellipsoids
from galmass.physics.potentials import EllipsoidalPotential, NonSphericalMass
from galmass.sources.snapshots import kappa_co

__all__ = ["ShapePrior", "SPHERICAL", "shape_galaxy", "potential_axis_ratio", "axis_ratios",
           "rotation_support", "projected_ellipticity", "random_rotation"]

#: Shapes must keep a positive total density out to this many stellar half-mass radii.
DENSITY_CHECK_RADIUS = 20.0


@dataclass(frozen=True)
class ShapePrior:
    """Priors on a mock galaxy's shape and rotation (uniform in each range).

    Attributes
    ----------
    halo_c_over_a : (float, float)
        Dark-matter density axis ratio c/a.
    halo_triaxial : bool
        If True, b/a is uniform in [c/a, 1]; otherwise the halo is oblate (b/a = 1).
    stars_c_over_a : (float, float)
        Stellar density axis ratio c/a (the stars are squeezed to it before phase mixing).
    stars_c_over_a_power : float
        Skew of the stellar c/a draw: ``c/a = lo + (hi - lo) u**power``, u uniform in [0, 1]
        (1: uniform; > 1: more flattened galaxies, the range unchanged).
    stars_triaxial : bool
        As ``halo_triaxial``, for the stars.
    rotation : (float, float)
        Fraction of counter-rotating stars whose rotation about the short axis is reversed
        (0: no net rotation; 1: the most a non-rotating DF allows, v_rot/sigma ~ 0.8).
    t_mix : float
        Integration time in units of the stars' half-mass dynamical time
        ``r_half / v_c(r_half)``; stars are read in its second half.
    steps_per_t_half : int
        Leapfrog steps per dynamical time.
    """

    halo_c_over_a: tuple[float, float] = (1.0, 1.0)
    halo_triaxial: bool = False
    stars_c_over_a: tuple[float, float] = (1.0, 1.0)
    stars_triaxial: bool = False
    stars_c_over_a_power: float = 1.0
    rotation: tuple[float, float] = (0.0, 0.0)
    t_mix: float = 60.0
    steps_per_t_half: int = 40

    def __post_init__(self) -> None:
        for name in ("halo_c_over_a", "stars_c_over_a"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi <= 1:
                raise GalmassError(f"ShapePrior.{name} must satisfy 0 < lo <= hi <= 1, got {(lo, hi)}")
        lo, hi = self.rotation
        if not 0 <= lo <= hi <= 1:
            raise GalmassError(f"ShapePrior.rotation must satisfy 0 <= lo <= hi <= 1, got {(lo, hi)}")
        if not (np.isfinite(self.stars_c_over_a_power) and self.stars_c_over_a_power > 0):
            raise GalmassError(f"ShapePrior.stars_c_over_a_power must be > 0, got {self.stars_c_over_a_power}")
        if not (self.t_mix > 0 and self.steps_per_t_half >= 4):
            raise GalmassError("ShapePrior: need t_mix > 0 and steps_per_t_half >= 4")

    @property
    def spherical(self) -> bool:
        """True when nothing is drawn: the galaxy stays the spherical DF's sample."""
        return (self.halo_c_over_a == (1.0, 1.0) and self.stars_c_over_a == (1.0, 1.0)
                and self.rotation == (0.0, 0.0))


#: Today's spherical, non-rotating mocks.
SPHERICAL = ShapePrior()


def potential_axis_ratio(density_axis_ratio: float) -> float:
    """Equipotential axis ratio giving roughly the density axis ratio ``q_rho``:
    ``q_Phi = 1 - (1 - q_rho) / 3`` (mildly flattened ellipsoidal potentials)."""
    return 1.0 - (1.0 - float(density_axis_ratio)) / 3.0


def _draw_axes(c_range: tuple[float, float], triaxial: bool, rng: np.random.Generator,
               power: float = 1.0) -> tuple[float, float]:
    """``(b/a, c/a)``: ``c/a = lo + (hi - lo) u**power`` (u uniform), ``b/a`` uniform in [c/a, 1] if triaxial, else 1."""
    lo, hi = c_range
    c = float(lo + (hi - lo) * rng.uniform() ** power)
    b = float(rng.uniform(c, 1.0)) if triaxial else 1.0
    return b, c


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random proper rotation matrix (3, 3) (QR of a Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))[None, :]
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _principal_moments(x: np.ndarray, r_max: float | None, n_iter: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Axis ratios (D,) (1 first) and principal axes (D, D) as columns, longest first, of points
    (N, D) from their second moments inside an ellipsoid of the measured shape and the volume
    of a sphere of radius ``r_max`` (iterated); all points, once, if ``r_max`` is None."""
    ratios, vec = np.ones(x.shape[1]), np.eye(x.shape[1])
    for _ in range(int(n_iter) if r_max is not None else 1):
        sel = x
        if r_max is not None:
            m = np.sqrt(np.sum((x @ vec / ratios) ** 2, axis=1)) * np.prod(ratios) ** (1 / x.shape[1])
            sel = x[m < r_max]
        if len(sel) < 10:
            break
        lam, vec = np.linalg.eigh(sel.T @ sel / len(sel))
        lam, vec = lam[::-1], vec[:, ::-1]
        ratios = np.sqrt(np.maximum(lam, 0.0) / lam[0])
    return ratios, vec


def axis_ratios(pos: np.ndarray, r_max: float | None = None) -> tuple[float, float, np.ndarray]:
    """Axis ratios ``b/a``, ``c/a`` of a star distribution (N, 3) [kpc] and its principal axes
    (3, 3) as columns, longest first, from the second moments of the stars inside an ellipsoid
    of the measured shape and volume ``4/3 pi r_max^3`` (iterated; all stars if ``r_max`` is
    None). The aperture keeps a few distant stars of a heavy-tailed profile from deciding."""
    ratios, vec = _principal_moments(np.asarray(pos, dtype=float), r_max)
    return float(ratios[1]), float(ratios[2]), vec


def projected_ellipticity(x: np.ndarray, y: np.ndarray, r_max: float | None = None) -> float:
    """``1 - b/a`` of projected positions [kpc] from their 2-D second moments inside an
    ellipse of the measured shape and area ``pi r_max^2`` (iterated; default ``r_max``: twice
    the half-number radius about the origin)."""
    xy = np.stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)], axis=1)
    if r_max is None:
        r_max = 2.0 * float(np.median(np.hypot(xy[:, 0], xy[:, 1])))
    ratios, _ = _principal_moments(xy, r_max)
    return 1.0 - float(ratios[1])


def rotation_support(pos: np.ndarray, vel: np.ndarray, axis: np.ndarray, r_max: float) -> float:
    """``v_rot / sigma`` of stars within ``r_max`` [kpc]: mean azimuthal velocity about ``axis``
    over the 1-D dispersion left after removing it (3-D, edge-on)."""
    k = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    x, v = np.asarray(pos, dtype=float), np.asarray(vel, dtype=float)
    sel = np.linalg.norm(x, axis=1) < r_max
    x, v = x[sel], v[sel]
    e_phi = np.cross(k, x)
    norm = np.linalg.norm(e_phi, axis=1)
    ok = norm > 0
    e_phi = e_phi[ok] / norm[ok, None]
    v = v[ok]
    v_phi = np.sum(v * e_phi, axis=1)
    v_rot = float(np.mean(v_phi))
    resid = v - v_rot * e_phi - v.mean(axis=0)
    sigma = float(np.sqrt(np.mean(np.sum(resid**2, axis=1)) / 3.0))
    return v_rot / sigma


def _reverse_rotation(pos: np.ndarray, vel: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Reverse the azimuthal velocity about z of ``fraction`` of the stars with L_z < 0."""
    R2 = pos[:, 0] ** 2 + pos[:, 1] ** 2
    lz = pos[:, 0] * vel[:, 1] - pos[:, 1] * vel[:, 0]
    flip = (lz < 0) & (rng.uniform(size=len(pos)) < fraction) & (R2 > 0)
    v = vel.copy()
    v_phi = lz[flip] / np.sqrt(R2[flip])
    e_phi = np.stack([-pos[flip, 1], pos[flip, 0]], axis=1) / np.sqrt(R2[flip])[:, None]
    v[flip, :2] -= 2.0 * v_phi[:, None] * e_phi
    return v


def shape_galaxy(pos: np.ndarray, vel: np.ndarray, halo, stars, r_half: float, prior: ShapePrior,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, NonSphericalMass, dict[str, Any]]:
    """Turn a spherical sample into a non-spherical, rotating steady state (module docstring).

    Parameters
    ----------
    pos, vel : ndarray (N, 3)
        Stars drawn from the spherical model [kpc, km/s].
    halo, stars : MassProfile
        The spherical dark-matter and stellar mass profiles.
    r_half : float
        3-D stellar half-mass radius [kpc].
    prior : ShapePrior
        What to draw.
    rng : numpy.random.Generator
        The galaxy's generator.

    Returns
    -------
    pos, vel : ndarray (N, 3)
        Phase-mixed stars in the galaxy frame [kpc, km/s].
    mass : NonSphericalMass
        The true total mass (halo + stars), oriented like the stars.
    meta : dict
        Drawn and measured shape parameters.
    """
    b_h, c_h = _draw_axes(prior.halo_c_over_a, prior.halo_triaxial, rng)
    b_s, c_s = _draw_axes(prior.stars_c_over_a, prior.stars_triaxial, rng, prior.stars_c_over_a_power)
    flip = float(rng.uniform(*prior.rotation))
    pq = [potential_axis_ratio(v) for v in (b_h, c_h, b_s, c_s)]
    radii = np.geomspace(0.05, DENSITY_CHECK_RADIUS, 12) * r_half
    for rounding in range(8):  # make the shape rounder until its density is positive
        body = NonSphericalMass([EllipsoidalPotential(halo, pq[0], pq[1]), EllipsoidalPotential(stars, pq[2], pq[3])])
        if body.min_density_ratio(radii) >= 0:
            break
        pq = [1.0 - 0.5 * (1.0 - v) for v in pq]
    else:  # pragma: no cover - eight halvings make any shape nearly spherical
        raise GalmassError("shape_galaxy: no shape with a positive density")

    # initial conditions: squeeze to the stellar axis ratios (keeping the area of the a-b
    # plane, so the face-on half-light radius), virialise axis by axis, rotate
    squeeze = np.array([1.0, b_s, c_s]) / np.sqrt(b_s)
    x = np.asarray(pos, dtype=float) * squeeze
    v = np.asarray(vel, dtype=float).copy()
    acc = body.fast_acceleration(1e-4 * r_half, 1e4 * r_half)
    need = np.mean(-x * acc(x), axis=0)
    have = np.mean(v**2, axis=0)
    v *= np.sqrt(np.maximum(need, 0.0) / np.maximum(have, 1e-300))
    if flip > 0:
        v = _reverse_rotation(x, v, flip, rng)

    v_c = float(np.sqrt(G * (halo.enclosed_mass(np.array(r_half)) + stars.enclosed_mass(np.array(r_half))) / r_half))
    t_half = r_half / v_c
    n_steps = int(round(prior.t_mix * prior.steps_per_t_half))
    e0 = body.potential(x) + 0.5 * np.sum(v**2, axis=1)
    x, v, _ = phase_mix_ellipsoids(x, v, acc, t_half / prior.steps_per_t_half, n_steps, rng)
    e1 = body.potential(x) + 0.5 * np.sum(v**2, axis=1)

    ba, ca, _ = axis_ratios(x, 2 * r_half)
    vrot = rotation_support(x, v, np.array([0.0, 0.0, 1.0]), 2 * r_half)
    R = random_rotation(rng)
    mass = NonSphericalMass(body.components, orientation=R)
    meta = {
        "halo_b_over_a": b_h, "halo_c_over_a": c_h, "stars_b_over_a_drawn": b_s, "stars_c_over_a_drawn": c_s,
        "potential_axis_ratios": [float(v_) for v_ in pq], "shape_roundings": int(rounding),
        "stars_b_over_a": ba, "stars_c_over_a": ca, "rotation_flip_fraction": flip,
        "v_rot_over_sigma": vrot, "kappa_co": kappa_co(x, v, np.ones(len(x)), 10 * r_half),
        "t_half": t_half, "t_mix": float(prior.t_mix), "n_steps": n_steps,
        "energy_error_median": float(np.median(np.abs(e1 - e0) / np.abs(e0))),
        "orientation": R.tolist(),
    }
    # body -> galaxy frame: x_gal = R x_body (so that x_gal @ R = x_body)
    return x @ R.T, v @ R.T, mass, meta
