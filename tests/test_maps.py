"""Tests of the FFT kernel-density maps (galmass.observe.maps) against scipy.stats.gaussian_kde."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from galmass.errors import GalmassError
from galmass.observe.maps import (
                                  EXTENT_PHASE,
                                  EXTENT_POSITION,
                                  kde_bandwidth,
                                  kde_map,
                                  kde_maps,
                                  phase_map,
                                  phase_maps,
                                  position_map,
                                  position_maps,
                                  )

TOL = 0.01  # required accuracy, relative to the map's peak


# --------------------------------------------------------------------------- helpers
def plummer_sky(n: int, rng: np.random.Generator, q: float = 0.7, angle: float = 0.5) -> np.ndarray:
    """Projected Plummer cloud in units of R_h (projected half-number radius = 1),
    flattened (axis ratio q) and rotated so that x and y are correlated."""
    u = rng.uniform(0.0, 1.0, n)
    R = np.sqrt(u / (1.0 - u))
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    x, y = R * np.cos(phi), q * R * np.sin(phi)
    c, s = np.cos(angle), np.sin(angle)
    return np.column_stack([c * x - s * y, s * x + c * y])


def phase_sample(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """(R / R_h, v / v_p98) of a round Plummer with a declining dispersion profile."""
    p = plummer_sky(n, rng, q=1.0, angle=0.0)
    R = np.hypot(p[:, 0], p[:, 1])
    v = rng.normal(0.0, 10.0 / (1.0 + R**2) ** 0.25, n)
    vp98 = float(np.percentile(np.abs(v), 98))
    return R, v / vp98, vp98


def mirrored(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.column_stack([np.concatenate([r, -r]), np.concatenate([v, v])])


def scipy_map(points: np.ndarray, extent, shape, bw_method=None) -> np.ndarray:
    ny, nx = shape
    xg = np.linspace(extent[0], extent[1], nx)
    yg = np.linspace(extent[2], extent[3], ny)
    X, Y = np.meshgrid(xg, yg)  # X[i, j] = x_j, Y[i, j] = y_i
    kde = stats.gaussian_kde(points.T, bw_method=bw_method)
    return kde(np.vstack([X.ravel(), Y.ravel()])).reshape(ny, nx)


def rel_err(a: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(a - ref)) / np.max(ref))


# --------------------------------------------------------------------------- vs scipy
@pytest.mark.parametrize("n", [200, 1000, 10_000])
def test_position_cloud_matches_scipy(n):
    rng = np.random.default_rng(n)
    pts = plummer_sky(n, rng)
    shape = (64, 64)
    m = kde_map(pts, EXTENT_POSITION, shape)
    ref = scipy_map(pts, EXTENT_POSITION, shape)
    assert m.shape == shape and m.dtype == np.float64
    assert rel_err(m, ref) < TOL


@pytest.mark.parametrize("n", [200, 1000, 10_000])
def test_phase_cloud_matches_scipy(n):
    rng = np.random.default_rng(10 + n)
    r, v, _ = phase_sample(n, rng)
    pts = mirrored(r, v)
    shape = (64, 64)
    # the phase map uses Scott's factor of the n real stars: bw_method = n^(-1/6)
    m = kde_map(pts, EXTENT_PHASE, shape, bandwidth_points=n)
    ref = scipy_map(pts, EXTENT_PHASE, shape, bw_method=n ** (-1.0 / 6.0))
    assert rel_err(m, ref) < TOL
    # and the plain call (n = 2n mirrored points) is plain gaussian_kde of the mirrored set
    m2 = kde_map(pts, EXTENT_PHASE, shape)
    assert rel_err(m2, scipy_map(pts, EXTENT_PHASE, shape)) < TOL


def test_full_resolution_256_matches_scipy():
    rng = np.random.default_rng(256)
    pts = plummer_sky(10_000, rng)
    shape = (256, 256)
    m = kde_map(pts, EXTENT_POSITION, shape)
    ref = scipy_map(pts, EXTENT_POSITION, shape)
    assert rel_err(m, ref) < TOL


@pytest.mark.parametrize(
    "n, shape",
    [(10_000, (16, 16)), (10_000, (9, 33)), (5, (32, 32)), (3, (64, 64)), (50, (16, 40))],
)
def test_refined_binning_for_narrow_kernels(n, shape):
    """Kernels narrower than ~2 output cells (coarse grids, or a few points) still match."""
    rng = np.random.default_rng(n + shape[0])
    pts = rng.multivariate_normal([0.2, -0.1], [[0.5, 0.2], [0.2, 0.3]], n)
    m = kde_map(pts, EXTENT_POSITION, shape)
    assert rel_err(m, scipy_map(pts, EXTENT_POSITION, shape)) < TOL


def test_points_outside_extent_contribute():
    """Stars beyond the extent still add their kernel wings (nothing is cut at the edge)."""
    rng = np.random.default_rng(7)
    pts = np.vstack([rng.normal(0, 0.5, (300, 2)), rng.normal([3.0, 0.0], 0.3, (300, 2))])
    m = kde_map(pts, EXTENT_POSITION, (48, 48))
    assert rel_err(m, scipy_map(pts, EXTENT_POSITION, (48, 48))) < TOL


def test_extreme_bandwidths_fall_back_to_direct_sum():
    rng = np.random.default_rng(3)
    # kernel ~40 units wide on a grid of 2 units: padded FFT grid would be too large
    wide = rng.normal(0.0, 100.0, (200, 2))
    ext = (-1.0, 1.0, -1.0, 1.0)
    m = kde_map(wide, ext, (32, 32))
    ref = scipy_map(wide, ext, (32, 32))
    assert rel_err(m, ref) < 1e-9
    # kernel far narrower than the grid spacing
    narrow = rng.normal(0.0, 1e-4, (100, 2))
    m = kde_map(narrow, EXTENT_POSITION, (16, 16))
    ref = scipy_map(narrow, EXTENT_POSITION, (16, 16))
    assert np.allclose(m, ref, rtol=1e-9, atol=1e-12 * ref.max())


# --------------------------------------------------------------------------- analytic
def test_gaussian_cloud_matches_smoothed_gaussian():
    """E[KDE] of a N(0, S) sample is N(0, S + H); compare within the sampling noise.

    At Scott's bandwidth the KDE noise is as large as the smoothing bias, so the maps of
    K independent samples are averaged to make the test able to see H at all.
    """
    rng = np.random.default_rng(2024)
    n, K = 100_000, 16
    S = np.array([[0.8, 0.3], [0.3, 0.5]])
    samples = [rng.multivariate_normal([0.0, 0.0], S, n) for _ in range(K)]
    Hs = [kde_bandwidth(p) for p in samples]
    for p, H in zip(samples, Hs):
        assert np.allclose(H, np.cov(p.T) * n ** (-1.0 / 3.0), rtol=1e-12)
    mean_map = kde_maps(samples, EXTENT_POSITION, (64, 64)).mean(axis=0)
    xg = np.linspace(-2.4, 2.4, 64)
    X, Y = np.meshgrid(xg, xg)
    XY = np.dstack([X, Y])
    pdfs = [stats.multivariate_normal([0.0, 0.0], S + H).pdf(XY) for H in Hs]
    expected = np.mean(pdfs, axis=0)
    # KDE variance ~ f(x) R(K) / (n |H|^1/2) with R(K) = 1 / (4 pi) for a 2-D Gaussian
    var = np.mean([f / (n * 4.0 * np.pi * np.sqrt(np.linalg.det(H))) for f, H in zip(pdfs, Hs)], axis=0)
    noise = np.sqrt(var / K)
    assert np.all(np.abs(mean_map - expected) < 5.0 * noise + 2e-3 * expected.max())
    z_rms = np.sqrt(np.mean(((mean_map - expected) / noise) ** 2))
    assert z_rms < 1.4  # residuals consistent with pure noise: no systematic bias
    # the test resolves the kernel smoothing: the unsmoothed N(0, S) is clearly rejected
    unsmoothed = stats.multivariate_normal([0.0, 0.0], S).pdf(XY)
    assert np.sqrt(np.mean(((mean_map - unsmoothed) / noise) ** 2)) > 1.8
    # mass inside the extent equals the analytic mass (trapezoid rule on the nodes)
    mass = np.trapezoid(np.trapezoid(mean_map, xg, axis=1), xg)
    mass_exp = np.trapezoid(np.trapezoid(expected, xg, axis=1), xg)
    assert abs(mass - mass_exp) < 1e-3


# --------------------------------------------------------------------------- bandwidth_points
def test_bandwidth_points_mask_and_count():
    rng = np.random.default_rng(5)
    pts = plummer_sky(3000, rng)
    inner = np.hypot(pts[:, 0], pts[:, 1]) < 0.5  # stars within 0.5 R_h
    m_count = int(inner.sum())
    assert 100 < m_count < 3000
    shape = (64, 64)
    bw = m_count ** (-1.0 / 6.0)
    ref = scipy_map(pts, EXTENT_POSITION, shape, bw_method=bw)
    by_mask = kde_map(pts, EXTENT_POSITION, shape, bandwidth_points=inner)
    by_count = kde_map(pts, EXTENT_POSITION, shape, bandwidth_points=m_count)
    assert rel_err(by_mask, ref) < TOL
    assert np.array_equal(by_mask, by_count)
    # kernel covariance = C * m^(-1/3), identical to scipy's
    kde = stats.gaussian_kde(pts.T, bw_method=bw)
    assert np.allclose(kde_bandwidth(pts, inner), kde.covariance, rtol=1e-12)
    # fewer points in Scott's rule -> wider kernel -> smoother map with a lower peak
    default = kde_map(pts, EXTENT_POSITION, shape)
    assert by_mask.max() < default.max()
    assert not np.allclose(by_mask, default, rtol=0.05)
    # bandwidth_points=n is the default
    assert np.array_equal(kde_map(pts, EXTENT_POSITION, shape, bandwidth_points=len(pts)), default)


def test_bandwidth_points_in_builders():
    rng = np.random.default_rng(6)
    rh, vp = 0.3, 12.0  # kpc, km/s
    pts = plummer_sky(2000, rng) * rh
    inner = np.hypot(pts[:, 0], pts[:, 1]) < 0.5 * rh
    pm = position_map(pts[:, 0], pts[:, 1], rh, (32, 32), bandwidth_points=inner)
    ref = kde_map(pts / rh, EXTENT_POSITION, (32, 32), bandwidth_points=inner)
    assert np.allclose(pm, ref, rtol=1e-5, atol=1e-6 * ref.max())
    R = np.hypot(pts[:, 0], pts[:, 1])
    v = rng.normal(0, 8.0, len(R))
    ph = phase_map(R, v, rh, vp, (32, 32), bandwidth_points=inner)
    ref = scipy_map(mirrored(R / rh, v / vp), EXTENT_PHASE, (32, 32), bw_method=int(inner.sum()) ** (-1 / 6))
    assert rel_err(ph, ref) < TOL


# --------------------------------------------------------------------------- builders
def test_position_map_orientation_and_type():
    rng = np.random.default_rng(8)
    rh = 2.0
    pts = rng.normal([1.0 * rh, -0.5 * rh], 0.2 * rh, (5000, 2))  # centred at (x, y) = (1, -0.5) R_h
    shape = (48, 64)
    m = position_map(pts[:, 0], pts[:, 1], rh, shape)
    assert m.shape == shape and m.dtype == np.float32
    i, j = np.unravel_index(np.argmax(m), m.shape)
    assert abs(np.linspace(-2.4, 2.4, 64)[j] - 1.0) < 0.1  # columns = x / R_h
    assert abs(np.linspace(-2.4, 2.4, 48)[i] + 0.5) < 0.15  # rows = y / R_h
    ref = scipy_map(pts / rh, EXTENT_POSITION, shape)
    assert rel_err(m, ref) < TOL
    assert EXTENT_POSITION == (-2.4, 2.4, -2.4, 2.4)
    assert EXTENT_PHASE == (-2.4, 2.4, -1.0, 1.0)


def test_phase_map_mirroring():
    rng = np.random.default_rng(9)
    R, vn, vp = phase_sample(3000, rng)
    rh = 0.7
    v = vn * vp + 0.3 * vp  # shifted so the rows' orientation is testable
    shape = (40, 64)
    m = phase_map(R * rh, v, rh, vp, shape)
    assert m.shape == shape and m.dtype == np.float32
    # symmetric in R (columns), no boundary deficit at R = 0
    assert np.allclose(m, m[:, ::-1], rtol=0, atol=1e-5 * m.max())
    # equals the KDE of (R, v) and (-R, v) with Scott's factor of the n real stars
    ref = scipy_map(mirrored(R, v / vp), EXTENT_PHASE, shape, bw_method=len(R) ** (-1.0 / 6.0))
    assert rel_err(m, ref) < TOL
    # rows are v / v_p98: the velocity peak sits near +0.3
    i = np.argmax(m[:, 32])
    assert abs(np.linspace(-1, 1, 40)[i] - 0.3) < 0.15


def test_batched_builders_equal_single():
    rng = np.random.default_rng(10)
    clouds = [plummer_sky(int(n), rng) * 0.5 for n in (300, 1000, 2500)]
    shape = (32, 32)
    pm = position_maps([c[:, 0] for c in clouds], [c[:, 1] for c in clouds], [0.5] * 3, shape)
    Rs = [np.hypot(c[:, 0], c[:, 1]) for c in clouds]
    vs = [rng.normal(0, 5, len(c)) for c in clouds]
    ph = phase_maps(Rs, vs, [0.5] * 3, [10.0] * 3, shape)
    assert pm.shape == ph.shape == (3, 32, 32) and pm.dtype == ph.dtype == np.float32
    for b, c in enumerate(clouds):
        single_p = position_map(c[:, 0], c[:, 1], 0.5, shape)
        single_v = phase_map(Rs[b], vs[b], 0.5, 10.0, shape)
        assert np.allclose(pm[b], single_p, rtol=0, atol=1e-5 * single_p.max())
        assert np.allclose(ph[b], single_v, rtol=0, atol=1e-5 * single_v.max())


# --------------------------------------------------------------------------- batched
def test_batched_equals_single():
    rng = np.random.default_rng(11)
    samples = [plummer_sky(10_000, rng, q=q, angle=a) for q, a in [(0.6, 0.1), (0.9, 1.0), (0.5, 2.0)]]
    samples += [plummer_sky(10_000, rng)[:500], rng.normal(0, 1, (8, 2)), rng.normal(0, 100, (50, 2))]
    bws = [None, 2000, np.hypot(*samples[2].T) < 0.5, None, None, None]
    for shape in [(64, 64), (20, 24)]:
        batch = kde_maps(samples, EXTENT_POSITION, shape, bandwidth_points=bws)
        assert batch.shape == (len(samples),) + shape
        for b, (p, bw) in enumerate(zip(samples, bws)):
            single = kde_map(p, EXTENT_POSITION, shape, bw)
            assert np.allclose(batch[b], single, rtol=0, atol=1e-5 * single.max()), b
    # many similar projections (one batched FFT group) still equal the single maps
    many = [plummer_sky(2000, rng, q=0.8, angle=a) for a in np.linspace(0, np.pi, 16)]
    batch = kde_maps(many, EXTENT_POSITION, (64, 64))
    for b, p in enumerate(many):
        single = kde_map(p, EXTENT_POSITION, (64, 64))
        assert np.allclose(batch[b], single, rtol=0, atol=1e-5 * single.max())
    assert kde_maps([], EXTENT_POSITION, (8, 8)).shape == (0, 8, 8)


# --------------------------------------------------------------------------- bad input
_GOOD = np.random.default_rng(0).normal(size=(50, 2))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(points=np.zeros((10, 3))), r"shape \(n, 2\)"),
        (dict(points=np.zeros(10)), r"shape \(n, 2\)"),
        (dict(points=[["a", "b"]] * 4), r"numeric"),
        (dict(points=np.vstack([_GOOD, [[np.nan, 0.0]]])), r"non-finite"),
        (dict(points=np.vstack([_GOOD, [[0.0, np.inf]]])), r"non-finite"),
        (dict(points=_GOOD[:2]), r"at least 3 points"),
        (dict(points=np.ones((20, 2))), r"degenerate \(singular\) covariance"),
        (dict(points=np.column_stack([np.arange(20.0), 2 * np.arange(20.0) + 1])), r"degenerate"),
        (dict(points=np.column_stack([np.arange(20.0), np.zeros(20)])), r"degenerate"),
        (dict(extent=(1.0, -1.0, -1.0, 1.0)), r"xmax > xmin"),
        (dict(extent=(-1.0, 1.0, 0.5, 0.5)), r"ymax > ymin"),
        (dict(extent=(-1.0, 1.0, -1.0)), r"extent must be 4 numbers"),
        (dict(extent=(-1.0, np.nan, -1.0, 1.0)), r"extent must be finite"),
        (dict(extent="abcd"), r"extent must be 4 numbers"),
        (dict(shape=(1, 64)), r"at least \(2, 2\)"),
        (dict(shape=(64,)), r"shape must be two integers"),
        (dict(shape=(64.0, 64)), r"shape must be two integers"),
        (dict(shape=(-3, 64)), r"at least \(2, 2\)"),
        (dict(shape=None), r"shape must be two integers"),
        (dict(bandwidth_points=0), r"positive integer"),
        (dict(bandwidth_points=-5), r"positive integer"),
        (dict(bandwidth_points=2.5), r"boolean mask .* or a positive integer"),
        (dict(bandwidth_points=True), r"got a bool"),
        (dict(bandwidth_points=np.ones(49, bool)), r"mask has length 49, expected n = 50"),
        (dict(bandwidth_points=np.zeros(50, bool)), r"selects no points"),
    ],
)
def test_bad_input_raises(kwargs, match):
    args = dict(points=_GOOD, extent=EXTENT_POSITION, shape=(16, 16))
    args.update(kwargs)
    with pytest.raises(GalmassError, match=match):
        kde_map(args["points"], args["extent"], args["shape"], args.get("bandwidth_points"))


def test_bad_input_builders_and_batch():
    x = _GOOD[:, 0]
    with pytest.raises(GalmassError, match="r_half"):
        position_map(x, x, 0.0, (8, 8))
    with pytest.raises(GalmassError, match="same length"):
        position_map(x, x[:-1], 1.0, (8, 8))
    with pytest.raises(GalmassError, match="R must be projected radii >= 0"):
        phase_map(x, x, 1.0, 1.0, (8, 8))
    with pytest.raises(GalmassError, match="v_p98"):
        phase_map(np.abs(x), x, 1.0, np.nan, (8, 8))
    with pytest.raises(GalmassError, match="non-finite"):
        phase_map(np.append(np.abs(x), np.nan), np.append(x, 0.0), 1.0, 1.0, (8, 8))
    with pytest.raises(GalmassError, match="at least 3 stars"):
        phase_map([0.1, 0.2], [1.0, -1.0], 1.0, 1.0, (8, 8))
    with pytest.raises(GalmassError, match=r"points\[1\] contain 1 non-finite"):
        kde_maps([_GOOD, np.vstack([_GOOD, [[np.nan, 1.0]]])], EXTENT_POSITION, (8, 8))
    with pytest.raises(GalmassError, match="sequence of"):
        kde_maps(_GOOD, EXTENT_POSITION, (8, 8))
    with pytest.raises(GalmassError, match="bandwidth_points has 1 entries for 2 samples"):
        kde_maps([_GOOD, _GOOD], EXTENT_POSITION, (8, 8), bandwidth_points=[None])
    with pytest.raises(GalmassError, match="equal lengths"):
        position_maps([x], [x, x], [1.0], (8, 8))
    # a GalmassError is a ValueError, so generic callers can catch it too
    with pytest.raises(ValueError):
        kde_map(_GOOD[:2], EXTENT_POSITION, (8, 8))


def test_next_fast_len_matches_scipy():
    """The KDE's FFT sizes (numpy's FFT, no scipy import) are scipy's fast real sizes."""
    import scipy.fft

    from galmass.observe.kde import next_fast_len

    for n in list(range(1, 2000)) + [4097, 10007, 65537]:
        assert next_fast_len(n) == scipy.fft.next_fast_len(n, real=True), n
