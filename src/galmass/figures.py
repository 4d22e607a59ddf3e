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
                ylim=(0.5, 1.6)):
    """Figs. 8-9: per panel (evaluation set), median ratio and 1-sigma band vs f per model.

    ``panels[panel][model] = {"f", "median_ratio", "p16", "p84"}``; ``estimators[panel]``
    optionally maps estimator name -> (f, median, p16, p84) drawn as gray markers.
    """
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4), squeeze=False, sharey=True)
    for ax, (panel, models) in zip(axes[0], panels.items()):
        for k, (model, c) in enumerate(models.items()):
            line, = ax.plot(c["f"], c["median_ratio"], lw=2, label=f"trained on {model}")
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
