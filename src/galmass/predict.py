"""The mass profile of a real (or mock) galaxy from its star catalogue.

``galmass predict CATALOG`` and :func:`predict` turn a catalogue of member stars (sky
positions and line-of-sight velocities) into the posterior of ``log10 M(< f R_h)`` for the
model's radii ``f = 0.6 ... 2.4``.

Pipeline
--------
1. **Reading** (:func:`read_catalog`). A CSV, ECSV or FITS table (anything
   ``astropy.table.Table.read`` reads; or an astropy ``Table`` / a dict of arrays) with
   either ``x, y`` [kpc] or ``ra, dec`` [deg] plus a distance [kpc] (argument, a
   ``distance`` column or a ``distance`` entry of the table metadata / FITS header), and
   ``v_los`` [km/s]; optional ``v_err`` [km/s] and ``p_member`` (column names are matched
   case-insensitively, aliases in :data:`COLUMN_ALIASES`; columns carrying astropy units
   are converted). When both ``x, y`` and ``ra, dec`` are present, ``x, y`` are used.
   Two plain-text formats have their own readers: the GravSphere / Walker ``*_spec.dat``
   files (:func:`read_walker_catalog`) and the Gaia Challenge mocks
   (:func:`read_gaia_challenge`). With ``format="auto"`` the reader is chosen from the
   file: ``*.csv``, ``*.ecsv``, ``*.fits`` ... are tables; another text file whose first
   data line has 25 numbers (or whose name ends in ``_spec.dat``) is a Walker file, one
   with 6 or 7 numbers a Gaia Challenge (or EDGE-like ``x y z vx vy vz [mass]``) file;
   anything else is read as an astropy ASCII table.
2. **Membership.** Stars with ``p_member < p_member_min`` (default 0.5) are dropped;
   the others are used with equal weight, as the training projections are (``p_member``
   only weights the centre, below). Walker rows with ``v = 0`` (no velocity) are dropped.
3. **Centring** (:func:`find_centre`). Unless a centre is given, it is the
   membership-weighted mean position, iterated robustly: start from the weighted mean of
   all stars, then repeat (at most 20 times, until it moves by less than ``1e-6`` of the
   median radius) the weighted mean of the stars within ``3 x`` the (unweighted) median
   distance from the current centre. Sky positions are projected on the tangent plane
   (gnomonic projection, :func:`gnomonic`) about the centre and multiplied by the
   distance: ``x`` points east (increasing RA), ``y`` north, in kpc. For sky catalogues
   the centre is found on the sphere (the tangent point is moved to the robust centre
   and the stars re-projected until it no longer moves), so the final ``x, y`` are about
   the tangent point. ``centre="origin"`` keeps ``x, y`` as given (the default of
   :func:`read_gaia_challenge`, whose mocks are centred by construction).
4. **Inputs, exactly as in training** (:func:`projection_inputs`, the same calls as
   :func:`galmass.dataset.project_galaxy`). Catalogues with more stars than the largest
   training projection (``n_max_sample``, 10,000, or the top of ``n_sample_range`` when the
   model was trained with observational realism) are randomly sub-sampled to it (seeded),
   like the training projections. The systemic velocity is
   removed: ``v = v_los - mean(v_los)`` (default ``v_sys="mean"``, the unweighted mean, as
   in training; ``"weighted"`` uses the ``p_member``-weighted mean, ``"median"`` the
   median, a number a known systemic velocity). Then ``R_h = median(sqrt(x^2 + y^2))``
   (:func:`galmass.projection.r_half_projected`), ``sigma_los`` = standard deviation
   (ddof=1) and ``v_p98`` = 98th percentile of ``|v - mean(v)|``
   (:mod:`galmass.projection`; both are about the sample mean whatever ``v_sys`` is, so
   ``v_sys`` only moves the phase map), and the two KDE maps
   (:func:`galmass.maps.position_maps`, :func:`galmass.maps.phase_maps`) with the
   ``"paper"`` bandwidth: Scott's factor counts the stars within ``0.5 R_h`` (at least 1).
   The bandwidth rule and the largest training projection are read from the model
   (:func:`training_preprocessing`).
5. **Velocity errors.** With ``v_err``, the scalar inputs use the intrinsic dispersion
   ``sigma_los = sqrt(sigma_obs^2 - mean(v_err^2))`` and ``v_p98`` scaled by the same
   factor ``sigma_los / sigma_obs`` (:func:`galmass.projection.correct_for_errors`, exact
   for Gaussian velocities and errors); the literature estimators subtract
   ``mean(v_err^2)`` of the stars they use from their variance; the **maps use the
   observed velocities** (normalised by the observed ``v_p98``). A model trained with
   observational realism (``dataset.v_err_range``, the shipped model) saw exactly this:
   its training velocities carry Gaussian errors and go through the same functions. A
   model trained on exact velocities (the paper's setting) sees broader phase maps than in
   training when the errors are comparable to ``sigma_los``. A catalogue whose errors
   account for all its dispersion is refused.
6. **Posterior.** ``n_samples`` flow samples (:meth:`galmass.model.MassModel.predict`)
   give the 16th, 50th and 84th percentiles of ``log10 M(< f R_h)`` [Msun]; the five
   literature estimators (:mod:`galmass.estimators`) are applied to the same stars; the
   scalars are checked against the model's training domain (:mod:`galmass.ood`).

Caveats
-------
``R_h`` is the circular half-number radius of the *catalogue's* stars, as in training
(where it is that of all star particles). For a spectroscopic member sample it inherits
the survey's selection (fibre placement, radial coverage, magnitude limit) and can differ
from the photometric half-light radius; ellipticity is ignored (circular radii), as in
training. The domain check only looks at the three scalars, not at the maps.

Every bad input (missing columns, NaN values, too few stars, zero dispersion, positions
in degrees passed as kpc, an unreadable file, a model from another galmass version, no
installed default model ...) raises one :class:`~galmass.errors.GalmassError` whose
message is one line. Two oddities are repaired with a :class:`CatalogueWarning`: exact
duplicate star rows are dropped (counted in ``meta["n_dropped_duplicates"]``), and a
UTF-8 byte-order mark at the start of a text file is ignored.

Outputs (:func:`write_prediction`, :func:`plot_profile`) are written atomically
(:func:`galmass.files.atomic_path`: a failed write leaves the previous file untouched and
a reader never sees half a file) and never overwrite the input catalogue
(:func:`check_outputs`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .errors import GalmassError, GalmassWarning, one_line
from .projection import correct_for_errors

__all__ = [
    "Catalog",
    "COLUMN_ALIASES",
    "MIN_STARS",
    "read_catalog",
    "read_walker_catalog",
    "read_gaia_challenge",
    "find_centre",
    "gnomonic",
    "inverse_gnomonic",
    "projection_inputs",
    "prepare_inputs",
    "load_model",
    "predict",
    "format_prediction",
    "write_prediction",
    "plot_profile",
    "check_outputs",
    "check_n_samples",
    "CatalogueWarning",
    "MIN_N_SAMPLES",
]

#: Fewest stars a catalogue may have (the training projections had at least 50).
MIN_STARS = 20
#: Fewest stars of any training projection (:data:`galmass.projection.DEFAULT_MIN_STARS`);
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


def find_centre(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, *,
                clip: float = 3.0, max_iter: int = 20, tol: float = 1e-6) -> tuple[float, float]:
    """Robust membership-weighted centre of positions ``x, y`` (any unit).

    Start from the weighted mean of all stars; then repeatedly take the weighted mean of the
    stars within ``clip`` times the (unweighted) median distance from the current centre,
    until the centre moves by less than ``tol`` times that median distance (at most
    ``max_iter`` times).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, float)
    if not np.sum(w) > 0:
        raise GalmassError("membership weights sum to zero; cannot find the centre")
    cx, cy = np.average(x, weights=w), np.average(y, weights=w)
    for _ in range(max_iter):
        R = np.hypot(x - cx, y - cy)
        med = float(np.median(R))
        sel = R <= clip * med
        if med == 0 or not np.sum(w[sel]) > 0:
            break
        nx, ny = np.average(x[sel], weights=w[sel]), np.average(y[sel], weights=w[sel])
        moved = math.hypot(nx - cx, ny - cy)
        cx, cy = nx, ny
        if moved < tol * med:
            break
    return float(cx), float(cy)


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


