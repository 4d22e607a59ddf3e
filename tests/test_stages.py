"""Stages declared once (galmass.stages): fingerprints that ignore documentation and follow
code, and Makefile prerequisites derived from the same declaration."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from galmass.stages import STAGES, SRC, fingerprint, stage_modules

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def src_copy(tmp_path) -> Path:
    dst = tmp_path / "galmass"
    shutil.copytree(SRC, dst, ignore=shutil.ignore_patterns("__pycache__", "default_model"))
    return dst


def _all(root=None) -> dict[str, str]:
    return {name: fingerprint(name, root) for name in STAGES}


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_copy_has_the_same_fingerprints(src_copy):
    assert _all(src_copy) == _all()


def test_docstrings_comments_and_layout_do_not_make_the_dataset_stale(src_copy):
    before = _all(src_copy)
    f = src_copy / "dataset" / "balance.py"
    text = f.read_text()
    # a function's docstring, the module docstring, a comment, blank lines
    m = re.search(r'def balance\(.*?"""(.*?)"""', text, re.S)
    assert m
    text = text.replace(m.group(1), m.group(1) + "\n    An added sentence of documentation.\n    ", 1)
    text = text.replace('"""Balancing the training suites', '"""Balancing (documented) the training suites', 1)
    text = text.replace("\ndef split_by_galaxy(", "\n# a new comment\n\n\ndef split_by_galaxy(", 1)
    f.write_text(text)
    assert _all(src_copy) == before


def test_estimators_code_makes_exactly_its_stages_stale(src_copy):
    before = _all(src_copy)
    _edit(src_copy / "observe" / "estimators.py", "from __future__ import annotations\n",
          "from __future__ import annotations\n\n_CHANGED = 1\n")
    after = _all(src_copy)
    changed = {k for k in STAGES if after[k] != before[k]}
    assert changed == {k for k, s in STAGES.items() if "observe/estimators" in stage_modules(s, SRC)}
    assert changed == {"dataset", "metrics", "notebooks"}


def test_calibration_code_makes_exactly_its_stages_stale(src_copy):
    before = _all(src_copy)
    _edit(src_copy / "evaluation" / "calibration.py", "from __future__ import annotations\n",
          "from __future__ import annotations\n\n_CHANGED = 1\n")
    after = _all(src_copy)
    assert {k for k in STAGES if after[k] != before[k]} == {"metrics", "notebooks"}


def test_makefile_prerequisites_come_from_the_declaration(tmp_path):
    out = subprocess.run([sys.executable, str(SRC / "stages.py"), "--make"], capture_output=True, text=True,
                         check=True).stdout
    variables = dict(re.findall(r"^STAGE_SRC_(\w+) := (.*)$", out, re.M))
    assert set(variables) == set(STAGES)
    for name, stage in STAGES.items():
        files = set(variables[name].split())
        assert files == {f"src/galmass/{m}.py" for m in stage_modules(stage, SRC)}
        assert all((ROOT / f).is_file() for f in files)
    assert "src/galmass/evaluation/calibration.py" in variables["metrics"]
    assert "src/galmass/inference/ood.py" in variables["metrics"]
    assert "src/galmass/observe/estimators.py" in variables["dataset"]
    assert "src/galmass/observe/inputs.py" in variables["dataset"]
    assert "src/galmass/dataset/readers.py" not in variables["dataset"]  # reading is not building
    makefile = (ROOT / "Makefile").read_text()
    for name in ("suites", "dataset", "models", "metrics", "notebooks"):
        assert f"$(STAGE_SRC_{name})" in makefile
    # no hand-typed code lists in the stage rules (only the rules that write the generated
    # build/stages.mk and build/paths-<profile>.mk name their generators)
    assert not re.search(r"^\$\((?!STAGES_MK|PATHS_MK)\w+\):.*src/galmass/[\w/]+\.py", makefile, re.M)


def test_stage_order_is_a_chain_of_declared_stages():
    for stage in STAGES.values():
        assert all(a in STAGES for a in stage.after)
        for m in stage.modules:
            path = SRC / m.replace(".", "/")
            assert m == "*" or path.is_dir() or path.with_suffix(".py").is_file(), m
