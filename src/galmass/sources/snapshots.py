"""Galaxies from simulation snapshots, read through pynbody (Sect. 2.4 of the paper).

:func:`read_snapshot` turns the halos of a snapshot into :class:`~galmass.sources.galaxy.Galaxy`
records and applies the paper's selection; :func:`kappa_co` is the Correa et al. (2017)
rotation parameter of eq. (1). :func:`galmass.sources.tipsy.write_tipsy` writes particles to a
tipsy file that pynbody reads back in physical units (for tests, demos and users with their own mocks).

Conventions (all quantities physical: kpc, km/s, Msun)
------------------------------------------------------
* **Halos.** ``halo_catalogue=None`` lets pynbody pick the catalogue (its own priority list);
  a class or class name uses exactly that catalogue class; a list is passed to pynbody as the
  priority; ``"none"`` treats the whole file as one halo, numbered 0 (for isolated galaxies
  and mocks). Without ``halo_numbers`` every halo with a number >= 0 is tried: negative
  numbers are skipped because grp-style catalogues use them for "in no halo".
* **Stars.** The halo's star-family particles, minus those flagged as not being stars:
  ``aform <= 0`` (Arepo/Gadget ``GFM_StellarFormationTime``: wind particles) or, when the file
  holds no ``aform``, ``tform < 0`` (tipsy/ChaNGa black holes). Flagged particles are dropped
  from the stars but their mass stays in the truth: they gravitate.
* **Centre.** Shrinking sphere (Power et al. 2003) with pynbody's
  :func:`pynbody.analysis.halo.shrink_sphere_center` (shrink factor 0.7) on the halo's stars
  when it has at least ``32`` of them (``min_particles = min(100, N_star // 2)``), otherwise
  on all the halo's particles (``min_particles = 100``, pynbody's default). Observers centre
  a dwarf on its stars, and the truth is measured about the same centre. Positions are
  unwrapped across periodic boundaries first; the snapshot itself is never moved.
* **Rest frame.** Mass-weighted mean velocity of the stars within ``max(1 kpc, r_10)`` of the
  centre, ``r_10`` being the distance of the 10th-nearest star (pynbody's ``vel_center`` uses
  the stars within 1 kpc; the ``r_10`` floor keeps sparsely sampled dwarfs usable).
  Velocities are peculiar velocities: no Hubble flow is added.
* **r200, m200.** The radius within which the mean density of *all* particles of the snapshot
  (every family, any halo) equals ``overdensity`` (default 200) times the critical density at
  the snapshot's redshift; computed exactly from the sorted particles, taking the outermost
  crossing. Files without cosmology (e.g. isolated tipsy runs) use the paper's Planck 2014
  parameters at z = 0 and record ``cosmology_assumed=True``.
* **Truth.** ``ParticleMass`` of every particle of the snapshot within r200 of the centre
  (dark matter, gas, stars, black holes, winds; whatever the halo finder assigned them to), so
  ``enclosed_mass(r)`` is the exact particle mass within ``r`` for ``r <= r200`` and stays at
  m200 beyond.
* **Selection** (each rejection is logged at INFO level, one line with the reason): stars are
  the halo's stars within r200; ``min_stellar_mass <= M* <= max_stellar_mass``;
  ``N* >= min_star_particles``; high-resolution fraction ``>= min_highres_fraction`` (mass
  fraction of the dark matter within r200 in particles of the snapshot's smallest dark-matter
  particle mass; 1 when all dark-matter particles weigh the same; 0 disables the cut);
  ``kappa_co < max_kappa_co``.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from galmass.constants import G
from galmass.errors import GalmassError
from galmass.physics.profiles import ParticleMass
from galmass.sources.galaxy import Galaxy

__all__ = ["read_snapshot", "kappa_co"]

logger = logging.getLogger(__name__)

#: Cosmology assumed for snapshots that carry none (the paper's NIHAO values, Sect. 2.1).
PLANCK14 = {"h": 0.671, "omegaM0": 0.3175, "omegaL0": 0.6824}

_STELLAR_CENTRE_MIN_STARS = 32
_SSC_MIN_PARTICLES = 100
_VEL_CENTRE_RADIUS = 1.0      # kpc, pynbody's default cen_size
_VEL_CENTRE_MIN_STARS = 10


# --------------------------------------------------------------------------- kappa_co
def kappa_co(pos: np.ndarray, vel: np.ndarray, mass: np.ndarray, r_max: float = 30.0) -> float:
    """Fraction of the stellar kinetic energy in co-rotation (Correa et al. 2017; eq. 1).

    ``kappa_co = (1/K) sum_{r < r_max, j_z > 0} (m/2) (j_z / R_perp)^2`` with ``K`` the total
    kinetic energy of the stars within ``r_max``, ``z`` the direction of their total angular
    momentum and ``R_perp`` the distance from that axis. Pure circular co-rotation gives 1, an
    isotropic velocity distribution about 1/6.

    Parameters
    ----------
    pos : ndarray, shape (N, 3)
        Star positions [kpc] relative to the galaxy centre.
    vel : ndarray, shape (N, 3)
        Star velocities [km/s] in the galaxy's rest frame.
    mass : ndarray, shape (N,)
        Star masses [Msun].
    r_max : float
        Aperture [kpc]; only stars with ``r < r_max`` count.

    Returns
    -------
    float
        kappa_co, in [0, 1].
    """
    pos, vel, mass = (np.asarray(a, dtype=float) for a in (pos, vel, mass))
    if pos.ndim != 2 or pos.shape[1:] != (3,) or vel.shape != pos.shape or mass.shape != pos.shape[:1]:
        raise GalmassError(f"kappa_co: need pos, vel of shape (N, 3) and mass of shape (N,), got "
                           f"{pos.shape}, {vel.shape}, {mass.shape}")
    inside = np.einsum("ij,ij->i", pos, pos) < r_max**2
    pos, vel, mass = pos[inside], vel[inside], mass[inside]
    kinetic = 0.5 * np.sum(mass * np.einsum("ij,ij->i", vel, vel))
    if not len(mass) or kinetic <= 0:
        raise GalmassError(f"kappa_co: no moving star particles within r_max = {r_max} kpc")
    j = np.cross(pos, vel)
    axis = np.sum(mass[:, None] * j, axis=0)
    axis /= np.linalg.norm(axis)
    jz = j @ axis
    r_perp2 = np.einsum("ij,ij->i", pos, pos) - (pos @ axis) ** 2
    co = (jz > 0) & (r_perp2 > 0)
    return float(np.sum(0.5 * mass[co] * jz[co] ** 2 / r_perp2[co]) / kinetic)


# --------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class _Cuts:
    """Selection thresholds of :func:`read_snapshot` (see there for units)."""

    min_stellar_mass: float
    max_stellar_mass: float
    min_star_particles: int
    min_highres_fraction: float
    max_kappa_co: float
    overdensity: float

    def as_dict(self) -> dict[str, float]:
        return {k: (int(v) if k == "min_star_particles" else float(v)) for k, v in vars(self).items()}


@dataclass
class _Snap:
    """A loaded snapshot with its all-particle arrays (physical units) and cosmology."""

    sim: Any
    path: str
    pos: np.ndarray          # (N, 3) kpc, every particle
    mass: np.ndarray         # (N,) Msun
    is_dm: np.ndarray        # (N,) bool
    boxsize: float | None    # kpc, None for non-periodic files
    redshift: float
    rho_crit: float          # Msun / kpc^3 at redshift
    cosmology_assumed: bool
    catalogue_name: str


def read_snapshot(path: str | Path, *, halo_numbers: Iterable[int] | None = None,
                  min_stellar_mass: float = 10**5.5, max_stellar_mass: float = 1e11,
                  min_star_particles: int = 50, min_highres_fraction: float = 0.95,
                  max_kappa_co: float = 0.5, halo_catalogue: Any = None, suite: str = "snapshot",
                  progress: bool = True, overdensity: float = 200.0) -> list[Galaxy]:
    """Read the selected galaxies of a simulation snapshot (conventions: module docstring).

    Parameters
    ----------
    path : str or Path
        Snapshot readable by ``pynbody.load`` (tipsy, Gadget/Arepo HDF5, ...).
    halo_numbers : iterable of int, optional
        Halos to read; default all halos with number >= 0. A requested halo without star
        particles is an error; otherwise rejected halos are only logged.
    min_stellar_mass, max_stellar_mass : float
        Stellar-mass range [Msun] of the stars within r200.
    min_star_particles : int
        Minimum number of star particles within r200.
    min_highres_fraction : float
        Minimum high-resolution mass fraction of the dark matter within r200 (in [0, 1]).
    max_kappa_co : float
        Keep galaxies with ``kappa_co < max_kappa_co`` (dispersion-supported: 0.5).
    halo_catalogue : None, str, pynbody HaloCatalogue subclass or list
        None: pynbody's default priority; a class or class name: exactly that class; a list:
        pynbody priority list; ``"none"``: the whole file is halo 0.
    suite : str
        Suite name given to the galaxies.
    progress : bool
        Show a tqdm progress bar over halos.
    overdensity : float
        Mean enclosed density defining r200, in units of the critical density.

    Returns
    -------
    list of Galaxy
        Named ``f"{file name}_h{halo number}"``; ``meta`` holds the provenance, r200 [kpc],
        m200 [Msun], stellar mass, particle counts, high-resolution fraction, kappa_co, centre
        [kpc, snapshot frame], redshift and the thresholds used.
    """
    cuts = _check_cuts(min_stellar_mass, max_stellar_mass, min_star_particles,
                       min_highres_fraction, max_kappa_co, overdensity)
    sim = _load(path)
    catalogue = _halo_catalogue(sim, path, halo_catalogue)
    snap = _snap_arrays(sim, path, catalogue)
    numbers, requested = _halo_list(catalogue, halo_numbers, path)
    galaxies = []
    for number in tqdm(numbers, desc=Path(path).name, unit="halo", disable=not progress):
        halo = sim if catalogue is None else catalogue[number]
        galaxy = _galaxy_from_halo(snap, halo, number, cuts, suite, requested)
        if galaxy is not None:
            galaxies.append(galaxy)
    return galaxies


def _check_cuts(min_mstar, max_mstar, min_nstar, min_hires, max_kappa, overdensity) -> _Cuts:
    values = {"min_stellar_mass": min_mstar, "max_stellar_mass": max_mstar,
              "min_star_particles": min_nstar, "min_highres_fraction": min_hires,
              "max_kappa_co": max_kappa, "overdensity": overdensity}
    for name, val in values.items():
        try:
            ok = math.isfinite(float(val)) and float(val) >= 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise GalmassError(f"read_snapshot: {name} must be a finite number >= 0, got {val!r}")
    if min_hires > 1:
        raise GalmassError(f"read_snapshot: min_highres_fraction must be in [0, 1], got {min_hires!r}")
    if min_mstar > max_mstar:
        raise GalmassError(f"read_snapshot: min_stellar_mass {min_mstar:g} > max_stellar_mass {max_mstar:g}")
    if overdensity == 0 or int(min_nstar) != min_nstar:
        raise GalmassError("read_snapshot: overdensity must be > 0 and min_star_particles an integer")
    return _Cuts(float(min_mstar), float(max_mstar), int(min_nstar), float(min_hires),
                 float(max_kappa), float(overdensity))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _load(path: str | Path) -> Any:
    """``pynbody.load`` + ``physical_units``; pynbody's warnings are re-logged one line each."""
    import pynbody

    p = Path(path)
    if not p.exists() and not any(p.parent.glob(p.name + "*")):
        raise GalmassError(f"cannot read snapshot {path}: no such file")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sim = pynbody.load(str(p))
            sim.physical_units()
    except Exception as exc:  # pynbody raises many types for unreadable files
        raise GalmassError(f"cannot read snapshot {path}: {_one_line(exc)}") from exc
    for w in caught:
        logger.warning("%s: pynbody: %s", p.name, str(w.message).splitlines()[0])
    return sim


