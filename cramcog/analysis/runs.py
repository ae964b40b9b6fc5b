"""Records to runs and tidy frames: the data layer of :mod:`cramcog.analysis` and
:mod:`cramcog.figures` (no plotting).

An ablation record (dims ``variant, seed, ...``) is split back into per-run records; every
analysis then works on runs.

Examples
--------
>>> from cramcog.experiments.ablations import demo_run
>>> from cramcog.analysis.runs import as_runs
>>> [(v, s) for v, s, _ in as_runs({"demo": demo_run({"rate": 0.1, "steps": 30, "seed": 0})})]
[('demo', 0)]
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

QUERY_KINDS = ("overall", "recurring", "novel")


class AnalysisError(ValueError):
    """A record that cannot be analysed or drawn: wrong kind, or missing what is needed."""


FigureError = AnalysisError   # the name figures (and their users) catch


def _check_record(ds: Any, kinds: Sequence[str], what: str) -> xr.Dataset:
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"{what} needs an xarray.Dataset record, got {type(ds).__name__}")
    kind = str(ds.attrs.get("record_kind", ""))
    if not kind:
        raise FigureError(f"{what}: this Dataset is not a cramcog record (no record_kind attr); "
                          "build it with cramcog.records.new_record")
    if kind not in kinds:
        raise FigureError(f"{what} draws {' or '.join(kinds)} records, got a {kind!r} record")
    return ds


def _need(ds: xr.Dataset, names: Iterable[str], what: str) -> None:
    missing = [n for n in names if n not in ds.variables]
    if missing:
        raise FigureError(f"{what}: the {ds.attrs.get('record_kind', '?')} record has no "
                          f"{missing} (it has {sorted(map(str, ds.data_vars))})")


def _run_name(ds: xr.Dataset, i: int) -> str:
    for key in ("ablation_variant", "run_name", "name"):
        if ds.attrs.get(key):
            return str(ds.attrs[key])
    try:
        name = json.loads(ds.attrs.get("config_json", "{}")).get("name")
    except (TypeError, json.JSONDecodeError):
        name = None
    return str(name) if name else f"run{i}"


def as_runs(data: Any, kinds: Sequence[str] = ("training", "ablation"),
            what: str = "figure") -> list[tuple[str, int, xr.Dataset]]:
    """Split records into single runs: ``[(variant, seed, run Dataset with dims step, layer...)]``.

    ``data``: a training or ablation record, a list of them, or ``{name: record}``. Cells of an
    ablation record that did not finish (status != "ok") are left out.
    """
    if isinstance(data, xr.Dataset):
        items = [(None, data)]
    elif isinstance(data, Mapping):
        items = list(data.items())
    elif isinstance(data, (list, tuple)):
        items = [(None, d) for d in data]
    else:
        raise TypeError(f"{what} takes a record, a list of records or {{name: record}}, got "
                        f"{type(data).__name__}")
    if not items:
        raise ValueError(f"{what}: no records given")
    runs = []
    for i, (name, ds) in enumerate(items):
        _check_record(ds, kinds, what)
        if ds.cram.kind == "ablation":
            status = ds["status"] if "status" in ds else None
            for variant in ds["variant"].values:
                for seed in ds["seed"].values:
                    if status is not None and str(status.sel(variant=variant, seed=seed).values) \
                            != "ok":
                        continue
                    run = ds.sel(variant=variant, seed=seed).drop_vars(
                        [v for v in ("variant", "seed") if v in ds.coords])
                    # a cell is a run record again: its own coords, kind, config and seed
                    cell_coords = [c for c in str(ds.attrs.get("cell_coords", "")).split(",")
                                   if c in run.data_vars]
                    run = run.set_coords(cell_coords)
                    run.attrs = dict(ds.attrs)
                    run.attrs.update(
                        record_kind=str(ds.attrs.get("cell_kind") or "training").split(",")[0],
                        seed=int(seed), ablation_variant=str(variant))
                    if "cell_config_json" in run:
                        run.attrs["config_json"] = str(run["cell_config_json"].values) or "{}"
                        run = run.drop_vars(["cell_config_json", "status", "error"],
                                            errors="ignore")
                    label = f"{name}:{variant}" if name else str(variant)
                    runs.append((label, int(seed), _drop_all_nan_steps(run)))
        else:
            seed = int(ds.attrs.get("seed", -1))
            runs.append((str(name) if name else _run_name(ds, i), seed, ds))
    if not runs:
        raise FigureError(f"{what}: no finished runs in the records (every cell failed or is "
                          "pending)")
    return runs


def _drop_all_nan_steps(run: xr.Dataset) -> xr.Dataset:
    """Steps that only exist in OTHER cells of an ablation (outer join) are all-NaN: drop them."""
    for dim in ("step", "eval_step"):
        if dim not in run.dims:
            continue
        keep = np.zeros(run.sizes[dim], dtype=bool)
        for var in run.data_vars.values():
            if dim in var.dims and var.dtype.kind == "f":
                other = [d for d in var.dims if d != dim]
                keep |= (np.isfinite(var).any(other) if other else np.isfinite(var)).values
        run = run.isel({dim: np.flatnonzero(keep)})
    return run


def attention_frame(data: Any, variable: str = "attention_fraction") -> pd.DataFrame:
    """Tidy frame of a per-(step, layer) variable: columns variant, seed, step, layer, value.

    Examples
    --------
    >>> from cramcog.experiments.ablations import demo_run
    >>> attention_frame(demo_run({"rate": 0.1, "steps": 3, "seed": 0})).columns.tolist()
    ['variant', 'seed', 'step', 'layer', 'attention_fraction']
    """
    frames = []
    for variant, seed, run in as_runs(data, what="attention_frame"):
        _need(run, [variable], "attention_frame")
        df = run[variable].to_dataframe(name=variable).reset_index()
        if "layer" not in df:
            df["layer"] = 0
        df = df[["step", "layer", variable]].dropna()
        df.insert(0, "seed", seed)
        df.insert(0, "variant", variant)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def accuracy_of(run: xr.Dataset, kind: str = "overall") -> xr.DataArray | None:
    """Retrieval accuracy over evaluation steps for one query kind, or None if the run has none.

    Accepts ``retrieval_accuracy(eval_step, query_kind)`` (docs/DESIGN.md, retrieval_accuracy) or one variable per kind
    (``retrieval_accuracy_<kind>``).
    """
    if "retrieval_accuracy" in run and "query_kind" in run["retrieval_accuracy"].dims:
        labels = [str(v) for v in run["query_kind"].values]
        if kind in labels:
            return run["retrieval_accuracy"].isel(query_kind=labels.index(kind))
        return None
    for name in (f"retrieval_accuracy_{kind}", f"accuracy_{kind}"):
        if name in run:
            return run[name]
    if kind == "overall" and "retrieval_accuracy" in run:
        return run["retrieval_accuracy"]
    return None


def _last_finite(da: xr.DataArray | None) -> float:
    if da is None:
        return float("nan")
    values = np.asarray(da.values, dtype=float).ravel()
    values = values[np.isfinite(values)]
    return float(values[-1]) if values.size else float("nan")


def _mean_attention(run: xr.DataArray) -> xr.DataArray:
    other = [d for d in run.dims if d != "step"]
    return run.mean(other) if other else run


def _held_out(run: xr.Dataset, name: str, fallback: float) -> float:
    """Layer-mean of ``test_<name>`` (or the last ``eval_<name>``), else ``fallback``."""
    test = run.get(f"test_{name}")
    if test is not None and np.isfinite(test.values).any():
        return float(np.nanmean(test.values))
    ev = run.get(f"eval_{name}")
    if ev is not None and "eval_step" in ev.dims:
        layer_mean = ev.mean([d for d in ev.dims if d != "eval_step"])
        value = _last_finite(layer_mean)
        if np.isfinite(value):
            return value
    return fallback


def _scalar(run: xr.Dataset, name: str) -> float:
    if name in run.variables:
        return float(np.nanmean(run[name].values))
    value = run.attrs.get(name)
    return float(value) if isinstance(value, (int, float, np.number)) else float("nan")


def warmup_end_step(run: xr.Dataset) -> int:
    """The step the run's attention warm-up ended, -1 if it has none: an attr of a training
    record, a variable of a cell split from an ablation record."""
    value = _scalar(run, "warmup_end_step")
    return int(value) if np.isfinite(value) else -1


def parse_runs(items: list[str]) -> dict[str, list[str]]:
    """``["a=d1,d2", "b=d3"]`` -> ``{"a": ["d1", "d2"], "b": ["d3"]}``; malformed items raise.

    Examples
    --------
    >>> parse_runs(["cram=runs/a,runs/b", "no_consolidation=runs/c"])
    {'cram': ['runs/a', 'runs/b'], 'no_consolidation': ['runs/c']}
    """
    out: dict[str, list[str]] = {}
    for item in items:
        name, sep, dirs = item.partition("=")
        folders = [d for d in dirs.split(",") if d]
        if not sep or not name or not folders:
            raise ValueError(f"{item!r}: expected NAME=DIR[,DIR...], e.g. cram=runs/small")
        if name in out:
            raise ValueError(f"run name {name!r} given twice; list its folders comma-separated")
        out[name] = folders
    return out


def _record_paths(path: Path) -> list[Path]:
    """Training/ablation record files at a path: the file itself, or the records in a folder
    (``record.nc``, ``train/record.nc`` and top-level ``*.nc``; else any ``*.nc`` below)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"no record or run folder at {path}")
    found = sorted(path.glob("*.nc")) + sorted((path / "train").glob("*.nc"))
    return found or sorted(path.rglob("*.nc"))


