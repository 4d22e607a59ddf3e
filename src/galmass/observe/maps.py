"""Kernel-density maps used as the CNN inputs (Sect. 4.1 and Appendix A of the paper).

The paper feeds the network two 2-D probability density functions (PDFs) of the
projected stellar data, both estimated with a bivariate Gaussian kernel density
estimate (KDE) whose bandwidth matrix is the sample covariance times Scott's factor:

* the *position map*, the PDF of ``{x / R_h, y / R_h}`` sampled on
  ``[-2.4, 2.4] x [-2.4, 2.4]`` (:func:`position_map`);
* the *phase map*, the PDF of ``{R / R_h, v_los / v_los,p98}`` sampled on
  ``[-2.4, 2.4] x [-1, 1]`` (:func:`phase_map`).

The KDE itself (:func:`~galmass.observe.kde.kde_map`, :func:`~galmass.observe.kde.kde_maps`:
the same numbers as ``scipy.stats.gaussian_kde`` on the grid nodes, by FFT) is
:mod:`galmass.observe.kde`, whose docstring gives the method, conventions and accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from galmass.errors import GalmassError
from galmass.observe.kde import BandwidthPoints, kde_bandwidth, kde_map, kde_maps
from galmass.observe.kde_checks import _bandwidth_count

__all__ = ["EXTENT_POSITION", "EXTENT_PHASE", "PAPER_SHAPE", "kde_map", "kde_maps", "kde_bandwidth",
           "position_map", "phase_map", "position_maps", "phase_maps"]

#: Extent ``(xmin, xmax, ymin, ymax)`` of the position map, in units of R_h (paper Sect. 4.1).
EXTENT_POSITION: tuple[float, float, float, float] = (-2.4, 2.4, -2.4, 2.4)
#: Extent of the phase map: R / R_h in [-2.4, 2.4] (columns), v_los / v_p98 in [-1, 1] (rows).
EXTENT_PHASE: tuple[float, float, float, float] = (-2.4, 2.4, -1.0, 1.0)

#: Default map shape ``(ny, nx)`` of the paper.
PAPER_SHAPE: tuple[int, int] = (256, 256)


# --------------------------------------------------------------------------- paper inputs
def _check_positive(value: float, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise GalmassError(f"{name} must be a positive number, got {value!r}") from None
    if not (np.isfinite(v) and v > 0):
        raise GalmassError(f"{name} must be a positive finite number, got {v}")
    return v


def _as_1d(a: npt.ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(a, dtype=float)
    if arr.ndim != 1:
        raise GalmassError(f"{name} must be a 1-D array, got shape {arr.shape}")
    return arr


def _position_points(x: npt.ArrayLike, y: npt.ArrayLike, r_half: float) -> np.ndarray:
    xa, ya = _as_1d(x, "x"), _as_1d(y, "y")
    if xa.shape != ya.shape:
        raise GalmassError(f"x and y must have the same length, got {len(xa)} and {len(ya)}")
    rh = _check_positive(r_half, "r_half")
    return np.column_stack([xa / rh, ya / rh])


def _phase_points(
    R: npt.ArrayLike, v_los: npt.ArrayLike, r_half: float, v_p98: float, bandwidth_points: BandwidthPoints
) -> tuple[np.ndarray, int]:
    Ra, va = _as_1d(R, "R"), _as_1d(v_los, "v_los")
    if Ra.shape != va.shape:
        raise GalmassError(f"R and v_los must have the same length, got {len(Ra)} and {len(va)}")
    n = len(Ra)
    bad = int(np.count_nonzero(~(np.isfinite(Ra) & np.isfinite(va))))
    if bad:
        raise GalmassError(f"R and v_los contain {bad} non-finite (NaN or inf) value(s)")
    if n < 3:
        raise GalmassError(f"a phase map needs at least 3 stars, got {n}")
    if np.any(Ra < 0):
        raise GalmassError(f"R must be projected radii >= 0, got {int(np.count_nonzero(Ra < 0))} negative value(s)")
    rh = _check_positive(r_half, "r_half")
    vp = _check_positive(v_p98, "v_p98")
    r, v = Ra / rh, va / vp
    pts = np.column_stack([np.concatenate([r, -r]), np.concatenate([v, v])])
    if isinstance(bandwidth_points, float):  # an effective number of weighted stars (kde_maps checks it)
        return pts, bandwidth_points
    return pts, _bandwidth_count(bandwidth_points, n)


def position_map(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    r_half: float,
    shape: Sequence[int] = PAPER_SHAPE,
    bandwidth_points: BandwidthPoints = None,
) -> np.ndarray:
    """Input 1 of the paper: the PDF of projected positions ``{x / R_h, y / R_h}``.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Projected (sky-plane) star coordinates, centred on the galaxy [kpc, or any unit
        shared with ``r_half``].
    r_half : float
        Projected half-light (half-number) radius ``R_h`` in the same unit.
    shape : (ny, nx), optional
        Map shape; the paper uses 256 x 256.
    bandwidth_points : bool array of shape (n,) or int, optional
        Preprint variant of Scott's factor, see :func:`kde_map`.

    Returns
    -------
    ndarray, shape (ny, nx), float32
        The KDE density [per (R_h)^2] at the nodes of ``EXTENT_POSITION``
        (``[-2.4, 2.4]^2`` in units of R_h); rows run along ``y / R_h``, columns along
        ``x / R_h``: ``out[i, j] = f(x_j, y_i)``.
    """
    pts = _position_points(x, y, r_half)
    return kde_map(pts, EXTENT_POSITION, shape, bandwidth_points).astype(np.float32)


def phase_map(
    R: npt.ArrayLike,
    v_los: npt.ArrayLike,
    r_half: float,
    v_p98: float,
    shape: Sequence[int] = PAPER_SHAPE,
    bandwidth_points: BandwidthPoints = None,
) -> np.ndarray:
    """Input 2 of the paper: the PDF of ``{R / R_h, v_los / v_los,p98}``.

    The projected radius is non-negative, yet the paper samples the PDF on
    ``R / R_h in [-2.4, 2.4]``. We **mirror** the sample: the KDE is built from the
    ``2n`` points ``(R, v)`` and ``(-R, v)``. The map is thus symmetric in ``R``, its
    ``R >= 0`` half equals half the reflection-corrected KDE of ``(R, v)`` (no boundary
    bias at ``R = 0``, where a plain KDE would leak half its mass to ``R < 0``), and it is
    still a PDF normalised over the whole plane. The kernel covariance is the covariance
    of the mirrored sample (so ``cov(R, v) = 0`` and ``var(R) = <R^2>``) times Scott's
    factor for the ``n`` *real* stars, ``n**(-1/3)`` (not ``(2n)**(-1/3)``: mirroring adds
    no information), or for the count given by ``bandwidth_points``.

    Parameters
    ----------
    R : array_like, shape (n,)
        Projected radii ``sqrt(x^2 + y^2) >= 0`` [kpc, same unit as ``r_half``].
    v_los : array_like, shape (n,)
        Line-of-sight velocities relative to the systemic velocity [km/s].
    r_half : float
        Projected half-light radius ``R_h``.
    v_p98 : float
        Velocity scale ``v_los,p98`` (98th percentile of ``|v_los|``) [km/s].
    shape : (ny, nx), optional
        Map shape; the paper uses 256 x 256.
    bandwidth_points : bool array of shape (n,) or int, optional
        Preprint variant of Scott's factor, see :func:`kde_map` (a mask refers to the
        ``n`` real stars, e.g. ``R < 0.5 * r_half``).

    Returns
    -------
    ndarray, shape (ny, nx), float32
        The KDE density [per (R_h * v_p98)] at the nodes of ``EXTENT_PHASE``; rows run
        along ``v_los / v_p98`` in ``[-1, 1]``, columns along ``R / R_h`` in
        ``[-2.4, 2.4]``: ``out[i, j] = f(R_j, v_i)``.
    """
    pts, count = _phase_points(R, v_los, r_half, v_p98, bandwidth_points)
    return kde_map(pts, EXTENT_PHASE, shape, count).astype(np.float32)


def position_maps(
    xs: Sequence[npt.ArrayLike],
    ys: Sequence[npt.ArrayLike],
    r_halfs: Sequence[float],
    shape: Sequence[int] = PAPER_SHAPE,
    bandwidth_points: Sequence[BandwidthPoints] | None = None,
    weights: Sequence[npt.ArrayLike | None] | None = None,
) -> np.ndarray:
    """Batched :func:`position_map` (e.g. all projections of a galaxy): (B, ny, nx) float32.

    ``weights``: per-star weights of each sample (membership probabilities), see
    :func:`galmass.observe.kde.kde_maps`; None: equal weights.
    """
    if not (len(xs) == len(ys) == len(r_halfs)):
        raise GalmassError(f"xs, ys and r_halfs must have equal lengths, got {len(xs)}, {len(ys)}, {len(r_halfs)}")
    pts = [_position_points(x, y, rh) for x, y, rh in zip(xs, ys, r_halfs)]
    return kde_maps(pts, EXTENT_POSITION, shape, bandwidth_points, weights=weights).astype(np.float32)


def phase_maps(
    Rs: Sequence[npt.ArrayLike],
    vs: Sequence[npt.ArrayLike],
    r_halfs: Sequence[float],
    v_p98s: Sequence[float],
    shape: Sequence[int] = PAPER_SHAPE,
    bandwidth_points: Sequence[BandwidthPoints] | None = None,
    weights: Sequence[npt.ArrayLike | None] | None = None,
) -> np.ndarray:
    """Batched :func:`phase_map` (same mirroring, the weights mirrored too): (B, ny, nx) float32."""
    if not (len(Rs) == len(vs) == len(r_halfs) == len(v_p98s)):
        raise GalmassError(
            f"Rs, vs, r_halfs and v_p98s must have equal lengths, got {len(Rs)}, {len(vs)}, "
            f"{len(r_halfs)}, {len(v_p98s)}"
        )
    bws = [None] * len(Rs) if bandwidth_points is None else list(bandwidth_points)
    if len(bws) != len(Rs):
        raise GalmassError(f"bandwidth_points has {len(bws)} entries for {len(Rs)} samples")
    built = [_phase_points(R, v, rh, vp, bw) for R, v, rh, vp, bw in zip(Rs, vs, r_halfs, v_p98s, bws)]
    if weights is not None:
        if len(weights) != len(Rs):
            raise GalmassError(f"weights has {len(weights)} entries for {len(Rs)} samples")
        weights = [None if w is None else np.concatenate([np.asarray(w, float)] * 2) for w in weights]
    return kde_maps([p for p, _ in built], EXTENT_PHASE, shape, [c for _, c in built],
                    weights=weights).astype(np.float32)