def _halo_catalogue(sim: Any, path: str | Path, choice: Any) -> Any:
    """The halo catalogue asked for (None for ``"none"``: the whole file is one halo)."""
    if isinstance(choice, str) and choice.lower() == "none":
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if choice is None:
                return sim.halos()
            if isinstance(choice, (list, tuple)):
                return sim.halos(priority=list(choice))
            return _catalogue_class(choice)(sim)
    except GalmassError:
        raise
    except RuntimeError as exc:
        if "No halo catalogue found" in str(exc):
            raise GalmassError(f"no halo catalogue found for snapshot {path} (pass halo_catalogue="
                               f"'none' to treat the whole file as one halo)") from exc
        raise GalmassError(f"cannot read the halo catalogue of {path}: {_one_line(exc)}") from exc
    except Exception as exc:
        name = getattr(choice, "__name__", choice) if choice is not None else "pynbody default"
        raise GalmassError(f"cannot read the halo catalogue ({name}) of {path}: {_one_line(exc)}") from exc


def _catalogue_class(choice: Any) -> type:
    from pynbody.halo import HaloCatalogue, _fix_american_spelling

    if isinstance(choice, type) and issubclass(choice, HaloCatalogue):
        return choice
    classes = {c.__name__: c for c in HaloCatalogue.iter_subclasses()}
    name = _fix_american_spelling(str(choice))
    if name not in classes:
        raise GalmassError(f"unknown halo catalogue {choice!r}; known: {sorted(classes)} or 'none'")
    return classes[name]


