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
# # The convolutional neural network (Section 4)
#
# Two branches — the position map and the phase map — each pass twice through a
# convolution and a max-pooling layer and then a dropout layer; the flattened branches are
# concatenated with the three scalars (R_h, sigma_los, v_p98, log-scaled and standardised)
# and reduced by dense layers to a 32-unit penultimate layer and ten outputs, trained with
# the MSE of log10 M at the ten radii (Eq. 2). The paper trains with Adam (learning rate
# 5e-4, batch 128), halves the learning rate after 10 epochs without improvement of the
# validation loss and stops after 25; the layer widths and patiences of this run are set by
# its profile and listed below. With `residual_target` the network predicts log10 M
# relative to the projection's dimensional mass scale log10(R_h sigma_los^2 / G), to which
# the scale is added back (see the introduction).

# %% tags=["parameters"]
config = "configs/smoke.yaml"

# %%
from dataclasses import asdict

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from galmass.book import figures
from galmass.book.captions import Captions
from galmass.book.figures import open_run
from galmass.constants import RADII_F
from galmass.errors import GalmassError
from galmass.inference.model import MassModel
from galmass.evaluation.predictions import load_set

cfg, st, metrics, joint, name = open_run(config)
caption = Captions(3)
models = {m: MassModel.load(st.models_dir / m) for m in st.models}
model = models[joint]
print(model.cnn)
n_par = sum(p.numel() for p in model.cnn.parameters())
c = asdict(st.cnn)
display(Markdown(
    "| setting | value |\n|---|---|\n" + "\n".join(
        f"| {k} | {c[k]} |" for k in ("channels", "kernel_size", "hidden", "n_features", "dropout", "lr", "batch_size",
                                     "lr_patience", "lr_factor", "early_stop_patience", "max_epochs", "residual_target"))))
h = model.info["cnn_history"]
display(Markdown(f"Run profile **{cfg.profile}**: {cfg.dataset.map_size}x{cfg.dataset.map_size} maps, "
                 f"{n_par:,} weights; joint model trained on {model.info['n_train']} projections "
                 f"(validation {model.info['n_validation']}), best epoch {h['best_epoch']} of {len(h['val_loss'])}"
                 f"{' (stopped early)' if h.get('stopped_early') else ''}, "
                 f"{model.info['cnn_samples_per_second']:.0f} samples/s, CNN training {model.info['seconds']['cnn'] / 60:.1f} min."))

# %% [markdown]
# ## Training curves
# MSE of the standardised targets per epoch, for the training and validation projections
# of every model (the dot marks the kept epoch).

# %%
figures.training_curves({m: mm.info["cnn_history"] for m, mm in models.items()})
caption(f"CNN training: MSE of the standardised targets per epoch, training and validation projections, for each "
        f"of the {len(models)} models of profile {cfg.profile} (the dot marks the kept epoch).")
display(Markdown("| model | training suites | epochs | best epoch | final learning rate | training min |\n|---|---|---|---|---|---|\n"
                 + "\n".join(f"| {m} | {' + '.join(st.models[m])} | {len(mm.info['cnn_history']['val_loss'])} | "
                             f"{mm.info['cnn_history']['best_epoch']} | {mm.info['cnn_history']['lr'][-1]:.2e} | "
                             f"{mm.info['seconds']['cnn'] / 60:.1f} |" for m, mm in models.items())))

# %% [markdown]
# ## CNN point predictions against the truth (joint model, test set)
# The CNN's own outputs (before the flow), one panel per radius, with the rms difference.

# %%
try:
    p = load_set(st, joint, "test")
except GalmassError as exc:
    display(Markdown(f"*Not available in profile {cfg.profile}: {exc}*"))
else:
    figures.predicted_vs_true(RADII_F, p["labels"], p["cnn_pred"])
    caption(f"The joint CNN's point predictions of log10 M(< f R_h) against the truth on its {len(p['labels'])} "
            "test projections, one panel per radius f, with the rms difference.")
    v = metrics["models"][joint]["test"]
    display(Markdown(f"MSE of log10 M over the ten radii on the test set: CNN {v['mse_cnn']:.4f}, "
                     f"CNN+MAF posterior median {v['mse']:.4f} ({v['n']} projections)."))

# %% [markdown]
# ## Ablation: the residual target
# galmass's CNN learns log10 M relative to the mass scale log10(R_h sigma_los^2 / G) (see the
# introduction); the paper's network learns log10 M itself. `make ablation` trains the joint
# CNN once more with the paper's target (`cnn.residual_target: false`) on the same
# projections and compares the two CNNs' point predictions on the same test projections
# (MSE of log10 M over the ten radii).

# %%
abl = metrics.get("ablation", {}).get("residual_target")
if abl is None:
    display(Markdown(f"*Not run for profile {cfg.profile}: `make ablation book PROFILE={cfg.profile}` runs it "
                     f"(one more CNN training) and re-renders the book.*"))
else:
    display(Markdown("| test set | projections | CNN, residual target (galmass) | CNN, absolute target (paper) | ratio |\n"
                     "|---|---|---|---|---|\n" + "\n".join(
                         f"| {s} | {v['n']} | {v['mse_residual']:.4f} | {v['mse_absolute']:.4f} | "
                         f"{v['mse_absolute'] / v['mse_residual']:.1f}x |" for s, v in abl.items())))
