"""Records to runs and tidy frames: the data layer of :mod:`cramcog.figures` (no plotting).

An ablation record (dims ``variant, seed, ...``) is split back into per-run records; every figure
then works on runs. Also: the phase-transition detector and the per-run summary table.

Examples
--------
>>> from cramcog.ablations import demo_run
>>> from cramcog.figures.runs import final_metrics
>>> final_metrics(demo_run({"rate": 0.1, "steps": 30, "seed": 0})).shape[0]
1
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

QUERY_KINDS = ("overall", "recurring", "novel")



class FigureError(ValueError):
    """A record that cannot be drawn: wrong kind, or missing what the figure needs."""


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
                    # a cell is a run record again: its own kind, config and seed
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
    >>> from cramcog.ablations import demo_run
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

    Accepts ``retrieval_accuracy(eval_step, query_kind)`` (DESIGN.md) or one variable per kind
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


@dataclasses.dataclass
class PhaseTransition:
    """Where attention use falls fastest: ``step``, the log-slope there, and the fall ratio."""

    step: int                  # optimizer step of the steepest fall
    slope: float               # d log(attention) / d step there (< 0)
    peak_step: int             # step of the (smoothed) peak
    fall_ratio: float          # smoothed peak / smoothed final attention


def detect_phase_transition(step: Sequence, attention: Sequence,
                            smooth: int | None = None, min_fall: float = 2.0
                            ) -> PhaseTransition | None:
    """The step of the steepest fall of (smoothed) log attention; None if attention never falls
    by at least ``min_fall`` times from its smoothed peak (noise on a flat curve is no transition).

    The attention fraction is logged, smoothed by a centred running mean over ``smooth`` points
    (default: max(3, n // 15), odd) to keep single noisy steps from winning, and differentiated
    per optimizer step (``numpy.gradient`` on the step coordinate, so uneven logging is fine). The
    transition is the step of the most negative slope, searched AFTER the smoothed peak (a fall
    before the peak is a warm-up artefact, not consolidation). ``min_fall`` (>= 1) is the least
    fall from the smoothed peak that counts as a transition.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.arange(0, 4000, 20)
    >>> a = 0.02 + 0.5 / (1 + np.exp((s - 3000) / 100))     # a sigmoid fall at step 3000
    >>> abs(detect_phase_transition(s, a).step - 3000) <= 200  # log falls fastest just after
    True
    """
    step = np.asarray(step, dtype=float)
    a = np.asarray(attention, dtype=float)
    if step.ndim != 1 or step.shape != a.shape:
        raise ValueError(f"step and attention must be 1-D of the same length, got {step.shape} "
                         f"and {a.shape}")
    ok = np.isfinite(a) & np.isfinite(step) & (a > 0)
    step, a = step[ok], a[ok]
    if a.size < 3:
        return None
    if not (isinstance(min_fall, (int, float)) and min_fall >= 1):
        raise ValueError(f"min_fall must be a number >= 1, got {min_fall!r}")
    w = smooth if smooth is not None else max(3, a.size // 15)
    if not isinstance(w, (int, np.integer)) or w < 1:
        raise ValueError(f"smooth must be a positive int (points), got {smooth!r}")
    w = min(int(w) | 1, a.size - (1 - a.size % 2))  # odd, at most the length
    log_a = np.log(a)
    pad = w // 2
    padded = np.pad(log_a, pad, mode="edge")
    smooth_log = np.convolve(padded, np.ones(w) / w, mode="valid")  # (n,)
    peak = int(np.argmax(smooth_log))
    if peak >= a.size - 2:
        return None
    slope = np.gradient(smooth_log, step)
    i = peak + int(np.argmin(slope[peak:]))
    fall = float(np.exp(smooth_log[peak] - smooth_log[peak:].min()))
    if slope[i] >= 0 or fall < min_fall:
        return None
    return PhaseTransition(step=int(round(step[i])), slope=float(slope[i]),
                           peak_step=int(round(step[peak])),
                           fall_ratio=float(np.exp(smooth_log[peak] - smooth_log[-1])))


def _mean_attention(run: xr.DataArray) -> xr.DataArray:
    other = [d for d in run.dims if d != "step"]
    return run.mean(other) if other else run


def final_metrics(data: Any, tail: float = 0.1) -> pd.DataFrame:
    """One row per run: final/peak attention, fall ratio, transition, accuracies, dynamics MSE.

    Held-out numbers come first: ``final_attention``, ``final_flops_ratio`` (executed attention
    FLOPs over dense causal), the accuracies and ``dynamics_mse`` are the
    record's test-split results (``test_*`` variables: argmax routes, no replay) where it has
    them, else its last held-out evaluation, else (attention only) the training tail.
    ``train_final_attention`` is the layer-mean training attention over the last ``tail``
    fraction of logged steps, ``peak_attention`` the maximum of the layer-mean training curve and
    ``fall_ratio`` their ratio (both training curves, so sampling and replay count alike).
    ``attention_floor`` is the record's (NaN if absent), ``attention_over_floor`` the ratio of
    ``final_attention`` to it (the floor moves with the recurring fraction).
    ``recurring_query_attention`` and ``novel_query_attention`` are the shares of test queries of
    each kind that execute attention in the retrieving layer (where novel queries attend most):
    consolidation lowers the first.

    Examples
    --------
    >>> from cramcog.ablations import demo_run
    >>> m = final_metrics(demo_run({"rate": 0.1, "steps": 30, "seed": 0}))
    >>> bool(m.fall_ratio.iloc[0] > 1)
    True
    """
    if not 0 < tail <= 1:
        raise ValueError(f"tail must be in (0, 1], got {tail}")
    rows = []
    for variant, seed, run in as_runs(data, what="final_metrics"):
        _need(run, ["attention_fraction"], "final_metrics")
        mean = _mean_attention(run["attention_fraction"]).dropna("step")
        n_tail = max(1, int(round(tail * mean.sizes["step"])))
        pt = detect_phase_transition(mean["step"].values, mean.values)
        train_final = float(mean.values[-n_tail:].mean())
        row = {"variant": variant, "seed": seed,
               "final_attention": _held_out(run, "attention_fraction", train_final),
               "train_final_attention": train_final,
               "peak_attention": float(mean.max()),
               "fall_ratio": float(mean.max() / mean.values[-n_tail:].mean()),
               "transition_step": pt.step if pt else np.nan,
               "attention_floor": _scalar(run, "attention_floor")}
        if "attention_flops_ratio" in run:
            flops = _mean_attention(run["attention_flops_ratio"]).dropna("step")
            row["final_flops_ratio"] = _held_out(run, "attention_flops_ratio",
                                                 float(flops.values[-n_tail:].mean()))
        test = run.get("test_retrieval_accuracy")
        for kind in QUERY_KINDS:
            if test is not None and "query_kind" in test.dims and \
                    kind in [str(k) for k in test["query_kind"].values]:
                row[f"accuracy_{kind}"] = float(test.sel(query_kind=kind))
            else:
                row[f"accuracy_{kind}"] = _last_finite(accuracy_of(run, kind))
        if "test_dynamics_mse" in run and np.isfinite(float(run["test_dynamics_mse"])):
            row["dynamics_mse"] = float(run["test_dynamics_mse"])
        else:
            row["dynamics_mse"] = _last_finite(run["dynamics_mse"]) if "dynamics_mse" in run \
                else np.nan
        row["attention_over_floor"] = row["final_attention"] / row["attention_floor"] \
            if row["attention_floor"] > 0 else np.nan
        row.update(_query_routes(run))
        if "parameter_value" in run.coords:
            row["parameter_value"] = float(run["parameter_value"])
        rows.append(row)
    return pd.DataFrame(rows)


SUMMARY_METRICS = ("final_attention", "attention_over_floor", "final_flops_ratio",
                   "recurring_query_attention",
                   "novel_query_attention", "accuracy_recurring", "accuracy_novel",
                   "dynamics_mse", "fall_ratio")


_FRACTIONS = {"final_attention", "final_flops_ratio", "recurring_query_attention",
              "novel_query_attention", "accuracy_recurring", "accuracy_novel"}


def variant_summary(metrics: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per variant: mean over seeds and a t-interval of each :data:`SUMMARY_METRICS` column.

    Parameters
    ----------
    metrics
        :func:`final_metrics` output (one row per variant and seed).
    level
        Confidence level of the interval (NaN with one seed: no spread to estimate). Intervals
        are clipped at 0 (every metric is >= 0), those of shares and accuracies also at 1.

    Returns
    -------
    pandas.DataFrame
        One row per variant (``n_seeds``, then ``<metric>``, ``<metric>_low``,
        ``<metric>_high`` for each metric present), in the order the variants first appear.

    Examples
    --------
    >>> m = pd.DataFrame({"variant": ["a", "a", "b"], "seed": [0, 1, 0],
    ...                   "final_attention": [0.02, 0.04, 0.05]})
    >>> s = variant_summary(m)
    >>> s.final_attention.round(3).tolist(), s.n_seeds.tolist()
    ([0.03, 0.05], [2, 1])
    """
    from cramcog.dynamics.intervals import seed_interval

    cols = [c for c in SUMMARY_METRICS if c in metrics and metrics[c].notna().any()]
    rows = []
    for variant, group in metrics.groupby("variant", sort=False):
        row = {"variant": variant, "n_seeds": int(group["seed"].nunique())}
        for col in cols:
            mean, low, high, _, _ = seed_interval(group[col], level)
            low = max(low, 0.0)  # every summary metric is >= 0, whatever t says
            if col in _FRACTIONS:  # and a share cannot pass 1
                high = min(high, 1.0)
            row.update({col: mean, f"{col}_low": low, f"{col}_high": high})
        rows.append(row)
    return pd.DataFrame(rows)


def _query_routes(run: xr.Dataset) -> dict[str, float]:
    """Share of recurring / novel test queries that execute attention in the retrieving layer.

    The retrieving layer is the one where novel queries attend most (they can only be answered
    from the episodic buffer); which layer that is differs between seeds. NaN without test routes
    or without queries of that kind (e.g. recurring fraction 0).
    """
    out = {"recurring_query_attention": np.nan, "novel_query_attention": np.nan}
    routes = run.get("test_route_fraction")
    if routes is None or not {"layer", "category", "tier"} <= set(routes.dims):
        return out
    episodic = routes.sel(tier="episodic")
    novel = episodic.sel(category="novel_query")
    if not np.isfinite(novel.values).any():
        return out
    layer = int(np.nanargmax(novel.values))
    for kind in ("recurring", "novel"):
        shares = routes.sel(category=f"{kind}_query").isel(layer=layer)
        if float(shares.sum()) > 0:  # all-zero routes: the test split had no such query
            out[f"{kind}_query_attention"] = float(shares.sel(tier="episodic"))
    return out


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

