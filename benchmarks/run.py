"""Run every benchmark (``make bench``): each prints ratios against a baseline measured in the same run."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config", default="configs/default.yaml")
    p.add_argument("--only", action="append", help="run only these benchmarks (e.g. suites, maps)")
    args = p.parse_args()
    benches = sorted(f.stem[len("bench_"):] for f in HERE.glob("bench_*.py"))
    for name in benches:
        if args.only and name not in args.only:
            continue
        mod = _load(f"bench_{name}")
        print(f"\n===== bench_{name} =====", flush=True)
        try:
            mod.main(config=args.config)
        except TypeError:
            mod.main()


if __name__ == "__main__":
    main()
