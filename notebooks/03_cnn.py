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
# the MSE of log10 M at the ten radii (Adam, learning rate 5e-4, batch 128, learning rate
# halved after a plateau, early stopping, best checkpoint kept). The layer widths are set
# by the run profile.

# %% tags=["parameters"]
config = "configs/smoke.yaml"

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from galmass import figures
from galmass.config import load_config
from galmass.constants import RADII_F
from galmass.metrics import joint_model_name, load_metrics
from galmass.model import MassModel
from galmass.training import load_set, run_settings

cfg = load_config(config)
st = run_settings(cfg)
metrics = load_metrics(st.results_dir / "metrics.json")
joint = joint_model_name(st)
models = {m: MassModel.load(st.models_dir / m) for m in st.models}
model = models[joint]
print(model.cnn)
n_par = sum(p.numel() for p in model.cnn.parameters())
display(Markdown(f"Run profile **{cfg.profile}**: {cfg.dataset.map_size}x{cfg.dataset.map_size} maps, "
                 f"{n_par:,} weights; joint model trained on {model.info['n_train']} projections "
                 f"(validation {model.info['n_validation']}), best epoch {model.info['cnn_history']['best_epoch']}, "
                 f"{model.info['cnn_samples_per_second']:.0f} samples/s, CNN training {model.info['seconds']['cnn'] / 60:.1f} min."))

# %% [markdown]
# ## Training curves

# %%
figures.training_curves({m: mm.info["cnn_history"] for m, mm in models.items()})
plt.show()

# %% [markdown]
# ## CNN point predictions against the truth (joint model, validation set)

# %%
p = load_set(st, joint, "validation")
figures.predicted_vs_true(RADII_F, p["labels"], p["cnn_pred"])
plt.show()
v = metrics["models"][joint]["validation"]
display(Markdown(f"MSE of log10 M over the ten radii on the validation set: CNN {v['mse_cnn']:.4f}, "
                 f"CNN+MAF posterior median {v['mse']:.4f} ({v['n']} projections)."))
