"""``galmass train``: train the CNN + flow models of a profile (resumable)."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    """Add the command to the ``galmass`` sub-command parsers."""
    t = sub.add_parser("train", help="train the CNN + flow models of a run profile (resumable)")
    t.add_argument("--config", required=True, help="run profile, e.g. configs/default.yaml")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.add_argument("--replace-stale", action="store_true",
                   help="move aside (never delete) a model trained with other settings, and retrain")
    t.set_defaults(func=run)

def run(args: argparse.Namespace) -> int:
    from galmass.inference.training import train_all

    models = train_all(args.config, progress=not args.quiet, replace_stale=args.replace_stale)
    for name, m in models.items():
        sec = m.info.get("seconds", {})
        print(f"model {name}: suites {m.info['spec']['suites']}, {m.info.get('n_train')} training projections, "
              f"CNN {sec.get('cnn', 0):.0f} s, flow {sec.get('flow', 0):.0f} s")
    return 0