def _halo_list(catalogue: Any, halo_numbers: Iterable[int] | None, path) -> tuple[list[int], bool]:
    """Halo numbers to process and whether they were requested explicitly."""
    available = [0] if catalogue is None else [int(k) for k in catalogue.keys()]
    if halo_numbers is None:
        return [n for n in available if n >= 0], False
    numbers = [int(n) for n in np.atleast_1d(np.asarray(list(halo_numbers)))]
    missing = sorted(set(numbers) - set(available))
    if missing:
        where = "the whole-file halo is number 0" if catalogue is None else "the halo catalogue"
        raise GalmassError(f"halo {missing[0]} not in {where} of {path}")
    return numbers, True


def _snap_arrays(sim: Any, path, catalogue: Any) -> _Snap:
    """All-particle arrays in kpc / Msun, the box size and the critical density."""
    try:
        pos = np.asarray(sim["pos"].in_units("kpc"), dtype=float)
        mass = np.asarray(sim["mass"].in_units("Msol"), dtype=float)
        is_dm = np.zeros(len(sim), dtype=bool)
        is_dm[sim.dm.get_index_list(sim)] = True
    except Exception as exc:
        raise GalmassError(f"cannot read snapshot {path}: {_one_line(exc)}") from exc
    box = sim.properties.get("boxsize")
    if box is not None and not isinstance(box, (int, float)):
        box = float(box.in_units("kpc", **sim.conversion_context()))
    z, rho_c, assumed = _cosmology(sim)
    name = "none" if catalogue is None else type(catalogue).__name__
    return _Snap(sim, str(path), pos, mass, is_dm, box, z, rho_c, assumed, name)