# --------------------------------------------------------------------------- readers
def read_catalog(source: Any, distance_kpc: float | None = None, p_member_min: float = 0.5, *,
                 centre: Any = None, format: str = "auto", name: str | None = None) -> Catalog:
    """Read a star catalogue (see the module docstring for columns, units and centring).

    Parameters
    ----------
    source : path, astropy Table or dict of arrays
        CSV / ECSV / FITS file (or another format astropy reads), a Walker ``*_spec.dat``
        or a Gaia Challenge file (chosen by ``format``), or an in-memory table.
    distance_kpc : float, optional
        Distance [kpc]; needed for ``ra, dec`` (else taken from a ``distance`` column,
        median of its values, or the table metadata / FITS header).
    p_member_min : float
        Stars with ``p_member`` below this are dropped (ignored without ``p_member``).
    centre : None, "origin" or (float, float)
        None: robust weighted centre (:func:`find_centre`); ``"origin"``: positions are
        already centred (x, y only); a pair: the centre, ``(ra, dec)`` [deg] for sky
        positions or ``(x, y)`` [kpc].
    format : {"auto", "table", "walker", "gaia"}
        Reader to use.
    name : str, optional
        Name used in messages (default: the path, or ``"table"``).

    Returns
    -------
    Catalog
    """
    if format not in _FORMATS:
        raise GalmassError(f"unknown catalogue format {format!r}; use one of {', '.join(_FORMATS)}")
    if isinstance(source, (str, Path)):
        path = Path(source)
        fmt = _detect_format(path) if format == "auto" else format
        if fmt == "walker":
            return read_walker_catalog(path, distance_kpc, p_member_min, centre=centre, name=name)
        if fmt == "gaia":
            return read_gaia_challenge(path, centre="origin" if centre is None else centre, name=name)
        table = _read_table(path)
        name = name or str(path)
        meta = {"path": str(path)}
    else:
        if format not in ("auto", "table"):
            raise GalmassError(f"format={format!r} needs a file path; in-memory catalogues are tables")
        table = _as_table(source)
        name = name or "table"
        meta = {}
    return _from_table(table, name, distance_kpc, p_member_min, centre, meta)


