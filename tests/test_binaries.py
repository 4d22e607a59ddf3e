"""Binary-star velocity offsets against Kepler orbits and their published distributions."""

import numpy as np
import pytest
from scipy import stats

from galmass.errors import GalmassError
from galmass.observe.binaries import (AU_PER_YR_KMS, BinaryOrbits, BinaryPopulation, binary_velocity_offsets,
                                      draw_orbits, eccentric_anomaly, los_velocity)


def _fixed(n, rng, period, q, e, m1=0.8):
    """n copies of one orbit, isotropically oriented, at uniform random phases."""
    return BinaryOrbits(np.full(n, period), np.full(n, q), np.full(n, e), np.arccos(rng.uniform(-1, 1, n)),
                        rng.uniform(0, 2 * np.pi, n), rng.uniform(0, 2 * np.pi, n), m1)


def test_unit_conversion_matches_astropy():
    import astropy.units as u
    assert AU_PER_YR_KMS == pytest.approx((1 * u.AU / u.yr).to_value(u.km / u.s), rel=1e-12)


def test_kepler_equation_is_solved():
    rng = np.random.default_rng(1)
    m = rng.uniform(-10, 10, 20000)
    e = rng.uniform(0, 0.99, 20000)
    ecc = eccentric_anomaly(m, e)
    resid = np.angle(np.exp(1j * (ecc - e * np.sin(ecc) - m)))
    assert np.max(np.abs(resid)) < 1e-10


def test_velocity_is_the_time_derivative_of_the_projected_position():
    """v_los from the closed form equals d z / d t of the primary's orbit (finite differences)."""
    rng = np.random.default_rng(2)
    orb = _fixed(200, rng, period=300.0, q=0.6, e=0.0, m1=0.8)
    orb.e = rng.uniform(0, 0.9, 200)
    p_yr = orb.period / 365.25
    h = 1e-6 * p_yr

    def z(t):  # the primary's line-of-sight position [AU]
        mean = orb.mean_anomaly + 2 * np.pi * t / p_yr
        ecc = eccentric_anomaly(mean, orb.e)
        nu = 2 * np.arctan2(np.sqrt(1 + orb.e) * np.sin(ecc / 2), np.sqrt(1 - orb.e) * np.cos(ecc / 2))
        r = orb.semi_major_axis * (1 - orb.e * np.cos(ecc))
        return orb.q / (1 + orb.q) * r * np.sin(orb.omega + nu) * np.sin(orb.inclination)

    numeric = (z(h) - z(-h)) / (2 * h) * AU_PER_YR_KMS
    np.testing.assert_allclose(los_velocity(orb), numeric, rtol=1e-5, atol=1e-6 * orb.semi_amplitude.max())


@pytest.mark.parametrize("e", [0.0, 0.5, 0.9])
def test_mean_square_velocity_is_the_virial_value(e):
    """Time and orientation average: <v_los^2> = (q/(1+q))^2 G M / (3 a) for any eccentricity."""
    rng = np.random.default_rng(3)
    orb = _fixed(400_000, rng, period=1000.0, q=0.5, e=e)
    v = los_velocity(orb)
    a = orb.semi_major_axis[0]
    expected = (0.5 / 1.5) ** 2 * 4 * np.pi ** 2 * 0.8 * 1.5 / (3 * a) * AU_PER_YR_KMS ** 2
    assert np.mean(v) == pytest.approx(0.0, abs=5 * np.std(v) / np.sqrt(v.size))
    # sampling error of a mean of v^2 is std(v^2)/sqrt(n): ~0.3% here
    assert np.mean(v ** 2) == pytest.approx(expected, rel=5 * np.std(v ** 2) / np.mean(v ** 2) / np.sqrt(v.size))


def test_circular_orbits_give_a_uniform_line_of_sight_velocity():
    """A fixed-speed velocity in an isotropic direction projects uniformly onto [-K, K]."""
    rng = np.random.default_rng(4)
    orb = _fixed(20000, rng, period=50.0, q=1.0, e=0.0)
    k0 = orb.semi_amplitude / np.sin(orb.inclination)
    assert np.allclose(k0, k0[0])
    v = los_velocity(orb)
    assert stats.kstest(v, stats.uniform(loc=-k0[0], scale=2 * k0[0]).cdf).pvalue > 1e-3


def test_period_distribution_is_the_published_log_normal():
    rng = np.random.default_rng(5)
    pop = BinaryPopulation(log_period_range=(-20.0, 30.0), min_periastron=0.0)
    logp = np.log10(draw_orbits(100_000, rng, pop).period)
    err = 2.28 / np.sqrt(logp.size)
    assert np.mean(logp) == pytest.approx(5.03, abs=5 * err)
    assert np.std(logp) == pytest.approx(2.28, abs=5 * err)
    assert stats.kstest(logp, stats.norm(5.03, 2.28).cdf).pvalue > 1e-3


def test_default_population_respects_its_cuts():
    rng = np.random.default_rng(6)
    orb = draw_orbits(50_000, rng)
    assert np.all(orb.semi_major_axis * (1 - orb.e) >= 0.1)
    logp = np.log10(orb.period)
    assert logp.min() >= -1.0 and logp.max() <= 10.0
    assert np.all(orb.e[orb.period < 12.0] == 0.0)
    long = orb.period > 1e4  # far from both cuts: e / e_max uniform, q uniform
    emax = 1 - (orb.period[long] / 2.0) ** (-2 / 3)
    assert stats.kstest(orb.e[long] / emax, "uniform").pvalue > 1e-3
    assert stats.kstest((orb.q - 0.1) / 0.9, "uniform").pvalue > 1e-3
    assert stats.kstest(np.cos(orb.inclination), stats.uniform(loc=-1, scale=2).cdf).pvalue > 1e-3


def test_offsets_fraction_epochs_and_seeding():
    off = binary_velocity_offsets(20000, np.random.default_rng(7), 0.5)
    assert np.mean(off != 0) == pytest.approx(0.5, abs=0.02)
    again = binary_velocity_offsets(20000, np.random.default_rng(7), 0.5)
    np.testing.assert_array_equal(off, again)
    assert np.all(binary_velocity_offsets(100, np.random.default_rng(7), 0.0) == 0)
    multi = binary_velocity_offsets(1000, np.random.default_rng(8), 1.0, times=np.array([0.0, 1.0, 5.0]))
    assert multi.shape == (1000, 3)
    short = multi[:, 0] != multi[:, 1]
    assert short.mean() > 0.9  # every binary moves over a year
    with pytest.raises(GalmassError, match="binary fraction"):
        binary_velocity_offsets(10, np.random.default_rng(0), 1.5)


def test_binaries_inflate_an_ultrafaint_dispersion():
    """A 4 km/s galaxy with half its stars in binaries: the single-epoch dispersion is inflated
    (heavy tails) while the median absolute deviation moves little."""
    rng = np.random.default_rng(9)
    v = rng.normal(0.0, 4.0, 200_000)
    vb = v + binary_velocity_offsets(v.size, rng, 0.5)
    assert np.std(vb) > 1.2 * np.std(v)
    mad = lambda a: 1.4826 * np.median(np.abs(a - np.median(a)))
    assert mad(vb) < 1.15 * mad(v)