def _rho_crit(h: float, omega_m: float, omega_l: float, z: float) -> float:
    """Critical density [Msun/kpc^3] at redshift ``z`` (curvature from omega_m + omega_l)."""
    e2 = omega_m * (1 + z) ** 3 + (1 - omega_m - omega_l) * (1 + z) ** 2 + omega_l
    return 3 * (0.1 * h) ** 2 * e2 / (8 * np.pi * G)


def _cosmology(sim: Any) -> tuple[float, float, bool]:
    """(redshift, critical density [Msun/kpc^3], assumed?) of a snapshot."""
    props = sim.properties
    z = props.get("z")
    if z is None and props.get("a"):
        z = 1.0 / float(props["a"]) - 1.0
    params = [props.get(k) for k in ("h", "omegaM0", "omegaL0")]
    if z is not None and all(p is not None for p in params):
        return float(z), _rho_crit(*(float(p) for p in params), float(z)), False
    z = 0.0 if z is None else float(z)
    logger.info("snapshot has no cosmology: assuming Planck 2014 (h=0.671) at z=%g for r200", z)
    return z, _rho_crit(PLANCK14["h"], PLANCK14["omegaM0"], PLANCK14["omegaL0"], z), True


def _relative(pos: np.ndarray, centre: np.ndarray, box: float | None) -> np.ndarray:
    """``pos - centre`` [kpc] with the minimum-image convention in a periodic box."""
    d = np.asarray(pos, dtype=float) - centre
    if box:
        d = (d + 0.5 * box) % box - 0.5 * box
    return d


