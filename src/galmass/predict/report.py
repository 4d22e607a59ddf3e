"""A prediction's outputs: text summary, table file and profile plot, written atomically and never over an input."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from galmass.errors import GalmassError, one_line
from galmass.files import atomic_path, refuse_input_as_output, write_problem


# --------------------------------------------------------------------------- output
def format_prediction(table) -> str:
    """Human-readable summary: scalars, the profile table and the estimators."""
    m = table.meta
    lines = [f"# {m.get('catalogue', '')}: {m['n_stars']} stars, R_h = {m['R_h']:.4g} kpc, "
             f"sigma_los = {m['sigma_los']:.4g} km/s, v_p98 = {m['v_p98']:.4g} km/s"
             + (f" (observed sigma {m['sigma_los_obs']:.4g} km/s, rms error {m['v_err_rms']:.3g} km/s)"
                if m.get("v_err_rms") is not None else "")]
    cols = [c for c in table.colnames if c.startswith("log10_m_")]
    lines.append(f"{'f':>5} {'r_kpc':>9} " + " ".join(f"{c:>13}" for c in cols))
    for row in table:
        lines.append(f"{row['f']:5.2f} {row['r_kpc']:9.4f} " + " ".join(f"{row[c]:13.3f}" for c in cols))
    lines.append("# literature estimators: name, r_kpc, log10_m")
    for key, (r, lm) in m["estimators"].items():
        lines.append(f"# {key:<15s} {r:9.4f} {lm:12.3f}")
    ens = m.get("members")
    if ens:  # an ensemble: each member's median at R_h and how far apart they are
        medians = ", ".join(f"{n} {v:.3f}" for n, v in zip(ens["names"], ens["median_at_r_half"]))
        limit = f" (flagged above {ens['threshold']:.1f})" if ens.get("threshold") is not None else ""
        lines.append(f"# ensemble members, median log10 M(<R_h): {medians}; disagreement D = "
                     f"{ens['disagreement']:.2f}{limit}")
    return "\n".join(lines)


def _table_inputs(table) -> list[str]:
    """The input catalogue file a prediction table was made from (``catalogue_path``, or
    ``catalogue`` when that names an existing file)."""
    m = getattr(table, "meta", {}) or {}
    inputs = [m.get("catalogue_path")]
    cat = m.get("catalogue")
    if isinstance(cat, str) and cat and Path(cat).is_file():
        inputs.append(cat)
    return [str(i) for i in inputs if i]


def _plot_format(path: Path) -> str:
    """The image format of a plot file, from its suffix (``png`` without one)."""
    from matplotlib.figure import Figure

    fmt = path.suffix[1:].lower() or "png"
    supported = Figure().canvas.get_supported_filetypes()
    if fmt not in supported:
        raise GalmassError(f"cannot save a plot as .{fmt} ({path}); use one of "
                           f"{', '.join('.' + k for k in sorted(supported))}, e.g. profile.png")
    return fmt


def check_outputs(outputs: Mapping[str, str | Path | None], inputs: list = ()) -> None:
    """Refuse, before any work, outputs that would destroy data or cannot be written.

    Parameters
    ----------
    outputs : mapping
        Option name (``"--out"``, ``"--plot"``; used in the message) -> path, or None when
        not asked for. A ``--plot`` path must have an image suffix matplotlib writes.
    inputs : list of paths
        Files that must not be overwritten (the catalogue, the model's files).

    Raises
    ------
    GalmassError
        One line: an output names an input or another output
        (:func:`galmass.files.refuse_input_as_output`), is a directory, or lies in a
        directory that does not exist.
    """
    refuse_input_as_output(dict(outputs), [i for i in inputs if i is not None])
    for opt, path in outputs.items():
        if path is None:
            continue
        p = Path(path)
        if str(path) == "":
            raise GalmassError(f"{opt} is an empty file name; give a file, e.g. "
                               f"{'profile.png' if 'plot' in opt else 'profile.csv'}")
        if p.is_dir():
            raise GalmassError(f"{opt} {str(path)!r} is a directory, not a file name; give a file, "
                               f"e.g. {p / ('profile.png' if 'plot' in opt else 'profile.csv')}")
        parent = p.parent
        if not parent.is_dir():
            raise GalmassError(f"{opt} {p}: the directory {parent} does not exist" if not parent.exists()
                               else f"{opt} {p}: {parent} is not a directory")
        if "plot" in opt:
            _plot_format(p)


def write_prediction(table, path: str | Path) -> Path:
    """Write the profile: ``*.ecsv`` keeps the metadata, anything else is plain CSV (columns only).

    The file is written atomically (:func:`galmass.files.atomic_path`): if the write fails
    the previous file at ``path`` is left as it was. ``path`` may not be the catalogue the
    table was made from (``meta["catalogue_path"]``).
    """
    import warnings

    p = Path(path)
    check_outputs({"the output": p}, _table_inputs(table))
    fmt = "ascii.ecsv" if p.suffix.lower() == ".ecsv" else "ascii.csv"
    try:
        with atomic_path(p) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table.write(tmp, format=fmt, overwrite=True)
    except GalmassError:
        raise
    except OSError as exc:
        raise GalmassError(f"cannot write {p}: {write_problem(exc) or one_line(exc)}") from None
    return p


def plot_profile(table, path: str | Path) -> Path:
    """Plot the posterior profile (median and 16-84 % band vs r [kpc], log M axis) and the
    literature estimators (gray markers with black edges); save it to ``path``.

    The image format follows the suffix of ``path`` (png without one). The file is written
    atomically (:func:`galmass.files.atomic_path`) and may not be the input catalogue.
    """
    from matplotlib.figure import Figure

    p = Path(path)
    check_outputs({"the plot": p}, _table_inputs(table))
    fmt = _plot_format(p)
    m = table.meta
    r = np.asarray(table["r_kpc"], float)
    fig = Figure(figsize=(5.5, 4.2))
    ax = fig.subplots()
    ax.fill_between(r, 10 ** np.asarray(table["log10_m_p16"]), 10 ** np.asarray(table["log10_m_p84"]),
                    color="C0", alpha=0.3, lw=0, label="16-84 %")
    ax.plot(r, 10 ** np.asarray(table["log10_m_p50"]), color="C0", lw=2, label="posterior median")
    first, k = True, 0
    for key, (r_est, lm) in m.get("estimators", {}).items():
        if not np.isfinite(lm):
            continue
        ax.plot(r_est, 10 ** lm, "o", color="0.6", mec="k", ms=6, label="estimators" if first else None)
        ax.annotate(key, (r_est, 10 ** lm), textcoords="offset points", fontsize=7,
                    xytext=(4, -10) if k % 2 == 0 else (-4, 6), ha="left" if k % 2 == 0 else "right")
        first = False
        k += 1
    ax.set_yscale("log")
    ax.set_xlabel("r [kpc]")
    ax.set_ylabel(r"$M(<r)$ [M$_\odot$]")
    title = Path(str(m.get("catalogue", ""))).name
    if m.get("ood"):
        title += "  (outside the training domain)"
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    try:
        with atomic_path(p) as tmp:
            fig.savefig(tmp, dpi=120, format=fmt)
    except GalmassError:
        raise
    except (OSError, ValueError) as exc:
        raise GalmassError(f"cannot write the plot {p}: {write_problem(exc) or one_line(exc)}") from None
    return p
