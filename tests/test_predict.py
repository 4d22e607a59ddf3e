"""`galmass predict`: catalogue readers, preprocessing identical to training, posterior table,
bad catalogues refused in one line, the command line, and the time per prediction."""

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from astropy.table import Table

from galmass.errors import GalmassError
from galmass.predict import (Catalog, find_centre, gnomonic, inverse_gnomonic, load_model, plot_profile,
                             predict, prepare_inputs, read_catalog,
                             read_gaia_challenge, read_walker_catalog, write_prediction)
from plummer import sample_plummer

S = 16
COLUMNS = ["f", "r_kpc", "log10_m_p2_5", "log10_m_p16", "log10_m_p50", "log10_m_p84", "log10_m_p97_5"]
DIST = 80.0  # kpc
CENTRE = (150.0, 40.0)  # ra, dec [deg]
GAIA = "gaia_challenge/PlumCuspOm/gs010_bs050_rcrs010_rarc100_cusp_0064mpc3_df_1000_0.dat"
DRACO = "observed/walker_dsph/dra_spec.dat"


# --------------------------------------------------------------------------- fixtures
def _toy_training(n, rng):
    """Toy maps and realistic scalars; labels = log10(2.5 f R_h sigma^2 / G) + noise."""
    from galmass.inference.preprocess import mass_scale

    yy, xx = np.mgrid[-1:1:S * 1j, -1:1:S * 1j]
    w = rng.uniform(0.2, 0.8, n)
    m1 = np.exp(-(xx[None] ** 2 + yy[None] ** 2) / (2 * w[:, None, None] ** 2)).astype(np.float32)
    m2 = np.exp(-(xx[None] ** 2) / (2 * w[:, None, None] ** 2) - yy[None] ** 2).astype(np.float32)
    rh = 10 ** rng.uniform(-1.4, 0.4, n)
    sig = 10 ** rng.uniform(0.3, 1.5, n)
    scalars = np.c_[rh, sig, 2.35 * sig * 10 ** rng.normal(0, 0.02, n)]
    f = np.round(np.arange(0.6, 2.41, 0.2), 1)
    labels = (mass_scale(scalars)[:, None] + np.log10(2.5 * f)[None]
              + rng.normal(0, 0.05, (n, 10)))
    return {"map1": m1, "map2": m2, "scalars": scalars, "labels": labels}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny self-contained model (16x16 maps, a few epochs) with an input domain."""
    from galmass.inference.cnn import CNNConfig, predict_cnn, train_cnn
    from galmass.inference.flow import FlowConfig, train_flow
    from galmass.inference.model import MassModel
    from galmass.inference.ood import InputDomain

    rng = np.random.default_rng(0)
    tr, va = _toy_training(300, rng), _toy_training(100, rng)
    cfg = CNNConfig(channels=(4, 8), hidden=16, max_epochs=3, batch_size=64, num_threads=1)
    cnn, pre, _ = train_cnn(tr, va, S, cfg, progress=False)
    _, ftr = predict_cnn(cnn, pre, tr["map1"], tr["map2"], tr["scalars"])
    _, fva = predict_cnn(cnn, pre, va["map1"], va["map2"], va["scalars"])
    fcfg = FlowConfig(hidden_features=16, num_transforms=2, max_epochs=3, n_samples=200, lr=1e-3)
    flow, _ = train_flow(tr["labels"] - pre.offset(tr["scalars"]), ftr,
                         va["labels"] - pre.offset(va["scalars"]), fva, fcfg, progress=False)
    model = MassModel(cnn, pre, flow, S, cfg, fcfg, np.round(np.arange(0.6, 2.41, 0.2), 1),
                      {"test": True}, InputDomain.fit(np.concatenate([tr["scalars"], va["scalars"]])))
    return model.save(tmp_path_factory.mktemp("model") / "m")


@pytest.fixture(scope="module")
def model(model_dir):
    return load_model(model_dir)


def _sky_from_plane(x, y, distance=DIST, centre=CENTRE):
    """RA/Dec [deg] of tangent-plane positions [kpc], via astropy (independent of galmass)."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    c0 = SkyCoord(centre[0] * u.deg, centre[1] * u.deg)
    xi, eta = x / distance, y / distance
    c = c0.directional_offset_by(np.arctan2(xi, eta) * u.rad, np.arctan(np.hypot(xi, eta)) * u.rad)
    return c.ra.deg, c.dec.deg


