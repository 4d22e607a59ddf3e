"""Literature dynamical-mass estimators of dispersion-supported galaxies (Sect. 3 of the paper).

Every estimator has the form::

    M(< f R_h) = C * R_h * <sigma_los^2> / G

with ``R_h`` the projected half-number radius [kpc], ``G`` in kpc (km/s)^2 / Msun
(:data:`galmass.constants.G`) and ``<sigma_los^2>`` [(km/s)^2] a line-of-sight velocity
variance, either of all the stars of the projection (``dispersion="global"``) or of the
stars with projected radius ``R < aperture * R_h`` (``dispersion="aperture"``). Variances are
sample variances (``ddof=1``) about the mean of the stars used.

=================  =============================  ======  =====  ======================
name               reference                      f       C      dispersion
=================  =============================  ======  =====  ======================
walker             Walker et al. 2009             1       2.5    all stars
wolf               Wolf et al. 2010               4/3     4      all stars
amorisco_evans     Amorisco & Evans 2012          1.67    5.85   R < R_h  (footnote 2)
campbell           Campbell et al. 2017           1.77    5.99   R < 1.04 R_h
errani             Errani et al. 2018             1.8     6.3    all stars (3.5 x 1.8)
=================  =============================  ======  =====  ======================

Amorisco & Evans (2012) use the dispersion *at* ``R_h``; like the paper (its footnote 2) we
use the average ``<sigma_los^2(< R_h)>`` inside ``R_h`` instead. The Peñarrubia et al. (2008)
estimator, which the paper describes but does not apply (Sect. 5.1), is provided separately
as :func:`penarrubia_2008` and is not in :data:`ESTIMATORS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal, Protocol

import numpy as np

from galmass.constants import G
from galmass.errors import GalmassError

__all__ = [
    "Estimator",
    "ESTIMATORS",
    "los_variance",
    "walker",
    "wolf",
    "amorisco_evans",
    "campbell",
    "errani",
    "apply_all",
    "apply_to_projections",
    "penarrubia_2008",
]


class _ProjectionLike(Protocol):
    x: np.ndarray
    y: np.ndarray
    v_los: np.ndarray
    r_half: float


def los_variance(v_los: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Line-of-sight velocity variance [(km/s)^2] (``ddof=1``, about the mean of the stars used).

    Parameters
    ----------
    v_los : array_like, shape (N,)
        Line-of-sight velocities [km/s].
    mask : array_like of bool, shape (N,), optional
        Stars to use (default: all).

    Returns
    -------
    float
        Sample variance [(km/s)^2].

    Raises
    ------
    GalmassError
        Fewer than two stars selected or NaN/infinite velocities.
    """
    v = np.asarray(v_los, dtype=float)
    if v.ndim != 1:
        raise GalmassError(f"v_los must be a 1-D array, got shape {v.shape}")
    if mask is not None:
        v = v[np.asarray(mask, dtype=bool)]
    if v.size < 2:
        raise GalmassError(f"need at least 2 stars to compute a velocity dispersion, got {v.size}")
    if not np.all(np.isfinite(v)):
        raise GalmassError("v_los contains NaN or infinite values")
    return float(np.var(v, ddof=1))


@dataclass(frozen=True)
class Estimator:
    """A mass estimator ``M(< f R_h) = C R_h <sigma_los^2> / G``.

    Attributes
    ----------
    name : str
        Key in :data:`ESTIMATORS`.
    reference : str
        Literature reference.
    radius_factor : float
        ``f``: the mass is estimated within ``f * R_h`` [kpc].
    coefficient : float
        ``C`` (dimensionless).
    dispersion : {"global", "aperture"}
        Variance of all stars, or of the stars with ``R < aperture * R_h``.
    aperture : float or None
        Aperture in units of ``R_h`` for ``dispersion="aperture"``.
    used_in_paper : bool
        Whether the paper applies the estimator (Sect. 5.1, Fig. 4).
    """

    name: str
    reference: str
    radius_factor: float
    coefficient: float
    dispersion: Literal["global", "aperture"] = "global"
    aperture: float | None = None
    used_in_paper: bool = True

    def __post_init__(self) -> None:
        if self.dispersion not in ("global", "aperture"):
            raise GalmassError(f"estimator {self.name!r}: dispersion must be 'global' or "
                               f"'aperture', got {self.dispersion!r}")
        if (self.dispersion == "aperture") != (self.aperture is not None):
            raise GalmassError(f"estimator {self.name!r}: an aperture is required exactly when "
                               f"dispersion='aperture'")

    @property
    def formula(self) -> str:
        """Human-readable formula."""
        disp = ("<sigma_los^2>" if self.dispersion == "global"
                else f"<sigma_los^2(<{self.aperture:g} R_h)>")
        return f"M(<{self.radius_factor:.4g} R_h) = {self.coefficient:g} R_h {disp} / G"

    def radius(self, r_half: np.ndarray | float) -> np.ndarray:
        """Radius ``f * R_h`` [kpc] of the estimate (vectorised over ``r_half`` [kpc])."""
        return self.radius_factor * np.asarray(r_half, dtype=float)

    def mass_from_variance(self, r_half: np.ndarray | float,
                           variance: np.ndarray | float) -> np.ndarray:
        """Mass [Msun] ``C * R_h * variance / G`` (vectorised, broadcasting).

        Parameters
        ----------
        r_half : float or ndarray
            Projected half-number radius [kpc].
        variance : float or ndarray
            The estimator's line-of-sight velocity variance [(km/s)^2].
        """
        return self.coefficient * np.asarray(r_half, dtype=float) * np.asarray(variance, dtype=float) / G

    def variance(self, R: np.ndarray, v_los: np.ndarray, r_half: float) -> float:
        """The estimator's line-of-sight variance [(km/s)^2] for one projection.

        Parameters
        ----------
        R : array_like, shape (N,)
            Projected radii [kpc] about the galaxy centre.
        v_los : array_like, shape (N,)
            Line-of-sight velocities [km/s].
        r_half : float
            Projected half-number radius [kpc].
        """
        R, v, r_half = _check_inputs(R, v_los, r_half)
        if self.dispersion == "global":
            return los_variance(v)
        mask = R < self.aperture * r_half  # type: ignore[operator]
        if mask.sum() < 2:
            raise GalmassError(f"estimator {self.name!r}: fewer than 2 stars within "
                               f"{self.aperture:g} R_h")
        return los_variance(v, mask)

    def __call__(self, R: np.ndarray, v_los: np.ndarray, r_half: float) -> tuple[float, float]:
        """Estimate ``(radius [kpc], mass [Msun])`` for one projection (see :meth:`variance`)."""
        var = self.variance(R, v_los, r_half)
        return float(self.radius(r_half)), float(self.mass_from_variance(r_half, var))


