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
from galmass.sources.suites import SUITES, draw_model, make_galaxy

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
    results["per_suite"] = seconds_per_galaxy(cfg.seed, cfg.suites.n_max_stars)
    results["integrator"] = integrator_speedup()
    return results


def seconds_per_galaxy(seed: int, n_max_stars: int, n: int = 12) -> dict:
    """Serial seconds per galaxy of every suite (the shaped ones include phase mixing)."""
    out = {}
    for suite in SUITES:
        make_galaxy(suite, 0, seed, n_max_stars)  # warm-up (numba compile, colossus tables)
        t0 = time.perf_counter()
        stars = sum(make_galaxy(suite, i, seed, n_max_stars).n_stars for i in range(1, n + 1))
        out[suite] = {"s_per_galaxy": (time.perf_counter() - t0) / n, "mean_stars": stars / n}
    print(f"\nSeconds per galaxy, serial, every suite ({n} galaxies, at most {n_max_stars} stars)")
    for suite, r in out.items():
        print(f"{suite:<14}{r['s_per_galaxy']:>8.3f} s/galaxy{r['mean_stars']:>9.0f} stars")
    return out


def integrator_speedup(n_stars: int = 3000, n_steps: int = 600) -> dict:
    """Compiled star-by-star phase mixing against the numpy array-step baseline, same orbits."""
    import numpy as np

    from galmass.physics.orbits import phase_mix, phase_mix_ellipsoids
    from galmass.physics.potentials import EllipsoidalPotential, NonSphericalMass

    m = draw_model("cusp", 0, 0)
    body = NonSphericalMass([EllipsoidalPotential(m.halo, 0.9, 0.8), EllipsoidalPotential(m.stars, 0.9, 0.7)])
    acc = body.fast_acceleration(1e-4 * m.params["r_half_3d"], 1e4 * m.params["r_half_3d"])
    pos, vel = m.df.sample(n_stars, np.random.default_rng(0))
    dt = 0.02 * m.params["r_half_3d"] / np.sqrt(np.mean(np.sum(vel**2, axis=1)))
    phase_mix_ellipsoids(pos[:10], vel[:10], acc, dt, 5, np.random.default_rng(1))  # compile
    t0 = time.perf_counter()
    phase_mix_ellipsoids(pos, vel, acc, dt, n_steps, np.random.default_rng(1))
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    phase_mix(pos, vel, acc, dt, n_steps, np.random.default_rng(1))
    t_numpy = time.perf_counter() - t0
    ns = 1e9 * t_fast / (n_stars * n_steps)
    print(f"\nPhase mixing, {n_stars} stars x {n_steps} steps: compiled {t_fast:.2f} s ({ns:.0f} ns per "
          f"star-step), numpy baseline {t_numpy:.2f} s, speed-up {t_numpy / t_fast:.1f}x")
    return {"compiled_s": t_fast, "numpy_s": t_numpy, "speedup": t_numpy / t_fast, "ns_per_star_step": ns}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config", default="configs/default.yaml")
    p.add_argument("--n", type=int, default=None)
    a = p.parse_args()
    main(a.config, a.n)
