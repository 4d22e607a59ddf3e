"""Clean HTML tables for the book: units in the headers, formatted values, no dtype rows."""

from __future__ import annotations

import html
from typing import Any, Mapping

import numpy as np

__all__ = ["html_table", "show_table"]


def _cell(value: Any, fmt: str | None) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return "–"
        return format(float(value), fmt or ".3g")
    return html.escape(str(value))


def html_table(table, units: Mapping[str, str] | None = None, caption: str | None = None) -> str:
    """An astropy ``Table`` as one HTML ``<table>``: header ``name [unit]`` (the column's
    unit, or ``units[name]``), values in the column's ``format`` (``.3g`` for floats),
    booleans as yes/no, NaN as an en dash; no dtype row, no length line."""
    units = dict(units or {})
    heads = []
    for name in table.colnames:
        col = table[name]
        unit = units.get(name) or (str(col.unit) if getattr(col, "unit", None) is not None else "")
        heads.append(html.escape(name) + (f" [{html.escape(unit)}]" if unit else ""))
    rows = []
    for row in table:
        cells = [_cell(row[name], getattr(table[name], "format", None)) for name in table.colnames]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (f'<table class="galmass-table">{cap}<thead><tr>' + "".join(f"<th>{h}</th>" for h in heads)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def show_table(table, units: Mapping[str, str] | None = None, caption: str | None = None):
    """:func:`html_table` as an IPython HTML object (what a notebook cell displays)."""
    from IPython.display import HTML

    return HTML(html_table(table, units, caption))
