"""Figures and tables of chapter 1's "How real is the mock universe?" (issue #18).

Each function takes the per-galaxy arrays of :func:`galmass.evaluation.realism.realism_summary`
(plus the galaxies' ``meta``) and the Local Volume Database Milky Way dwarfs of
:func:`galmass.evaluation.realism.read_lvdb_dwarfs`; none reads files.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from galmass.evaluation.paper import ESTIMATOR_SCATTER_RANGE as PAPER_HW
from galmass.evaluation.realism import COLD_TAIL, DWARF_WINDOW, MATCH_HALF_WIDTH, REALISM_TARGETS, ULTRAFAINT_WINDOW
from galmass.observe.estimators import ESTIMATORS
from galmass.sources.suites import SUITE_SPECS

__all__ = ["find_lvdb_dwarfs", "suite_colors", "shape_meta", "realism_markdown", "shapes_and_rotation", "anisotropy_profiles",
           "scaling_relations"]

_TRAINING_COLORS = ("tab:orange", "tab:blue", "tab:green", "tab:purple")


def find_lvdb_dwarfs(path=None) -> dict[str, np.ndarray] | None:
    """The Milky Way dwarfs of the Local Volume Database: from ``path``, else from the external
    data directory (:func:`~galmass.book.realdata.shared_data_dir`); None where it is absent."""
    from galmass.book.realdata import shared_data_dir
    from galmass.errors import GalmassError
    from galmass.evaluation.realism import LVDB_RELATIVE_PATH, read_lvdb_dwarfs

    if path is None:
        try:
            path = shared_data_dir() / LVDB_RELATIVE_PATH
        except GalmassError:
            return None
        if not path.exists():
            return None
    return read_lvdb_dwarfs(path)


def suite_colors(suites: list[str]) -> dict[str, str]:
    """One colour per suite: training suites in colour, held-out suites in gray."""
    out, k = {}, 0
    for s in suites:
        if SUITE_SPECS[s].training:
            out[s] = _TRAINING_COLORS[k % len(_TRAINING_COLORS)]
            k += 1
        else:
            out[s] = "0.4"
    return out


def shape_meta(galaxies) -> dict[str, np.ndarray]:
    """Drawn halo axis ratios, anisotropy and rotation of galaxies (NaN where spherical).

    Keys: ``halo_c_over_a``, ``halo_b_over_a``, ``beta0``, ``r_a_over_rhalf`` (3-D r_1/2),
    ``kappa_co``.
    """
    def get(g, key, default=np.nan):
        return float(g.meta.get(key, default))

    return {
        "halo_c_over_a": np.array([get(g, "halo_c_over_a") for g in galaxies]),
        "halo_b_over_a": np.array([get(g, "halo_b_over_a") for g in galaxies]),
        "beta0": np.array([get(g, "beta0") for g in galaxies]),
        "r_a_over_rhalf": np.array([get(g, "r_a") / get(g, "r_half_3d") for g in galaxies]),
        "kappa_co": np.array([get(g, "kappa_co") for g in galaxies]),
    }


def realism_markdown(checks: dict[str, dict[str, Any]]) -> str:
    """Markdown table of :func:`~galmass.evaluation.realism.realism_checks` per suite, with the
    issue's target beside each measure; a measure outside its target is marked with a cross."""
    t = REALISM_TARGETS
    suites = list(checks)

    def cell(value: str, ok) -> str:
        return value if ok is None else (f"{value} ✓" if ok else f"**{value}** ✗")

    rows: list[tuple[str, str, list[str]]] = []
    for name in ESTIMATORS:
        rows.append((f"{name}: 16–84% half-width of M_est/M_true", f"{t['estimator_halfwidth'][0]}–"
                     f"{t['estimator_halfwidth'][1]} (paper {PAPER_HW[0]:.2f}–{PAPER_HW[1]:.2f})",
                     [cell(f"{c[f'halfwidth_{name}']:.3f}", t['estimator_halfwidth'][0] <= c[f'halfwidth_{name}']
                           <= t['estimator_halfwidth'][1]) for c in checks.values()]))
    rows.append(("median spread of log10(R_h σ²) over lines of sight [dex]", f"≥ {t['los_spread_median_min']}",
                 [cell(f"{c['los_spread_median']:.3f}", c["los_spread_ok"]) for c in checks.values()]))
    rows.append(("stellar c/a, 5 / 50 / 95%", f"0.3–1, median ≤ {t['stars_c_over_a_median_max']}",
                 [cell(" / ".join(f"{x:.2f}" for x in c["stars_c_over_a_p5_p50_p95"]), c["stars_c_over_a_ok"])
                  for c in checks.values()]))
    first = next(iter(checks.values()))
    ref = f" (MW dwarfs {first['lvdb_ellipticity_median']:.2f})" if "lvdb_ellipticity_median" in first else ""
    rows.append(("median projected ellipticity", f"≥ {t['ellipticity_median_min']}{ref}",
                 [cell(f"{c['ellipticity_median']:.3f}", c["ellipticity_ok"]) for c in checks.values()]))
    rows.append(("largest v_rot/σ", f"≥ {t['v_rot_over_sigma_max_min']}",
                 [cell(f"{c['v_rot_over_sigma_max']:.2f}", c["v_rot_ok"]) for c in checks.values()]))
    lo, hi = DWARF_WINDOW
    if "lvdb_r_half_median" in first:
        rows.append((f"median R_h at M* = 1e{lo:g}–1e{hi:g} Msun [kpc]",
                     f"{first['lvdb_r_half_median']:.3f} (MW dwarfs) ×/÷ {t['r_half_factor']}",
                     [cell(f"{c['r_half_median']:.3f} ({c['n_dwarfs']} galaxies)", c["r_half_ok"])
                      for c in checks.values()]))
        rows.append((f"median σ_los at M* = 1e{lo:g}–1e{hi:g} Msun [km/s]",
                     f"{first['lvdb_sigma_median']:.2f} (MW dwarfs) ± {t['sigma_fraction']:.0%}",
                     [cell(f"{c['sigma_median']:.2f}", c["sigma_ok"]) for c in checks.values()]))
        rows.append((f"median stellar share (M*/2)/M_Wolf at M* = 1e{lo:g}–1e{hi:g} Msun",
                     f"{first['lvdb_stellar_fraction_median']:.3f} (MW dwarfs) ×/÷ {t['stellar_fraction_factor']:g}",
                     [cell(f"{c['stellar_fraction_median']:.3f}", c["stellar_fraction_ok"]) for c in checks.values()]))
        rows.append((f"matched in M* (each MW dwarf at M* = 1e{lo:g}–1e{hi:g} against the mocks within "
                     f"{MATCH_HALF_WIDTH:g} dex of its M*): median mock / real σ_los, R_h, stellar share",
                     f"1 ± {t['sigma_fraction']:.0%}, ×/÷ {t['r_half_factor']}, ×/÷ {t['stellar_fraction_factor']:g}",
                     [cell(f"{c['matched_sigma_ratio']:.2f}, {c['matched_r_half_ratio']:.2f}, "
                           f"{c['matched_stellar_fraction_ratio']:.2f} ({c['n_matched']} dwarfs)", c["matched_ok"])
                      for c in checks.values()]))
        ulo, uhi = ULTRAFAINT_WINDOW
        rows.append((f"ultra-faints, M* = 1e{ulo:g}–1e{uhi:g} Msun, matched in M* as above: median mock / real σ_los, "
                     f"R_h, stellar share (share of the suite's galaxies)", "none (reported)",
                     [cell(f"{c['ultrafaint_matched_sigma_ratio']:.2f}, {c['ultrafaint_matched_r_half_ratio']:.2f}, "
                           f"{c['ultrafaint_matched_stellar_fraction_ratio']:.2f} ({c['ultrafaint_n_matched']} dwarfs; "
                           f"{100 * c['ultrafaint_fraction']:.0f}%)", None) for c in checks.values()]))
        ct = COLD_TAIL
        rows.append((f"σ_los of the MW dwarfs (M* ≤ 1e{ct['max_log_mstar']:g} Msun, σ measured to {ct['max_rel_err']:.0%}) "
                     f"among the mocks of their R_h: share below the mocks' {ct['tail']:.0%} quantile, above the "
                     f"{1 - ct['tail']:.0%}, median percentile",
                     f"none (reported; a fair universe: {ct['tail']:.0%}, {ct['tail']:.0%}, 0.5)",
                     [cell(f"{c['cold_tail_fraction']:.0%}, {c['hot_tail_fraction']:.0%}, {c['sigma_percentile_median']:.2f} "
                           f"({c['cold_n_dwarfs']} dwarfs)", None) for c in checks.values()]))
    head = "| measure | target | " + " | ".join(suites) + " |\n|---|---|" + "---|" * len(suites) + "\n"
    return head + "\n".join(f"| {m} | {tgt} | " + " | ".join(v) + " |" for m, tgt, v in rows)


