"""One galaxy's rows of the dataset: every line of sight's network inputs (:func:`galmass.observe.inputs.make_inputs`), labels and literature-estimator masses."""

from __future__ import annotations

import logging
import zlib
from typing import Sequence

import numpy as np

from galmass.constants import RADII_F
from galmass.errors import GalmassError, UnmeasurableDispersion
from galmass.observe.estimators import ESTIMATORS, apply_all
from galmass.observe.inputs import KDE_BANDWIDTHS, make_inputs
from galmass.observe.nuisances import Nuisances, observe_stars
from galmass.observe.projection import (draw_sample_sizes, draw_velocity_errors, fibonacci_directions, project,
                                        project_all, subsample_size)
from galmass.sources.galaxy import Galaxy

log = logging.getLogger(__name__)


#: Names (and order) of the three scalar inputs (Input 3 of the paper).
SCALAR_NAMES: tuple[str, str, str] = ("r_half", "sigma_los", "v_p98")
#: Column of the labels holding log10 M(< R_h) (f = 1.0 in RADII_F).
LABEL_RH_INDEX: int = int(np.flatnonzero(np.isclose(RADII_F, 1.0))[0])
#: Extra entropy word that separates projection random streams from galaxy generation.
PROJECTION_STREAM = 0x70726F6A  # "proj"


# --------------------------------------------------------------------------- one galaxy
def _est_names() -> list[str]:
    return list(ESTIMATORS)


def _n_est() -> int:
    return len(_est_names())


def projection_rng(seed: int, suite: str, index: int) -> np.random.Generator:
    """Random generator of the projections of galaxy ``index`` of ``suite``."""
    return np.random.default_rng([int(seed), zlib.crc32(suite.encode()), int(index), PROJECTION_STREAM])


