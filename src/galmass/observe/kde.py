"""Fast Gaussian kernel density estimates on a grid (the engine of the CNN input maps, Appendix A).

:func:`kde_map` computes the same numbers as ``scipy.stats.gaussian_kde`` evaluated on
the grid nodes, but in ``O(n + G log G)`` time instead of ``O(n G)`` (``G`` = number of
grid nodes), by linear ("cloud-in-cell") binning of the points on a padded grid
followed by an FFT convolution with the Gaussian kernel. For ``10^4`` stars on a
256 x 256 grid this is thousands of times faster than the direct sum, with an error
well below 1 % of the map's peak. :func:`kde_maps` does many maps at once.

Conventions
-----------
``extent = (xmin, xmax, ymin, ymax)`` and ``shape = (ny, nx)``. The grid nodes are
``x_j = np.linspace(xmin, xmax, nx)[j]`` and ``y_i = np.linspace(ymin, ymax, ny)[i]``
(the extent includes the outer nodes, i.e. nodes, not pixel centres) and a map ``m``
holds ``m[i, j] = f(x_j, y_i)``: rows run along the second coordinate. Maps are
densities normalised over the whole plane (like ``gaussian_kde``): probability mass
outside ``extent`` is simply not shown, so a map does not sum to one.

Method and accuracy
-------------------
For a kernel covariance ``H`` and a binning grid of spacings ``(hx, hy)`` whose nodes
include the output nodes:

1. each point's weight ``1/n`` is shared linearly between the four surrounding nodes
   ("cloud in cell"). On average this convolves the data with a triangle of variance
   ``h^2 / 6`` per axis, so the kernel used in step 2 has covariance
   ``H - diag(hx^2, hy^2) / 6`` (second-order bias correction; the result is still a
   positive Gaussian smoothing);
2. the binned grid is convolved with the Gaussian by FFT (float32). The DFT of the
   sampled kernel is computed analytically (Poisson summation:
   ``exp(-2 pi^2 f^T H f) / (hx hy)``; aliasing is negligible for the spacings used),
   and frequencies where it is below ``exp(-40)`` are skipped;
3. the grid is padded by at least ``4`` marginal kernel sigmas on each side, so stars
   outside ``extent`` still contribute; stars farther out are dropped and the periodic
   images of the FFT are at least as far away (their effect is below ~1e-4 of the local
   density there, i.e. invisible).

The binning grid spacing equals the output spacing when the kernel is wide enough:
its conditional sigma along each axis at least ``s = clip(5 n^(-1/6), 1.5, 4.5)``
cells (``1.5`` for ``n >~ 1e4``, ``2.1`` for ``n = 200``, ``4.2`` for ``n = 3``, see
:func:`_min_sigma_cells`); otherwise the binning grid is refined by an integer factor
``k`` and every ``k``-th node is returned. The error relative to the map's peak is then
typically ~1e-4-2e-3 and below 1 % in all cases tested (the largest, ~0.5 %, for
``n = 3``); float32 round-off adds ~1e-6 of the peak. If the padded binning grid would
exceed ``4096`` nodes per axis (a kernel huge or tiny compared with the grid spacing),
the map is computed by exact direct summation instead (slower).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from galmass.errors import GalmassError
from galmass.observe.kde_checks import (BandwidthPoints, _as_points, _bandwidth_count, _check_extent, _check_shape,
                                        _check_weights, _weighted_count)

__all__ = ["kde_map", "kde_maps", "kde_bandwidth", "BandwidthPoints"]

#: Kernel truncation / grid padding, in marginal kernel sigmas.
_PAD_SIGMAS = 4.0
#: Largest binning grid (nodes per axis) before falling back to direct summation.
_MAX_GRID = 4096
#: Batching: at most this many grid nodes per batched FFT (~4 MB of float32, cache friendly).
_MAX_BATCH_NODES = 1024 * 1024
#: Largest number of (point, node) pairs per chunk in the direct-summation fallback.
_DIRECT_CHUNK = 2_000_000



# --------------------------------------------------------------------------- bandwidth
def kde_bandwidth(points: npt.ArrayLike, bandwidth_points: BandwidthPoints = None) -> np.ndarray:
    """Kernel covariance ``H`` used by :func:`kde_map` (same as ``gaussian_kde.covariance``).

    Parameters
    ----------
    points : array_like, shape (n, 2)
        The sample, in the map's coordinates.
    bandwidth_points : bool array of shape (n,) or int, optional
        See :func:`kde_map`.

    Returns
    -------
    ndarray, shape (2, 2)
        ``H = C * m**(-1/3)`` with ``C`` the sample covariance (``ddof = 1``) and ``m`` the
        number of points of Scott's rule (``n``, or the count from ``bandwidth_points``).

    Raises
    ------
    GalmassError
        If the input is invalid or the covariance is singular (collinear/identical points).
    """
    pts = _as_points(points)
    return _kernel_cov(pts, _bandwidth_count(bandwidth_points, len(pts)))


def _kernel_cov(pts: np.ndarray, n_bw: float, w: np.ndarray | None = None) -> np.ndarray:
    # = np.cov(pts.T, ddof=1), written out because it is ~5x faster for (n, 2) arrays.
    # Plain (pairwise) sums rather than np.dot: BLAS ddot may go multi-threaded for
    # long vectors, which was measured to cost up to ~30 ms per call on 2 busy cores.
    # With weights ``w`` (normalised to sum 1): np.cov(pts.T, aweights=w), as gaussian_kde.
    if w is None:
        dx = pts[:, 0] - pts[:, 0].mean()
        dy = pts[:, 1] - pts[:, 1].mean()
        sxy = np.sum(dx * dy)
        cov = np.array([[np.sum(dx * dx), sxy], [sxy, np.sum(dy * dy)]]) / (len(pts) - 1)
    else:
        dx = pts[:, 0] - np.sum(w * pts[:, 0])
        dy = pts[:, 1] - np.sum(w * pts[:, 1])
        sxy = np.sum(w * dx * dy)
        cov = np.array([[np.sum(w * dx * dx), sxy], [sxy, np.sum(w * dy * dy)]]) / (1.0 - np.sum(w * w))
    var = np.diag(cov)
    det = cov[0, 0] * cov[1, 1] - cov[0, 1] ** 2
    if not (np.all(np.isfinite(cov)) and np.all(var > 0) and det > 1e-10 * var[0] * var[1]):
        raise GalmassError(
            "points have a degenerate (singular) covariance matrix: they are identical or "
            f"collinear (variances {var[0]:.3g}, {var[1]:.3g}; correlation "
            f"{cov[0, 1] / np.sqrt(max(var[0] * var[1], 1e-300)):.6f})"
        )
    return cov * float(n_bw) ** (-1.0 / 3.0)


# --------------------------------------------------------------------------- planning
def _min_sigma_cells(n: int) -> float:
    """Smallest kernel sigma, in binning cells, for a < 1 % (of peak) binning error.

    With the variance correction, a single point's binning error is at most
    ``~(h / sigma)^2 / 12`` of its kernel peak per axis; for ``n`` points, about
    ``n^(2/3)`` kernels overlap at the peak of a Scott-bandwidth map and the errors
    (which have zero mean) average down as ``n^(-1/3)``. We ask for ``<~ 0.3 %``.
    """
    return float(np.clip(5.0 * n ** (-1.0 / 6.0), 1.5, 4.5))


class _Plan:
    """Binning-grid layout of one map along both axes."""

    __slots__ = ("kx", "ky", "lx", "ly", "padx", "pady", "hx", "hy", "direct")

    def __init__(self, H: np.ndarray, n: int, extent: tuple[float, ...], shape: tuple[int, int]):
        xmin, xmax, ymin, ymax = extent
        ny, nx = shape
        dx = (xmax - xmin) / (nx - 1)
        dy = (ymax - ymin) / (ny - 1)
        det = H[0, 0] * H[1, 1] - H[0, 1] ** 2
        # conditional sigmas: the kernel's width along x at fixed y and vice versa; they
        # set the curvature along each grid axis (binning error) and the aliasing.
        scx = np.sqrt(det / H[1, 1])
        scy = np.sqrt(det / H[0, 0])
        smin = _min_sigma_cells(n)
        kx = max(1, int(np.ceil(smin * dx / scx - 1e-9)))
        ky = max(1, int(np.ceil(smin * dy / scy - 1e-9)))
        self.kx, self.ky = kx, ky
        self.hx, self.hy = dx / kx, dy / ky
        padx = int(np.ceil(_PAD_SIGMAS * np.sqrt(H[0, 0]) / self.hx)) + 1
        pady = int(np.ceil(_PAD_SIGMAS * np.sqrt(H[1, 1]) / self.hy)) + 1
        nbx = (nx - 1) * kx + 1 + 2 * padx
        nby = (ny - 1) * ky + 1 + 2 * pady
        self.direct = nbx > _MAX_GRID or nby > _MAX_GRID
        if self.direct:
            self.lx = self.ly = self.padx = self.pady = 0
            return
        self.lx = next_fast_len(nbx)
        self.ly = next_fast_len(nby)
        # use all the room the FFT size gives for padding (more accurate, free)
        self.padx = (self.lx - (nx - 1) * kx - 1) // 2
        self.pady = (self.ly - (ny - 1) * ky - 1) // 2


def next_fast_len(n: int) -> int:
    """The smallest 5-smooth integer (2^a 3^b 5^c) >= ``n``: a fast real FFT size.

    The same sizes as ``scipy.fft.next_fast_len(n, real=True)`` (tested against it).
    """
    if n < 1:
        raise GalmassError(f"FFT length must be >= 1, got {n}")
    best = 2 ** int(np.ceil(np.log2(n)))
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return int(best)


# --------------------------------------------------------------------------- core
_WORK = threading.local()


def _workspace(size: int) -> np.ndarray:
    """A zeroed float32 buffer of ``size`` elements, reused across calls (per thread).

    Reusing it avoids allocating (and page-faulting) a fresh multi-MB grid per map.
    """
    buf = getattr(_WORK, "buf", None)
    if buf is None or buf.size < size or buf.size > 4 * size + (1 << 20):
        buf = np.empty(size, dtype=np.float32)
        _WORK.buf = buf
    view = buf[:size]
    view.fill(0.0)
    return view


def _bin_group(
    pts_list: list[np.ndarray], plan: _Plan, extent: tuple[float, ...], shape: tuple[int, int],
    weights: list[np.ndarray | None] | None = None,
) -> np.ndarray:
    """Linear binning of each sample (weights 1/n, or its normalised weights) on the (B, ly, lx) grid.

    Grid index ``padx + j * kx`` (``pady + i * ky``) is output node ``j`` (``i``); points
    beyond the padding are dropped. The returned float32 array is a reused workspace,
    valid until the next call in the same thread.
    """
    xmin, _, ymin, _ = extent
    ny, nx = shape
    lx, ly = plan.lx, plan.ly
    ux_hi = (nx - 1) * plan.kx + 2 * plan.padx
    uy_hi = (ny - 1) * plan.ky + 2 * plan.pady
    grid = _workspace(len(pts_list) * lx * ly)
    for b, pts in enumerate(pts_list):
        wb = None if weights is None else weights[b]
        ux = (pts[:, 0] - xmin) * (1.0 / plan.hx) + plan.padx
        uy = (pts[:, 1] - ymin) * (1.0 / plan.hy) + plan.pady
        keep = (ux >= 0) & (ux < ux_hi) & (uy >= 0) & (uy < uy_hi)
        if not np.all(keep):
            ux, uy = ux[keep], uy[keep]
            wb = None if wb is None else wb[keep]
        ix = ux.astype(np.int64)  # floor, as ux >= 0
        iy = uy.astype(np.int64)
        tx = (ux - ix).astype(np.float32)
        ty = (uy - iy).astype(np.float32)
        w = np.float32(1.0 / len(pts)) if wb is None else wb.astype(np.float32)
        i00 = iy * lx + ix
        i00 += b * lx * ly
        wy1 = ty * w
        wy0 = w - wy1
        w01 = wy0 * tx
        w11 = wy1 * tx
        np.add.at(grid, i00, wy0 - w01)
        np.add.at(grid, i00 + 1, w01)
        np.add.at(grid, i00 + lx, wy1 - w11)
        np.add.at(grid, i00 + (lx + 1), w11)
    return grid.reshape(len(pts_list), ly, lx)


#: Spectral cut: kernel Fourier amplitudes below exp(-_QCUT) (~4e-18) are set to exactly 0.
_QCUT = 40.0


def _n_freq_cols(Hs: np.ndarray, plan: _Plan) -> int:
    """Number of leading x-frequency columns where some kernel spectrum is non-zero.

    ``|T(fx, fy)| >= exp(-_QCUT)`` for some ``fy`` iff
    ``2 pi^2 sx^2 fx^2 <= _QCUT`` with ``sx^2 = a - b^2 / c`` the conditional variance.
    """
    a = Hs[:, 0, 0] - plan.hx**2 / 6.0
    c = Hs[:, 1, 1] - plan.hy**2 / 6.0
    sx2 = float(np.min(a - Hs[:, 0, 1] ** 2 / c))
    fmax = np.sqrt(_QCUT / (2.0 * np.pi**2 * sx2))
    ncol = int(np.floor(fmax * plan.lx * plan.hx)) + 2  # rfftfreq[k] = k / (lx hx); +1 margin
    return min(ncol, plan.lx // 2 + 1)


def _transfer(Hs: np.ndarray, plan: _Plan, ncol: int) -> np.ndarray:
    """DFT of the sampled Gaussian kernels for the first ``ncol`` x-frequencies.

    Shape (B, ly, ncol), float32, including the factor 1 / (hx hy) (Poisson summation).
    """
    fx = np.fft.rfftfreq(plan.lx, d=plan.hx)[:ncol].astype(np.float32)
    fy = np.fft.fftfreq(plan.ly, d=plan.hy).astype(np.float32)
    # variance correction for the linear binning (see module docstring)
    m = -2.0 * np.pi**2
    a = (m * (Hs[:, 0, 0] - plan.hx**2 / 6.0)).astype(np.float32)
    c = (m * (Hs[:, 1, 1] - plan.hy**2 / 6.0)).astype(np.float32)
    b = (2.0 * m * Hs[:, 0, 1]).astype(np.float32)
    # the full quadratic form in one exponent (factorising it can overflow)
    q = a[:, None, None] * (fx * fx)[None, None, :] + c[:, None, None] * (fy * fy)[None, :, None]
    if np.any(b != 0):
        q += b[:, None, None] * (fy[:, None] * fx[None, :])[None]
    # Exact zeros below exp(-_QCUT): invisible at float32 precision, and they keep the
    # spectrum free of denormal numbers, which make FFTs several times slower.
    tiny = q < -_QCUT
    np.maximum(q, -_QCUT, out=q)
    out = np.exp(q, out=q)
    out[tiny] = 0.0
    out *= np.float32(1.0 / (plan.hx * plan.hy))
    return out


def _fft_group(
    pts_list: list[np.ndarray],
    Hs: np.ndarray,
    plan: _Plan,
    extent: tuple[float, ...],
    shape: tuple[int, int],
    out: np.ndarray,
    out_index: Sequence[int],
    weights: list[np.ndarray | None] | None = None,
) -> None:
    """Maps of samples sharing one grid layout: binning + FFT convolution + crop.

    The 2-D FFTs are done axis by axis so that only the useful part is transformed:
    the kernel spectrum vanishes (below ``exp(-_QCUT)``) beyond ``ncol`` x-frequencies,
    so the y-transforms run on ``ncol`` columns only, and the final inverse x-transform
    runs on the output rows only. Map ``j`` is written to ``out[out_index[j]]``.
    """
    ny, nx = shape
    B = len(pts_list)
    ncol = _n_freq_cols(Hs, plan)
    grid = _bin_group(pts_list, plan, extent, shape, weights)  # (B, ly, lx) float32
    # numpy's pocketfft (float32 in, complex64 out): scipy.fft gives the same maps but costs
    # ~0.2 s to import, a tenth of `galmass predict`'s cold start (issue #20)
    spec = np.fft.rfft(grid, axis=-1)[:, :, :ncol]  # (B, ly, ncol)
    spec = np.fft.fft(spec, axis=-2)
    spec *= _transfer(Hs, plan, ncol)
    spec = np.fft.ifft(spec, axis=-2)
    rows = spec[:, plan.pady : plan.pady + (ny - 1) * plan.ky + 1 : plan.ky, :]  # (B, ny, ncol)
    half = np.zeros((B, ny, plan.lx // 2 + 1), dtype=np.complex64)
    half[:, :, :ncol] = rows
    dens = np.fft.irfft(half, n=plan.lx, axis=-1)
    dens = dens[:, :, plan.padx : plan.padx + (nx - 1) * plan.kx + 1 : plan.kx]
    for j, b in enumerate(out_index):
        np.maximum(dens[j], 0.0, out=out[b])  # also removes FFT round-off negatives


def _direct(pts: np.ndarray, H: np.ndarray, extent: tuple[float, ...], shape: tuple[int, int],
            w: np.ndarray | None = None) -> np.ndarray:
    """Exact direct summation (fallback for extreme bandwidth / grid ratios); ``w``: normalised weights."""
    xmin, xmax, ymin, ymax = extent
    ny, nx = shape
    xg = np.linspace(xmin, xmax, nx)
    yg = np.linspace(ymin, ymax, ny)
    Hi = np.linalg.inv(H)
    norm = 1.0 / (2.0 * np.pi * np.sqrt(np.linalg.det(H)) * (len(pts) if w is None else 1.0))
    out = np.zeros((ny, nx))
    step = max(1, _DIRECT_CHUNK // (nx * ny))
    for s in range(0, len(pts), step):
        p = pts[s : s + step]
        ddx = xg[None, None, :] - p[:, 0, None, None]
        ddy = yg[None, :, None] - p[:, 1, None, None]
        q = Hi[0, 0] * ddx**2 + 2.0 * Hi[0, 1] * ddx * ddy + Hi[1, 1] * ddy**2
        k = np.exp(-0.5 * q)
        out += k.sum(axis=0) if w is None else np.tensordot(w[s : s + step], k, axes=1)
    return out * norm


# --------------------------------------------------------------------------- public API
def kde_map(
    points: npt.ArrayLike,
    extent: Sequence[float],
    shape: Sequence[int],
    bandwidth_points: BandwidthPoints = None,
) -> np.ndarray:
    """Gaussian KDE of a 2-D sample evaluated on a regular grid (fast, FFT based).

    Equivalent to ``scipy.stats.gaussian_kde(points.T)`` evaluated at the grid nodes
    (full-covariance Gaussian kernel, Scott's rule: kernel covariance = sample covariance
    with ``ddof = 1`` times ``n**(-1/3)``, i.e. kernel "width" factor ``n**(-1/6)``), to
    well within 1 % of the map's peak (typically 0.01-0.2 %). See the module docstring
    for the method.

    Parameters
    ----------
    points : array_like, shape (n, 2)
        The sample, ``points[:, 0]`` = x (map columns), ``points[:, 1]`` = y (map rows),
        in the same (arbitrary) units as ``extent``. ``n >= 3``.
    extent : (xmin, xmax, ymin, ymax)
        Coordinates of the outer grid nodes.
    shape : (ny, nx)
        Number of grid nodes along y (rows) and x (columns), each ``>= 2``.
    bandwidth_points : bool array of shape (n,) or int, optional
        The paper's preprint variant (Appendix A): the number ``m`` of points used in
        Scott's factor, given as a count or as a boolean mask over ``points`` (e.g.
        ``R < 0.5 * R_h``, the stars within half the half-light radius). The kernel
        covariance becomes ``C * m**(-1/3)`` (``C`` still the covariance of all points,
        and all points still enter the density with weight ``1/n``), i.e.
        ``gaussian_kde(points.T, bw_method=m**(-1/6))``. Default: ``m = n``.

    Returns
    -------
    ndarray, shape (ny, nx), float64
        ``out[i, j] = f(x_j, y_i)`` with ``x = np.linspace(xmin, xmax, nx)`` and
        ``y = np.linspace(ymin, ymax, ny)``; ``f`` is a PDF normalised over the whole plane
        (units: 1 / (x-unit * y-unit)).

    Raises
    ------
    GalmassError
        Wrong points shape, NaN/inf points, fewer than 3 points, a singular covariance
        (identical or collinear points), a bad extent/shape or bad ``bandwidth_points``.
    """
    return kde_maps([points], extent, shape, bandwidth_points=[bandwidth_points])[0]


def kde_maps(
    points_list: Sequence[npt.ArrayLike],
    extent: Sequence[float],
    shape: Sequence[int],
    bandwidth_points: Sequence[BandwidthPoints] | None = None,
    weights: Sequence[npt.ArrayLike | None] | None = None,
) -> np.ndarray:
    """Batched :func:`kde_map`: one map per sample, all on the same grid.

    Samples whose binning grids have the same layout (same FFT size and refinement)
    share one binning buffer, one kernel-spectrum evaluation and one batched FFT, so the
    cost per map is somewhat lower than calling :func:`kde_map` repeatedly (the per-map
    work, O(n) binning plus the FFTs, dominates, so the gain is modest: ~10-20 %). The
    result is identical to ``[kde_map(p, extent, shape, bw) for p, bw in ...]``.

    Parameters
    ----------
    points_list : sequence of array_like, each of shape (n_b, 2)
        The samples (they may have different sizes).
    extent, shape
        As in :func:`kde_map`.
    bandwidth_points : sequence, optional
        One entry per sample (None, int or boolean mask), as in :func:`kde_map`; with
        weights a float (an effective number of points) is also accepted.
    weights : sequence of (n_b,) arrays or None, optional
        Non-negative point weights per sample (e.g. membership probabilities), as
        ``gaussian_kde(..., weights=w)``: each point carries ``w_i / sum(w)``, the kernel
        covariance is the weighted one, and Scott's ``n`` is the effective number
        ``(sum w)^2 / sum w^2`` (of the masked points for a boolean ``bandwidth_points``).
        None (or a None entry): equal weights, bit-identical to the unweighted maps.

    Returns
    -------
    ndarray, shape (B, ny, nx), float64
    """
    ext = _check_extent(extent)
    shp = _check_shape(shape)
    if isinstance(points_list, np.ndarray) and points_list.ndim == 2:
        raise GalmassError("points_list must be a sequence of (n, 2) arrays; for one sample use kde_map")
    nb = len(points_list)
    if bandwidth_points is None:
        bandwidth_points = [None] * nb
    elif len(bandwidth_points) != nb:
        raise GalmassError(f"bandwidth_points has {len(bandwidth_points)} entries for {nb} samples")
    pts_all = [_as_points(p, f"points[{b}]" if nb > 1 else "points") for b, p in enumerate(points_list)]
    if weights is None:
        weights = [None] * nb
    elif len(weights) != nb:
        raise GalmassError(f"weights has {len(weights)} entries for {nb} samples")
    ws = [_check_weights(w, len(p), b) for b, (w, p) in enumerate(zip(weights, pts_all))]
    counts = [_bandwidth_count(bw, len(p)) if w is None else _weighted_count(bw, w)
              for p, bw, w in zip(pts_all, bandwidth_points, ws)]
    Hs = [_kernel_cov(p, c, w) for p, c, w in zip(pts_all, counts, ws)]
    out = np.empty((nb,) + shp)
    groups: dict[tuple[int, int, int, int], list[int]] = {}
    plans: dict[tuple[int, int, int, int], _Plan] = {}
    for b, (p, H) in enumerate(zip(pts_all, Hs)):
        plan = _Plan(H, len(p) if ws[b] is None else 1.0 / float(np.sum(ws[b] ** 2)), ext, shp)
        if plan.direct:
            out[b] = _direct(p, H, ext, shp, ws[b])
            continue
        key = (plan.kx, plan.ky, plan.lx, plan.ly)
        groups.setdefault(key, []).append(b)
        plans.setdefault(key, plan)
    for key, members in groups.items():
        plan = plans[key]
        chunk = max(1, _MAX_BATCH_NODES // (plan.lx * plan.ly))
        for s in range(0, len(members), chunk):
            idx = members[s : s + chunk]
            wl = None if all(ws[b] is None for b in idx) else [ws[b] for b in idx]
            _fft_group([pts_all[b] for b in idx], np.stack([Hs[b] for b in idx]), plan, ext, shp, out, idx, wl)
    return out


