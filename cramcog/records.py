"""Experiment records: xarray Datasets with a fixed, validated schema, saved as netCDF.

Every training run, fit, comparison and ablation in cramcog is a *record*. The rules (docs/DESIGN.md, Records):

- dims name what varies: ``(step, layer)`` for a training run, ``(variant, seed, step, layer)`` for
  an ablation, ``(family, parameter)`` for fits; coordinates carry ``units`` and ``long_name``;
- attrs are flat: str, int, float, or lists of those (netCDF rejects bool, None and dict). The full
  configuration is ONE JSON string attr, ``config_json``;
- provenance attrs: ``cramcog_version``, ``git_revision``, ``torch_version``, ``seed``, ``created``;
- a record on disk is always readable: writes go to a temporary file that is renamed into place.

Examples
--------
>>> import numpy as np, tempfile, os
>>> from cramcog import records
>>> ds = records.new_record(
...     {"loss": (("step",), np.array([1.0, 0.5]))},
...     coords={"step": ("step", np.array([0, 10], dtype="int64"), {"units": "optimizer steps"})},
...     kind="training", config={"lr": 1e-3}, seed=0)
>>> path = os.path.join(tempfile.mkdtemp(), "run.nc")
>>> path = records.save(ds, path)
>>> records.open(path).cram.config["lr"]
0.001
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from builtins import open as builtins_open   # this module's `open` reads records
from typing import Any, Mapping, Sequence

import numpy as np
import xarray as xr

SCHEMA_VERSION = 1
ENGINE = "netcdf4"  # int64 coordinates and string attrs need NETCDF4, not NETCDF3
RECORD_KINDS = (
    "training", "evaluation", "ablation", "fit", "comparison", "psych", "redundancy",
    "benchmark", "transfer", "scaling",
)
_FLAT_SCALARS = (str, int, float, np.integer, np.floating)


class RecordError(ValueError):
    """A file or Dataset that is not a valid cramcog record."""


# ----------------------------------------------------------------------------- provenance

def git_revision() -> str:
    """The git commit of the cramcog source tree, with ``+dirty`` if modified; "" if unknown."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def _installed_version(package: str) -> str:
    """The installed version of ``package`` without importing it ("" if absent)."""
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return ""


