"""Benchmark: building the mock suites (issue #2 target: 1000 galaxies per suite < 10 min on 2 cores).

Builds ``n_galaxies`` per suite of the given profile into a temporary directory on a
local Dask cluster, and a serial baseline on a subset in the same run, and prints the
time per 1000 galaxies and the parallel speed-up.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from galmass.config import load_config
from galmass.parallel import dask_client
from galmass.sources.storage import build_suite
from galmass.sources.suites import make_galaxy

TARGET_S_PER_1000 = 600.0


def main(config: str = "configs/default.yaml", n_galaxies: int | None = None, n_serial: int = 40) -> dict:
    cfg = load_config(config)
    n = n_galaxies or cfg.suites.n_galaxies
    results = {}
    with tempfile.TemporaryDirectory() as tmp, dask_client(cfg.scheduler, cfg.n_workers) as client:
        n_workers = len(client.scheduler_info()["workers"])
        for suite in cfg.suites.names:
            t0 = time.perf_counter()
            for i in range(n_serial):
                make_galaxy(suite, i, cfg.seed, cfg.suites.n_max_stars)
            t_serial = (time.perf_counter() - t0) / n_serial
            t0 = time.perf_counter()
            build_suite(suite, n, cfg.seed, tmp, shard_size=cfg.suites.shard_size,
                        n_max_stars=cfg.suites.n_max_stars, client=client, progress=False)
            t_build = time.perf_counter() - t0
            per_1000 = t_build / n * 1000
            results[suite] = {"n_galaxies": n, "build_s": t_build, "s_per_1000": per_1000,
                              "serial_s_per_galaxy": t_serial,
                              "speedup_vs_serial": t_serial * n / t_build}
    print(f"\nMock suites ({config}, {n} galaxies per suite, {n_workers} Dask workers)")
    print(f"{'suite':<10}{'build [s]':>11}{'s / 1000 gal':>14}{'target ratio':>14}{'serial s/gal':>14}{'speed-up':>10}")
    for suite, r in results.items():
        print(f"{suite:<10}{r['build_s']:>11.1f}{r['s_per_1000']:>14.1f}"
              f"{r['s_per_1000'] / TARGET_S_PER_1000:>14.3f}{r['serial_s_per_galaxy']:>14.3f}"
              f"{r['speedup_vs_serial']:>10.2f}")
    print(f"(target ratio = time per 1000 galaxies / {TARGET_S_PER_1000:.0f} s; < 1 meets issue #2)")
    return results


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config", default="configs/default.yaml")
    p.add_argument("--n", type=int, default=None)
    a = p.parse_args()
    main(a.config, a.n)
