"""Cell tags of an executed notebook for the book: prose, figures and tables before code.

Jupyter Book hides or removes cells by tag. :func:`tag_notebook` sets, for every cell that
its jupytext source did not tag itself:

- the papermill ``parameters`` cell and the ``injected-parameters`` cell papermill adds:
  ``remove-cell`` (the run profile is stated in each chapter's prose);
- code cells that only import and set up (every line an import, ``cfg = load_config``-like
  assignment or blank): ``remove-input`` (their output, if any, stays);
- every other code cell: ``hide-input`` (the analysis is folded and expandable).

``python -m galmass.book.tags NOTEBOOK.ipynb`` tags a notebook in place (written atomically).
Standard library only.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["tag_notebook", "cell_tag"]

_BOOK_TAGS = {"remove-cell", "remove-input", "hide-input", "hide-cell", "remove-output", "hide-output"}


def _is_setup(source: str) -> bool:
    lines = [ln.strip() for ln in source.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if not lines:
        return True
    cont = False
    for ln in lines:
        if cont or ln.startswith(("import ", "from ")):
            cont = ln.endswith(("(", ",", "\\")) or (cont and not ln.endswith(")"))
            continue
        return False
    return True


def cell_tag(cell: dict) -> str | None:
    """The tag :func:`tag_notebook` gives a cell (None: leave it)."""
    tags = set(cell.get("metadata", {}).get("tags", []))
    if tags & _BOOK_TAGS or cell.get("cell_type") != "code":
        return None
    if tags & {"parameters", "injected-parameters"}:
        return "remove-cell"
    src = cell.get("source", "")
    return "remove-input" if _is_setup("".join(src) if isinstance(src, list) else src) else "hide-input"


def tag_notebook(path: str | Path) -> int:
    """Tag the cells of the notebook at ``path`` in place; return how many were tagged."""
    p = Path(path)
    nb = json.loads(p.read_text())
    n = 0
    for cell in nb.get("cells", []):
        tag = cell_tag(cell)
        if tag:
            cell.setdefault("metadata", {}).setdefault("tags", []).append(tag)
            n += 1
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=p.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(nb, fh, indent=1)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n


if __name__ == "__main__":  # pragma: no cover - used by the Makefile
    for arg in sys.argv[1:]:
        tag_notebook(arg)
