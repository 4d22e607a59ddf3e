"""Tests of galmass.observe.estimators: hand-computed formulas and Plummer spheres in equilibrium."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

try:  # pytest's default "prepend" import mode puts tests/ on sys.path
    from plummer import sample_plummer, sample_plummer_jeans
except ImportError:  # pragma: no cover - tests/ made a package
    from tests.plummer import sample_plummer, sample_plummer_jeans

from galmass.constants import G
from galmass.errors import GalmassError
from galmass.observe.estimators import (
                                        ESTIMATORS,
                                        Estimator,
                                        amorisco_evans,
                                        apply_all,
                                        apply_to_projections,
                                        campbell,
                                        errani,
                                        los_variance,
                                        penarrubia_2008,
                                        walker,
                                        wolf,
                                        )
from galmass.sources.galaxy import Galaxy
from galmass.physics.profiles import NFW, Plummer
from galmass.observe.projection import project, project_all

# (radius factor f, coefficient C, aperture in R_h or None) of M(< f R_h) = C R_h <s^2> / G
EXPECTED = {
    "walker": (1.0, 2.5, None),
    "wolf": (4 / 3, 4.0, None),
    "amorisco_evans": (1.67, 5.85, 1.0),
    "campbell": (1.77, 5.99, 1.04),
    "errani": (1.8, 6.3, None),
}

# A hand-made projection with R_h = 2 kpc:
#   stars with R < R_h (first 4):        v = +-10       -> var = 400 / 3
#   stars with R < 1.04 R_h (first 5):   adds v = 0     -> var = 400 / 4 = 100
#   all 8 stars:                         adds +-20, 0   -> var = 1200 / 7
R_HAND = np.array([0.5, 1.0, 1.5, 1.9, 2.05, 3.0, 4.0, 5.0])
V_HAND = np.array([10.0, -10.0, 10.0, -10.0, 0.0, 20.0, -20.0, 0.0])
RH_HAND = 2.0
VAR_HAND = {"global": 1200 / 7, 1.0: 400 / 3, 1.04: 100.0}


def test_registry():
    assert list(ESTIMATORS) == list(EXPECTED)
    for name, (f, c, ap) in EXPECTED.items():
        e = ESTIMATORS[name]
        assert isinstance(e, Estimator) and e.name == name and e.used_in_paper
        assert e.radius_factor == pytest.approx(f) and e.coefficient == pytest.approx(c)
        assert e.aperture == ap
        assert e.dispersion == ("global" if ap is None else "aperture")
        assert e.reference
    assert ESTIMATORS["campbell"].formula == "M(<1.77 R_h) = 5.99 R_h <sigma_los^2(<1.04 R_h)> / G"
    with pytest.raises(GalmassError):
        Estimator("bad", "x", 1.0, 1.0, dispersion="aperture")


@pytest.mark.parametrize("shift", [0.0, 123.0])
def test_hand_computed(shift):
    v = V_HAND + shift  # a systemic velocity must not matter
    res = apply_all(R_HAND, v, RH_HAND)
    funcs = {"walker": walker, "wolf": wolf, "amorisco_evans": amorisco_evans,
             "campbell": campbell, "errani": errani}
    for name, (f, c, ap) in EXPECTED.items():
        var = VAR_HAND["global" if ap is None else ap]
        radius, mass = res[name]
        assert radius == pytest.approx(f * RH_HAND, rel=1e-12)
        assert mass == pytest.approx(c * RH_HAND * var / G, rel=1e-12)
        assert funcs[name](R_HAND, v, RH_HAND) == (radius, mass)
    # explicit numbers for two of them: Walker 2.5 * 2 * 1200/7 / G, Campbell 5.99 * 2 * 100 / G
    assert res["walker"][1] == pytest.approx(1.992934e8, rel=1e-6)
    assert res["campbell"] == pytest.approx((3.54, 2.785457e8), rel=1e-6)


def test_known_variance_many_stars():
    rng = np.random.default_rng(0)
    n = 1000
    R = rng.uniform(0, 3, n)
    v = rng.normal(0, 1, n)
    v = (v - v.mean()) / v.std(ddof=1) * 12.0  # variance exactly 144 (km/s)^2
    r_h = float(np.median(R))
    radius, mass = wolf(R, v, r_h)
    assert radius == pytest.approx(4 / 3 * r_h)
    assert mass == pytest.approx(4 * r_h * 144.0 / G, rel=1e-12)
    assert los_variance(v) == pytest.approx(144.0)


def test_subset_and_vectorised_helper():
    res = apply_all(R_HAND, V_HAND, RH_HAND, names=["wolf", "campbell"])
    assert set(res) == {"wolf", "campbell"}
    with pytest.raises(GalmassError, match="unknown mass estimator"):
        apply_all(R_HAND, V_HAND, RH_HAND, names=["walker", "nope"])
    rng = np.random.default_rng(1)
    pos, vel = sample_plummer(3_000, 1e7, 0.3, rng)
    g = Galaxy("p", "test", pos, vel, np.full(3_000, 1e7 / 3_000), Plummer(1e7, 0.3))
    projs = project_all(g, 6, rng, n_sample=500)
    out = apply_to_projections(projs)
    for name in ESTIMATORS:
        radii, masses = out[name]
        assert radii.shape == masses.shape == (6,)
        for i, p in enumerate(projs):
            r1, m1 = apply_all(p.R, p.v_los, p.r_half)[name]
            assert radii[i] == pytest.approx(r1) and masses[i] == pytest.approx(m1)
    # the global variance is the projection's sigma_los^2
    np.testing.assert_allclose(out["walker"][1],
                               [2.5 * p.r_half * p.sigma_los**2 / G for p in projs])


def test_bad_input():
    with pytest.raises(GalmassError):
        walker(R_HAND[:-1], V_HAND, RH_HAND)
    with pytest.raises(GalmassError):
        walker(R_HAND, np.where(np.arange(8) == 2, np.nan, V_HAND), RH_HAND)
    with pytest.raises(GalmassError):
        wolf(R_HAND, V_HAND, 0.0)
    with pytest.raises(GalmassError):
        wolf(R_HAND, V_HAND, np.nan)
    with pytest.raises(GalmassError, match="fewer than 2 stars"):
        amorisco_evans(R_HAND, V_HAND, 0.6)  # only one star within R_h
    with pytest.raises(GalmassError):
        walker(R_HAND[:1], V_HAND[:1], RH_HAND)


def test_penarrubia_not_in_registry():
    assert "penarrubia" not in ESTIMATORS
    radius, mass = penarrubia_2008(R_HAND, V_HAND, r_core=2.0)
    assert radius == 2.0 and mass == pytest.approx(1.44 * 2.0 * (400 / 3) / G)
    _, mass = penarrubia_2008(R_HAND, V_HAND, r_core=2.0, aperture=2.06)
    assert mass == pytest.approx(1.44 * 2.0 * 100.0 / G)


# --------------------------------------------------------------------------- physics
def plummer_ratio_expected(name: str) -> float:
    """Exact M_est / M_true(< f R_h) for a self-consistent isotropic Plummer sphere (R_h = a).

    Global: <s^2> = (pi/32) G M / a. Inside aperture X (units of a), from the projected
    dispersion s_p^2(R) = (3 pi / 64) G M / sqrt(a^2 + R^2) weighted by the surface density:
    <s^2(<X)> = (pi/32) G M / a * [1 - (1+X^2)^-1.5] / [1 - (1+X^2)^-1].
    """
    f, c, ap = EXPECTED[name]
    s2 = np.pi / 32
    if ap is not None:
        s2 *= (1 - (1 + ap**2) ** -1.5) / (1 - (1 + ap**2) ** -1)
    return c * s2 / (f**3 / (1 + f**2) ** 1.5)


@pytest.fixture(scope="module")
def plummer_projection():
    rng = np.random.default_rng(7)
    M, a = 1e8, 0.5
    pos, vel = sample_plummer(100_000, M, a, rng)
    g = Galaxy("plummer", "test", pos, vel, np.full(len(pos), M / len(pos)), Plummer(M, a))
    return g, project(g, [0.3, 0.5, 0.8], rng, n_sample=g.n_stars)


def test_plummer_self_consistent(plummer_projection):
    """Mass follows light: the estimators are *not* exact (Wolf ~0.77, Walker ~0.69).

    Wolf et al. (2010) assume a dispersion profile that is flat near R_h (dark-matter
    dominated); a self-consistent Plummer sphere has a falling sigma_los(R) and Wolf's estimator
    underestimates M(< 4/3 R_h) by 23 %. The measured ratios must match the exact values.
    """
    g, p = plummer_projection
    res = apply_all(p.R, p.v_los, p.r_half)
    for name, (radius, mass) in res.items():
        ratio = mass / float(g.enclosed_mass(radius))
        assert ratio == pytest.approx(plummer_ratio_expected(name), rel=0.02), name
    assert plummer_ratio_expected("wolf") == pytest.approx(0.7670, abs=1e-4)
    assert plummer_ratio_expected("walker") == pytest.approx(0.6942, abs=1e-4)
    assert plummer_ratio_expected("errani") == pytest.approx(0.9259, abs=1e-4)


def virial_sigma2(a: float, halo) -> float:
    """<sigma_los^2> [(km/s)^2] of a spherical Plummer tracer in equilibrium in ``halo``
    (any anisotropy): (G / 3) int p(r) M(r) / r dr with p the tracer's radial pdf."""
    val, _ = integrate.quad(lambda r: 3 * r**2 / a**3 * (1 + (r / a) ** 2) ** -2.5
                            * float(halo.enclosed_mass(r)) / r, 0, np.inf, limit=200)
    return G * val / 3


