"""Which projections each model is evaluated on (the calibration verdict uses every one)."""

import dataclasses

from galmass.config import load_config
from galmass.evaluation.predictions import eval_sets
from galmass.inference.training import run_settings


def test_joint_validation_sets_take_all_projections_with_samples():
    cfg = load_config("configs/default.yaml")
    st = run_settings(cfg)
    assert st.max_calibration_eval and st.max_calibration_eval > st.max_eval
    joint = eval_sets(cfg, st, st.models["joint"])
    for s in ("cusp", "core"):
        assert joint[f"validation_{s}"]["max_n"] == st.max_calibration_eval
        assert joint[f"validation_{s}"]["n_stored"] == st.max_calibration_eval
    assert joint["train"]["max_n"] == st.max_train_eval and joint["train"]["n_stored"] == st.max_samples_stored
    assert joint["test_heldout"]["max_n"] == st.max_eval
    # a single-suite model keeps the ordinary caps, also on its own validation set
    cusp = eval_sets(cfg, st, st.models["cusp"])
    assert cusp["validation_cusp"]["max_n"] == st.max_eval
    assert cusp["validation_cusp"]["n_stored"] == st.max_samples_stored
    # without the option every set has the ordinary caps
    plain = eval_sets(cfg, dataclasses.replace(st, max_calibration_eval=None), st.models["joint"])
    assert plain["validation_cusp"]["max_n"] == st.max_eval
