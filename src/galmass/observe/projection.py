"""Line-of-sight projections of galaxies (Sect. 2.4 and 4.1 of the paper).

A projection is what an observer of a galaxy would measure: the sky positions ``x, y``
[kpc] and the line-of-sight velocities ``v_los`` [km/s] of a random sub-sample of its
stars, seen along a direction on the unit sphere. From the sub-sample we compute the
projected half-number radius ``R_h`` [kpc], the line-of-sight velocity dispersion
``sigma_los`` [km/s] and the velocity scale ``v_p98`` [km/s], and we attach the labels: the
true 3-D enclosed mass within ``f * R_h`` for ``f`` in :data:`galmass.constants.RADII_F`.

Conventions
-----------
* Positions are taken about the galaxy centre, i.e. the origin of ``Galaxy.star_pos``
  (galaxies are centred when they are built); they are *not* re-centred on the sub-sample.
* ``v_los = v . d`` is the velocity component along the unit line-of-sight vector ``d``
  (the rotated z velocity), with the mean of the sub-sample removed.
* The sky axes are fixed by :func:`rotation_to` (see there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from galmass.constants import RADII_F
from galmass.errors import GalmassError, UnmeasurableDispersion

if TYPE_CHECKING:  # only for annotations: the mock-galaxy machinery costs ~0.4 s to import
    from galmass.sources.galaxy import Galaxy

__all__ = [
    "Projection",
    "fibonacci_directions",
    "rotation_to",
    "subsample_size",
    "r_half_projected",
    "sigma_los",
    "v_p98",
    "project",
    "project_all",
    "DEFAULT_MIN_STARS",
]

#: Minimum number of star particles a galaxy must have to be projected (Sect. 2.4).
DEFAULT_MIN_STARS = 50

_GOLDEN_ANGLE = np.pi * (3.0 - np.sqrt(5.0))


# --------------------------------------------------------------------------- geometry
def fibonacci_directions(n: int) -> np.ndarray:
    """Unit vectors spread uniformly over the sphere on a Fibonacci lattice.

    Point ``i = 0 .. n-1`` has ``z_i = 1 - (2 i + 1) / n`` (equal-area bands in ``z``) and
    azimuth ``phi_i = i * pi (3 - sqrt 5)`` (the golden angle), so the set is deterministic,
    symmetric in ``z`` and, for ``n = 64``, has ``|mean| ~ 1.6e-3`` and a second-moment
    tensor within ``1e-3`` of ``I / 3``.

    Parameters
    ----------
    n : int
        Number of directions (the paper uses 64 lines of sight), ``n >= 1``.

    Returns
    -------
    ndarray, shape (n, 3)
        Unit vectors (dimensionless).
    """
    n = _as_count(n, "fibonacci_directions: n")
    i = np.arange(n, dtype=float)
    z = 1.0 - (2.0 * i + 1.0) / n
    rho = np.sqrt(np.clip(1.0 - z * z, 0.0, None))
    phi = i * _GOLDEN_ANGLE
    return np.stack([rho * np.cos(phi), rho * np.sin(phi), z], axis=1)


def rotation_to(direction: np.ndarray) -> np.ndarray:
    """Rotation matrix taking the line of sight ``direction`` onto the +z axis.

    The rows of the matrix are the sky axes ``(e_x, e_y, d)`` with ``d = direction / |direction|``:
    * ``e_x = z_hat x d / |z_hat x d|`` (the local "east" vector, i.e. the azimuthal unit
      vector of ``d`` in the galaxy frame), and
    * ``e_y = d x e_x`` (the local "north" vector: the projection of the galaxy's +z axis onto
      the sky), so that ``e_x x e_y = d`` and the matrix is a proper rotation (det = +1).

    When ``d`` is (within 1e-12) parallel to the z axis the azimuth is undefined and
    ``e_x`` is the normalised component of ``x_hat`` perpendicular to ``d`` instead; for
    ``d = +z_hat`` this gives the identity, for ``d = -z_hat`` ``diag(1, -1, -1)``.

    Parameters
    ----------
    direction : array_like, shape (3,)
        Line-of-sight vector (any non-zero length; dimensionless).

    Returns
    -------
    ndarray, shape (3, 3)
        Orthonormal matrix ``Rm`` with ``Rm @ d = (0, 0, 1)``; rotated coordinates are
        ``pos @ Rm.T`` so the projected sky positions are their first two columns and the
        line-of-sight velocity is the third column of ``vel @ Rm.T``.
    """
    d = _as_direction(direction)
    perp = np.hypot(d[0], d[1])
    if perp > 1e-12:
        e_x = np.array([-d[1], d[0], 0.0]) / perp
    else:
        e_x = np.array([1.0, 0.0, 0.0]) - d[0] * d
        e_x /= np.linalg.norm(e_x)
    e_y = np.cross(d, e_x)
    return np.stack([e_x, e_y, d])


# --------------------------------------------------------------------------- sub-sampling
def subsample_size(n_particles: int, n_min: int = 200, n_max: int = 10_000,
                   fraction: float = 1.0) -> int:
    """Number of stars drawn for one projection.

    The paper samples "between 200 and 1e4 [stars] depending on the total number of star
    particles; for galaxies with less than 200 star particles, we sample all of them",
    without giving the rule. We use::
        size = min(n_particles, clip(round(fraction * n_particles), n_min, n_max))

    With the default ``fraction = 1`` this is simply ``min(n_particles, n_max)``: every star
    up to 1e4, capped at 1e4 (and therefore all of them below 200). A ``fraction < 1`` makes
    the size grow more slowly with the number of particles, between ``n_min`` and ``n_max``.

    Parameters
    ----------
    n_particles : int
        Number of star particles in the galaxy (>= 1).
    n_min, n_max : int
        Bounds of the sample size for galaxies with enough particles (1 <= n_min <= n_max).
    fraction : float
        Fraction of the particles to draw before clipping, in (0, 1].

    Returns
    -------
    int
        Sample size, ``1 <= size <= n_particles``.
    """
    n_particles = _as_count(n_particles, "subsample_size: n_particles")
    n_min = _as_count(n_min, "subsample_size: n_min")
    n_max = _as_count(n_max, "subsample_size: n_max")
    if n_min > n_max:
        raise GalmassError(f"subsample_size: n_min ({n_min}) must not exceed n_max ({n_max})")
    if not (0.0 < fraction <= 1.0):
        raise GalmassError(f"subsample_size: fraction must be in (0, 1], got {fraction!r}")
    wanted = int(np.clip(round(fraction * n_particles), n_min, n_max))
    return min(n_particles, wanted)


# --------------------------------------------------------------------------- velocity errors
def correct_for_errors(sigma_obs: float, v_p98_obs: float, v_err: np.ndarray | None,
                       name: str = "catalogue") -> tuple[float, float]:
    """Intrinsic ``(sigma_los, v_p98)`` [km/s] from observed ones and per-star errors.

    ``sigma_los = sqrt(sigma_obs^2 - mean(v_err^2))`` and ``v_p98`` scaled by the same
    factor ``sigma_los / sigma_obs`` (exact for Gaussian velocities and Gaussian errors).
    Used identically when training on velocities with errors
    (:func:`galmass.dataset.project_galaxy`) and when predicting
    (:func:`galmass.predict.prepare_inputs`).

    Parameters
    ----------
    sigma_obs, v_p98_obs : float
        Observed dispersion and 98th percentile of ``|v - mean(v)|`` [km/s].
    v_err : ndarray or None
        1-sigma velocity errors of the same stars [km/s]; None: no correction.
    name : str
        Named in the error message.

    Raises
    ------
    UnmeasurableDispersion
        The errors account for all the observed dispersion.
    """
    if v_err is None:
        return float(sigma_obs), float(v_p98_obs)
    err2 = float(np.mean(np.asarray(v_err, dtype=float) ** 2))
    if not sigma_obs ** 2 > err2:
        raise UnmeasurableDispersion(f"{name}: the velocity errors (rms {np.sqrt(err2):.3g} km/s) account "
                                     f"for all the observed dispersion ({sigma_obs:.3g} km/s); the intrinsic "
                                     f"dispersion cannot be measured")
    sig = float(np.sqrt(sigma_obs ** 2 - err2))
    return sig, float(v_p98_obs) * sig / float(sigma_obs)


def draw_velocity_errors(n: int, rng: np.random.Generator, v_err_range: tuple[float, float],
                         scatter_dex: float = 0.2) -> np.ndarray:
    """Per-star 1-sigma velocity errors [km/s] like a spectroscopic survey's.

    The projection's typical error is uniform in ``v_err_range`` [km/s]; each star's error
    scatters about it log-normally by ``scatter_dex`` (brighter and fainter stars).
    """
    lo, hi = (float(v) for v in v_err_range)
    typical = rng.uniform(lo, hi)
    return typical * 10.0 ** rng.normal(0.0, scatter_dex, size=int(n))


def draw_sample_sizes(n_particles: int, n_los: int, rng: np.random.Generator,
                      n_sample_range: tuple[int, int], min_stars: int = 2) -> np.ndarray:
    """Star counts of ``n_los`` projections, log-uniform in ``n_sample_range`` (observational realism).

    Capped at the galaxy's ``n_particles`` and raised to ``min_stars``.
    """
    lo, hi = (float(v) for v in n_sample_range)
    sizes = np.rint(10.0 ** rng.uniform(np.log10(lo), np.log10(hi), size=int(n_los))).astype(int)
    return np.clip(sizes, min(int(min_stars), int(n_particles)), int(n_particles))


# --------------------------------------------------------------------------- summaries
def r_half_projected(x: np.ndarray, y: np.ndarray) -> float:
    """Projected half-number radius ``R_h`` [kpc] about the origin (the galaxy centre).

    All stars have the same weight (the paper's "half-light" radius is a half-stellar-number
    radius): ``R_h = median(sqrt(x^2 + y^2))``.

    Parameters
    ----------
    x, y : array_like, shape (N,)
        Sky positions [kpc].

    Returns
    -------
    float
        ``R_h`` [kpc].
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0:
        raise GalmassError(f"r_half_projected: x and y must be non-empty 1-D arrays of the same "
                           f"length, got shapes {x.shape} and {y.shape}")
    return float(np.median(np.hypot(x, y)))


