"""Catalogue readers: astropy tables (CSV, ECSV, FITS, ...), Walker ``*_spec.dat`` files and Gaia Challenge mocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from galmass.errors import GalmassError, one_line
from galmass.predict.catalogue import COLUMN_ALIASES, Catalog, _FORMATS, _TABLE_SUFFIXES, _UNITS, _assemble, _positive


# --------------------------------------------------------------------------- readers
def read_catalog(source: Any, distance_kpc: float | None = None, p_member_min: float = 0.5, *,
                 centre: Any = None, format: str = "auto", name: str | None = None) -> Catalog:
    """Read a star catalogue (see the module docstring for columns, units and centring).

    Parameters
    ----------
    source : path, astropy Table or dict of arrays
        CSV / ECSV / FITS file (or another format astropy reads), a Walker ``*_spec.dat``
        or a Gaia Challenge file (chosen by ``format``), or an in-memory table.
    distance_kpc : float, optional
        Distance [kpc]; needed for ``ra, dec`` (else taken from a ``distance`` column,
        median of its values, or the table metadata / FITS header).
    p_member_min : float
        Stars with ``p_member`` below this are dropped (ignored without ``p_member``).
    centre : None, "origin" or (float, float)
        None: robust weighted centre (:func:`find_centre`); ``"origin"``: positions are
        already centred (x, y only); a pair: the centre, ``(ra, dec)`` [deg] for sky
        positions or ``(x, y)`` [kpc].
    format : {"auto", "table", "walker", "gaia"}
        Reader to use.
    name : str, optional
        Name used in messages (default: the path, or ``"table"``).

    Returns
    -------
    Catalog
    """
    if format not in _FORMATS:
        raise GalmassError(f"unknown catalogue format {format!r}; use one of {', '.join(_FORMATS)}")
    if isinstance(source, (str, Path)):
        path = Path(source)
        fmt = _detect_format(path) if format == "auto" else format
        if fmt == "walker":
            return read_walker_catalog(path, distance_kpc, p_member_min, centre=centre, name=name)
        if fmt == "gaia":
            return read_gaia_challenge(path, centre="origin" if centre is None else centre, name=name)
        table = _read_table(path)
        name = name or str(path)
        meta = {"path": str(path)}
    else:
        if format not in ("auto", "table"):
            raise GalmassError(f"format={format!r} needs a file path; in-memory catalogues are tables")
        table = _as_table(source)
        name = name or "table"
        meta = {}
    return _from_table(table, name, distance_kpc, p_member_min, centre, meta)


def _detect_format(path: Path) -> str:
    if not path.is_file():
        raise GalmassError(f"catalogue {path} does not exist" if not path.exists()
                           else f"catalogue {path} is not a file")
    low = path.name.lower()
    if low.endswith("_spec.dat"):
        return "walker"
    if low.endswith(_TABLE_SUFFIXES):
        return "table"
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError as exc:
        raise GalmassError(f"cannot read catalogue {path}: {one_line(exc)}") from None
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    for line in head.decode("latin-1").splitlines():
        tok = line.split()
        if not tok or tok[0].startswith("#"):
            continue
        try:
            [float(t) for t in tok]
        except ValueError:
            return "table"  # a header line: an ASCII table
        return {25: "walker", 6: "gaia", 7: "gaia"}.get(len(tok), "table")
    return "table"


def _read_table(path: Path):
    from astropy.table import Table

    if not path.is_file():
        raise GalmassError(f"catalogue {path} does not exist" if not path.exists()
                           else f"catalogue {path} is not a file")
    low = path.name.lower()
    kwargs: dict[str, Any] = {}
    if not low.endswith(_TABLE_SUFFIXES):
        kwargs["format"] = "ascii"
    elif low.endswith(".csv"):
        kwargs["format"] = "ascii.csv"
    elif low.endswith(".ecsv"):
        kwargs["format"] = "ascii.ecsv"
    try:
        if path.stat().st_size == 0:
            raise GalmassError(f"catalogue {path} is empty (0 bytes)")
    except OSError as exc:
        raise GalmassError(f"cannot read catalogue {path}: {one_line(exc)}") from None
    source: Any = path
    if "format" in kwargs and _starts_with_bom(path):  # a UTF-8 byte-order mark: read the text without it
        try:
            source = path.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise GalmassError(f"cannot read catalogue {path} as UTF-8 text: {one_line(exc)[:200]}") from None
    try:
        import warnings

        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            table = Table.read(source, **kwargs)
    except Exception as exc:  # astropy raises many types for unreadable files
        why = (f"{type(exc).__name__}: {one_line(exc)[:200]}" if type(exc).__name__ != "IORegistryError"
               else "its format cannot be told from its name or contents")
        raise GalmassError(f"cannot read catalogue {path} as a table (CSV, ECSV or FITS): {why}") from None
    if len(table) == 0:
        raise GalmassError(f"catalogue {path} has no rows (only a header, or nothing)")
    if table.colnames and table.colnames[0].startswith("\ufeff"):
        table.rename_column(table.colnames[0], table.colnames[0].lstrip("\ufeff") or "col1")
    return table


def _starts_with_bom(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(3) == b"\xef\xbb\xbf"
    except OSError:
        return False


def _as_table(source: Any):
    from astropy.table import Table

    if isinstance(source, Table):
        return source
    if isinstance(source, Mapping):
        try:
            return Table({str(k): np.asarray(v) for k, v in source.items()})
        except Exception as exc:
            raise GalmassError(f"cannot make a table of the catalogue dict: {one_line(exc)}") from None
    raise GalmassError(f"a catalogue must be a path, an astropy Table or a dict of arrays, "
                       f"got {type(source).__name__}")


def _find_column(table, role: str) -> str | None:
    lower = {c.lower(): c for c in table.colnames}
    for alias in COLUMN_ALIASES[role]:
        if alias in lower:
            return lower[alias]
    return None


def _column(table, colname: str, role: str, name: str) -> np.ndarray:
    """Float values of a column in the unit of its role (masked entries become NaN).

    Refuses columns that are not one number per star: text, booleans (True/False would
    silently become 1/0), and vector columns (several numbers per row).
    """
    import astropy.units as u

    col = table[colname]
    label = repr(colname) if colname == role else f"{colname!r} ({role})"
    kind = col.dtype.kind
    what = "membership probabilities" if role == "p_member" else f"{role} values [{_UNITS[role]}]"
    if kind == "b":
        raise GalmassError(f"{name}: column {label} holds booleans (True/False), not numbers; give "
                           f"the {what} themselves")
    if kind not in "iuf":
        raise GalmassError(f"{name}: column {label} is not numeric (dtype {col.dtype}); fix or remove "
                           f"the non-numeric entries")
    if getattr(col, "ndim", 1) != 1:
        raise GalmassError(f"{name}: column {label} holds {'x'.join(map(str, col.shape[1:]))} values per "
                           f"star (a vector column); give one number per star")
    values = np.ma.filled(np.ma.asarray(col, dtype=float), np.nan)
    unit = getattr(col, "unit", None)
    target = _UNITS[role]
    if unit is not None and target and str(unit) not in ("", "dimensionless"):
        try:
            with np.errstate(all="ignore"):  # overflow -> inf, refused by _check_finite
                values = (values * u.Unit(unit)).to_value(u.Unit(target))
        except u.UnitConversionError:
            if role in ("x", "y") and u.Unit(unit).physical_type == "angle":
                raise GalmassError(f"{name}: column {colname!r} is in {unit}, an angle: positions look "
                                   f"like sky coordinates, not kpc; give them as ra/dec [deg] with "
                                   f"--distance") from None
            raise GalmassError(f"{name}: column {colname!r} has unit {unit}, which cannot be "
                               f"converted to {target}; give {role} in {target}") from None
        except ValueError:
            raise GalmassError(f"{name}: column {colname!r} has an unknown unit {str(unit)!r}; give "
                               f"{role} in {target}") from None
    return np.asarray(values, dtype=float)


def _meta_distance(table) -> Any:
    for key, value in table.meta.items():
        if str(key).lower() in COLUMN_ALIASES["distance"]:
            return value
    return None


def _from_table(table, name: str, distance_kpc, p_member_min: float, centre: Any,
                meta: dict | None = None) -> Catalog:
    found = {role: _find_column(table, role) for role in COLUMN_ALIASES}
    if found["x"] and found["y"]:
        kind, pos = "plane", ("x", "y")
    elif found["ra"] and found["dec"]:
        kind, pos = "sky", ("ra", "dec")
    else:
        kind, pos = None, ()
    missing = []
    if kind is None:
        have_xy = [r for r in ("x", "y") if found[r]]
        have_sky = [r for r in ("ra", "dec") if found[r]]
        if have_sky and not have_xy:
            missing += [r for r in ("ra", "dec") if not found[r]]
        elif have_xy and not have_sky:
            missing += [r for r in ("x", "y") if not found[r]]
        else:
            missing.append("x, y [kpc] or ra, dec [deg]")
    if not found["v_los"]:
        missing.append("v_los [km/s]")
    if missing:
        aliases = "; ".join(f"{r}: {'/'.join(COLUMN_ALIASES[r][:4])}" for r in ("x", "ra", "v_los"))
        have = ", ".join(table.colnames[:12]) + (", ..." if len(table.colnames) > 12 else "")
        sep = [d for d in (";", "\t", "|", ":") if len(table.colnames) == 1 and d in table.colnames[0]]
        hint = (f"; the file seems to separate its values by {sep[0]!r}: a CSV file needs commas "
                f"(or save it as ECSV / FITS)" if sep else "")
        raise GalmassError(one_line(f"{name} lacks column(s) {', '.join(missing)} (it has: {have}; "
                                    f"accepted names include {aliases}){hint}"))
    a = _column(table, found[pos[0]], pos[0], name)
    b = _column(table, found[pos[1]], pos[1], name)
    v = _column(table, found["v_los"], "v_los", name)
    v_err = _column(table, found["v_err"], "v_err", name) if found["v_err"] else None
    p = _column(table, found["p_member"], "p_member", name) if found["p_member"] else None
    if kind == "sky" and distance_kpc is None:
        if found["distance"]:
            d = _column(table, found["distance"], "distance", name)
            d = d[np.isfinite(d)]
            distance_kpc = float(np.median(d)) if d.size else None
        else:
            distance_kpc = _meta_distance(table)
    return _assemble(name, "table", kind, a, b, v, v_err, p, distance_kpc=distance_kpc,
                     p_member_min=p_member_min, centre=centre, meta=meta or {})


def _loadtxt(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise GalmassError(f"catalogue {path} does not exist" if not path.exists()
                           else f"catalogue {path} is not a file")
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = np.loadtxt(path, ndmin=2, encoding="utf-8-sig")
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise GalmassError(f"cannot read {path} as a {what} file: {one_line(exc)[:200]}") from None
    if data.size == 0:
        raise GalmassError(f"catalogue {path} has no rows")
    return data


def read_walker_catalog(path: str | Path, distance_kpc: float | None, p_member_min: float = 0.5, *,
                        centre: Any = None, name: str | None = None) -> Catalog:
    """Read a GravSphere / Walker ``*_spec.dat`` file (25 whitespace-separated columns).

    Columns used: 0, 1 RA, Dec [deg]; 6 heliocentric ``v_los`` [km/s] (rows with 0 have no
    velocity and are dropped); 7 its error [km/s]; 15 membership probability. Positions
    are projected about the robust centre (or ``centre = (ra, dec)`` [deg]) at
    ``distance_kpc``.
    """
    path = Path(path)
    name = name or str(path)
    data = _loadtxt(path, "Walker/GravSphere *_spec.dat")
    if data.shape[1] != 25:
        raise GalmassError(f"{name} is not a Walker/GravSphere *_spec.dat file: expected 25 columns, "
                           f"found {data.shape[1]}")
    if distance_kpc is None:
        raise GalmassError(f"{name} gives RA/Dec only: pass its distance with --distance KPC "
                           f"(distance_kpc=...), e.g. 76 for Draco")
    has_v = data[:, 6] != 0
    if not np.any(has_v):
        raise GalmassError(f"{name}: no star has a velocity (column 7, v_los, is 0 in all {len(data)} rows)")
    data = data[has_v]
    return _assemble(name, "walker", "sky", data[:, 0], data[:, 1], data[:, 6], data[:, 7], data[:, 15],
                     distance_kpc=distance_kpc, p_member_min=p_member_min, centre=centre,
                     meta={"n_dropped_no_velocity": int(np.sum(~has_v)), "path": str(path)})


def read_gaia_challenge(path: str | Path, *, centre: Any = "origin", v_err: float | None = None,
                        name: str | None = None) -> Catalog:
    """Read a Gaia Challenge mock (columns ``x y z vx vy vz`` [kpc, km/s]; a 7th, mass, is ignored).

    The galaxy is seen along ``z``: ``x, y`` are the sky positions and ``v_los = vz``. The
    mocks are centred on the origin, so ``centre="origin"`` by default (``None`` finds a
    robust centre). ``v_err`` [km/s] is a constant velocity error to attach (e.g. 2 for the
    ``*_err.dat`` twins, which include 2 km/s errors in ``vz`` but no error column).
    """
    path = Path(path)
    name = name or str(path)
    data = _loadtxt(path, "Gaia Challenge (x y z vx vy vz)")
    if data.shape[1] not in (6, 7):
        raise GalmassError(f"{name} is not a Gaia Challenge file: expected 6 columns "
                           f"(x y z vx vy vz), found {data.shape[1]}")
    err = None if v_err is None else np.full(len(data), _positive(v_err, "v_err [km/s]"))
    return _assemble(name, "gaia", "plane", data[:, 0], data[:, 1], data[:, 5], err, None,
                     distance_kpc=None, p_member_min=0.0, centre=centre, meta={"path": str(path)})
