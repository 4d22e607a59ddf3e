"""Observational realism: velocity errors and star counts in training, used identically at
prediction time (issue #6)."""

import numpy as np
import pytest

from galmass.config import load_config
from galmass.errors import GalmassError
from galmass.observe.estimators import ESTIMATORS, apply_all
from galmass.observe.projection import correct_for_errors, draw_sample_sizes, draw_velocity_errors
from plummer import sample_plummer


def test_error_correction_recovers_the_intrinsic_gaussian():
    """Gaussian velocities (sigma 10) + Gaussian errors (1-5 km/s): sigma and v_p98 recovered."""
    rng = np.random.default_rng(0)
    n = 400_000
    v = rng.normal(0, 10.0, n)
    err = rng.uniform(1.0, 5.0, n)
    obs = v + rng.normal(0, err)
    d = np.abs(obs - obs.mean())
    sig, vp = correct_for_errors(np.std(obs, ddof=1), np.percentile(d, 98), err)
    assert sig == pytest.approx(10.0, rel=0.005)
    assert vp == pytest.approx(2.3263 * 10.0, rel=0.01)  # 98th percentile of |N(0, 1)|
    assert correct_for_errors(3.0, 7.0, None) == (3.0, 7.0)
    with pytest.raises(GalmassError, match="account for all"):
        correct_for_errors(2.0, 4.6, np.full(10, 2.5))


def test_error_draws_and_star_counts():
    rng = np.random.default_rng(1)
    typ = [np.median(draw_velocity_errors(2000, rng, (1.0, 3.0))) for _ in range(400)]
    assert 0.95 <= min(typ) and max(typ) <= 3.15 and abs(np.mean(typ) - 2.0) < 0.1
    sizes = draw_sample_sizes(10**6, 20_000, rng, (100, 5000), min_stars=50)
    assert sizes.min() >= 100 and sizes.max() <= 5000
    assert np.median(sizes) == pytest.approx(np.sqrt(100 * 5000), rel=0.05)  # log-uniform
    assert draw_sample_sizes(300, 50, rng, (100, 5000)).max() == 300  # capped at the galaxy
    assert draw_sample_sizes(60, 50, rng, (100, 5000), min_stars=50).min() == 60


def test_estimators_subtract_the_errors():
    """Wolf/Walker on Plummer stars with 3 km/s errors: the corrected masses match the error-free ones."""
    rng = np.random.default_rng(2)
    pos, vel = sample_plummer(60_000, 3e7, 0.3, rng)
    R, v = np.hypot(pos[:, 0], pos[:, 1]), vel[:, 2]
    rh = float(np.median(R))
    err = np.full(len(v), 3.0)
    obs = v + rng.normal(0, err)
    truth = apply_all(R, v, rh)
    raw = apply_all(R, obs, rh)
    fixed = apply_all(R, obs, rh, v_err=err)
    for k in ESTIMATORS:
        assert fixed[k][0] == truth[k][0]
        assert fixed[k][1] == pytest.approx(truth[k][1], rel=0.03)
        assert raw[k][1] > 1.05 * truth[k][1]  # uncorrected errors inflate the mass


def test_project_galaxy_with_realism():
    from galmass.dataset import project_galaxy
    from galmass.sources.suites import load_suite

    gal = load_suite("core", 2, 1, n_max_stars=3000)[0]
    kw = dict(n_sample_range=(100, 2000), v_err_range=(1.0, 3.0))
    a = project_galaxy(gal, 6, np.random.default_rng(4), 16, **kw)
    b = project_galaxy(gal, 6, np.random.default_rng(4), 16, **kw)
    for key in ("map1", "map2", "scalars", "labels", "est_log_mass"):
        np.testing.assert_array_equal(a[key], b[key])  # seeded
    assert np.all((a["n_sample"] >= 100) & (a["n_sample"] <= 2000)) and len(set(a["n_sample"])) > 1
    exact = project_galaxy(gal, 6, np.random.default_rng(4), 16)
    assert np.all(exact["n_sample"] == gal.n_stars)
    # the error-corrected dispersion scatters about the exact one (sub-samples of 100-2000 stars)
    ratio = a["scalars"][:, 1] / exact["scalars"][:, 1]
    assert abs(np.median(ratio) - 1) < 0.1 and np.all(np.abs(ratio - 1) < 0.35)


def test_realism_config(tmp_path):
    cfg = load_config("configs/observed.yaml")
    assert cfg.dataset.n_sample_range == (20, 5000) and cfg.dataset.v_err_range == (1.0, 3.0)
    assert cfg.dataset.foreground_fraction_range == (0.0, 0.3) and cfg.dataset.membership_weights
    assert load_config("configs/default.yaml").dataset.v_err_range is None
    for bad, match in (("n_sample_range: [10, 5000]", "n_sample_range"),
                       ("n_sample_range: [500, 100]", "n_sample_range"),
                       ("v_err_range: [0, 3]", "v_err_range"),
                       ("v_err_range: fast", "v_err_range")):
        p = tmp_path / "c.yaml"
        p.write_text(f"dataset:\n  {bad}\n")
        with pytest.raises(GalmassError, match=match):
            load_config(p)


def test_prediction_uses_the_models_training_preprocessing():
    from types import SimpleNamespace

    from galmass.predict import training_preprocessing
    from galmass.predict.catalogue import N_MAX_SAMPLE

    old = training_preprocessing(SimpleNamespace(info={}))
    assert old == {"kde_bandwidth": "paper", "n_max_sample": N_MAX_SAMPLE, "min_stars": 50, "v_err_range": None,
                   "membership_weights": False}
    info = {"dataset": {"kde_bandwidth": "scott", "n_max_sample": 10000, "min_stars": 50,
                        "n_sample_range": [100, 5000], "v_err_range": [1.0, 3.0], "membership_weights": True}}
    new = training_preprocessing(SimpleNamespace(info=info))
    assert new == {"kde_bandwidth": "scott", "n_max_sample": 5000, "min_stars": 100, "v_err_range": [1.0, 3.0],
                   "membership_weights": True}
