"""What a spectroscopic catalogue does to a projection's stars (issue #19), shared by training and ``predict``.

:func:`observe_stars` turns the exact stars of one line of sight into a catalogue such as a
survey delivers and then reduces it exactly as :func:`galmass.predict.predict` reduces a
user's catalogue:

1. **Field**: a spectroscopic field of radius ``field_radius`` x the true ``R_h`` about the
   true centre; member stars outside it are not observed.
2. **Binaries** (:mod:`galmass.observe.binaries`): a fraction of the members, uniform in
   ``binary_fraction_range`` per projection, carry the single-epoch orbital velocity of a
   binary's primary.
3. **Foreground** (:func:`galmass.observe.contamination.draw_foreground`): Milky Way stars,
   a fraction uniform in ``foreground_fraction_range`` of the final catalogue, uniform over
   the field, with velocities Gaussian about an offset uniform in
   ``foreground_offset_range`` [km/s] from the systemic velocity and a dispersion uniform in
   ``foreground_sigma_range`` [km/s].
4. **Errors**: per-star Gaussian velocity errors (:func:`galmass.observe.projection.draw_velocity_errors`).
5. **Membership**: without foreground every star is a member (p = 1); with it a mixture
   model (:func:`galmass.observe.contamination.membership_probabilities`) gives each star
   its ``p_member`` and, as ``predict`` does by default, the stars with
   ``p_member >= p_member_min`` are kept; or, with ``membership_weights``, the stars above
   a low floor are kept and weighted by ``p_member`` (``predict --p-member-weights``).
6. **Centre and systemic velocity**: with ``estimate_centre`` the centre is
   :func:`find_centre` of the kept stars weighted by ``p_member`` (as ``predict`` centres a
   catalogue), and the systemic velocity is their mean velocity (``predict``'s ``v_sys="mean"``).

Everything is seeded by the caller's generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from galmass.errors import GalmassError
from galmass.observe.binaries import BinaryPopulation, binary_velocity_offsets
from galmass.observe.contamination import draw_foreground, membership_probabilities
from galmass.observe.projection import draw_velocity_errors

__all__ = ["Nuisances", "ObservedStars", "observe_stars", "find_centre"]


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


def _range(value, what: str, lo: float, hi: float) -> tuple[float, float] | None:
    if value is None:
        return None
    a, b = (float(t) for t in value)
    if not lo <= a <= b <= hi:
        raise GalmassError(f"Nuisances.{what} must satisfy {lo:g} <= low <= high <= {hi:g}, got {tuple(value)}")
    return a, b


@dataclass(frozen=True)
class Nuisances:
    """Observational nuisances of a projection (module docstring); None switches one off.

    Attributes
    ----------
    v_err_range : (float, float) or None
        Typical velocity error per projection [km/s], uniform in the range.
    binary_fraction_range : (float, float) or None
        Binary fraction per projection, uniform in the range (within [0, 1]).
    foreground_fraction_range : (float, float) or None
        Fraction of foreground stars in the catalogue, uniform in the range (within [0, 0.9]).
    foreground_offset_range, foreground_sigma_range : (float, float)
        Mean offset from the systemic velocity and dispersion of the foreground [km/s].
    field_radius_range : (float, float)
        Radius of the spectroscopic field in units of the true ``R_h``.
    estimate_centre : bool
        Centre and systemic velocity estimated from the kept stars, as ``predict`` does.
    p_member_min : float
        Stars with a lower membership probability are dropped (``predict``'s default cut).
    membership_weights : bool
        Instead of the cut, keep the stars with ``p_member >= p_member_floor`` and weight
        them by ``p_member`` in every input (:func:`galmass.observe.inputs.make_inputs`);
        the systemic velocity is then the weighted mean (``predict``'s ``v_sys="weighted"``).
    p_member_floor : float
        Lowest ``p_member`` kept with ``membership_weights``.
    binaries : BinaryPopulation
        The binary population.
    """

    v_err_range: tuple[float, float] | None = None
    binary_fraction_range: tuple[float, float] | None = None
    foreground_fraction_range: tuple[float, float] | None = None
    foreground_offset_range: tuple[float, float] = (-60.0, 60.0)
    foreground_sigma_range: tuple[float, float] = (40.0, 100.0)
    field_radius_range: tuple[float, float] = (3.0, 6.0)
    estimate_centre: bool = False
    p_member_min: float = 0.5
    membership_weights: bool = False
    p_member_floor: float = 0.05
    binaries: BinaryPopulation = BinaryPopulation()

    def __post_init__(self) -> None:
        object.__setattr__(self, "v_err_range", _range(self.v_err_range, "v_err_range", 1e-6, 1e3))
        object.__setattr__(self, "binary_fraction_range", _range(self.binary_fraction_range, "binary_fraction_range", 0, 1))
        object.__setattr__(self, "foreground_fraction_range",
                           _range(self.foreground_fraction_range, "foreground_fraction_range", 0, 0.9))
        _range(self.foreground_sigma_range, "foreground_sigma_range", 1e-6, 1e4)
        _range(self.field_radius_range, "field_radius_range", 0.5, 1e3)
        if not 0 <= self.p_member_min < 1:
            raise GalmassError(f"Nuisances.p_member_min must lie in [0, 1), got {self.p_member_min}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "Nuisances":
        """The nuisances recorded in a dataset's build parameters (``manifest.json``) or in a
        model's ``info["dataset"]``; keys that are absent switch their nuisance off."""
        return cls(v_err_range=params.get("v_err_range"), binary_fraction_range=params.get("binary_fraction_range"),
                   foreground_fraction_range=params.get("foreground_fraction_range"),
                   estimate_centre=bool(params.get("estimate_centre", False)),
                   membership_weights=bool(params.get("membership_weights", False)))

    @property
    def dirty(self) -> bool:
        """True if anything beyond velocity errors is switched on."""
        return (self.binary_fraction_range is not None or self.foreground_fraction_range is not None
                or self.estimate_centre or self.membership_weights)


@dataclass
class ObservedStars:
    """A reduced catalogue of one projection: the stars the network sees.

    ``x, y`` [kpc] about the (estimated) centre, ``v`` [km/s] about the (estimated) systemic
    velocity, ``v_err`` [km/s] or None, ``p_member`` of the kept stars, ``is_member`` (truth:
    False for kept foreground stars), ``centre_offset`` [kpc] of the estimated centre from
    the true one, ``v_sys_offset`` [km/s], ``binary_fraction``, ``foreground_fraction`` (in
    the catalogue before the cut), ``n_catalogue`` (stars before the cut).
    """

    x: np.ndarray
    y: np.ndarray
    v: np.ndarray
    v_err: np.ndarray | None
    p_member: np.ndarray
    is_member: np.ndarray
    centre_offset: float
    v_sys_offset: float
    binary_fraction: float
    foreground_fraction: float
    n_catalogue: int


def observe_stars(x: np.ndarray, y: np.ndarray, v: np.ndarray, r_half: float, rng: np.random.Generator,
                  nuisances: Nuisances, name: str = "projection") -> ObservedStars:
    """Observe and reduce the exact stars of one projection (module docstring).

    Parameters
    ----------
    x, y : arrays (N,)
        True positions [kpc] about the true centre.
    v : array (N,)
        True line-of-sight velocities [km/s] about the true systemic velocity.
    r_half : float
        True projected half-number radius [kpc] (sets the field).
    rng : numpy.random.Generator
        Source of every nuisance.
    nuisances : Nuisances
        What to apply.
    """
    nu = nuisances
    x, y, v = (np.asarray(a, dtype=float) for a in (x, y, v))
    rf = float(r_half * rng.uniform(*nu.field_radius_range))
    inside = np.hypot(x, y) <= rf
    x, y, v = x[inside], y[inside], v[inside]
    fb = 0.0
    if nu.binary_fraction_range is not None:
        fb = float(rng.uniform(*nu.binary_fraction_range))
        v = v + binary_velocity_offsets(v.size, rng, fb, nu.binaries)
    member = np.ones(v.size, dtype=bool)
    ff = 0.0
    if nu.foreground_fraction_range is not None:
        ff = float(rng.uniform(*nu.foreground_fraction_range))
        n_fg = int(round(ff * v.size / (1.0 - ff)))
        fx, fy, fv = draw_foreground(n_fg, rng, rf, float(rng.uniform(*nu.foreground_offset_range)),
                                     float(rng.uniform(*nu.foreground_sigma_range)))
        x, y, v = np.r_[x, fx], np.r_[y, fy], np.r_[v, fv]
        member = np.r_[member, np.zeros(n_fg, dtype=bool)]
        order = rng.permutation(v.size)  # a catalogue does not list members first
        x, y, v, member = x[order], y[order], v[order], member[order]
    err = None
    if nu.v_err_range is not None:
        err = draw_velocity_errors(v.size, rng, nu.v_err_range)
        v = v + rng.normal(0.0, err)
    n_cat = int(v.size)
    if nu.foreground_fraction_range is not None:
        p = membership_probabilities(x, y, v, err, field_radius=rf).p_member
        keep = p >= (nu.p_member_floor if nu.membership_weights else nu.p_member_min)
        if keep.sum() < 2:
            raise GalmassError(f"{name}: fewer than 2 stars left after the membership cut")
        x, y, v, member, p = x[keep], y[keep], v[keep], member[keep], p[keep]
        err = None if err is None else err[keep]
    else:
        p = np.ones(v.size)
    cx = cy = 0.0
    if nu.estimate_centre:
        cx, cy = find_centre(x, y, p)
    vs = float(np.average(v, weights=p)) if nu.membership_weights else float(np.mean(v))
    return ObservedStars(x - cx, y - cy, v - vs, err, p, member, float(math.hypot(cx, cy)), vs, fb, ff, n_cat)
