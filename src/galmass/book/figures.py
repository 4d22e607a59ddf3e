"""Figures of the book: estimators (Fig. 4), CNN checks, posteriors (Figs. 5-7, B.1),
generalisation and calibration (Figs. 8-10, C.1, D.1, D.2).

Each function takes computed arrays (never reads files) and returns the matplotlib Figure.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from galmass.config import load_config
from galmass.constants import RADII_F
from galmass.evaluation.metrics import load_metrics
from galmass.evaluation.stats import binned_medians
from galmass.inference.training import joint_model_name, run_settings
from galmass.sources.suites import SUITE_SPECS

__all__ = ["BookRun", "open_run", "ratio_bands", "binned_prediction_grid", "tarp_panels", "marginal_coverage_grid",
           "uncertainty_vs_radius", "estimator_pdfs", "training_curves", "predicted_vs_true",
           "mass_profiles", "posterior_corner", "gaia_challenge_profiles", "dwarf_profiles",
           "wolf_comparison", "edge_profiles"]


class BookRun(NamedTuple):
    """What every chapter of the book starts from.

    ``cfg`` the run profile, ``st`` its run settings, ``metrics`` its metrics.json, ``joint``
    the name of its joint model, ``suite_label`` suite -> "cusp (AURIGA-like)".
    """

    cfg: Any
    st: Any
    metrics: dict
    joint: str
    suite_label: dict[str, str]


def open_run(config) -> BookRun:
    """The :class:`BookRun` of a profile (the one setup of notebooks 02-06)."""
    cfg = load_config(config)
    st = run_settings(cfg)
    return BookRun(cfg, st, load_metrics(st.results_dir / "metrics.json"), joint_model_name(st),
                   {s: f"{s} ({SUITE_SPECS[s].analogue}-like)" for s in cfg.suites.names})


def _plt():
    import matplotlib.pyplot as plt

    return plt


def ratio_bands(panels: dict[str, dict[str, dict[str, np.ndarray]]], estimators=None,
                ylim=(0.5, 1.6), label_fmt: str = "trained on {}", colors: dict[str, str] | None = None):
    """Figs. 6-9: per panel, median ratio and 1-sigma band vs f per curve (a model or a set).

    ``panels[panel][curve] = {"f", "median_ratio", "p16", "p84"}``; ``estimators[panel]``
    optionally maps estimator name -> (f, median, p16, p84) drawn as gray markers with
    1-sigma error bars; ``colors`` optionally maps a curve label to its colour.
    """
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4), squeeze=False, sharey=True)
    for ax, (panel, models) in zip(axes[0], panels.items()):
        for k, (model, c) in enumerate(models.items()):
            line, = ax.plot(c["f"], c["median_ratio"], lw=2, label=label_fmt.format(model),
                            color=(colors or {}).get(model))
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


def training_curves(histories: dict[str, dict], logy: bool = True,
                    ylabel: str = "MSE (standardised targets)"):
    """Training and validation loss per epoch of each model (``histories[name]`` has
    ``train_loss``, ``val_loss`` and optionally ``best_epoch``, marked with a dot)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, h in histories.items():
        line, = ax.plot(h["train_loss"], label=f"{name}: training")
        ax.plot(h["val_loss"], ls="--", color=line.get_color(), label=f"{name}: validation")
        if h.get("best_epoch", -1) >= 0:
            ax.plot(h["best_epoch"], h["val_loss"][h["best_epoch"]], "o", color=line.get_color())
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
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


def mass_profiles(examples: list[dict], ncols: int = 2):
    """Fig. 5: per example (panel), the true M(<f R_h) (black line), CNN+MAF posterior
    medians with 16/84 error bars and the literature estimators (gray, black edges).

    Each example is a dict with ``title, f, truth, est_f, est_log_mass`` and ``pred``, a
    dict model label -> (p16, p50, p84) arrays over ``f`` (one marker colour per model;
    all log10 Msun).
    """
    plt = _plt()
    n = len(examples)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.3 * ncols, 3.6 * nrows), squeeze=False)
    colors = ["tab:pink", "tab:blue", "tab:green", "tab:orange"]
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.axis("off")
            continue
        e = examples[k]
        f = np.asarray(e["f"], dtype=float)
        ax.plot(f, e["truth"], "k-", label="true")
        for j, (label, (p16, p50, p84)) in enumerate(e["pred"].items()):
            dx = 0.012 * (j - (len(e["pred"]) - 1) / 2) * (f.max() - f.min())  # side by side
            ax.errorbar(f + dx, p50, yerr=[np.asarray(p50) - p16, np.asarray(p84) - p50], fmt="o",
                        color=colors[j % len(colors)], ms=4, label=label)
        ax.plot(e["est_f"], e["est_log_mass"], "s", color="0.6", mec="k", ms=6, label="estimators")
        ax.set_title(e["title"], fontsize=8)
        ax.set_xlabel(r"$f = r / R_h$")
        ax.set_ylabel(r"$\log_{10} M(<f R_h)\ [M_\odot]$")
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


