"""Figures of the generalisation and calibration sections (Figs. 8-10, C.1, D.1, D.2).

Each function takes computed arrays (never reads files) and returns the matplotlib Figure.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ratio_bands", "binned_prediction_grid", "tarp_panels", "marginal_coverage_grid",
           "uncertainty_vs_radius"]


def _plt():
    import matplotlib.pyplot as plt

    return plt


def ratio_bands(panels: dict[str, dict[str, dict[str, np.ndarray]]], estimators=None,
                ylim=(0.5, 1.6), label_fmt: str = "trained on {}"):
    """Figs. 8-9: per panel (evaluation set), median ratio and 1-sigma band vs f per model.

    ``panels[panel][model] = {"f", "median_ratio", "p16", "p84"}``; ``estimators[panel]``
    optionally maps estimator name -> (f, median, p16, p84) drawn as gray markers.
    """
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4), squeeze=False, sharey=True)
    for ax, (panel, models) in zip(axes[0], panels.items()):
        for k, (model, c) in enumerate(models.items()):
            line, = ax.plot(c["f"], c["median_ratio"], lw=2, label=label_fmt.format(model))
            ax.fill_between(c["f"], c["p16"], c["p84"], color=line.get_color(), alpha=0.2)
        if estimators and panel in estimators:
            for name, (f, med, lo, hi) in estimators[panel].items():
                ax.errorbar(f, med, yerr=[[med - lo], [hi - med]], fmt="s", color="0.6", mec="k", ms=6)
                ax.annotate(name, (f, hi), fontsize=7, ha="center", va="bottom")
        ax.axhline(1.0, color="k", ls="--", lw=1)
        ax.set_title(panel)
        ax.set_xlabel(r"$f = r / R_h$")
        ax.set_ylim(*ylim)
    axes[0, 0].set_ylabel(r"$M_{\rm pred} / M_{\rm true}$")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def binned_prediction_grid(radii_f, log_true: np.ndarray, log_pred: np.ndarray, err: np.ndarray,
                           n_bins: int = 10, outlier_dex: float = 0.5):
    """Fig. C.1: median prediction in bins of true log10 M per radius, 1/2/3-sigma bands,
    outliers (> ``outlier_dex``) individually with error bars, fraction per bin annotated."""
    from .evaluate import binned_medians

    plt = _plt()
    n = len(radii_f)
    ncol = 5
    fig, axes = plt.subplots(int(np.ceil(n / ncol)), ncol, figsize=(3.2 * ncol, 3.2 * np.ceil(n / ncol)),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.axis("off")
            continue
        t, p = log_true[:, k], log_pred[:, k]
        b = binned_medians(t, p, n_bins)
        ok = b["count"] > 0
        c = b["centres"][ok]
        for (lo, hi), a in ((("p0.15", "p99.85"), 0.15), (("p2.5", "p97.5"), 0.25), (("p16", "p84"), 0.4)):
            ax.fill_between(c, b[lo][ok], b[hi][ok], color="tab:pink", alpha=a, lw=0)
        ax.plot(c, b["median"][ok], "o-", color="tab:red", ms=3)
        for x, y, cnt in zip(c, b["median"][ok], b["count"][ok]):
            ax.annotate(f"{100 * cnt / len(t):.0f}%", (x, y), fontsize=6, xytext=(0, 8),
                        textcoords="offset points", ha="center")
        out = np.abs(p - t) > outlier_dex
        if out.any():
            ax.errorbar(t[out], p[out], yerr=err[out, k], fmt=".", color="0.3", ms=3, lw=0.5)
        lim = [min(t.min(), p.min()), max(t.max(), p.max())]
        ax.plot(lim, lim, "k--", lw=1)
        ratio = float(np.median(10 ** (p - t)))
        ax.set_title(f"f = {radii_f[k]:.1f}: median ratio {ratio:.3f}", fontsize=8)
        ax.set_xlabel(r"true $\log_{10} M$", fontsize=8)
        ax.set_ylabel(r"predicted $\log_{10} M$", fontsize=8)
    fig.tight_layout()
    return fig


def tarp_panels(panels: dict[str, dict[str, object]]):
    """Fig. 10: TARP ECP (bootstrap median and 2-sigma band) per set, with the 3% lines.

    ``panels[panel][label] = TarpResult``.
    """
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.4), squeeze=False)
    for ax, (panel, curves) in zip(axes[0], panels.items()):
        a = np.linspace(0, 1, 2)
        ax.plot(a, a, "k--", lw=1)
        ax.plot(a, a + 0.03, "r--", lw=0.8)
        ax.plot(a, a - 0.03, "r--", lw=0.8)
        for label, res in curves.items():
            line, = ax.plot(res.alpha, res.ecp_median, lw=1.8,
                            label=f"{label} (max dev. {res.max_deviation:.3f})")
            ax.fill_between(res.alpha, res.ecp_lo, res.ecp_hi, color=line.get_color(), alpha=0.2)
        ax.set_xlim(0, 1); ax.set_ylim(0, 1)
        ax.set_xlabel(r"credibility level $\alpha$")
        ax.set_title(panel)
        ax.legend(fontsize=7, loc="upper left")
    axes[0, 0].set_ylabel("expected coverage")
    fig.tight_layout()
    return fig


def marginal_coverage_grid(radii_f, alpha: np.ndarray, ecps: dict[str, np.ndarray]):
    """Fig. D.1: marginal coverage of each radius for several sets (``ecps[label]`` (n_alpha, n_dims))."""
    plt = _plt()
    n = len(radii_f)
    fig, axes = plt.subplots(2, int(np.ceil(n / 2)), figsize=(3 * np.ceil(n / 2), 6), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.axis("off")
            continue
        ax.plot([0, 1], [0, 1], "k--", lw=1)
        for label, e in ecps.items():
            ax.plot(alpha, e[:, k], lw=1.5, label=label)
        ax.set_title(f"f = {radii_f[k]:.1f}", fontsize=9)
        ax.set_xlim(0, 1); ax.set_ylim(0, 1)
    axes.flat[0].legend(fontsize=7)
    fig.supxlabel(r"credibility level $\alpha$")
    fig.supylabel("coverage")
    fig.tight_layout()
    return fig


def uncertainty_vs_radius(radii_f, uncertainties: dict[str, np.ndarray]):
    """Fig. D.2: median posterior uncertainty (half 16-84 range, dex) vs radius, 16/84 band."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, u in uncertainties.items():
        lo, med, hi = np.percentile(u, [16, 50, 84], axis=0)
        line, = ax.plot(radii_f, med, "o-", label=label)
        ax.fill_between(radii_f, lo, hi, color=line.get_color(), alpha=0.15)
    ax.set_xlabel(r"$f = r / R_h$")
    ax.set_ylabel(r"posterior $\sigma$ of $\log_{10} M$ [dex]")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def estimator_pdfs(ratios: dict[str, dict[str, np.ndarray]], joint_label: str, bins=None):
    """Fig. 4: PDF of M_est / M_true per estimator (rows); ``ratios[estimator][set_label]``.

    The set ``joint_label`` is drawn filled, with its median (solid) and 16/84 percentiles
    (dashed) and their values written in the panel; the other sets as empty histograms.
    """
    plt = _plt()
    bins = np.linspace(0.3, 2.0, 60) if bins is None else bins
    fig, axes = plt.subplots(len(ratios), 1, figsize=(6.5, 2.2 * len(ratios)), sharex=True, squeeze=False)
    styles = ["-", "--", ":", "-."]
    for ax, (est, sets) in zip(axes[:, 0], ratios.items()):
        k = 0
        for label, r in sets.items():
            if label == joint_label:
                ax.hist(r, bins=bins, density=True, color="0.75", label=label)
                p16, p50, p84 = np.percentile(r, [16, 50, 84])
                ax.axvline(p50, color="k")
                for p in (p16, p84):
                    ax.axvline(p, color="k", ls="--", lw=0.8)
                ax.text(0.98, 0.8, f"{est}\nmedian {p50:.3f}\n1$\\sigma$ {(p84 - p16) / 2:.3f}",
                        transform=ax.transAxes, ha="right", va="top", fontsize=8)
            else:
                ax.hist(r, bins=bins, density=True, histtype="step", color="k", ls=styles[k % 4], label=label)
                k += 1
        ax.axvline(1.0, color="tab:red", lw=0.8)
        ax.set_ylabel("PDF")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    axes[-1, 0].set_xlabel(r"$M_{\rm est} / M_{\rm true}$")
    fig.tight_layout()
    return fig


