"""The package's shape follows the pipeline (issue #16): subpackages by stage, imports only
running down the stages, no import cycle, no module over ~500 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "galmass"

#: Pipeline order: a module may import modules of its own level or of levels above it in
#: this list, never below. ``config`` knows the suite names, so it sits after ``sources``.
LEVELS = [
    ("errors", "constants", "files", "parallel", "stages"),
    ("physics",),
    ("sources",),
    ("config",),
    ("observe",),
    ("dataset",),
    ("inference",),
    ("evaluation",),
    ("predict",),
    ("book",),
    ("cli",),
]
MAX_LINES = 500


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py")}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """galmass modules imported by a module (anywhere in it, lazy imports included)."""
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        out.update(n for n in names if n in modules and n != me)
    return out


def _level(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None  # the top-level package (its public API)
    for k, names in enumerate(LEVELS):
        if parts[1] in names:
            return k
    raise AssertionError(f"{module} is in no level of LEVELS: place it in the pipeline")


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(p, mods) for m, p in mods.items()}


def test_imports_only_run_down_the_pipeline():
    bad = []
    for mod, deps in _graph().items():
        lv = _level(mod)
        if lv is None:
            continue
        for d in deps:
            ld = _level(d)
            if ld is not None and ld > lv:
                bad.append(f"{mod} imports {d} (a later stage)")
    assert not bad, bad


def test_no_import_cycle():
    graph = _graph()
    # a package's __init__ re-exporting its modules is not a dependency of those modules
    graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(m, stack):
        state[m] = 1
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d, stack + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, cycles


def test_the_checks_find_what_they_look_for(tmp_path, monkeypatch):
    """The two checks above fail on a planted upward import and a planted cycle."""
    pkg = tmp_path / "galmass"
    for d, text in {"physics/a.py": "from galmass.dataset import b\n",
                    "dataset/b.py": "from galmass.physics import a\n",
                    "physics/__init__.py": "", "dataset/__init__.py": "", "__init__.py": ""}.items():
        (pkg / d).parent.mkdir(parents=True, exist_ok=True)
        (pkg / d).write_text(text)
    monkeypatch.setitem(globals(), "SRC", pkg)
    with pytest.raises(AssertionError, match="a later stage"):
        test_imports_only_run_down_the_pipeline()
    with pytest.raises(AssertionError, match="galmass.physics.a"):
        test_no_import_cycle()


def test_no_module_over_500_lines():
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, long


def test_subpackages_read_like_the_pipeline():
    """One subpackage per stage, each with a docstring saying what it holds."""
    import importlib

    for names in LEVELS[1:]:
        for name in names:
            path = SRC / name
            if path.is_dir():
                mod = importlib.import_module(f"galmass.{name}")
                assert mod.__doc__ and len(mod.__doc__.strip()) > 20, name
    assert sorted(p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()) == sorted(
        ["physics", "sources", "observe", "dataset", "inference", "evaluation", "predict", "book", "cli"])
