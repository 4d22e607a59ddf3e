"""Input checks of :mod:`galmass.observe.kde`: points, grid extent and shape, Scott's point count, weights.

Each raises one :class:`~galmass.errors.GalmassError` line naming the problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import numpy as np
import numpy.typing as npt

from galmass.errors import GalmassError

BandwidthPoints = Union[None, int, np.integer, npt.ArrayLike]


def _as_points(points: npt.ArrayLike, what: str = "points") -> np.ndarray:
    try:
        pts = np.asarray(points, dtype=float)
    except (TypeError, ValueError) as exc:
        raise GalmassError(f"{what} must be a numeric array of shape (n, 2): {exc}") from None
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise GalmassError(f"{what} must have shape (n, 2), got {pts.shape}")
    if not np.all(np.isfinite(pts)):
        bad = int(np.count_nonzero(~np.all(np.isfinite(pts), axis=1)))
        raise GalmassError(f"{what} contain {bad} non-finite (NaN or inf) row(s)")
    if len(pts) < 3:
        raise GalmassError(f"{what}: a 2-D KDE needs at least 3 points, got {len(pts)}")
    return pts




def _check_extent(extent: Sequence[float]) -> tuple[float, float, float, float]:
    try:
        ext = tuple(float(e) for e in extent)
    except (TypeError, ValueError):
        raise GalmassError(f"extent must be 4 numbers (xmin, xmax, ymin, ymax), got {extent!r}") from None
    if len(ext) != 4:
        raise GalmassError(f"extent must be 4 numbers (xmin, xmax, ymin, ymax), got {len(ext)}")
    if not all(np.isfinite(ext)):
        raise GalmassError(f"extent must be finite, got {ext}")
    xmin, xmax, ymin, ymax = ext
    if not (xmax > xmin and ymax > ymin):
        raise GalmassError(f"extent must have xmax > xmin and ymax > ymin, got {ext}")
    return ext  # type: ignore[return-value]




def _check_shape(shape: Sequence[int]) -> tuple[int, int]:
    try:
        vals = tuple(shape)
    except TypeError:
        raise GalmassError(f"shape must be two integers (ny, nx), got {shape!r}") from None
    if len(vals) != 2 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in vals
    ):
        raise GalmassError(f"shape must be two integers (ny, nx), got {shape!r}")
    ny, nx = int(vals[0]), int(vals[1])
    if ny < 2 or nx < 2:
        raise GalmassError(f"shape must be at least (2, 2) grid nodes, got {(ny, nx)}")
    return ny, nx




def _bandwidth_count(bandwidth_points: BandwidthPoints, n: int) -> int:
    """Number of points entering Scott's factor (``n`` when ``bandwidth_points`` is None)."""
    if bandwidth_points is None:
        return n
    if isinstance(bandwidth_points, (bool, np.bool_)):
        raise GalmassError("bandwidth_points must be a boolean mask of length n or a positive integer, got a bool")
    if isinstance(bandwidth_points, (int, np.integer)):
        count = int(bandwidth_points)
        if count < 1:
            raise GalmassError(f"bandwidth_points must be a positive integer, got {count}")
        return count

    mask = np.asarray(bandwidth_points)
    if mask.dtype != bool or mask.ndim != 1:
        raise GalmassError(
            "bandwidth_points must be a boolean mask of length n or a positive integer, "
            f"got an array of dtype {mask.dtype} and shape {mask.shape}"
        )
    if len(mask) != n:
        raise GalmassError(f"bandwidth_points mask has length {len(mask)}, expected n = {n}")
    count = int(np.count_nonzero(mask))
    if count < 1:
        raise GalmassError("bandwidth_points mask selects no points")
    return count




def _check_weights(w: npt.ArrayLike | None, n: int, b: int) -> np.ndarray | None:
    """Point weights normalised to sum 1, or None."""
    if w is None:
        return None
    wa = np.asarray(w, dtype=float)
    if wa.shape != (n,):
        raise GalmassError(f"weights[{b}] has shape {wa.shape}, expected ({n},)")
    if not (np.all(np.isfinite(wa)) and np.all(wa >= 0) and wa.sum() > 0):
        raise GalmassError(f"weights[{b}] must be finite, >= 0 and not all zero")
    return wa / wa.sum()




def _weighted_count(bandwidth_points: BandwidthPoints, w: np.ndarray) -> float:
    """Scott's ``n`` of a weighted sample: the effective number of (masked) points."""
    if bandwidth_points is None:
        return 1.0 / float(np.sum(w * w))
    if isinstance(bandwidth_points, (float, np.floating)):  # an effective number given by the caller
        if not (np.isfinite(bandwidth_points) and bandwidth_points > 0):
            raise GalmassError(f"bandwidth_points must be positive, got {bandwidth_points}")
        return float(bandwidth_points)
    mask = np.asarray(bandwidth_points)
    if mask.dtype == bool and mask.shape == w.shape:
        sel = w[mask]
        if not sel.sum() > 0:
            raise GalmassError("bandwidth_points mask selects no points of positive weight")
        return float(sel.sum() ** 2 / np.sum(sel * sel))
    return _bandwidth_count(bandwidth_points, len(w))
