"""Ensembles of trained models (``galmass.predict.ensemble``): an equal mixture of the members'
posteriors, their disagreement measured and flagged, a strict ``ensemble.json``; and the
profile ``base`` key that makes the scale-free member's profile."""

import json
import shutil

import numpy as np
import pytest
import torch

from galmass.config import CNNConfig, FlowConfig, load_config
from galmass.errors import GalmassError
from galmass.inference.cnn import MassCNN
from galmass.inference.flow import build_flow
from galmass.inference.model import MassModel
from galmass.inference.preprocess import Preprocessor
from galmass.predict import load_model, predict
from galmass.predict.ensemble import ENSEMBLE_FILE, EnsembleModel, assemble, disagreement

S = 16
INFO = {"profile": "test", "dataset": {"kde_bandwidth": "paper", "n_sample_range": [20, 5000]}}


def _model(d, seed: int, label_shift: float = 0.0) -> MassModel:
    cfg = CNNConfig(channels=(2, 4), kernel_size=3, hidden=8, n_features=6)
    torch.manual_seed(seed)
    net = MassCNN(S, cfg, n_outputs=10).eval()
    pre = Preprocessor(map_scale=[0.01, 0.02], scalar_mean=[-0.5, 1.0, 1.4], scalar_std=[0.4, 0.3, 0.3],
                       label_mean=list(0.4 + label_shift + np.linspace(0, 0.6, 10)), label_std=[0.05] * 10)
    fcfg = FlowConfig(hidden_features=8, num_transforms=1, estimator="maf", n_samples=200, relative_to_cnn=True)
    g = torch.Generator().manual_seed(seed)
    flow = build_flow(torch.randn(200, 10, generator=g) * 0.05, torch.randn(200, 6, generator=g), fcfg)
    m = MassModel(net, pre, flow, S, cfg, fcfg, np.linspace(0.6, 2.4, 10), dict(INFO))
    m.save(d)
    return m


def _ensemble_dir(tmp_path, shift: float = 0.0, threshold=None, names=("a", "b"), posterior="mixture"):
    d = tmp_path / "ens"
    for i, n in enumerate(names):
        _model(d / "members" / n, seed=i, label_shift=shift * i)
    (d / ENSEMBLE_FILE).write_text(json.dumps({"format_version": 1, "members": list(names), "threshold": threshold,
                                               "posterior": posterior}))
    return d


def _catalogue(n: int = 400, seed: int = 0) -> dict:
    r = np.random.default_rng(seed)
    return {"x": r.normal(0, 0.3, n), "y": r.normal(0, 0.3, n), "v_los": r.normal(0, 8, n)}


def test_disagreement_measures_medians_against_widths():
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 0.1, (4000, 3, 10))
    b = rng.normal(0.0, 0.1, (4000, 3, 10))
    b[:, 1] += 0.3  # 0.3 dex apart, widths 0.1 each: D = 0.3 / sqrt(0.02) = 2.1
    b[:, 2, 4] += 0.6  # one radius only: the largest over radii counts
    d = disagreement([a, b])
    assert d[0] < 0.2 and d[1] == pytest.approx(2.12, abs=0.15) and d[2] == pytest.approx(4.24, abs=0.3)


