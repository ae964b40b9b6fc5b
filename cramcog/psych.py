"""Human memory data: the bundled data sets in ``cramcog.psych_data`` and the user's own curves.

Every bundled data set is a tidy CSV (its ``#`` header lines keep the original provenance notes)
plus a JSON metadata file: full citation, the source the numbers were read from, how reliable they
are (overall and per value), units, what x and y are, how they were obtained, the published fit,
if any, and its **paradigm**:

- ``"forgetting"``: retention against delay (Ebbinghaus, Murre & Dros, Rubin et al., Meeter et al.);
- ``"strategy_shift"``: look-up or algorithm -> direct retrieval with practice (Zbrodoff, Tenison);
- ``"remember_know"``: Remember/Know judgments (Reder et al.);
- ``"gist_detail"``: gist vs detail, semantic intrusions (Dooling & Christiaansen);
- reference tables say what they are: ``"constants"`` (published exponents), ``"anchors"``
  (published constraints on the shape of the shift), ``"index"`` (studies without numbers).

``"episodic_semantic"`` names the two paradigms that ask the episodic-to-semantic question
(strategy_shift + remember_know); forgetting curves answer a different one (retention against
delay).

:func:`load` returns an :class:`xarray.Dataset` in one of three layouts (the data set's ``kind``):

- ``"curve"``: forgetting curves over dim ``delay`` (the nominal delay: hours, days or intervening
  items; see its ``units`` attr) plus one dim per series (``series``, ``condition``, ...); coord
  ``x`` (the abscissa actually used), variable ``y`` (a proportion), ``n`` where trial counts are
  known;
- ``"grid"``: measurements over categorical dims (condition x block x addend, subject x word
  frequency x presentation number, ...), one variable per measured column;
- ``"table"``: rows (dim ``entry``) of constants, statements, or counts from several analyses.

attrs always hold ``citation``, ``source_read``, ``reliability``, ``reliability_per_value`` (JSON),
``how_obtained``, ``paradigm``, ``notes`` and the published fit as JSON (``published_fit_json``).

:func:`curves` gives the curves that are suitable for fitting, as :class:`Curve` objects that
unpack as ``(label, t, y, n)``. Where a data set holds no proportion directly (Zbrodoff's RTs,
Reder's Remember/Know/miss counts) the curve is DERIVED, and the Curve says how (``assumption``),
what it is the analog of in a model (``analog``: "episodic" = the look-up / recollective route)
and how the humans were averaged (``averaging``). :func:`load_csv` loads a user's own curve.

Examples
--------
>>> from cramcog import psych
>>> "ebbinghaus_1885" in psych.list()
True
>>> psych.list(paradigm="strategy_shift")
['tenison_2016_pyramid_learning_phases', 'zbrodoff_1995_alpha_arithmetic']
>>> ds = psych.load("ebbinghaus_1885")
>>> ds.x.attrs["units"], round(float(ds.y[0]), 3), ds.attrs["paradigm"]
('hours', 0.582, 'forgetting')
>>> [c.label for c in psych.curves("murre_dros_2015")]
['murre_dros_2015/Mack', 'murre_dros_2015/Seitz', 'murre_dros_2015/Dros']
"""
from __future__ import annotations

import builtins
import json
import os
import warnings
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd
import xarray as xr

DATA_PACKAGE = "cramcog.psych_data"
KINDS = ("curve", "grid", "table")
#: The experimental paradigms of the data sets (each data set has exactly one, or a table role).
PARADIGMS = ("forgetting", "strategy_shift", "remember_know", "gist_detail")
#: What the reference tables are (their ``paradigm``; ``covers`` lists the paradigms they concern).
TABLE_ROLES = ("constants", "anchors", "index")
#: Named groups of paradigms. "episodic_semantic" asks the question the CRAM comparison is about.
PARADIGM_GROUPS = {"episodic_semantic": ("strategy_shift", "remember_know")}


# ----------------------------------------------------------------------------- catalogue

def _data_dir():
    return resources.files(DATA_PACKAGE)


@lru_cache(maxsize=None)
def _catalogue() -> dict[str, dict]:
    """name -> metadata, read once from the JSON files shipped with the package."""
    out = {}
    for entry in sorted(_data_dir().iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".json"):
            meta = json.loads(entry.read_text(encoding="utf-8"))
            out[meta["name"]] = meta
    return out


