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

    per_suite = {}
    if args.config:
        cfg = load_config(args.config)
        names = args.suite or cfg.suites.names
        for name in names:
            d = cfg.suites_dir / name
            if d.exists() and any(d.glob("shard_*.h5")):
                gals = load_built_suite(d)
            else:
                gals = load_suite(name, args.n, cfg.seed, cfg.suites.n_max_stars)
            per_suite[name] = suite_summary(gals)
    else:
        for name in args.suite or SUITES:
            per_suite[name] = suite_summary(load_suite(name, args.n, args.seed))
    print(_summary_table(per_suite))
    return 0
