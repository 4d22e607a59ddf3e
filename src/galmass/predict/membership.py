"""Membership for catalogues that do not give it: the training's mixture model, run by ``predict``."""

from __future__ import annotations

import numpy as np

from galmass.errors import GalmassError
from galmass.observe.contamination import membership_probabilities
from galmass.observe.nuisances import find_centre
from galmass.predict.catalogue import MIN_STARS, Catalog

__all__ = ["fit_membership"]


def fit_membership(catalog: Catalog, p_member_min: float = 0.5) -> Catalog:
    """Give a catalogue without ``p_member`` the mixture model's membership probabilities.

    The member + foreground mixture of :func:`galmass.observe.contamination.membership_probabilities`
    (the step that makes the membership of dirty training catalogues) is fitted to the stars
    (positions [kpc] about the catalogue's centre, velocities [km/s], errors); stars with
    ``p_member < p_member_min`` are dropped and the centre is found again from the kept
    stars weighted by ``p_member`` (:func:`galmass.observe.nuisances.find_centre`). The
    returned catalogue says so in ``meta["membership"]`` (``"fitted mixture"``), with the
    fitted member fraction, dispersion and foreground dispersion. A catalogue that has
    ``p_member`` is refused: its survey's probabilities are better than a refit.
    """
    if catalog.p_member is not None:
        raise GalmassError(f"{catalog.name} already has p_member; fit_membership is for catalogues without it "
                           f"(drop --fit-membership to use the catalogue's own probabilities)")
    v = catalog.v_los - float(np.median(catalog.v_los))
    fit = membership_probabilities(catalog.x, catalog.y, v, catalog.v_err)
    keep = fit.p_member >= p_member_min
    n = int(keep.sum())
    if n < MIN_STARS:
        raise GalmassError(f"{catalog.name}: the fitted membership keeps {n} stars with p_member >= {p_member_min:g} "
                           f"(of {catalog.n_stars}); at least {MIN_STARS} are needed")
    p = fit.p_member[keep]
    cx, cy = find_centre(catalog.x[keep], catalog.y[keep], p)
    meta = dict(catalog.meta, membership="fitted mixture", p_member_min=p_member_min,
                n_dropped_p_member=int(catalog.n_stars - n),
                membership_fit={"member_fraction": fit.fraction, "sigma_kms": fit.sigma,
                                "foreground_sigma_kms": fit.fg_sigma, "converged": fit.converged},
                centre_refit_offset_kpc=float(np.hypot(cx, cy)))
    return Catalog(catalog.x[keep] - cx, catalog.y[keep] - cy, catalog.v_los[keep],
                   None if catalog.v_err is None else catalog.v_err[keep], p, name=catalog.name, meta=meta)
