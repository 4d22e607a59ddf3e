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
# # Calibration of the posteriors (Section 5.2, Fig. 10, Appendix D)
#
# A posterior is calibrated when its credible regions contain the truth as often as their
# credibility says. The paper checks this with TARP (Lemos et al. 2023): well calibrated on
# the training suites, overconfident on FIRE-2 (its numbers are in the table's "paper" column). galmass implements
# TARP itself (`galmass.evaluation.calibration`): references uniform in the label box normalised by the
# test set's minimum and maximum, Euclidean distance, credibility levels on [0, 1] and 100
# bootstrap resamples for the 2-sigma band. The resamples draw whole galaxies, not single
# projections: the projections of one galaxy share its mass profile, so their credibilities
# are correlated and a set of a few hundred galaxies measures the curve only to a few per
# cent (the 68% range of the maximum deviation is listed beside it).

# %% tags=["parameters"]
config = "configs/smoke.yaml"

# %%
from functools import lru_cache

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from galmass.book import figures
from galmass.book.captions import Captions
from galmass.book.figures import open_run
from galmass.evaluation.calibration import marginal_coverage, posterior_uncertainty
from galmass.constants import RADII_F
from galmass.evaluation.metrics import load_tarp_curve
from galmass.evaluation.paper import CITATION, TARP_HELDOUT_MAX_DEVIATION, TARP_TRAIN_MAX_DEVIATION
from galmass.evaluation.predictions import held_out_suites, load_set

cfg, st, metrics, joint, name = open_run(config)
caption = Captions(6)
pred_dir = st.results_dir / "predictions" / joint
held = held_out_suites(cfg)
train_suites = [s for s in cfg.suites.names if s not in held]


@lru_cache(maxsize=None)
def load(set_name):
    p = load_set(st, joint, set_name)
    n = p["samples"].shape[1]
    return p["samples"], p["labels"][:n]


n_cal = st.max_calibration_eval or st.max_samples_stored
display(Markdown(f"Run profile **{cfg.profile}**, model `{joint}` trained on {' + '.join(st.models[joint])}; "
                 f"posterior samples of up to {n_cal} test projections per training suite (every test "
                 f"projection when that is more than there are) and of up to {st.max_samples_stored} "
                 f"projections of the training and held-out sets."))

# %% [markdown]
# ## Fig. 10: TARP expected coverage
#
# The curves are the ones `galmass evaluate` computed for `metrics.json` (stored beside it),
# so the figure and the table below are one computation.

# %%
panels = {"training set": {}, "test set": {}}
for split, panel in (("train", "training set"), ("test", "test set")):
    panels[panel]["joint"] = split
    for s in train_suites:
        panels[panel][name[s]] = f"{split}_{s}"
for s in held:
    panels["test set"][f"{name[s]} (held out)"] = f"test_{s}"
panels = {panel: {label: load_tarp_curve(st, joint, set_name) for label, set_name in sets.items()
                  if set_name in metrics["tarp"]} for panel, sets in panels.items()}
figures.tarp_panels(panels)
caption("TARP expected coverage probability against the credibility level on the training (left) and test "
        "(right) sets of the joint model (bootstrap median and 2-sigma band; red dashed: "
        f"{TARP_TRAIN_MAX_DEVIATION:.2f} from the diagonal, the paper's bound on its training set).",
        paper="Fig. 10")
rows = ["| set | projections | galaxies | max deviation from the diagonal | 68% range (galaxy bootstrap) "
        "| paper |", "|---|---|---|---|---|---|"]
held_sets = {f"test_{s}" for s in held}
for s, v in metrics["tarp"].items():
    ref = (f"< {TARP_TRAIN_MAX_DEVIATION:.2f}" if s == "train" else
           f"up to {TARP_HELDOUT_MAX_DEVIATION:.2f}" if s in held_sets else "–")
    rows.append(f"| {s} | {v['n']} | {v['n_galaxies']} | {v['max_deviation']:.3f} | "
                f"{v['max_deviation_p16']:.3f}-{v['max_deviation_p84']:.3f} | {ref} |")
display(Markdown("\n".join(rows)))
display(Markdown(f"*Paper: {CITATION}, Sect. 5.3 and Fig. 10 (training set of the NIHAO+AURIGA model, and "
                 f"FIRE-2 for the held-out row; for its validation set it quotes no number).*"))

# %% [markdown]
# ## Fig. D.1: marginal coverage of each radius

# %%
ecps = {}
for label, set_name in [("test (joint)", "test")] + [(name[s], f"test_{s}") for s in held]:
    alpha, ecps[label] = marginal_coverage(*load(set_name))
figures.marginal_coverage_grid(RADII_F, alpha, ecps)
caption("Coverage of each radius's marginal posterior against the credibility level, on the joint model's test "
        "set and the held-out suite.", paper="Fig. D.1")

# %% [markdown]
# ## Fig. D.2: posterior uncertainty against radius

# %%
unc = {"test (joint)": posterior_uncertainty(load("test")[0])}
for s in held:
    unc[name[s]] = posterior_uncertainty(load(f"test_{s}")[0])
figures.uncertainty_vs_radius(RADII_F, unc)
caption("Posterior uncertainty (half the 16-84% range, dex) against radius: median and 16-84% band over the "
        "projections of each set.", paper="Fig. D.2")
med = {k: np.median(v, axis=0) for k, v in unc.items()}
display(Markdown("| set | " + " | ".join(f"f={f:.1f}" for f in RADII_F) + " |\n|---" * 1 + "|---" * len(RADII_F) + "|\n"
                 + "\n".join(f"| {k} | " + " | ".join(f"{x:.3f}" for x in v) + " |" for k, v in med.items())))
