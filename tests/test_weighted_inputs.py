"""Membership-weighted network inputs (issue #19): weighted KDE maps against scipy, weighted
scalars against their definitions, and equal weights reproducing the unweighted inputs."""

import numpy as np
import pytest
from scipy.stats import gaussian_kde

from galmass.errors import GalmassError
from galmass.observe.inputs import make_inputs
from galmass.observe.kde import kde_maps


@pytest.mark.parametrize("n", [30, 500, 5000])
def test_weighted_kde_is_scipys_weighted_gaussian_kde(n):
    rng = np.random.default_rng(n)
    pts = rng.normal(size=(n, 2)) * [1.0, 0.5]
    w = rng.uniform(0.0, 1.0, n)
    grid = np.linspace(-2.4, 2.4, 64)
    got = kde_maps([pts], (-2.4, 2.4, -2.4, 2.4), (64, 64), weights=[w])[0]
    X, Y = np.meshgrid(grid, grid)
    ref = gaussian_kde(pts.T, weights=w)(np.vstack([X.ravel(), Y.ravel()])).reshape(64, 64)
    assert np.max(np.abs(got - ref)) < 0.01 * ref.max()
    same = kde_maps([pts], (-2.4, 2.4, -2.4, 2.4), (64, 64), weights=[None])[0]
    np.testing.assert_array_equal(same, kde_maps([pts], (-2.4, 2.4, -2.4, 2.4), (64, 64))[0])
    with pytest.raises(GalmassError, match="weights"):
        kde_maps([pts], (-2.4, 2.4, -2.4, 2.4), (64, 64), weights=[-w])


def _stars(n, rng):
    return rng.normal(0, 0.3, n), rng.normal(0, 0.2, n), rng.normal(0, 8.0, n), rng.uniform(1, 3, n)


def test_equal_weights_give_the_unweighted_inputs():
    rng = np.random.default_rng(1)
    x, y, v, e = _stars(401, rng)  # odd: the weighted median is numpy's median exactly
    plain = make_inputs([x], [y], [v], 32, v_err=[e])
    equal = make_inputs([x], [y], [v], 32, v_err=[e], weights=[np.full(x.size, 0.7)])
    assert equal["scalars"][0, 0] == pytest.approx(plain["scalars"][0, 0], rel=1e-12)  # R_h
    assert equal["scalars"][0, 1] == pytest.approx(plain["scalars"][0, 1], rel=1e-9)  # sigma_los
    assert equal["scalars"][0, 2] == pytest.approx(plain["scalars"][0, 2], rel=0.02)  # v_p98: CDF conventions
    for k in ("map1", "map2"):
        assert np.max(np.abs(equal[k] - plain[k])) < 0.02 * plain[k].max()


def test_zero_weight_stars_are_ignored():
    """A star of weight 0 changes nothing: weighting by membership is a soft version of the cut."""
    rng = np.random.default_rng(2)
    x, y, v, _ = _stars(300, rng)
    fx, fy, fv = rng.uniform(-1, 1, 60), rng.uniform(-1, 1, 60), rng.normal(40, 60, 60)
    w = np.r_[np.ones(300), np.zeros(60)]
    weighted = make_inputs([np.r_[x, fx]], [np.r_[y, fy]], [np.r_[v, fv]], 32, weights=[w])
    members = make_inputs([x], [y], [v], 32, weights=[np.ones(300)])
    np.testing.assert_allclose(weighted["scalars"], members["scalars"], rtol=1e-12)
    for k in ("map1", "map2"):
        np.testing.assert_allclose(weighted[k], members[k], atol=1e-5 * members[k].max())
