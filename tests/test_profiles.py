"""Mass profiles: enclosed mass against the numerical integral of the density."""

import numpy as np
import pytest
from scipy.integrate import quad

from galmass.errors import GalmassError
from galmass.physics.profiles import (NFW, Composite, CoreNFW, Dehnen, Einasto, ParticleMass, Plummer, Sersic,
                                      Zhao, profile_from_dict)
from galmass.sources.suites import SUITES, draw_model

PROFILES = [
    NFW(1e10, 50.0, 12.0),
    Zhao(1e10, 50.0, 3.0, 1.5, 2.6, 0.3),
    Zhao(1e11, 100.0, 10.0, 1.0, 3.0, 1.0),
    CoreNFW(1e10, 50.0, 12.0, r_c=1.0, n=0.8),
    Plummer(1e7, 0.4),
    Dehnen(1e8, 0.5, 0.7),
    Sersic(1e8, 0.5, 2.5),
    Sersic(1e6, 0.2, 0.9),
    Einasto(1e8, 0.3, 1.7),
]


def _numerical_mass(prof, r):
    f = lambda lnr: 4 * np.pi * np.exp(3 * lnr) * prof.density(np.exp(lnr))
    return quad(f, np.log(r) - 40, np.log(r), limit=400, epsabs=0, epsrel=1e-10)[0]


@pytest.mark.parametrize("prof", PROFILES, ids=lambda p: p.kind)
def test_enclosed_mass_is_integral_of_density(prof):
    for r in [1e-3, 0.05, 0.5, 3.0, 40.0]:
        assert prof.enclosed_mass(np.array(r)) == pytest.approx(_numerical_mass(prof, r), rel=1e-3)


@pytest.mark.parametrize("suite", SUITES)
def test_suite_truth_is_integral_of_density(suite):
    for i in range(3):
        model = draw_model(suite, i, seed=7)
        rh = model.params["r_half_3d"]
        for r in rh * np.array([0.1, 0.45, 0.75, 1.8, 3.2]):
            m = float(model.total.enclosed_mass(np.array(r)))
            assert m == pytest.approx(_numerical_mass(model.total, r), rel=1e-3)


@pytest.mark.parametrize("prof", PROFILES, ids=lambda p: p.kind)
def test_dict_round_trip(prof):
    back = profile_from_dict(prof.to_dict())
    r = np.logspace(-2, 2, 7)
    np.testing.assert_allclose(back.enclosed_mass(r), prof.enclosed_mass(r), rtol=1e-12)


def test_tracer_quantiles_invert_mass():
    for t in PROFILES[4:9]:
        u = np.array([0.1, 0.5, 0.9])
        np.testing.assert_allclose(t.enclosed_mass(t.radius_quantile(u)) / t.mass, u, rtol=1e-8)


def test_particle_mass_is_exact_sum():
    rng = np.random.default_rng(0)
    r = rng.uniform(0, 10, 1000)
    m = rng.uniform(1, 2, 1000)
    pm = ParticleMass(r, m)
    for x in [0.0, 1.3, 5.0, 11.0]:
        assert pm.enclosed_mass(np.array(x)) == pytest.approx(m[r <= x].sum())


def test_composite_sums():
    c = Composite([PROFILES[0], PROFILES[4]])
    assert c.enclosed_mass(np.array(1.0)) == pytest.approx(
        PROFILES[0].enclosed_mass(np.array(1.0)) + PROFILES[4].enclosed_mass(np.array(1.0)))


@pytest.mark.parametrize("bad", [lambda: NFW(-1e10, 50, 10), lambda: Plummer(np.nan, 1.0),
                                 lambda: Zhao(1e10, 50, 3, 1, 1.5, 1), lambda: CoreNFW(1e10, 50, 10, 1, 2.0),
                                 lambda: profile_from_dict({"kind": "nope"})])
def test_bad_parameters_raise_clear_error(bad):
    with pytest.raises(GalmassError):
        bad()