@pytest.fixture(scope="module")
def stars():
    """1000 Plummer members (a = 0.3 kpc, ~9 km/s) centred at (0.05, -0.03) kpc, v_sys = 210
    km/s, plus 150 hot non-members (p_member = 0.1) that would ruin sigma if kept."""
    rng = np.random.default_rng(42)
    pos, vel = sample_plummer(1000, 3e7, 0.3, rng)
    x, y, v = pos[:, 0] + 0.05, pos[:, 1] - 0.03, vel[:, 2] + 210.0
    nx, ny = rng.uniform(-1, 1, (2, 150))
    nv = 210 + rng.normal(0, 80, 150)
    p = np.r_[rng.uniform(0.6, 1.0, 1000), np.full(150, 0.1)]
    x, y, v = np.r_[x, nx], np.r_[y, ny], np.r_[v, nv]
    ra, dec = _sky_from_plane(x, y)
    truth = {"r_half": float(np.median(np.hypot(pos[:, 0], pos[:, 1]))), "sigma": float(np.std(vel[:, 2], ddof=1))}
    return {"x": x, "y": y, "ra": ra, "dec": dec, "v_los": v, "p_member": p, "truth": truth}


def _write(stars, path, cols, meta=None, fmt=None):
    t = Table({k: stars[k] for k in cols})
    if meta:
        t.meta.update(meta)
    t.write(path, format=fmt, overwrite=True)
    return path


# --------------------------------------------------------------------------- preprocessing
def _training_projections(gal, n_los, seed, n_sample_range=None, v_err_range=None, min_stars=50):
    """The stars project_galaxy(gal, n_los, default_rng(seed), ...) uses: same random draws, same order."""
    from galmass.observe.projection import (draw_sample_sizes, draw_velocity_errors, fibonacci_directions,
                                            project, project_all, subsample_size)

    rng = np.random.default_rng(seed)
    if n_sample_range is None:
        projs = project_all(gal, n_los, rng, n_sample=subsample_size(gal.n_stars), min_stars=min_stars)
    else:
        sizes = draw_sample_sizes(gal.n_stars, n_los, rng, n_sample_range, min_stars)
        projs = [project(gal, d, rng, n_sample=int(k), los_index=i, min_stars=min_stars)
                 for i, (d, k) in enumerate(zip(fibonacci_directions(n_los), sizes))]
    out = []
    for p in projs:
        v, err = p.v_los, None
        if v_err_range is not None:
            err = draw_velocity_errors(len(v), rng, v_err_range)
            v = v + rng.normal(0.0, err)
        out.append((p, v, err))
    return out


@pytest.mark.parametrize("case", ["exact", "errors_small_counts"])
def test_predict_inputs_are_the_training_inputs_bit_for_bit(case):
    """predict's inputs (prepare_inputs -> observe.inputs.make_inputs) equal the dataset's
    (project_galaxy -> make_inputs) bit for bit for the same stars: with velocity errors, with
    20-60 star projections, and whatever the membership weights (they only move the centre)."""
    from galmass.dataset import project_galaxy
    from galmass.sources.suites import load_suite

    gal = load_suite("cusp", 1, 3, n_max_stars=800)[0]
    kw = {} if case == "exact" else {"n_sample_range": (20, 60), "v_err_range": (1.0, 6.0), "min_stars": 20}
    n_los = 4
    ref = project_galaxy(gal, n_los, np.random.default_rng(5), S, **kw)
    stars = _training_projections(gal, n_los, 5, kw.get("n_sample_range"), kw.get("v_err_range"),
                                  kw.get("min_stars", 50))
    w = np.random.default_rng(9)
    for i, (p, v, err) in enumerate(stars):
        cols = {"x": p.x, "y": p.y, "v_los": v}
        if err is not None:
            cols["v_err"] = err
        if case != "exact":
            assert p.n_stars <= 60
        for weights in (None, w.uniform(0.5, 1.0, p.n_stars)):
            c = dict(cols) if weights is None else {**cols, "p_member": weights}
            got = prepare_inputs(read_catalog(c, centre="origin", p_member_min=0.5), S)
            assert got["n_stars"] == p.n_stars
            np.testing.assert_array_equal(got["map1"][0], ref["map1"][i])
            np.testing.assert_array_equal(got["map2"][0], ref["map2"][i])
            np.testing.assert_array_equal(got["scalars"][0], ref["scalars"][i])
        if err is not None:  # the errors were used: the intrinsic sigma_los is below the observed one
            assert got["sigma_los"] < got["sigma_los_obs"]


