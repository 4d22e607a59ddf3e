"""The numpy backend (``galmass.inference.numpy_net``) computes what the torch modules compute:
the CNN's outputs and features, and the MAF's inverse pass, to float32 round-off; a saved
model samples the same posterior on both backends; a damaged ``weights.npz`` is one line."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from galmass.config import CNNConfig, FlowConfig
from galmass.errors import GalmassError
from galmass.inference.cnn import MassCNN
from galmass.inference.flow import build_flow
from galmass.inference.maf import maf_skeleton
from galmass.inference.model import MassModel
from galmass.inference.numpy_net import WEIGHTS_FILE, NumpyCNN, NumpyMAF, weights_arrays
from galmass.inference.preprocess import Preprocessor


def _jiggle(module: torch.nn.Module, seed: int, size: float = 0.1) -> None:
    """Move the weights off their initialisation (and off zero biases)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(size * torch.randn(p.shape, generator=g))


def _cnn(map_size: int = 16, seed: int = 0) -> tuple[MassCNN, CNNConfig]:
    cfg = CNNConfig(channels=(3, 5), kernel_size=3, hidden=12, n_features=6)
    torch.manual_seed(seed)
    net = MassCNN(map_size, cfg, n_outputs=4)
    _jiggle(net, seed)
    return net.eval(), cfg


