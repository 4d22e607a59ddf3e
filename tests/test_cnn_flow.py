"""CNN, flow and saved models: shapes, augmentation, save/load, clear errors."""

import json

import numpy as np
import pytest
import torch

from galmass.inference.cnn import CNNConfig, MassCNN, augment_position_maps, train_cnn
from galmass.errors import GalmassError
from galmass.inference.flow import FlowConfig, sample_posterior, train_flow
from galmass.inference.model import MassModel
from galmass.inference.preprocess import Preprocessor, summarize_samples

S = 16


def _toy(n, rng):
    """Maps whose width encodes the 'mass': a learnable toy problem."""
    yy, xx = np.mgrid[-1:1:S * 1j, -1:1:S * 1j]
    w = rng.uniform(0.2, 0.8, n)
    m1 = np.exp(-(xx[None] ** 2 + yy[None] ** 2) / (2 * w[:, None, None] ** 2)).astype(np.float32)
    m2 = np.exp(-(xx[None] ** 2) / (2 * w[:, None, None] ** 2) - yy[None] ** 2).astype(np.float32)
    scalars = np.stack([w, 10 * w, 23 * w], 1) * rng.lognormal(0, 0.05, (n, 3))
    labels = 8 + 2 * np.log10(w)[:, None] + np.linspace(0, 0.5, 10)[None] + rng.normal(0, 0.02, (n, 10))
    return {"map1": m1, "map2": m2, "scalars": scalars, "labels": labels}


def test_network_output_shapes():
    net = MassCNN(S, CNNConfig(channels=(4, 8), hidden=16))
    m = torch.rand(5, 1, S, S)
    assert net(m, m, torch.rand(5, 3)).shape == (5, 10)
    assert net.embed(m, m, torch.rand(5, 3)).shape == (5, 32)
    with pytest.raises(GalmassError):
        MassCNN(30)


def test_augmentation_preserves_map_sums():
    m = torch.rand(64, 1, S, S)
    out = augment_position_maps(m, torch.Generator().manual_seed(1))
    torch.testing.assert_close(out.sum((1, 2, 3)), m.sum((1, 2, 3)))
    assert not torch.equal(out, m)  # something was rotated or flipped
    # each output is one of the 8 symmetries of its input
    for a, b in zip(m[:8], out[:8]):
        cands = [torch.rot90(x, k, (-2, -1)) for x in (a, torch.flip(a, (-1,))) for k in range(4)]
        assert any(torch.equal(b, c) for c in cands)


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    tr, va = _toy(600, rng), _toy(200, rng)
    cfg = CNNConfig(channels=(4, 8), hidden=32, max_epochs=25, early_stop_patience=8, batch_size=64)
    cnn, pre, hist = train_cnn(tr, va, S, cfg, progress=False)
    from galmass.inference.cnn import predict_cnn
    _, ftr = predict_cnn(cnn, pre, tr["map1"], tr["map2"], tr["scalars"])
    _, fva = predict_cnn(cnn, pre, va["map1"], va["map2"], va["scalars"])
    fcfg = FlowConfig(max_epochs=15, n_samples=200, lr=1e-3)
    flow, fh = train_flow(tr["labels"] - pre.offset(tr["scalars"]), ftr,
                          va["labels"] - pre.offset(va["scalars"]), fva, fcfg, progress=False)
    model = MassModel(cnn, pre, flow, S, cfg, fcfg, np.round(np.arange(0.6, 2.41, 0.2), 1), {"test": True})
    return model, va, hist


def test_cnn_learns_toy_problem(trained):
    model, va, hist = trained
    assert hist.val_loss[hist.best_epoch] < 0.2 * hist.val_loss[0]
    pred, feats = model.features(va["map1"], va["map2"], va["scalars"])
    assert pred.shape == (200, 10) and feats.shape == (200, 32)
    assert np.sqrt(np.mean((pred - va["labels"]) ** 2)) < 0.15


def test_flow_sample_shapes_and_summary(trained):
    model, va, _ = trained
    s = model.sample(va["map1"][:7], va["map2"][:7], va["scalars"][:7], n_samples=50)
    assert s.shape == (50, 7, 10)
    summ = summarize_samples(s)
    assert set(summ) == {"p16", "p50", "p84"} and np.all(summ["p16"] <= summ["p84"])


