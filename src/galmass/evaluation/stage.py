"""The evaluation stage of a profile (``galmass evaluate``): every model's predictions on its
evaluation sets (``results/<profile>/predictions/``), then ``results/<profile>/metrics.json``."""

from __future__ import annotations

from pathlib import Path

import h5py
from tqdm import tqdm

from galmass.config import Config, load_config
from galmass.errors import GalmassError
from galmass.evaluation.metrics import write_metrics
from galmass.evaluation.predictions import eval_sets, model_id, predict_set, write_predictions
from galmass.files import directory_lock
from galmass.inference.model import MassModel
from galmass.inference.training import RunSettings, run_settings

__all__ = ["evaluate_all"]


def evaluate_all(config: str | Path, progress: bool = True) -> Path:
    """Predictions of every model on its evaluation sets, then ``metrics.json``."""
    cfg = load_config(config)
    st = run_settings(cfg)
    with directory_lock(st.results_dir, f"results of profile {cfg.profile}"):
        return _evaluate_all(cfg, st, progress)


def _evaluate_all(cfg: Config, st: RunSettings, progress: bool) -> Path:
    for name, suites in st.models.items():
        model = MassModel.load(st.models_dir / name)
        sets = eval_sets(cfg, st, suites)
        fingerprint = model_id(st.models_dir / name)
        for set_name, spec in tqdm(sets.items(), desc=f"evaluate {name}", disable=not progress):
            path = st.results_dir / "predictions" / name / f"{set_name}.h5"
            mid = f"{fingerprint} max_n={spec['max_n']} stored={spec['n_stored']} samples={st.flow.n_samples}"
            if path.exists():
                with h5py.File(path, "r") as f:
                    if f.attrs.get("model_id", "") == mid:
                        continue  # these predictions of this very model exist: keep them
            try:
                data = predict_set(model, cfg, spec["suites"], spec["split"], spec["max_n"],
                                   cfg.seed, st.flow.n_samples, spec["n_stored"])
            except GalmassError as exc:  # e.g. no projections in this set for a small profile
                print(f"evaluate {name}/{set_name}: skipped ({exc})")
                continue
            write_predictions(path, data, mid)
    return write_metrics(cfg, st)