def _detect_format(path: Path) -> str:
    if not path.is_file():
        raise GalmassError(f"catalogue {path} does not exist" if not path.exists()
                           else f"catalogue {path} is not a file")
    low = path.name.lower()
    if low.endswith("_spec.dat"):
        return "walker"
    if low.endswith(_TABLE_SUFFIXES):
        return "table"
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError as exc:
        raise GalmassError(f"cannot read catalogue {path}: {one_line(exc)}") from None
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    for line in head.decode("latin-1").splitlines():
        tok = line.split()
        if not tok or tok[0].startswith("#"):
            continue
        try:
            [float(t) for t in tok]
        except ValueError:
            return "table"  # a header line: an ASCII table
        return {25: "walker", 6: "gaia", 7: "gaia"}.get(len(tok), "table")
    return "table"


def _read_table(path: Path):
    from astropy.table import Table

    if not path.is_file():
        raise GalmassError(f"catalogue {path} does not exist" if not path.exists()
                           else f"catalogue {path} is not a file")
    low = path.name.lower()
    kwargs: dict[str, Any] = {}
    if not low.endswith(_TABLE_SUFFIXES):
        kwargs["format"] = "ascii"
    elif low.endswith(".csv"):
        kwargs["format"] = "ascii.csv"
    elif low.endswith(".ecsv"):
        kwargs["format"] = "ascii.ecsv"
    try:
        if path.stat().st_size == 0:
            raise GalmassError(f"catalogue {path} is empty (0 bytes)")
    except OSError as exc:
        raise GalmassError(f"cannot read catalogue {path}: {one_line(exc)}") from None
    source: Any = path
    if "format" in kwargs and _starts_with_bom(path):  # a UTF-8 byte-order mark: read the text without it
        try:
            source = path.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise GalmassError(f"cannot read catalogue {path} as UTF-8 text: {one_line(exc)[:200]}") from None
    try:
        import warnings

        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            table = Table.read(source, **kwargs)
    except Exception as exc:  # astropy raises many types for unreadable files
        why = (f"{type(exc).__name__}: {one_line(exc)[:200]}" if type(exc).__name__ != "IORegistryError"
               else "its format cannot be told from its name or contents")
        raise GalmassError(f"cannot read catalogue {path} as a table (CSV, ECSV or FITS): {why}") from None
    if len(table) == 0:
        raise GalmassError(f"catalogue {path} has no rows (only a header, or nothing)")
    if table.colnames and table.colnames[0].startswith("\ufeff"):
        table.rename_column(table.colnames[0], table.colnames[0].lstrip("\ufeff") or "col1")
    return table


