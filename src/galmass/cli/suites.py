"""``galmass suites build|summary``: build the mock suites of a profile, or summarise them."""

from __future__ import annotations

import argparse

import numpy as np


def add_parser(sub) -> None:
    """Add the command to the ``galmass`` sub-command parsers."""
    s = sub.add_parser("suites", help="mock galaxy suites")
    ss = s.add_subparsers(dest="action", required=True)
    b = ss.add_parser("build", help="build the mock suites of a run profile into HDF5 shards")
    b.add_argument("--config", required=True, help="run profile, e.g. configs/default.yaml")
    b.add_argument("--suite", action="append", help="only this suite (repeatable)")
    b.add_argument("--scheduler", help="address of an existing Dask scheduler")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.add_argument("--replace-stale", action="store_true",
                   help="move aside (never delete) a suite built with other parameters or code, and rebuild")
    b.set_defaults(func=run_build)
    m = ss.add_parser("summary", help="print the distributions that make the suites differ")
    m.add_argument("--config", help="run profile: summarise its built suites (or generate --n)")
    m.add_argument("--suite", action="append", help="only this suite (repeatable)")
    m.add_argument("--n", type=int, default=200, help="galaxies per suite when generating [200]")
    m.add_argument("--seed", type=int, default=0, help="seed when generating without a config")
    m.add_argument("--n-max-stars", type=int, default=None,
                   help="at most this many stars per generated galaxy [the profile's, or 10000]")
    m.add_argument("--realism", action="store_true",
                   help="also measure what an observer sees (8 lines of sight): estimator scatter, "
                        "shapes, rotation, sizes and dispersions against the Milky Way dwarfs")
    m.add_argument("--lvdb", help="Local Volume Database dwarf_mw.csv for --realism [in the external data "
                                  "directory: $GALMASS_SHARED_DATA or ../shared/data]")
    m.set_defaults(func=run_summary)

def run_build(args: argparse.Namespace) -> int:
    from galmass.config import load_config
    from galmass.parallel import lazy_client
    from galmass.sources.storage import build_suite

    cfg = load_config(args.config)
    names = args.suite or cfg.suites.names
    with lazy_client(args.scheduler or cfg.scheduler, cfg.n_workers) as client:
        for name in names:
            res = build_suite(name, cfg.suites.n_galaxies, cfg.seed, cfg.suites_dir,
                              shard_size=cfg.suites.shard_size, n_max_stars=cfg.suites.n_max_stars,
                              client=client, progress=not args.quiet, replace_stale=args.replace_stale)
            print(f"suite {name}: {len(res.shards)} shards in {res.directory} ({res.n_built} built now)")
    return 0


def _summary_table(per_suite: dict[str, dict[str, np.ndarray]]) -> str:
    rows = [("dm_slope", "DM log-slope at 0.01 r200"), ("r_half", "R_h [kpc] (projected)"),
            ("beta0", "central anisotropy beta0"), ("r_a_over_rhalf", "r_a / r_1/2"),
            ("n_stars", "star particles (nominal)"), ("log_mstar", "log10 M* [Msun]"),
            ("log_m_rh", "log10 M(<R_h) [Msun]")]
    lines = []
    for suite, summ in per_suite.items():
        lines.append(f"suite {suite} ({len(summ['r_half'])} galaxies): percentiles 5 / 16 / 50 / 84 / 95")
        for key, label in rows:
            v = summ[key]
            v = v[np.isfinite(v)]
            if key == "n_stars":
                pct = " ".join(f"{x:>9.3g}" for x in np.percentile(v, [5, 16, 50, 84, 95]))
            else:
                pct = " ".join(f"{x:>9.3f}" for x in np.percentile(v, [5, 16, 50, 84, 95])) if len(v) else "(none finite)"
            lines.append(f"  {label:<30s} {pct}")
    return "\n".join(lines)


def run_summary(args: argparse.Namespace) -> int:
    from galmass.config import load_config
    from galmass.sources.storage import load_built_suite
    from galmass.sources.suites import SUITES, load_suite, suite_summary

    per_suite, galaxies = {}, {}
    if args.config:
        cfg = load_config(args.config)
        names = args.suite or cfg.suites.names
        for name in names:
            d = cfg.suites_dir / name
            if d.exists() and any(d.glob("shard_*.h5")):
                gals = load_built_suite(d)
            else:
                gals = load_suite(name, args.n, cfg.seed, args.n_max_stars or cfg.suites.n_max_stars)
            per_suite[name], galaxies[name] = suite_summary(gals), gals
    else:
        for name in args.suite or SUITES:
            gals = load_suite(name, args.n, args.seed, args.n_max_stars or 10_000)
            per_suite[name], galaxies[name] = suite_summary(gals), gals
    print(_summary_table(per_suite))
    if args.realism:
        print(_realism_table(galaxies, args.lvdb))
    return 0