#: The estimators applied by the paper (Sect. 3 and 5.1), by name.
ESTIMATORS: dict[str, Estimator] = {
    e.name: e for e in (
        Estimator("walker", "Walker et al. 2009, ApJ 704, 1274", 1.0, 2.5),
        Estimator("wolf", "Wolf et al. 2010, MNRAS 406, 1220", 4.0 / 3.0, 4.0),
        Estimator("amorisco_evans", "Amorisco & Evans 2012, MNRAS 419, 184", 1.67, 5.85,
                  dispersion="aperture", aperture=1.0),
        Estimator("campbell", "Campbell et al. 2017, MNRAS 469, 2335", 1.77, 5.99,
                  dispersion="aperture", aperture=1.04),
        Estimator("errani", "Errani, Peñarrubia & Walker 2018, MNRAS 481, 5073", 1.8, 3.5 * 1.8),
    )
}


def walker(R: np.ndarray, v_los: np.ndarray, r_half: float) -> tuple[float, float]:
    """Walker et al. (2009): ``M(< R_h) = 2.5 R_h <sigma_los^2> / G``.

    Parameters
    ----------
    R : array_like, shape (N,)
        Projected radii [kpc] (unused: the dispersion is that of all stars).
    v_los : array_like, shape (N,)
        Line-of-sight velocities [km/s].
    r_half : float
        Projected half-number radius ``R_h`` [kpc].

    Returns
    -------
    (float, float)
        Radius [kpc] and enclosed mass [Msun].
    """
    return ESTIMATORS["walker"](R, v_los, r_half)


def wolf(R: np.ndarray, v_los: np.ndarray, r_half: float) -> tuple[float, float]:
    """Wolf et al. (2010): ``M(< 4/3 R_h) = 4 R_h <sigma_los^2> / G``.

    Parameters and returns as :func:`walker`.
    """
    return ESTIMATORS["wolf"](R, v_los, r_half)


def amorisco_evans(R: np.ndarray, v_los: np.ndarray, r_half: float) -> tuple[float, float]:
    """Amorisco & Evans (2012): ``M(< 1.67 R_h) = 5.85 R_h <sigma_los^2(< R_h)> / G``.

    The variance is that of the stars with ``R < R_h`` (paper's footnote 2), not the value
    of the dispersion profile at ``R_h``. Parameters and returns as :func:`walker`.
    """
    return ESTIMATORS["amorisco_evans"](R, v_los, r_half)


def campbell(R: np.ndarray, v_los: np.ndarray, r_half: float) -> tuple[float, float]:
    """Campbell et al. (2017): ``M(< 1.77 R_h) = 5.99 R_h <sigma_los^2(< 1.04 R_h)> / G``.

    Parameters and returns as :func:`walker`.
    """
    return ESTIMATORS["campbell"](R, v_los, r_half)


def errani(R: np.ndarray, v_los: np.ndarray, r_half: float) -> tuple[float, float]:
    """Errani et al. (2018): ``M(< 1.8 R_h) = 3.5 x 1.8 R_h <sigma_los^2> / G``.

    Parameters and returns as :func:`walker`.
    """
    return ESTIMATORS["errani"](R, v_los, r_half)