def _starts_with_bom(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(3) == b"\xef\xbb\xbf"
    except OSError:
        return False


def _as_table(source: Any):
    from astropy.table import Table

    if isinstance(source, Table):
        return source
    if isinstance(source, Mapping):
        try:
            return Table({str(k): np.asarray(v) for k, v in source.items()})
        except Exception as exc:
            raise GalmassError(f"cannot make a table of the catalogue dict: {one_line(exc)}") from None
    raise GalmassError(f"a catalogue must be a path, an astropy Table or a dict of arrays, "
                       f"got {type(source).__name__}")


def _find_column(table, role: str) -> str | None:
    lower = {c.lower(): c for c in table.colnames}
    for alias in COLUMN_ALIASES[role]:
        if alias in lower:
            return lower[alias]
    return None


def _column(table, colname: str, role: str, name: str) -> np.ndarray:
    """Float values of a column in the unit of its role (masked entries become NaN).

    Refuses columns that are not one number per star: text, booleans (True/False would
    silently become 1/0), and vector columns (several numbers per row).
    """
    import astropy.units as u

    col = table[colname]
    label = repr(colname) if colname == role else f"{colname!r} ({role})"
    kind = col.dtype.kind
    what = "membership probabilities" if role == "p_member" else f"{role} values [{_UNITS[role]}]"
    if kind == "b":
        raise GalmassError(f"{name}: column {label} holds booleans (True/False), not numbers; give "
                           f"the {what} themselves")
    if kind not in "iuf":
        raise GalmassError(f"{name}: column {label} is not numeric (dtype {col.dtype}); fix or remove "
                           f"the non-numeric entries")
    if getattr(col, "ndim", 1) != 1:
        raise GalmassError(f"{name}: column {label} holds {'x'.join(map(str, col.shape[1:]))} values per "
                           f"star (a vector column); give one number per star")
    values = np.ma.filled(np.ma.asarray(col, dtype=float), np.nan)
    unit = getattr(col, "unit", None)
    target = _UNITS[role]
    if unit is not None and target and str(unit) not in ("", "dimensionless"):
        try:
            with np.errstate(all="ignore"):  # overflow -> inf, refused by _check_finite
                values = (values * u.Unit(unit)).to_value(u.Unit(target))
        except u.UnitConversionError:
            if role in ("x", "y") and u.Unit(unit).physical_type == "angle":
                raise GalmassError(f"{name}: column {colname!r} is in {unit}, an angle: positions look "
                                   f"like sky coordinates, not kpc; give them as ra/dec [deg] with "
                                   f"--distance") from None
            raise GalmassError(f"{name}: column {colname!r} has unit {unit}, which cannot be "
                               f"converted to {target}; give {role} in {target}") from None
        except ValueError:
            raise GalmassError(f"{name}: column {colname!r} has an unknown unit {str(unit)!r}; give "
                               f"{role} in {target}") from None
    return np.asarray(values, dtype=float)


def _meta_distance(table) -> Any:
    for key, value in table.meta.items():
        if str(key).lower() in COLUMN_ALIASES["distance"]:
            return value
    return None


def _from_table(table, name: str, distance_kpc, p_member_min: float, centre: Any,
                meta: dict | None = None) -> Catalog:
    found = {role: _find_column(table, role) for role in COLUMN_ALIASES}
    if found["x"] and found["y"]:
        kind, pos = "plane", ("x", "y")
    elif found["ra"] and found["dec"]:
        kind, pos = "sky", ("ra", "dec")
    else:
        kind, pos = None, ()
    missing = []
    if kind is None:
        have_xy = [r for r in ("x", "y") if found[r]]
        have_sky = [r for r in ("ra", "dec") if found[r]]
        if have_sky and not have_xy:
            missing += [r for r in ("ra", "dec") if not found[r]]
        elif have_xy and not have_sky:
            missing += [r for r in ("x", "y") if not found[r]]
        else:
            missing.append("x, y [kpc] or ra, dec [deg]")
    if not found["v_los"]:
        missing.append("v_los [km/s]")
    if missing:
        aliases = "; ".join(f"{r}: {'/'.join(COLUMN_ALIASES[r][:4])}" for r in ("x", "ra", "v_los"))
        have = ", ".join(table.colnames[:12]) + (", ..." if len(table.colnames) > 12 else "")
        sep = [d for d in (";", "\t", "|", ":") if len(table.colnames) == 1 and d in table.colnames[0]]
        hint = (f"; the file seems to separate its values by {sep[0]!r}: a CSV file needs commas "
                f"(or save it as ECSV / FITS)" if sep else "")
        raise GalmassError(one_line(f"{name} lacks column(s) {', '.join(missing)} (it has: {have}; "
                                    f"accepted names include {aliases}){hint}"))
    a = _column(table, found[pos[0]], pos[0], name)
    b = _column(table, found[pos[1]], pos[1], name)
    v = _column(table, found["v_los"], "v_los", name)
    v_err = _column(table, found["v_err"], "v_err", name) if found["v_err"] else None
    p = _column(table, found["p_member"], "p_member", name) if found["p_member"] else None
    if kind == "sky" and distance_kpc is None:
        if found["distance"]:
            d = _column(table, found["distance"], "distance", name)
            d = d[np.isfinite(d)]
            distance_kpc = float(np.median(d)) if d.size else None
        else:
            distance_kpc = _meta_distance(table)
    return _assemble(name, "table", kind, a, b, v, v_err, p, distance_kpc=distance_kpc,
                     p_member_min=p_member_min, centre=centre, meta=meta or {})


def _loadtxt(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise GalmassError(f"catalogue {path} does not exist" if not path.exists()
                           else f"catalogue {path} is not a file")
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = np.loadtxt(path, ndmin=2, encoding="utf-8-sig")
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise GalmassError(f"cannot read {path} as a {what} file: {one_line(exc)[:200]}") from None
    if data.size == 0:
        raise GalmassError(f"catalogue {path} has no rows")
    return data


def read_walker_catalog(path: str | Path, distance_kpc: float | None, p_member_min: float = 0.5, *,
                        centre: Any = None, name: str | None = None) -> Catalog:
    """Read a GravSphere / Walker ``*_spec.dat`` file (25 whitespace-separated columns).

    Columns used: 0, 1 RA, Dec [deg]; 6 heliocentric ``v_los`` [km/s] (rows with 0 have no
    velocity and are dropped); 7 its error [km/s]; 15 membership probability. Positions
    are projected about the robust centre (or ``centre = (ra, dec)`` [deg]) at
    ``distance_kpc``.
    """
    path = Path(path)
    name = name or str(path)
    data = _loadtxt(path, "Walker/GravSphere *_spec.dat")
    if data.shape[1] != 25:
        raise GalmassError(f"{name} is not a Walker/GravSphere *_spec.dat file: expected 25 columns, "
                           f"found {data.shape[1]}")
    if distance_kpc is None:
        raise GalmassError(f"{name} gives RA/Dec only: pass its distance with --distance KPC "
                           f"(distance_kpc=...), e.g. 76 for Draco")
    has_v = data[:, 6] != 0
    if not np.any(has_v):
        raise GalmassError(f"{name}: no star has a velocity (column 7, v_los, is 0 in all {len(data)} rows)")
    data = data[has_v]
    return _assemble(name, "walker", "sky", data[:, 0], data[:, 1], data[:, 6], data[:, 7], data[:, 15],
                     distance_kpc=distance_kpc, p_member_min=p_member_min, centre=centre,
                     meta={"n_dropped_no_velocity": int(np.sum(~has_v)), "path": str(path)})


def read_gaia_challenge(path: str | Path, *, centre: Any = "origin", v_err: float | None = None,
                        name: str | None = None) -> Catalog:
    """Read a Gaia Challenge mock (columns ``x y z vx vy vz`` [kpc, km/s]; a 7th, mass, is ignored).

    The galaxy is seen along ``z``: ``x, y`` are the sky positions and ``v_los = vz``. The
    mocks are centred on the origin, so ``centre="origin"`` by default (``None`` finds a
    robust centre). ``v_err`` [km/s] is a constant velocity error to attach (e.g. 2 for the
    ``*_err.dat`` twins, which include 2 km/s errors in ``vz`` but no error column).
    """
    path = Path(path)
    name = name or str(path)
    data = _loadtxt(path, "Gaia Challenge (x y z vx vy vz)")
    if data.shape[1] not in (6, 7):
        raise GalmassError(f"{name} is not a Gaia Challenge file: expected 6 columns "
                           f"(x y z vx vy vz), found {data.shape[1]}")
    err = None if v_err is None else np.full(len(data), _positive(v_err, "v_err [km/s]"))
    return _assemble(name, "gaia", "plane", data[:, 0], data[:, 1], data[:, 5], err, None,
                     distance_kpc=None, p_member_min=0.0, centre=centre, meta={"path": str(path)})


# --------------------------------------------------------------------------- network inputs
def projection_inputs(x: np.ndarray, y: np.ndarray, v_los: np.ndarray, map_size: int,
                      kde_bandwidth: str = "paper") -> dict[str, Any]:
    """The CNN inputs of one projection, made exactly as :func:`galmass.dataset.project_galaxy` does.

    Parameters
    ----------
    x, y : ndarray (N,)
        Sky positions [kpc] about the centre.
    v_los : ndarray (N,)
        Line-of-sight velocities [km/s] about the systemic velocity.
    map_size : int
        Side of the maps.
    kde_bandwidth : {"paper", "scott"}
        As in :func:`~galmass.dataset.project_galaxy`.

    Returns
    -------
    dict
        ``map1``, ``map2`` (1, S, S) float32; ``scalars`` (1, 3) = (R_h [kpc], sigma_los
        [km/s], v_p98 [km/s]) of the given velocities; ``R`` (N,) [kpc]; ``bandwidth_points``.
    """
    from .maps import phase_maps, position_maps
    from .projection import r_half_projected, sigma_los, v_p98

    if kde_bandwidth not in ("paper", "scott"):
        raise GalmassError(f"kde_bandwidth must be 'paper' or 'scott', got {kde_bandwidth!r}")
    x, y, v = (np.ascontiguousarray(a, dtype=float) for a in (x, y, v_los))
    R = np.hypot(x, y)
    rh = r_half_projected(x, y)
    sig, vp = sigma_los(v), v_p98(v)
    bw = [max(1, int(np.count_nonzero(R < 0.5 * rh)))] if kde_bandwidth == "paper" else None
    shape = (int(map_size), int(map_size))
    map1 = position_maps([x], [y], [rh], shape, bandwidth_points=bw)
    map2 = phase_maps([R], [v], [rh], [vp], shape, bandwidth_points=bw)
    return {"map1": np.ascontiguousarray(map1, dtype=np.float32),
            "map2": np.ascontiguousarray(map2, dtype=np.float32),
            "scalars": np.array([[rh, sig, vp]], dtype=np.float64), "R": R,
            "bandwidth_points": None if bw is None else bw[0]}


def prepare_inputs(catalog: Catalog, map_size: int, *, v_sys: str | float = "mean",
                   kde_bandwidth: str = "paper", n_max_sample: int = N_MAX_SAMPLE,
                   seed: int = 0) -> dict[str, Any]:
    """Sub-sample, remove the systemic velocity, check and make the inputs of a catalogue.

    Returns the :func:`projection_inputs` dict with the scalars corrected for velocity
    errors (module docstring, step 5), plus ``x, y, v`` (the stars used), ``v_err``,
    ``r_half``, ``sigma_los``, ``sigma_los_obs``, ``v_p98``, ``v_p98_obs``, ``v_sys``,
    ``v_err_rms``, ``n_stars``, ``n_catalogue``.
    """
    name = catalog.name
    n = catalog.n_stars
    idx = np.arange(n)
    size = min(n, int(n_max_sample))  # = projection.subsample_size(n, 200, n_max_sample) for n >= 200
    if size < n:  # drawn as projection._draw_indices does
        idx = np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))
    x, y, v_raw = catalog.x[idx], catalog.y[idx], catalog.v_los[idx]
    v_err = None if catalog.v_err is None else catalog.v_err[idx]
    w = catalog.weights[idx]
    if isinstance(v_sys, str):
        if v_sys == "mean":
            vs = float(np.mean(v_raw))
        elif v_sys == "weighted":
            vs = float(np.average(v_raw, weights=w))
        elif v_sys == "median":
            vs = float(np.median(v_raw))
        else:
            raise GalmassError(f"v_sys must be 'mean', 'weighted', 'median' or a number, got {v_sys!r}")
    else:
        vs = float(v_sys)
        if not math.isfinite(vs):
            raise GalmassError(f"v_sys must be finite, got {v_sys!r}")
    v = v_raw - vs

    rh = float(np.median(np.hypot(x, y)))
    if not RH_RANGE_KPC[0] <= rh <= RH_RANGE_KPC[1]:
        if catalog.meta.get("positions") == "sky":
            hint = f"check that the distance ({catalog.meta.get('distance_kpc')}) is in kpc"
        else:
            hint = ("positions look like degrees/arcmin (or pc), not kpc; give ra/dec with "
                    "--distance")
        raise GalmassError(f"{name}: R_h = {rh:.3g} kpc is implausible for a dispersion-supported "
                           f"galaxy (expected {RH_RANGE_KPC[0]:g}-{RH_RANGE_KPC[1]:g} kpc): {hint}")
    if not np.ptp(v_raw) > 1e-12 * max(1.0, float(np.max(np.abs(v_raw)))):
        raise GalmassError(f"{name}: zero line-of-sight velocity dispersion (all {len(v)} velocities "
                           f"are equal); v_los must be the stars' measured velocities")
    out = projection_inputs(x, y, v, map_size, kde_bandwidth)
    r_half, sig_obs, vp_obs = (float(s) for s in out["scalars"][0])
    sig, vp = correct_for_errors(sig_obs, vp_obs, v_err, name)
    err_rms = None if v_err is None else math.sqrt(float(np.mean(v_err ** 2)))
    if v_err is not None:
        out["scalars"] = np.array([[r_half, sig, vp]], dtype=np.float64)
    out.update(x=x, y=y, v=v, v_err=v_err, r_half=r_half, sigma_los=sig, sigma_los_obs=sig_obs,
               v_p98=vp, v_p98_obs=vp_obs, v_sys=vs, v_err_rms=err_rms, n_stars=len(v),
               n_catalogue=n)
    return out