def test_one_input_builder():
    """The dataset and predict have no code of their own for the maps and scalars: both call
    galmass.observe.inputs.make_inputs (the duplicated code of issue #16 stays gone)."""
    import inspect

    import galmass.dataset.project as dp
    import galmass.predict.api as pa

    for mod in (dp, pa):
        src = inspect.getsource(mod)
        assert "make_inputs(" in src
        for call in ("position_maps(", "phase_maps(", "correct_for_errors(", "r_half_projected("):
            assert call not in src, (mod.__name__, call)


def test_gnomonic_and_centre():
    rng = np.random.default_rng(1)
    x, y = rng.normal(0, 0.2, (2, 500))
    ra, dec = _sky_from_plane(x, y)
    xi, eta = gnomonic(ra, dec, *CENTRE)
    np.testing.assert_allclose(xi * DIST, x, atol=1e-9)
    np.testing.assert_allclose(eta * DIST, y, atol=1e-9)
    back = inverse_gnomonic(xi, eta, *CENTRE)
    np.testing.assert_allclose(back, (ra, dec), atol=1e-9)
    # a clump of far outliers moves the mean but not the robust centre
    xo, yo = np.r_[x + 0.1, rng.normal(3, 0.1, 60)], np.r_[y, rng.normal(3, 0.1, 60)]
    assert np.hypot(np.mean(xo) - 0.1, np.mean(yo)) > 0.2
    cx, cy = find_centre(xo, yo)
    assert np.hypot(cx - 0.1, cy) < 0.03
    # membership weights: outliers with zero weight do not pull the centre at all
    w = np.r_[np.ones(500), np.zeros(60)]
    assert np.hypot(np.average(xo, weights=w) - 0.1 - np.mean(x), np.average(yo, weights=w) - np.mean(y)) < 1e-12
    cx, cy = find_centre(xo, yo, w)
    assert np.hypot(cx - 0.1, cy) < 0.03


# --------------------------------------------------------------------------- readers
def test_formats_agree_and_recover_the_galaxy(stars, tmp_path, model):
    csv = _write(stars, tmp_path / "c.csv", ["x", "y", "v_los", "p_member"])
    fits = _write(stars, tmp_path / "c.fits", ["ra", "dec", "v_los", "p_member"])
    ecsv = _write(stars, tmp_path / "c.ecsv", ["ra", "dec", "v_los", "p_member"], meta={"distance": DIST})
    cats = {
        "csv": read_catalog(csv),
        "fits": read_catalog(fits, distance_kpc=DIST),
        "ecsv": read_catalog(ecsv),
        "dict": read_catalog({k: stars[k] for k in ("x", "y", "v_los", "p_member")}),
        "table": read_catalog(Table({"RA": stars["ra"], "Dec": stars["dec"], "vlos": stars["v_los"],
                                     "pmem": stars["p_member"], "distance": np.full(1150, DIST)})),
    }
    truth = stars["truth"]
    for key, cat in cats.items():
        assert cat.n_stars == 1000, key  # the 150 non-members are dropped
        t = predict(cat, model, n_samples=200)
        m = t.meta
        assert abs(m["R_h"] / truth["r_half"] - 1) < 0.03, (key, m["R_h"], truth)
        assert abs(m["sigma_los"] / truth["sigma"] - 1) < 1e-6, (key, m["sigma_los"], truth)
        assert abs(m["v_sys"] - 210) < 1.0
        if key in ("csv", "dict"):
            c = cat.meta["centre"]
            assert np.hypot(c["x"] - 0.05, c["y"] + 0.03) < 0.03
        else:
            assert cat.meta["distance_kpc"] == DIST
            c = cat.meta["centre"]
            xi, eta = gnomonic(np.array([c["ra"]]), np.array([c["dec"]]), *CENTRE)
            assert np.hypot(xi[0] * DIST - 0.05, eta[0] * DIST + 0.03) < 0.03  # kpc
    # sky and plane give the same stars up to the (tiny) difference of the fitted centres
    r_csv = np.hypot(cats["csv"].x, cats["csv"].y)
    r_fits = np.hypot(cats["fits"].x, cats["fits"].y)
    assert np.median(np.abs(r_csv - r_fits)) < 2e-3
    # keeping every star (p_member_min = 0) lets the hot non-members in
    hot = read_catalog(csv, p_member_min=0.0)
    assert hot.n_stars == 1150 and np.std(hot.v_los) > 1.5 * truth["sigma"]