def _maf(n_theta: int = 4, n_x: int = 7, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    theta = torch.randn(300, n_theta, generator=g) * 0.6 + 7.0
    x = torch.randn(300, n_x, generator=g) * 2.0 + 1.0
    torch.manual_seed(seed)
    flow = build_flow(theta, x, FlowConfig(hidden_features=16, num_transforms=3, estimator="maf"))
    _jiggle(flow, seed + 1, 0.05)
    return flow.eval(), x.numpy()


def test_numpy_cnn_matches_torch():
    net, cfg = _cnn()
    w = weights_arrays(net.state_dict(), {})
    npn = NumpyCNN(w, 16, cfg.channels, cfg.kernel_size, cfg.hidden, cfg.n_features, 4)
    rng = np.random.default_rng(1)
    m1, m2 = rng.gamma(2.0, 1.0, (2, 9, 16, 16)).astype(np.float32)  # non-symmetric maps: orientation matters
    s = rng.normal(size=(9, 3)).astype(np.float32)
    with torch.no_grad():
        t1, t2, ts = (torch.from_numpy(a) for a in (m1[:, None], m2[:, None], s))
        feats_t = net.embed(t1, t2, ts).numpy()
        out_t = net(t1, t2, ts).numpy()
    out_n, feats_n = npn.forward(m1, m2, s, batch=4)  # batches that do not divide 9
    assert np.ptp(out_t) > 0.1 and np.count_nonzero(feats_t) > 10  # the check is not vacuous
    np.testing.assert_allclose(feats_n, feats_t, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out_n, out_t, rtol=1e-4, atol=1e-5)
    # a transposed map gives another answer: the numpy convolution is not orientation-blind
    assert np.abs(npn.forward(m1.transpose(0, 2, 1), m2, s)[0] - out_n).max() > 1e-3


def test_numpy_maf_inverse_matches_torch():
    flow, x = _maf()
    npf = NumpyMAF(weights_arrays({}, flow.state_dict()), 4, 7, 16, 3)
    g = torch.Generator().manual_seed(5)
    z = torch.randn(200, 4, generator=g)
    cond = torch.from_numpy(np.repeat(x[:10], 20, axis=0))
    with torch.no_grad():
        ref = flow.net._transform.inverse(z, flow.net._embedding_net(cond))[0].numpy()
    got = npf.inverse(z.numpy(), (cond.numpy() - npf.mean) / npf.std)
    assert np.ptp(ref) > 1.0
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_numpy_maf_skeleton_state_and_sample_shape():
    flow, x = _maf(seed=2)
    skel = maf_skeleton(4, 7, 16, 3)
    skel.load_state_dict(flow.state_dict())
    npf = NumpyMAF(weights_arrays({}, skel.state_dict()), 4, 7, 16, 3)
    s = npf.sample(500, x[:3], np.random.default_rng(0), batch=2)
    assert s.shape == (500, 3, 4) and s.dtype == np.float32
    again = npf.sample(500, x[:3], np.random.default_rng(0), batch=2)
    np.testing.assert_array_equal(s, again)  # seeded
    with torch.no_grad():
        t = skel.sample((4000,), torch.from_numpy(x[:3])).numpy()
    # same distribution: medians and widths agree within Monte-Carlo error
    np.testing.assert_allclose(np.median(s, 0), np.median(t, 0), atol=0.15 * t.std(0).max())
    np.testing.assert_allclose(s.std(0), t.std(0), rtol=0.2)


def _saved_model(tmp_path):
    net, cfg = _cnn(map_size=16, seed=3)
    n_feat = cfg.n_features
    rng = np.random.default_rng(0)
    pre = Preprocessor(map_scale=[0.5, 0.7], scalar_mean=[-0.5, 1.0, 1.4], scalar_std=[0.4, 0.3, 0.3],
                       label_mean=[0.1, 0.3, 0.5, 0.6], label_std=[0.2, 0.2, 0.2, 0.2])
    fcfg = FlowConfig(hidden_features=16, num_transforms=3, estimator="maf", n_samples=200)
    g = torch.Generator().manual_seed(1)
    flow = build_flow(torch.randn(200, 4, generator=g) * 0.2, torch.randn(200, n_feat, generator=g), fcfg)
    _jiggle(flow, 4, 0.05)
    model = MassModel(net, pre, flow, 16, cfg, fcfg, np.array([0.6, 1.0, 1.6, 2.4]), {"profile": "test"})
    d = model.save(tmp_path / "m")
    maps = rng.gamma(2.0, 0.3, (2, 3, 16, 16)).astype(np.float32)
    scalars = np.array([[0.3, 9.0, 22.0], [0.1, 4.0, 10.0], [1.0, 20.0, 50.0]])
    return d, maps, scalars


def test_saved_model_runs_on_both_backends(tmp_path):
    d, (m1, m2), scalars = _saved_model(tmp_path)
    assert (d / WEIGHTS_FILE).is_file()
    mt = MassModel.load(d, backend="torch")
    mn = MassModel.load(d, backend="numpy")
    assert (mt.backend, mn.backend, MassModel.load(d, backend="auto").backend) == ("torch", "numpy", "numpy")
    pt, ft = mt.features(m1, m2, scalars)
    pn, fn = mn.features(m1, m2, scalars)
    np.testing.assert_allclose(pn, pt, atol=1e-5)
    np.testing.assert_allclose(fn, ft, atol=1e-5)
    st = mt.sample(m1, m2, scalars, n_samples=4000, seed=0)
    sn = mn.sample(m1, m2, scalars, n_samples=4000, seed=0)
    assert st.shape == sn.shape == (4000, 3, 4)
    np.testing.assert_allclose(np.median(sn, 0), np.median(st, 0), atol=0.15 * st.std(0).max())
    np.testing.assert_allclose(sn.std(0), st.std(0), rtol=0.2)
    with pytest.raises(GalmassError, match="numpy backend cannot be saved"):
        mn.save(tmp_path / "again")


def test_damaged_or_missing_weights_npz(tmp_path):
    d, _, _ = _saved_model(tmp_path)
    npz = d / WEIGHTS_FILE
    data = npz.read_bytes()
    npz.write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(GalmassError, match="weights.npz is unreadable") as err:
        MassModel.load(d, backend="numpy")
    assert "\n" not in str(err.value)
    with np.load(_resave(d, tmp_path), allow_pickle=False) as f:
        keep = {k: f[k] for k in f.files if "head.weight" not in k}
    with open(npz, "wb") as fh:
        np.savez(fh, **keep)
    with pytest.raises(GalmassError, match="lacks cnn/head.weight"):
        MassModel.load(d, backend="numpy")
    npz.unlink()
    with pytest.raises(GalmassError, match="has no weights.npz"):
        MassModel.load(d, backend="numpy")
    assert MassModel.load(d, backend="auto").backend == "torch"  # an older model directory still works
    with pytest.raises(GalmassError, match="backend must be one of"):
        MassModel.load(d, backend="jax")


def _resave(d, tmp_path):
    """A fresh copy of the model's weights.npz (the one in ``d`` was damaged)."""
    out = tmp_path / "fresh"
    MassModel.load(d, backend="torch").save(out)
    return out / WEIGHTS_FILE


def test_numpy_prediction_does_not_import_torch(tmp_path):
    d, _, _ = _saved_model(tmp_path)
    code = ("import sys, numpy as np\n"
            "from galmass.inference.model import MassModel\n"
            f"m = MassModel.load({str(d)!r}, backend='auto')\n"
            "r = np.random.default_rng(0)\n"
            "s = m.sample(r.gamma(2, .3, (1, 16, 16)), r.gamma(2, .3, (1, 16, 16)), [[0.3, 9.0, 22.0]], n_samples=100)\n"
            "assert s.shape == (100, 1, 4)\n"
            "print([k for k in ('torch', 'scipy', 'sbi') if k in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