def _renamed(run: xr.Dataset, name: str) -> xr.Dataset:
    """A shallow copy of ``run`` that as_runs names ``name`` (it reads the run_name attr)."""
    run = run.copy()
    run.attrs.pop("ablation_variant", None)
    run.attrs["run_name"] = name
    return run


def load_runs(paths: Sequence[str | os.PathLike], name_of: Callable | None = None,
              what: str = "load_runs") -> list[xr.Dataset]:
    """Open record files and run folders: one record per run.

    An item ``NAME=PATH[,PATH...]`` names every run found there ``NAME`` (one variant whose
    seeds pool, e.g. ``cram=runs/s0,runs/s1``), the syntax of ``cramcog experiment``.

    In a folder, records of kinds other than training/ablation (fits, comparisons) are skipped;
    a file of another kind is an error. Ablation records are split into their cells. Unnamed
    training runs are named ``name_of(record)`` (default: their own name, i.e. the config name,
    so the seeds of one config pool); runs that would share a variant AND a seed (e.g. two
    folders trained from the same config) are named by their folder instead
    (``runs/exp/var/record.nc`` -> ``var``).

    Examples
    --------
    >>> load_runs(["/no/such/dir"])  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    FileNotFoundError: no record or run folder at /no/such/dir
    """
    from cramcog import records

    named: list[tuple[str | None, Path]] = []
    for given in paths:
        if "=" in str(given) and not Path(given).exists():
            named += [(name, Path(p)) for name, folders in parse_runs([str(given)]).items()
                      for p in folders]
        else:
            named.append((None, Path(given)))
    found: list[tuple[Path, str, str, int, xr.Dataset]] = []  # file, kind, variant, seed, run
    for given_name, path in named:
        for file in _record_paths(path):
            ds = records.open(file)
            name = given_name
            if ds.cram.kind in ("training", "ablation"):
                if not name and name_of is not None and ds.cram.kind == "training":
                    name = name_of(ds)
                    ds = _renamed(ds, name)
                for v, s, run in as_runs({name: ds} if name else ds, what=what):
                    if name:
                        run = _renamed(run, v)
                    found.append((file, ds.cram.kind, v, s, run))
            elif path.is_file():
                raise ValueError(f"{file} is a {ds.cram.kind!r} record; {what} reads "
                                 "training or ablation records")
    if not found:
        raise ValueError(f"no training or ablation record in {[str(p) for p in paths]}")
    keys = [(v, s) for _, _, v, s, _ in found]
    out, used = [], set()
    for file, kind, variant, seed, run in found:
        if keys.count((variant, seed)) > 1:
            folder = file.parent.parent if file.parent.name == "train" else file.parent
            label = folder.name if file.stem == "record" else file.stem
            name = label if kind == "training" else f"{label}:{variant}"
            base, i = name, 2
            while (name, seed) in used:
                name, i = f"{base}_{i}", i + 1
            run, variant = _renamed(run, name), name
        used.add((variant, seed))
        out.append(run)
    return out