def test_units_are_converted(stars, tmp_path):
    import astropy.units as u

    t = Table({"x": stars["x"] * 1000 * u.pc, "y": stars["y"] * 1000 * u.pc, "v_los": stars["v_los"] * u.km / u.s,
               "p_member": stars["p_member"]})
    t.write(tmp_path / "pc.ecsv")
    cat = read_catalog(tmp_path / "pc.ecsv")
    ref = read_catalog({k: stars[k] for k in ("x", "y", "v_los", "p_member")})
    np.testing.assert_allclose(cat.x, ref.x, atol=1e-12)
    t["x"] = stars["x"] / DIST * u.rad
    t["y"] = stars["y"] / DIST * u.rad
    t.write(tmp_path / "ang.ecsv", overwrite=True)
    with pytest.raises(GalmassError, match="look like sky coordinates"):
        read_catalog(tmp_path / "ang.ecsv")


def test_gaia_challenge_reader(shared_data, model):
    path = shared_data / GAIA
    data = np.loadtxt(path)
    cat = read_catalog(path)  # auto-detected; the mocks are centred on the origin
    assert cat.meta["format"] == "gaia" and cat.n_stars == 1000
    np.testing.assert_array_equal(cat.x, data[:, 0])
    np.testing.assert_array_equal(cat.y, data[:, 1])
    np.testing.assert_array_equal(cat.v_los, data[:, 5])
    t = predict(cat, model, n_samples=200)
    assert 0.08 < t.meta["R_h"] < 0.12  # Plummer r_* = 0.1 kpc
    err = read_gaia_challenge(str(path).replace(".dat", "_err.dat"), v_err=2.0)
    te = predict(err, model, n_samples=200)
    assert te.meta["sigma_los"] < te.meta["sigma_los_obs"]


def test_walker_reader_draco(shared_data, model):
    cat = read_walker_catalog(shared_data / DRACO, 76.0)
    assert cat.n_stars == 510  # README: ~510 members with p > 0.5
    assert cat.meta["n_dropped_no_velocity"] == 1
    c = cat.meta["centre"]
    assert abs(c["ra"] - 260.05) < 0.05 and abs(c["dec"] - 57.915) < 0.05  # Draco's optical centre
    t = predict(cat, model)
    m = t.meta
    print(f"\nDraco: {m['n_stars']} stars, R_h = {m['R_h']:.4f} kpc, sigma_los = {m['sigma_los']:.3f} km/s "
          f"(observed {m['sigma_los_obs']:.3f}, rms error {m['v_err_rms']:.2f}), v_sys = {m['v_sys']:.1f} km/s")
    assert 0.15 < m["R_h"] < 0.25
    assert 8.0 < m["sigma_los"] < 10.5 and m["sigma_los"] < m["sigma_los_obs"]
    assert abs(m["v_sys"] + 292) < 2
    assert read_catalog(shared_data / DRACO, 76.0).n_stars == 510  # auto-detected format
    with pytest.raises(GalmassError, match="distance"):
        read_catalog(shared_data / DRACO)