class _DropCornerContourWarning:
    """Logging filter for corner's per-panel "Too few points to create valid contours"."""

    def filter(self, record) -> bool:
        return "Too few points to create valid contours" not in record.getMessage()


def posterior_corner(samples: np.ndarray, truth: np.ndarray, labels=None, radii_f=None):
    """Fig. B.1: corner plot of one posterior (n_samples, n_dims) with the truth marked and
    the 16/50/84 percentiles of each marginal. Labels default to ``f=<radius>`` from
    ``radii_f`` (default: the ten radii of the labels)."""
    import logging

    import corner

    samples = np.asarray(samples, dtype=float)
    if labels is None:
        radii = RADII_F if radii_f is None else radii_f
        labels = [f"f={f:.1f}" for f in radii][: samples.shape[1]]
    root = logging.getLogger()
    flt = _DropCornerContourWarning()
    root.addFilter(flt)  # small sample counts make some 2D contours undefined: not an error
    try:
        return corner.corner(samples, labels=labels, truths=truth, quantiles=[0.16, 0.5, 0.84],
                             label_kwargs={"fontsize": 8}, plot_datapoints=False,
                             smooth=1.0 if len(samples) < 2000 else None)
    finally:
        root.removeFilter(flt)


# --------------------------------------------------------------------------- real galaxies (notebook 07)
def _log_r_axis(ax) -> None:
    """Logarithmic radius axis with plain-number labels on the major ticks only."""
    from matplotlib.ticker import NullFormatter, StrMethodFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def gaia_challenge_profiles(table, exact: dict):
    """Gaia Challenge: per model (row) and sample size (column), the exact M(<r) (black) and
    each sample's posterior median with 16-84 % band (blue: no errors, orange: 2 km/s errors).

    ``table`` is :func:`galmass.book.realdata.evaluate_gaia_challenge`'s; ``exact`` maps a model
    name to a callable r [kpc] -> M(<r) [Msun].
    """
    plt = _plt()
    models = list(dict.fromkeys(np.asarray(table["model"]).astype(str)))
    sizes = sorted(set(int(n) for n in table["n_stars"]))
    fig, axes = plt.subplots(len(models), len(sizes), figsize=(4.4 * len(sizes), 3.6 * len(models)),
                             squeeze=False)
    mod, ns, er, smp = (np.asarray(table[c]) for c in ("model", "n_stars", "errors", "sample"))
    for i, name in enumerate(models):
        for j, n in enumerate(sizes):
            ax = axes[i, j]
            sel = (mod == name) & (ns == n)
            r_all = np.asarray(table["r_kpc"])[sel]
            rr = np.geomspace(r_all.min() * 0.9, r_all.max() * 1.1, 100)
            ax.plot(rr, np.log10(exact[name](rr)), "k-", lw=1.5, label="exact", zorder=5)
            for err, color in ((False, "C0"), (True, "C1")):
                for k, s in enumerate(sorted(set(smp[sel & (er == err)]))):
                    row = sel & (er == err) & (smp == s)
                    r = np.asarray(table["r_kpc"])[row]
                    ax.fill_between(r, np.asarray(table["log10_m_p16"])[row], np.asarray(table["log10_m_p84"])[row],
                                    color=color, alpha=0.12, lw=0)
                    ax.plot(r, np.asarray(table["log10_m_p50"])[row], color=color, lw=1,
                            label=("2 km/s errors" if err else "no errors") if k == 0 else None)
            _log_r_axis(ax)
            ax.set_title(f"{name}, {n} stars", fontsize=9)
            ax.set_xlabel("r [kpc]")
            ax.set_ylabel(r"$\log_{10} M(<r)\ [M_\odot]$")
            ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def dwarf_profiles(profiles: dict, summary, ncols: int = 3):
    """The nine dwarfs: posterior M(<r) (median, 16-84 % band), the literature estimators on
    the same stars (gray squares) and the Local Volume Database Wolf mass (red, with errors)."""
    plt = _plt()
    names = list(profiles)
    nrows = int(np.ceil(len(names) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.0 * ncols, 3.2 * nrows), squeeze=False)
    rows = {str(n): k for k, n in enumerate(summary["name"])}
    for ax, name in zip(axes.flat, names):
        t = profiles[name]
        r = np.asarray(t["r_kpc"], float)
        ax.fill_between(r, t["log10_m_p16"], t["log10_m_p84"], color="C0", alpha=0.3, lw=0)
        ax.plot(r, t["log10_m_p50"], color="C0", lw=2, label="galmass")
        est = [(v[0], v[1]) for v in t.meta["estimators"].values() if np.isfinite(v[1])]
        if est:
            ax.plot(*zip(*est), "s", color="0.6", mec="k", ms=5, label="estimators")
        s = summary[rows[name]]
        if np.isfinite(s["log10_m_wolf_lvdb"]):
            ax.errorbar([s["r_wolf"]], [s["log10_m_wolf_lvdb"]],
                        yerr=[[abs(s["log10_m_wolf_lvdb_em"])], [s["log10_m_wolf_lvdb_ep"]]],
                        fmt="o", color="tab:red", ms=5, label="LVDB Wolf")
        _log_r_axis(ax)
        ax.set_title(name + ("  (outside training domain)" if t.meta["ood"] else ""), fontsize=8)
        ax.set_xlabel("r [kpc]")
        ax.set_ylabel(r"$\log_{10} M(<r)\ [M_\odot]$")
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def wolf_comparison(summary):
    """Model posterior M(< 4/3 R_h,LVDB) against the Local Volume Database Wolf mass (1:1 line)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    x = np.asarray(summary["log10_m_wolf_lvdb"], float)
    y = np.asarray(summary["log10_m_p50"], float)
    xe = [np.abs(np.asarray(summary["log10_m_wolf_lvdb_em"], float)), np.asarray(summary["log10_m_wolf_lvdb_ep"], float)]
    ye = [y - np.asarray(summary["log10_m_p16"], float), np.asarray(summary["log10_m_p84"], float) - y]
    ax.errorbar(x, y, xerr=xe, yerr=ye, fmt="o", color="C0", ms=5)
    for xi, yi, n in zip(x, y, summary["name"]):
        if np.isfinite(xi) and np.isfinite(yi):
            ax.annotate(str(n), (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ok = np.isfinite(x) & np.isfinite(y)
    lo, hi = np.nanmin(np.r_[x[ok], y[ok]]) - 0.2, np.nanmax(np.r_[x[ok], y[ok]]) + 0.2
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel(r"LVDB Wolf: $\log_{10} M(<\frac{4}{3}R_h)\ [M_\odot]$")
    ax.set_ylabel(r"galmass: $\log_{10} M(<\frac{4}{3}R_h)\ [M_\odot]$")
    fig.tight_layout()
    return fig


def edge_profiles(table):
    """EDGE dwarfs: M_pred / M_true against f per line of sight (median, 16-84% band), one
    panel per dwarf; ``table`` is :func:`galmass.book.realdata.evaluate_edge`'s."""
    plt = _plt()
    names = list(dict.fromkeys(np.asarray(table["dwarf"]).astype(str)))
    fig, axes = plt.subplots(1, len(names), figsize=(5.0 * len(names), 3.6), squeeze=False, sharey=True)
    for ax, name in zip(axes.flat, names):
        sel = np.asarray(table["dwarf"]) == name
        for j in sorted(set(np.asarray(table["los"])[sel])):
            row = sel & (np.asarray(table["los"]) == j)
            f = np.asarray(table["f"])[row]
            true = np.asarray(table["log10_m_true"])[row]
            ax.fill_between(f, 10 ** (np.asarray(table["log10_m_p16"])[row] - true),
                            10 ** (np.asarray(table["log10_m_p84"])[row] - true), color="C0", alpha=0.08, lw=0)
            ood = bool(np.asarray(table["ood"])[row][0])
            ax.plot(f, 10 ** (np.asarray(table["log10_m_p50"])[row] - true), color="C3" if ood else "C0", lw=1,
                    ls="--" if ood else "-")
        ax.axhline(1, color="k", lw=1)
        ax.set_yscale("log")
        ax.set_title(f"{name} ({int(np.asarray(table['n_stars'])[sel][0])} stars; dashed: flagged)", fontsize=9)
        ax.set_xlabel(r"$f = r / R_h$")
    axes.flat[0].set_ylabel(r"$M_{pred} / M_{true}$ (median, 68% band)")
    fig.tight_layout()
    return fig