def test_saved_model_predicts_identically(trained, tmp_path):
    model, va, _ = trained
    model.save(tmp_path / "m")
    back = MassModel.load(tmp_path / "m")
    a = model.sample(va["map1"][:5], va["map2"][:5], va["scalars"][:5], n_samples=30, seed=3)
    b = back.sample(va["map1"][:5], va["map2"][:5], va["scalars"][:5], n_samples=30, seed=3)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(GalmassError, match="trained on 16x16"):
        MassModel.load(tmp_path / "m", map_size=64)
    with pytest.raises(GalmassError, match="this model takes"):
        back.predict(np.zeros((2, 8, 8)), np.zeros((2, 8, 8)), np.ones((2, 3)))


def test_model_from_another_version_is_refused(trained, tmp_path):
    model, _, _ = trained
    d = model.save(tmp_path / "m")
    meta = json.loads((d / "model.json").read_text())
    meta["format_version"] = 999
    meta["galmass_version"] = "9.9"
    (d / "model.json").write_text(json.dumps(meta))
    with pytest.raises(GalmassError, match="galmass 9.9"):
        MassModel.load(d)
    with pytest.raises(GalmassError, match="not a galmass model"):
        MassModel.load(tmp_path / "nothing")


def test_bad_training_input_is_clear():
    rng = np.random.default_rng(1)
    tr = _toy(10, rng)
    with pytest.raises(GalmassError, match="lacks"):
        train_cnn({"map1": tr["map1"]}, tr, S)
    bad = dict(tr, scalars=-tr["scalars"])
    with pytest.raises(GalmassError, match="positive"):
        Preprocessor.fit(bad["map1"], bad["map2"], bad["scalars"], bad["labels"])
    with pytest.raises(GalmassError, match="NaN"):
        train_flow(np.full((4, 10), np.nan), np.zeros((4, 32)), np.zeros((4, 10)), np.zeros((4, 32)))


@pytest.mark.parametrize("residual", [True, False])
def test_preprocessor_round_trip(residual):
    rng = np.random.default_rng(2)
    d = _toy(50, rng)
    pre = Preprocessor.fit(d["map1"], d["map2"], d["scalars"], d["labels"], residual_target=residual)
    z = pre.labels(d["labels"], d["scalars"])
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(pre.inverse_labels(z, d["scalars"]), d["labels"], atol=1e-5)


def test_mass_scale_is_dimensional_estimate():
    from galmass.inference.preprocess import mass_scale
    from galmass.constants import G
    # R_h = 0.3 kpc, sigma = 10 km/s: R sigma^2 / G = 6.98e6 Msun
    assert 10 ** mass_scale(np.array([[0.3, 10.0, 23.0]]))[0] == pytest.approx(0.3 * 100 / G)


def test_shipped_default_model_loads_and_predicts():
    from importlib.resources import files

    from galmass.predict import load_model

    d = files("galmass") / "default_model"
    model = load_model(None)  # an ensemble of models, or one
    assert model.domain is not None and (d / "metrics.json").is_file()
    assert model.backend == "numpy"  # prediction runs without torch
    rng = np.random.default_rng(0)
    s = model.map_size
    m1 = rng.random((2, s, s)).astype(np.float32)
    sc = np.array([[0.3, 10.0, 23.0], [1.0, 40.0, 90.0]])
    # the shipped (observed-profile) flow sees the star count; a model that does not ignores it
    out = model.predict(m1, m1, sc, n_samples=50, n_stars=np.array([500, 2000]))
    assert out["p50"].shape == (2, 10) and np.all(out["p16"] <= out["p84"])
    if model.flow_config.condition_on_n_stars:
        with pytest.raises(GalmassError, match="give n_stars"):
            model.predict(m1, m1, sc, n_samples=50)


def test_sampling_leaves_global_torch_rng_alone(trained):
    model, va, _ = trained
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    model.sample(va["map1"][:2], va["map2"][:2], va["scalars"][:2], n_samples=10, seed=7)
    assert torch.equal(torch.rand(3), expected)


def _flow_toy(seed=3, n=400):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    theta = np.stack([x[:, 0] + 0.1 * rng.normal(size=n), x[:, 0] - x[:, 1] + 0.1 * rng.normal(size=n)], 1)
    return theta[:300], x[:300], theta[300:], x[300:]


