"""``galmass dataset build``: project the built suites into the dataset shards and index."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    """Add the command to the ``galmass`` sub-command parsers."""
    d = sub.add_parser("dataset", help="projection dataset (KDE maps, scalars, labels)")
    ds = d.add_subparsers(dest="action", required=True)
    db = ds.add_parser("build", help="project the built suites and write the dataset shards and index")
    db.add_argument("--config", required=True, help="run profile, e.g. configs/default.yaml")
    db.add_argument("--scheduler", help="address of an existing Dask scheduler")
    db.add_argument("--quiet", action="store_true", help="no progress bars")
    db.add_argument("--replace-stale", action="store_true",
                    help="move aside (never delete) a dataset built with other parameters or code, and rebuild")
    db.set_defaults(func=run)

def run(args: argparse.Namespace) -> int:
    from galmass.dataset import build_from_config

    res = build_from_config(args.config, scheduler=args.scheduler, progress=not args.quiet,
                    replace_stale=args.replace_stale)
    print(f"dataset: {len(res.shards)} shards in {res.directory} ({res.n_built} built now, "
          f"{len(res.skipped)} galaxies skipped); index {res.index}")
    return 0
