"""Table 1's baselines and the transfer diagnostics (issue #17) on toy sets whose answer is known."""

import numpy as np
import pytest

from galmass.constants import G, RADII_F
from galmass.errors import GalmassError
from galmass.evaluation.baselines import BASELINES, fit_baselines, summary_features
from galmass.evaluation.stats import mse
from galmass.evaluation.transfer import galaxy_labels, label_outside_fraction, nn_label_distance


def _toy(n, seed, law):
    """Projections with random scalars and estimators, and labels from ``law(table)``."""
    rng = np.random.default_rng(seed)
    rh = 10 ** rng.uniform(-1.0, 0.5, n)           # kpc
    sig = 10 ** rng.uniform(0.5, 1.5, n)           # km/s
    vp = sig * rng.uniform(2.0, 2.6, n)            # km/s
    t = {"scalars": np.column_stack([rh, sig, vp]), "est_log_mass": rng.normal(8, 1, (n, 5))}
    t["labels"] = law(t)
    return t


def _scale(t):
    return np.log10(t["scalars"][:, 0] * t["scalars"][:, 1] ** 2 / G)


OFFSETS = np.linspace(-0.3, 0.4, len(RADII_F))


def test_scaling_recovers_its_constants():
    law = lambda t: _scale(t)[:, None] + OFFSETS[None, :]  # noqa: E731
    fitted = fit_baselines(_toy(400, 0, law))
    np.testing.assert_allclose(fitted["scaling"].offset, OFFSETS, atol=1e-12)
    test = _toy(300, 1, law)
    assert mse(fitted["scaling"].predict(test), test["labels"]) < 1e-24
    # a law of the summaries: the linear fit is exact too; the mean is not
    assert mse(fitted["summary_linear"].predict(test), test["labels"]) < 1e-20
    assert mse(fitted["baseline"].predict(test), test["labels"]) > 0.1


def test_linear_recovers_a_linear_law_of_the_summaries():
    w = np.random.default_rng(3).normal(0, 0.5, (8, len(RADII_F)))
    law = lambda t: 7.0 + summary_features(t) @ w  # noqa: E731
    tr, te = _toy(500, 0, law), _toy(200, 1, law)
    lin = fit_baselines(tr)["summary_linear"]
    np.testing.assert_allclose(lin.coef[0], 7.0, atol=1e-8)
    np.testing.assert_allclose(lin.coef[1:], w, atol=1e-8)
    assert mse(lin.predict(te), te["labels"]) < 1e-16


def test_mean_and_trees():
    # labels: a step in log R_h plus noise-free offsets: the trees find it, the linear fit cannot
    law = lambda t: np.where(t["scalars"][:, :1] > 1.0, 9.0, 8.0) + OFFSETS[None, :]  # noqa: E731
    tr, te = _toy(2000, 0, law), _toy(500, 1, law)
    fitted = fit_baselines(tr, seed=1)
    np.testing.assert_allclose(fitted["baseline"].mean, tr["labels"].mean(axis=0))
    assert mse(fitted["summary_gbt"].predict(te), te["labels"]) < 1e-3
    assert mse(fitted["summary_linear"].predict(te), te["labels"]) > 0.02
    # seeded: the same fit twice gives the same predictions
    again = fit_baselines(tr, seed=1)["summary_gbt"].predict(te)
    np.testing.assert_array_equal(again, fitted["summary_gbt"].predict(te))
    assert list(fitted) == list(BASELINES)


def test_bad_tables_are_one_line():
    t = _toy(10, 0, lambda t: np.zeros((len(t["scalars"]), 10)))
    t["scalars"][0, 1] = 0.0
    with pytest.raises(GalmassError, match="positive"):
        summary_features(t)
    with pytest.raises(GalmassError, match="at least 2"):
        fit_baselines({**_toy(1, 0, lambda t: np.zeros((1, 10)))})


def test_transfer_diagnostics():
    rng = np.random.default_rng(0)
    train = rng.normal(8.0, 0.5, (1000, 10))
    inside = rng.normal(8.0, 0.5, (500, 10))
    shifted = inside + 3.0
    assert label_outside_fraction(train, train) < 0.2      # 1-99% per radius, any of 10 radii
    assert label_outside_fraction(train, shifted) == 1.0
    assert label_outside_fraction(train, inside) < 0.25
    # nearest-neighbour distance: galaxies are averaged over their projections first
    gid = np.repeat(np.arange(250), 4).astype(str)
    gal = rng.normal(8.0, 0.5, (250, 10))
    proj = np.repeat(gal, 4, axis=0) + rng.normal(0, 1e-3, (1000, 10))
    order = np.argsort(np.arange(250).astype(str))  # rows come in sorted order of the ids
    np.testing.assert_allclose(galaxy_labels(proj, gid), gal[order], atol=5e-3)
    near = nn_label_distance(proj, gid, np.repeat(gal[:50], 2, axis=0) + 0.01, np.repeat(np.arange(50), 2).astype(str))
    far = nn_label_distance(proj, gid, gal[:50] + 3.0, np.arange(50).astype(str))
    assert near["set"] < 0.05 < near["train"]              # copies of training galaxies: closer than neighbours
    assert far["ratio"] > 3 and far["train"] == near["train"]
    with pytest.raises(GalmassError, match="shapes"):
        label_outside_fraction(train, train[:, :5])


def test_transfer_verdict_reads_the_numbers():
    from galmass.evaluation.transfer import transfer_verdict

    inside = {"label_outside_fraction": 0.01, "nn_label_distance_ratio": 0.9}
    apart = {"label_outside_fraction": 0.4, "nn_label_distance_ratio": 3.0}
    assert "interpolation" in transfer_verdict(inside) and "1.0%" in transfer_verdict(inside)
    assert "measures transfer" in transfer_verdict(apart) and "3.00 times" in transfer_verdict(apart)


def test_paper_reference_values_map_to_the_suites():
    from galmass.evaluation import paper

    assert paper.paper_suite("core") == "NIHAO" and paper.paper_suite("cusp") == "AURIGA"
    assert paper.table1_reference("heldout", ["cusp", "core"]) == paper.TABLE1["FIRE-2"]["NIHAO+AURIGA"]
    assert paper.table1_reference("cusp", ["core"]) == paper.TABLE1["AURIGA"]["NIHAO"]
    assert paper.table1_reference("nosuch", ["core"]) is None
    lo, hi = paper.ESTIMATOR_SCATTER_RANGE
    assert all(lo <= v <= hi for v in paper.ESTIMATOR_SCATTER.values())


def test_paper_numbers_are_typed_once():
    """The paper's published values live in galmass.evaluation.paper only: no notebook or book
    page types them again (modules are not searched: 0.010 or 0.015 are common constants)."""
    import re
    from pathlib import Path

    from galmass.evaluation import paper

    root = Path(__file__).resolve().parents[1]
    values = {f"{v:.3f}" for row in paper.TABLE1.values() for v in row.values()}
    values |= {f"{v:.3f}" for v in paper.TABLE1_BASELINE.values()}
    values |= {f"{v:.2f}" for v in (*paper.ESTIMATOR_SCATTER_RANGE, *paper.ESTIMATOR_MEDIAN_RATIO.values(),
                                    paper.TARP_TRAIN_MAX_DEVIATION, paper.TARP_HELDOUT_MAX_DEVIATION)}
    files = [*root.glob("notebooks/*.py"), *root.glob("book/*.md")]
    for path in files:
        text = path.read_text(encoding="utf-8")
        for v in values:
            assert not re.search(rf"(?<![\d.]){re.escape(v)}(?!\d)", text), (path.name, v)