def training_curves(histories: dict[str, dict]):
    """Training and validation loss per epoch (log scale) of each model's CNN."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, h in histories.items():
        line, = ax.plot(h["train_loss"], label=f"{name}: training")
        ax.plot(h["val_loss"], ls="--", color=line.get_color(), label=f"{name}: validation")
        if h.get("best_epoch", -1) >= 0:
            ax.plot(h["best_epoch"], h["val_loss"][h["best_epoch"]], "o", color=line.get_color())
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE (standardised targets)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def predicted_vs_true(radii_f, log_true: np.ndarray, log_pred: np.ndarray):
    """Predicted against true log10 M, one small panel per radius, with the RMS in dex."""
    plt = _plt()
    n = len(radii_f)
    fig, axes = plt.subplots(2, int(np.ceil(n / 2)), figsize=(2.8 * np.ceil(n / 2), 5.8), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.axis("off")
            continue
        t, p = log_true[:, k], log_pred[:, k]
        ax.scatter(t, p, s=1, alpha=0.3)
        lim = [min(t.min(), p.min()), max(t.max(), p.max())]
        ax.plot(lim, lim, "k--", lw=0.8)
        ax.set_title(f"f = {radii_f[k]:.1f}: rms {np.sqrt(np.mean((p - t) ** 2)):.3f} dex", fontsize=8)
    fig.supxlabel(r"true $\log_{10} M\ [M_\odot]$")
    fig.supylabel(r"CNN $\log_{10} M\ [M_\odot]$")
    fig.tight_layout()
    return fig


def mass_profiles(examples: list[dict]):
    """Fig. 5: per example, the true M(<f R_h) (line), the CNN+MAF median with 16/84 bars and
    the literature estimators (gray markers, black edges). Each example is a dict with
    ``title, f, truth, p16, p50, p84, est_f, est_log_mass`` (log10 Msun)."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(examples), figsize=(4 * len(examples), 3.8), squeeze=False)
    for ax, e in zip(axes[0], examples):
        ax.plot(e["f"], e["truth"], "k-", label="true")
        ax.errorbar(e["f"], e["p50"], yerr=[e["p50"] - e["p16"], e["p84"] - e["p50"]], fmt="o",
                    color="tab:pink", ms=4, label="CNN+MAF")
        ax.plot(e["est_f"], e["est_log_mass"], "s", color="0.6", mec="k", ms=6, label="estimators")
        ax.set_title(e["title"], fontsize=8)
        ax.set_xlabel(r"$f = r / R_h$")
    axes[0, 0].set_ylabel(r"$\log_{10} M(<f R_h)\ [M_\odot]$")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def posterior_corner(samples: np.ndarray, truth: np.ndarray, labels=None):
    """Fig. B.1: corner plot of one posterior (n_samples, n_dims) with the truth marked."""
    import corner

    labels = labels or [f"f={f:.1f}" for f in np.round(np.arange(0.6, 2.41, 0.2), 1)][: samples.shape[1]]
    return corner.corner(samples, labels=labels, truths=truth, quantiles=[0.16, 0.5, 0.84],
                         label_kwargs={"fontsize": 7}, plot_datapoints=False)