def test_flow_lr_schedule_anneals_and_resumes(tmp_path):
    """With lr_patience the learning rate drops after stalled epochs; an interrupted run
    resumes from its checkpoint (scheduler included) to the same weights."""
    th, x, thv, xv = _flow_toy()
    cfg = FlowConfig(lr=3e-2, lr_patience=1, lr_factor=0.3, max_epochs=25, stop_after_epochs=50,
                     hidden_features=8, num_transforms=2)
    net, hist = train_flow(th, x, thv, xv, cfg, workdir=tmp_path / "a", progress=False)
    assert hist.lr[0] == pytest.approx(3e-2) and min(hist.lr) < 3e-2 * 0.3 * 1.0001
    assert len(hist.lr) == len(hist.val_loss) == 25
    # interrupted after 5 epochs, then resumed with the full budget
    short = FlowConfig(**{**cfg.__dict__, "max_epochs": 5})
    train_flow(th, x, thv, xv, short, workdir=tmp_path / "b", progress=False)
    net2, hist2 = train_flow(th, x, thv, xv, cfg, workdir=tmp_path / "b", progress=False)
    assert hist2.lr == hist.lr
    np.testing.assert_allclose(hist2.val_loss, hist.val_loss, rtol=1e-5)
    for k, v in net.state_dict().items():
        torch.testing.assert_close(net2.state_dict()[k], v)


def test_flow_without_schedule_keeps_lr():
    th, x, thv, xv = _flow_toy()
    _, hist = train_flow(th, x, thv, xv, FlowConfig(lr=1e-3, max_epochs=4, hidden_features=8,
                                                    num_transforms=2), progress=False)
    assert hist.lr == [1e-3] * 4


def test_flow_stops_below_min_lr():
    th, x, thv, xv = _flow_toy()
    cfg = FlowConfig(lr=3e-2, lr_patience=1, lr_factor=0.3, min_lr=3e-2 * 0.3 * 0.3 * 1.0001, max_epochs=200,
                     stop_after_epochs=200, hidden_features=8, num_transforms=2)
    _, hist = train_flow(th, x, thv, xv, cfg, progress=False)
    assert len(hist.lr) < 200 and hist.lr[-1] < cfg.min_lr and all(v >= cfg.min_lr for v in hist.lr[:-1])


@pytest.mark.parametrize("estimator", ["maf_rqs", "nsf"])
def test_spline_flow_saves_and_loads(trained, tmp_path, estimator):
    """A model with a spline flow round-trips through save/load like the affine MAF."""
    model, va, _ = trained
    _, feats = model.features(va["map1"], va["map2"], va["scalars"])
    theta = va["labels"] - model.preprocessor.offset(va["scalars"])
    fcfg = FlowConfig(estimator=estimator, max_epochs=2, n_samples=20, lr=1e-3, hidden_features=8, num_transforms=2)
    flow, _ = train_flow(theta[:150], feats[:150], theta[150:], feats[150:], fcfg, progress=False)
    m = MassModel(model.cnn, model.preprocessor, flow, S, model.cnn_config, fcfg, model.radii_f, {"test": True})
    m.save(tmp_path / "m")
    back = MassModel.load(tmp_path / "m")
    assert back.flow_config.estimator == estimator
    x = [va[k][:4] for k in ("map1", "map2", "scalars")]
    np.testing.assert_array_equal(m.sample(*x, n_samples=20, seed=1), back.sample(*x, n_samples=20, seed=1))


def test_unknown_flow_estimator_is_refused():
    th, x, thv, xv = _flow_toy()
    with pytest.raises(GalmassError, match="flow estimator 'realnvp'"):
        train_flow(th, x, thv, xv, FlowConfig(estimator="realnvp", max_epochs=1), progress=False)


def test_flow_relative_to_cnn_is_centred_on_the_cnn_estimate(trained, tmp_path):
    """With relative_to_cnn the flow models log10 M minus the CNN estimate and sampling adds
    exactly that estimate back (also after save/load); without it the mass-scale offset."""
    from galmass.inference.preprocess import flow_shift

    model, va, _ = trained
    pred, feats = model.features(va["map1"], va["map2"], va["scalars"])
    fcfg = FlowConfig(relative_to_cnn=True, max_epochs=15, n_samples=200, lr=1e-3)
    shift = flow_shift(model.preprocessor, fcfg, pred, va["scalars"])
    np.testing.assert_array_equal(shift, pred)
    flow, _ = train_flow(va["labels"][:150] - shift[:150], feats[:150], va["labels"][150:] - shift[150:],
                         feats[150:], fcfg, progress=False)
    m = MassModel(model.cnn, model.preprocessor, flow, S, model.cnn_config, fcfg, model.radii_f, {"test": True})
    m.save(tmp_path / "m")
    back = MassModel.load(tmp_path / "m")
    x = [va[k] for k in ("map1", "map2", "scalars")]
    s = back.sample(*x, n_samples=200, seed=2)
    np.testing.assert_allclose(s - sample_posterior(flow, feats, 200, seed=2), np.broadcast_to(pred, s.shape),
                               atol=1e-5)
    assert np.sqrt(np.mean((np.median(s, 0) - va["labels"]) ** 2)) < 0.15
    # the paper's parametrisation: relative to the offset of the network's target
    off = flow_shift(model.preprocessor, FlowConfig(), pred, va["scalars"])
    np.testing.assert_allclose(off, np.broadcast_to(model.preprocessor.offset(va["scalars"]), pred.shape))


