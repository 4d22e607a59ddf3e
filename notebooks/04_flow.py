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
# # Posterior mass profiles with the flow (Sections 4.3 and 5.2, Figs. 5-7 and B.1)
#
# The CNN's 32 penultimate features condition a masked autoregressive flow (sbi's MAF; the
# paper used ltu-ili, which wraps the same sbi estimator, with 32 hidden features, 4
# transforms, batch 64 and learning rate 1e-4) trained by neural posterior estimation on
# the galaxy-grouped training split, minimising the negative log-likelihood of the true
# log10 masses (Eq. 3). Each projection gets posterior samples of the ten log10 masses;
# their median and 16/84 percentiles are the estimate and its uncertainty. The settings of
# this run are listed below.

# %% tags=["parameters"]
config = "configs/smoke.yaml"

# %%
from dataclasses import asdict

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from galmass.book import figures
from galmass.book.captions import Captions
from galmass.book.figures import open_run
from galmass.constants import RADII_F
from galmass.dataset import load_arrays
from galmass.errors import GalmassError
from galmass.observe.estimators import ESTIMATORS
from galmass.evaluation.stats import estimator_points, ratio_curve
from galmass.inference.model import MassModel
from galmass.evaluation.predictions import load_set

cfg, st, metrics, joint, name = open_run(config)
caption = Captions(4)
train_suites = st.models[joint]
# the model trained on one suite only, per suite (the paper's NIHAO-only and AURIGA-only models)
single = {s: m for s in train_suites for m, ss in st.models.items() if ss == [s]}
est_f = np.array([e.radius_factor for e in ESTIMATORS.values()])


def get_set(model, set_name):
    """Predictions of ``model`` on a set, or None (and a note) if the run has none."""
    try:
        return load_set(st, model, set_name)
    except GalmassError as exc:
        display(Markdown(f"*Not available in profile {cfg.profile}: {exc}*"))
        return None


fl = asdict(st.flow)
display(Markdown(f"Run profile **{cfg.profile}**; flow settings: " + ", ".join(
    f"{k} = {fl[k]:g}" for k in ("hidden_features", "num_transforms", "batch_size", "lr")) +
    f"; {fl['n_samples']} posterior samples per projection."))
val = get_set(joint, "test")

# %% [markdown]
# ## Flow training
# Negative log-likelihood per epoch of the training and validation features (the dot marks
# the kept epoch).

# %%
models = {m: MassModel.load(st.models_dir / m) for m in st.models}
figures.training_curves({m: mm.info["flow_history"] for m, mm in models.items()}, logy=False,
                        ylabel="negative log-likelihood")
caption("Flow training: negative log-likelihood per epoch of the training and validation features, for each "
        "model (the dot marks the kept epoch).")
display(Markdown(", ".join(
    f"`{m}`: best epoch {mm.info['flow_history']['best_epoch']} of {len(mm.info['flow_history']['val_loss'])}, "
    f"{mm.info['seconds']['flow'] / 60:.1f} min" for m, mm in models.items())))

# %% [markdown]
# ## Fig. 5: four test projections of four different galaxies
# Drawn at random (seeded) from the test sets of the training suites, alternating
# between the suites. Pink: the joint model; the second colour: the model trained on the
# galaxy's suite only.

# %%
def pick_examples(p, n=4, seed=cfg.seed):
    """Rows of ``p`` with stored posterior samples, n different galaxies, suites alternating."""
    rng = np.random.default_rng(seed)
    n_s = p["samples"].shape[1]
    per_suite = {}
    for s in train_suites:
        rows = np.flatnonzero(p["suite"][:n_s] == s)
        _, first = np.unique(p["galaxy_id"][rows], return_index=True)  # one projection per galaxy
        rows = rows[first]
        per_suite[s] = list(rng.permutation(rows))
    out = []
    while len(out) < n and any(per_suite.values()):
        for s in train_suites:
            if per_suite[s] and len(out) < n:
                out.append(int(per_suite[s].pop()))
    return out


pick = pick_examples(val) if val is not None else []
if not pick:
    display(Markdown("*No test projections with stored posterior samples.*"))
else:
    own = {s: get_set(single[s], f"test_{s}") for s in train_suites if s in single}
    examples = []
    for i in pick:
        s, gid, los = val["suite"][i], val["galaxy_id"][i], val["los"][i]
        pred = {f"trained on {' + '.join(train_suites)}": (val["p16"][i], val["p50"][i], val["p84"][i])}
        o = own.get(s)
        if o is not None:
            k = np.flatnonzero((o["galaxy_id"] == gid) & (o["los"] == los))
            if len(k):
                pred[f"trained on {s}"] = (o["p16"][k[0]], o["p50"][k[0]], o["p84"][k[0]])
        examples.append({"title": f"{name[s]}: {gid} (los {los})", "f": RADII_F, "truth": val["labels"][i],
                         "pred": pred, "est_f": est_f, "est_log_mass": val["est_log_mass"][i]})
    figures.mass_profiles(examples)
    fig5 = caption(f"Enclosed mass profiles of {len(examples)} test projections of different galaxies: the truth, the "
            "posterior median and 16-84% band of the joint model and of the model trained on the galaxy's suite "
            "alone, and the literature estimators at their own radii.", paper="Fig. 5")