def project_galaxy(galaxy: Galaxy, n_los: int, rng: np.random.Generator, map_size: int, *,
                   n_min_sample: int = 200, n_max_sample: int = 10_000, min_stars: int = 50,
                   kde_bandwidth: str = "paper", n_sample_range: Sequence[int] | None = None,
                   v_err_range: Sequence[float] | None = None,
                   nuisances: Nuisances | None = None) -> dict[str, np.ndarray]:
    """All ``n_los`` projections of a galaxy as CNN inputs and labels.

    Each line of sight gets its own random sub-sample of
    :func:`~galmass.observe.projection.subsample_size` ``(n_stars, n_min_sample, n_max_sample)``
    stars (:func:`galmass.observe.projection.project_all`), from which ``R_h``, ``sigma_los`` and
    ``v_p98`` are computed and the two KDE maps are made (:func:`galmass.observe.maps.position_maps`,
    :func:`galmass.observe.maps.phase_maps`).

    Parameters
    ----------
    galaxy : Galaxy
        The galaxy.
    n_los : int
        Lines of sight (Fibonacci directions).
    rng : numpy.random.Generator
        Source of the sub-samples (use :func:`projection_rng` for reproducible datasets).
    map_size : int
        Maps are ``map_size x map_size``.
    n_min_sample, n_max_sample : int
        Bounds of the sub-sample size.
    min_stars : int
        Minimum number of star particles.
    kde_bandwidth : {"paper", "scott"}
        ``"paper"`` (Appendix A): the ``n`` of Scott's factor is the number of stars of the
        projection within ``0.5 R_h`` (at least 1); ``"scott"``: all stars of the projection.
    n_sample_range : (int, int), optional
        Observational realism: each projection draws its own star count log-uniformly in
        this range (:func:`~galmass.observe.projection.draw_sample_sizes`, capped at the galaxy's
        stars) instead of ``subsample_size``.
    v_err_range : (float, float), optional
        Observational realism: Gaussian velocity errors [km/s]
        (:func:`~galmass.observe.projection.draw_velocity_errors`) are added to ``v_los``; the maps
        use the observed velocities, ``sigma_los`` and ``v_p98`` are corrected for the
        errors (:func:`~galmass.observe.projection.correct_for_errors`) and the estimators subtract
        them, exactly as :func:`galmass.predict.predict` does with a catalogue's ``v_err``.
    nuisances : Nuisances, optional
        Dirty catalogues (issue #19): field, binaries, foreground with a fitted membership
        cut, velocity errors, estimated centre and systemic velocity
        (:func:`galmass.observe.nuisances.observe_stars`). The inputs, estimators and labels
        then use the reduced catalogue; the labels are the true M(< f R_h) at the catalogue's
        own R_h, the radius ``predict`` reports. Excludes ``v_err_range`` (give it here).

    Returns
    -------
    dict
        Over the P <= n_los measurable projections (those whose velocity errors leave an
        intrinsic dispersion; ``los`` names them): ``map1``, ``map2`` (P, S, S) float32;
        ``scalars`` (P, 3) float64 (:data:`SCALAR_NAMES`: R_h [kpc], sigma_los [km/s], v_p98
        [km/s]); ``labels`` (P, 10) float64 = log10 M(< f R_h) [Msun] for f in RADII_F;
        ``los`` (P,) int32; ``direction`` (P, 3); ``n_sample`` (P,) int32.

    Raises
    ------
    GalmassError
        The galaxy cannot be projected: fewer than ``min_stars`` stars, NaN/infinite
        values, zero velocity dispersion, a degenerate map, no measurable projection
        (:class:`~galmass.errors.UnmeasurableDispersion`), ... (one line).
    """
    if kde_bandwidth not in KDE_BANDWIDTHS:
        raise GalmassError(f"kde_bandwidth must be 'paper' or 'scott', got {kde_bandwidth!r}")
    n = galaxy.n_stars
    if n < min_stars:
        raise GalmassError(f"galaxy {galaxy.name!r} has {n} star particles, fewer than the "
                           f"minimum of {min_stars}")
    if not (np.all(np.isfinite(galaxy.star_pos)) and np.all(np.isfinite(galaxy.star_vel))):
        raise GalmassError(f"galaxy {galaxy.name!r}: star positions or velocities contain NaN "
                           f"or infinite values")
    if n_sample_range is None:
        n_sample = subsample_size(n, n_min_sample, n_max_sample)
        projs = project_all(galaxy, n_los, rng, n_sample=n_sample, min_stars=min_stars)
    else:
        sizes = draw_sample_sizes(n, n_los, rng, n_sample_range, min_stars)
        projs = [project(galaxy, d, rng, n_sample=int(k), los_index=i, min_stars=min_stars)
                 for i, (d, k) in enumerate(zip(fibonacci_directions(n_los), sizes))]
    dirty = nuisances is not None and nuisances.dirty
    if nuisances is not None and v_err_range is not None:
        raise GalmassError("project_galaxy: give v_err_range inside nuisances, not both")
    # observed stars (errors, and dirty catalogues when asked), then the inputs exactly as predict makes them
    xs, ys, vel, errs, ws = [], [], [], [], []
    for p in projs:
        if dirty:
            obs = observe_stars(p.x, p.y, p.v_los, p.r_half, rng, nuisances, name=f"galaxy {galaxy.name!r}")
            xs.append(obs.x)
            ys.append(obs.y)
            vel.append(obs.v)
            errs.append(obs.v_err)
            ws.append(obs.p_member if nuisances.membership_weights else None)
            continue
        v, err = p.v_los, None
        v_range = v_err_range if nuisances is None else nuisances.v_err_range
        if v_range is not None:
            err = draw_velocity_errors(len(v), rng, v_range)
            v = v + rng.normal(0.0, err)
            v = v - v.mean()
        xs.append(p.x)
        ys.append(p.y)
        vel.append(v)
        errs.append(err)
    # a projection whose errors swamp its dispersion is one that predict refuses: it is left out,
    # the galaxy's other lines of sight kept (dropping the whole galaxy would cut the coldest
    # galaxies out of training); a galaxy with no measurable projection is skipped
    if not ws:
        ws = [None] * len(vel)
    parts, keep, first_error = [], [], None
    for i in range(len(projs)):
        try:
            parts.append(make_inputs([xs[i]], [ys[i]], [vel[i]], map_size, v_err=[errs[i]],
                                     kde_bandwidth=kde_bandwidth, name=f"galaxy {galaxy.name!r}",
                                     weights=None if ws[i] is None else [ws[i]]))
            keep.append(i)
        except UnmeasurableDispersion as exc:
            first_error = first_error or exc
    if not keep:
        raise first_error
    projs, vel, errs = [projs[i] for i in keep], [vel[i] for i in keep], [errs[i] for i in keep]
    inp = {k: np.concatenate([q[k] for q in parts]) for k in ("map1", "map2", "scalars")}
    inp["R"] = [q["R"][0] for q in parts]
    r_half = inp["scalars"][:, 0]
    if dirty:  # the truth at the radii predict reports: f times the catalogue's own R_h
        labels = np.log10(np.array([galaxy.enclosed_mass(RADII_F * rh) for rh in r_half], dtype=np.float64))
    else:
        labels = np.array([p.log10_mass for p in projs], dtype=np.float64)
    out = {
        "map1": inp["map1"],
        "map2": inp["map2"],
        "scalars": inp["scalars"],
        "labels": labels,
        "los": np.array([p.los_index for p in projs], dtype=np.int32),
        "direction": np.array([p.direction for p in projs], dtype=np.float64),
        "n_sample": np.array([len(v) for v in vel], dtype=np.int32),
    }
    # the literature estimators (Sect. 3) on the same stars, and the truth at their radii
    est_m, est_t = [], []
    for R, v, rh, err in zip(inp["R"], vel, r_half, errs):
        res = apply_all(R, v, float(rh), v_err=err)
        est_m.append([np.log10(res[k][1]) for k in ESTIMATORS])
        est_t.append([np.log10(float(galaxy.enclosed_mass(res[k][0]))) for k in ESTIMATORS])
    out["est_log_mass"] = np.array(est_m, dtype=np.float64)
    out["est_log_truth"] = np.array(est_t, dtype=np.float64)
    for key in ("map1", "map2", "scalars", "labels"):
        if not np.all(np.isfinite(out[key])):
            raise GalmassError(f"galaxy {galaxy.name!r}: {key} of its projections is not finite")
    return out