def _star_arrays(halo: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Positions [kpc], velocities [km/s], masses [Msun] of real stars; number of flagged ones."""
    stars = halo.star
    if len(stars) == 0:
        return np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0), 0
    keys = set(stars.loadable_keys()) | set(stars.keys())
    keep = np.ones(len(stars), dtype=bool)
    if "aform" in keys:       # Arepo/Gadget: wind particles have GFM_StellarFormationTime <= 0
        keep = np.asarray(stars["aform"]) > 0
    elif "tform" in keys:     # tipsy/ChaNGa: black holes are star particles with tform < 0
        keep = ~(np.asarray(stars["tform"]) < 0)
    pos = np.asarray(stars["pos"].in_units("kpc"), dtype=float)[keep]
    vel = np.asarray(stars["vel"].in_units("km s**-1"), dtype=float)[keep]
    mass = np.asarray(stars["mass"].in_units("Msol"), dtype=float)[keep]
    return pos, vel, mass, int(np.count_nonzero(~keep))


def _ssc(pos: np.ndarray, mass: np.ndarray, min_particles: int) -> np.ndarray:
    """pynbody's shrinking-sphere centre [kpc] of (already unwrapped) particles."""
    import pynbody
    from pynbody.analysis.halo import shrink_sphere_center

    tmp = pynbody.new(dm=len(mass))
    tmp["pos"] = pos
    tmp["mass"] = mass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(shrink_sphere_center(tmp, min_particles=max(int(min_particles), 1)), dtype=float)


def _centre(halo: Any, star_pos, star_vel, star_mass, box) -> tuple[np.ndarray, np.ndarray, str]:
    """Position [kpc] and velocity [km/s] centres, and which particles set the position."""
    if len(star_mass) >= _STELLAR_CENTRE_MIN_STARS:
        pos, mass, on = star_pos, star_mass, "stars"
        min_particles = min(_SSC_MIN_PARTICLES, len(star_mass) // 2)
    else:
        pos = np.asarray(halo["pos"].in_units("kpc"), dtype=float)
        mass = np.asarray(halo["mass"].in_units("Msol"), dtype=float)
        on, min_particles = "halo", _SSC_MIN_PARTICLES
    ref = np.median(pos, axis=0)
    centre = _ssc(ref + _relative(pos, ref, box), mass, min_particles)
    r = np.linalg.norm(_relative(star_pos, centre, box), axis=1)
    k = min(_VEL_CENTRE_MIN_STARS, len(r)) - 1
    near = r <= max(_VEL_CENTRE_RADIUS, np.partition(r, k)[k])
    vcen = np.average(star_vel[near], axis=0, weights=star_mass[near])
    return centre, vcen, on


def _overdensity_radius(r: np.ndarray, m: np.ndarray, target: float) -> tuple[float, float] | None:
    """Outermost radius [kpc] where the mean enclosed density falls to ``target``, and its mass.

    Between particles the mean density decreases as r^-3, so with ``k`` the outermost particle
    at which it is still >= target, the crossing is at ``(3 M_k / (4 pi target))^(1/3)``.
    """
    order = np.argsort(r, kind="stable")
    cum = np.cumsum(m[order])
    with np.errstate(divide="ignore"):
        rho = cum / (4.0 / 3.0 * np.pi * r[order] ** 3)
    above = np.flatnonzero(rho >= target)
    if not len(above):
        return None
    m_delta = float(cum[above[-1]])
    return float((3 * m_delta / (4 * np.pi * target)) ** (1.0 / 3.0)), m_delta


def _highres_fraction(snap: _Snap, inside: np.ndarray) -> float:
    """Mass fraction of the dark matter in ``inside`` that has the smallest DM particle mass."""
    dm_mass = snap.mass[snap.is_dm]
    if not len(dm_mass) or dm_mass.max() <= dm_mass.min() * (1 + 1e-6):
        return 1.0
    m_in = snap.mass[inside & snap.is_dm]
    if not len(m_in):
        return 1.0
    return float(m_in[m_in <= dm_mass.min() * (1 + 1e-6)].sum() / m_in.sum())


def _reject(name: str, reason: str) -> None:
    logger.info("%s rejected: %s", name, reason)


def _galaxy_from_halo(snap: _Snap, halo: Any, number: int, cuts: _Cuts, suite: str,
                      requested: bool) -> Galaxy | None:
    """The selected galaxy of one halo, or None (logged) if the selection rejects it."""
    name = f"{Path(snap.path).name}_h{number}"
    s_pos, s_vel, s_mass, n_flagged = _star_arrays(halo)
    if not len(s_mass):
        if requested:
            raise GalmassError(f"halo {number} has no star particles")
        return _reject(name, "no star particles")
    if len(s_mass) < cuts.min_star_particles or s_mass.sum() < cuts.min_stellar_mass:
        return _reject(name, f"{len(s_mass)} star particles, M* = {s_mass.sum():.3g} Msun in the whole "
                             f"halo (need >= {cuts.min_star_particles}, >= {cuts.min_stellar_mass:.3g})")
    centre, vcen, centred_on = _centre(halo, s_pos, s_vel, s_mass, snap.boxsize)
    r_all = np.linalg.norm(_relative(snap.pos, centre, snap.boxsize), axis=1)
    found = _overdensity_radius(r_all, snap.mass, cuts.overdensity * snap.rho_crit)
    if found is None:
        return _reject(name, f"mean density never reaches {cuts.overdensity:g} rho_crit")
    r200, m200 = found
    s_rel = _relative(s_pos, centre, snap.boxsize)
    keep = np.linalg.norm(s_rel, axis=1) <= r200
    s_rel, s_vel, s_mass = s_rel[keep], s_vel[keep] - vcen, s_mass[keep]
    inside = r_all <= r200
    stats = {"n_star_particles": int(len(s_mass)), "stellar_mass": float(s_mass.sum()),
             "highres_fraction": _highres_fraction(snap, inside),
             "kappa_co": _kappa_or_nan(s_rel, s_vel, s_mass)}
    reason = _selection_failure(stats, cuts)
    if reason:
        return _reject(name, reason)
    meta = {"snapshot": snap.path, "halo_number": int(number), "halo_catalogue": snap.catalogue_name,
            "r200": r200, "m200": m200, "overdensity": cuts.overdensity, **stats,
            "n_flagged_star_particles": n_flagged, "centre": centre.tolist(),
            "velocity_centre": vcen.tolist(), "centred_on": centred_on,
            "redshift": snap.redshift, "rho_crit": snap.rho_crit,
            "cosmology_assumed": snap.cosmology_assumed, "selection": cuts.as_dict()}
    return Galaxy(name=name, suite=suite, star_pos=s_rel, star_vel=s_vel, star_mass=s_mass,
                  mass_profile=ParticleMass(r_all[inside], snap.mass[inside]), meta=meta)


def _kappa_or_nan(pos, vel, mass) -> float:
    try:
        return kappa_co(pos, vel, mass)
    except GalmassError:  # no (moving) stars within 30 kpc: cannot be classified
        return float("nan")


def _selection_failure(stats: dict[str, float], cuts: _Cuts) -> str | None:
    """Why the paper's selection rejects a galaxy (None if it passes)."""
    n, mstar = stats["n_star_particles"], stats["stellar_mass"]
    if n < max(cuts.min_star_particles, 1):
        return f"{n} star particles within r200 < min_star_particles {cuts.min_star_particles}"
    if not cuts.min_stellar_mass <= mstar <= cuts.max_stellar_mass:
        return (f"stellar mass {mstar:.3g} Msun outside [{cuts.min_stellar_mass:.3g}, "
                f"{cuts.max_stellar_mass:.3g}]")
    if stats["highres_fraction"] < cuts.min_highres_fraction:
        return (f"high-resolution fraction {stats['highres_fraction']:.3f} < "
                f"min_highres_fraction {cuts.min_highres_fraction}")
    if not stats["kappa_co"] < cuts.max_kappa_co:
        return f"kappa_co {stats['kappa_co']:.3f} >= max_kappa_co {cuts.max_kappa_co} (rotation-supported)"
    return None


# --------------------------------------------------------------------------- writing