def _plt():
    import matplotlib.pyplot as plt

    return plt


def shapes_and_rotation(summaries: dict[str, dict[str, np.ndarray]], metas: dict[str, dict[str, np.ndarray]],
                        lvdb: dict[str, np.ndarray] | None = None):
    """Four panels: halo and stellar c/a (3-D), projected ellipticity (against the Milky Way
    dwarfs) and v_rot/sigma about the short axis, per suite."""
    plt = _plt()
    colors = suite_colors(list(summaries))
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.3))
    bins = np.linspace(0, 1, 21)
    for s, summ in summaries.items():
        kw = dict(histtype="step", density=True, color=colors[s], lw=1.5, label=s)
        for ax, v in zip(axes, (metas[s]["halo_c_over_a"], summ["stars_c_over_a"], summ["ellipticity"])):
            v = v[np.isfinite(v)]
            if len(v):
                ax.hist(v, bins=bins, **kw)
        vr = summ["v_rot_over_sigma"]
        axes[3].hist(np.abs(vr[np.isfinite(vr)]), bins=np.linspace(0, 1.2, 25), **kw)
    if lvdb is not None:
        e = lvdb["ellipticity"][np.isfinite(lvdb["ellipticity"])]
        axes[2].hist(e, bins=bins, histtype="stepfilled", density=True, color="k", alpha=0.2,
                     label=f"MW dwarfs (LVDB, {len(e)})")
    for ax, xl in zip(axes, ("halo c/a (density, drawn)", "stellar c/a (3-D, < 2 r$_{1/2}$)",
                             "projected ellipticity 1 - b/a", r"$|v_{rot}|/\sigma$ about the short axis")):
        ax.set_xlabel(xl)
    axes[0].set_ylabel("density")
    axes[2].legend(fontsize=7)
    axes[3].legend(fontsize=7)
    fig.tight_layout()
    return fig


