"""Run profiles: typed sections, defaults once, and an unknown key at any level refused with
one line naming it, its file and the closest valid key, before any work starts."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from galmass.config import CNNConfig, Config, FlowConfig, load_config
from galmass.errors import GalmassError

ROOT = Path(__file__).resolve().parents[1]
PROFILES = sorted((ROOT / "configs").glob("*.yaml"))


def _write(tmp_path, data) -> Path:
    p = tmp_path / "profile.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def _smoke(**changes) -> dict:
    cfg = yaml.safe_load((ROOT / "configs" / "smoke.yaml").read_text())
    cfg.update(changes)
    return cfg


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_shipped_profiles_load_typed(path):
    cfg = load_config(path)
    assert isinstance(cfg.cnn, CNNConfig) and isinstance(cfg.flow, FlowConfig)
    assert all(set(s) <= set(cfg.suites.names) for s in cfg.models.values())


def test_omitted_sections_take_the_dataclass_defaults(tmp_path):
    cfg = load_config(_write(tmp_path, {"profile": "tiny", "data_dir": str(tmp_path)}))
    ref = Config()
    for section in ("suites", "dataset", "cnn", "flow", "models", "evaluation", "real_galaxies"):
        assert getattr(cfg, section) == getattr(ref, section), section


def test_top_level_typo(tmp_path):
    cfg = _smoke()
    cfg["evalution"] = cfg.pop("evaluation")
    p = _write(tmp_path, cfg)
    with pytest.raises(GalmassError) as err:
        load_config(p)
    assert str(err.value) == f"unknown key 'evalution' in {p} (did you mean 'evaluation'?)"


@pytest.mark.parametrize("section, key, closest", [("cnn", "max_epoch", "max_epochs"),
                                                   ("flow", "lr_patiense", "lr_patience"),
                                                   ("dataset", "nlos", "n_los"),
                                                   ("suites", "n_galaxy", "n_galaxies"),
                                                   ("evaluation", "max_evals", "max_eval"),
                                                   ("real_galaxies", "modle", "model")])
def test_nested_typo(tmp_path, section, key, closest):
    cfg = _smoke()
    cfg.setdefault(section, {})[key] = 3
    p = _write(tmp_path, cfg)
    with pytest.raises(GalmassError) as err:
        load_config(p)
    assert str(err.value) == f"unknown key {key!r} in section {section} in {p} (did you mean {closest!r}?)"


def test_unknown_key_without_a_close_match_lists_the_valid_ones(tmp_path):
    p = _write(tmp_path, _smoke(zzz=1))
    with pytest.raises(GalmassError, match=r"unknown key 'zzz' in .* \(valid keys: cnn, data_dir, dataset"):
        load_config(p)


@pytest.mark.parametrize("changes, words", [
    ({"cnn": 5}, "section cnn must be a mapping"),
    ({"models": {"joint": ["cusp", "nihao"]}}, "model 'joint'"),
    ({"models": []}, "section models must map"),
    ({"flow": {"estimator": "realnvp"}}, "flow.estimator must be one of"),
    ({"flow": {"scale_with_n_stars": True}}, "needs flow.condition_on_n_stars"),
    ({"cnn": {"scale_free": True, "residual_target": False}}, "needs cnn.residual_target"),
    ({"real_galaxies": {"model": "nope"}}, "real_galaxies.model must be"),
    ({"cnn": {"channels": "wide"}}, "cnn.channels must be a list of integers"),
])
def test_bad_section_values(tmp_path, changes, words):
    with pytest.raises(GalmassError, match=words):
        load_config(_write(tmp_path, _smoke(**changes)))


def test_typo_fails_before_any_work(tmp_path):
    """`galmass suites build` with a typo in a nested section: one line, exit 2, nothing built."""
    cfg = _smoke(data_dir=str(tmp_path / "data"))
    cfg["cnn"]["max_epoch"] = cfg["cnn"].pop("max_epochs")
    p = _write(tmp_path, cfg)
    res = subprocess.run([sys.executable, "-m", "galmass.cli", "suites", "build", "--config", str(p)],
                         capture_output=True, text=True, timeout=300)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2 and len(lines) == 1, res.stderr
    assert lines[0] == f"galmass: error: unknown key 'max_epoch' in section cnn in {p} (did you mean 'max_epochs'?)"
    assert not (tmp_path / "data").exists()


def test_paths_are_declared_once_and_honour_data_and_output_dirs(tmp_path):
    from galmass.book.realdata import model_for_profile
    from galmass.inference.training import run_settings

    p = _write(tmp_path, _smoke(data_dir=str(tmp_path / "d"), output_dir=str(tmp_path / "out"),
                                real_galaxies={"model": "joint"}))
    cfg = load_config(p)
    paths = cfg.paths()
    assert paths["suites"] == tmp_path / "d" / "suites" and paths["dataset"] == tmp_path / "d" / "dataset"
    assert paths["models"] == tmp_path / "out" / "models" / "smoke"
    assert paths["results"] == tmp_path / "out" / "results" / "smoke"
    assert paths["book"] == tmp_path / "out" / "build" / "smoke"
    st = run_settings(cfg)
    assert st.models_dir == paths["models"] and st.results_dir == paths["results"]
    assert model_for_profile(cfg) == paths["models"] / "joint"
    res = subprocess.run([sys.executable, "-m", "galmass.cli", "paths", "--config", str(p), "--make"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    got = dict(line.split(" := ") for line in res.stdout.splitlines() if " := " in line)
    assert got.pop("CONFIG_FILES") == str(p)  # no base: the profile's own file only
    assert got == {f"PATH_{k.upper()}": str(v) for k, v in paths.items()}
    child = tmp_path / "child.yaml"
    child.write_text(f"base: {p.name}\nprofile: child\n")
    res = subprocess.run([sys.executable, "-m", "galmass.cli", "paths", "--config", str(child), "--make"],
                         capture_output=True, text=True, timeout=300)
    got = dict(line.split(" := ") for line in res.stdout.splitlines() if " := " in line)
    assert got["CONFIG_FILES"].split() == [str(child), str(p)]  # a change to the base reaches the child
    assert got["PATH_MODELS"] == str(tmp_path / "out" / "models" / "child")


def test_makefile_takes_its_paths_from_the_config():
    import re

    makefile = (ROOT / "Makefile").read_text()
    rules = [ln for ln in makefile.splitlines() if not ln.startswith(("#", "\t")) and not ln.startswith("clean")]
    assert not [ln for ln in rules if re.search(r"(^|[ :=])(data|models|results|build)/\$\(PROFILE\)", ln)]
    for var in ("PATH_SUITES", "PATH_DATASET", "PATH_MODELS", "PATH_RESULTS", "PATH_BOOK"):
        assert f"$({var})" in makefile