def _estimators(R: np.ndarray, v: np.ndarray, r_half: float, v_err: np.ndarray | None) -> dict[str, list[float]]:
    """Literature estimators: name -> [radius kpc, log10 M]; errors subtracted from each variance.

    :func:`galmass.estimators.apply_all` with ``v_err`` (as in training with errors); an
    estimator that cannot be applied (e.g. fewer than 2 stars in its aperture) gives NaN.
    """
    from .estimators import ESTIMATORS, apply_all

    res: dict[str, list[float]] = {}
    for key, est in ESTIMATORS.items():
        try:
            r, mass = apply_all(R, v, r_half, names=[key], v_err=v_err)[key]
        except GalmassError:
            r, mass = float(est.radius(r_half)), float("nan")
        res[key] = [float(r), math.log10(mass) if mass > 0 else float("nan")]
    return res


# --------------------------------------------------------------------------- model and posterior
def load_model(model: Any = None):
    """A :class:`~galmass.model.MassModel`: as given, loaded from a directory, or the shipped default.

    ``None`` loads ``galmass/default_model/`` inside the installed package; if it is absent,
    a :class:`GalmassError` says so.
    """
    from .model import MassModel

    if isinstance(model, MassModel):
        return model
    if model is None:
        from importlib import resources

        ref = resources.files("galmass") / "default_model"
        if not (ref / "model.json").is_file():
            raise GalmassError("no default model is installed (galmass/default_model is missing; "
                               "`make default-model` builds it); pass --model DIR (model=...)")
        with resources.as_file(ref) as d:
            return MassModel.load(d)
    if isinstance(model, (str, Path)):
        d = Path(model)
        if not d.is_dir():
            raise GalmassError(f"model directory {d} does not exist")
        return MassModel.load(d)
    raise GalmassError(f"model must be a MassModel, a directory or None, got {type(model).__name__}")


