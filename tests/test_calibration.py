"""TARP and marginal coverage on toy posteriors with known calibration."""

import numpy as np
import pytest
import torch

from galmass.evaluation.calibration import (load_tarp, marginal_coverage, posterior_uncertainty, save_tarp,
                                            tarp_coverage, tarp_credibility)
from galmass.errors import GalmassError


def _toy(width_factor, n_cases=600, n_samples=400, dim=3, seed=0):
    """Truth ~ N(mu, 1); the posterior is N(mu, width_factor^2): calibrated when factor = 1."""
    rng = np.random.default_rng(seed)
    mu = rng.uniform(-3, 3, (n_cases, dim))
    theta = mu + rng.normal(size=(n_cases, dim))
    samples = mu[None] + width_factor * rng.normal(size=(n_samples, n_cases, dim))
    return samples, theta


def _upper_area(res):
    sel = res.alpha > 0.5
    return float(np.mean(res.ecp[sel] - res.alpha[sel]))


def test_calibrated_gaussian_on_diagonal_within_band():
    s, t = _toy(1.0)
    res = tarp_coverage(s, t, n_bootstrap=100, seed=1)
    inside = (res.alpha >= res.ecp_lo - 0.01) & (res.alpha <= res.ecp_hi + 0.01)
    assert inside.mean() > 0.95
    assert res.max_deviation < 0.06


def test_group_bootstrap_widens_band_for_correlated_cases():
    """Cases repeated within a group (like projections of one galaxy) carry less
    information: the group bootstrap band is wider than the case bootstrap band, and with
    one case per group the two bootstraps are the same resampling."""
    s, t = _toy(1.0, n_cases=100)
    s_rep, t_rep = np.repeat(s, 8, axis=1), np.repeat(t, 8, axis=0)
    refs = np.repeat(np.random.default_rng(3).uniform(t.min(0), t.max(0), t.shape), 8, axis=0)
    groups = np.repeat(np.arange(100), 8)
    by_case = tarp_coverage(s_rep, t_rep, references=refs, n_bootstrap=200)
    by_group = tarp_coverage(s_rep, t_rep, references=refs, n_bootstrap=200, groups=groups)
    np.testing.assert_array_equal(by_case.ecp, by_group.ecp)
    width = lambda r: float(np.mean(r.ecp_hi - r.ecp_lo))
    assert width(by_group) > 2.0 * width(by_case)
    assert np.median(by_group.bootstrap_max_deviation) > np.median(by_case.bootstrap_max_deviation)
    one = tarp_coverage(s, t, n_bootstrap=50, seed=4)
    one_g = tarp_coverage(s, t, n_bootstrap=50, seed=4, groups=np.arange(100))
    np.testing.assert_array_equal(one.ecp_lo, one_g.ecp_lo)
    np.testing.assert_array_equal(one.bootstrap_max_deviation, one_g.bootstrap_max_deviation)
    with pytest.raises(GalmassError, match="groups must have shape"):
        tarp_coverage(s, t, groups=np.arange(5))


def test_overconfident_below_underconfident_above():
    over = tarp_coverage(*_toy(0.5), n_bootstrap=20)
    under = tarp_coverage(*_toy(2.0), n_bootstrap=20)
    assert _upper_area(over) < -0.05 and over.max_deviation > 0.1
    assert _upper_area(under) > 0.05 and under.max_deviation > 0.1


def test_inputs_are_not_modified():
    s, t = _toy(1.0, n_cases=50, n_samples=40)
    s0, t0 = s.copy(), t.copy()
    refs = np.random.default_rng(3).uniform(t.min(0), t.max(0), t.shape)
    r0 = refs.copy()
    tarp_coverage(s, t, references=refs, n_bootstrap=5)
    marginal_coverage(s, t)
    np.testing.assert_array_equal(s, s0)
    np.testing.assert_array_equal(t, t0)
    np.testing.assert_array_equal(refs, r0)


def test_agrees_with_sbi_run_tarp_on_same_samples():
    from sbi.diagnostics.tarp import _run_tarp

    s, t = _toy(0.8, n_cases=300, n_samples=199)  # f = k/199: no ties with the bin edges
    refs = np.random.default_rng(5).uniform(t.min(0), t.max(0), t.shape)
    ecp_sbi, alpha_sbi = _run_tarp(torch.tensor(s), torch.tensor(t), torch.tensor(refs), num_bins=30,
                                   z_score_theta=True)
    ours = tarp_coverage(s, t, references=refs, n_bootstrap=0, alpha=alpha_sbi.numpy())
    np.testing.assert_allclose(ours.ecp[1:-1], ecp_sbi.numpy()[1:-1], atol=1e-6)


def test_marginal_coverage_and_uncertainty():
    s, t = _toy(1.0, n_cases=2000, n_samples=300, dim=2)
    a, ecp = marginal_coverage(s, t)
    assert ecp.shape == (len(a), 2)
    np.testing.assert_allclose(ecp, np.repeat(a[:, None], 2, axis=1), atol=0.05)
    _, ecp_over = marginal_coverage(*_toy(0.5, n_cases=500, n_samples=300, dim=2))
    assert ecp_over[np.argmin(np.abs(a - 0.68))].mean() < 0.5
    np.testing.assert_allclose(posterior_uncertainty(s).mean(), 1.0, rtol=0.05)


def test_bad_input_is_clear():
    with pytest.raises(GalmassError, match="must be"):
        tarp_credibility(np.zeros((5, 4)), np.zeros((4, 2)))
    with pytest.raises(GalmassError, match="NaN"):
        tarp_credibility(np.full((5, 4, 2), np.nan), np.zeros((4, 2)))


def test_saved_tarp_result_reads_back_identical(tmp_path):
    s, t = _toy(0.8, n_cases=200, n_samples=100)
    res = tarp_coverage(s, t, n_bootstrap=20, seed=3, groups=np.arange(200) // 4)
    back = load_tarp(save_tarp(tmp_path / "tarp" / "validation.npz", res))
    assert back.n_groups == res.n_groups == 50 and isinstance(back.n_groups, int)
    for name in ("alpha", "ecp", "ecp_median", "ecp_lo", "ecp_hi", "credibility", "bootstrap_max_deviation"):
        np.testing.assert_array_equal(getattr(back, name), getattr(res, name))
    assert back.max_deviation == res.max_deviation
    assert not list(tmp_path.rglob("*.partial"))


def test_loading_a_missing_or_foreign_tarp_file_is_clear(tmp_path):
    with pytest.raises(GalmassError, match="no TARP result"):
        load_tarp(tmp_path / "absent.npz")
    np.savez(tmp_path / "other.npz", alpha=np.zeros(3))
    with pytest.raises(GalmassError, match="not a TARP result.*ecp"):
        load_tarp(tmp_path / "other.npz")
