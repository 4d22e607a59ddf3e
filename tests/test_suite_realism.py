"""Realism diagnostics of the mock suites (#18): what an observer would see, against the
Milky Way dwarfs of the Local Volume Database."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from galmass.errors import GalmassError
from galmass.evaluation.realism import REALISM_TARGETS, read_lvdb_dwarfs, realism_checks, realism_summary
from galmass.observe.estimators import ESTIMATORS
from galmass.sources.suites import make_galaxy

LVDB = Path(__file__).resolve().parents[2] / "shared" / "data" / "observed" / "local_volume_database" / "dwarf_mw.csv"


def test_spherical_and_shaped_galaxies_are_told_apart():
    sph = [make_galaxy("cusp", i, 1, n_max_stars=3000) for i in range(3)]
    shaped = [make_galaxy("shaped_core", i, 1, n_max_stars=3000) for i in range(3)]
    a, b = realism_summary(sph), realism_summary(shaped)
    assert np.all(a["stars_c_over_a"] > 0.9) and np.all(a["v_rot_over_sigma"] < 0.1)
    assert np.all(a["ellipticity"] < 0.12) and np.all(a["los_spread"] < 0.03)
    assert np.median(b["stars_c_over_a"]) < np.median(a["stars_c_over_a"])
    assert np.median(b["los_spread"]) > np.median(a["los_spread"])
    for name in ESTIMATORS:
        assert a[f"ratio_{name}"].shape == (3, 8)
        assert np.all(np.isfinite(a[f"ratio_{name}"]))
        # on spherical equilibrium mocks the estimators are unbiased to ~30% on average
        assert 0.7 < np.median(a[f"ratio_{name}"]) < 1.3


def test_checks_on_a_known_summary():
    rng = np.random.default_rng(0)
    n = 200
    ratio = np.exp(rng.normal(0, 0.25, (n, 8)))  # 16-84% half-width ~ sinh(0.25) ~ 0.25
    s = {"log_mstar": np.linspace(5.5, 8.0, n), "r_half": np.full(n, 0.25), "sigma_los": np.full(n, 8.0),
         "ellipticity": np.full(n, 0.3), "los_spread": np.full(n, 0.05),
         "stars_c_over_a": np.linspace(0.3, 1.0, n), "v_rot_over_sigma": np.linspace(0, 0.6, n),
         **{f"ratio_{k}": ratio for k in ESTIMATORS}}
    lv = {"log_mstar": np.array([6.2, 6.5, 7.0]), "r_half": np.array([0.2, 0.23, 0.3]),
          "sigma_los": np.array([7.0, 7.5, 9.0]), "ellipticity": np.array([0.3, 0.36, 0.4])}
    c = realism_checks(s, lv)
    assert all(abs(c[f"halfwidth_{k}"] - np.sinh(0.25)) < 0.03 for k in ESTIMATORS) and c["halfwidth_ok"]
    assert c["los_spread_ok"] and c["ellipticity_ok"] and c["v_rot_ok"] and c["stars_c_over_a_ok"]
    assert c["r_half_ok"] and c["sigma_ok"] and c["lvdb_sigma_median"] == 7.5
    # matched in M*: the mocks near each real dwarf's M* have R_h 0.25 and sigma 8
    assert c["n_matched"] == 3 and c["matched_ok"]
    np.testing.assert_allclose(c["matched_sigma_ratio"], 8.0 / 7.5)
    np.testing.assert_allclose(c["matched_r_half_ratio"], 0.25 / 0.23)
    # same M*, R_h and sigma distributions on both sides: the same stellar share
    assert c["stellar_fraction_ok"] and 0.5 < c["stellar_fraction_median"] / c["lvdb_stellar_fraction_median"] < 2
    s["sigma_los"] = np.full(n, 12.0)  # 60% hotter than the reference: flagged
    s["ellipticity"] = np.full(n, 0.05)
    c = realism_checks(s, lv)
    assert not c["sigma_ok"] and not c["ellipticity_ok"]
    s["sigma_los"] = np.full(n, 3.0)  # a third of the mass within R_h: stars dominate, flagged
    c = realism_checks(s, lv)
    assert not c["stellar_fraction_ok"] and c["stellar_fraction_median"] > 2 * c["lvdb_stellar_fraction_median"]
    assert not c["matched_ok"] and c["matched_stellar_fraction_ratio"] > 2
    # a window median depends on how the galaxies spread in M* within the window; the
    # matched ratio does not: mocks crowded at the window's top, hot only there
    s["log_mstar"] = np.where(np.arange(n) % 4 == 0, 6.2, 7.3)
    s["sigma_los"] = np.where(s["log_mstar"] > 7.0, 16.0, 7.5)
    lv2 = {k: np.append(v, v[:1]) for k, v in lv.items()}
    lv2["log_mstar"] = np.full(4, 6.2)  # every real dwarf at the window's bottom
    c = realism_checks(s, lv2)
    assert not c["sigma_ok"] and abs(c["matched_sigma_ratio"] - 1) < 0.1
    assert REALISM_TARGETS["estimator_halfwidth"] == (0.2, 0.35)


def test_ultrafaint_window_is_matched_separately():
    """Below the dwarf window, the ultra-faints are compared at matched M* on their own, without a target."""
    n = 100
    s = {"log_mstar": np.r_[np.full(n // 4, 4.0), np.full(3 * n // 4, 6.5)],
         "r_half": np.r_[np.full(n // 4, 0.1), np.full(3 * n // 4, 0.25)],
         "sigma_los": np.r_[np.full(n // 4, 5.0), np.full(3 * n // 4, 8.0)],
         "ellipticity": np.full(n, 0.3), "los_spread": np.full(n, 0.05), "stars_c_over_a": np.full(n, 0.5),
         "v_rot_over_sigma": np.full(n, 0.2), **{f"ratio_{k}": np.ones((n, 4)) for k in ESTIMATORS}}
    lv = {"log_mstar": np.array([3.9, 4.1, 6.5]), "r_half": np.array([0.08, 0.08, 0.23]),
          "sigma_los": np.array([4.0, 4.0, 7.5]), "ellipticity": np.full(3, 0.4)}
    c = realism_checks(s, lv)
    assert c["ultrafaint_n_matched"] == 2 and c["n_matched"] == 1
    np.testing.assert_allclose([c["ultrafaint_matched_sigma_ratio"], c["ultrafaint_matched_r_half_ratio"]], [1.25, 1.25])
    assert c["ultrafaint_fraction"] == pytest.approx(0.25)
    # the galaxies of the ultra-faint window do not enter the dwarf window's medians
    assert c["sigma_median"] == 8.0 and c["matched_ok"]


@pytest.mark.skipif(not LVDB.exists(), reason="../shared/data not beside the project")
def test_lvdb_reader_and_cli():
    lv = read_lvdb_dwarfs(LVDB)
    w = (lv["log_mstar"] >= 6) & (lv["log_mstar"] <= 7.5)
    assert 0.15 < np.nanmedian(lv["r_half"][w]) < 0.35 and 5 < np.nanmedian(lv["sigma_los"][w]) < 12
    out = subprocess.run([sys.executable, "-m", "galmass.cli", "suites", "summary", "--suite", "shaped_cusp",
                          "--n", "4", "--n-max-stars", "400", "--realism", "--lvdb", str(LVDB)],
                         capture_output=True, text=True, check=True).stdout
    for label in ("estimator 16-84% half-width", "spread of log10(R_h sigma^2)", "stellar c/a",
                  "projected ellipticity", "v_rot/sigma", "median R_h at M*", "median sigma_los", "stellar share", "matched in M*",
                  "ultra-faints, M* 1e3.5-1e5.5", "among the mocks of their R_h"):
        assert label in out


def test_bad_lvdb_is_one_clear_error(tmp_path):
    with pytest.raises(GalmassError, match="Local Volume Database"):
        read_lvdb_dwarfs(tmp_path / "nope.csv")


def test_book_universe_table_and_figures():
    """Chapter 1's realism table marks a miss, and its figures draw from realism summaries."""
    import matplotlib

    matplotlib.use("Agg")
    from galmass.book import universe

    gals = {"shaped_cusp": [make_galaxy("shaped_cusp", i, 2, n_max_stars=400) for i in range(3)],
            "cusp": [make_galaxy("cusp", i, 2, n_max_stars=400) for i in range(3)]}
    summ = {s: realism_summary(g, n_los=4) for s, g in gals.items()}
    metas = {s: universe.shape_meta(g) for s, g in gals.items()}
    # the spherical suite has no drawn halo shape; the shaped one has c/a < 1
    assert np.all(np.isnan(metas["cusp"]["halo_c_over_a"]))
    assert np.all(metas["shaped_cusp"]["halo_c_over_a"] < 1)
    lv = {"log_mstar": np.array([6.2, 6.5, 7.0]), "r_half": np.array([0.2, 0.23, 0.3]),
          "sigma_los": np.array([7.0, 7.5, 9.0]), "ellipticity": np.array([0.3, 0.36, 0.4])}
    checks = {s: realism_checks(v, lv) for s, v in summ.items()}
    md = universe.realism_markdown(checks)
    lines = md.splitlines()
    assert lines[0].startswith("| measure | target | shaped_cusp | cusp |")
    assert len(lines) == 2 + len(ESTIMATORS) + 10  # the ultra-faint and cold-tail rows have no target: no mark
    assert "none (reported)" in md
    # the spherical suite's ellipticity (~0) misses its target and is marked
    ell = next(line for line in lines if line.startswith("| median projected ellipticity"))
    assert ell.split("|")[-2].strip().endswith("✗")
    assert universe.suite_colors(["shaped_cusp", "shaped_core", "tidal"])["tidal"] == "0.4"
    for fig in (universe.shapes_and_rotation(summ, metas, lv), universe.anisotropy_profiles(metas),
                universe.scaling_relations(summ, lv)):
        assert len(fig.axes) >= 1 and any(ax.has_data() for ax in fig.axes)