def training_preprocessing(model) -> dict[str, Any]:
    """How the model's training projections were made, for the same preprocessing at prediction.

    Returns ``kde_bandwidth``, ``n_max_sample`` (the largest training projection; bigger
    catalogues are sub-sampled to it), ``min_stars`` (the smallest training projection),
    ``v_err_range`` [km/s] or None. Models saved before these were recorded get the
    defaults of :class:`galmass.config.DatasetConfig`.
    """
    d = dict((model.info or {}).get("dataset") or {})
    n_range = d.get("n_sample_range")
    return {"kde_bandwidth": d.get("kde_bandwidth", "paper"),
            "n_max_sample": int(n_range[1]) if n_range else int(d.get("n_max_sample", N_MAX_SAMPLE)),
            "min_stars": int(n_range[0]) if n_range else int(d.get("min_stars", TRAINING_MIN_STARS)),
            "v_err_range": d.get("v_err_range")}


def predict(catalog: Any, model: Any = None, n_samples: int = 1000, seed: int = 0, *,
            v_sys: str | float = "mean", kde_bandwidth: str | None = None,
            n_max_sample: int | None = None, num_threads: int | None = 1):
    """Posterior mass profile of a galaxy from its stars.

    Parameters
    ----------
    catalog : Catalog, path, astropy Table or dict
        The stars (anything else than a :class:`Catalog` goes through :func:`read_catalog`
        with its defaults).
    model : MassModel, path or None
        The model (None: the default model shipped with galmass).
    n_samples : int
        Posterior samples drawn from the flow, at least :data:`MIN_N_SAMPLES` (100).
    seed : int
        Seed of the flow samples (and of the sub-sample of catalogues > 10,000 stars).
    v_sys, kde_bandwidth, n_max_sample
        See :func:`prepare_inputs`. None (default): the model's training settings
        (:func:`training_preprocessing`).
    num_threads : int or None
        Torch threads for the network, restored afterwards (None: leave torch's setting).
        One catalogue is too little work to gain from more threads, and with several
        threads on busy cores torch slows down badly (measured on 2 busy cores: 2.8 s with
        2 threads, 0.02 s with 1).

    Returns
    -------
    astropy.table.Table
        One row per radius: ``f``, ``r_kpc`` (= f R_h), ``log10_m_p16``, ``log10_m_p50``,
        ``log10_m_p84`` (percentiles of log10 M(< r) [Msun]). ``meta``: ``R_h`` [kpc],
        ``sigma_los`` [km/s, intrinsic], ``v_p98`` [km/s], ``n_stars``, ``estimators``
        (name -> [radius kpc, log10 M]), ``ood`` (bool), ``ood_reason`` (str; empty when
        inside), and provenance (``sigma_los_obs``, ``v_p98_obs``, ``v_sys``, ``v_err_rms``,
        ``catalogue``, ``catalogue_path`` (the file read, or None), ``centre``,
        ``distance_kpc``, ``n_dropped_duplicates``, ``model``, ``n_samples``, ``seed``).
        ``ood`` is set when the scalars fall outside the model's training domain
        (``model.domain``, Appendix C) or the catalogue has fewer stars than any training
        projection (50).
    """
    from astropy.table import Table

    check_n_samples(n_samples)
    if not isinstance(catalog, Catalog):
        catalog = read_catalog(catalog)
    mdl = load_model(model)
    prep = training_preprocessing(mdl)
    kde_bandwidth = prep["kde_bandwidth"] if kde_bandwidth is None else kde_bandwidth
    n_max_sample = prep["n_max_sample"] if n_max_sample is None else n_max_sample
    inp = prepare_inputs(catalog, mdl.map_size, v_sys=v_sys, kde_bandwidth=kde_bandwidth,
                         n_max_sample=n_max_sample, seed=seed)
    post = _run_model(mdl, inp, int(n_samples), seed, num_threads)
    f = np.asarray(mdl.radii_f, dtype=float)
    reasons = []
    if mdl.domain is not None:
        flags, why = mdl.domain.outside(inp["scalars"])
        if flags[0]:
            reasons.append(why[0])
        checked = True
    else:
        checked = False
    if inp["n_stars"] < prep["min_stars"]:
        reasons.append(f"{inp['n_stars']} stars, fewer than any training projection ({prep['min_stars']})")
    t = Table()
    t["f"] = f
    t["r_kpc"] = f * inp["r_half"]
    for k in ("p16", "p50", "p84"):
        t[f"log10_m_{k}"] = np.asarray(post[k][0], dtype=float)
    t["r_kpc"].unit = "kpc"
    t["f"].description = "radius in units of the projected half-number radius R_h"
    t["r_kpc"].description = "radius f R_h"
    for k, q in (("p16", "16th"), ("p50", "50th"), ("p84", "84th")):
        t[f"log10_m_{k}"].description = f"{q} percentile of the posterior of log10 M(< r) [Msun]"
    model_dir = (str(model) if isinstance(model, (str, Path)) else
                 "default (galmass/default_model)" if model is None else "in memory")
    t.meta.update({
        "R_h": inp["r_half"], "sigma_los": inp["sigma_los"], "v_p98": inp["v_p98"],
        "n_stars": int(inp["n_stars"]),
        "estimators": _estimators(inp["R"], inp["v"], inp["r_half"], inp["v_err"]),
        "ood": bool(reasons), "ood_reason": "; ".join(reasons), "ood_checked": checked,
        "sigma_los_obs": inp["sigma_los_obs"], "v_p98_obs": inp["v_p98_obs"], "v_sys": inp["v_sys"],
        "v_err_rms": inp["v_err_rms"], "n_catalogue": int(inp["n_catalogue"]),
        "catalogue": catalog.name, "catalogue_path": catalog.meta.get("path"),
        "n_dropped_duplicates": int(catalog.meta.get("n_dropped_duplicates", 0)),
        "centre": _plain(catalog.meta.get("centre")),
        "distance_kpc": catalog.meta.get("distance_kpc"), "model": model_dir,
        "n_samples": int(n_samples), "seed": int(seed), "kde_bandwidth": kde_bandwidth,
    })
    return t


