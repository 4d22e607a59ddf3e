# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---


# %% [markdown]
# # Generalisation across suites (Section 5.2, Table 1, Figs. 8, 9 and C.1)
#
# The paper trains three models — on NIHAO only, on AURIGA only and on both — and finds that
# a model trained on one suite loses accuracy on the other, while the joint model does well
# on both and best on FIRE-2. Here the suites are the mock suites of the run profile (their
# analogues are printed beside their names): two training suites, and a held-out FIRE-like
# suite which no model sees in training. In the default profile the held-out suite `tidal`
# has physics neither training suite has (tidally truncated cored halos, Jeans initial
# conditions, a wider anisotropy range); the transfer diagnostics below measure how far it
# lies from the training set.

# %% tags=["parameters"]
config = "configs/smoke.yaml"

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from galmass.book import figures
from galmass.book.captions import Captions
from galmass.book.figures import open_run
from galmass.constants import RADII_F
from galmass.dataset import load_arrays
from galmass.evaluation.stats import estimator_points, ratio_curve
from galmass.inference.model import MassModel
from galmass.inference.ood import SCALAR_LABELS
from galmass.evaluation.predictions import load_set

cfg, st, metrics, joint, name = open_run(config)
caption = Captions(5)
pred_dir = st.results_dir / "predictions"
model_label = {m: " + ".join(st.models[m]) for m in st.models}
display(Markdown(f"Run profile **{cfg.profile}**; models: "
                 + ", ".join(f"`{m}` trained on {model_label[m]}" for m in st.models)))

# %% [markdown]
# ## Table 1: MSE of log10 M over all ten radii
# Each model evaluated on the *test* galaxies of each training suite (galaxies that neither
# trained the model nor chose its epochs and learning rates: that is the validation split's
# job) and on the held-out suite. The lowest model MSE per row is in bold. Beside the models,
# the baselines of `galmass.evaluation.baselines`, each fitted on the joint model's training
# split: `baseline` the training mean of log10 M at each radius (the paper's baseline, which
# uses each evaluation set's own mean, is in the "paper" column), `scaling` the virial
# scaling log10(R_h sigma_los^2 / G) + c_f, `summary_linear` least squares and `summary_gbt`
# gradient-boosted trees on the three scalars and the five literature estimators. "gain" is
# the MSE of the best baseline divided by the joint model's: how much the maps and the
# network add to what the summaries already say. The paper's columns are its published
# Table 1 (the NIHAO+AURIGA model and its baseline), for reference.

# %%
from galmass.evaluation.baselines import BASELINES
from galmass.evaluation.paper import CITATION, TABLE1_BASELINE, paper_suite, table1_reference
from galmass.evaluation.predictions import held_out_suites
from galmass.evaluation.transfer import transfer_verdict

held = held_out_suites(cfg)
in_suite = [f"test_{s}" for s in cfg.suites.names if s not in held]
held_sets = [f"test_{s}" for s in held]
sets = in_suite + held_sets
t1, gain = metrics["table1"], metrics["table1_gain"]
fmt = lambda v: "–" if v is None else f"{v:.4f}"  # noqa: E731
cols = [f"trained on {model_label[m]}" for m in st.models] + list(BASELINES) + [f"gain ({joint})",
        "paper: NIHAO+AURIGA", "paper: baseline"]