def test_cold_tail_places_each_dwarf_among_mocks_of_its_size():
    """A real dwarf colder (hotter) than every mock of its R_h lands in the cold (hot) tail; one
    at the mocks' median sits at percentile ~0.5; upper limits, poor measurements and dwarfs
    without mocks of their size are left out; the dwarf's error widens the mock distribution."""
    from galmass.evaluation.realism import cold_tail, sigma_percentiles

    rng = np.random.default_rng(3)
    n = 400
    s = {"r_half": np.full(n, 0.1), "sigma_los": 6.0 * 10 ** rng.normal(0.0, 0.05, n), "log_mstar": np.full(n, 4.0)}
    lv = {"log_mstar": np.array([4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 8.5]),
          "r_half": np.array([0.1, 0.1, 0.1, 0.1, 0.1, 0.5, 0.1]),
          "sigma_los": np.array([3.0, 6.0, 12.0, 3.0, 3.0, 3.0, 3.0]),
          "sigma_los_rel_err": np.array([0.1, 0.1, 0.1, np.nan, 0.5, 0.1, 0.1])}
    p = sigma_percentiles(s, lv)
    assert p["index"].tolist() == [0, 1, 2]  # upper limit, 50% error, no mock of 0.5 kpc, M* 1e8.5: out
    assert p["percentile"][0] < 0.01 and abs(p["percentile"][1] - 0.5) < 0.05 and p["percentile"][2] > 0.99
    c = cold_tail(s, lv)
    assert c["cold_n_dwarfs"] == 3
    assert c["cold_tail_fraction"] == pytest.approx(1 / 3) and c["hot_tail_fraction"] == pytest.approx(1 / 3)
    # a dwarf just below every mock is not in the cold tail once its own error is wide
    lv2 = {**lv, "sigma_los": np.array([4.5] * 7), "sigma_los_rel_err": np.array([0.01, 0.25, np.nan, np.nan, np.nan, np.nan, np.nan])}
    q = sigma_percentiles(s, lv2)["percentile"]
    assert q[0] < 0.05 < q[1]