def anisotropy_profiles(metas: dict[str, dict[str, np.ndarray]]):
    """Velocity anisotropy beta(r) = (beta0 + r^2/r_a^2) / (1 + r^2/r_a^2) of the initial
    conditions per suite: median and 16-84% band over galaxies, against r / r_1/2."""
    plt = _plt()
    colors = suite_colors(list(metas))
    x = np.geomspace(0.1, 10, 60)
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for s, m in metas.items():
        ok = np.isfinite(m["beta0"]) & np.isfinite(m["r_a_over_rhalf"])
        if not ok.any():
            continue
        q = (x[None, :] / m["r_a_over_rhalf"][ok, None]) ** 2
        beta = (m["beta0"][ok, None] + q) / (1 + q)
        lo, med, hi = np.percentile(beta, [16, 50, 84], axis=0)
        ax.fill_between(x, lo, hi, color=colors[s], alpha=0.2)
        ax.plot(x, med, color=colors[s], label=s)
    ax.set_xscale("log")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel(r"$r / r_{1/2}$")
    ax.set_ylabel(r"$\beta(r)$ (initial conditions)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def scaling_relations(summaries: dict[str, dict[str, np.ndarray]], lvdb: dict[str, np.ndarray] | None = None):
    """R_h and sigma_los against M* per suite (median over lines of sight; points), beside the
    Milky Way dwarfs of the Local Volume Database (black stars); the band marks the M* window
    of the realism check."""
    plt = _plt()
    colors = suite_colors(list(summaries))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for s, summ in summaries.items():
        axes[0].scatter(summ["log_mstar"], summ["r_half"], s=6, alpha=0.5, color=colors[s], label=s)
        axes[1].scatter(summ["log_mstar"], summ["sigma_los"], s=6, alpha=0.5, color=colors[s], label=s)
    if lvdb is not None:
        for ax, key in zip(axes, ("r_half", "sigma_los")):
            ok = np.isfinite(lvdb["log_mstar"]) & np.isfinite(lvdb[key])
            ax.scatter(lvdb["log_mstar"][ok], lvdb[key][ok], marker="*", s=40, color="k",
                       label=f"MW dwarfs (LVDB, {ok.sum()})")
    for ax, yl in zip(axes, (r"$R_h$ [kpc] (projected)", r"$\sigma_{los}$ [km/s]")):
        ax.axvspan(*DWARF_WINDOW, color="0.9", zorder=0)
        ax.set_yscale("log")
        ax.set_xlabel(r"$\log_{10} M_*\ [M_\odot]$")
        ax.set_ylabel(yl)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig
