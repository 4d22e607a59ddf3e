"""Equilibrium distribution functions: physics tests against known results."""

import numpy as np
import pytest
from scipy import stats

from galmass.constants import G
from galmass.physics.df import CuddefordDF, UnphysicalDF, anisotropy_beta
from galmass.physics.profiles import NFW, Composite, Plummer
from galmass.sources.suites import SUITE_SPECS, SUITES, draw_model

#: Suites whose stars are the DF's sample (the shaped suites phase-mix it: tests/test_shapes.py)
SPHERICAL_SUITES = [s for s in SUITES if SUITE_SPECS[s].shape.spherical]

N = 10_000


def _anisotropy_z_scores(pos, vel, beta_of_r, n_bins=6):
    """Per radial bin, the z-score of mean[v_t^2/2 - (1 - beta(r_i)) v_r^2] = 0.

    Each star's expectation is zero when the sample has the anisotropy beta(r) (whatever the
    bin width), so the bin mean divided by its standard error is ~N(0, 1).
    """
    r = np.linalg.norm(pos, axis=1)
    vr = (vel * pos).sum(1) / r
    vt2 = (vel**2).sum(1) - vr**2
    d = vt2 / 2 - (1 - beta_of_r(r)) * vr**2
    edges = np.quantile(r, np.linspace(0, 1, n_bins + 1))
    idx = np.clip(np.digitize(r, edges[1:-1]), 0, n_bins - 1)
    return np.array([d[idx == i].mean() / (d[idx == i].std() / np.sqrt((idx == i).sum()))
                     for i in range(n_bins)])


@pytest.mark.parametrize("suite", SPHERICAL_SUITES)
@pytest.mark.parametrize("index", [0, 1, 2])
def test_suite_galaxies_are_in_equilibrium(suite, index):
    model = draw_model(suite, index, seed=11)
    rng = np.random.default_rng(123 + index)
    pos, vel = model.df.sample(N, rng)
    r = np.linalg.norm(pos, axis=1)
    # radii follow the tracer density (KS test against its cumulative mass)
    cdf = lambda x: model.stars.enclosed_mass(np.asarray(x)) / model.stars.mass
    assert stats.kstest(r, cdf).pvalue > 1e-3
    # tracer virial theorem: <v^2> = <G M(<r) / r>
    ratio = np.mean((vel**2).sum(1)) / np.mean(G * model.total.enclosed_mass(r) / r)
    assert abs(ratio - 1) < 0.03, ratio
    # anisotropy follows the input beta(r) within sampling noise
    z = _anisotropy_z_scores(pos, vel, lambda x: anisotropy_beta(x, model.df.beta0, model.df.r_a))
    assert np.all(np.abs(z) < 4), z
    # and a wrong anisotropy is detected: shifting beta by 0.15 fails the same test
    z_wrong = _anisotropy_z_scores(pos, vel, lambda x: anisotropy_beta(x, model.df.beta0, model.df.r_a) + 0.15)
    assert np.any(np.abs(z_wrong) > 4), z_wrong


def test_isotropic_plummer_projected_dispersion():
    """Isotropic self-consistent Plummer: sigma_p^2(R) = 3 pi G M / (64 sqrt(R^2 + a^2))."""
    m, a = 1e8, 0.3
    pl = Plummer(m, a)
    pos, vel = CuddefordDF(pl, pl).sample(100_000, np.random.default_rng(5))
    R = np.hypot(pos[:, 0], pos[:, 1])
    edges = a * np.array([0.0, 0.3, 0.7, 1.2, 2.0, 4.0])
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (R >= lo) & (R < hi)
        expected = np.mean(3 * np.pi * G * m / (64 * np.sqrt(R[sel] ** 2 + a**2)))
        measured = np.var(vel[sel, 2])
        assert measured == pytest.approx(expected, rel=4 * np.sqrt(2 / sel.sum()) + 0.005)
    # global value: <v_los^2> = pi G M / (32 a)
    assert np.var(vel[:, 2]) == pytest.approx(np.pi * G * m / (32 * a), rel=0.015)


def test_osipkov_merritt_plummer_limit():
    """Self-consistent OM Plummer models are physical only for r_a >= 0.75 a (Merritt 1985)."""
    pl = Plummer(1.0, 1.0)
    CuddefordDF(pl, pl, beta0=0.0, r_a=0.8)
    with pytest.raises(UnphysicalDF):
        CuddefordDF(pl, pl, beta0=0.0, r_a=0.7)


def test_cored_tracer_in_cusp_needs_tangential_centre():
    """A cored tracer in an NFW cusp has no isotropic DF (dnu/dPsi -> 0 at the centre); beta0<0 fixes it."""
    halo = NFW(1e10, 50.0, 12.0)
    st = Plummer(1e7, 0.5)
    tot = Composite([halo, st])
    with pytest.raises(UnphysicalDF):
        CuddefordDF(st, tot, beta0=0.0)
    CuddefordDF(st, tot, beta0=-0.3)


def test_sampling_is_reproducible():
    model = draw_model("core", 4, seed=3)
    a = model.df.sample(500, np.random.default_rng(1))
    b = model.df.sample(500, np.random.default_rng(1))
    np.testing.assert_array_equal(a[1], b[1])
