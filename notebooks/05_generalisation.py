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
# on both and best on FIRE-2. Here the suites are the mock `core` (NIHAO-like) and `cusp`
# (AURIGA-like) suites, and the held-out FIRE-like suite `heldout`, which no model sees in
# training.

# %% tags=["parameters"]
config = "configs/smoke.yaml"

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from galmass.book import figures
from galmass.book.figures import open_run
from galmass.constants import RADII_F
from galmass.dataset import load_arrays
from galmass.evaluation.stats import estimator_points, ratio_curve
from galmass.inference.model import MassModel
from galmass.inference.ood import SCALAR_LABELS
from galmass.sources.suites import SUITE_SPECS
from galmass.evaluation.predictions import load_set

cfg, st, metrics, joint, name = open_run(config)
pred_dir = st.results_dir / "predictions"
model_label = {m: " + ".join(st.models[m]) for m in st.models}
display(Markdown(f"Run profile **{cfg.profile}**; models: "
                 + ", ".join(f"`{m}` trained on {model_label[m]}" for m in st.models)))

# %% [markdown]
# ## Table 1: MSE of log10 M over all ten radii
# Each model evaluated on the validation set of each training suite and on the held-out
# suite; the baseline assigns every projection the evaluation set's mean log10 M at each
# radius. The lowest MSE per row is in bold.

# %%
sets = [f"validation_{s}" for s in cfg.suites.names if SUITE_SPECS[s].training] + \
       [f"test_{s}" for s in cfg.suites.names if not SUITE_SPECS[s].training]
t1 = metrics["table1"]
header = "| evaluation set | " + " | ".join(f"trained on {model_label[m]}" for m in st.models) + " | baseline |"
rows = [header, "|---" * (len(st.models) + 2) + "|"]
for s in sets:
    vals = {m: t1[m].get(s) for m in st.models}
    best = min(v for v in vals.values() if v is not None)
    cells = [(f"**{v:.4f}**" if v == best else f"{v:.4f}") if v is not None else "–" for v in vals.values()]
    suite = s.split("_", 1)[1]
    rows.append(f"| {name[suite]} ({s.split('_')[0]}) | " + " | ".join(cells) + f" | {t1['baseline'][s]:.4f} |")
display(Markdown("\n".join(rows)))

# %% [markdown]
# ## Figs. 8 and 9: accuracy of each model on each suite

# %%
def band(model, set_name):
    p = load_set(st, model, set_name)
    return ratio_curve(p["p50"], p["labels"])


def estimators_on(set_name):
    return estimator_points(load_set(st, joint, set_name))


val_sets = [s for s in sets if s.startswith("validation")]
fig8 = figures.ratio_bands({name[s.split("_", 1)[1]]: {model_label[m]: band(m, s) for m in st.models} for s in val_sets},
                           estimators={name[s.split("_", 1)[1]]: estimators_on(s) for s in val_sets})
plt.show()
test_sets = [s for s in sets if s.startswith("test")]
fig9 = figures.ratio_bands({name[s.split("_", 1)[1]]: {model_label[m]: band(m, s) for m in st.models} for s in test_sets},
                           estimators={name[s.split("_", 1)[1]]: estimators_on(s) for s in test_sets})
plt.show()

# %% [markdown]
# ## Fig. C.1: the joint model on the held-out suite, in bins of true mass

# %%
for s in test_sets:
    p = load_set(st, joint, s)
    figures.binned_prediction_grid(RADII_F, p["labels"], p["p50"], (p["p84"] - p["p16"]) / 2)
    plt.show()

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
plt.tight_layout(); plt.show()
rows = ["| held-out set | fraction outside | MSE (all) | MSE (inside) | MSE (outside) |", "|---|---|---|---|---|"]
fmt = lambda v: "–" if v is None else f"{v:.4f}"
for s, v in metrics["ood"].items():
    if isinstance(v, dict):
        rows.append(f"| {s} | {v['fraction_outside']:.3f} | {fmt(v['mse_all'])} | {fmt(v['mse_inside'])} | {fmt(v['mse_outside'])} |")
display(Markdown("\n".join(rows)))
