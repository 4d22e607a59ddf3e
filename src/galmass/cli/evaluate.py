"""``galmass evaluate``: posterior predictions of the trained models, then metrics.json."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    """Add the command to the ``galmass`` sub-command parsers."""
    e = sub.add_parser("evaluate", help="posterior predictions of the trained models and metrics.json")
    e.add_argument("--config", required=True, help="run profile, e.g. configs/default.yaml")
    e.add_argument("--quiet", action="store_true", help="no progress bars")
    e.set_defaults(func=run)

def run(args: argparse.Namespace) -> int:
    from galmass.evaluation.stage import evaluate_all

    print(f"metrics: {evaluate_all(args.config, progress=not args.quiet)}")
    return 0
