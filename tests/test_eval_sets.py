"""Which projections each model is evaluated on (the calibration verdict uses every one), and
that no reported set comes from the validation split (issue #17)."""

import dataclasses

import pytest

from galmass.config import load_config
from galmass.evaluation.predictions import eval_sets, set_names
from galmass.inference.training import run_settings


def test_joint_test_sets_take_all_projections_with_samples():
    cfg = load_config("configs/default.yaml")
    st = run_settings(cfg)
    assert st.max_calibration_eval and st.max_calibration_eval > st.max_eval
    joint = eval_sets(cfg, st, st.models["joint"])
    train, held = st.models["joint"], [s for s in cfg.suites.names if s not in st.models["joint"]]
    assert held, "the default profile has a held-out suite"
    for s in train:
        assert joint[f"test_{s}"]["max_n"] == st.max_calibration_eval
        assert joint[f"test_{s}"]["n_stored"] == st.max_calibration_eval
    assert joint["train"]["max_n"] == st.max_train_eval and joint["train"]["n_stored"] == st.max_samples_stored
    assert joint[f"test_{held[0]}"]["max_n"] == st.max_eval
    # a single-suite model keeps the ordinary caps, also on its own test set
    one = train[0]
    single = eval_sets(cfg, st, st.models[one])
    assert single[f"test_{one}"]["max_n"] == st.max_eval
    assert single[f"test_{one}"]["n_stored"] == st.max_samples_stored
    # without the option every set has the ordinary caps
    plain = eval_sets(cfg, dataclasses.replace(st, max_calibration_eval=None), st.models["joint"])
    assert plain[f"test_{one}"]["max_n"] == st.max_eval


@pytest.mark.parametrize("profile", ["smoke", "default", "observed", "paper"])
def test_reported_sets_are_test_or_held_out(profile):
    """Every set a model is evaluated on is its train split or a test split, never validation;
    a training suite's test galaxies exist in every profile."""
    cfg = load_config(f"configs/{profile}.yaml")
    st = run_settings(cfg)
    assert cfg.dataset.test_fraction > 0 and cfg.dataset.validation_fraction > 0
    for model, suites in st.models.items():
        sets = eval_sets(cfg, st, suites)
        assert {spec["split"] for spec in sets.values()} == {"train", "test"}
        assert all(spec["split"] == "test" for name, spec in sets.items() if name != "train")
        assert set(sets) == {"train"} | {f"test_{s}" for s in cfg.suites.names}
        assert not any("validation" in name for name in set_names(cfg, st, model))