def check_n_samples(n_samples: Any, what: str = "n_samples") -> int:
    """``n_samples`` as an int, or one :class:`GalmassError` line unless it is an integer
    >= :data:`MIN_N_SAMPLES` (fewer samples give meaningless 16th/84th percentiles)."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise GalmassError(f"{what} must be an integer >= {MIN_N_SAMPLES}, got {n_samples!r}")
    if n_samples < MIN_N_SAMPLES:
        raise GalmassError(f"{what} = {n_samples} is too few for the 16th-84th percentiles of the "
                           f"posterior: use at least {MIN_N_SAMPLES} (--n-samples {MIN_N_SAMPLES}; "
                           f"1000 is the default)")
    return int(n_samples)


def _run_model(mdl, inp: dict, n_samples: int, seed: int, num_threads: int | None) -> dict:
    import torch

    before = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(int(num_threads))
    try:
        return mdl.predict(inp["map1"], inp["map2"], inp["scalars"], n_samples=n_samples, seed=seed)
    finally:
        if num_threads is not None:
            torch.set_num_threads(before)


def _plain(obj: Any) -> Any:
    """JSON/YAML-friendly copy (numpy scalars -> Python)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


# --------------------------------------------------------------------------- output
def format_prediction(table) -> str:
    """Human-readable summary: scalars, the profile table and the estimators."""
    m = table.meta
    lines = [f"# {m.get('catalogue', '')}: {m['n_stars']} stars, R_h = {m['R_h']:.4g} kpc, "
             f"sigma_los = {m['sigma_los']:.4g} km/s, v_p98 = {m['v_p98']:.4g} km/s"
             + (f" (observed sigma {m['sigma_los_obs']:.4g} km/s, rms error {m['v_err_rms']:.3g} km/s)"
                if m.get("v_err_rms") is not None else "")]
    lines.append(f"{'f':>5} {'r_kpc':>9} {'log10_m_p16':>12} {'log10_m_p50':>12} {'log10_m_p84':>12}")
    for row in table:
        lines.append(f"{row['f']:5.2f} {row['r_kpc']:9.4f} {row['log10_m_p16']:12.3f} "
                     f"{row['log10_m_p50']:12.3f} {row['log10_m_p84']:12.3f}")
    lines.append("# literature estimators: name, r_kpc, log10_m")
    for key, (r, lm) in m["estimators"].items():
        lines.append(f"# {key:<15s} {r:9.4f} {lm:12.3f}")
    return "\n".join(lines)