def test_wolf_near_exact_in_dark_halo():
    """Plummer tracer (a = 1 kpc) in a dominant NFW halo (r_s = 3 kpc), isotropic Jeans.

    Here sigma_los(R) is nearly flat around R_h and Wolf's estimator is accurate: the exact
    expectation is M_wolf / M(< 4/3 R_h) = 0.991.
    """
    halo = NFW(m200=1e9, r200=30.0, c=10.0)
    a = 1.0
    rng = np.random.default_rng(12)
    pos, vel = sample_plummer_jeans(100_000, a, halo.enclosed_mass, rng)
    g = Galaxy("tracer-in-nfw", "test", pos, vel, np.ones(len(pos)), halo)
    p = project(g, [0, 0, 1], rng, n_sample=g.n_stars)
    s2 = virial_sigma2(a, halo)
    assert p.sigma_los**2 / s2 == pytest.approx(1.0, rel=0.015)
    res = apply_all(p.R, p.v_los, p.r_half)
    ratio = {name: mass / float(halo.enclosed_mass(radius)) for name, (radius, mass) in res.items()}
    expected_wolf = 4 * a * s2 / G / float(halo.enclosed_mass(4 / 3 * a))
    assert expected_wolf == pytest.approx(0.991, abs=1e-3)
    assert ratio["wolf"] == pytest.approx(expected_wolf, rel=0.02)
    assert ratio["wolf"] == pytest.approx(1.0, abs=0.05)
    for name in ("walker", "errani"):
        f, c, _ = EXPECTED[name]
        expected = c * a * s2 / G / float(halo.enclosed_mass(f * a))
        assert ratio[name] == pytest.approx(expected, rel=0.02)
        assert ratio[name] == pytest.approx(1.0, abs=0.05)


def test_estimator_points_and_ratio_curve_of_exact_estimates():
    """Figs. 6-9 markers and curves: exact estimates give a ratio of 1 at each estimator's radius."""
    from galmass.constants import RADII_F
    from galmass.observe.estimators import ESTIMATORS
    from galmass.evaluation.stats import estimator_points, ratio_curve

    rng = np.random.default_rng(0)
    truth = rng.uniform(7, 9, (200, len(ESTIMATORS)))
    pts = estimator_points({"est_log_mass": truth + np.log10(2.0), "est_log_truth": truth})
    assert list(pts) == list(ESTIMATORS)
    for name, (f, med, lo, hi) in pts.items():
        assert f == ESTIMATORS[name].radius_factor and med == pytest.approx(2.0) and lo == hi == pytest.approx(2.0)
    labels = rng.uniform(7, 9, (300, 10))
    c = ratio_curve(labels + rng.normal(0, 0.1, labels.shape), labels)
    assert np.array_equal(c["f"], RADII_F) and np.all(c["p16"] < c["median_ratio"]) and np.all(c["median_ratio"] < c["p84"])
