"""Every figure function runs on small synthetic inputs and returns a Figure with the
expected panels (fast: no files, no training)."""

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from galmass.book import figures  # noqa: E402
from galmass.constants import RADII_F  # noqa: E402

RNG = np.random.default_rng(1)
N = 40


def _visible_axes(fig):
    return [ax for ax in fig.axes if ax.axison]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _truth():
    return 8.0 + np.log10(RADII_F)[None, :] * 1.5 + RNG.normal(0, 0.3, (N, 1))


def _band():
    med = 1 + 0.05 * RNG.normal(size=len(RADII_F))
    return {"f": RADII_F, "median_ratio": med, "p16": med - 0.1, "p84": med + 0.1}


def test_estimator_pdfs_one_row_per_estimator():
    ratios = {n: {"both": RNG.lognormal(0, 0.2, N), "a": RNG.lognormal(0, 0.2, 20), "b": RNG.lognormal(0, 0.2, 20)}
              for n in ("walker", "wolf", "errani")}
    fig = figures.estimator_pdfs(ratios, "both")
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    # the joint set's median is written in the panel, computed from the ratios
    txt = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert f"median {np.median(ratios['walker']['both']):.3f}" in txt


def test_ratio_bands_panels_and_estimators():
    est = {"walker": (1.0, 1.0, 0.8, 1.2), "wolf": (4 / 3, 1.05, 0.9, 1.2)}
    panels = {"p1": {"training": _band(), "validation": _band()}, "p2": {"training": _band()}}
    fig = figures.ratio_bands(panels, estimators={"p1": est}, label_fmt="{} set",
                              colors={"training": "tab:blue", "validation": "tab:pink"})
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert fig.axes[0].get_lines()[0].get_color() == "tab:blue"


def test_training_curves_linear_and_log():
    h = {"train_loss": list(np.linspace(1, 0.2, 8)), "val_loss": list(np.linspace(1.1, 0.3, 8)), "best_epoch": 7}
    fig = figures.training_curves({"joint": h, "cusp": {**h, "best_epoch": -1}})
    assert isinstance(fig, Figure) and len(fig.axes) == 1 and fig.axes[0].get_yscale() == "log"
    nll = {"train_loss": [-1.0, -2.0, -3.0], "val_loss": [-1.1, -2.1, -2.9], "best_epoch": 1}
    fig = figures.training_curves({"joint": nll}, logy=False, ylabel="NLL")
    assert fig.axes[0].get_yscale() == "linear"


def test_predicted_vs_true_one_panel_per_radius():
    t = _truth()
    fig = figures.predicted_vs_true(RADII_F, t, t + RNG.normal(0, 0.05, t.shape))
    assert isinstance(fig, Figure) and len(_visible_axes(fig)) == len(RADII_F)


@pytest.mark.parametrize("n_examples", [4, 3, 1])
def test_mass_profiles_one_panel_per_example(n_examples):
    t = _truth()
    ex = [{"title": f"g{i}", "f": RADII_F, "truth": t[i], "est_f": [1.0, 4 / 3, 1.8],
           "est_log_mass": t[i, [2, 4, 6]],
           "pred": {"joint": (t[i] - 0.1, t[i], t[i] + 0.1), "own": (t[i] - 0.2, t[i] + 0.05, t[i] + 0.2)}}
          for i in range(n_examples)]
    fig = figures.mass_profiles(ex)
    assert isinstance(fig, Figure) and len(_visible_axes(fig)) == n_examples


def test_posterior_corner_grid():
    pytest.importorskip("corner")
    d = 4
    samples = RNG.normal(size=(300, d))
    fig = figures.posterior_corner(samples, np.zeros(d))
    assert isinstance(fig, Figure) and len(fig.axes) == d * d
    assert fig.axes[-1].get_xlabel() == f"f={RADII_F[d - 1]:.1f}"


def test_generalisation_and_calibration_figures():
    t = _truth()
    fig = figures.binned_prediction_grid(RADII_F, t, t + RNG.normal(0, 0.3, t.shape), np.full(t.shape, 0.1))
    assert len(_visible_axes(fig)) == len(RADII_F)
    a = np.linspace(0, 1, 11)
    res = SimpleNamespace(alpha=a, ecp_median=a, ecp_lo=a - 0.02, ecp_hi=a + 0.02, max_deviation=0.01)
    assert len(figures.tarp_panels({"train": {"joint": res}, "validation": {"joint": res}}).axes) == 2
    ecp = np.tile(a[:, None], (1, len(RADII_F)))
    assert len(_visible_axes(figures.marginal_coverage_grid(RADII_F, a, {"train": ecp}))) == len(RADII_F)
    assert len(figures.uncertainty_vs_radius(RADII_F, {"val": np.abs(RNG.normal(0.1, 0.02, t.shape))}).axes) == 1