# %% [markdown]
# ## Figs. 6 and 7: accuracy against radius
# Median of M_pred / M_true (posterior median) and its 16-84 band, on the training set
# (blue) and the test set (pink; galaxies that did not choose the model's epochs either).
# Gray squares: the literature estimators on the same suite's test projections, median and
# 16/84 percentiles at their own radius.
#
# **Fig. 6**: the models trained on one suite only, each on its own suite.

# %%
def bands(entries, text, paper):
    """entries: panel -> (model, train set, test set, estimator suites); ``text``, ``paper``: the caption."""
    panels, ests = {}, {}
    for panel, (model, tr_name, va_name, suites) in entries.items():
        tr, va = get_set(model, tr_name), get_set(model, va_name)
        if tr is None or va is None:
            continue
        panels[panel] = {"training": ratio_curve(tr["p50"], tr["labels"]),
                         "test": ratio_curve(va["p50"], va["labels"])}
        ests[panel] = estimator_points(load_arrays(cfg.dataset_dir, suites=suites, split="test"))
    if panels:
        figures.ratio_bands(panels, estimators=ests, label_fmt="{} set",
                            colors={"training": "tab:blue", "test": "tab:pink"})
        caption(text + " Median of M_pred / M_true (posterior median) against f, with its 16-84% band, on the "
                "training set (blue) and the test set (pink); gray: the literature estimators on the same test "
                "projections.", paper=paper)


if single:
    bands({f"trained on {name[s]}": (m, "train", f"test_{s}", [s]) for s, m in single.items()},
          "The models trained on one suite only, each on its own suite.", "Fig. 6")
else:
    display(Markdown(f"*Profile {cfg.profile} has no model trained on a single suite.*"))

# %% [markdown]
# **Fig. 7**: the joint model on both training suites together (left), and the same
# predictions split by suite.

# %%
bands({f"trained on {' + '.join(train_suites)}: all": (joint, "train", "test", train_suites),
       **{f"trained on {' + '.join(train_suites)}: {name[s]}": (joint, f"train_{s}", f"test_{s}", [s])
          for s in train_suites}},
      f"The joint model on {' + '.join(train_suites)} together (left) and split by suite.", "Fig. 7")

# %% [markdown]
# ## The model against each estimator, at the estimator's own radius (test set)
# The joint model's posterior median is interpolated (linearly in log f) to each
# estimator's radius and compared with the true mass there; the estimators on the same
# suites' test projections.

# %%
cm = metrics["cnn_maf"]
if "test" in cm:
    at = cm["test"]["at_estimator_radii"]
    rows = ["| estimator | radius | estimator median | estimator 1σ | CNN+MAF median | CNN+MAF 1σ |",
            "|---|---|---|---|---|---|"]
    for n, e in metrics["estimators"].items():
        rows.append(f"| {n} | {e['radius_f']:.2f} R_h | {e['median_ratio']:.3f} | {e['scatter']:.3f} | "
                    f"{at[n]['median_ratio']:.3f} | {at[n]['scatter']:.3f} |")
    rows2 = ["| set (n) | " + " | ".join(f"f={f:.1f}" for f in RADII_F) + " |", "|---" * (len(RADII_F) + 1) + "|"]
    for split in ("train", "test"):
        if split in cm:
            rows2.append(f"| {split} ({cm[split]['n']}): median | " + " | ".join(f"{x:.3f}" for x in cm[split]["median_ratio"]) + " |")
            rows2.append(f"| {split}: 1σ | " + " | ".join(f"{x:.3f}" for x in cm[split]["scatter"]) + " |")
    display(Markdown("\n".join(rows) + "\n\nMedian ratio and 1σ scatter of the joint model at every radius:\n\n"
                     + "\n".join(rows2)))
else:
    display(Markdown("*metrics.json has no test results for the joint model.*"))

# %% [markdown]
# ## Fig. B.1: full posteriors of the four projections of Fig. 5 (joint model)
# Pairwise distributions of the posterior samples of the ten log10 masses; blue lines mark
# the true values, dashed lines the 16/50/84 percentiles of each marginal.

# %%
for i in pick:
    fig = figures.posterior_corner(val["samples"][:, i], val["labels"][i])
    fig.suptitle(f"{name[val['suite'][i]]}: {val['galaxy_id'][i]} (los {val['los'][i]}), "
                 f"{val['samples'].shape[0]} samples", fontsize=14)
    caption(f"Posterior of the joint model for {name[val['suite'][i]]} galaxy {val['galaxy_id'][i]} (line of sight "
            f"{val['los'][i]}, one of the projections of {fig5}): pairwise distributions of {val['samples'].shape[0]} samples of the ten "
            "log10 M(< f R_h), true values in blue, 16/50/84 percentiles dashed.", paper="Fig. B.1")
