"""Out-of-distribution check of the scalar inputs (Appendix C of the paper).

The 99% contours of the training projections in each pair of the log10 scalars
(R_h [kpc], sigma_los [km/s], v_p98 [km/s]) define the input domain; a projection outside
any of the three pairwise contours is flagged, with the pair that flags it as the reason.
The densities are Gaussian KDEs (:func:`galmass.observe.maps.kde_map`) on a grid; the contour level
is the density exceeded by 99% of the training points.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations

import numpy as np

from galmass.errors import GalmassError
from galmass.observe.maps import kde_map

__all__ = ["InputDomain", "SCALAR_LABELS"]

SCALAR_LABELS = ("log10 R_h", "log10 sigma_los", "log10 v_p98")


@dataclass
class InputDomain:
    """Pairwise 99% contours of the training scalars.

    Attributes
    ----------
    pairs : list of (int, int)
        Indices of the scalar pairs.
    extents : list of (xmin, xmax, ymin, ymax)
        Grid extent per pair (log10 units).
    grids : list of 2-D lists
        KDE density per pair on a (n, n) grid.
    levels : list of float
        Density level enclosing ``fraction`` of the training points, per pair.
    fraction : float
        Enclosed fraction (0.99).
    """

    pairs: list
    extents: list
    grids: list
    levels: list
    fraction: float = 0.99

    @classmethod
    def fit(cls, scalars: np.ndarray, fraction: float = 0.99, n_grid: int = 96) -> "InputDomain":
        """Fit the contours on training scalars (N, 3) in linear units (kpc, km/s)."""
        x = _log(scalars)
        pairs, extents, grids, levels = [], [], [], []
        for i, j in combinations(range(x.shape[1]), 2):
            pts = x[:, [i, j]]
            lo, hi = pts.min(0), pts.max(0)
            pad = 0.25 * (hi - lo) + 1e-3
            ext = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
            grid = kde_map(pts, ext, (n_grid, n_grid))
            dens = _bilinear(grid, ext, pts[:, ::-1])
            pairs.append((i, j)); extents.append(tuple(map(float, ext)))
            grids.append(grid.astype(float).tolist())
            levels.append(float(np.quantile(dens, 1.0 - fraction)))
        return cls(pairs, extents, grids, levels, fraction)

    def outside(self, scalars: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Boolean (N,) flag of projections outside the domain, and one reason per flag."""
        x = _log(scalars)
        flag = np.zeros(len(x), dtype=bool)
        reasons = [""] * len(x)
        for (i, j), ext, grid, level in zip(self.pairs, self.extents, self.grids, self.levels):
            pts = x[:, [i, j]]
            dens = _bilinear(np.asarray(grid), ext, pts[:, ::-1])
            out = ~(dens >= level)
            for k in np.flatnonzero(out & ~flag):
                reasons[k] = (f"({SCALAR_LABELS[i]}, {SCALAR_LABELS[j]}) = ({pts[k, 0]:.2f}, {pts[k, 1]:.2f}) "
                              f"outside the {100 * self.fraction:.0f}% contour of the training set")
            flag |= out
        return flag, reasons

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "InputDomain":
        """The domain stored by :meth:`to_dict`; a malformed one raises :class:`GalmassError`."""
        if not isinstance(d, dict):
            raise GalmassError(f"an input domain is a JSON object, not {type(d).__name__}")
        names = {"pairs", "extents", "grids", "levels", "fraction"}
        if set(d) - names or not {"pairs", "extents", "grids", "levels"} <= set(d):
            raise GalmassError(f"an input domain has the keys {sorted(names)}, not {sorted(d)}")
        try:
            pairs = [(int(i), int(j)) for i, j in d["pairs"]]
            extents = [[float(v) for v in e] for e in d["extents"]]
            grids = [np.asarray(g, dtype=float) for g in d["grids"]]
            levels = [float(v) for v in d["levels"]]
            fraction = float(d.get("fraction", 0.99))
        except (TypeError, ValueError) as exc:
            raise GalmassError(f"an input domain has malformed values ({exc})") from None
        n = len(pairs)
        if (n == 0 or len(extents) != n or len(grids) != n or len(levels) != n
                or any(len(e) != 4 for e in extents) or any(g.ndim != 2 or g.size == 0 for g in grids)
                or any(not (0 <= i < len(SCALAR_LABELS) and 0 <= j < len(SCALAR_LABELS)) for i, j in pairs)
                or not all(np.all(np.isfinite(g)) for g in grids) or not 0 < fraction <= 1):
            raise GalmassError("an input domain has inconsistent pairs, extents, grids or levels")
        return cls([list(p) for p in pairs], extents, [g.tolist() for g in grids], levels, fraction)


def _log(scalars: np.ndarray) -> np.ndarray:
    s = np.asarray(scalars, dtype=float)
    if s.ndim != 2 or s.shape[1] != 3:
        raise GalmassError(f"scalars must be (N, 3) = (R_h, sigma_los, v_p98), got shape {s.shape}")
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise GalmassError("scalars (R_h, sigma_los, v_p98) must be finite and positive")
    return np.log10(s)


def _bilinear(grid: np.ndarray, ext, yx: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of ``grid`` (ny, nx) on the nodes of ``ext = (xmin, xmax, ymin,
    ymax)`` at points ``yx`` (N, 2) = (y, x); 0 outside the grid (or for non-finite points).

    The same numbers as ``scipy.interpolate.RegularGridInterpolator(..., bounds_error=False,
    fill_value=0)`` (a test compares them), without importing scipy.interpolate (~0.4 s of
    ``galmass predict``'s start-up).
    """
    g = np.asarray(grid, dtype=float)
    ny, nx = g.shape
    yx = np.asarray(yx, dtype=float)
    fy = (yx[:, 0] - ext[2]) / (ext[3] - ext[2]) * (ny - 1)
    fx = (yx[:, 1] - ext[0]) / (ext[1] - ext[0]) * (nx - 1)
    inside = np.isfinite(fy) & np.isfinite(fx) & (fy >= 0) & (fy <= ny - 1) & (fx >= 0) & (fx <= nx - 1)
    fy, fx = np.where(inside, fy, 0.0), np.where(inside, fx, 0.0)
    iy = np.clip(np.floor(fy).astype(int), 0, ny - 2)
    ix = np.clip(np.floor(fx).astype(int), 0, nx - 2)
    ty, tx = fy - iy, fx - ix
    v = (g[iy, ix] * (1 - ty) * (1 - tx) + g[iy + 1, ix] * ty * (1 - tx)
         + g[iy, ix + 1] * (1 - ty) * tx + g[iy + 1, ix + 1] * ty * tx)
    return np.where(inside, v, 0.0)
