"""The book shows prose, figures and tables before code (issue #20): cell tags and clean tables."""

import json

import numpy as np
from astropy.table import Table

from galmass.book.tables import html_table
from galmass.book.tags import cell_tag, tag_notebook


def _code(src, tags=()):
    return {"cell_type": "code", "source": src, "metadata": {"tags": list(tags)}, "outputs": []}


def test_cells_are_tagged_for_the_book(tmp_path):
    cells = [_code("config = 'x'", ["parameters"]), _code("config = 'y'", ["injected-parameters"]),
             _code("import numpy as np\nfrom galmass.book import (figures,\n    tables)\n"),
             _code("fig = figures.plot(x)"), _code("x = 1", ["remove-input"]),
             {"cell_type": "markdown", "source": "# Title", "metadata": {}}]
    assert [cell_tag(c) for c in cells] == ["remove-cell", "remove-cell", "remove-input", "hide-input", None, None]
    p = tmp_path / "nb.ipynb"
    p.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert tag_notebook(p) == 4
    tags = [c["metadata"].get("tags", []) for c in json.loads(p.read_text())["cells"]]
    assert tags[0] == ["parameters", "remove-cell"] and tags[3] == ["hide-input"] and tags[4] == ["remove-input"]
    assert tag_notebook(p) == 0  # idempotent


def test_html_tables_have_units_and_no_dtype_row():
    t = Table({"name": ["Draco", "Fornax"], "r_half": [0.2, 0.7], "ok": [True, False], "m": [np.nan, 7.1]})
    t["r_half"].unit = "kpc"
    t["m"].format = ".2f"
    h = html_table(t, units={"m": "dex Msun"})
    assert "<th>r_half [kpc]</th>" in h and "<th>m [dex Msun]</th>" in h
    assert "<td>7.10</td>" in h and "<td>–</td>" in h and "<td>yes</td>" in h
    assert "float64" not in h and "str6" not in h and "Table length" not in h
