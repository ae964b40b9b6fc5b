"""Ablation grids: config overrides x seeds, run through any ``concurrent.futures`` Executor.

An :class:`AblationGrid` names a base configuration (a named config such as ``"small"`` or a
dict), a set of *variants* (``{name: {dotted.key: value}}`` overrides) and the seeds to run each
variant with. :func:`run_grid` runs every (variant, seed) cell through an Executor - a local
``ProcessPoolExecutor`` by default, or ``dask.distributed.Client(...).get_executor()`` to run the
same grid on a cluster - and writes, as each cell finishes:

- ``OUT/cells/<variant>/seed<seed>.nc``: the cell's own record (a re-run skips finished cells);
- ``OUT/cells/<variant>/seed<seed>.error.json``: why a cell failed (message and traceback);
- ``OUT/<grid name>.nc``: ONE ablation record concatenating every finished cell along new
  ``(variant, seed)`` dims, with ``status(variant, seed)`` ("ok" | "failed" | "pending") and
  ``error(variant, seed)``, so a failure is recorded and reported, never silently dropped.

All files are written with :func:`cramcog.records.save` (atomic), by the calling process only:
workers just compute, so a cluster needs no shared file system.

Why the run function is pluggable: the default is :func:`cramcog.train.train` on the merged
config, but any picklable ``fn(config: dict) -> xarray.Dataset`` works (tests use a cheap one).

The grids the paper's study needs ship as named grids (:data:`GRIDS`, :func:`named_grid`):
``baselines``, ``recurring_fraction`` (0.0-0.9), ``n_patterns``, ``buffer_size``,
``router_threshold``, ``router_q_gain``, ``compute_cost``, ``replay_rate``.

Examples
--------
>>> import tempfile
>>> from concurrent.futures import ThreadPoolExecutor
>>> from cramcog.experiments.ablations import AblationGrid, run_grid, demo_run
>>> grid = AblationGrid(name="demo", base={"rate": 0.1, "steps": 20, "seed": 0},
...                     variants={"slow": {"rate": 0.05}, "fast": {"rate": 0.2}}, seeds=(0, 1))
>>> with ThreadPoolExecutor(2) as pool:
...     ds = run_grid(grid, tempfile.mkdtemp(), run_fn=demo_run, executor=pool, progress=False)
>>> dict(ds.sizes)["variant"], dict(ds.sizes)["seed"], sorted(set(ds.status.values.ravel().tolist()))
(2, 2, ['ok'])
"""
from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import sys
import traceback
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import xarray as xr

from cramcog import records

RunFn = Callable[[dict], xr.Dataset]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+=-]*$")
# attrs of a cell record that describe the process, not the run: not lifted into variables
_PROVENANCE_ATTRS = {"cramcog_schema", "cramcog_version", "git_revision", "torch_version",
                     "numpy_version", "scipy_version", "xarray_version", "os", "cpu",
                     "python_version", "seed", "created", "record_kind", "config_json",
                     "ablation_variant", "ablation_seed", "ablation_config_json",
                     "ablation_adopted_from"}
STATUS_OK, STATUS_FAILED, STATUS_PENDING = "ok", "failed", "pending"


# ----------------------------------------------------------------------------- the grid

