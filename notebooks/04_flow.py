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
# The CNN's 32 penultimate features condition a masked autoregressive flow (sbi's MAF with
# 32 hidden features and 4 transforms, batch 64, learning rate 1e-4; the paper used
# ltu-ili, which wraps the same sbi estimator) trained by neural posterior estimation on
# the galaxy-grouped training split. Each projection gets posterior samples of the ten
# log10 masses; their median and 16/84 percentiles are the estimate and its uncertainty.

# %% tags=["parameters"]
config = "configs/smoke.yaml"

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from galmass import figures
from galmass.config import load_config
from galmass.constants import RADII_F
from galmass.estimators import ESTIMATORS
from galmass.evaluate import ratio_stats
from galmass.metrics import joint_model_name, load_metrics
from galmass.suites import SUITE_SPECS
from galmass.training import load_set, run_settings

cfg = load_config(config)
st = run_settings(cfg)
metrics = load_metrics(st.results_dir / "metrics.json")
joint = joint_model_name(st)
name = {s: f"{s} ({SUITE_SPECS[s].analogue}-like)" for s in cfg.suites.names}
est_f = np.array([e.radius_factor for e in ESTIMATORS.values()])
val = load_set(st, joint, "validation")

# %% [markdown]
# ## Fig. 5: four validation projections

# %%
rng = np.random.default_rng(cfg.seed)
n_s = val["samples"].shape[1]
pick = rng.choice(n_s, size=min(4, n_s), replace=False)
examples = [{"title": f"{val['galaxy_id'][i]} (los {val['los'][i]})", "f": RADII_F, "truth": val["labels"][i],
             "p16": val["p16"][i], "p50": val["p50"][i], "p84": val["p84"][i],
             "est_f": est_f, "est_log_mass": val["est_log_mass"][i]} for i in pick]
figures.mass_profiles(examples)
plt.show()

# %% [markdown]
# ## Figs. 6 and 7: accuracy against radius, per suite and joint

# %%
def curve(p):
    r = ratio_stats(p["p50"], p["labels"])
    return {"f": RADII_F, "median_ratio": r["median_ratio"], "p16": r["p16"], "p84": r["p84"]}


def est_points(p):
    out = {}
    for j, n in enumerate(ESTIMATORS):
        r = ratio_stats(p["est_log_mass"][:, j], p["est_log_truth"][:, j])
        out[n] = (est_f[j], float(r["median_ratio"]), float(r["p16"]), float(r["p84"]))
    return out


panels, ests = {}, {}
for s in st.models[joint]:
    tr, va = load_set(st, joint, f"train_{s}"), load_set(st, joint, f"validation_{s}")
    panels[name[s]] = {"training": curve(tr), "validation": curve(va)}
    ests[name[s]] = est_points(va)
panels["joint"] = {"training": curve(load_set(st, joint, "train")), "validation": curve(val)}
ests["joint"] = est_points(val)
figures.ratio_bands(panels, estimators=ests, label_fmt="{} set")
plt.show()

# %% [markdown]
# ## The model against each estimator, at the estimator's own radius (validation set)
# The model's posterior median is interpolated (linearly in log f) to the estimator's radius.

# %%
at = metrics["cnn_maf"]["validation"]["at_estimator_radii"]
rows = ["| estimator | radius | estimator median | estimator 1σ | CNN+MAF median | CNN+MAF 1σ |", "|---|---|---|---|---|---|"]
for n, e in metrics["estimators"].items():
    rows.append(f"| {n} | {e['radius_f']:.2f} R_h | {e['median_ratio']:.3f} | {e['scatter']:.3f} | "
                f"{at[n]['median_ratio']:.3f} | {at[n]['scatter']:.3f} |")
cm = metrics["cnn_maf"]
rows2 = ["| set | " + " | ".join(f"f={f:.1f}" for f in RADII_F) + " |", "|---" * (len(RADII_F) + 1) + "|"]
for split in ("train", "validation"):
    rows2.append(f"| {split}: median | " + " | ".join(f"{x:.3f}" for x in cm[split]["median_ratio"]) + " |")
    rows2.append(f"| {split}: 1σ | " + " | ".join(f"{x:.3f}" for x in cm[split]["scatter"]) + " |")
display(Markdown("\n".join(rows) + "\n\nMedian ratio and 1σ scatter of the joint model at every radius:\n\n" + "\n".join(rows2)))

# %% [markdown]
# ## Fig. B.1: full posteriors of the four projections

# %%
for i in pick:
    fig = figures.posterior_corner(val["samples"][:, i], val["labels"][i])
    fig.suptitle(f"{val['galaxy_id'][i]} (los {val['los'][i]})")
    plt.show()
