"""Dirty catalogues in the dataset build (issue #19): the same reduction as predict's."""

import numpy as np
import pytest

from galmass.constants import RADII_F
from galmass.errors import GalmassError
from galmass.observe.nuisances import Nuisances, find_centre, observe_stars
from galmass.predict import prepare_inputs, read_catalog

S = 16
DIRTY = Nuisances(v_err_range=(1.0, 3.0), binary_fraction_range=(0.3, 0.6), foreground_fraction_range=(0.1, 0.3),
                  estimate_centre=True)


@pytest.fixture(scope="module")
def galaxy():
    from galmass.sources.suites import load_suite
    return load_suite("cusp", 1, 2, n_max_stars=3000)[0]


def _plummer(n, rng, a=0.3, sigma=8.0):
    u = rng.uniform(size=n)
    R = a * np.sqrt(u / (1 - u))
    phi = rng.uniform(0, 2 * np.pi, n)
    return R * np.cos(phi), R * np.sin(phi), rng.normal(0.0, sigma, n)


def test_clean_nuisances_leave_the_dataset_bit_identical(galaxy):
    """Velocity errors alone go through the old code path: same random draws, same rows."""
    from galmass.dataset import project_galaxy

    kw = dict(n_sample_range=(100, 400), min_stars=20)
    a = project_galaxy(galaxy, 3, np.random.default_rng(1), S, v_err_range=(1.0, 3.0), **kw)
    b = project_galaxy(galaxy, 3, np.random.default_rng(1), S, nuisances=Nuisances(v_err_range=(1.0, 3.0)), **kw)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    with pytest.raises(GalmassError, match="not both"):
        project_galaxy(galaxy, 3, np.random.default_rng(1), S, v_err_range=(1.0, 3.0), nuisances=DIRTY, **kw)


def test_dirty_projections_have_true_labels_at_their_own_r_half(galaxy):
    from galmass.dataset import project_galaxy

    out = project_galaxy(galaxy, 4, np.random.default_rng(2), S, n_sample_range=(300, 1000), min_stars=20,
                         nuisances=DIRTY)
    assert all(np.all(np.isfinite(v)) for v in out.values())
    rh = out["scalars"][:, 0]
    expected = np.log10([galaxy.enclosed_mass(RADII_F * r) for r in rh])
    np.testing.assert_allclose(out["labels"], expected, rtol=0, atol=1e-12)
    again = project_galaxy(galaxy, 4, np.random.default_rng(2), S, n_sample_range=(300, 1000), min_stars=20,
                           nuisances=DIRTY)
    for k in out:
        np.testing.assert_array_equal(out[k], again[k])


def test_training_reduction_is_predicts_reduction():
    """The kept stars, their centre and systemic velocity are what predict makes of the same
    catalogue (membership cut 0.5, robust p_member-weighted centre, mean velocity)."""
    rng = np.random.default_rng(3)
    x, y, v = _plummer(1500, rng)
    x, y = x + 0.05, y - 0.03  # the catalogue's centre is not the true one after contamination
    obs = observe_stars(x, y, v, 0.3, np.random.default_rng(4), DIRTY)
    assert 0 < obs.centre_offset < 0.2
    # rebuild the reduced catalogue before centring and give it to predict
    cx, cy = find_centre(obs.x, obs.y, obs.p_member)
    assert abs(cx) < 1e-12 and abs(cy) < 1e-12  # the kept stars are centred on their own centre
    cat = read_catalog({"x": obs.x + 1.0, "y": obs.y - 2.0, "v_los": obs.v + 250.0, "v_err": obs.v_err,
                        "p_member": obs.p_member})
    assert cat.meta["centre"]["x"] == pytest.approx(1.0, abs=1e-9)
    assert cat.meta["centre"]["y"] == pytest.approx(-2.0, abs=1e-9)
    got = prepare_inputs(cat, S, n_max_sample=10_000)
    assert got["n_stars"] == obs.v.size
    assert got["v_sys"] == pytest.approx(250.0, abs=1e-9)


def test_foreground_is_mostly_removed_and_binaries_inflate_the_dispersion():
    rng = np.random.default_rng(5)
    x, y, v = _plummer(3000, rng, sigma=4.0)
    fg = observe_stars(x, y, v, 0.3, np.random.default_rng(6),
                       Nuisances(foreground_fraction_range=(0.3, 0.3), v_err_range=(1.0, 1.0)))
    assert fg.foreground_fraction == 0.3
    assert fg.n_catalogue > fg.v.size  # the cut removed stars
    assert np.mean(~fg.is_member) < 0.08  # from 30% foreground to a few per cent
    clean_sigma = np.std(v[np.hypot(x, y) <= 0.9])
    assert abs(np.sqrt(max(np.var(fg.v) - 1.0, 0)) / clean_sigma - 1) < 0.25
    bn = observe_stars(x, y, v, 0.3, np.random.default_rng(7), Nuisances(binary_fraction_range=(0.5, 0.5)))
    assert np.all(bn.is_member) and np.all(bn.p_member == 1)
    singles = observe_stars(x, y, v, 0.3, np.random.default_rng(7), Nuisances(binary_fraction_range=(0.0, 0.0)))
    np.testing.assert_array_equal(singles.x, bn.x)  # the same field and stars, without binaries
    assert np.std(bn.v) > 1.1 * np.std(singles.v)