@dataclasses.dataclass
class AblationGrid:
    """A grid of config overrides x seeds.

    Parameters
    ----------
    name
        Grid name; names the combined record file ``<name>.nc``. Letters, digits, ``_.+-``.
    base
        A named config (str, resolved by :func:`base_config_dict`) or a config dict. Nested dicts
        are addressed by dotted keys in the overrides.
    variants
        ``{variant name: {dotted.key: value}}``; ``{}`` runs the base config unchanged.
    seeds
        Seeds; every variant runs once per seed. The seed is written to ``config[seed_key]``.
    seed_key
        Dotted config key that receives the seed.
    open_sections
        Config sections whose keys need not exist in the base (e.g. ``task``, a dict of
        :class:`cramcog.tasks.SRCDConfig` arguments where the base lists only what it changes);
        anywhere else an unknown key is an error (a typo).
    parameter
        For a one-parameter sweep, the dotted key swept (its value per variant becomes the
        ``parameter_value(variant)`` coordinate used by the ablation figures); "" otherwise.
    description
        One line saying what the grid tests.

    Examples
    --------
    >>> g = AblationGrid(name="g", base={"lr": 1e-3, "seed": 0}, variants={"a": {"lr": 1e-2}})
    >>> [(c.variant, c.seed, c.config["lr"]) for c in g.cells()]
    [('a', 0, 0.01)]
    """

    name: str = "ablation"                                   # names the combined record file
    base: Any = "small"                                      # named config or config dict
    variants: Mapping[str, Mapping[str, Any]] = dataclasses.field(
        default_factory=lambda: {"base": {}})                # variant -> dotted-key overrides
    seeds: Sequence[int] = (0,)                              # every variant runs once per seed
    seed_key: str = "seed"                                   # where the seed goes in the config
    open_sections: Sequence[str] = ("task",)                 # sections that take new keys
    parameter: str = ""                                      # swept key of a 1-D sweep, or ""
    description: str = ""                                    # what the grid tests

    def __post_init__(self):
        if not isinstance(self.name, str) or not _SAFE_NAME.match(self.name):
            raise ValueError(f"grid name {self.name!r} must be a non-empty string of letters, "
                             "digits and _.+=- (it names a file)")
        if not isinstance(self.base, (str, Mapping)):
            raise TypeError(f"base must be a named config (str) or a config dict, got "
                            f"{type(self.base).__name__}")
        if not isinstance(self.variants, Mapping) or not self.variants:
            raise ValueError("variants must be a non-empty dict {name: {dotted.key: value}}; "
                             "use {'base': {}} to run the base config alone")
        for vname, overrides in self.variants.items():
            if not isinstance(vname, str) or not _SAFE_NAME.match(vname):
                raise ValueError(f"variant name {vname!r} must be letters, digits and _.+=- "
                                 "(it names a folder)")
            if not isinstance(overrides, Mapping):
                raise TypeError(f"variant {vname!r}: overrides must be a dict, got "
                                f"{type(overrides).__name__}")
        self.variants = {k: dict(v) for k, v in self.variants.items()}
        if isinstance(self.seeds, (int, np.integer)):
            self.seeds = (int(self.seeds),)
        seeds = list(self.seeds)
        if not seeds or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                                for s in seeds):
            raise ValueError(f"seeds must be a non-empty list of ints, got {self.seeds!r}")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds {seeds} contain duplicates")
        self.seeds = tuple(int(s) for s in seeds)
        if self.parameter:
            missing = [v for v, o in self.variants.items() if self.parameter not in o]
            if missing:
                raise ValueError(f"parameter {self.parameter!r} is swept but variants {missing} "
                                 "do not set it")

    def cells(self, base_config: Mapping | None = None) -> list["Cell"]:
        """Every (variant, seed) cell with its merged config, in grid order.

        ``base_config`` skips resolving ``base`` again (callers that already resolved it).
        """
        base = dict(base_config) if base_config is not None else base_config_dict(self.base)
        out = []
        for vname, overrides in self.variants.items():
            merged = apply_overrides(base, overrides, open_sections=self.open_sections)
            for seed in self.seeds:
                cfg = apply_overrides(merged, {self.seed_key: seed}, allow_new=True)
                out.append(Cell(vname, seed, cfg))
        return out

    def select(self, variants: Sequence[str]) -> "AblationGrid":
        """The same grid restricted to ``variants`` (same name and output files).

        Runs a part of a grid now and the rest later: cells already finished are skipped, so
        the full grid run afterwards computes only what is missing.

        Examples
        --------
        >>> g = AblationGrid(name="g", base={"lr": 1.0}, variants={"a": {}, "b": {"lr": 2.0}})
        >>> list(g.select(["b"]).variants)
        ['b']
        """
        unknown = [v for v in variants if v not in self.variants]
        if unknown or not variants:
            raise ValueError(f"variants {list(variants) or '(none)'} not all in grid "
                             f"{self.name!r}; its variants: {list(self.variants)}")
        return dataclasses.replace(self, variants={v: self.variants[v] for v in variants})

    def parameter_values(self) -> dict[str, Any]:
        """``{variant: value of the swept parameter}`` (empty when ``parameter`` is "")."""
        return {v: o[self.parameter] for v, o in self.variants.items()} if self.parameter else {}

    def to_dict(self) -> dict:
        """JSON-ready definition (stored as the combined record's ``config_json``)."""
        return {"name": self.name, "base": self.base if isinstance(self.base, str)
                else dict(self.base), "variants": self.variants, "seeds": list(self.seeds),
                "seed_key": self.seed_key, "parameter": self.parameter,
                "description": self.description}


@dataclasses.dataclass(frozen=True)
class Cell:
    """One run of a grid: a variant, a seed and the merged config it runs with."""

    variant: str
    seed: int
    config: dict

    @property
    def key(self) -> tuple[str, int]:
        return (self.variant, self.seed)