def _table_inputs(table) -> list[str]:
    """The input catalogue file a prediction table was made from (``catalogue_path``, or
    ``catalogue`` when that names an existing file)."""
    m = getattr(table, "meta", {}) or {}
    inputs = [m.get("catalogue_path")]
    cat = m.get("catalogue")
    if isinstance(cat, str) and cat and Path(cat).is_file():
        inputs.append(cat)
    return [str(i) for i in inputs if i]


def _plot_format(path: Path) -> str:
    """The image format of a plot file, from its suffix (``png`` without one)."""
    from matplotlib.figure import Figure

    fmt = path.suffix[1:].lower() or "png"
    supported = Figure().canvas.get_supported_filetypes()
    if fmt not in supported:
        raise GalmassError(f"cannot save a plot as .{fmt} ({path}); use one of "
                           f"{', '.join('.' + k for k in sorted(supported))}, e.g. profile.png")
    return fmt


def check_outputs(outputs: Mapping[str, str | Path | None], inputs: list = ()) -> None:
    """Refuse, before any work, outputs that would destroy data or cannot be written.

    Parameters
    ----------
    outputs : mapping
        Option name (``"--out"``, ``"--plot"``; used in the message) -> path, or None when
        not asked for. A ``--plot`` path must have an image suffix matplotlib writes.
    inputs : list of paths
        Files that must not be overwritten (the catalogue, the model's files).

    Raises
    ------
    GalmassError
        One line: an output names an input or another output
        (:func:`galmass.files.refuse_input_as_output`), is a directory, or lies in a
        directory that does not exist.
    """
    from .files import refuse_input_as_output

    refuse_input_as_output(dict(outputs), [i for i in inputs if i is not None])
    for opt, path in outputs.items():
        if path is None:
            continue
        p = Path(path)
        if str(path) == "":
            raise GalmassError(f"{opt} is an empty file name; give a file, e.g. "
                               f"{'profile.png' if 'plot' in opt else 'profile.csv'}")
        if p.is_dir():
            raise GalmassError(f"{opt} {str(path)!r} is a directory, not a file name; give a file, "
                               f"e.g. {p / ('profile.png' if 'plot' in opt else 'profile.csv')}")
        parent = p.parent
        if not parent.is_dir():
            raise GalmassError(f"{opt} {p}: the directory {parent} does not exist" if not parent.exists()
                               else f"{opt} {p}: {parent} is not a directory")
        if "plot" in opt:
            _plot_format(p)


def write_prediction(table, path: str | Path) -> Path:
    """Write the profile: ``*.ecsv`` keeps the metadata, anything else is plain CSV (columns only).

    The file is written atomically (:func:`galmass.files.atomic_path`): if the write fails
    the previous file at ``path`` is left as it was. ``path`` may not be the catalogue the
    table was made from (``meta["catalogue_path"]``).
    """
    import warnings

    from .files import atomic_path, write_problem

    p = Path(path)
    check_outputs({"the output": p}, _table_inputs(table))
    fmt = "ascii.ecsv" if p.suffix.lower() == ".ecsv" else "ascii.csv"
    try:
        with atomic_path(p) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table.write(tmp, format=fmt, overwrite=True)
    except GalmassError:
        raise
    except OSError as exc:
        raise GalmassError(f"cannot write {p}: {write_problem(exc) or one_line(exc)}") from None
    return p


def plot_profile(table, path: str | Path) -> Path:
    """Plot the posterior profile (median and 16-84 % band vs r [kpc], log M axis) and the
    literature estimators (gray markers with black edges); save it to ``path``.

    The image format follows the suffix of ``path`` (png without one). The file is written
    atomically (:func:`galmass.files.atomic_path`) and may not be the input catalogue.
    """
    from matplotlib.figure import Figure

    from .files import atomic_path, write_problem

    p = Path(path)
    check_outputs({"the plot": p}, _table_inputs(table))
    fmt = _plot_format(p)
    m = table.meta
    r = np.asarray(table["r_kpc"], float)
    fig = Figure(figsize=(5.5, 4.2))
    ax = fig.subplots()
    ax.fill_between(r, 10 ** np.asarray(table["log10_m_p16"]), 10 ** np.asarray(table["log10_m_p84"]),
                    color="C0", alpha=0.3, lw=0, label="16-84 %")
    ax.plot(r, 10 ** np.asarray(table["log10_m_p50"]), color="C0", lw=2, label="posterior median")
    first, k = True, 0
    for key, (r_est, lm) in m.get("estimators", {}).items():
        if not np.isfinite(lm):
            continue
        ax.plot(r_est, 10 ** lm, "o", color="0.6", mec="k", ms=6, label="estimators" if first else None)
        ax.annotate(key, (r_est, 10 ** lm), textcoords="offset points", fontsize=7,
                    xytext=(4, -10) if k % 2 == 0 else (-4, 6), ha="left" if k % 2 == 0 else "right")
        first = False
        k += 1
    ax.set_yscale("log")
    ax.set_xlabel("r [kpc]")
    ax.set_ylabel(r"$M(<r)$ [M$_\odot$]")
    title = Path(str(m.get("catalogue", ""))).name
    if m.get("ood"):
        title += "  (outside the training domain)"
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    try:
        with atomic_path(p) as tmp:
            fig.savefig(tmp, dpi=120, format=fmt)
    except GalmassError:
        raise
    except (OSError, ValueError) as exc:
        raise GalmassError(f"cannot write the plot {p}: {write_problem(exc) or one_line(exc)}") from None
    return p