def _cpu_model() -> str:
    try:
        with builtins_open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(seed: int | None = None) -> dict[str, Any]:
    """Provenance attrs for a new record: versions (cramcog, torch, numpy, scipy, xarray,
    Python), git revision, the machine (OS, CPU), seed, creation time (UTC)."""
    from cramcog import __version__

    torch = sys.modules.get("torch")  # the running torch if loaded, else the installed one
    return {
        "cramcog_schema": SCHEMA_VERSION,
        "cramcog_version": __version__,
        "git_revision": git_revision(),
        "torch_version": getattr(torch, "__version__", "") if torch else
        _installed_version("torch"),
        "numpy_version": np.__version__,
        "scipy_version": _installed_version("scipy"),
        "xarray_version": xr.__version__,
        "python_version": sys.version.split()[0],
        "os": platform.platform(),
        "cpu": _cpu_model(),
        "seed": -1 if seed is None else int(seed),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


# ----------------------------------------------------------------------------- attrs

def flatten_attr(value: Any) -> Any:
    """Turn a Python value into a netCDF-safe attr value (str, int, float or a list of those).

    bool -> int (0/1), None -> "", dict -> JSON string, tuple -> list. Anything else that is not
    flat raises RecordError.
    """
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True, default=_json_default)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        items = [flatten_attr(v) for v in value]
        if any(isinstance(v, list) for v in items):
            raise RecordError(f"nested list attr {value!r}: store it in config_json instead")
        kinds = {str if isinstance(v, str) else float for v in items}
        if len(kinds) > 1:
            raise RecordError(f"attr list mixes strings and numbers: {value!r}")
        return items
    if isinstance(value, _FLAT_SCALARS):
        return value.item() if isinstance(value, np.generic) else value
    raise RecordError(f"attr value {value!r} of type {type(value).__name__} is not flat: use str, "
                      "int, float or a list of those (put structured data in config_json)")


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "__dataclass_fields__"):
        import dataclasses
        return dataclasses.asdict(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def config_to_json(config: Any) -> str:
    """A config (dict or dataclass) as one sorted JSON string."""
    if config is None:
        return "{}"
    if hasattr(config, "__dataclass_fields__"):
        import dataclasses
        config = dataclasses.asdict(config)
    return json.dumps(config, sort_keys=True, default=_json_default)


# ----------------------------------------------------------------------------- build / validate

def new_record(data_vars: Mapping[str, Any], coords: Mapping[str, Any] | None = None, *,
               kind: str, config: Any = None, seed: int | None = None,
               attrs: Mapping[str, Any] | None = None) -> xr.Dataset:
    """Build a record: a Dataset with provenance, a JSON config and flat attrs.

    Parameters
    ----------
    data_vars, coords
        As for :class:`xarray.Dataset`.
    kind
        One of ``RECORD_KINDS`` ("training", "fit", "ablation", ...).
    config
        dict or dataclass; stored as the JSON string attr ``config_json``.
    seed
        The run's seed (``-1`` when not applicable).
    attrs
        Extra attrs; flattened with :func:`flatten_attr`.

    Returns
    -------
    xarray.Dataset

    Examples
    --------
    >>> import numpy as np
    >>> ds = new_record({"y": ("t", np.ones(3))}, kind="fit", seed=1)
    >>> ds.attrs["record_kind"], ds.attrs["seed"]
    ('fit', 1)
    """
    if kind not in RECORD_KINDS:
        raise RecordError(f"unknown record kind {kind!r}; use one of {RECORD_KINDS}")
    ds = xr.Dataset(data_vars, coords=coords)
    ds.attrs.update(provenance(seed))
    ds.attrs["record_kind"] = kind
    ds.attrs["config_json"] = config_to_json(config)
    for key, value in (attrs or {}).items():
        ds.attrs[key] = flatten_attr(value)
    return ds


def from_frame(frame, dims: Sequence[str], variables: Sequence[str] | None = None, *,
               kind: str, dim_coords: Mapping[str, Sequence[str]] | None = None,
               config: Any = None, seed: int | None = None,
               attrs: Mapping[str, Any] | None = None) -> xr.Dataset:
    """A record from a tidy table: one row per cell of ``dims``, one column per variable.

    The declarative way to build a record from results held as a DataFrame: name the columns
    that index the cells (``dims``, coordinates in order of first appearance), the columns that
    become variables (default: every other column) and, per dim, the columns that describe its
    levels (``dim_coords``, e.g. a curve's units). Text columns are stored as str; a cell the
    table lacks is NaN (numbers) or "" (text). Provenance, config and attrs as for
    :func:`new_record`.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table; ``dims`` must identify its rows (no duplicates).
    dims
        Columns that index the cells.
    variables
        Columns to store as variables over ``dims``.
    kind, config, seed, attrs
        As for :func:`new_record`.
    dim_coords
        ``{dim: [column, ...]}``: columns constant within each level of ``dim``, stored as
        coordinates along it.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"curve": ["a", "a", "b"], "family": ["power", "exp", "power"],
    ...                   "aic": [1.0, 2.0, 3.0], "units": ["s", "s", "h"]})
    >>> ds = from_frame(t, ("curve", "family"), ["aic"], kind="fit",
    ...                 dim_coords={"curve": ["units"]})
    >>> ds["aic"].sel(curve="b", family="exp").item(), ds["units"].values.tolist()
    (nan, ['s', 'h'])
    >>> from_frame(t.assign(row=[0, 1, 2]), ("row",), ["aic"], kind="fit")["aic"].values.tolist()
    [1.0, 2.0, 3.0]
    """
    import pandas as pd

    dims = list(dims)
    missing = [c for c in dims + list(variables or []) if c not in frame.columns]
    if missing:
        raise RecordError(f"from_frame: columns {missing} not in the table (it has "
                          f"{list(frame.columns)})")
    if frame.duplicated(dims).any():
        first = frame[frame.duplicated(dims)].iloc[0]
        raise RecordError(f"from_frame: two rows for the cell {dict(first[dims])}; the columns "
                          f"{dims} must identify each row")
    dim_coords = {d: list(cols) for d, cols in (dim_coords or {}).items()}
    described = {c for cols in dim_coords.values() for c in cols}
    if variables is None:
        variables = [c for c in frame.columns if c not in dims and c not in described]
    levels = {d: list(dict.fromkeys(frame[d])) for d in dims}
    index = pd.MultiIndex.from_product([levels[d] for d in dims], names=dims) \
        if len(dims) > 1 else pd.Index(levels[dims[0]], name=dims[0])
    full = frame.set_index(dims).reindex(index)
    shape = tuple(len(levels[d]) for d in dims)
    data = {}
    for col in variables:
        values = full[col]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            arr = values.fillna("").astype(str).to_numpy().astype(str)
        else:
            arr = values.to_numpy(dtype=float) if values.dtype.kind in "biuf" \
                else values.to_numpy()
        data[col] = (tuple(dims), arr.reshape(shape))
    coords: dict[str, Any] = {d: (d, np.asarray(levels[d]).astype(str)
                                  if frame[d].dtype == object else np.asarray(levels[d]))
                              for d in dims}
    for d, cols in dim_coords.items():
        per_level = frame.drop_duplicates(d).set_index(d).reindex(levels[d])
        for col in cols:
            values = per_level[col]
            coords[col] = (d, values.astype(str).to_numpy().astype(str)
                           if values.dtype == object else values.to_numpy())
    return new_record(data, coords=coords, kind=kind, config=config, seed=seed, attrs=attrs)


def validate(ds: xr.Dataset) -> xr.Dataset:
    """Check that ``ds`` is a well-formed record; return it, or raise RecordError saying why."""
    if not isinstance(ds, xr.Dataset):
        raise RecordError(f"a record is an xarray.Dataset, got {type(ds).__name__}")
    missing = [k for k in ("cramcog_schema", "record_kind", "config_json") if k not in ds.attrs]
    if missing:
        raise RecordError(f"not a cramcog record: attrs {missing} are missing (build records with "
                          "cramcog.records.new_record)")
    if int(ds.attrs["cramcog_schema"]) > SCHEMA_VERSION:
        raise RecordError(f"record schema {ds.attrs['cramcog_schema']} is newer than this cramcog "
                          f"({SCHEMA_VERSION}): upgrade cramcog to read it")
    try:
        json.loads(ds.attrs["config_json"])
    except (TypeError, json.JSONDecodeError) as err:
        raise RecordError(f"config_json attr is not valid JSON: {err}") from None
    for owner, attrs in [("dataset", ds.attrs)] + [(str(n), v.attrs) for n, v in ds.variables.items()]:
        for key, value in attrs.items():
            try:
                flatten_attr(value)
            except RecordError as err:
                raise RecordError(f"{owner} attr {key!r}: {err}") from None
            if isinstance(value, (bool, np.bool_, dict)) or value is None:
                raise RecordError(f"{owner} attr {key!r} is {type(value).__name__}; netCDF cannot "
                                  "store it: flatten it with cramcog.records.flatten_attr")
    return ds


# ----------------------------------------------------------------------------- save / open

def save(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Validate and write a record atomically (temp file in the same folder, then rename).

    A reader never sees a half-written file, and an interrupted write leaves the old file intact.
    """
    validate(ds)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)  # mkstemp makes 0600 files; give the record the usual permissions
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        ds = ds.copy()  # _compressed clears the copy's read-in encodings, not the caller's
        ds.to_netcdf(tmp, engine=ENGINE, format="NETCDF4", encoding=_compressed(ds))
        durable_replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def durable_replace(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """``os.replace(tmp, path)`` after the data reach the disk (fsync of the file, then of the
    folder after the rename): a power cut leaves the old file or the new one, never an empty
    one."""
    fd = os.open(tmp, os.O_RDWR)       # (this module's `open` reads records)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    try:
        fd = os.open(Path(path).parent, os.O_RDONLY)
    except OSError:          # a folder that cannot be opened (some platforms): rename is done
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_orphans(folder: str | os.PathLike, names: tuple[str, ...]) -> list[Path]:
    """Delete the temp files an interrupted atomic write of ``names`` left in ``folder``
    (``.<name>.*.tmp``); only call it while holding the folder (e.g. a run's lock).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / ".record.nc.ab12.tmp").write_text("half"), (d / "keep.tmp").write_text("x")
    >>> [p.name for p in remove_orphans(d, ("record.nc",))], sorted(p.name for p in d.iterdir())
    (['.record.nc.ab12.tmp'], ['keep.tmp'])
    """
    removed = []
    for name in names:
        for orphan in Path(folder).glob(f".{name}.*.tmp"):
            orphan.unlink(missing_ok=True)
            removed.append(orphan)
    return removed


def _compressed(ds: xr.Dataset) -> dict:
    """Lossless zlib for numeric arrays (training records shrink ~2.4x); nothing else changes.

    Encodings a variable carries from the file it was read from (chunk sizes of another shape)
    are not reused: a record is written the same way however it was made.
    """
    encoding = {}
    for name, var in ds.variables.items():
        var.encoding = {}  # not even the stored dtype: an int column may now hold NaN holes
        if var.ndim and var.dtype.kind in "fiub":
            encoding[name] = {"zlib": True, "complevel": 4, "shuffle": True}
    return encoding


def open(path: str | os.PathLike) -> xr.Dataset:  # noqa: A001 - mirrors xr.open_dataset
    """Open and validate a record; the data is loaded into memory and the file closed.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    RecordError
        The file is not netCDF, or is netCDF but not a cramcog record.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no record at {path}")
    try:
        with xr.open_dataset(path, engine=ENGINE) as ds:
            ds = ds.load()
    except Exception as err:  # netCDF4 raises OSError/RuntimeError/ValueError for bad files
        raise RecordError(f"{path} is not a readable netCDF record ({type(err).__name__}: {err}); "
                          "was it written by cramcog.records.save?") from None
    try:
        return validate(ds)
    except RecordError as err:
        raise RecordError(f"{path}: {err}") from None


# ----------------------------------------------------------------------------- accessor

@xr.register_dataset_accessor("cram")
class CramAccessor:
    """``ds.cram``: record helpers on any Dataset.

    Examples
    --------
    >>> import numpy as np
    >>> ds = new_record({"y": ("t", np.ones(2))}, kind="fit", config={"family": "power"})
    >>> ds.cram.kind, ds.cram.config["family"]
    ('fit', 'power')
    """

    def __init__(self, ds: xr.Dataset):
        self._ds = ds

    @property
    def kind(self) -> str:
        return str(self._ds.attrs.get("record_kind", ""))

    @property
    def config(self) -> dict:
        return json.loads(self._ds.attrs.get("config_json", "{}"))

    @property
    def provenance(self) -> dict:
        keys = ("cramcog_version", "git_revision", "torch_version", "numpy_version",
                "scipy_version", "xarray_version", "python_version", "os", "cpu", "seed",
                "created")
        return {k: self._ds.attrs[k] for k in keys if k in self._ds.attrs}

    def validate(self) -> xr.Dataset:
        return validate(self._ds)

    def save(self, path: str | os.PathLike) -> Path:
        return save(self._ds, path)