def sigma_los(v: np.ndarray) -> float:
    """Line-of-sight velocity dispersion [km/s]: standard deviation (ddof=1) about the mean.

    Parameters
    ----------
    v : array_like, shape (N,)
        Line-of-sight velocities [km/s], N >= 2.

    Returns
    -------
    float
        ``sqrt(sum (v - mean(v))^2 / (N - 1))`` [km/s].
    """
    v = _as_velocities(v, "sigma_los")
    return float(np.std(v, ddof=1))


def v_p98(v: np.ndarray) -> float:
    """98th percentile of ``|v - mean(v)|`` [km/s].

    This is the velocity scale by which the paper maps ``v_los`` onto [-1, 1] for the
    second input map (Sect. 4.1): the 98th percentile of the absolute deviation from the
    mean (linear interpolation between order statistics, ``numpy.percentile`` default).
    For a Gaussian it equals ``2.326 sigma``.

    Parameters
    ----------
    v : array_like, shape (N,)
        Line-of-sight velocities [km/s], N >= 2.

    Returns
    -------
    float
        ``percentile(|v - mean(v)|, 98)`` [km/s].
    """
    v = _as_velocities(v, "v_p98")
    return float(np.percentile(np.abs(v - v.mean()), 98.0))


# --------------------------------------------------------------------------- record
@dataclass
class Projection:
    """One line-of-sight projection of a sub-sample of a galaxy's stars.

    Attributes
    ----------
    x, y : ndarray, shape (n,)
        Sky positions [kpc] about the galaxy centre.
    v_los : ndarray, shape (n,)
        Line-of-sight velocities [km/s] with the sub-sample mean removed.
    r_half : float
        Projected half-number radius ``R_h`` [kpc] of the sub-sample.
    sigma_los : float
        Line-of-sight velocity dispersion [km/s] of the sub-sample (ddof=1).
    v_p98 : float
        98th percentile of ``|v_los|`` [km/s] (see :func:`v_p98`).
    los_index : int
        Index of the line of sight among the galaxy's projections.
    direction : ndarray, shape (3,)
        Unit line-of-sight vector in the galaxy frame.
    log10_mass : ndarray, shape (10,)
        Labels: ``log10`` of the true 3-D enclosed mass [Msun] within ``radii_f * r_half``.
    radii_f : ndarray, shape (10,)
        Radii of the labels in units of ``r_half`` (:data:`galmass.constants.RADII_F`).
    galaxy_name : str
        Name of the projected galaxy.
    """

    x: np.ndarray
    y: np.ndarray
    v_los: np.ndarray
    r_half: float
    sigma_los: float
    v_p98: float
    los_index: int
    direction: np.ndarray
    log10_mass: np.ndarray
    radii_f: np.ndarray = field(default_factory=lambda: RADII_F.copy())
    galaxy_name: str = ""

    @property
    def n_stars(self) -> int:
        """Number of stars in the projection."""
        return int(len(self.v_los))

    @property
    def R(self) -> np.ndarray:
        """Projected radii ``sqrt(x^2 + y^2)`` [kpc]."""
        return np.hypot(self.x, self.y)

    @property
    def radii(self) -> np.ndarray:
        """Radii of the labels ``radii_f * r_half`` [kpc]."""
        return self.radii_f * self.r_half

    def __repr__(self) -> str:  # keep reprs short: arrays can be large
        return (f"Projection(galaxy_name={self.galaxy_name!r}, los_index={self.los_index}, "
                f"n_stars={self.n_stars}, r_half={self.r_half:.4g} kpc, "
                f"sigma_los={self.sigma_los:.4g} km/s, v_p98={self.v_p98:.4g} km/s)")


