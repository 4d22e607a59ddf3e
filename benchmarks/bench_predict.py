"""Benchmark: `galmass predict` per catalogue after the model is loaded (issue #6: < 1 s).

Times, in one run, the shipped model's prediction (inputs + CNN + 1000 flow samples +
estimators + domain check) on every Gaia Challenge file, and as the baseline the literature
estimators alone on the same stars (what a user would run without galmass). Prints the
median and maximum time and their ratio to the baseline; also the one-off model load time.
"""

from __future__ import annotations

import time

import numpy as np


def main(config: str | None = None) -> dict:
    from galmass.observe.estimators import apply_all
    from galmass.predict import load_model, predict, read_gaia_challenge
    from galmass.book.realdata import GAIA_CHALLENGE, gaia_challenge_files

    t0 = time.perf_counter()
    model = load_model(None)
    t_load = time.perf_counter() - t0
    files = [p for name in GAIA_CHALLENGE for n in (1000, 10000) for err in (False, True)
             for p in gaia_challenge_files(name, n, err)]
    cats = [read_gaia_challenge(p, v_err=2.0 if p.name.endswith("_err.dat") else None) for p in files]
    predict(cats[0], model)  # warm-up: first call initialises torch / sbi
    t_pred, t_base = [], []
    for cat in cats:
        t0 = time.perf_counter()
        predict(cat, model, n_samples=1000)
        t_pred.append(time.perf_counter() - t0)
        R = np.hypot(cat.x, cat.y)
        t0 = time.perf_counter()
        apply_all(R, cat.v_los - cat.v_los.mean(), float(np.median(R)))
        t_base.append(time.perf_counter() - t0)
    res = {"n_catalogues": len(cats), "model_load_s": t_load,
           "predict_median_s": float(np.median(t_pred)), "predict_max_s": float(np.max(t_pred)),
           "estimators_median_s": float(np.median(t_base)),
           "ratio_to_estimators": float(np.median(t_pred) / np.median(t_base)),
           "target_s": 1.0, "max_over_target": float(np.max(t_pred) / 1.0)}
    print(f"predict (shipped model, 1000 samples) on {len(cats)} Gaia Challenge catalogues: "
          f"median {res['predict_median_s'] * 1e3:.0f} ms, max {res['predict_max_s'] * 1e3:.0f} ms "
          f"(target < 1 s: max/target = {res['max_over_target']:.2f}); literature estimators alone "
          f"{res['estimators_median_s'] * 1e3:.1f} ms (ratio {res['ratio_to_estimators']:.0f}x); "
          f"model load {t_load:.1f} s")
    return res


if __name__ == "__main__":
    main()