def test_nuisance_ranges_are_checked():
    with pytest.raises(GalmassError, match="binary_fraction_range"):
        Nuisances(binary_fraction_range=(0.5, 1.5))
    with pytest.raises(GalmassError, match="foreground_fraction_range"):
        Nuisances(foreground_fraction_range=(0.2, 0.1))
    assert not Nuisances(v_err_range=(1, 2)).dirty and Nuisances(estimate_centre=True).dirty


def test_config_accepts_and_checks_the_nuisances(tmp_path):
    from galmass.config import load_config

    good = tmp_path / "good.yaml"
    good.write_text("profile: t\ndataset:\n  binary_fraction_range: [0, 0.7]\n  foreground_fraction_range: [0, 0.3]\n"
                    "  estimate_centre: true\n")
    d = load_config(good).dataset
    assert d.binary_fraction_range == (0.0, 0.7) and d.foreground_fraction_range == (0.0, 0.3) and d.estimate_centre
    bad = tmp_path / "bad.yaml"
    bad.write_text("profile: t\ndataset:\n  foreground_fraction_range: [0, 0.95]\n")
    with pytest.raises(GalmassError, match="foreground_fraction_range"):
        load_config(bad)


def test_predict_fits_membership_when_the_catalogue_has_none():
    from galmass.observe.contamination import draw_foreground
    from galmass.predict import fit_membership

    rng = np.random.default_rng(8)
    x, y, v = _plummer(1600, rng)
    x, y, v = (a[np.hypot(x, y) < 1.5][:800] for a in (x, y, v))  # one field for members and foreground
    fx, fy, fv = draw_foreground(200, rng, 1.5, 30.0, 70.0)
    cat = read_catalog({"x": np.r_[x, fx] + 0.5, "y": np.r_[y, fy], "v_los": np.r_[v, fv] + 100.0})
    fitted = fit_membership(cat)
    assert fitted.meta["membership"] == "fitted mixture"
    assert 780 <= fitted.n_stars < 880  # most of the 200 foreground stars are gone, the members kept
    assert fitted.meta["membership_fit"]["sigma_kms"] == pytest.approx(8.0, rel=0.1)
    assert np.all(fitted.p_member >= 0.5)
    with pytest.raises(GalmassError, match="already has p_member"):
        fit_membership(fitted)


def test_cli_fit_membership(tmp_path, capsys):
    from astropy.table import Table

    from galmass.cli import main
    from galmass.observe.contamination import draw_foreground

    rng = np.random.default_rng(9)
    x, y, v = _plummer(1000, rng)
    x, y, v = (a[np.hypot(x, y) < 1.5][:500] for a in (x, y, v))
    fx, fy, fv = draw_foreground(100, rng, 1.5, 30.0, 70.0)
    path = tmp_path / "dirty.csv"
    Table({"x": np.r_[x, fx], "y": np.r_[y, fy], "v_los": np.r_[v, fv]}).write(path)
    out = tmp_path / "p.ecsv"
    assert main(["predict", str(path), "--fit-membership", "--out", str(out), "--n-samples", "200"]) == 0
    assert "membership fitted" in capsys.readouterr().err
    assert Table.read(out).meta["membership"] == "fitted mixture"


def test_weighted_membership_inputs_are_predicts():
    """With membership weights, the training inputs of a dirty projection equal predict's
    inputs for the same catalogue and p_member (--p-member-weights)."""
    from galmass.observe.inputs import make_inputs

    rng = np.random.default_rng(10)
    x, y, v = _plummer(1500, rng)
    nu = Nuisances(v_err_range=(1.0, 3.0), foreground_fraction_range=(0.2, 0.2), estimate_centre=True,
                   membership_weights=True)
    obs = observe_stars(x, y, v, 0.3, np.random.default_rng(11), nu)
    assert obs.p_member.min() >= 0.05 and obs.p_member.min() < 0.5  # uncertain stars are kept, weighted
    assert abs(np.average(obs.v, weights=obs.p_member)) < 1e-9
    train = make_inputs([obs.x], [obs.y], [obs.v], S, v_err=[obs.v_err], weights=[obs.p_member])
    cat = read_catalog({"x": obs.x, "y": obs.y, "v_los": obs.v + 80.0, "v_err": obs.v_err, "p_member": obs.p_member},
                       centre="origin", p_member_min=0.05)
    got = prepare_inputs(cat, S, v_sys="weighted", membership_weights=True, n_max_sample=10_000)
    np.testing.assert_allclose(got["scalars"], train["scalars"], rtol=1e-9)
    for k in ("map1", "map2"):
        np.testing.assert_allclose(got[k], train[k], rtol=1e-5, atol=1e-6 * train[k].max())
    cut = prepare_inputs(cat, S, v_sys="weighted", n_max_sample=10_000)  # weights not used: differs
    assert not np.allclose(cut["scalars"], train["scalars"], rtol=1e-6)


