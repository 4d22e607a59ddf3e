"""``galmass predict`` start-up and throughput (issue #20): cold start of one catalogue, warm
time per catalogue with the model loaded, 20 catalogues in one call, peak memory; beside the
floor of ``python -c "import torch"`` measured in the same run (all wall times on this machine)."""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _catalogue(path: Path, rng, n: int = 500) -> None:
    from astropy.table import Table

    Table({"x": rng.normal(0, 0.3, n), "y": rng.normal(0, 0.3, n), "v_los": rng.normal(0, 8, n),
           "v_err": np.full(n, 2.0)}).write(path, overwrite=True)


def _wall(cmd: list[str], repeat: int = 3) -> tuple[float, int]:
    """Median wall time [s] of ``cmd`` and the largest peak RSS [kB] of its runs."""
    times, peak = [], 0
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
        peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    return float(np.median(times)), peak


def main(config: str | None = None) -> None:
    galmass = str(Path(sys.executable).with_name("galmass"))
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        cats = []
        for i in range(20):
            p = Path(tmp) / f"g{i:02d}.csv"
            _catalogue(p, rng)
            cats.append(str(p))
        floor, _ = _wall([sys.executable, "-c", "import torch"])
        cold, peak = _wall([galmass, "predict", cats[0], "--n-samples", "1000"])
        many, _ = _wall([galmass, "predict", *cats, "--out-dir", str(Path(tmp) / "out"), "--n-samples", "1000"],
                        repeat=1)
        from galmass.predict import load_model, predict, read_catalog

        model = load_model(None)
        cat = read_catalog(cats[1])
        predict(cat, model, n_samples=1000)
        t0 = time.perf_counter()
        for c in cats[:10]:
            predict(read_catalog(c), model, n_samples=1000)
        warm = (time.perf_counter() - t0) / 10
    print(f"python -c 'import torch' (the issue's floor; prediction runs in numpy and no longer imports torch): {floor:.2f} s")
    print(f"predict, one catalogue, cold start:    {cold:.2f} s  ({cold / floor:.2f} x the floor; target <= 2.5 s)")
    print(f"predict, warm (model loaded):          {warm:.3f} s per catalogue (target <= 0.1 s)")
    print(f"predict, 20 catalogues in one call:    {many:.2f} s  ({many / cold:.2f} x one cold start; target < 3)")
    print(f"peak memory of a cold predict:         {peak / 1024:.0f} MB")


if __name__ == "__main__":
    main()