def test_ensemble_samples_the_mixture_of_its_members(tmp_path):
    d = _ensemble_dir(tmp_path, shift=1.0)  # member b's masses 1 dex above a's
    ens = load_model(d)
    assert isinstance(ens, EnsembleModel) and ens.names == ["a", "b"] and ens.backend == "numpy"
    rng = np.random.default_rng(1)
    m = rng.gamma(2.0, 0.01, (2, S, S)).astype(np.float32)
    sc = np.array([[0.3, 9.0, 22.0], [0.2, 6.0, 15.0]])
    parts = ens.sample_members(m, m, sc, n_samples=301, seed=3)
    assert [p.shape[0] for p in parts] == [151, 150]
    s = ens.sample(m, m, sc, n_samples=301, seed=3)
    np.testing.assert_array_equal(s, np.concatenate(parts))
    gap = np.median(parts[1], 0) - np.median(parts[0], 0)
    assert np.all(np.abs(gap - 1.0) < 0.2)  # the members differ as built
    assert np.mean(s[:, 0, 5] > np.median(parts[0][:, 0, 5]) + 0.5) == pytest.approx(0.5, abs=0.05)  # half from each
    single = MassModel.load(d / "members" / "a", backend="numpy")
    np.testing.assert_array_equal(parts[0], single.sample(m, m, sc, n_samples=151, seed=6))  # seed * 2 + 0
    out = ens.predict(m, m, sc, n_samples=200)
    assert out["p50"].shape == (2, 10)


def test_members_that_disagree_flag_the_catalogue(tmp_path):
    agree = predict(_catalogue(), _ensemble_dir(tmp_path / "x", shift=0.0, threshold=3.0), n_samples=400)
    assert agree.meta["members"]["names"] == ["a", "b"] and not agree.meta["ood"]
    far = predict(_catalogue(), _ensemble_dir(tmp_path / "y", shift=1.0, threshold=3.0), n_samples=400)
    m = far.meta["members"]
    assert m["disagreement"] > 3.0 and far.meta["ood"] and "disagree" in far.meta["ood_reason"]
    assert m["median_at_r_half"][1] - m["median_at_r_half"][0] == pytest.approx(1.0, abs=0.25)
    p16, p84 = np.asarray(far["log10_m_p16"]), np.asarray(far["log10_m_p84"])
    assert np.all(p84 - p16 > 0.8)  # the mixture's band spans both members
    from galmass.predict import format_prediction

    assert "ensemble members, median log10 M(<R_h): a " in format_prediction(far)
    _model(tmp_path / "single", seed=0)
    single = predict(_catalogue(), tmp_path / "single", n_samples=100)
    assert single.meta["members"] is None and "ensemble members" not in format_prediction(single)


def test_one_members_posterior_checked_by_the_other(tmp_path):
    """posterior = a member: the prediction is that member's posterior; the other only checks it."""
    d = _ensemble_dir(tmp_path, shift=1.0, threshold=3.0, posterior="a")
    ens = load_model(d)
    rng = np.random.default_rng(1)
    m = rng.gamma(2.0, 0.01, (1, S, S)).astype(np.float32)
    sc = np.array([[0.3, 9.0, 22.0]])
    parts = ens.sample_members(m, m, sc, n_samples=300, seed=2)
    assert [p.shape[0] for p in parts] == [300, 300]
    np.testing.assert_array_equal(ens.sample(m, m, sc, n_samples=300, seed=2), parts[0])
    t = predict(_catalogue(), d, n_samples=400)
    mixed = predict(_catalogue(), load_model(d).__class__.load(d, posterior="mixture"), n_samples=400)
    assert t.meta["members"]["posterior"] == "a" and t.meta["ood"] and "disagree" in t.meta["ood_reason"]
    width = np.asarray(t["log10_m_p84"]) - np.asarray(t["log10_m_p16"])
    assert np.all(width < 0.5) and np.all(np.asarray(mixed["log10_m_p84"]) - np.asarray(mixed["log10_m_p16"]) > 0.8)
    with pytest.raises(GalmassError, match="posterior must be 'mixture' or one of"):
        EnsembleModel.load(d, posterior="c")


@pytest.mark.parametrize("meta, words", [
    ({"format_version": 1, "members": ["a"]}, "two or more names"),
    ({"format_version": 2, "members": ["a", "b"]}, "format 1"),
    ({"format_version": 1, "members": ["a", "../b"]}, "two or more names"),
    ({"format_version": 1, "members": ["a", "b"], "extra": 1}, "no other keys"),
    ({"format_version": 1, "members": ["a", "b"], "threshold": "high"}, "threshold"),
])
def test_bad_ensemble_json_is_one_line(tmp_path, meta, words):
    d = _ensemble_dir(tmp_path)
    (d / ENSEMBLE_FILE).write_text(json.dumps(meta))
    with pytest.raises(GalmassError, match=words) as err:
        load_model(d)
    assert "\n" not in str(err.value)


