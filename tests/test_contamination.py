"""Foreground stars and the membership mixture model, against their generating distributions."""

import numpy as np
import pytest
from scipy import stats

from galmass.errors import GalmassError
from galmass.observe.contamination import draw_foreground, membership_probabilities


def _plummer_members(n, rng, a=0.3, sigma=8.0, field=1.5, v_err=2.0):
    u = rng.uniform(size=4 * n)
    R = a * np.sqrt(u / (1 - u))
    R = R[R < field][:n]
    phi = rng.uniform(0, 2 * np.pi, R.size)
    v = rng.normal(0.0, sigma, R.size) + rng.normal(0.0, v_err, R.size)
    return R * np.cos(phi), R * np.sin(phi), v


def _catalogue(rng, n=2000, f_fg=0.2, fg_mean=20.0, fg_sigma=60.0):
    x, y, v = _plummer_members(n, rng)
    nf = int(round(f_fg * x.size / (1 - f_fg)))
    fx, fy, fv = draw_foreground(nf, rng, 1.5, fg_mean, fg_sigma)
    fv = fv + rng.normal(0.0, 2.0, nf)
    truth = np.r_[np.ones(x.size, bool), np.zeros(nf, bool)]
    return np.r_[x, fx], np.r_[y, fy], np.r_[v, fv], truth


def test_foreground_is_uniform_over_the_field_with_its_velocity_moments():
    rng = np.random.default_rng(0)
    x, y, v = draw_foreground(50_000, rng, 2.0, 30.0, 70.0)
    R = np.hypot(x, y)
    assert R.max() <= 2.0
    assert stats.kstest((R / 2.0) ** 2, "uniform").pvalue > 1e-3  # uniform surface density
    assert stats.kstest(np.arctan2(y, x), stats.uniform(loc=-np.pi, scale=2 * np.pi).cdf).pvalue > 1e-3
    assert np.mean(v) == pytest.approx(30.0, abs=5 * 70 / np.sqrt(v.size))
    assert np.std(v) == pytest.approx(70.0, rel=0.02)
    with pytest.raises(GalmassError, match="field_radius"):
        draw_foreground(10, rng, 0.0, 0.0, 50.0)


def test_clean_members_are_kept_and_their_dispersion_recovered():
    rng = np.random.default_rng(1)
    x, y, v = _plummer_members(2000, rng)
    fit = membership_probabilities(x, y, v, np.full(v.size, 2.0), field_radius=1.5)
    assert fit.converged
    assert np.mean(fit.p_member > 0.5) > 0.99
    assert fit.sigma == pytest.approx(8.0, rel=0.05)
    assert fit.scale == pytest.approx(0.3, rel=0.1)


@pytest.mark.parametrize("f_fg", [0.1, 0.3])
def test_mixture_probabilities_are_calibrated_on_their_own_model(f_fg):
    """The catalogue is drawn from the mixture's own model, so its probabilities must be
    calibrated: summed over stars they count the members, and far-off stars are rejected."""
    rng = np.random.default_rng(2)
    x, y, v, truth = _catalogue(rng, f_fg=f_fg)
    fit = membership_probabilities(x, y, v, np.full(v.size, 2.0), field_radius=1.5)
    assert fit.converged
    assert fit.p_member.sum() == pytest.approx(truth.sum(), rel=0.03)
    assert fit.fraction == pytest.approx(truth.mean(), abs=0.03)
    assert fit.sigma == pytest.approx(np.sqrt(8.0 ** 2 + 0.0), rel=0.08)
    far = np.abs(v - fit.v_mean) > 6 * 8.2
    assert np.all(fit.p_member[far] < 0.01)
    # binned reliability: the member fraction among stars of p in a bin is that p
    bins = np.array([0.0, 0.2, 0.8, 1.0])
    idx = np.digitize(fit.p_member, bins[1:-1])
    for k in range(3):
        sel = idx == k
        if sel.sum() > 50:
            err = 3 * np.sqrt(0.25 / sel.sum()) + 0.03
            assert truth[sel].mean() == pytest.approx(fit.p_member[sel].mean(), abs=err)


def test_mixture_refuses_too_few_stars():
    with pytest.raises(GalmassError, match="too few"):
        membership_probabilities(np.zeros(5), np.zeros(5), np.zeros(5))
