"""The MAF rebuilt in plain torch samples exactly as sbi's, and prediction imports neither sbi,
nor nflows, nor matplotlib, nor (with the numpy backend) torch or scipy: the cold start of
``galmass predict``."""

import subprocess
import sys

import numpy as np
import torch

from galmass.config import FlowConfig
from galmass.inference.flow import build_flow, sample_posterior
from galmass.inference.maf import maf_skeleton


def test_skeleton_loads_sbis_state_and_samples_bit_for_bit():
    g = torch.Generator().manual_seed(0)
    theta = torch.randn(500, 10, generator=g) * 0.7 + 8.0  # z-scoring with non-trivial mean/std
    x = torch.randn(500, 32, generator=g) * 3.0 - 1.0
    cfg = FlowConfig(hidden_features=32, num_transforms=4, estimator="maf")
    torch.manual_seed(3)
    ref = build_flow(theta, x, cfg)
    with torch.no_grad():  # move the weights away from their initialisation
        for p in ref.parameters():
            p.add_(0.05 * torch.randn_like(p))
    skel = maf_skeleton(10, 32, 32, 4)
    skel.load_state_dict(ref.state_dict(), strict=True)
    feats = x[:7].numpy()
    a = sample_posterior(ref, feats, n_samples=300, seed=11)
    b = sample_posterior(skel, feats, n_samples=300, seed=11)
    assert a.shape == b.shape == (300, 7, 10)
    np.testing.assert_array_equal(a, b)


def test_prediction_does_not_import_sbi_nflows_matplotlib_torch_or_scipy(tmp_path):
    code = ("import sys, numpy as np\n"
            "from galmass.predict import predict\n"
            "r = np.random.default_rng(0)\n"
            "t = predict({'x': r.normal(0, .3, 300), 'y': r.normal(0, .3, 300), 'v_los': r.normal(0, 8, 300)},"
            " n_samples=200)\n"
            "assert len(t) == 10\n"
            "print([m for m in ('sbi', 'nflows', 'matplotlib', 'torch', 'scipy') if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_domain_interpolation_is_scipys():
    from scipy.interpolate import RegularGridInterpolator

    from galmass.inference.ood import _bilinear

    rng = np.random.default_rng(5)
    grid = rng.uniform(size=(33, 41))
    ext = (-1.0, 3.0, 0.5, 2.5)
    pts = np.column_stack([rng.uniform(0.0, 3.0, 5000), rng.uniform(-2.0, 4.0, 5000)])  # (y, x), some outside
    pts[:3] = [[0.5, -1.0], [2.5, 3.0], [np.nan, 1.0]]  # corners and a NaN
    ref = RegularGridInterpolator((np.linspace(0.5, 2.5, 33), np.linspace(-1.0, 3.0, 41)), grid,
                                  bounds_error=False, fill_value=0.0)(np.nan_to_num(pts, nan=-99.0))
    np.testing.assert_allclose(_bilinear(grid, ext, pts), ref, rtol=1e-12, atol=1e-14)