# --------------------------------------------------------------------------- prediction
def test_prediction_table(stars, model, tmp_path):
    cat = read_catalog({k: stars[k] for k in ("x", "y", "v_los", "p_member")})
    t = predict(cat, model, n_samples=300, seed=1)
    assert t.colnames == COLUMNS and len(t) == 10
    np.testing.assert_allclose(t["f"], model.radii_f)
    np.testing.assert_allclose(t["r_kpc"], t["f"] * t.meta["R_h"])
    assert np.all(t["log10_m_p16"] <= t["log10_m_p50"]) and np.all(t["log10_m_p50"] <= t["log10_m_p84"])
    assert np.all(t["log10_m_p2_5"] <= t["log10_m_p16"]) and np.all(t["log10_m_p84"] <= t["log10_m_p97_5"])
    for key in ("R_h", "sigma_los", "v_p98", "n_stars", "estimators", "ood", "ood_reason"):
        assert key in t.meta
    assert t.meta["n_stars"] == 1000 and t.meta["ood"] is False and t.meta["ood_reason"] == ""
    est = t.meta["estimators"]
    assert set(est) == {"walker", "wolf", "amorisco_evans", "campbell", "errani"}
    from galmass.observe.estimators import apply_all
    inp = prepare_inputs(cat, S)
    ref = apply_all(inp["R"], inp["v"], inp["r_half"])
    for k, (r, m) in ref.items():
        assert est[k][0] == pytest.approx(r) and est[k][1] == pytest.approx(np.log10(m))
    # the toy model learnt M(< f R_h) ~ 2.5 f R_h sigma^2 / G: the Walker estimate at f = 1
    assert abs(t["log10_m_p50"][2] - est["walker"][1]) < 0.5
    # same seed, same answer
    t2 = predict(cat, model, n_samples=300, seed=1)
    np.testing.assert_array_equal(t2["log10_m_p50"], t["log10_m_p50"])
    # outputs: plain CSV columns, ECSV with the metadata, a plot
    back = Table.read(write_prediction(t, tmp_path / "p.csv"), format="ascii.csv")
    assert back.colnames == COLUMNS
    meta = Table.read(write_prediction(t, tmp_path / "p.ecsv")).meta
    assert meta["estimators"]["wolf"][1] == pytest.approx(est["wolf"][1]) and meta["ood"] is False
    assert plot_profile(t, tmp_path / "p.png").stat().st_size > 1000


def test_velocity_errors_reduce_the_dispersion(stars, model):
    d = {k: stars[k][:1000] for k in ("x", "y", "v_los")}
    rng = np.random.default_rng(3)
    d["v_err"] = rng.uniform(1, 4, 1000)
    cat = read_catalog(d)
    t = predict(cat, model, n_samples=100)
    m = t.meta
    assert m["sigma_los"] == pytest.approx(np.sqrt(m["sigma_los_obs"] ** 2 - np.mean(d["v_err"] ** 2)))
    assert m["v_p98"] == pytest.approx(m["v_p98_obs"] * m["sigma_los"] / m["sigma_los_obs"])
    no_err = predict(read_catalog({k: d[k] for k in ("x", "y", "v_los")}), model, n_samples=100).meta
    assert no_err["sigma_los"] == pytest.approx(m["sigma_los_obs"])
    assert m["estimators"]["walker"][1] < no_err["estimators"]["walker"][1]
    d["v_err"] = np.full(1000, 50.0)
    with pytest.raises(GalmassError, match="account for all"):
        predict(read_catalog(d), model)


def test_out_of_domain_and_small_catalogues_are_flagged(stars, model):
    d = {k: stars[k][:1000] for k in ("x", "y")}
    d["v_los"] = stars["v_los"][:1000] * 40  # sigma ~ 350 km/s: far outside the training scalars
    t = predict(read_catalog(d), model, n_samples=100)
    assert t.meta["ood"] is True and "sigma_los" in t.meta["ood_reason"]
    small = predict(read_catalog({k: stars[k][:30] for k in ("x", "y", "v_los")}), model, n_samples=100)
    assert small.meta["ood"] is True and "30 stars" in small.meta["ood_reason"]


def test_large_catalogues_are_subsampled_like_training(model):
    rng = np.random.default_rng(7)
    pos, vel = sample_plummer(12_000, 3e7, 0.3, rng)
    t = predict(read_catalog({"x": pos[:, 0], "y": pos[:, 1], "v_los": vel[:, 2]}), model, n_samples=100)
    assert t.meta["n_stars"] == 10_000 and t.meta["n_catalogue"] == 12_000


