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
# # Literature mass estimators (Sections 3 and 5.1, Fig. 4)
#
# Simple estimators give the mass within one radius from the projected half-number radius
# R_h and the line-of-sight velocity dispersion. They are applied here to exactly the stars
# of every projection that the network sees, and compared with the true mass at their own
# radius.

# %% tags=["parameters"]
config = "configs/smoke.yaml"

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from galmass import figures
from galmass.config import load_config
from galmass.dataset import load_arrays
from galmass.estimators import ESTIMATORS
from galmass.metrics import estimator_metrics, joint_model_name, load_metrics
from galmass.suites import SUITE_SPECS
from galmass.training import run_settings

cfg = load_config(config)
st = run_settings(cfg)
metrics = load_metrics(st.results_dir / "metrics.json")
joint = joint_model_name(st)
name = {s: f"{s} ({SUITE_SPECS[s].analogue}-like)" for s in cfg.suites.names}
display(Markdown("| estimator | formula | reference |\n|---|---|---|\n" + "\n".join(
    f"| {n} | {e.formula} | {e.reference} |" for n, e in ESTIMATORS.items())))

# %% [markdown]
# ## Fig. 4: M_est / M_true on the validation set of the training suites

# %%
val = load_arrays(cfg.dataset_dir, suites=st.models[joint], split="validation")
joint_label = " + ".join(name[s] for s in st.models[joint])
ratios = {}
for j, n in enumerate(ESTIMATORS):
    r = 10 ** (val["est_log_mass"][:, j] - val["est_log_truth"][:, j])
    ratios[n] = {joint_label: r, **{name[s]: r[val["suite"] == s] for s in st.models[joint]}}
figures.estimator_pdfs(ratios, joint_label)
plt.show()

# %% [markdown]
# ## Median ratio and 1-sigma scatter (half the 16-84 range of M_est / M_true)

# %%
test = {s: estimator_metrics(load_arrays(cfg.dataset_dir, suites=[s], split="test"))
        for s in cfg.suites.names if not SUITE_SPECS[s].training}
head = "| estimator | radius | joint: median | joint: 1σ | " + " | ".join(
    f"{name[s]}: median | 1σ" for s in st.models[joint]) + " | " + " | ".join(f"{name[s]}: median | 1σ" for s in test) + " |"
rows = [head, "|---" * (4 + 2 * len(st.models[joint]) + 2 * len(test)) + "|"]
for n, m in metrics["estimators"].items():
    cells = [f"{m['radius_f']:.2f} R_h", f"{m['median_ratio']:.3f}", f"{m['scatter']:.3f}"]
    cells += [f"{m['per_suite'][s]['median_ratio']:.3f} | {m['per_suite'][s]['scatter']:.3f}" for s in st.models[joint]]
    cells += [f"{t[n]['median_ratio']:.3f} | {t[n]['scatter']:.3f}" for t in test.values()]
    rows.append(f"| {n} | " + " | ".join(cells) + " |")
display(Markdown("\n".join(rows)))