def test_dirty_catalogue_experiments_run_on_the_gaia_challenge(shared_data):
    """Chapter 7's contamination and binary experiments: shapes, truths and bookkeeping."""
    from galmass.book.dirty import binaries_summary, contamination_summary, gaia_contamination, ultrafaint_binaries

    t = gaia_contamination(None, fractions=(0.2,), n_draws=1, n_samples=200, root=shared_data)
    files = len(t[t["draw"] < 0])
    assert files >= 2 and len(t) == 2 * files
    assert np.all(np.isfinite(t["log10_m_p50"])) and np.all(np.isfinite(t["log10_m_true"]))
    dirty = t[t["draw"] >= 0]
    assert np.all(dirty["foreground_kept"] < 0.1)  # the mixture removes most of the 20%
    s = contamination_summary(t)
    assert set(s["fraction"]) == {0.0, 0.2}
    b = ultrafaint_binaries(None, n_cases=4, n_samples=200, root=shared_data)
    assert len(b) == 8 and set(b["binaries"]) == {False, True}
    assert np.all((b["sigma"] >= 3) & (b["sigma"] <= 6))
    assert len(binaries_summary(b)) == 2
    # the control at the galaxies' own dispersion: same random draws, velocities not rescaled
    own = ultrafaint_binaries(None, n_cases=4, n_samples=200, root=shared_data, sigma_range=None)
    assert np.all(own["sigma"] > 6)  # the Gaia Challenge mocks are ~10 km/s systems
    hot, cold = own[~own["binaries"]], b[~b["binaries"]]
    # rescaling by s moves the true mass by exactly 2 log10 s
    s = np.asarray(cold["sigma"]) / np.asarray(hot["sigma"])
    np.testing.assert_allclose(np.asarray(cold["log10_m_true"]) - np.asarray(hot["log10_m_true"]), 2 * np.log10(s),
                               atol=0.05)


def test_nuisances_from_recorded_params():
    """A dataset's manifest / a model's info["dataset"] gives back the nuisances it was built with."""
    assert not Nuisances.from_params({}).dirty and Nuisances.from_params({}).v_err_range is None
    n = Nuisances.from_params({"v_err_range": [1.0, 3.0], "binary_fraction_range": [0.0, 0.7],
                               "foreground_fraction_range": [0.0, 0.3], "estimate_centre": True,
                               "membership_weights": True, "n_sample_range": [20, 5000]})
    assert n == Nuisances(v_err_range=(1.0, 3.0), binary_fraction_range=(0.0, 0.7),
                          foreground_fraction_range=(0.0, 0.3), estimate_centre=True, membership_weights=True)


def test_unmeasurable_projections_are_left_out_not_the_galaxy(galaxy):
    """A cold galaxy whose errors swamp the dispersion along some lines of sight keeps its
    other projections (predict refuses exactly those); with none measurable it is skipped."""
    import dataclasses

    from galmass.dataset import project_galaxy
    from galmass.errors import UnmeasurableDispersion
    from galmass.observe.projection import sigma_los

    kw = dict(n_sample_range=(20, 40), min_stars=20)
    s = float(np.median([sigma_los(galaxy.star_vel[:, k]) for k in range(3)]))
    cold = dataclasses.replace(galaxy, star_vel=galaxy.star_vel * (2.0 / s))  # sigma ~2 km/s
    out = project_galaxy(cold, 12, np.random.default_rng(3), S, nuisances=Nuisances(v_err_range=(1.0, 3.0)), **kw)
    n = len(out["los"])
    assert 0 < n < 12  # some lines of sight refused, the rest kept
    assert all(len(v) == n for v in out.values())
    assert len(set(out["los"].tolist())) == n and np.all(out["scalars"][:, 1] > 0)
    # no intrinsic dispersion: a single line of sight is refused about half of the time
    still = dataclasses.replace(galaxy, star_vel=galaxy.star_vel * 1e-4)
    refused = 0
    for seed in range(10):
        try:
            project_galaxy(still, 1, np.random.default_rng(seed), S, nuisances=Nuisances(v_err_range=(1.0, 3.0)), **kw)
        except UnmeasurableDispersion as exc:
            assert "cannot be measured" in str(exc)
            refused += 1
    assert 0 < refused < 10