def test_no_default_model_is_a_clear_error(monkeypatch, tmp_path):
    import importlib.resources

    monkeypatch.setattr(importlib.resources, "files", lambda pkg: tmp_path)
    with pytest.raises(GalmassError, match="no default model is installed.*--model"):
        load_model(None)


@pytest.mark.parametrize("kwargs, match", [
    (dict(x=np.zeros(5), y=np.zeros(5), v_los=np.zeros(5)), "5 stars; at least 20"),
    (dict(x=np.r_[np.nan, np.ones(29)], y=np.ones(30), v_los=np.ones(30)), "x has 1 NaN"),
    (dict(x=np.ones(30), y=np.ones(30), v_los=np.ones(29)), "29 values for 30 stars"),
])
def test_catalog_checks(kwargs, match):
    with pytest.raises(GalmassError, match=match):
        Catalog(**kwargs)


# --------------------------------------------------------------------------- command line
def _run(args):
    env = dict(os.environ, MPLBACKEND="Agg")
    p = subprocess.run([sys.executable, "-m", "galmass.cli", "predict", *map(str, args)],
                       capture_output=True, text=True, env=env, timeout=300)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture(scope="module")
def cli_runs(stars, model_dir, tmp_path_factory, shared_data):
    """Every command-line case, run concurrently (each is a fresh Python process: ~1 s for the
    catalogue errors, which fail before torch is imported, ~4 s for runs that load the model)."""
    d = tmp_path_factory.mktemp("cli")
    members = {k: stars[k][:1000] for k in stars if k != "truth"}
    good = _write(stars, d / "good.csv", ["x", "y", "v_los", "p_member"])
    fits = _write(stars, d / "sky.fits", ["ra", "dec", "v_los", "p_member"])
    Table({"x": members["x"], "y": members["y"], "vel_kms": members["v_los"]}).write(d / "nov.csv")
    nan = dict(members)
    nan["v_los"] = members["v_los"].copy()
    nan["v_los"][[3, 9]] = np.nan
    _write(nan, d / "nan.csv", ["x", "y", "v_los"])
    _write(members, d / "few.csv", ["x", "y", "v_los", "p_member"])
    few = Table.read(d / "few.csv")[:12]
    few.write(d / "few.csv", overwrite=True)
    Table({"x": members["x"], "y": members["y"], "v_los": np.full(1000, 210.0)}).write(d / "cold.csv")
    Table({"x": members["x"] * 1000, "y": members["y"] * 1000, "v_los": members["v_los"]}).write(d / "pc.csv")
    Table({"x": members["x"] / 1e4, "y": members["y"] / 1e4, "v_los": members["v_los"]}).write(d / "tiny.csv")
    (d / "garbage.fits").write_bytes(np.random.default_rng(0).bytes(5000))
    _write(stars, d / "nodist.csv", ["ra", "dec", "v_los"])
    old = d / "old_model"
    shutil.copytree(model_dir, old)
    meta = json.loads((old / "model.json").read_text())
    meta.update(format_version=999, galmass_version="9.9.9")
    (old / "model.json").write_text(json.dumps(meta))
    m = ["--model", model_dir]
    cases = {
        "good": [good, *m, "--out", d / "out.csv", "--plot", d / "out.png", "--n-samples", 200],
        "fits": [fits, *m, "--distance", DIST, "--n-samples", 200],
        "walker": [shared_data / DRACO, *m, "--distance", 76, "--n-samples", 200],
        "ood": [d / "pc.csv", *m, "--n-samples", 100],  # placeholder, replaced below
        "missing_column": [d / "nov.csv", *m],
        "nan": [d / "nan.csv", *m],
        "few_stars": [d / "few.csv", *m],
        "zero_dispersion": [d / "cold.csv", *m],
        "pc_as_kpc": [d / "pc.csv", *m],
        "tiny_positions": [d / "tiny.csv", *m],
        "unreadable": [d / "garbage.fits", *m],
        "no_such_file": [d / "nothing.csv", *m],
        "no_distance": [d / "nodist.csv", *m],
        "walker_no_distance": [shared_data / DRACO, *m],
        "old_model": [good, "--model", old],
        "no_model_dir": [good, "--model", d / "no_model"],
        "bad_argument": [good, *m, "--n-samples", "many"],
    }
    hot = dict(members)
    hot["v_los"] = members["v_los"] * 40
    _write(hot, d / "hot.csv", ["x", "y", "v_los"])
    cases["ood"] = [d / "hot.csv", *m, "--n-samples", 100]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = dict(zip(cases, pool.map(_run, cases.values())))
    print(f"\n{len(cases)} CLI runs in {time.perf_counter() - t0:.1f} s")
    return d, results