# --------------------------------------------------------------------------- projecting
def project(galaxy: Galaxy, direction: np.ndarray, rng: np.random.Generator,
            n_sample: int | None = None, los_index: int = 0,
            min_stars: int = DEFAULT_MIN_STARS) -> Projection:
    """Project a random sub-sample of a galaxy's stars along ``direction``.

    Parameters
    ----------
    galaxy : Galaxy
        The galaxy (positions [kpc] about its centre, velocities [km/s] in its rest frame).
    direction : array_like, shape (3,)
        Line of sight (normalised internally).
    rng : numpy.random.Generator
        Source of randomness for the sub-sample (drawn without replacement; no draw is
        made when the whole galaxy is used).
    n_sample : int, optional
        Sub-sample size; default :func:`subsample_size` of the galaxy's number of stars.
        Must satisfy ``min_stars <= n_sample <= galaxy.n_stars``.
    los_index : int
        Index stored in the record.
    min_stars : int
        Minimum number of star particles (the paper keeps galaxies with at least 50).

    Returns
    -------
    Projection

    Raises
    ------
    GalmassError
        Too few stars, NaN/infinite positions or velocities, zero velocity dispersion,
        zero half-number radius or a non-positive true enclosed mass at a label radius.
    """
    idx = _draw_indices(galaxy, rng, n_sample, min_stars)
    return _project_indices(galaxy, idx, direction, los_index)