def test_flow_conditioned_on_n_stars_widens_for_few_stars(trained, tmp_path):
    """With ``condition_on_n_stars`` the flow sees log10 N beside the CNN features: trained on
    labels whose scatter falls as 1/sqrt(N), its bands are wider for few stars; it needs N to
    sample, and round-trips through save/load."""
    model, va, _ = trained
    rng = np.random.default_rng(4)
    tr = _toy(1200, rng)
    n = np.exp(rng.uniform(np.log(20), np.log(5000), 1200))
    noise = (0.5 / np.sqrt(n))[:, None] * rng.normal(size=(1200, 10))
    pred, feats = model.features(tr["map1"], tr["map2"], tr["scalars"])
    fcfg = FlowConfig(relative_to_cnn=True, condition_on_n_stars=True, max_epochs=40, n_samples=300, lr=3e-3)
    from galmass.inference.preprocess import flow_condition

    x = flow_condition(feats, n, fcfg)
    assert x.shape == (1200, 33) and np.allclose(x[:, -1], np.log10(n))
    theta = tr["labels"] + noise - pred
    flow, _ = train_flow(theta[:1000], x[:1000], theta[1000:], x[1000:], fcfg, progress=False)
    m = MassModel(model.cnn, model.preprocessor, flow, S, model.cnn_config, fcfg, model.radii_f, {"test": True})
    inp = [tr[k][:50] for k in ("map1", "map2", "scalars")]
    with pytest.raises(GalmassError, match="give n_stars"):
        m.sample(*inp, n_samples=50)
    with pytest.raises(GalmassError, match="star counts"):
        m.sample(*inp, n_samples=50, n_stars=np.zeros(50))
    few = m.sample(*inp, n_samples=300, seed=1, n_stars=np.full(50, 20))
    many = m.sample(*inp, n_samples=300, seed=1, n_stars=np.full(50, 5000))
    width = {k: np.median(np.percentile(s, 84, 0) - np.percentile(s, 16, 0)) for k, s in (("few", few), ("many", many))}
    assert width["few"] > 2 * width["many"], width
    m.save(tmp_path / "m")
    back = MassModel.load(tmp_path / "m")
    assert back.flow_config.condition_on_n_stars
    np.testing.assert_array_equal(back.sample(*inp, n_samples=30, seed=2, n_stars=n[:50]),
                                  m.sample(*inp, n_samples=30, seed=2, n_stars=n[:50]))


def test_residual_scale_recovers_floor_and_sampling_term():
    """ResidualScale.fit recovers s(N)^2 = a + b/N from Gaussian residuals (per radius), keeps
    a, b >= 0, and falls back to a constant when the counts do not vary."""
    from galmass.inference.preprocess import ResidualScale

    rng = np.random.default_rng(0)
    n = np.exp(rng.uniform(np.log(20), np.log(5000), 60_000))
    a = np.linspace(0.005, 0.02, 10)
    b = np.linspace(0.5, 2.0, 10)
    r = rng.normal(size=(len(n), 10)) * np.sqrt(a[None] + b[None] / n[:, None])
    sc = ResidualScale.fit(r, n)
    np.testing.assert_allclose(sc(np.array([20.0, 5000.0])), np.sqrt(a + b / np.array([[20.0], [5000.0]])), rtol=0.1)
    # residuals that do not shrink with N: a constant width, b = 0
    flat = ResidualScale.fit(0.1 * rng.normal(size=(len(n), 10)), n)
    assert np.all(flat.b < 0.1 * 0.1**2 * 20) and np.allclose(flat(np.array([20.0])), 0.1, rtol=0.1)
    same = ResidualScale.fit(0.2 * rng.normal(size=(3000, 10)), np.full(3000, 100.0))
    assert np.allclose(same(np.array([100.0])), 0.2, rtol=0.1) and np.all(same.a >= 0) and np.all(same.b >= 0)
    with pytest.raises(GalmassError, match="residual_scale"):
        ResidualScale.from_dict({"a": [1.0], "b": [-1.0]}, 1)