@pytest.mark.parametrize("case", ["good", "fits", "walker"])  # ECSV and Gaia files: in-process tests
def test_cli_happy_paths(cli_runs, case):
    d, runs = cli_runs
    rc, out, err = runs[case]
    assert rc == 0, err
    assert "log10_m_p50" in out and "walker" in out and len(out.splitlines()) >= 17
    if case in ("good", "fits"):
        assert err == ""


def test_cli_outputs(cli_runs):
    d, runs = cli_runs
    t = Table.read(d / "out.csv", format="ascii.csv")
    assert t.colnames == COLUMNS and len(t) == 10
    assert (d / "out.png").stat().st_size > 1000


def test_cli_warns_out_of_domain(cli_runs):
    _, runs = cli_runs
    rc, out, err = runs["ood"]
    assert rc == 0 and "log10_m_p50" in out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("galmass: warning:") and "sigma_los" in lines[0]


@pytest.mark.parametrize("case, words", [
    ("missing_column", ["lacks", "v_los"]),
    ("nan", ["v_los", "2 NaN"]),
    ("few_stars", ["12 stars", "at least 20"]),
    ("zero_dispersion", ["zero line-of-sight velocity dispersion"]),
    ("pc_as_kpc", ["implausible", "not kpc", "--distance"]),
    ("tiny_positions", ["implausible", "degrees"]),
    ("unreadable", ["cannot read catalogue"]),
    ("no_such_file", ["does not exist"]),
    ("no_distance", ["no distance", "--distance"]),
    ("walker_no_distance", ["--distance"]),
    ("old_model", ["galmass 9.9.9", "format 999"]),
    ("no_model_dir", ["model directory", "does not exist"]),
    ("bad_argument", ["--n-samples", "invalid int", "galmass predict --help"]),
])
def test_cli_bad_input_is_one_line(cli_runs, case, words):
    _, runs = cli_runs
    rc, out, err = runs[case]
    assert rc != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("galmass: error:")
    for w in words:
        assert w in lines[0], lines[0]
    assert "Traceback" not in err and out == ""


# --------------------------------------------------------------------------- reference and real galaxies
def test_gaia_challenge_exact_mass_is_the_zhao_integral():
    """Closed form (2F1) = NFW's ln(1+x) - x/(1+x) for gamma=1 and = numerical quadrature for gamma=0."""
    from scipy.integrate import quad

    from galmass.book.realdata import GAIA_CHALLENGE

    cusp, core = GAIA_CHALLENGE["PlumCuspOm"], GAIA_CHALLENGE["PlumCoreOm"]
    r = np.array([0.01, 0.1, 0.3, 1.0, 5.0])
    nfw = 4 * np.pi * cusp.rho_0 * (np.log1p(r) - r / (1 + r))
    np.testing.assert_allclose(cusp.enclosed_mass(r), nfw, rtol=1e-10)
    num = [4 * np.pi * core.rho_0 * quad(lambda s: s ** 2 * (1 + s) ** -3, 0, x)[0] for x in r]
    np.testing.assert_allclose(core.enclosed_mass(r), num, rtol=1e-8)