def test_missing_member_or_other_catalogues_are_refused(tmp_path):
    d = _ensemble_dir(tmp_path)
    shutil.rmtree(d / "members" / "b")
    with pytest.raises(GalmassError, match="not a galmass model directory"):
        load_model(d)
    d2 = _ensemble_dir(tmp_path / "2")
    meta = json.loads((d2 / "members" / "b" / "model.json").read_text())
    meta["info"]["dataset"]["kde_bandwidth"] = "scott"
    (d2 / "members" / "b" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(GalmassError, match="trained on other catalogues"):
        load_model(d2)


def test_assemble_copies_members_and_measures_the_threshold(tmp_path, monkeypatch):
    import galmass.predict.ensemble as ens_mod

    cfgs = []
    for name in ("p1", "p2"):
        cfg = tmp_path / f"{name}.yaml"
        cfg.write_text(f"profile: {name}\noutput_dir: {tmp_path}\n")
        _model(tmp_path / "models" / name / "joint", seed=len(cfgs))
        (tmp_path / "models" / name / "joint" / "work").mkdir()  # training leftovers are not copied
        cfgs.append(cfg)
    seen = {}
    monkeypatch.setattr(ens_mod, "validation_threshold", lambda e, ds, suites: seen.setdefault("t", 2.5))
    out = assemble(tmp_path / "shipped", cfgs, posterior="p1")
    meta = json.loads((out / ENSEMBLE_FILE).read_text())
    assert meta["members"] == ["p1", "p2"] and meta["threshold"] == 2.5 and meta["posterior"] == "p1"
    assert (out / "members" / "p2" / "weights.npz").is_file() and not (out / "members" / "p1" / "work").exists()
    assert load_model(out).threshold == 2.5
    with pytest.raises(GalmassError, match="exists"):
        assemble(out, cfgs)
    with pytest.raises(GalmassError, match="different profiles"):
        assemble(tmp_path / "again", [cfgs[0], cfgs[0]])


def test_profile_base_merges_sections(tmp_path):
    (tmp_path / "parent.yaml").write_text("profile: parent\nseed: 7\ncnn:\n  hidden: 16\n  channels: [2, 4]\n")
    (tmp_path / "child.yaml").write_text("base: parent.yaml\nprofile: child\ncnn:\n  scale_free: true\n")
    c = load_config(tmp_path / "child.yaml")
    assert (c.profile, c.seed, c.cnn.hidden, tuple(c.cnn.channels), c.cnn.scale_free) == ("child", 7, 16, (2, 4), True)
    (tmp_path / "typo.yaml").write_text("base: parent.yaml\ncnn:\n  scale_fre: true\n")
    with pytest.raises(GalmassError, match="scale_fre"):
        load_config(tmp_path / "typo.yaml")
    (tmp_path / "loop.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(GalmassError, match="loops back"):
        load_config(tmp_path / "loop.yaml")
    (tmp_path / "orphan.yaml").write_text("base: nowhere.yaml\n")
    with pytest.raises(GalmassError, match="not found.*base of"):
        load_config(tmp_path / "orphan.yaml")


def test_shipped_scale_free_profile_is_the_observed_one_but_its_cnn():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "configs"
    a, b = load_config(root / "observed.yaml"), load_config(root / "observed_scale_free.yaml")
    assert b.cnn.scale_free and not a.cnn.scale_free
    assert (a.data_dir, a.suites, a.dataset, a.flow, a.models) == (b.data_dir, b.suites, b.dataset, b.flow, b.models)