rows = ["| test set | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
for s in sets:
    suite = s.split("_", 1)[1]
    vals = {m: t1[m].get(s) for m in st.models}
    best = min((v for v in vals.values() if v is not None), default=None)
    cells = [(f"**{v:.4f}**" if v == best else f"{v:.4f}") if v is not None else "–" for v in vals.values()]
    cells += [fmt(t1[b].get(s)) for b in BASELINES]
    g = gain[joint].get(s)
    cells.append("–" if g is None else f"{g:.1f}x")
    ref = (table1_reference(suite, st.models[joint]), TABLE1_BASELINE.get(paper_suite(suite)))
    cells += ["–" if v is None else f"{v:.3f}" for v in ref]  # the paper's own precision
    kind = "held out" if suite in held else "test"
    rows.append(f"| {name[suite]} ({kind}) | " + " | ".join(cells) + " |")
display(Markdown("\n".join(rows)))
display(Markdown(f"*Paper: {CITATION}, Table 1; its rows are NIHAO, AURIGA and FIRE-2, here the suites "
                 f"standing in for them.*"))

# %% [markdown]
# ## Transfer: how far is each test set from the training set?
# A low error on the held-out suite shows transfer only if the held-out galaxies are unlike the
# training galaxies. Against the joint model's training split: the fraction of test
# projections with a label (log10 M at any radius) outside the training 1–99% range, the
# fraction whose scalars fall outside the training inputs' 99% contours (Appendix C), and the
# median distance [dex, over the ten radii] from a test galaxy's labels to the nearest
# training galaxy's — beside the same distance between training galaxies. A ratio near 1
# means the test galaxies sit among the training galaxies: the column measures
# interpolation, not transfer.

# %%
tr = metrics["transfer"]
rows = ["| test set | labels outside | inputs outside | NN label distance | within training | ratio |",
        "|---|---|---|---|---|---|"]
for s in sets:
    if s in tr:
        v = tr[s]
        io = "–" if v["input_outside_fraction"] is None else f"{v['input_outside_fraction']:.3f}"
        rows.append(f"| {name[s.split('_', 1)[1]]} | {v['label_outside_fraction']:.3f} | {io} | "
                    f"{v['nn_label_distance']:.3f} | {v['nn_label_distance_train']:.3f} | "
                    f"{v['nn_label_distance_ratio']:.2f} |")
display(Markdown("\n".join(rows)))
for s in held_sets:
    if s in tr:
        display(Markdown(f"The held-out suite `{s.split('_', 1)[1]}`: {transfer_verdict(tr[s])}."))

# %% [markdown]
# ## Figs. 8 and 9: accuracy of each model on each suite

# %%
def band(model, set_name):
    p = load_set(st, model, set_name)
    return ratio_curve(p["p50"], p["labels"])


def estimators_on(set_name):
    return estimator_points(load_set(st, joint, set_name))


fig8 = figures.ratio_bands({name[s.split("_", 1)[1]]: {model_label[m]: band(m, s) for m in st.models} for s in in_suite},
                           estimators={name[s.split("_", 1)[1]]: estimators_on(s) for s in in_suite})
caption(f"Median M_pred / M_true and its 16-84% band against f for each of the {len(st.models)} models, on the test "
        "projections of each training suite; gray: the literature estimators on the same projections.",
        paper="Fig. 8")
test_sets = held_sets
fig9 = figures.ratio_bands({name[s.split("_", 1)[1]]: {model_label[m]: band(m, s) for m in st.models} for s in test_sets},
                           estimators={name[s.split("_", 1)[1]]: estimators_on(s) for s in test_sets})
caption("As the previous figure, on the held-out suite"
        f"{'s' if len(test_sets) > 1 else ''} that no model was trained on.", paper="Fig. 9")

# %% [markdown]
# ## Fig. C.1: the joint model on the held-out suite, in bins of true mass

# %%
for s in test_sets:
    p = load_set(st, joint, s)
    figures.binned_prediction_grid(RADII_F, p["labels"], p["p50"], (p["p84"] - p["p16"]) / 2)
    caption(f"The joint model on the held-out suite {name[s.split('_', 1)[1]]} ({len(p['labels'])} projections): "
            "posterior median in bins of true log10 M(< f R_h), one panel per radius, with 1/2/3-sigma bands; "
            "outliers drawn individually with their error bars.", paper="Fig. C.1")

# %% [markdown]
# ## Out-of-distribution inputs (Appendix C)
# The 99% contours of the joint model's training inputs in each pair of (log) scalars; a
# held-out projection outside any contour is out of distribution.

# %%
model = MassModel.load(st.models_dir / joint)
train = load_arrays(cfg.dataset_dir, suites=st.models[joint], split="train")
fig, axes = plt.subplots(1, 3, figsize=(13, 4))
for ax, (i, j), ext, grid, level in zip(axes, model.domain.pairs, model.domain.extents, model.domain.grids,
                                        model.domain.levels):
    ax.scatter(np.log10(train["scalars"][:, i]), np.log10(train["scalars"][:, j]), s=1, c="0.7",
               label="training")
    for s in test_sets:
        p = load_set(st, joint, s)
        ax.scatter(np.log10(p["scalars"][:, i]), np.log10(p["scalars"][:, j]), s=1, c="tab:green", alpha=0.4,
                   label=name[s.split("_", 1)[1]])
    g = np.asarray(grid)
    ax.contour(np.linspace(ext[0], ext[1], g.shape[1]), np.linspace(ext[2], ext[3], g.shape[0]), g,
               levels=[level], colors="k")
    ax.set_xlabel(SCALAR_LABELS[i]); ax.set_ylabel(SCALAR_LABELS[j])
axes[0].legend(fontsize=8, markerscale=8)
plt.tight_layout()
caption("The joint model's training inputs (gray) and the held-out projections (green) in each pair of log "
        "scalars, with the 99% contour of the training inputs that defines its input domain.",
        paper="Appendix C")
rows = ["| held-out set | fraction outside | MSE (all) | MSE (inside) | MSE (outside) |", "|---|---|---|---|---|"]
for s, v in metrics["ood"].items():
    if isinstance(v, dict) and s in test_sets:
        rows.append(f"| {s} | {v['fraction_outside']:.3f} | {fmt(v['mse_all'])} | {fmt(v['mse_inside'])} | {fmt(v['mse_outside'])} |")
display(Markdown("\n".join(rows)))