def test_flow_scaled_with_n_stars_follows_the_count(trained, tmp_path):
    """With ``scale_with_n_stars`` the flow models errors divided by s(N); trained through
    `train_model`'s recipe on errors of width 0.5/sqrt(N), its bands for 20 stars are ~sqrt(250)
    times those for 5000 stars, and the scale round-trips through save/load."""
    from galmass.inference.preprocess import ResidualScale, flow_condition

    model, _, _ = trained
    rng = np.random.default_rng(5)
    tr = _toy(1200, rng)
    n = np.exp(rng.uniform(np.log(20), np.log(5000), 1200))
    pred, feats = model.features(tr["map1"], tr["map2"], tr["scalars"])
    theta = (0.5 / np.sqrt(n))[:, None] * rng.normal(size=(1200, 10))
    fcfg = FlowConfig(relative_to_cnn=True, condition_on_n_stars=True, scale_with_n_stars=True,
                      max_epochs=30, n_samples=300, lr=3e-3)
    scale = ResidualScale.fit(theta[:1000], n[:1000])
    x = flow_condition(feats, n, fcfg)
    z = theta / scale(n)
    flow, _ = train_flow(z[:1000], x[:1000], z[1000:], x[1000:], fcfg, progress=False)
    m = MassModel(model.cnn, model.preprocessor, flow, S, model.cnn_config, fcfg, model.radii_f, {"test": True},
                  scale=scale)
    inp = [tr[k][:50] for k in ("map1", "map2", "scalars")]
    few = m.sample(*inp, n_samples=300, seed=1, n_stars=np.full(50, 20))
    many = m.sample(*inp, n_samples=300, seed=1, n_stars=np.full(50, 5000))
    width = {k: np.median(np.percentile(s, 84, 0) - np.percentile(s, 16, 0)) for k, s in (("few", few), ("many", many))}
    assert 8 < width["few"] / width["many"] < 30, width
    assert abs(width["few"] / 2 - 0.5 / np.sqrt(20)) < 0.3 * 0.5 / np.sqrt(20), width
    m.save(tmp_path / "m")
    back = MassModel.load(tmp_path / "m")
    np.testing.assert_array_equal(back.scale.a, scale.a)
    np.testing.assert_array_equal(back.sample(*inp, n_samples=30, seed=2, n_stars=n[:50]),
                                  m.sample(*inp, n_samples=30, seed=2, n_stars=n[:50]))
    # a model.json that claims the scale but lacks it is refused
    import json
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    del meta["residual_scale"]
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(GalmassError, match="residual_scale"):
        MassModel.load(tmp_path / "m")


def test_scale_free_model_follows_the_scaling_symmetry(tmp_path):
    """A scale-free CNN sees the maps and v_p98 / sigma_los only: velocities x s give masses
    x s^2 and sizes x l masses x l exactly, on both backends; with the absolute scalars the
    same rescaling moves the prediction by another amount (the check is not vacuous)."""
    rng = np.random.default_rng(4)
    d = _toy(40, rng)
    out = {}
    for scale_free in (True, False):
        cfg = CNNConfig(channels=(2, 4), hidden=8, n_features=6, max_epochs=1, scale_free=scale_free)
        net, pre, _ = train_cnn(d, d, S, cfg, progress=False)
        assert pre.n_scalars == (1 if scale_free else 3)
        fcfg = FlowConfig(hidden_features=8, num_transforms=1, max_epochs=1, n_samples=100)
        flow, _ = train_flow(d["labels"], np.zeros((40, 6), np.float32) + rng.normal(size=(40, 6)).astype(np.float32),
                             d["labels"], rng.normal(size=(40, 6)).astype(np.float32), fcfg, progress=False)
        path = MassModel(net, pre, flow, S, cfg, fcfg, np.linspace(0.6, 2.4, 10), {}).save(tmp_path / str(scale_free))
        m1, m2, sc = d["map1"][:5], d["map2"][:5], d["scalars"][:5]
        scaled = sc * np.array([3.0, 0.25, 0.25])  # sizes x 3, velocities x 1/4: masses x 3/16
        for backend in ("torch", "numpy"):
            model = MassModel.load(path, backend=backend)
            shift = model.features(m1, m2, scaled)[0] - model.features(m1, m2, sc)[0]
            out[scale_free, backend] = shift
    expected = np.log10(3.0 / 16.0)
    for backend in ("torch", "numpy"):
        np.testing.assert_allclose(out[True, backend], expected, atol=1e-5)
        assert np.abs(out[False, backend] - expected).max() > 1e-3


def test_scale_free_needs_the_residual_target():
    d = _toy(10, np.random.default_rng(0))
    with pytest.raises(GalmassError, match="residual target"):
        Preprocessor.fit(d["map1"], d["map2"], d["scalars"], d["labels"], residual_target=False, scale_free=True)