def list(kind: str | None = None,  # noqa: A001 - the public API name
         paradigm: str | Sequence[str] | None = None) -> builtins.list[str]:
    """Names of the bundled human data sets, optionally filtered by layout and paradigm.

    Parameters
    ----------
    kind
        ``None`` for all; ``"curve"`` for forgetting curves over a delay axis; ``"grid"`` for
        measurements over categorical dims; ``"table"`` for rows of constants, statements or
        counts from several analyses.
    paradigm
        ``None`` for all; one of ``PARADIGMS`` ("forgetting", "strategy_shift",
        "remember_know", "gist_detail"), a table role (``TABLE_ROLES``: "constants", "anchors",
        "index"), a group (``"episodic_semantic"`` = strategy_shift + remember_know), or a list
        of these.

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        An unknown kind or paradigm (the message lists the valid ones).

    Examples
    --------
    >>> from cramcog import psych
    >>> psych.list("table")
    ['episodic_semantic_studies', 'published_anchors_strategy_shift_rk', 'published_constants', \
'reder_2000_remember_know_repetition_lag']
    >>> psych.list(paradigm="remember_know")
    ['reder_2000_remember_know_per_subject', 'reder_2000_remember_know_repetition_lag']
    >>> psych.list("curve", paradigm="forgetting")[:2]
    ['ebbinghaus_1885', 'meeter_murre_janssen_2005']
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be None or one of {KINDS}, got {kind!r}")
    wanted = None if paradigm is None else set(paradigms(paradigm))
    return [name for name, meta in _catalogue().items()
            if (kind is None or meta["kind"] == kind)
            and (wanted is None or meta["paradigm"] in wanted)]


def paradigms(spec: str | Sequence[str]) -> builtins.list[str]:
    """Expand a paradigm, table role, group name or list of these into paradigm names.

    Examples
    --------
    >>> from cramcog import psych
    >>> psych.paradigms("episodic_semantic")
    ['strategy_shift', 'remember_know']
    >>> psych.paradigms(["forgetting", "anchors"])
    ['forgetting', 'anchors']
    """
    items = [spec] if isinstance(spec, str) else builtins.list(spec)
    valid = (*PARADIGMS, *TABLE_ROLES, *PARADIGM_GROUPS)
    out: builtins.list[str] = []
    for item in items:
        if item not in valid:
            raise ValueError(f"unknown paradigm {item!r}; valid: {', '.join(valid)}")
        for p in PARADIGM_GROUPS.get(item, (item,)):
            if p not in out:
                out.append(p)
    return out


def metadata(name: str) -> dict:
    """The JSON metadata of a bundled data set (a fresh copy: citation, reliability, units, ...).

    Examples
    --------
    >>> from cramcog import psych
    >>> psych.metadata("ebbinghaus_1885")["published_fit"]["params"]
    {'k': 1.84, 'c': 1.25}
    """
    return json.loads(json.dumps(_meta(name)))


def _meta(name: str) -> dict:
    if not isinstance(name, str):
        raise TypeError(f"a data set name is a string, got {type(name).__name__}")
    try:
        return _catalogue()[name]
    except KeyError:
        raise ValueError(f"unknown human data set {name!r}; valid names: {', '.join(list())} "
                         "(or load your own file with cramcog.psych.load_csv)") from None


def table(name: str) -> pd.DataFrame:
    """The data set's tidy CSV as a DataFrame (``#`` provenance lines skipped).

    Examples
    --------
    >>> from cramcog import psych
    >>> psych.table("ebbinghaus_1885").shape
    (7, 6)
    """
    _meta(name)
    with (_data_dir() / f"{name}.csv").open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, comment="#")


# ----------------------------------------------------------------------------- loading

def load(name: str) -> xr.Dataset:
    """Load a bundled human data set as an :class:`xarray.Dataset`.

    Parameters
    ----------
    name
        One of :func:`list`.

    Returns
    -------
    xarray.Dataset
        Curves: ``y`` (and ``n`` where known) over ``(<series dims>, delay)`` with coord ``x``;
        tables: one variable per column over ``entry``. Citation, provenance, reliability and
        notes are in ``attrs``.

    Raises
    ------
    ValueError
        Unknown name (the message lists the valid names).

    Examples
    --------
    >>> from cramcog import psych
    >>> ds = psych.load("meeter_murre_janssen_2005")
    >>> dict(ds.sizes)
    {'question_type': 2, 'delay': 27}
    >>> int(ds.n.sum())
    242695
    """
    meta = _meta(name)
    df = table(name)
    if meta["kind"] == "table":
        ds = xr.Dataset({col: ("entry", df[col].to_numpy()) for col in df.columns},
                        coords={"entry": np.arange(len(df))})
    elif meta["kind"] == "grid":
        ds = _grid_dataset(df, meta)
    else:
        ds = _curve_dataset(df, meta)
    for var, units in meta.get("units", {}).items():
        if var in ds.variables:
            ds[var].attrs["units"] = units
    ds.attrs.update(_dataset_attrs(meta))
    return ds


def _grid_dataset(df: pd.DataFrame, meta: dict) -> xr.Dataset:
    """Measurements over the categorical dims named in the metadata (one variable per column)."""
    dims = meta["dims"]
    if df.duplicated(dims).any():
        raise ValueError(f"data set {meta['name']}: duplicate rows for {dims}")
    return df.set_index(dims).to_xarray()


def _dataset_attrs(meta: dict) -> dict[str, Any]:
    attrs = {key: meta.get(key, "") for key in (
        "name", "title", "kind", "paradigm", "citation", "source_read", "reliability",
        "reliability_grade", "how_obtained", "columns", "curve_notes", "comparison_caveat")}
    attrs = {k: ("" if v is None else str(v)) for k, v in attrs.items()}
    attrs["covers"] = [str(p) for p in meta.get("covers", [])] or [attrs["paradigm"]]
    attrs["notes"] = [str(n) for n in meta.get("notes", []) if n] or [""]
    attrs["reliability_per_value_json"] = json.dumps(meta.get("reliability_per_value", {}))
    attrs["comparison_curves_json"] = json.dumps(meta.get("comparison_curves", []))
    attrs["published_fit_json"] = json.dumps(meta.get("published_fit"))
    return attrs


def _ordered_unique(values: pd.Series, numeric_sort: bool) -> np.ndarray:
    uniq = pd.unique(values)
    return np.sort(uniq) if numeric_sort else uniq


def _curve_dataset(df: pd.DataFrame, meta: dict) -> xr.Dataset:
    """Reshape a tidy curve table into ``(<dims>, delay)`` arrays, per the metadata spec."""
    dims = meta.get("dims", [])
    delay_col, x_spec, y_spec = meta["delay"]["column"], meta["x"], meta["y"]
    levels = [_ordered_unique(df[d], numeric_sort=False) for d in dims]
    levels.append(_ordered_unique(df[delay_col], numeric_sort=True))
    index = (pd.MultiIndex.from_product(levels, names=[*dims, delay_col]) if dims
             else pd.Index(levels[-1], name=delay_col))
    if df.duplicated([*dims, delay_col]).any():
        raise ValueError(f"data set {meta['name']}: duplicate rows for {[*dims, delay_col]}")
    wide = df.set_index([*dims, delay_col]).reindex(index)
    shape = tuple(len(lv) for lv in levels)
    full_dims = (*dims, "delay")

    def grid(column: str, scale: float = 1.0) -> np.ndarray:
        if column == delay_col:  # the index itself: broadcast the delays over the series
            values = np.broadcast_to(levels[-1], shape).copy()
        else:
            values = wide[column].to_numpy().reshape(shape)
        return values * scale if scale != 1.0 else values

    coords: dict[str, Any] = {d: (d, lv) for d, lv in zip(dims, levels[:-1])}
    coords["delay"] = ("delay", levels[-1], {"units": meta["delay"]["units"],
                                             "long_name": meta["delay"]["long_name"]})
    x_attrs = {"units": x_spec["units"], "long_name": x_spec["long_name"]}
    x_grid = grid(x_spec["column"]).astype(float)
    if np.allclose(x_grid, x_grid.reshape(-1, shape[-1])[0], equal_nan=True):
        coords["x"] = ("delay", x_grid.reshape(-1, shape[-1])[0], x_attrs)  # same for all series
    else:
        coords["x"] = (full_dims, x_grid, x_attrs)

    data_vars: dict[str, Any] = {"y": (full_dims, grid(y_spec["column"], y_spec.get("scale", 1.0)),
                                       {"units": y_spec["units"], "long_name": y_spec["long_name"],
                                        "measure": y_spec.get("measure", "")})}
    if meta.get("n"):
        data_vars["n"] = (full_dims, grid(meta["n"]["column"]),
                          {"units": meta["n"]["units"], "long_name": meta["n"]["long_name"]})
    for name, spec in meta.get("variables", {}).items():
        attrs = {"units": spec.get("units", ""), "long_name": spec["long_name"]}
        values = grid(spec["column"], spec.get("scale", 1.0))
        if spec.get("per_delay"):  # one value per delay: keep it as a delay coordinate
            flat = wide[spec["column"]].groupby(level=delay_col).first().reindex(levels[-1])
            coords[name] = ("delay", flat.to_numpy(), attrs)
        elif spec.get("per_level"):  # one value per level of another dim (e.g. a numeric code)
            dim = spec["per_level"]
            flat = df.groupby(dim, sort=False)[spec["column"]].first().reindex(coords[dim][1])
            coords[name] = (dim, flat.to_numpy(), attrs)
        else:
            data_vars[name] = (full_dims, values, attrs)
    if meta.get("chance"):
        dim = dims[0]
        data_vars["chance"] = ((dim,), np.array([meta["chance"][str(v)] for v in levels[0]]),
                               {"units": "proportion", "long_name": "chance level of the measure"})
    return xr.Dataset(data_vars, coords=coords)


#: Time units accepted in delays written as text ("20min", "1h", "2d", "1h30min"), in seconds.
DELAY_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0,
               "h": 3600.0, "hr": 3600.0, "hour": 3600.0, "d": 86400.0, "day": 86400.0,
               "w": 604800.0, "wk": 604800.0, "week": 604800.0, "mo": 2629800.0,
               "month": 2629800.0, "y": 31557600.0, "yr": 31557600.0, "year": 31557600.0}
_UNIT_NAMES = {1.0: "seconds", 60.0: "minutes", 3600.0: "hours", 86400.0: "days",
               604800.0: "weeks", 2629800.0: "months", 31557600.0: "years"}
_DELIMITERS = ",;\t|"


def _unit_seconds(unit: str) -> float | None:
    """Seconds in a unit name ("h", "hours", "Days"...), or None if it is not a time unit."""
    u = unit.strip().lower()
    if u in DELAY_UNITS:
        return DELAY_UNITS[u]
    if u.endswith("s") and u[:-1] in DELAY_UNITS:   # plurals: days, hours, mins, secs, yrs
        return DELAY_UNITS[u[:-1]]
    return None


def parse_delays(values, t_units: str = "", column: str = "t") -> tuple[np.ndarray, str]:
    """Delays written as text ("20min", "1h", "2 d", "1h30min") as numbers in one unit.

    Parameters
    ----------
    values : array_like of str or numbers
        One delay per row. Bare numbers are in ``t_units``.
    t_units : str
        The unit wanted (any name in ``DELAY_UNITS``, plural or not); "" picks the coarsest unit
        written in ``values``.
    column : str
        Column name, for messages.

    Returns
    -------
    (delays, units) : (numpy.ndarray, str)
        The delays as floats and the name of their unit ("hours", "days", ...).

    Raises
    ------
    ValueError
        A value that is neither a number nor number+unit pairs (the message lists the accepted
        units), an ambiguous "m" (minutes or months?), or bare numbers beside values with units
        when ``t_units`` is not a time unit.

    Examples
    --------
    >>> from cramcog import psych
    >>> psych.parse_delays(["20min", "1h", "9h", "1d", "2 days", "1d12h"])
    (array([0.01388889, 0.04166667, 0.375     , 1.        , 2.        , 1.5       ]), 'days')
    >>> psych.parse_delays(["20min", "1h", "2"], t_units="h")[0].round(3).tolist()
    [0.333, 1.0, 2.0]
    """
    import re

    pair = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]+)\s*")
    texts = [_decimal_point(str(v).strip(), column) for v in np.asarray(values, dtype=object)]
    seconds, bad, bare, used = [], [], [], set()
    for text in texts:
        try:
            seconds.append(("bare", float(text)))
            bare.append(text)
            continue
        except ValueError:
            pass
        pos, total, ok = 0, 0.0, bool(text)
        while pos < len(text):
            m = pair.match(text, pos)
            if not m:
                ok = False
                break
            unit = m.group(2)
            if unit.lower() in ("m", "ms"):
                raise ValueError(f"column {column!r}: {text!r} is ambiguous: write min for "
                                 "minutes or mo for months")
            sec = _unit_seconds(unit)
            if sec is None:
                ok = False
                break
            total += float(m.group(1)) * sec
            used.add(sec)
            pos = m.end()
        if not ok:
            bad.append(text)
        seconds.append(("sec", total))
    accepted = "s, min, h, d, w, mo, y (or sec, minute(s), hour(s), day(s), week(s), " \
               "month(s), year(s))"
    if bad:
        raise ValueError(f"column {column!r} has delays that are neither numbers nor a number "
                         f"with a time unit: {bad[:5]}; write them like 20min, 1h, 1.5d, 2w or "
                         f"1d12h (units: {accepted})")
    target = _unit_seconds(t_units) if t_units else (max(used) if used else None)
    if t_units and target is None and used:
        raise ValueError(f"column {column!r} holds delays with time units, but --t-units "
                         f"{t_units!r} is not a time unit; use one of: {accepted}")
    if bare and used and not t_units:
        raise ValueError(f"column {column!r} mixes delays with units and bare numbers "
                         f"({bare[:3]}): give every value a unit, or say the unit of the bare "
                         "numbers with --t-units (t_units=)")
    if target is None:   # all bare numbers in a non-time unit (items, trials, ...)
        return np.array([v for _, v in seconds]), t_units
    out = np.array([v / target if kind == "sec" else v for kind, v in seconds])
    return out, _UNIT_NAMES.get(target, t_units)


def _decimal_point(text: str, column: str = "t") -> str:
    """A number written with a decimal comma ("0,5", "0,5 h", "1,25d") with a decimal point.

    The rule: a comma between digits is a decimal comma unless exactly three digits follow it
    and the digits before it do not start with 0 ("1,000", "12,500"): that may be a thousands
    separator, so it is an error asking for the number without ambiguity ("1000" or "1.0").
    Text with both a comma and a point between digits ("1,000.5") is an error too.

    Examples
    --------
    >>> _decimal_point("0,5 h"), _decimal_point("1,5"), _decimal_point("0,125")
    ('0.5 h', '1.5', '0.125')
    >>> _decimal_point("1,000")
    Traceback (most recent call last):
    ...
    ValueError: column 't': '1,000' is ambiguous: a thousands separator or a decimal comma? ...
    """
    import re

    if not re.search(r"\d,\d", text):
        return text
    if re.search(r"\d\.\d", text) or re.search(r"\d,\d+,\d", text):
        raise ValueError(f"column {column!r}: {text!r} mixes separators; write the delay with "
                         "one decimal mark and no thousands separators, e.g. 1000.5 or 1000,5")

    def point(m):
        before, after = m.group(1), m.group(2)
        if len(after) == 3 and not before.startswith("0"):
            raise ValueError(f"column {column!r}: {text!r} is ambiguous: a thousands separator "
                             f"or a decimal comma? Write {before}{after} or {before}.{after} "
                             f"(a decimal comma is read when other than three digits follow "
                             f"it, or the number starts with 0: 0,5 or 1,25)")
        return f"{before}.{after}"
    return re.sub(r"(\d+),(\d+)", point, text)


_PERCENT_CELL = r"^\s*[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)\s*%\s*$"


def _percent_cells(column: pd.Series) -> pd.Series | None:
    """A text column whose every filled cell is a percentage ("58%", "12,5 %") as the numbers
    (58.0, 12.5), or None if it is not such a column."""
    filled = column.dropna().astype(str)
    if (pd.api.types.is_numeric_dtype(column) or filled.empty
            or not filled.str.match(_PERCENT_CELL).all()):
        return None
    numbers = (column.astype(str).str.replace("%", "", regex=False).str.strip()
               .str.replace(",", ".", regex=False))
    return pd.to_numeric(numbers.where(column.notna()), errors="coerce")


def looks_wide(columns, t_units: str = "") -> bool:
    """True when every column header after the first reads as a delay ("1", "2.5", "0,5 h",
    "1 day") and there are at least three: a wide layout (participants as rows, delays as
    columns).

    Examples
    --------
    >>> looks_wide(["participant", "1 h", "0,5 d", "2 d"]), looks_wide(["t", "y", "n"])
    (True, False)
    """
    headers = [str(c) for c in builtins.list(columns)[1:]]
    if len(headers) < 3:
        return False
    try:
        parse_delays(headers, t_units or "s", column="header")
    except ValueError:
        return False
    return True


def wide_to_long(table, *, id_col: str | None = None, t=None, t_units: str = "",
                 y_name: str = "y", name: str = "data") -> pd.DataFrame:
    """A wide table (a row per participant, a column per delay, empty cells) as long rows.

    Parameters
    ----------
    table : pandas.DataFrame or 2-D array_like
        A DataFrame: ``id_col`` (default: the first column) names the participant of each row,
        every other column header is a delay ("1", "2.5", "0,5 h", "1 day"; see
        :func:`parse_delays`). A 2-D array: rows are participants (labelled 0, 1, ...) and
        ``t`` gives the delay of each column. Cells are proportions, percentages ("58%" cells
        are read as 58) or counts; NaN / empty cells are missing.
    id_col : str, optional
        The participant column of a DataFrame (default: its first column).
    t : array_like, optional
        The delays of a 2-D array's columns (a DataFrame's headers are its delays).
    t_units : str
        The unit of bare-number delays / the unit that delays with units are converted to.
    y_name, name
        The name of the value column, and of the table in messages.

    Returns
    -------
    pandas.DataFrame
        Columns ``[id_col, "delay", y_name]``, one row per filled cell (in table order).
        ``attrs``: ``t_units`` (the unit of ``delay``), ``percent`` (True when the cells were
        written as "58%"), ``dropped`` (the empty cells left out) and ``line`` (the file line
        of each row, when ``table`` came from :func:`read_user_csv`).

    Warns
    -----
    UserWarning
        Empty cells, each named by participant (and file line) and delay: they are left out
        of that participant's curve, never silently.

    Examples
    --------
    >>> import numpy as np
    >>> from cramcog import psych
    >>> from cramcog.dynamics import fit_consolidation_curve
    >>> wide = pd.DataFrame({"id": ["p1", "p2", "p3"], "1 h": [.9, .85, .95],
    ...                      "0,5 d": [.7, np.nan, .8], "1 day": [.6, .55, .7],
    ...                      "2 days": [.5, .5, .62], "4 d": [.45, .4, .55],
    ...                      "8 d": [.38, .33, .5]})
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     long = psych.wide_to_long(wide)
    >>> print(caught[0].message)
    data: 1 empty cell(s) left out: row 2 (id p2, delay '0,5 d')
    >>> long.attrs["t_units"], long["delay"].round(3).tolist()[:3], len(long)
    ('days', [0.042, 0.5, 1.0], 17)
    >>> fits = fit_consolidation_curve("delay", "y", data=long, by="id", family="power",
    ...                                ci="wald")
    >>> len(fits.curves)
    3

    A 2-D array with NaN cells: give the delays of its columns.

    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     long = psych.wide_to_long(np.array([[.9, .7, np.nan], [.8, .6, .5]]), t=[1, 2, 4])
    >>> long.to_dict("list")
    {'participant': [0, 0, 1, 1, 1], 'delay': [1.0, 2.0, 1.0, 2.0, 4.0], 'y': [0.9, 0.7, 0.8, 0.6, 0.5]}
    """
    if isinstance(table, pd.DataFrame):
        if t is not None:
            raise ValueError("t= is for a 2-D array: a DataFrame's column headers are its "
                             "delays")
        id_col = str(table.columns[0]) if id_col is None else id_col
        if id_col not in table.columns:
            raise ValueError(f"{name}: id_col={id_col!r} is not a column (columns: "
                             f"{[str(c) for c in table.columns]})")
        ids = table[id_col]
        cells = table.drop(columns=id_col)
        headers = [str(c) for c in cells.columns]
        delays, units = parse_delays(headers, t_units, column="header")
        lines = table.attrs.get("line")
    else:
        values = np.asarray(table, dtype=float)
        if values.ndim != 2:
            raise ValueError(f"{name}: a wide table is 2-D (participant x delay); got shape "
                             f"{values.shape}")
        if t is None:
            raise ValueError("a 2-D array has no delay headers: pass t= (one delay per column)")
        delays, units = parse_delays(np.asarray(t, dtype=object), t_units, column="t")
        if delays.size != values.shape[1]:
            raise ValueError(f"{name}: t has {delays.size} delays but the array has "
                             f"{values.shape[1]} columns")
        id_col = id_col or "participant"
        ids = pd.Series(np.arange(values.shape[0]))
        headers = [f"{d:g}" for d in delays]
        cells = pd.DataFrame(values, columns=headers)
        lines = None
    percent = False
    columns = {}
    for header, col in zip(headers, cells.columns):
        column = cells[col]
        as_percent = _percent_cells(column)
        if as_percent is not None:
            column, percent = as_percent, True
        elif not pd.api.types.is_numeric_dtype(column):
            numeric = pd.to_numeric(column.astype(str).str.replace(",", ".", regex=False)
                                    .where(column.notna()), errors="coerce")
            if numeric.notna().sum() != column.notna().sum():
                raise ValueError(f"{name}: column {header!r} has cells that are not numbers: "
                                 f"{column[numeric.isna() & column.notna()].head(3).tolist()}")
            column = numeric
        columns[header] = column.to_numpy(float)
    rows, dropped = [], []
    where = lines if lines is not None else [f"row {i + 1}" for i in range(len(ids))]
    where = [w if isinstance(w, str) else f"line {w}" for w in where]
    out_lines = []
    for i, label in enumerate(ids.tolist()):
        for header, delay in zip(headers, delays):
            value = columns[header][i]
            if np.isnan(value):
                dropped.append(f"{where[i]} ({id_col} {label}, delay {header!r})")
                continue
            rows.append((label, float(delay), float(value)))
            out_lines.append(lines[i] if lines is not None else i + 1)
    if dropped:
        shown = ", ".join(dropped[:10]) + (f" and {len(dropped) - 10} more"
                                           if len(dropped) > 10 else "")
        warnings.warn(f"{name}: {len(dropped)} empty cell(s) left out: {shown}", UserWarning,
                      stacklevel=2)
    if not rows:
        raise ValueError(f"{name}: every cell of the wide table is empty")
    long = pd.DataFrame(rows, columns=[id_col, "delay", y_name])
    long.attrs.update(t_units=units, percent=percent, dropped=dropped, line=out_lines)
    return long


def read_user_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a user's CSV as :func:`load_csv` does: lines starting with ``#`` skipped (a ``#``
    inside a cell is text), ``attrs["line"]`` the file line of each row, the delimiter
    sniffed (comma, semicolon, tab or bar; a decimal comma with semicolons or tabs), spaces
    around header names and text cells stripped.

    Examples
    --------
    >>> import tempfile, os
    >>> from cramcog import psych
    >>> path = os.path.join(tempfile.mkdtemp(), "eu.csv")
    >>> _ = open(path, "w").write("# lab notebook\\ndays ; recalled\\n1;0,8\\n2;0,7\\n")
    >>> psych.read_user_csv(path).to_dict("list")
    {'days': [1, 2], 'recalled': [0.8, 0.7]}
    """
    import csv
    import io
    import re

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no CSV file at {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")        # -sig: a BOM from Excel
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not a readable CSV file: {err}") from None
    # Only whole lines starting with '#' are comments: a '#' inside a cell ("cond#1") is text
    # (pandas' comment= would cut the cell there and merge curves). The file line number of
    # each data row is kept (attrs["line"]) so that rows left out can be named.
    kept = [(i, ln) for i, ln in enumerate(text.splitlines(), start=1)
            if ln.strip() and not ln.lstrip().startswith("#")]
    lines = [ln for _, ln in kept]
    if not lines:
        raise ValueError(f"{path.name}: no header row (the file is empty or all comments)")
    sample = "\n".join(lines[:50])
    try:
        sep = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        sep = ","
    decimal = "," if sep != "," and re.search(r"\d,\d", sample) else "."
    try:
        df = pd.read_csv(io.StringIO("\n".join(lines)), sep=sep, decimal=decimal,
                         skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ValueError(f"{path} is not a readable CSV file: {err}") from None
    df.columns = [str(c).strip() for c in df.columns]
    percent_columns = []
    for col in df.columns:
        as_percent = _percent_cells(df[col])
        if as_percent is not None:          # "58%" cells: the numbers, and the column noted
            df[col] = as_percent
            percent_columns.append(col)
        elif df[col].dtype == object:
            df[col] = df[col].astype(str).str.strip().where(df[col].notna())
            numeric = pd.to_numeric(df[col], errors="coerce")
            if numeric.notna().sum() == df[col].notna().sum():   # "0.8 " was text: a number
                df[col] = numeric
    # a quoted cell spanning lines breaks the line mapping: then name rows by data row number
    df.attrs["line"] = ([i for i, _ in kept[1:]] if len(kept) - 1 == len(df)
                        else [f"data row {k}" for k in range(1, len(df) + 1)])
    df.attrs["percent_columns"] = percent_columns
    return df


def _labels(column: pd.Series) -> pd.Series:
    """A label column (series / subject) as text as it was written: a column of numbers with
    empty cells is read as floats, and "1" must stay "1", not become "1.0".

    Examples
    --------
    >>> _labels(pd.Series([1.0, 2.0, float("nan")])).tolist()
    ['1', '2', 'nan']
    >>> _labels(pd.Series(["a", "b"])).tolist()
    ['a', 'b']
    """
    if not pd.api.types.is_float_dtype(column):
        return column.astype(str)
    values = column.to_numpy(float)
    whole = np.isfinite(values) & (values == np.round(values))
    return pd.Series([str(int(v)) if w else str(v) for v, w in zip(values, whole)],
                     index=column.index)


def _drop_empty_rows(df: pd.DataFrame, name: str, t: str, y: str, n: str | None):
    """``df`` without rows that hold no point (no delay, no y, or n = 0 trials), with a warning
    naming each one by its line in the file: never left out silently."""
    why = pd.Series("", index=df.index)
    for col, what in ((t, "no delay"), (y, "no y"), *([(n, "no n")] if n else [])):
        why[df[col].isna() & (why == "")] = what
    if n and pd.api.types.is_numeric_dtype(df[n]):
        why[(df[n] == 0) & (why == "")] = "n = 0 trials"
    drop = why != ""
    if drop.any():
        where = [f"line {line} ({reason})" for line, reason, gone
                 in zip(df.attrs.get("line", range(1, len(df) + 1)), why, drop) if gone]
        shown = ", ".join(where[:10]) + (f" and {len(where) - 10} more" if len(where) > 10
                                         else "")
        warnings.warn(f"{name}: dropped {int(drop.sum())} row(s) that hold no point: {shown}",
                      UserWarning, stacklevel=3)
        lines = [line for line, gone in zip(df.attrs.get("line", []), drop) if not gone]
        df = df[~drop].reset_index(drop=True)
        df.attrs["line"] = lines
        if len(df) == 0:
            raise ValueError(f"{name}: no data rows left after dropping those without a point")
    return df


def load_csv(path: str | os.PathLike, *, t: str = "t", y: str = "y", n: str | None = None,
             series: str | Sequence[str] | None = None, t_units: str = "",
             y_units: str = "proportion", y_scale: float = 1.0, name: str | None = None,
             citation: str = "", y_kind: str = "auto", wide: bool = False) -> xr.Dataset:
    """Load your own retention curve(s) from a CSV, in the same layout as :func:`load`.

    Parameters
    ----------
    path
        A CSV file with a header row (read by :func:`read_user_csv`: ``#`` lines are comments,
        the delimiter is sniffed, spaces around names are stripped).
    t, y, n
        Column names of the delay, the retention measure and (optionally) the number of trials.
        Delays may be numbers or text such as "20min", "1h", "2d" (see :func:`parse_delays`).
    series
        Column(s) naming separate curves (a subject, condition, layer ...); each becomes a dim.
    t_units, y_units
        Units stored in the attrs of ``x`` and ``y`` (``t_units`` is also the unit text delays
        are converted to).
    y_scale
        Factor applied to ``y`` before it is read.
    name, citation
        Stored in attrs (``name`` defaults to the file's stem).
    y_kind
        What ``y`` holds: "auto", "proportion", "successes", "percent", "value" or "rt" (read
        ONCE, by :func:`cramcog.dynamics.data.convert_y`; the stored ``y`` is a proportion, or
        the raw value for "value" and "rt"; ``y.attrs["y_kind"]`` says how it was read).
        A ``y`` column written as "58%" cells is read as percent ("auto" says so).
    wide
        The file is a wide table (:func:`wide_to_long`): the first column names the participant
        of each row, every other header is a delay ("1", "2.5", "0,5 h", "1 day"), cells are
        the values; empty cells are left out with a warning naming each. ``t`` and ``y`` are
        then ignored (the delays are the headers), the participant column is added to
        ``series``, and ``n`` may be a whole number of trials per cell (e.g. "20").

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        A named column is missing (the message lists the columns found), values are not numeric,
        y cannot be read as ``y_kind`` says (the values are named), or a delay repeats within a
        curve (the message names the columns that could tell the curves apart).

    Examples
    --------
    >>> import tempfile, os
    >>> from cramcog import psych
    >>> path = os.path.join(tempfile.mkdtemp(), "mine.csv")
    >>> _ = open(path, "w").write("days,recalled\\n1,0.8\\n2,0.7\\n4,0.62\\n")
    >>> ds = psych.load_csv(path, t="days", y="recalled", t_units="days")
    >>> ds.x.values.tolist(), ds.attrs["name"]
    ([1.0, 2.0, 4.0], 'mine')
    """
    from cramcog.dynamics.data import convert_y

    path = Path(path)
    df = read_user_csv(path)
    series_cols = [series] if isinstance(series, str) else builtins.list(series or [])
    percent = y in df.attrs.get("percent_columns", [])
    if wide:
        percent = bool(df.attrs.get("percent_columns"))
        df = wide_to_long(df, t_units=t_units, name=path.name)
        percent = percent or df.attrs["percent"]
        t_units, t, y = df.attrs["t_units"], "delay", "y"
        series_cols = [df.columns[0]] + [c for c in series_cols if c != df.columns[0]]
        if n is not None:
            try:
                trials = int(n)
            except ValueError:
                raise ValueError(f"{path.name}: a wide table has no trials column; give the "
                                 f"trials per cell as a whole number (--n 20), not {n!r}"
                                 ) from None
            df["n"], n = trials, "n"
    if percent:
        if y_kind not in ("auto", "percent"):
            raise ValueError(f"{path.name}: the cells of {y!r} are written as percentages "
                             f"(like '58%') but y_kind={y_kind!r}: pass y_kind='percent' or "
                             f"write the cells without '%'")
        if y_kind == "auto":
            warnings.warn(f"{path.name}: {y!r} is written as percentages (like '58%'): read as "
                          "y_kind='percent' (0-100, divided by 100)", UserWarning,
                          stacklevel=2)
        y_kind = "percent"
    wanted = {"--t": t, "--y": y, **({"--n": n} if n else {})}
    wanted.update({f"series[{i}]": s for i, s in enumerate(series_cols)})
    missing = [f"{col!r} ({role})" for role, col in wanted.items() if col not in df.columns]
    if missing:
        raise ValueError(f"{path.name}: column {', '.join(missing)} not found; the file has "
                         f"columns {builtins.list(map(str, df.columns))} (name them with "
                         "--t/--y/--n "
                         "or t=, y=, n=)")
    if len(df) == 0:
        raise ValueError(f"{path.name}: no data rows")
    df = _drop_empty_rows(df, path.name, t, y, n)
    for col in [y, *([n] if n else [])]:
        if not pd.api.types.is_numeric_dtype(df[col]):
            raise ValueError(f"{path.name}: column {col!r} must be numeric, found values like "
                             f"{df[col].astype(str).head(3).tolist()}")
    if pd.api.types.is_numeric_dtype(df[t]):
        x = df[t].to_numpy(float)
    else:
        x, t_units = parse_delays(df[t], t_units, column=t)
    keys = series_cols + [t]
    repeated = pd.Series(x).groupby([df[c] for c in series_cols] + [pd.Series(x)]).size() \
        if series_cols else pd.Series(x).value_counts()
    if (repeated > 1).any():
        others = [c for c in df.columns if c not in (t, y, n, *series_cols)
                  and df[c].nunique() > 1]
        raise ValueError(f"{path.name}: duplicate delays within a curve ({(repeated > 1).sum()}"
                         f" repeated {keys}, e.g. {repeated[repeated > 1].index[0]}): the "
                         f"file holds several curves. Name the column that tells them apart: "
                         f"--series COL (a fit per curve) or --by COL (a fit per subject and a "
                         f"group estimate); in Python series= or by=. Columns that could: "
                         f"{others or 'none (add one)'}")
    y_raw = df[y].to_numpy(float) * float(y_scale)
    n_raw = df[n].to_numpy(float) if n else None
    y_values, kind = convert_y(y_raw, n_raw, y_kind, x, stacklevel=3)
    tidy = pd.DataFrame({"x": x, "y": y_values[0]})
    for col in series_cols:
        missing = df[col].isna().to_numpy()
        if missing.any():   # said, never a silent curve named "nan"
            lines = [line for line, m in zip(df.attrs.get("line", range(1, len(df) + 1)),
                                             missing) if m]
            warnings.warn(f"{path.name}: {int(missing.sum())} row(s) have no {col!r} label "
                          f"(lines {lines[:10]}{' ...' if len(lines) > 10 else ''}); they form "
                          "a curve labelled 'nan': fill the label or delete the rows",
                          stacklevel=2)
        tidy[col] = _labels(df[col])
    meta = {"name": name or path.stem, "kind": "curve", "dims": series_cols,
            "delay": {"column": "x", "long_name": t, "units": t_units},
            "x": {"column": "x", "long_name": t, "units": t_units},
            "y": {"column": "y", "long_name": y,
                  "units": y_units if kind in ("value", "rt") else "proportion"},
            "n": None, "variables": {}}
    if n:
        tidy["n"] = n_raw
        meta["n"] = {"column": "n", "long_name": f"trials ({n})", "units": "trials"}
    ds = _curve_dataset(tidy, meta)
    ds["y"].attrs["y_kind"] = kind
    meta.update(title=f"user data from {path.name}", citation=citation, source_read=str(path),
                reliability="user-supplied", reliability_grade="user", how_obtained="load_csv",
                columns=f"t={t}, y={y}, n={n or ''}, series={series_cols}")
    ds.attrs.update(_dataset_attrs(meta))
    return ds


# ----------------------------------------------------------------------------- curves to fit

@dataclass
class Curve:
    """One curve ready for fitting; unpacks as ``(label, t, y, n)``.

    Attributes
    ----------
    label : str
        ``"<source>/<series>"`` (or just the source for a single curve).
    t, y : numpy.ndarray, shape (points,)
        The abscissa (delay or practice, in ``t_units``) and the measure (a proportion); NaN
        points removed, sorted by t.
    n : numpy.ndarray or None, shape (points,)
        Trials per point where known (then ``y`` is the exact proportion).
    paradigm : str
        One of ``PARADIGMS``.
    x_kind : str
        ``"delay"`` (time or items since study) or ``"exposures"`` (practice with THAT item).
    axis : str
        What x counts, in the words of a comparison: ``"practice"`` (presentations or
        repetitions of the item, as the model's exposures), ``"lag"`` (items since the previous
        presentation) or ``"delay"`` (time since study). "" : read from ``x_kind``
        (:func:`cramcog.comparison.curves.human_axis`).
    direction : str
        Which way the measure goes as x grows, as the source reports it: ``"falls"`` or
        ``"rises"`` (Reder's Remember share with repetition). "" : measured from the data
        (:func:`cramcog.comparison.curves.human_direction`).
    analog : str
        What ``y`` is the analog of in a model: ``"episodic"`` (the share answered by the
        look-up / recollective route, as the model's share of recurring queries that still
        attend) or ``"retention"`` (a forgetting curve).
    averaging : str
        How the humans were averaged: ``"by_exposure"`` (pooled at exact exposure counts),
        ``"by_time"`` (means over blocks of trials, i.e. over windows of exposures),
        ``"by_delay"`` or ``"single"`` (one subject); ``averaging_note`` says it in words.
    x_low, x_high : numpy.ndarray or None
        For block means (``by_time``): the window of x each point averages over.
    assumption : str
        How ``y`` was derived where the data hold no proportion directly ("" if measured).
    caveat : str
        What to keep in mind when comparing this curve (from the metadata).
    """

    label: str
    t: np.ndarray
    y: np.ndarray
    n: np.ndarray | None
    source: str = ""
    series: str = ""
    t_units: str = ""
    measure: str = ""
    reliability: str = ""
    notes: builtins.list[str] = field(default_factory=builtins.list)
    caveat: str = ""
    paradigm: str = ""
    x_kind: str = "delay"
    axis: str = ""
    direction: str = ""
    analog: str = "retention"
    averaging: str = ""
    averaging_note: str = ""
    assumption: str = ""
    x_low: np.ndarray | None = None
    x_high: np.ndarray | None = None
    x_long_name: str = ""
    y_long_name: str = ""
    #: what ``y`` holds, for ``fit_consolidation_curve(t, y, n=n, y_kind=curve.y_kind)``: always
    #: proportions (counts are divided by ``n`` when the curve is built)
    y_kind: str = "proportion"

    def __iter__(self) -> Iterator:
        return iter((self.label, self.t, self.y, self.n))

    def take(self, keep: np.ndarray) -> "Curve":
        """The same curve restricted to the points where ``keep`` (a boolean mask) is True."""
        def sub(a):
            return None if a is None else np.asarray(a)[keep]
        return replace(self, t=self.t[keep], y=self.y[keep], n=sub(self.n), x_low=sub(self.x_low),
                       x_high=sub(self.x_high), notes=builtins.list(self.notes))

    def positive(self) -> "Curve":
        """The same curve restricted to t > 0 (what power-law families can fit)."""
        return self.take(self.t > 0)


def _curve_kwargs(meta: dict) -> dict:
    """Curve fields that come from a data set's metadata."""
    paradigm = meta.get("paradigm", "")
    return {"reliability": str(meta.get("reliability_grade", "")),
            "notes": [str(v) for v in meta.get("notes", []) if v],
            "caveat": str(meta.get("comparison_caveat", "")), "paradigm": paradigm,
            "x_kind": "delay", "analog": "retention" if paradigm == "forgetting" else "",
            "averaging": "single" if "single subject" in str(meta.get("title", "")).lower()
            else "by_delay"}


def curves(data: str | xr.Dataset, *, include_unreliable: bool = False,
           include_derived: bool = False) -> builtins.list[Curve]:
    """The curves in a data set that are suitable for fitting.

    Parameters
    ----------
    data
        A bundled data set's name, or a Dataset from :func:`load` / :func:`load_csv`.
    include_unreliable
        Also return series the metadata flags as unreliable (e.g. the Ebbinghaus row of
        murre_dros_2015, whose two transcriptions conflict).
    include_derived
        Also return derived series (e.g. rubin_hinton_wenzel_1999's ``all_3``, the mean of the
        three conditions: fitting it beside them counts the same data twice).

    Returns
    -------
    list of Curve
        Forgetting curves from the delay layout; for grid and table data sets, the comparison
        curves their metadata define (derived, each with its ``assumption``). Empty where no
        curve can be identified: tables of constants or statements, fewer than 3 delays
        (dooling_christiaansen_1977), or no practice axis (tenison_2016: learning phases).

    Examples
    --------
    >>> from cramcog import psych
    >>> label, t, y, n = psych.curves("meeter_murre_janssen_2005")[0]
    >>> label, len(t), int(n.sum())
    ('meeter_murre_janssen_2005/4AFC', 27, 169573)
    >>> rk = psych.curves("reder_2000_remember_know_repetition_lag")[0]
    >>> rk.label, rk.t.tolist()[:3], rk.analog, rk.x_kind
    ('reder_2000_remember_know_repetition_lag/repetition/high', [1.0, 2.0, 3.0], 'episodic', \
'exposures')
    """
    if isinstance(data, str):
        meta = _meta(data)
        if meta.get("comparison_curves"):
            return [c for spec in meta["comparison_curves"]
                    for c in _comparison_curves(data, meta, spec)]
        if meta["kind"] != "curve":
            return []
        ds = load(data)
    elif isinstance(data, xr.Dataset):
        meta, ds = {}, data
    else:
        raise TypeError(f"curves() takes a data set name or an xarray.Dataset, got "
                        f"{type(data).__name__}")
    if "y" not in ds or "delay" not in ds.dims:
        raise ValueError("this Dataset has no curve layout (variables y over dim delay): build it "
                         "with cramcog.psych.load or cramcog.psych.load_csv")
    if ds.sizes["delay"] < 3:
        return []
    skip = set()
    if not include_unreliable:
        skip |= set(meta.get("unreliable_series", {}))
    if not include_derived:
        skip |= set(meta.get("derived_series", {}))
    source = str(ds.attrs.get("name", "data"))
    series_dims = [d for d in ds["y"].dims if d != "delay"]
    stacked = ds.stack(_curve=series_dims) if series_dims else ds.expand_dims(_curve=[0])
    extra = _curve_kwargs(meta) if meta else {
        "reliability": str(ds.attrs.get("reliability_grade", "")),
        "notes": [str(v) for v in np.atleast_1d(ds.attrs.get("notes", [])) if v]}
    out = []
    for i in range(stacked.sizes["_curve"]):
        one = stacked.isel(_curve=i)
        keys = [str(one[d].item()) for d in series_dims]
        series = "/".join(keys)
        if skip & set(keys):
            continue
        x = np.broadcast_to(one["x"].values, one["y"].shape).astype(float)
        y = one["y"].values.astype(float)
        n = one["n"].values.astype(float) if "n" in one else None
        if n is not None and "n_correct" in one:  # exact proportions from the counts
            y = one["n_correct"].values.astype(float) / n
        keep = np.isfinite(x) & np.isfinite(y) & (np.isfinite(n) if n is not None else True)
        order = np.argsort(x[keep], kind="stable")
        out.append(Curve(label=f"{source}/{series}" if series else source,
                         t=x[keep][order], y=y[keep][order],
                         n=None if n is None else n[keep][order], source=source, series=series,
                         t_units=str(ds["x"].attrs.get("units", "")),
                         measure=str(ds["y"].attrs.get("measure", "")),
                         x_long_name=str(ds["x"].attrs.get("long_name", "")),
                         y_long_name=str(ds["y"].attrs.get("long_name", "")), **extra))
    return out


def all_curves(paradigm: str | Sequence[str] | None = None, **kwargs) -> builtins.list[Curve]:
    """:func:`curves` of every bundled aggregate data set, in :func:`list` order.

    Per-participant data sets (``aggregate: false`` in their metadata, e.g.
    reder_2000_remember_know_per_subject) are left out: they hold the same trials as their
    aggregate, and fitting both counts the data twice. Ask for them with :func:`curves`.

    Parameters
    ----------
    paradigm
        Only data sets of this paradigm, group or list (see :func:`list`); None for all.
    **kwargs
        Passed to :func:`curves`.

    Examples
    --------
    >>> from cramcog import psych
    >>> len(psych.all_curves("forgetting")), len(psych.all_curves("episodic_semantic"))
    (9, 5)
    >>> sorted({c.paradigm for c in psych.all_curves()})
    ['forgetting', 'remember_know', 'strategy_shift']
    """
    return [c for name in list(paradigm=paradigm) if _meta(name).get("aggregate", True)
            for c in curves(name, **kwargs)]


# ----------------------------------------------------------------------------- derived curves

def zbrodoff_counting_share(retrieval_rt: float | None = None,
                            counting_rt: Sequence[float] | None = None) -> pd.DataFrame:
    """Zbrodoff's mean RTs turned into a counting share by a two-strategy mixture.

    Every trial is assumed to be solved either by counting (RT ``C(addend)``) or by retrieving
    the answer (RT ``R``, the same for every addend), so a cell's mean RT is
    ``R + p (C(addend) - R)`` and ``p = (RT - R) / (C(addend) - R)``, clipped to [0, 1]: the
    share of the counting cost left in the mean RT, a proxy for P(counting). It is NOT a measured
    proportion of retrieval trials (none exists in this data set).

    Parameters
    ----------
    retrieval_rt
        ``R`` in seconds. Default: the fastest cell's mean RT (0.87 s: reverse, block 3, addend
        4, 48-72 presentations), taken as pure retrieval. Retrieval keeps speeding up with
        practice (Delaney et al. 1998), which a constant R ignores.
    counting_rt
        ``C`` for addends (2, 3, 4). Default: the line through the block-1 RTs of the two
        least-practised cells (addend 2 in reverse, addend 4 in standard: 0-8 presentations
        each), 2.25 s + 0.65 s per extra letter. Those cells get p = 1 by construction: p is
        relative to the least-practised block.

    Returns
    -------
    pandas.DataFrame
        One row per (condition, block, addend): the table's columns plus ``x`` (presentations
        of the equation before the block's midpoint), ``x_low``/``x_high`` (the block's window
        of presentations) and ``counting_share``.

    Examples
    --------
    >>> from cramcog import psych
    >>> df = psych.zbrodoff_counting_share()
    >>> float(df.counting_share.max()), float(df.counting_share.min())
    (1.0, 0.0)
    >>> row = df[(df.condition == "control") & (df.block == 3) & (df.addend == 4)].iloc[0]
    >>> float(row.x), round(float(row.counting_share), 2)
    (40.0, 0.11)
    """
    df = table("zbrodoff_1995_alpha_arithmetic").copy()
    rt = df["mean_correct_rt_s"].to_numpy(float)
    r = float(rt.min()) if retrieval_rt is None else float(retrieval_rt)
    if counting_rt is None:
        block1 = df[df["block"] == 1]
        least = block1.loc[block1.groupby("addend")["cum_equation_presentations_block_end"]
                           .idxmin()]
        least = least[least["cum_equation_presentations_block_end"]
                      == least["cum_equation_presentations_block_end"].min()]
        slope, intercept = np.polyfit(least["addend"], least["mean_correct_rt_s"], 1)
        c_by_addend = {a: intercept + slope * a for a in (2, 3, 4)}
    else:
        values = builtins.list(counting_rt)
        if len(values) != 3:
            raise ValueError(f"counting_rt gives C for addends (2, 3, 4): three values, got "
                             f"{values!r}")
        c_by_addend = dict(zip((2, 3, 4), map(float, values)))
    c = df["addend"].map(c_by_addend).to_numpy(float)
    if not (np.isfinite(r) and np.all(c > r)):
        raise ValueError(f"the counting RTs {c_by_addend} must exceed the retrieval RT {r}")
    df["x_low"] = df["cum_equation_presentations_block_start"].astype(float)
    df["x_high"] = df["cum_equation_presentations_block_end"].astype(float)
    df["x"] = (df["x_low"] + df["x_high"]) / 2
    df["counting_share"] = np.clip((rt - r) / (c - r), 0.0, 1.0)
    return df


#: Presentations of the equation by the end of block 1 up to which a block-1 cell counts as pure
#: counting in :func:`zbrodoff_reference_choices` (8: the two least-practised cells, the default).
ZBRODOFF_COUNTING_CELLS_UP_TO = (8, 16, 24)


def zbrodoff_reference_choices() -> pd.DataFrame:
    """The reasonable choices of the reference cells of :func:`zbrodoff_counting_share`.

    The counting share rests on two references read off the data: ``R``, the RT of pure
    retrieval, and ``C(addend)``, the RT of pure counting. Which cells count as "pure" is a
    choice, and it moves every derived number (the item-practice index by more than 0.1). The
    choices, fixed by the design rather than by the results:

    - R: the fastest cell (the default), or the mean of the cells with the most practice (72
      presentations of the equation by the end of block 3: reverse addend 4 and standard addend
      2, 0.87 and 0.91 s);
    - C: the line over addends through the block-1 cells with at most 8 presentations (the
      default: the two least-practised cells), at most 16, or at most 24 (every block-1 cell).

    Returns
    -------
    pandas.DataFrame
        One row per choice (2 x 3), the default first: ``choice`` (in words), ``default``,
        ``retrieval_rt``, ``counting_rt`` (C for addends 2, 3, 4: pass both to
        :func:`zbrodoff_counting_share`).

    Examples
    --------
    >>> from cramcog import psych
    >>> choices = psych.zbrodoff_reference_choices()
    >>> len(choices), choices.choice[0]
    (6, 'R: fastest cell; C: block-1 cells with <= 8 presentations')
    >>> first = choices.iloc[0]
    >>> default = psych.zbrodoff_counting_share()
    >>> bool((psych.zbrodoff_counting_share(first.retrieval_rt, first.counting_rt)
    ...       .counting_share == default.counting_share).all())
    True
    """
    df = table("zbrodoff_1995_alpha_arithmetic")
    rt = df["mean_correct_rt_s"].to_numpy(float)
    most = df["cum_equation_presentations_block_end"] == df[
        "cum_equation_presentations_block_end"].max()
    retrieval = {"fastest cell": float(rt.min()),
                 "cells with the most practice": float(df.loc[most, "mean_correct_rt_s"].mean())}
    block1 = df[df["block"] == 1]
    rows = []
    for r_name, r in retrieval.items():
        for up_to in ZBRODOFF_COUNTING_CELLS_UP_TO:
            cells = block1[block1["cum_equation_presentations_block_end"] <= up_to]
            slope, intercept = np.polyfit(cells["addend"], cells["mean_correct_rt_s"], 1)
            rows.append({"choice": f"R: {r_name}; C: block-1 cells with <= {up_to} "
                                   "presentations",
                         "default": r_name == "fastest cell" and up_to == 8,
                         "retrieval_rt": r,
                         "counting_rt": tuple(float(intercept + slope * a) for a in (2, 3, 4))})
    return pd.DataFrame(rows)


_DERIVATIONS = {"zbrodoff_counting_share": lambda: (zbrodoff_counting_share(), "counting_share")}


def _comparison_curves(name: str, meta: dict, spec: dict) -> builtins.list[Curve]:
    """The curves a data set's metadata defines (``comparison_curves``), built from its table."""
    common = dict(_curve_kwargs(meta), source=name, t_units=spec["x"]["units"],
                  measure=spec["y"]["measure"], x_long_name=spec["x"]["long_name"],
                  y_long_name=spec["y"]["long_name"], x_kind=spec["x_kind"],
                  axis=spec.get("axis", ""), direction=spec.get("direction", ""),
                  analog=spec["analog"], averaging=spec["averaging"],
                  averaging_note=spec.get("averaging_note", ""),
                  assumption=spec.get("assumption", ""))
    if "derive" in spec:
        df, y_col = _DERIVATIONS[spec["derive"]]()
        df = df.sort_values("x", kind="stable")
        return [Curve(label=f"{name}/{spec['series']}", t=df["x"].to_numpy(float),
                      y=df[y_col].to_numpy(float), n=None, series=spec["series"],
                      x_low=df["x_low"].to_numpy(float), x_high=df["x_high"].to_numpy(float),
                      **common)]
    df = table(name)
    for col, value in spec.get("rows", {}).items():
        df = df[df[col].astype(str) == str(value)]
    groups = df.groupby(spec["by"], sort=False) if spec.get("by") else [((), df)]
    out = []
    for key, sub in groups:
        key = key if isinstance(key, tuple) else (key,)
        series = "/".join([spec["series"], *map(str, key)])
        x = sub[spec["x_column"]].to_numpy(float) + float(spec.get("x_offset", 0))
        k = sub[spec["successes"]].to_numpy(float).sum(1)
        n = sub[spec["trials"]].to_numpy(float).sum(1)
        keep = np.isfinite(x) & (n > 0)
        order = np.argsort(x[keep], kind="stable")
        out.append(Curve(label=f"{name}/{series}", t=x[keep][order],
                         y=(k[keep] / n[keep])[order], n=n[keep][order], series=series,
                         **common))
    return out


# ----------------------------------------------------------------------------- published fits

def _ebbinghaus_log(t, k, c):
    """Ebbinghaus (1885, p.78): savings b = 100 k / ((log10 t)^c + k), t in minutes, b in %."""
    return 100.0 * k / (np.log10(t) ** c + k)


def _double_exponential(t, a1, a2, t2, a3, tau1=1.15):
    """Rubin, Hinton & Wenzel (1999): y = a1 exp(-t/tau1) + a2 exp(-t/T2) + a3."""
    return a1 * np.exp(-t / tau1) + a2 * np.exp(-t / t2) + a3


@dataclass(frozen=True)
class PublishedFit:
    """A fit reported by a data set's paper (formula and constants as published)."""

    source: str
    form: str
    formula: str
    params: dict
    x_column: str
    y_column: str

    def predict(self, t, **free) -> np.ndarray:
        """The published curve at ``t``, in the paper's own x and y units.

        ``free`` supplies parameters the paper did not publish (e.g. the amplitudes of
        Rubin et al.'s double exponential, which only its time constants fix).
        """
        t = np.asarray(t, dtype=float)
        if self.form == "ebbinghaus_log":
            return _ebbinghaus_log(t, self.params["k"], self.params["c"])
        if self.form == "double_exponential":
            return _double_exponential(t, free["a1"], free["a2"], self.params["T2"], free["a3"],
                                       tau1=self.params["tau1"])
        raise ValueError(f"unknown published form {self.form!r}")


def published_fit(name: str) -> PublishedFit | None:
    """The fit the data set's paper reports, or None when it reports none.

    Examples
    --------
    >>> from cramcog import psych
    >>> fit = psych.published_fit("ebbinghaus_1885")
    >>> round(float(fit.predict(44640)), 1)    # 31 days in minutes; Ebbinghaus printed 21.2
    21.2
    """
    spec = _meta(name).get("published_fit")
    if not spec:
        return None
    return PublishedFit(source=name, form=spec["form"], formula=spec["formula"],
                        params=dict(spec["params"]), x_column=spec["x_column"],
                        y_column=spec["y_column"])


def refit_published(name: str, series: str | None = None, level: float = 0.95) -> dict:
    """Refit the paper's own functional form to the bundled data by (weighted) least squares.

    What it is for: checking that the bundled numbers reproduce the published constants. Weights
    are the data set's standard errors where it has them (Ebbinghaus: probable error / 0.6745).

    Parameters
    ----------
    name
        A data set with a published fit (ebbinghaus_1885, rubin_hinton_wenzel_1999).
    series
        The condition for data sets with several (rubin_hinton_wenzel_1999: matched, white,
        random or all_3; default all_3).
    level
        Confidence level of the Wald intervals.

    Returns
    -------
    dict
        ``params`` (estimates), ``ci`` (name -> (low, high)), ``chi2`` (weighted SSE at the
        estimate), ``chi2_published`` (at the published constants, free amplitudes re-optimised),
        ``dof``.

    Examples
    --------
    >>> from cramcog import psych
    >>> out = psych.refit_published("ebbinghaus_1885")
    >>> round(out["params"]["k"], 2), round(out["params"]["c"], 2)
    (1.82, 1.22)
    """
    from scipy.optimize import least_squares
    from scipy.stats import norm

    pub = published_fit(name)
    if pub is None:
        raise ValueError(f"{name} has no published fit; data sets with one: "
                         f"{[d for d in list('curve') if _meta(d).get('published_fit')]}")
    df = table(name)
    if pub.form == "ebbinghaus_log":
        t, y = df[pub.x_column].to_numpy(float), df[pub.y_column].to_numpy(float)
        se = df["probable_error_pct"].to_numpy(float) / 0.6745  # PE = 0.6745 SD for a normal
        names, p0 = ["k", "c"], [pub.params["k"], pub.params["c"]]
        model = lambda p: _ebbinghaus_log(t, *p)  # noqa: E731
        fixed = lambda p_free: _ebbinghaus_log(t, pub.params["k"], pub.params["c"])  # noqa: E731
        free0: builtins.list[float] = []
    else:
        series = series or "all_3"
        sub = df[df["condition"] == series]
        if sub.empty:
            raise ValueError(f"series {series!r} not in {name}; choose one of "
                             f"{sorted(df['condition'].unique())}")
        t, y = sub[pub.x_column].to_numpy(float), sub[pub.y_column].to_numpy(float)
        se = sub["accuracy_spread"].to_numpy(float)
        tau1 = pub.params["tau1"]
        names, p0 = ["a1", "a2", "T2", "a3"], [0.5, 0.3, pub.params["T2"], 0.1]
        model = lambda p: _double_exponential(t, p[0], p[1], p[2], p[3], tau1=tau1)  # noqa: E731
        t2 = pub.params["T2"]
        fixed = lambda q: _double_exponential(t, q[0], q[1], t2, q[2], tau1=tau1)  # noqa: E731
        free0 = [0.5, 0.3, 0.1]
    res = least_squares(lambda p: (model(p) - y) / se, p0, method="lm")
    if not res.success:
        raise RuntimeError(f"refit of {name} did not converge: {res.message}")
    chi2 = float(np.sum(res.fun ** 2))
    dof = len(y) - len(names)
    jac = res.jac
    cov = np.linalg.inv(jac.T @ jac) * max(chi2 / dof, 1.0)  # inflate if the data scatter more
    z = norm.ppf(0.5 + level / 2)
    se_p = np.sqrt(np.diag(cov))
    if free0:
        chi2_pub = float(np.sum(least_squares(lambda q: (fixed(q) - y) / se, free0,
                                              method="lm").fun ** 2))
    else:
        chi2_pub = float(np.sum(((fixed(None) - y) / se) ** 2))
    return {"params": dict(zip(names, map(float, res.x))),
            "ci": {k: (float(v - z * s), float(v + z * s)) for k, v, s in zip(names, res.x, se_p)},
            "chi2": chi2, "chi2_published": chi2_pub, "dof": dof}
