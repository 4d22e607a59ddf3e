"""``galmass ablation``: the joint CNN trained once more with the paper's literal target (chapter 3)."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    """Add the command to the ``galmass`` sub-command parsers."""
    a = sub.add_parser("ablation", help="train the joint CNN with the absolute target (cnn.residual_target: "
                                        "false) and compare it on the test sets; updates metrics.json")
    a.add_argument("--config", required=True, help="run profile, e.g. configs/default.yaml")
    a.add_argument("--quiet", action="store_true", help="no progress bars")
    a.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from galmass.config import load_config
    from galmass.evaluation.ablation import residual_target_ablation
    from galmass.evaluation.metrics import write_metrics
    from galmass.inference.training import run_settings

    print(f"ablation: {residual_target_ablation(args.config, progress=not args.quiet)}")
    cfg = load_config(args.config)
    print(f"metrics: {write_metrics(cfg, run_settings(cfg))}")
    return 0