# ----------------------------------------------------------------------------- configs

def base_config_dict(base: str | Mapping) -> dict:
    """A deep-copied config dict: ``base`` itself if a dict, else a named training config.

    Named configs come from :func:`cramcog.configs.named_config` (``"tiny"``, ``"small"``,
    ``"paper"``), as the dict of TrainConfig fields that :func:`cramcog.train.train` accepts.

    Examples
    --------
    >>> base_config_dict({"lr": 1e-3})
    {'lr': 0.001}
    """
    if isinstance(base, Mapping):
        return copy.deepcopy(dict(base))
    if not isinstance(base, str):
        raise TypeError(f"base config must be a name or a dict, got {type(base).__name__}")
    from cramcog.configs import named_config  # light: no torch

    return named_config(base).to_dict()


def apply_overrides(config: Mapping, overrides: Mapping[str, Any], *,
                    allow_new: bool = False, open_sections: Sequence[str] = ()) -> dict:
    """A copy of ``config`` with dotted-key ``overrides`` applied.

    A key that is not already in ``config`` raises ValueError (it is almost always a typo), unless
    ``allow_new`` or the key lies in one of ``open_sections`` (e.g. ``"task"``).

    Examples
    --------
    >>> apply_overrides({"task": {"n_patterns": 100}, "lr": 1.0}, {"task.n_patterns": 8})
    {'task': {'n_patterns': 8}, 'lr': 1.0}
    """
    out = copy.deepcopy(dict(config))
    for dotted, value in overrides.items():
        if not isinstance(dotted, str) or not dotted:
            raise ValueError(f"override key {dotted!r} must be a non-empty dotted string")
        parts = dotted.split(".")
        new_ok = allow_new or (len(parts) > 1 and parts[0] in open_sections)
        node = out
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if not isinstance(child, dict):
                if child is None and new_ok:
                    child = node[part] = {}
                else:
                    raise ValueError(f"override {dotted!r}: {'.'.join(parts[:i + 1])!r} is not a "
                                     f"section of the config (sections: "
                                     f"{sorted(k for k, v in node.items() if isinstance(v, dict))})")
            node = child
        if parts[-1] not in node and not new_ok:
            raise ValueError(f"override {dotted!r}: no such key in the config; valid keys here: "
                             f"{sorted(node)}")
        node[parts[-1]] = copy.deepcopy(value)
    return out


# ----------------------------------------------------------------------------- run functions

def default_run(config: dict) -> xr.Dataset:
    """The default run function: train on ``config`` (TrainConfig fields) and return the record.

    One torch thread per run unless the config says otherwise: cells run side by side, one per
    worker, and oversubscribed threads slow every cell down.
    """
    from cramcog.train import train

    if not config.get("threads"):
        config = {**config, "threads": 1}
    return train(config, progress=False)


