"""Benchmark: FFT kernel-density maps (galmass.observe.maps) vs scipy.stats.gaussian_kde.

Run as ``python benchmarks/bench_maps.py``. For n = 1e4 stars it times, on 64 x 64 and
256 x 256 grids,

* ``scipy.stats.gaussian_kde(points.T)`` evaluated on the grid (the direct O(n G) sum;
  about 5-10 s at 256 x 256, so it is timed once there),
* :func:`galmass.observe.maps.kde_map`, called on each of 16 projections (mean time per map,
  median over repeats),
* :func:`galmass.observe.maps.kde_maps` on the same 16 projections (time per map),

and reports the speed ratios (scipy's time does not depend on the cloud, only on n and
the grid) and the maximum error relative to the map's peak for the first projection,
the one scipy evaluated. It also
times building both CNN inputs (position map + phase map) for one projection of 1e4
stars at 64 x 64, singly and batched over 16 projections, as the dataset builder does
(16-64 projections per galaxy, thousands of galaxies).

The point cloud is a flattened, rotated projected Plummer sphere in units of R_h,
without truncation: its heavy tails inflate the covariance and hence the kernel and the
padded FFT grid, so this is a conservative case for the FFT method.

:func:`main` returns a dict of results (for ``benchmarks/run.py``); the script exits
with status 1 if the target (>= 1000x at n = 1e4, 256 x 256, error < 1 % of peak) is
missed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from scipy import stats

try:
    from galmass.observe import maps
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from galmass.observe import maps

N_STARS = 10_000
N_PROJ = 16
TARGET_RATIO_256 = 1000.0
TARGET_ERR = 0.01


def _plummer_sky(n: int, rng: np.random.Generator, q: float, angle: float) -> np.ndarray:
    """Projected Plummer cloud (projected half-number radius 1), axis ratio q, rotated."""
    u = rng.uniform(0.0, 1.0, n)
    R = np.sqrt(u / (1.0 - u))
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    x, y = R * np.cos(phi), q * R * np.sin(phi)
    c, s = np.cos(angle), np.sin(angle)
    return np.column_stack([c * x - s * y, s * x + c * y])


def _median_time(fn: Callable[[], Any], repeat: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _scipy_map(points: np.ndarray, extent, shape) -> np.ndarray:
    ny, nx = shape
    X, Y = np.meshgrid(np.linspace(extent[0], extent[1], nx), np.linspace(extent[2], extent[3], ny))
    kde = stats.gaussian_kde(points.T)
    return kde(np.vstack([X.ravel(), Y.ravel()])).reshape(ny, nx)


def _bench_grid(shape: tuple[int, int], clouds: list[np.ndarray]) -> dict[str, Any]:
    ext = maps.EXTENT_POSITION
    pts = clouds[0]
    # scipy: once at 256 x 256 (seconds), best of 3 on smaller grids
    n_scipy = 1 if shape[0] * shape[1] > 100 * 100 else 3
    t_scipy = np.inf
    for _ in range(n_scipy):
        t0 = time.perf_counter()
        ref = _scipy_map(pts, ext, shape)
        t_scipy = min(t_scipy, time.perf_counter() - t0)
    # per-map times averaged over the same N_PROJ projections (their FFT grids differ)
    reps = 9 if shape[0] <= 64 else 5
    t_single = _median_time(lambda: [maps.kde_map(p, ext, shape) for p in clouds], reps, 1) / len(clouds)
    t_batch = _median_time(lambda: maps.kde_maps(clouds, ext, shape), reps, 1) / len(clouds)
    single = maps.kde_map(pts, ext, shape)
    batch = maps.kde_maps(clouds, ext, shape)
    peak = ref.max()
    return {
        "shape": shape,
        "n": len(pts),
        "t_scipy_s": t_scipy,
        "t_kde_map_s": t_single,
        "t_kde_maps_per_map_s": t_batch,
        "ratio_kde_map": t_scipy / t_single,
        "ratio_kde_maps": t_scipy / t_batch,
        "err_kde_map": float(np.max(np.abs(single - ref)) / peak),
        "err_kde_maps": float(np.max(np.abs(batch[0] - ref)) / peak),
    }


def _bench_inputs(shape: tuple[int, int], rng: np.random.Generator) -> dict[str, Any]:
    """Both CNN inputs for projections of N_STARS stars (kpc, km/s)."""
    r_half = 0.8
    xs, ys, Rs, vs, v98s = [], [], [], [], []
    for k in range(N_PROJ):
        p = _plummer_sky(N_STARS, rng, q=0.6 + 0.4 * k / N_PROJ, angle=0.3 * k) * r_half
        R = np.hypot(p[:, 0], p[:, 1])
        v = rng.normal(0.0, 12.0 / (1.0 + (R / r_half) ** 2) ** 0.25)
        xs.append(p[:, 0])
        ys.append(p[:, 1])
        Rs.append(R)
        vs.append(v)
        v98s.append(float(np.percentile(np.abs(v), 98)))

    def one() -> None:
        maps.position_map(xs[0], ys[0], r_half, shape)
        maps.phase_map(Rs[0], vs[0], r_half, v98s[0], shape)

    def batched() -> None:
        maps.position_maps(xs, ys, [r_half] * N_PROJ, shape)
        maps.phase_maps(Rs, vs, [r_half] * N_PROJ, v98s, shape)

    t_one = _median_time(one, repeat=30)
    t_batched = _median_time(batched, repeat=5, warmup=1) / N_PROJ
    return {
        "shape": shape,
        "n": N_STARS,
        "t_both_maps_one_projection_s": t_one,
        "t_both_maps_per_projection_batched_s": t_batched,
        "t_galaxy_64_projections_s": 64 * t_batched,
    }


def main(config: str | None = None, verbose: bool = True) -> dict[str, Any]:
    """Run the benchmark; returns a dict of results (times in seconds).

    ``config`` is accepted for ``benchmarks/run.py`` and ignored (nothing to configure).
    """
    rng = np.random.default_rng(12345)
    clouds = [_plummer_sky(N_STARS, rng, q=0.5 + 0.5 * k / N_PROJ, angle=0.4 * k) for k in range(N_PROJ)]
    grids = [_bench_grid(shape, clouds) for shape in [(64, 64), (256, 256)]]
    inputs = _bench_inputs((64, 64), rng)
    g256 = grids[-1]
    passed = bool(g256["ratio_kde_map"] >= TARGET_RATIO_256 and all(
        g["err_kde_map"] < TARGET_ERR and g["err_kde_maps"] < TARGET_ERR for g in grids
    ))
    results = {
        "name": "maps",
        "grids": grids,
        "inputs": inputs,
        "target": f"kde_map >= {TARGET_RATIO_256:.0f}x scipy at n=1e4, 256x256; error < 1% of peak",
        "passed": passed,
    }
    if verbose:
        print(f"KDE maps, n = {N_STARS} stars (flattened projected Plummer), batched over {N_PROJ} projections")
        head = f"{'grid':>9} {'scipy [s]':>10} {'kde_map [ms]':>13} {'ratio':>8} {'err/peak':>9}"
        head += f" {'kde_maps [ms/map]':>18} {'ratio':>8} {'err/peak':>9}"
        print(head)
        for g in grids:
            print(
                f"{g['shape'][0]:>4}x{g['shape'][1]:<4} {g['t_scipy_s']:>10.3f} {1e3 * g['t_kde_map_s']:>13.3f}"
                f" {g['ratio_kde_map']:>8.0f} {g['err_kde_map']:>9.1e} {1e3 * g['t_kde_maps_per_map_s']:>18.3f}"
                f" {g['ratio_kde_maps']:>8.0f} {g['err_kde_maps']:>9.1e}"
            )
        print(
            f"both CNN inputs (position + phase map), {inputs['shape'][0]}x{inputs['shape'][1]}, "
            f"{N_STARS} stars: {1e3 * inputs['t_both_maps_one_projection_s']:.2f} ms per projection, "
            f"{1e3 * inputs['t_both_maps_per_projection_batched_s']:.2f} ms batched; "
            f"64 projections: {inputs['t_galaxy_64_projections_s']:.3f} s per galaxy"
        )
        print(f"target: {results['target']}: {'PASS' if passed else 'FAIL'}")
    return results


if __name__ == "__main__":
    sys.exit(0 if main()["passed"] else 1)