def _realism_table(galaxies: dict, lvdb_path: str | None) -> str:
    from galmass.book.universe import find_lvdb_dwarfs
    from galmass.evaluation.paper import ESTIMATOR_SCATTER_RANGE as PAPER_HW
    from galmass.evaluation.realism import (COLD_TAIL, MATCH_HALF_WIDTH, REALISM_TARGETS, ULTRAFAINT_WINDOW,
                                             realism_checks, realism_summary)

    lvdb = find_lvdb_dwarfs(lvdb_path)  # without the external data the comparison with real dwarfs is left out
    t = REALISM_TARGETS
    lines = ["realism (8 lines of sight, all stars; target in brackets; * = outside it)"]
    for name, gals in galaxies.items():
        c = realism_checks(realism_summary(gals), lvdb)
        flag = lambda ok: " " if ok else "*"  # noqa: E731
        hw = " ".join(f"{k[10:]} {v:.3f}" for k, v in c.items() if k.startswith("halfwidth_") and k != "halfwidth_ok")
        lines.append(f"suite {name}")
        lines.append(f" {flag(c['halfwidth_ok'])} estimator 16-84% half-width of M_est/M_true "
                     f"[{t['estimator_halfwidth'][0]}-{t['estimator_halfwidth'][1]}; paper {PAPER_HW[0]:.2f}-{PAPER_HW[1]:.2f}]: {hw}")
        lines.append(f" {flag(c['los_spread_ok'])} median spread of log10(R_h sigma^2) over lines of sight "
                     f"[>= {t['los_spread_median_min']} dex]: {c['los_spread_median']:.3f}")
        p5, p50, p95 = c["stars_c_over_a_p5_p50_p95"]
        lines.append(f" {flag(c['stars_c_over_a_ok'])} stellar c/a 5/50/95% [0.3-1, median <= "
                     f"{t['stars_c_over_a_median_max']}]: {p5:.2f} {p50:.2f} {p95:.2f}")
        ref = f"; MW dwarfs {c['lvdb_ellipticity_median']:.2f}" if lvdb else ""
        lines.append(f" {flag(c['ellipticity_ok'])} median projected ellipticity [>= {t['ellipticity_median_min']}"
                     f"{ref}]: {c['ellipticity_median']:.3f}")
        lines.append(f" {flag(c['v_rot_ok'])} largest v_rot/sigma [>= {t['v_rot_over_sigma_max_min']}]: "
                     f"{c['v_rot_over_sigma_max']:.2f}")
        if lvdb:
            lines.append(f" {flag(c['r_half_ok'])} median R_h at M* 1e6-1e7.5 ({c['n_dwarfs']} galaxies) "
                         f"[MW dwarfs {c['lvdb_r_half_median']:.3f} kpc, x/÷ {t['r_half_factor']}]: "
                         f"{c['r_half_median']:.3f} kpc")
            lines.append(f" {flag(c['sigma_ok'])} median sigma_los at M* 1e6-1e7.5 [MW dwarfs "
                         f"{c['lvdb_sigma_median']:.2f} km/s, +-{t['sigma_fraction']:.0%}]: {c['sigma_median']:.2f} km/s")
            lines.append(f" {flag(c['stellar_fraction_ok'])} median stellar share (M*/2)/M_Wolf at M* 1e6-1e7.5 "
                         f"[MW dwarfs {c['lvdb_stellar_fraction_median']:.3f}, x/÷ {t['stellar_fraction_factor']:g}]: "
                         f"{c['stellar_fraction_median']:.3f}")
            lines.append(f" {flag(c['matched_ok'])} matched in M* (each of {c['n_matched']} MW dwarfs against the mocks "
                         f"within {MATCH_HALF_WIDTH:g} dex of its M*), median mock/real [sigma +-{t['sigma_fraction']:.0%}, R_h x/÷ "
                         f"{t['r_half_factor']}, stellar share x/÷ {t['stellar_fraction_factor']:g}]: sigma "
                         f"{c['matched_sigma_ratio']:.2f}, R_h {c['matched_r_half_ratio']:.2f}, stellar share "
                         f"{c['matched_stellar_fraction_ratio']:.2f}")
            lo, hi = ULTRAFAINT_WINDOW
            lines.append(f"   ultra-faints, M* 1e{lo:g}-1e{hi:g} ({100 * c['ultrafaint_fraction']:.0f}% of the galaxies), "
                         f"matched in M* ({c['ultrafaint_n_matched']} MW dwarfs), median mock/real [no target]: sigma "
                         f"{c['ultrafaint_matched_sigma_ratio']:.2f}, R_h {c['ultrafaint_matched_r_half_ratio']:.2f}, "
                         f"stellar share {c['ultrafaint_matched_stellar_fraction_ratio']:.2f}")
            ct = COLD_TAIL
            lines.append(f"   sigma of {c['cold_n_dwarfs']} MW dwarfs (M* <= 1e{ct['max_log_mstar']:g}, sigma to "
                         f"{ct['max_rel_err']:.0%}) among the mocks of their R_h [no target; a fair universe gives "
                         f"{ct['tail']:.0%}, {ct['tail']:.0%}, 0.5]: below the mocks' {ct['tail']:.0%} quantile "
                         f"{c['cold_tail_fraction']:.0%}, above the {1 - ct['tail']:.0%} {c['hot_tail_fraction']:.0%}, "
                         f"median percentile {c['sigma_percentile_median']:.2f}")
    return "\n".join(lines)