def demo_run(config: dict) -> xr.Dataset:
    """A cheap, seeded stand-in for training, for examples and tests of the runner.

    It makes NO claim about CRAM: it draws a noisy decaying "attention" curve
    ``a(t) = (1 + rate t)^-0.5`` per layer and returns it in the training-record schema, so that
    the runner, the records and the figures can be exercised in milliseconds. Config keys:
    ``rate`` (float > 0), ``steps`` (int >= 2), ``seed`` (int), optional ``layers`` (default 2),
    ``fail`` (truthy: raise RuntimeError, to exercise failure handling) and ``interrupt`` (equal
    to the seed: raise KeyboardInterrupt, a Ctrl-C arriving while that cell runs).

    Examples
    --------
    >>> ds = demo_run({"rate": 0.1, "steps": 10, "seed": 0})
    >>> ds.attention_fraction.dims
    ('step', 'layer')
    """
    if config.get("fail"):
        raise RuntimeError(f"demo_run asked to fail (config fail={config['fail']!r})")
    if "interrupt" in config and config["interrupt"] == config.get("seed"):
        raise KeyboardInterrupt
    rate, steps, seed = float(config["rate"]), int(config["steps"]), int(config["seed"])
    if rate <= 0 or steps < 2:
        raise ValueError(f"demo_run needs rate > 0 and steps >= 2, got {rate}, {steps}")
    n_layers = int(config.get("layers", 2))
    rng = np.random.default_rng(seed)
    step = np.arange(steps, dtype="int64") * 10
    layer = np.arange(n_layers, dtype="int64")
    floor = 0.015
    curve = floor + (1 - floor) * (1 + rate * step[:, None]) ** -0.5 * (1 + layer[None, :])  \
        / n_layers  # (step, layer)
    attn = np.clip(curve * np.exp(rng.normal(0, 0.05, curve.shape)), 0, 1)
    semantic = (1 - attn) * 0.5
    eval_step = step[:: max(1, steps // 4)]
    acc = np.clip(1 - 0.5 * (1 + rate * eval_step) ** -1.0, 0, 1)  # (eval_step,)
    acc = np.stack([acc, acc, acc * 0.98], axis=1)                 # (eval_step, query_kind)
    return records.new_record(
        {"attention_fraction": (("step", "layer"), attn),
         "semantic_fraction": (("step", "layer"), semantic),
         "working_fraction": (("step", "layer"), 1 - attn - semantic),
         "attention_flops_ratio": (("step", "layer"), attn * 0.9),
         "loss": (("step",), 1.0 / (1 + rate * step) + rng.normal(0, 0.01, steps)),
         "retrieval_accuracy": (("eval_step", "query_kind"), acc),
         "dynamics_mse": (("eval_step",), 0.1 + 0.5 / (1 + rate * eval_step))},
        coords={"step": ("step", step, {"units": "optimizer steps", "long_name": "step"}),
                "layer": ("layer", layer, {"long_name": "layer"}),
                "eval_step": ("eval_step", eval_step, {"units": "optimizer steps"}),
                "query_kind": ("query_kind", np.array(["overall", "recurring", "novel"]))},
        kind="training", config=config, seed=seed,
        attrs={"attention_floor": floor, "demo": "cramcog.experiments.ablations.demo_run (not a model)"})


# ----------------------------------------------------------------------------- files

def cell_path(out_dir: str | os.PathLike, variant: str, seed: int) -> Path:
    """Where a finished cell's record lives: ``OUT/cells/<variant>/seed<seed>.nc``."""
    return Path(out_dir) / "cells" / variant / f"seed{seed}.nc"


def _error_path(out_dir, variant, seed) -> Path:
    return Path(out_dir) / "cells" / variant / f"seed{seed}.error.json"


def _config_json(config: Mapping) -> str:
    return records.config_to_json(dict(config))


def _canonical_json(config: Mapping) -> str:
    """A training config with every default spelled out (task included), as JSON.

    Two configs that train the same run compare equal even if one names a default the other
    leaves out (``task.recurring_fraction=0.7`` vs no key, or a field added to TrainConfig since
    a record was written), writes 24.0 for 24, or runs on another device. Not a training
    config: as given.
    """
    try:
        from cramcog.configs import PLACEMENT_FIELDS, TrainConfig
        from cramcog.tasks import SRCDConfig

        full = TrainConfig.from_dict(copy.deepcopy(dict(config))).to_dict()
        full["task"] = dataclasses.asdict(SRCDConfig(**full["task"]))
        for name in PLACEMENT_FIELDS:
            del full[name]
    except (TypeError, ValueError):
        full = dict(config)
    return _config_json(_integral_floats_as_int(full))


def _integral_floats_as_int(value):
    # 24 and 24.0 train the same run (a record's JSON keeps whichever the user typed)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _integral_floats_as_int(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_integral_floats_as_int(v) for v in value]
    return value


def _load_finished(out_dir: Path, cell: Cell) -> xr.Dataset | None:
    """The saved record of a finished cell, or None; refuses a cell run with another config."""
    path = cell_path(out_dir, cell.variant, cell.seed)
    if not path.is_file():
        return None
    ds = records.open(path)
    saved = ds.attrs.get("ablation_config_json")
    # compared as training runs: a cell finished on another device, or before a TrainConfig field
    # was added, is still that cell
    if saved is not None and _canonical_json(json.loads(saved)) != _canonical_json(cell.config):
        raise ValueError(f"{path} was run with a different config than grid cell "
                         f"{cell.key} asks for now; use another output folder, or delete that "
                         "file to re-run the cell")
    return ds


# ----------------------------------------------------------------------------- combine

def combine_cells(grid: AblationGrid, results: Mapping[tuple[str, int], xr.Dataset],
                  errors: Mapping[tuple[str, int], str] | None = None) -> xr.Dataset:
    """Concatenate cell records into ONE ablation record with leading ``(variant, seed)`` dims.

    Cells that have not run (or failed) are NaN. Numeric attrs that describe a run (e.g.
    ``attention_floor``) become variables over ``(variant, seed)``; each cell's own config is kept
    as ``cell_config_json(variant, seed)``. ``status`` and ``error`` say what happened per cell.

    Examples
    --------
    >>> g = AblationGrid(name="g", base={"rate": 0.1, "steps": 5, "seed": 0},
    ...                  variants={"a": {}}, seeds=(0, 1))
    >>> r = {c.key: demo_run(c.config) for c in g.cells()}
    >>> combine_cells(g, r).attention_fraction.dims
    ('variant', 'seed', 'step', 'layer')
    """
    errors = dict(errors or {})
    variants, seeds = list(grid.variants), list(grid.seeds)
    # a run's own non-index coords (e.g. which pattern each probe asks about) differ by seed:
    # they stack as variables over (variant, seed) and become coords again in as_runs
    cell_coords = sorted({str(c) for ds in results.values() for c in ds.coords
                          if c not in ds.dims})
    parts = []
    for (variant, seed), ds in results.items():
        parts.append(_cell_for_concat(ds).expand_dims(variant=[variant], seed=[seed]))
    if parts:
        # merge, not combine_by_coords: finished cells need not form a full hypercube
        combined = xr.merge(parts, join="outer", compat="no_conflicts", combine_attrs="drop")
        combined = combined.reindex(variant=variants, seed=seeds)
    else:
        combined = xr.Dataset(coords={"variant": variants, "seed": seeds})
    status = np.full((len(variants), len(seeds)), STATUS_PENDING, dtype=object)
    error = np.full((len(variants), len(seeds)), "", dtype=object)
    cfgs = np.full((len(variants), len(seeds)), "", dtype=object)
    for i, v in enumerate(variants):
        for j, s in enumerate(seeds):
            if (v, s) in results:
                status[i, j] = STATUS_OK
                cfgs[i, j] = results[(v, s)].attrs.get("ablation_config_json",
                                                       results[(v, s)].attrs.get("config_json", ""))
            elif (v, s) in errors:
                status[i, j], error[i, j] = STATUS_FAILED, errors[(v, s)]
    combined["status"] = (("variant", "seed"), status.astype(str))
    combined["error"] = (("variant", "seed"), error.astype(str))
    combined["cell_config_json"] = (("variant", "seed"), cfgs.astype(str))
    combined = combined.assign_coords(
        variant=("variant", np.array(variants, dtype=str), {"long_name": "ablation variant"}),
        seed=("seed", np.array(seeds, dtype="int64"), {"long_name": "random seed"}))
    values = grid.parameter_values()
    if values and all(isinstance(x, (int, float, np.number)) and not isinstance(x, bool)
                      for x in values.values()):
        combined = combined.assign_coords(parameter_value=(
            "variant", np.array([float(values[v]) for v in variants]),
            {"long_name": grid.parameter}))
    n_ok = int((status == STATUS_OK).sum())
    n_failed = int((status == STATUS_FAILED).sum())
    return records.new_record(
        dict(combined.data_vars), coords=dict(combined.coords), kind="ablation",
        config=grid.to_dict(), seed=None,
        attrs={"grid_name": grid.name, "parameter": grid.parameter,
               "description": grid.description, "n_cells": status.size, "n_ok": n_ok,
               "n_failed": n_failed, "n_pending": int(status.size - n_ok - n_failed),
               "cell_kind": _common_kind(results), "cell_coords": ",".join(cell_coords)})


def _common_kind(results) -> str:
    kinds = sorted({ds.cram.kind for ds in results.values()})
    return ",".join(kinds)


def _cell_for_concat(ds: xr.Dataset) -> xr.Dataset:
    """A cell record ready to stack: bools as int8 (NaN-fillable), run attrs as variables."""
    ds = ds.reset_coords([c for c in ds.coords if c not in ds.dims])
    for name, var in list(ds.data_vars.items()):
        if var.dtype == bool:
            ds[name] = var.astype("int8")
    for key, value in ds.attrs.items():
        if key in _PROVENANCE_ATTRS or key in ds.variables:
            continue
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            ds[key] = ((), float(value))
    ds.attrs = {}
    return ds


# ----------------------------------------------------------------------------- run

@dataclasses.dataclass
class GridResult:
    """What :func:`run_grid` did: the record, where it is, and what ran, was skipped or failed."""

    record: xr.Dataset
    path: Path
    ran: list[tuple[str, int]]
    skipped: list[tuple[str, int]]
    failed: dict[tuple[str, int], str]


def _pool_context():
    """The default pool's start method: fork, unless this process has already initialised CUDA
    (a forked child cannot use it then; cells asking for a GPU would fail): spawn."""
    import multiprocessing

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        return multiprocessing.get_context("spawn")
    return None


def run_grid(grid: AblationGrid, out_dir: str | os.PathLike, *, run_fn: RunFn | None = None,
             executor: Executor | None = None, max_workers: int | None = None,
             retry_failed: bool = True, progress: bool = True,
             return_result: bool = False) -> xr.Dataset | GridResult:
    """Run every cell of ``grid`` that has not finished yet; write and return the ablation record.

    Parameters
    ----------
    grid
        The grid to run.
    out_dir
        Folder for ``cells/`` and ``<grid.name>.nc`` (created if needed).
    run_fn
        Picklable ``fn(config: dict) -> xarray.Dataset`` (a record). Default: training
        (:func:`default_run`).
    executor
        Any ``concurrent.futures.Executor``: e.g. ``ThreadPoolExecutor``, or a dask
        ``Client(...).get_executor()`` to run on a cluster. Default: a ``ProcessPoolExecutor``
        with ``max_workers`` workers, made and shut down here.
    max_workers
        Workers of the default process pool (default: min(cells to run, CPU count)).
    retry_failed
        Re-run cells that failed before (their ``.error.json`` is replaced); else leave them failed.
    progress
        Print one line per finished cell to stderr.
    return_result
        Return a :class:`GridResult` (record, path, ran, skipped, failed) instead of the record.

    Returns
    -------
    xarray.Dataset or GridResult
        The ablation record (kind "ablation", dims ``(variant, seed, ...)``), also saved to
        ``out_dir/<grid.name>.nc``.

    Examples
    --------
    >>> import tempfile
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> g = AblationGrid(name="d", base={"rate": 0.1, "steps": 5, "seed": 0, "fail": 0},
    ...                  variants={"a": {}, "bad": {"fail": 1}})
    >>> with ThreadPoolExecutor(1) as pool:
    ...     res = run_grid(g, tempfile.mkdtemp(), run_fn=demo_run, executor=pool,
    ...                    progress=False, return_result=True)
    >>> res.record.status.sel(seed=0).values.tolist(), list(res.failed)
    (['ok', 'failed'], [('bad', 0)])
    """
    if not isinstance(grid, AblationGrid):
        raise TypeError(f"grid must be an AblationGrid, got {type(grid).__name__}")
    if executor is not None and not isinstance(executor, Executor) \
            and not callable(getattr(executor, "submit", None)):
        raise TypeError(f"executor must be a concurrent.futures.Executor (or have .submit), got "
                        f"{type(executor).__name__}")
    run_fn = default_run if run_fn is None else run_fn
    if not callable(run_fn):
        raise TypeError(f"run_fn must be callable, got {type(run_fn).__name__}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    record_path = out_dir / f"{grid.name}.nc"

    results: dict[tuple[str, int], xr.Dataset] = {}
    errors: dict[tuple[str, int], str] = {}
    todo: list[Cell] = []
    skipped = []
    for cell in grid.cells():
        done = _load_finished(out_dir, cell)
        if done is not None:
            results[cell.key] = done
            skipped.append(cell.key)
            continue
        err_file = _error_path(out_dir, cell.variant, cell.seed)
        if err_file.is_file() and not retry_failed:
            errors[cell.key] = json.loads(err_file.read_text()).get("error", "failed")
            continue
        todo.append(cell)

    def write_combined():
        records.save(combine_cells(grid, results, errors), record_path)

    write_combined()  # a record exists (all pending) even if the first cell is slow
    own = executor is None and bool(todo)
    if own:
        executor = ProcessPoolExecutor(max_workers=max_workers or min(len(todo), os.cpu_count()
                                                                        or 1),
                                       mp_context=_pool_context())
    ran = []
    try:
        futures: dict[Future, Cell] = {executor.submit(run_fn, c.config): c for c in todo}
        try:
            for n_done, fut in enumerate(as_completed(futures), 1):
                cell = futures[fut]
                ok, payload = _collect(fut, cell)
                if ok:
                    records.save(payload, cell_path(out_dir, cell.variant, cell.seed))
                    _error_path(out_dir, cell.variant, cell.seed).unlink(missing_ok=True)
                    results[cell.key] = payload
                    errors.pop(cell.key, None)
                    ran.append(cell.key)
                else:
                    errors[cell.key] = payload["error"]
                    _write_error(out_dir, cell, payload)
                write_combined()
                if progress:
                    state = "ok" if ok else f"FAILED: {payload['error']}"
                    print(f"[{grid.name}] {n_done}/{len(todo)} {cell.variant} seed={cell.seed} "
                          f"{state}", file=sys.stderr, flush=True)
        except BaseException:
            for fut in futures:  # interrupted: stop what has not started; finished cells stay
                fut.cancel()
            if own:  # do not wait for running cells (minutes): a re-run redoes only them
                executor.shutdown(wait=False, cancel_futures=True)
                own = False
            raise
    finally:
        if own:
            executor.shutdown(wait=True, cancel_futures=True)
    record = records.open(record_path)
    if progress and errors:
        print(f"[{grid.name}] {len(errors)} cell(s) failed: "
              + "; ".join(f"{v}/seed{s}: {e}" for (v, s), e in errors.items()), file=sys.stderr)
    if return_result:
        return GridResult(record, record_path, ran, skipped, dict(errors))
    return record


def _collect(fut: Future, cell: Cell) -> tuple[bool, Any]:
    """(True, record ready to save) or (False, {"error", "traceback"}) for a finished future."""
    try:
        ds = fut.result()
    except Exception as err:  # the cell failed: keep why, go on with the grid
        tb = "".join(traceback.format_exception(type(err), err, err.__traceback__))
        return False, {"error": f"{type(err).__name__}: {err}", "traceback": tb}
    if not isinstance(ds, xr.Dataset):
        return False, {"error": f"run function returned {type(ds).__name__}, expected an "
                                "xarray.Dataset record", "traceback": ""}
    try:
        records.validate(ds)
    except records.RecordError as err:
        return False, {"error": f"run function returned an invalid record: {err}",
                       "traceback": ""}
    return True, _stamped(ds, cell)


def _stamped(ds: xr.Dataset, cell: Cell) -> xr.Dataset:
    """A copy of a run's record marked as ``cell``'s (what _load_finished checks on resume)."""
    ds = ds.copy()
    ds.attrs["ablation_variant"] = cell.variant
    ds.attrs["ablation_seed"] = int(cell.seed)
    ds.attrs["ablation_config_json"] = _config_json(cell.config)
    return ds


def _write_error(out_dir: Path, cell: Cell, payload: dict) -> None:
    path = _error_path(out_dir, cell.variant, cell.seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"variant": cell.variant, "seed": cell.seed,
                               "config": cell.config, **payload}, indent=1, default=str))
    os.replace(tmp, path)


def adopt_records(grid: AblationGrid, out_dir: str | os.PathLike,
                  paths: Sequence[str | os.PathLike]) -> dict[tuple[str, int], Path]:
    """Adopt records of runs trained elsewhere as cells of ``grid``, so they are not re-run.

    A record is adopted only when the config it was trained with (its ``config_json``) equals a
    cell's config exactly, seed included, once every default is spelled out: the same seed and
    config give the same record, so the cell would only recompute it. Cells already finished in ``out_dir`` are left alone.

    Parameters
    ----------
    grid
        The grid whose cells may be filled.
    out_dir
        The grid's output folder (as for :func:`run_grid`).
    paths
        Record files (``record.nc`` of ``cramcog train`` runs, or any saved record).

    Returns
    -------
    dict
        ``{(variant, seed): path adopted}``; records matching no cell are not in it.

    Examples
    --------
    >>> import tempfile, os
    >>> g = AblationGrid(name="d", base={"rate": 0.1, "steps": 5, "seed": 0}, variants={"a": {}})
    >>> out = tempfile.mkdtemp()
    >>> records.save(demo_run(g.cells()[0].config), os.path.join(out, "run.nc")).name
    'run.nc'
    >>> list(adopt_records(g, os.path.join(out, "grid"), [os.path.join(out, "run.nc")]))
    [('a', 0)]
    """
    out_dir = Path(out_dir)
    by_config = {_canonical_json(c.config): c for c in grid.cells()}
    adopted: dict[tuple[str, int], Path] = {}
    for path in map(Path, paths):
        if not path.is_file():
            raise ValueError(f"cannot adopt {path}: no such file (give record files, e.g. "
                             "runs/cram/record.nc)")
        ds = records.open(path)
        cell = by_config.get(_canonical_json(ds.cram.config))
        if cell is None or cell.key in adopted or _load_finished(out_dir, cell) is not None:
            continue
        ds = _stamped(ds, cell)
        ds.attrs["ablation_adopted_from"] = str(path)
        records.save(ds, cell_path(out_dir, cell.variant, cell.seed))
        adopted[cell.key] = path
    return adopted


# ----------------------------------------------------------------------------- named grids

# Dotted config keys the shipped grids override. They name fields of the training config
# (cramcog.configs.TrainConfig; "task" holds SRCDConfig arguments); kept in one table so a
# renamed field is fixed in one place.
KEYS = {
    "recurring_fraction": "task.recurring_fraction",
    "n_patterns": "task.n_patterns",
    "buffer_size": "model.window",            # episodic KV buffer (None: the whole sequence)
    "router_threshold": "model.q_threshold",
    "router_q_gain": "model.router_q_gain",
    "compute_cost": "compute_cost",
    "replay_rate": "model.replay_rate",
    "consolidation": "model.consolidation",
    "attention_cost": "attention_cost",
    "architecture": "model_kind",
}


def _sweep(name: str, key: str, values: Sequence, description: str, base, seeds) -> AblationGrid:
    variants = {f"{name}={v:g}" if isinstance(v, float) else f"{name}={v}": {key: v}
                for v in values}
    return AblationGrid(name=name, base=base, variants=variants, seeds=seeds, parameter=key,
                        description=description)


def _baselines(base, seeds) -> AblationGrid:
    # model kinds other than cram/transformer are cramcog.model.baselines; none of them
    # consolidates, so their config says so (no consolidation loss is computed for them)
    arch, off = KEYS["architecture"], {KEYS["consolidation"]: False}
    return AblationGrid(
        name="baselines", base=base, seeds=seeds, description=(
            "CRAM against the baselines of issue 4 section 1, same task and budget"),
        variants={
            "cram": {},
            "dense_transformer": {arch: "transformer", **off},
            "static_hybrid": {arch: "static_hybrid", **off},
            "seqboat_like": {arch: "seqboat_like", **off},
            "mod_like": {arch: "mod_like", **off},
            "working_only": {arch: "working_only", **off},
            "no_consolidation": off,
            "no_attention_cost": {KEYS["attention_cost"]: 0.0},
        })


GRIDS: dict[str, Callable[..., AblationGrid]] = {
    "baselines": _baselines,
    "recurring_fraction": lambda base, seeds: _sweep(
        "recurring_fraction", KEYS["recurring_fraction"],
        [round(0.1 * i, 1) for i in range(10)],
        "fraction of queries from recurring bindings, 0.0-0.9 (the paper: consolidation needs "
        ">= 50% recurrence)", base, seeds),
    "n_patterns": lambda base, seeds: _sweep(
        "n_patterns", KEYS["n_patterns"], [50, 100, 200, 500, 1000],
        "number of recurring bindings around the small config's 100 (few are memorised before "
        "retrieval exists; many are seen too rarely to consolidate in the step budget)",
        base, seeds),
    "buffer_size": lambda base, seeds: _sweep(
        "buffer_size", KEYS["buffer_size"], [16, 32, 64, 128, 256],
        "episodic key-value buffer size in tokens (a window of past keys; the small config's "
        "sequences are 256 long: 256 is the whole sequence)", base, seeds),
    "router_threshold": lambda base, seeds: _sweep(
        "router_threshold", KEYS["router_threshold"], [0.5, 0.7, 0.83, 0.9, 0.95],
        "consolidation-quality threshold q for routing to semantic memory (paper: ~0.83)",
        base, seeds),
    "router_q_gain": lambda base, seeds: _sweep(
        "router_q_gain", KEYS["router_q_gain"], [0.0, 8.0, 24.0, 64.0],
        "the router's familiarity gain: lift = gain x relu(q_hat - q*) / (1 - q*) (0: no lift, "
        "the router learns from its rewards alone; the small config: 24)", base, seeds),
    "compute_cost": lambda base, seeds: _sweep(
        "compute_cost", KEYS["compute_cost"], [0.0, 0.1, 0.3, 1.0],
        "cost scale lambda: each route pays lambda x its FLOPs in the router's reward (0: routes "
        "are free, only the attention hinge remains; the small config: 0.3)", base, seeds),
    "replay_rate": lambda base, seeds: _sweep(
        "replay_rate", KEYS["replay_rate"], [0.0, 0.01, 0.02, 0.05, 0.1],
        "fraction of tokens replayed through attention as consolidation teacher", base, seeds),
}


def named_grid(name: str, base: str | Mapping = "small", seeds: Sequence[int] = (0, 1, 2)
               ) -> AblationGrid:
    """One of the shipped grids (:data:`GRIDS`) on ``base`` with ``seeds``.

    Examples
    --------
    >>> g = named_grid("recurring_fraction", base="small", seeds=(0,))
    >>> list(g.variants)[:3], g.parameter
    (['recurring_fraction=0', 'recurring_fraction=0.1', 'recurring_fraction=0.2'], 'task.recurring_fraction')
    """
    if name not in GRIDS:
        raise ValueError(f"unknown grid {name!r}; shipped grids: {sorted(GRIDS)}")
    return GRIDS[name](base, tuple(seeds))