def project_all(galaxy: Galaxy, n_los: int, rng: np.random.Generator,
                n_sample: int | None = None, min_stars: int = DEFAULT_MIN_STARS,
                resample: bool = True) -> list[Projection]:
    """Project a galaxy along ``n_los`` Fibonacci lines of sight (the paper uses 64).

    Parameters
    ----------
    galaxy : Galaxy
        The galaxy.
    n_los : int
        Number of lines of sight, :func:`fibonacci_directions` ``(n_los)``.
    rng : numpy.random.Generator
        Source of randomness for the sub-samples.
    n_sample : int, optional
        Sub-sample size (default :func:`subsample_size`).
    min_stars : int
        Minimum number of star particles.
    resample : bool
        If True (default) every projection gets its own random sub-sample (Sect. 4.1 computes
        the summaries "using only the stars in the sub-sample corresponding to the
        projection"); if False one sub-sample is drawn and projected along every line of sight.

    Returns
    -------
    list of Projection
        ``los_index`` runs over ``0 .. n_los - 1``.
    """
    n_los = _as_count(n_los, "project_all: n_los")
    directions = fibonacci_directions(n_los)
    if resample:
        return [project(galaxy, d, rng, n_sample=n_sample, los_index=i, min_stars=min_stars)
                for i, d in enumerate(directions)]
    idx = _draw_indices(galaxy, rng, n_sample, min_stars)
    return [_project_indices(galaxy, idx, d, i) for i, d in enumerate(directions)]


