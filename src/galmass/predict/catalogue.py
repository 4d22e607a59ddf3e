"""The star catalogue of one galaxy (:class:`Catalog`), its checks and assembly from columns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from galmass.errors import GalmassError, GalmassWarning
from galmass.predict.sky import _sky_centre, find_centre, gnomonic


#: Fewest stars a catalogue may have (the training projections had at least 50).
MIN_STARS = 20
#: Fewest stars of any training projection (:data:`galmass.observe.projection.DEFAULT_MIN_STARS`);
#: catalogues with fewer are flagged as out of the training distribution.
TRAINING_MIN_STARS = 50
#: Largest training projection (``DatasetConfig.n_max_sample``); bigger catalogues are sub-sampled.
N_MAX_SAMPLE = 10_000
#: Plausible range of R_h [kpc] for a dispersion-supported galaxy.
RH_RANGE_KPC = (1e-3, 100.0)
#: Fewest posterior samples :func:`predict` accepts: the 16th and 84th percentiles of fewer
#: samples are too coarse (with 100, each is one of the 12th-20th / 80th-88th samples).
MIN_N_SAMPLES = 100
#: Speed of light [km/s]: no line-of-sight velocity or velocity error can reach it.
C_KMS = 299_792.458
#: Largest position [kpc] and distance [kpc] accepted (~ the size of the observable universe).
MAX_KPC = 1e7
#: Plane positions whose robust centre is more than this many times the stars' median
#: distance from it away from the origin, with every value in the RA/Dec ranges, are
#: taken for degrees given as kpc (real dwarfs: 200-3300; centred kpc catalogues: < 0.1).
DEGREES_CENTRE_RATIO = 20.0


class CatalogueWarning(GalmassWarning):
    """Something odd about a catalogue that galmass repaired (e.g. duplicate stars dropped)."""

#: Accepted column names (case-insensitive), by role.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "x": ("x", "x_kpc"),
    "y": ("y", "y_kpc"),
    "ra": ("ra", "ra_deg", "raj2000", "ra_j2000"),
    "dec": ("dec", "dec_deg", "dej2000", "decj2000", "dec_j2000"),
    "v_los": ("v_los", "vlos", "v_los_kms", "v", "vel", "velocity", "v_hel", "vhel", "rv",
              "radial_velocity", "vr", "v_r"),
    "v_err": ("v_err", "verr", "v_los_err", "vlos_err", "e_v_los", "e_vlos", "e_v", "ev",
              "v_error", "velocity_error", "rv_err", "e_rv", "sigma_v"),
    "p_member": ("p_member", "pmember", "p_mem", "pmem", "prob_member", "member_prob",
                 "mem_prob", "membership", "prob", "p"),
    "distance": ("distance", "distance_kpc", "dist", "dist_kpc", "d_kpc"),
}
_UNITS = {"x": "kpc", "y": "kpc", "ra": "deg", "dec": "deg", "v_los": "km / s",
          "v_err": "km / s", "distance": "kpc", "p_member": ""}
_TABLE_SUFFIXES = (".csv", ".ecsv", ".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".hdf5",
                   ".h5", ".vot", ".xml", ".parquet")
_FORMATS = ("auto", "table", "walker", "gaia")


# --------------------------------------------------------------------------- catalogue
@dataclass
class Catalog:
    """Member stars of one galaxy, ready for :func:`predict`.

    Attributes
    ----------
    x, y : ndarray, shape (N,)
        Sky-plane positions [kpc] about the galaxy centre.
    v_los : ndarray, shape (N,)
        Line-of-sight velocities [km/s], in any frame (the systemic velocity is removed by
        :func:`prepare_inputs`).
    v_err : ndarray, shape (N,), optional
        1-sigma velocity errors [km/s].
    p_member : ndarray, shape (N,), optional
        Membership probabilities of the stars kept (used to weight the centre, and the
        systemic velocity with ``v_sys="weighted"``).
    name : str
        Where the stars came from (used in messages).
    meta : dict
        Provenance: ``source``, ``format``, ``positions`` (``"sky"`` or ``"plane"``),
        ``distance_kpc``, ``centre``, ``p_member_min``, ``n_rows``, ``n_dropped`` ...
    """

    x: np.ndarray
    y: np.ndarray
    v_los: np.ndarray
    v_err: np.ndarray | None = None
    p_member: np.ndarray | None = None
    name: str = "catalogue"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        arrays = {"x": self.x, "y": self.y, "v_los": self.v_los, "v_err": self.v_err,
                  "p_member": self.p_member}
        n = None
        for key, a in arrays.items():
            if a is None:
                continue
            a = np.asarray(a, dtype=float)
            if a.ndim != 1:
                raise GalmassError(f"{self.name}: {key} must be a 1-D array, got shape {a.shape}")
            if n is None:
                n = len(a)
            elif len(a) != n:
                raise GalmassError(f"{self.name}: {key} has {len(a)} values for {n} stars")
            _check_finite(a, key, self.name)
            _check_bounds(a, key, self.name)
            setattr(self, key, a)
        if self.v_err is not None and np.any(self.v_err < 0):
            raise GalmassError(f"{self.name}: v_err has {int(np.sum(self.v_err < 0))} negative value(s); "
                               f"velocity errors are 1-sigma uncertainties >= 0 [km/s]")
        if n < MIN_STARS:
            raise GalmassError(f"{self.name} has {n} stars; at least {MIN_STARS} are needed")

    @property
    def n_stars(self) -> int:
        return len(self.v_los)

    @property
    def weights(self) -> np.ndarray:
        """``p_member`` of the stars, or ones."""
        return np.ones(self.n_stars) if self.p_member is None else self.p_member


#: Physical bounds of the catalogue columns: role -> (largest |value|, unit, what to check).
_BOUNDS = {"x": (MAX_KPC, "kpc", "positions must be in kpc"),
           "y": (MAX_KPC, "kpc", "positions must be in kpc"),
           "ra": (360.0, "deg", "RA must be in degrees"),
           "dec": (90.0, "deg", "Dec must be in degrees"),
           "v_los": (C_KMS, "km/s", "velocities must be in km/s and below the speed of light"),
           "v_err": (C_KMS, "km/s", "velocity errors must be in km/s and below the speed of light"),
           "p_member": (1.0, "", "p_member is a probability in [0, 1]")}


def _check_bounds(a: np.ndarray, key: str, name: str) -> None:
    """Refuse physically impossible values (before any arithmetic could overflow)."""
    limit, unit, hint = _BOUNDS[key]
    if key == "p_member":
        bad, where = np.flatnonzero((a < 0) | (a > 1)), "outside [0, 1]"
    else:
        bad, where = np.flatnonzero(np.abs(a) > limit), f"beyond +-{limit:g} {unit}"
    if bad.size:
        rows = ", ".join(str(i) for i in bad[:5]) + (", ..." if bad.size > 5 else "")
        raise GalmassError(f"{name}: column {key} has {bad.size} value(s) {where} (e.g. {a[bad[0]]:.3g}; "
                           f"star rows {rows}): {hint}")


def _check_finite(a: np.ndarray, key: str, name: str) -> None:
    bad = np.flatnonzero(~np.isfinite(a))
    if bad.size:
        rows = ", ".join(str(i) for i in bad[:5]) + (", ..." if bad.size > 5 else "")
        raise GalmassError(f"{name}: column {key} has {bad.size} NaN or infinite value(s) "
                           f"(star rows {rows}); remove those stars or fill them in")


# --------------------------------------------------------------------------- assembling
def _assemble(name: str, fmt: str, kind: str, a: np.ndarray, b: np.ndarray, v: np.ndarray,
              v_err: np.ndarray | None, p: np.ndarray | None, *, distance_kpc: float | None,
              p_member_min: float, centre: Any, meta: dict) -> Catalog:
    """Membership cut, checks, duplicates, centring and projection.

    ``kind`` is ``"sky"`` (``a, b`` = RA, Dec [deg]) or ``"plane"`` (``a, b`` = x, y [kpc]).
    Every value is checked (finite, physically possible) before any arithmetic; exact
    duplicate rows are dropped with a :class:`CatalogueWarning`; plane positions that look
    like RA/Dec in degrees are refused (:func:`_check_not_degrees`) unless ``centre`` is given.
    """
    n_rows = len(v)
    p_member_min = _probability(p_member_min, "p_member_min")
    keep = np.ones(n_rows, dtype=bool)
    if p is not None:
        _check_finite(p, "p_member", name)
        _check_bounds(p, "p_member", name)
        keep = p >= p_member_min
    n = int(keep.sum())
    if n < MIN_STARS:
        after = f" with p_member >= {p_member_min:g} (of {n_rows})" if p is not None else ""
        fix = ("; lower --p-member-min (p_member_min=...) only if the others really are members"
               if p is not None and n_rows >= MIN_STARS else "")
        raise GalmassError(f"{name} has {n} stars{after}; at least {MIN_STARS} are needed{fix}")
    a, b, v = a[keep], b[keep], v[keep]
    v_err = None if v_err is None else v_err[keep]
    p = None if p is None else p[keep]
    cols = ("ra", "dec") if kind == "sky" else ("x", "y")
    for key, arr in ((cols[0], a), (cols[1], b), ("v_los", v), ("v_err", v_err)):
        if arr is not None:
            _check_finite(arr, key, name)
            _check_bounds(arr, key, name)
    a, b, v, v_err, p, n_dup = _drop_duplicates(name, a, b, v, v_err, p)
    n = len(v)
    if n < MIN_STARS:
        raise GalmassError(f"{name} has {n} distinct stars ({n_dup} duplicate rows dropped); "
                           f"at least {MIN_STARS} are needed")
    w = np.ones(n) if p is None else p
    meta = dict(meta, source=name, format=fmt, positions=kind, n_rows=n_rows,
                n_dropped_p_member=int(n_rows - int(keep.sum())), n_dropped_duplicates=n_dup,
                p_member_min=p_member_min if p is not None else None)
    if kind == "sky":
        if distance_kpc is None:
            raise GalmassError(f"{name} gives ra/dec positions but no distance: pass --distance KPC "
                               f"(distance_kpc=...) or add a 'distance' column or metadata entry")
        distance = _distance(distance_kpc)
        if centre is None:
            ra0, dec0 = _sky_centre(a, b, w)
            how = "robust"
        elif isinstance(centre, str):
            raise GalmassError(f"centre={centre!r} is not possible for ra/dec positions; give (ra, dec) [deg] or None")
        else:
            ra0, dec0 = _pair(centre, "centre (ra, dec) [deg]")
            how = "given"
        xi, eta = gnomonic(a, b, ra0, dec0)
        x, y = distance * xi, distance * eta
        meta.update(distance_kpc=distance, centre={"ra": ra0, "dec": dec0, "method": how})
    else:
        if centre is None:
            x0, y0 = find_centre(a, b, w)
            _check_not_degrees(name, a, b, x0, y0)
            how = "robust"
        elif isinstance(centre, str):
            if centre != "origin":
                raise GalmassError(f"centre must be None, 'origin' or (x, y), got {centre!r}")
            x0 = y0 = 0.0
            how = "origin"
        else:
            x0, y0 = _pair(centre, "centre (x, y) [kpc]")
            how = "given"
        x, y = a - x0, b - y0
        meta.update(distance_kpc=None if distance_kpc is None else _distance(distance_kpc),
                    centre={"x": x0, "y": y0, "method": how})
    return Catalog(x, y, v, v_err, p, name=name, meta=meta)


def _drop_duplicates(name: str, a, b, v, v_err, p):
    """Drop exact duplicate star rows (same position, v_los, v_err and p_member), keeping the
    first of each, with one :class:`CatalogueWarning`; returns the arrays and the number dropped."""
    import warnings

    rows = np.column_stack([c for c in (a, b, v, v_err, p) if c is not None])
    _, first = np.unique(rows, axis=0, return_index=True)
    n_dup = len(v) - len(first)
    if n_dup == 0:
        return a, b, v, v_err, p, 0
    idx = np.sort(first)
    warnings.warn(f"{name}: {n_dup} star row(s) repeat another row exactly (same position, v_los, "
                  f"v_err and p_member); each star is used once, so {n_dup} row(s) were dropped",
                  CatalogueWarning, stacklevel=4)
    pick = (lambda c: None if c is None else c[idx])
    return pick(a), pick(b), pick(v), pick(v_err), pick(p), int(n_dup)


def _check_not_degrees(name: str, x: np.ndarray, y: np.ndarray, x0: float, y0: float) -> None:
    """Refuse plane positions that look like RA/Dec in degrees (a silent wrong answer otherwise).

    Every ``x`` in [-180, 360] and ``y`` in [-90, 90], and the robust centre ``(x0, y0)``
    (found before any subtraction) farther from the origin than
    :data:`DEGREES_CENTRE_RATIO` times the median distance of the stars from it: a galaxy
    on the sky, tenths of a degree across, at (RA, Dec) far from (0, 0). A real kpc
    catalogue is given about the galaxy (ratio < 1), or can pass an explicit centre.
    """
    if not (np.all((x >= -180) & (x <= 360)) and np.all(np.abs(y) <= 90)):
        return
    med = float(np.median(np.hypot(x - x0, y - y0)))
    dist = math.hypot(x0, y0)
    if med > 0 and dist > DEGREES_CENTRE_RATIO * med:
        raise GalmassError(
            f"{name}: x, y look like RA, Dec in degrees, not kpc (all within the RA/Dec ranges; the "
            f"stars sit at ({x0:.4g}, {y0:.4g}), {dist / med:.0f} times their median distance "
            f"{med:.3g} from that centre); rename the columns to ra, dec and pass --distance KPC "
            f"(distance_kpc=...), or, if they really are kpc, give them about the galaxy centre "
            f"(or pass centre=(x, y))")


def _probability(value: Any, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise GalmassError(f"{what} must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= v <= 1.0:  # also refuses NaN
        raise GalmassError(f"{what} must be in [0, 1], got {value!r}")
    return v


def _distance(value: Any, what: str = "distance [kpc]") -> float:
    """A distance [kpc]: positive, finite and at most :data:`MAX_KPC`."""
    d = _positive(value, what)
    if d > MAX_KPC:
        raise GalmassError(f"{what} = {d:g} kpc is beyond the observable universe ({MAX_KPC:g} kpc); "
                           f"the distance must be in kpc (e.g. 76 for Draco)")
    return d


def _positive(value: Any, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise GalmassError(f"{what} must be a positive number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise GalmassError(f"{what} must be a positive finite number, got {value!r}")
    return v


def _pair(value: Any, what: str) -> tuple[float, float]:
    try:
        a, b = (float(t) for t in value)
    except (TypeError, ValueError):
        raise GalmassError(f"{what} must be two numbers, got {value!r}") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise GalmassError(f"{what} must be finite, got {value!r}")
    return a, b