def test_gaia_challenge_and_dwarfs_end_to_end(shared_data, model):
    from galmass.book.realdata import (evaluate_gaia_challenge, gaia_challenge_files, gaia_challenge_summary,
                                       interp_profile_at, predict_dwarfs)

    assert len(gaia_challenge_files("PlumCoreOm", 1000, False, shared_data)) == 5
    assert all(p.name.endswith("_err.dat") for p in gaia_challenge_files("PlumCoreOm", 1000, True, shared_data))
    with pytest.raises(GalmassError, match="unknown Gaia Challenge model"):
        gaia_challenge_files("Plum", root=shared_data)
    gc = evaluate_gaia_challenge(model, n_stars=(10000,), n_samples=100, root=shared_data)
    assert len(gc) == 2 * 2 * 10 and set(gc["errors"]) == {False, True}
    s = gaia_challenge_summary(gc)
    assert len(s) == 4 and np.all((s["fraction_in_68"] >= 0) & (s["fraction_in_68"] <= 1))
    inside = (gc["log10_m_p16"] <= gc["log10_m_true"]) & (gc["log10_m_true"] <= gc["log10_m_p84"])
    assert np.array_equal(np.asarray(gc["inside_68"]), np.asarray(inside))
    inside95 = (gc["log10_m_p2_5"] <= gc["log10_m_true"]) & (gc["log10_m_true"] <= gc["log10_m_p97_5"])
    assert np.array_equal(np.asarray(gc["inside_95"]), np.asarray(inside95))
    from galmass.book.realdata import gaia_challenge_inner

    inner = gaia_challenge_inner(gc, n_stars=10000)
    assert set(inner) == {"PlumCoreOm", "PlumCuspOm"}
    for name, v in inner.items():
        assert v["n_files"] == 2 and v["inside_95"] + v["ood"] >= v["covered_or_flagged"] >= max(v["inside_95"], v["ood"])
        f06 = gc[(gc["model"] == name) & (np.abs(gc["f"] - 0.6) < 1e-6)]
        assert v["inside_95"] == int(np.sum(f06["inside_95"]))
        assert (v["max_miss_dex"] > 0) == bool(np.any(~np.asarray(f06["inside_95"]) & ~np.asarray(f06["ood"])))
    dw, prof = predict_dwarfs(model, n_samples=100, root=shared_data)
    assert list(dw["name"])[2] == "Draco" and len(dw) == 9 and set(prof) == set(dw["name"])
    draco = dw[2]
    assert draco["log10_m_wolf_lvdb"] == pytest.approx(7.21, abs=0.3) and 400 < draco["n_stars"] < 600
    assert draco["log10_m_p16"] <= draco["log10_m_p50"] <= draco["log10_m_p84"]
    t = prof["Draco"]
    assert np.isnan(interp_profile_at(t, 100.0)[1])
    assert interp_profile_at(t, float(t["r_kpc"][3]))[1] == pytest.approx(float(t["log10_m_p50"][3]))
    from galmass.book import figures
    from galmass.book.realdata import GAIA_CHALLENGE

    fig = figures.gaia_challenge_profiles(gc, {k: v.enclosed_mass for k, v in GAIA_CHALLENGE.items()})
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 1 + 2  # exact + one sample per error case
    assert len(figures.dwarf_profiles(prof, dw).axes) == 9
    assert len(figures.wolf_comparison(dw).axes[0].texts) == int(np.sum(np.isfinite(dw["log10_m_p50"])))


def test_real_galaxies_model_choice(tmp_path):
    from galmass.config import load_config
    from galmass.book.realdata import model_for_profile

    assert model_for_profile(load_config("configs/default.yaml")) is None
    assert str(model_for_profile(load_config("configs/smoke.yaml"))) == "models/smoke/joint"
    p = tmp_path / "c.yaml"
    p.write_text("real_galaxies:\n  model: nope\n")
    with pytest.raises(GalmassError, match="real_galaxies.model"):
        model_for_profile(load_config(p))


def test_shipped_model_meets_the_gaia_challenge_targets(shared_data):
    """The model shipped with galmass, on the ten 1000-star samples of each Gaia Challenge mock
    (with and without errors), radii f >= 1: median |dlog M| <= 0.1 dex, >= 50% inside 68%."""
    from galmass.book.realdata import evaluate_gaia_challenge, gaia_challenge_verdict

    gc = evaluate_gaia_challenge(None, n_stars=(1000,), n_samples=1000, root=shared_data)
    assert len(set(zip(gc["model"], gc["errors"], gc["sample"]))) == 20
    verdict = gaia_challenge_verdict(gc)
    assert sorted(verdict) == ["PlumCoreOm", "PlumCuspOm"]
    for name, v in verdict.items():
        assert v["n_files"] == 10 and v["met"], (name, v)