# --------------------------------------------------------------------------- internals
def _draw_indices(galaxy: Galaxy, rng: np.random.Generator, n_sample: int | None,
                  min_stars: int) -> np.ndarray:
    n = galaxy.n_stars
    if n < min_stars:
        raise GalmassError(f"galaxy {galaxy.name!r} has {n} star particles, fewer than the "
                           f"minimum of {min_stars} needed for a projection")
    size = subsample_size(n) if n_sample is None else _as_count(n_sample, "project: n_sample")
    if size > n:
        raise GalmassError(f"galaxy {galaxy.name!r}: n_sample={size} exceeds its {n} star particles")
    if size < max(min_stars, 2):
        raise GalmassError(f"galaxy {galaxy.name!r}: n_sample={size} is below the minimum of "
                           f"{max(min_stars, 2)} stars per projection")
    return subsample_indices(n, size, rng)


def subsample_indices(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of a random sub-sample of ``size`` of ``n`` stars, without replacement
    (all of them, in order, when ``size >= n``). Training projections and catalogues bigger
    than the largest training projection are sub-sampled by this one function."""
    if size >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, size=size, replace=False))


def _project_indices(galaxy: Galaxy, idx: np.ndarray, direction: np.ndarray,
                     los_index: int) -> Projection:
    rot = rotation_to(direction)
    pos = galaxy.star_pos[idx]
    vel = galaxy.star_vel[idx]
    if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(vel))):
        raise GalmassError(f"galaxy {galaxy.name!r}: star positions or velocities contain NaN "
                           f"or infinite values")
    xy = pos @ rot[:2].T
    x = np.ascontiguousarray(xy[:, 0])
    y = np.ascontiguousarray(xy[:, 1])
    v = vel @ rot[2]
    v = v - v.mean()
    sig = sigma_los(v)
    if not sig > 0:
        raise GalmassError(f"galaxy {galaxy.name!r}: zero line-of-sight velocity dispersion "
                           f"along line of sight {los_index}")
    r_half = r_half_projected(x, y)
    if not r_half > 0:
        raise GalmassError(f"galaxy {galaxy.name!r}: zero projected half-number radius along "
                           f"line of sight {los_index}")
    radii_f = RADII_F.copy()
    mass = np.asarray(galaxy.enclosed_mass(radii_f * r_half), dtype=float)
    if mass.shape != radii_f.shape or not np.all(np.isfinite(mass)) or np.any(mass <= 0):
        raise GalmassError(f"galaxy {galaxy.name!r}: true enclosed mass at {radii_f[0]}..."
                           f"{radii_f[-1]} R_h (R_h = {r_half:.4g} kpc) is not finite and "
                           f"positive: {mass}")
    return Projection(x=x, y=y, v_los=v, r_half=r_half, sigma_los=sig, v_p98=v_p98(v),
                      los_index=int(los_index), direction=rot[2].copy(),
                      log10_mass=np.log10(mass), radii_f=radii_f, galaxy_name=galaxy.name)


def _as_count(n: int, what: str) -> int:
    """Positive integer (integral floats such as ``1e4`` accepted), else GalmassError."""
    ok = (isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_))) or (
        isinstance(n, (float, np.floating)) and float(n).is_integer())
    if not ok or n < 1:
        raise GalmassError(f"{what} must be a positive integer, got {n!r}")
    return int(n)


def _as_direction(direction: np.ndarray) -> np.ndarray:
    d = np.asarray(direction, dtype=float)
    if d.shape != (3,) or not np.all(np.isfinite(d)):
        raise GalmassError(f"line-of-sight direction must be 3 finite numbers, got {direction!r}")
    norm = np.linalg.norm(d)
    if norm == 0:
        raise GalmassError("line-of-sight direction must be non-zero")
    return d / norm


def _as_velocities(v: np.ndarray, what: str) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    if v.ndim != 1 or v.size < 2:
        raise GalmassError(f"{what}: need a 1-D array of at least 2 velocities, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise GalmassError(f"{what}: velocities contain NaN or infinite values")
    return v