def apply_all(R: np.ndarray, v_los: np.ndarray, r_half: float,
              names: Iterable[str] | None = None,
              v_err: np.ndarray | None = None) -> dict[str, tuple[float, float]]:
    """Apply every estimator of :data:`ESTIMATORS` (or those in ``names``) to one projection.

    Parameters
    ----------
    R : array_like, shape (N,)
        Projected radii [kpc] about the galaxy centre.
    v_los : array_like, shape (N,)
        Line-of-sight velocities [km/s].
    r_half : float
        Projected half-number radius [kpc].
    names : iterable of str, optional
        Subset of estimator names.
    v_err : array_like, shape (N,), optional
        1-sigma velocity errors [km/s]; ``mean(v_err^2)`` of the stars an estimator uses is
        subtracted from its variance. A non-positive corrected variance gives mass NaN.

    Returns
    -------
    dict
        ``name -> (radius [kpc], mass [Msun])``.
    """
    if v_err is None:
        return {name: est(R, v_los, r_half) for name, est in _select(names).items()}
    R = np.asarray(R, dtype=float)
    v_err = np.asarray(v_err, dtype=float)
    out = {}
    for name, est in _select(names).items():
        var = est.variance(R, v_los, r_half)
        mask = np.ones(len(R), bool) if est.dispersion == "global" else R < est.aperture * r_half
        var -= float(np.mean(v_err[mask] ** 2))
        out[name] = (float(est.radius(r_half)),
                     float(est.mass_from_variance(r_half, var)) if var > 0 else float("nan"))
    return out


def apply_to_projections(projections: Iterable[_ProjectionLike],
                         names: Iterable[str] | None = None
                         ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Apply the estimators to many projections (records with ``x, y, v_los, r_half``).

    Parameters
    ----------
    projections : iterable of Projection
        E.g. the output of :func:`galmass.observe.projection.project_all`.
    names : iterable of str, optional
        Subset of estimator names.

    Returns
    -------
    dict
        ``name -> (radii [kpc], masses [Msun])``, arrays of shape (n_projections,).
    """
    chosen = _select(names)
    projections = list(projections)
    r_half = np.array([p.r_half for p in projections], dtype=float)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    # the global variance is shared by every "global" estimator: compute it once
    var_global = np.array([los_variance(p.v_los) for p in projections])
    for name, est in chosen.items():
        if est.dispersion == "global":
            var = var_global
        else:
            var = np.array([est.variance(np.hypot(p.x, p.y), p.v_los, p.r_half)
                            for p in projections])
        out[name] = (est.radius(r_half), est.mass_from_variance(r_half, var))
    return out


def penarrubia_2008(R: np.ndarray, v_los: np.ndarray, r_core: float,
                    aperture: float | None = None) -> tuple[float, float]:
    """Peñarrubia et al. (2008): ``M(< R_c) = 1.44 R_c sigma_los^2(0) / G``.

    NOT used by the paper (Sect. 5.1 skips it because its isotropy assumption fails on the
    simulated galaxies) and not part of :data:`ESTIMATORS`. It needs the King core radius
    ``R_c`` [kpc], which is not a multiple of ``R_h``; the central dispersion ``sigma_los(0)``
    is approximated by the dispersion of the stars with ``R < aperture`` (default ``R_c``).

    Parameters
    ----------
    R : array_like, shape (N,)
        Projected radii [kpc].
    v_los : array_like, shape (N,)
        Line-of-sight velocities [km/s].
    r_core : float
        King core radius ``R_c`` [kpc].
    aperture : float, optional
        Radius [kpc] inside which the central dispersion is measured.

    Returns
    -------
    (float, float)
        Radius ``R_c`` [kpc] and enclosed mass [Msun].
    """
    R, v, r_core = _check_inputs(R, v_los, r_core)
    aperture = r_core if aperture is None else float(aperture)
    var = los_variance(v, R < aperture)
    return r_core, 1.44 * r_core * var / G


def _select(names: Iterable[str] | None) -> dict[str, Estimator]:
    if names is None:
        return dict(ESTIMATORS)
    names = list(names)
    unknown = [n for n in names if n not in ESTIMATORS]
    if unknown:
        raise GalmassError(f"unknown mass estimator(s) {unknown}; known: {sorted(ESTIMATORS)}")
    return {n: ESTIMATORS[n] for n in names}


def _check_inputs(R: np.ndarray, v_los: np.ndarray, radius: float
                  ) -> tuple[np.ndarray, np.ndarray, float]:
    R = np.asarray(R, dtype=float)
    v = np.asarray(v_los, dtype=float)
    if R.ndim != 1 or R.shape != v.shape:
        raise GalmassError(f"R and v_los must be 1-D arrays of the same length, got shapes "
                           f"{R.shape} and {v.shape}")
    if not (np.all(np.isfinite(R)) and np.all(np.isfinite(v))):
        raise GalmassError("R or v_los contains NaN or infinite values")
    radius = float(radius)
    if not (np.isfinite(radius) and radius > 0):
        raise GalmassError(f"radius (R_h or R_c) must be finite and positive, got {radius!r}")
    return R, v, radius
