"""Writing particles to a tipsy snapshot that pynbody reads back in physical units (for tests,
demos and users with their own mocks). Units: kpc, km/s, Msun and Gyr in, file units
``dKpcUnit = TIPSY_KPC_UNIT``, ``dMsolUnit = TIPSY_MSOL_UNIT`` (non-comoving) on disk."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from galmass.errors import GalmassError
from galmass.files import atomic_write_text
from galmass.sources.galaxy import Galaxy
from galmass.sources.snapshots import _load

__all__ = ["write_tipsy", "TIPSY_KPC_UNIT", "TIPSY_MSOL_UNIT"]

#: Length and mass units [kpc, Msun] of the tipsy files written by :func:`write_tipsy`.
TIPSY_KPC_UNIT = 1.0
TIPSY_MSOL_UNIT = 1e10
#: Particle families of a tipsy file.
FAMILIES = ("gas", "dm", "star")


def _tipsy_units() -> tuple[float, float]:
    """Velocity [km/s] and time [Gyr] units pynbody derives from TIPSY_KPC_UNIT, TIPSY_MSOL_UNIT.

    Same formula and 5-digit rounding as pynbody's tipsy ``param2units``; :func:`write_tipsy`
    checks the read-back, so a change in pynbody cannot go unnoticed.
    """
    dens = TIPSY_MSOL_UNIT / TIPSY_KPC_UNIT**3
    vel = float("%.5g" % (8.0285 * math.sqrt(6.6743e-8 * dens) * TIPSY_KPC_UNIT))
    return vel, float("%.5g" % (TIPSY_KPC_UNIT / vel * 0.97781311))


def _particle_families(obj: Any, dm, gas) -> dict[str, dict[str, np.ndarray]]:
    """Validated ``{family: {pos, vel, mass[, tform, eps, grp]}}`` from a Galaxy or mapping."""
    if isinstance(obj, Galaxy):
        fams = {"star": {"pos": obj.star_pos, "vel": obj.star_vel, "mass": obj.star_mass}}
    elif isinstance(obj, Mapping):
        fams = dict(obj)
    else:
        raise GalmassError(f"write_tipsy: expected a Galaxy or a mapping of families, got {type(obj).__name__}")
    for fam, extra in (("dm", dm), ("gas", gas)):
        if extra is not None:
            if fam in fams:
                raise GalmassError(f"write_tipsy: family {fam!r} given twice")
            fams[fam] = extra
    out = {}
    for fam, d in fams.items():
        if fam not in FAMILIES:
            raise GalmassError(f"write_tipsy: unknown family {fam!r}; use {FAMILIES}")
        out[fam] = _check_family(fam, d)
    if not out or sum(len(d["mass"]) for d in out.values()) == 0:
        raise GalmassError("write_tipsy: no particles to write")
    if len({"grp" in d for d in out.values()}) > 1:
        raise GalmassError("write_tipsy: give 'grp' (halo numbers) for every family or for none")
    return out


def _check_family(fam: str, d: Mapping[str, Any]) -> dict[str, np.ndarray]:
    unknown = set(d) - {"pos", "vel", "mass", "tform", "eps", "grp"}
    if unknown or not {"pos", "vel", "mass"} <= set(d):
        raise GalmassError(f"write_tipsy: family {fam!r} needs pos, vel, mass (optional tform, eps, "
                           f"grp); got {sorted(d)}")
    mass = np.asarray(d["mass"], dtype=float).ravel()
    n = len(mass)
    out = {"pos": np.asarray(d["pos"], dtype=float), "vel": np.asarray(d["vel"], dtype=float), "mass": mass}
    for key in ("tform", "eps"):
        out[key] = np.broadcast_to(np.asarray(d.get(key, 0.0), dtype=float), (n,))
    if "grp" in d:
        out["grp"] = np.broadcast_to(np.asarray(d["grp"]), (n,)).astype(np.int32)
    if out["pos"].shape != (n, 3) or out["vel"].shape != (n, 3):
        raise GalmassError(f"write_tipsy: family {fam!r}: pos {out['pos'].shape} and vel "
                           f"{out['vel'].shape} must be (N, 3) with N = len(mass) = {n}")
    if not all(np.all(np.isfinite(out[k])) for k in ("pos", "vel", "mass", "tform", "eps")) or np.any(mass <= 0):
        raise GalmassError(f"write_tipsy: family {fam!r} has non-finite values or non-positive masses")
    return out


def write_tipsy(galaxy_or_particles: Galaxy | Mapping[str, Mapping[str, Any]], path: str | Path, *,
                dm: Mapping[str, Any] | None = None, gas: Mapping[str, Any] | None = None) -> Path:
    """Write particles to a tipsy file (plus its ``.param``) that pynbody reads in physical units.

    pynbody's tipsy writer stores the raw numbers of the arrays; the units come from a
    ``*.param`` file found next to the snapshot (or in its parent directory). This function
    converts kpc, km/s, Msun and Gyr to the file units (``dKpcUnit = TIPSY_KPC_UNIT``,
    ``dMsolUnit = TIPSY_MSOL_UNIT``, non-comoving), writes ``<path without suffix>.param`` and
    reads the file back to check that pynbody recovers the physical values. The file carries no
    cosmology: :func:`read_snapshot` then assumes Planck 2014 at z = 0. Keep one such file
    (or files of this function only) per directory: pynbody takes any ``*.param`` it finds.

    Parameters
    ----------
    galaxy_or_particles : Galaxy or mapping
        A Galaxy (its stars are written) or ``{"star"|"dm"|"gas": {"pos": (N, 3) kpc, "vel":
        (N, 3) km/s, "mass": (N,) Msun, optional "tform": Gyr (< 0 flags a non-star),
        "eps": softening kpc, "grp": int halo number}}``. If ``grp`` is given (for every
        family), it is written as ``<path>.amiga.grp``, which pynbody loads as an
        ``AmigaGrpCatalogue`` halo catalogue.
    path : str or Path
        Output tipsy file.
    dm, gas : mapping, optional
        Extra families (same keys), e.g. a dark-matter particle realisation for a Galaxy.

    Returns
    -------
    Path
        The tipsy file written.
    """
    import pynbody

    fams = _particle_families(galaxy_or_particles, dm, gas)
    path = Path(path)
    vel_unit, time_unit = _tipsy_units()
    snap = pynbody.new(order=",".join(f for f in FAMILIES if f in fams),
                       **{f: len(d["mass"]) for f, d in fams.items()})
    grp = np.zeros(len(snap), dtype=np.int32)
    for fam, d in fams.items():
        sub = snap[pynbody.family.get_family(fam)]
        for key, value in _file_arrays(fam, d, vel_unit, time_unit).items():
            sub[key] = value
        if "grp" in d:
            grp[sub.get_index_list(snap)] = d["grp"]
    if any("grp" in d for d in fams.values()):
        snap["amiga.grp"] = grp
    else:  # a stale catalogue from an earlier write would be read as this file's halos
        for suffix in (".amiga.grp", ".amiga.grp.pynbody-meta"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    snap.properties["time"] = 0.0
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path.with_suffix(".param"),
        "# written by galmass.sources.tipsy.write_tipsy: units for pynbody (physical, non-comoving)\n"
        f"dKpcUnit = {TIPSY_KPC_UNIT!r}\ndMsolUnit = {TIPSY_MSOL_UNIT!r}\nbComove = 0\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snap.write(fmt=pynbody.snapshot.tipsy.TipsySnap, filename=str(path), cosmological=False)
    _check_read_back(path, fams)
    return path


def _file_arrays(fam: str, d: Mapping[str, np.ndarray], vel_unit: float, time_unit: float
                 ) -> dict[str, np.ndarray]:
    """Raw file-unit arrays of one family; every field of the tipsy record is set (pynbody
    would otherwise write uninitialised memory, e.g. random negative ``tform``)."""
    zeros = np.zeros(len(d["mass"]))
    out = {"pos": d["pos"] / TIPSY_KPC_UNIT, "vel": d["vel"] / vel_unit,
           "mass": d["mass"] / TIPSY_MSOL_UNIT, "eps": d["eps"] / TIPSY_KPC_UNIT, "phi": zeros}
    if fam == "star":
        out.update(tform=d["tform"] / time_unit, metals=zeros)
    if fam == "gas":
        out.update(rho=zeros, temp=zeros, metals=zeros)
    return out


def _check_read_back(path: Path, fams: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    """Raise if pynbody does not read back the physical masses, positions and velocities."""
    sim = _load(path)
    for fam, d in fams.items():
        sub = getattr(sim, fam)
        got = {"mass": sub["mass"].in_units("Msol"), "pos": sub["pos"].in_units("kpc"),
               "vel": sub["vel"].in_units("km s**-1")}
        for key, arr in got.items():
            scale = np.max(np.abs(d[key])) + 1e-30
            if np.asarray(arr).shape != d[key].shape or np.max(np.abs(np.asarray(arr) - d[key])) > 1e-5 * scale:
                raise GalmassError(f"write_tipsy: pynbody reads {fam} {key} of {path} back wrongly (units); "
                                   f"is another *.param file in {path.parent} or its parent?")
