"""Final metrics of runs, judged in the RETRIEVING layer (never a mean over layers).

The retrieving layer is the one whose attention the novel queries use
(:func:`cramcog.analysis.probes.retrieving_layer`): in a run with per-pattern probes, the layer
where the most novel probe queries executed attention at the final evaluation; otherwise the same
from the test split's per-category routes; for records with no per-category routes at all (e.g.
:func:`cramcog.experiments.ablations.demo_run`), the layer that attends most at the end.

What consolidation can change, and what it cannot: it can only take recurring QUERIES off
attention. Attention over the floor is therefore judged in the retrieving layer (and summed over
layers); a mean over layers that includes a layer without attention halves it. The fall of
attention "from the peak" of a forced warm-up is reached by models without consolidation too, so
it (:func:`attention_fall_from_peak`, the paper's measure) is only shown beside the same number
without consolidation; :func:`fall_from_warmup_end` measures the fall of the retrieving layer's
query attention from the end of the warm-up, against its ceiling (all queries / novel queries).

Examples
--------
>>> from cramcog.experiments.ablations import demo_run
>>> m = final_metrics(demo_run({"rate": 0.1, "steps": 30, "seed": 0}))
>>> int(m.retrieving_layer.iloc[0]), bool(m.attention_over_floor.iloc[0] > 1)
(1, True)
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from cramcog.analysis.causal import CAUSAL_COLUMNS
from cramcog.analysis.probes import retrieving_layer
from cramcog.analysis.runs import (QUERY_KINDS, _held_out, _last_finite, _need, _scalar,
                                   accuracy_of, as_runs, warmup_end_step)


# ----------------------------------------------------------------------------- per run

def _probe_shares(run: xr.Dataset, kind: str) -> np.ndarray | None:
    """(eval_step, layer) share of the probe queries of ``kind`` that executed attention."""
    if "probe_attended" not in run or "probe_kind" not in run.coords:
        return None
    sel = np.asarray(run["probe_kind"].values).astype(str) == kind
    if not sel.any():
        return None
    att = run["probe_attended"].transpose("eval_step", "layer", "probe").values
    return att[:, :, sel].astype(float).mean(-1)


def _category_attended(run: xr.Dataset, prefix: str) -> xr.DataArray | None:
    """``<prefix>attended_fraction`` (executed attention per category), else the router's
    episodic decisions ``<prefix>route_fraction`` (records written before executed attention
    was counted), else None."""
    if f"{prefix}attended_fraction" in run:
        return run[f"{prefix}attended_fraction"]
    if f"{prefix}route_fraction" in run:
        return run[f"{prefix}route_fraction"].sel(tier="episodic")
    return None


def novel_attention_by_layer(run: xr.Dataset) -> np.ndarray | None:
    """(L,) share of novel queries executing attention per layer at the end of the run.

    Final probe evaluation where the run has probes, else the test split, else the last
    held-out evaluation; None without per-category routes.
    """
    shares = _probe_shares(run, "novel")
    if shares is not None:
        finite = np.isfinite(shares).all(1)
        if finite.any():
            return shares[np.flatnonzero(finite)[-1]]
    for prefix in ("test_", "eval_"):
        da = _category_attended(run, prefix)
        if da is not None:
            da = da.sel(category="novel_query")
            if "eval_step" in da.dims:
                da = da.isel(eval_step=-1)
            values = np.asarray(da.transpose("layer").values, dtype=float)
            if np.isfinite(values).any():
                return values
    return None


def run_retrieving_layer(run: xr.Dataset) -> int:
    """The retrieving layer of a run (see the module docstring).

    Examples
    --------
    >>> from cramcog.experiments.ablations import demo_run
    >>> run_retrieving_layer(demo_run({"rate": 0.1, "steps": 5, "seed": 0}))
    1
    """
    novel = novel_attention_by_layer(run)
    if novel is not None:
        return retrieving_layer(novel)
    _need(run, ["attention_fraction"], "run_retrieving_layer")
    final = _final_attention_by_layer(run)
    return retrieving_layer(final)


def _final_attention_by_layer(run: xr.Dataset, tail: float = 0.1) -> np.ndarray:
    """(L,) held-out attention fraction per layer (test, else last evaluation, else the mean of
    the last ``tail`` of training)."""
    for name in ("test_attention_fraction",):
        if name in run and np.isfinite(run[name].values).any():
            return np.atleast_1d(np.asarray(run[name].values, dtype=float))
    ev = run.get("eval_attention_fraction")
    if ev is not None and "eval_step" in ev.dims:
        ev = ev.dropna("eval_step", how="all")
        if ev.sizes["eval_step"]:
            return np.atleast_1d(np.asarray(ev.isel(eval_step=-1).values, dtype=float))
    att = run["attention_fraction"].dropna("step", how="all")
    n_tail = max(1, int(round(tail * att.sizes["step"])))
    return np.atleast_1d(np.asarray(att.isel(step=slice(-n_tail, None)).mean("step").values,
                                    dtype=float))


def task_config(run: xr.Dataset):
    """The run's SRCD task config (:class:`cramcog.tasks.srcd.SRCDConfig`) from its recorded
    config, None when the record has none.

    Examples
    --------
    >>> import xarray as xr
    >>> task_config(xr.Dataset(attrs={"config_json": '{"task": {"seq_len": 2048}}'})).seq_len
    2048
    >>> task_config(xr.Dataset()) is None
    True
    """
    try:
        cfg = json.loads(run.attrs.get("config_json", "{}"))
        from cramcog.tasks.srcd import SRCDConfig

        return SRCDConfig(**cfg["task"]) if isinstance(cfg.get("task"), dict) else None
    except (TypeError, ValueError, KeyError, json.JSONDecodeError):
        return None


def queries_per_sequence(run: xr.Dataset) -> tuple[float, float]:
    """(recurring, novel) queries per sequence of the run's SRCD task (NaN if unknown)."""
    task = task_config(run)
    if task is None:
        return float("nan"), float("nan")
    return float(task.n_recurring), float(task.n_novel)


def fall_from_warmup_end(run: xr.Dataset, layer: int | None = None) -> tuple[float, float]:
    """``(fall, ceiling)``: the fall of the retrieving layer's QUERY attention from the end of
    the attention warm-up to the end of the run, and the most consolidation can give.

    Query attention is the number of queries per sequence that execute attention in the layer,
    ``n_recurring x recurring share + n_novel x novel share``: at the first evaluation at or
    after the warm-up end (held-out) and at the end (test split, else the last evaluation). Its
    ceiling, reached when every query attends at the warm-up end and only the novel ones at the
    end, is ``(n_recurring + n_novel) / n_novel`` (3.25 on the small config). NaN when the run
    has no warm-up end or no per-category routes.
    """
    nan = (float("nan"), float("nan"))
    n_rec, n_nov = queries_per_sequence(run)
    ceiling = (n_rec + n_nov) / n_nov if n_nov > 0 else float("nan")
    warm = warmup_end_step(run)
    evals = _category_attended(run, "eval_")
    if warm < 0 or evals is None or not np.isfinite(ceiling):
        return nan[0], ceiling
    layer = run_retrieving_layer(run) if layer is None else layer
    steps = np.asarray(evals["eval_step"].values)
    after = np.flatnonzero(steps >= warm)
    if not after.size:
        return nan[0], ceiling
    start = evals.isel(eval_step=after[0], layer=layer)
    end_da = _category_attended(run, "test_")
    end = end_da.isel(layer=layer) if end_da is not None else evals.isel(eval_step=-1,
                                                                          layer=layer)

    def queries(da):
        return n_rec * float(da.sel(category="recurring_query")) + \
            n_nov * float(da.sel(category="novel_query"))
    final = queries(end)
    return (queries(start) / final if final > 0 else float("inf")), ceiling


def attention_fall_from_peak(run: xr.Dataset, window: int = 50) -> tuple[float, float]:
    """``(fall, ceiling)``: the paper's measure of falling attention use, and its most.

    The share of tokens routed to attention during training (mean over layers, running mean
    over ``window`` steps so that one noisy step is no peak): its peak over its value at the
    end (the mean of the last ``window`` steps), both from the same training trace (sampled
    routes, replay included). 1.0 for a model that always attends.

    The ceiling is what the measure reaches when, at the end, only the novel queries attend and
    in one layer only: ``peak x n_layers / floor`` (floor = novel queries / tokens). It is set
    by the task and the depth, not by consolidation: a learned router takes non-query tokens off
    attention whatever consolidation does, so the fall is reported only beside the same number
    without consolidation (:func:`fall_from_warmup_end` measures consolidation). NaN without a
    trace (the ceiling NaN without a floor).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> trace = np.r_[np.full(100, 0.9), np.linspace(0.9, 0.02, 100), np.full(100, 0.02)]
    >>> run = xr.Dataset({"attention_fraction": (("step", "layer"), np.c_[trace, trace])},
    ...                  attrs={"attention_floor": 0.02})
    >>> [round(v, 1) for v in attention_fall_from_peak(run)]
    [45.0, 90.0]
    """
    nan = (float("nan"), float("nan"))
    if "attention_fraction" not in run:
        return nan
    trace = run["attention_fraction"].dropna("step", how="all")
    n_layers = int(trace.sizes.get("layer", 1))
    trace = trace.mean([d for d in trace.dims if d != "step"])
    if trace.sizes["step"] == 0:
        return nan
    width = max(1, min(int(window), trace.sizes["step"]))
    peak = float(trace.rolling(step=width, min_periods=width).mean().max())
    end = float(trace.isel(step=slice(-width, None)).mean())
    floor = _scalar(run, "attention_floor")
    ceiling = peak * n_layers / floor if np.isfinite(floor) and floor > 0 else float("nan")
    return (peak / end if end > 0 else float("inf")), ceiling


def flops_ratio_on_test(run: xr.Dataset) -> float:
    """Test-split executed forward FLOPs per token over the same-width dense Transformer's (NaN
    for a run trained before cramcog counted executed FLOPs)."""
    if "test_executed_flops_per_token" not in run or "transformer_flops_per_token" not in run:
        return float("nan")
    return float(run["test_executed_flops_per_token"].sum()
                 / run["transformer_flops_per_token"].sum())


def _test_query_attended(run: xr.Dataset, layer: int) -> dict[str, float]:
    """Share of recurring / novel TEST queries executing attention in ``layer`` (NaN if none)."""
    out = {"recurring_attended": np.nan, "novel_attended": np.nan}
    da = _category_attended(run, "test_")
    if da is None or "layer" not in da.dims:
        return out
    routes = run.get("test_route_fraction")
    for kind in ("recurring", "novel"):
        if routes is not None:   # all-zero routes: the test split had no such query
            if float(routes.sel(category=f"{kind}_query").isel(layer=layer).sum()) <= 0:
                continue
        value = float(da.sel(category=f"{kind}_query").isel(layer=layer))
        out[f"{kind}_attended"] = value
    return out


def transition_step(run: xr.Dataset, layer: int | None = None, window: int = 3,
                    after_warmup: bool = True) -> float:
    """Step at which the recurring queries' attention in the retrieving layer has fallen half
    way: the first evaluation after the warm-up end where the running median (``window``
    evaluations) of the share still attending is <= 0.5 (the log slope is no guide here: it is
    steepest on the tiny tail near 0). NaN when it never falls that far. ``layer``: the
    retrieving layer by default. ``after_warmup=False`` counts from the first evaluation (and
    needs the share to have been above 0.5 before): a router whose familiarity lift acts during
    the warm-up can move queries off attention before the warm-up ends, and the default then
    reports the warm-up end itself.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> share = np.r_[np.ones(4), 0.8, 0.4, 0.2, np.zeros(5)]            # recurring queries
    >>> da = np.stack([np.zeros((12, 4)), np.c_[np.zeros((12, 2)), share, np.ones(12)]], 1)
    >>> run = xr.Dataset({"eval_attended_fraction": (("eval_step", "layer", "category"), da)},
    ...                  coords={"eval_step": 100 * np.arange(1, 13), "category": [
    ...                      "observation", "binding", "recurring_query", "novel_query"]},
    ...                  attrs={"warmup_end_step": 300})
    >>> transition_step(run, layer=1), transition_step(run, layer=1, after_warmup=False)
    (700.0, 700.0)
    """
    layer = run_retrieving_layer(run) if layer is None else layer
    shares = _probe_shares(run, "recurring")
    if shares is not None:
        steps, y = run["eval_step"].values, shares[:, layer]
    else:
        da = _category_attended(run, "eval_")
        if da is None:
            return np.nan
        steps = da["eval_step"].values
        y = np.asarray(da.sel(category="recurring_query").isel(layer=layer).values, float)
    warm = float(warmup_end_step(run))
    start = max(warm, 0) if after_warmup else 0
    keep = np.isfinite(y) & (np.asarray(steps, float) >= start)
    steps, y = np.asarray(steps, float)[keep], y[keep]
    med = np.array([np.median(y[max(0, i - window + 1):i + 1]) for i in range(y.size)])
    below = med <= 0.5
    if not after_warmup:   # a fall: from above half (a run that starts low has no transition)
        below &= np.maximum.accumulate(np.r_[-np.inf, y[:-1]] if y.size else y) > 0.5
    below = np.flatnonzero(below)
    return float(steps[below[0]]) if below.size else np.nan


def final_metrics(data: Any, tail: float = 0.1) -> pd.DataFrame:
    """One row per run: attention in the retrieving layer and over the floor, consolidation,
    accuracies, dynamics MSE and the causal test.

    Held-out numbers come first: test split (argmax routes, no replay) where the record has it,
    else its last held-out evaluation, else (attention only) the last ``tail`` of training.

    Columns: variant, seed; ``retrieving_layer``; ``final_attention`` (the retrieving layer's
    attention fraction) and ``final_attention_total`` (summed over layers);
    ``attention_floor`` (the record's, NaN if absent); ``attention_over_floor`` (retrieving
    layer) and ``attention_sum_over_floor``; ``final_flops_ratio`` (executed attention FLOPs
    over dense causal, all layers); ``recurring_attended`` / ``novel_attended`` (share of test
    queries of each kind executing attention in the retrieving layer: consolidation lowers the
    first); ``fall_from_warmup_end`` and its ``fall_ceiling`` (:func:`fall_from_warmup_end`);
    ``transition_step`` (when the recurring queries' attention in the retrieving layer has
    fallen half way, after the warm-up); accuracies;
    ``dynamics_mse``; the causal test (:data:`CAUSAL_COLUMNS`, NaN where not run).

    Examples
    --------
    >>> from cramcog.experiments.ablations import demo_run
    >>> m = final_metrics(demo_run({"rate": 0.1, "steps": 30, "seed": 0}))
    >>> bool(m.attention_sum_over_floor.iloc[0] > m.attention_over_floor.iloc[0])
    True
    """
    if not 0 < tail <= 1:
        raise ValueError(f"tail must be in (0, 1], got {tail}")
    rows = []
    for variant, seed, run in as_runs(data, what="final_metrics"):
        _need(run, ["attention_fraction"], "final_metrics")
        layer = run_retrieving_layer(run)
        per_layer = _final_attention_by_layer(run, tail)
        floor = _scalar(run, "attention_floor")
        row = {"variant": variant, "seed": seed, "retrieving_layer": layer,
               "final_attention": float(per_layer[layer]),
               "final_attention_total": float(np.nansum(per_layer)),
               "attention_floor": floor}
        if "attention_flops_ratio" in run:
            flops = run["attention_flops_ratio"].dropna("step", how="all")
            n_tail = max(1, int(round(tail * flops.sizes["step"])))
            row["final_flops_ratio"] = _held_out(
                run, "attention_flops_ratio", float(flops.isel(step=slice(-n_tail, None)).mean()))
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
        ok = np.isfinite(floor) and floor > 0
        row["attention_over_floor"] = row["final_attention"] / floor if ok else np.nan
        row["attention_sum_over_floor"] = row["final_attention_total"] / floor if ok else np.nan
        row.update(_test_query_attended(run, layer))
        row["fall_from_warmup_end"], row["fall_ceiling"] = fall_from_warmup_end(run, layer)
        row["transition_step"] = transition_step(run, layer)
        warm = warmup_end_step(run)
        row["warmup_end_step"] = float(warm) if warm >= 0 else np.nan
        for var, col in CAUSAL_COLUMNS.items():
            row[col] = float(run[var]) if var in run else np.nan
        if "parameter_value" in run.coords:
            row["parameter_value"] = float(run["parameter_value"])
        rows.append(row)
    return pd.DataFrame(rows)


SUMMARY_METRICS = ("final_attention", "attention_over_floor", "attention_sum_over_floor",
                   "final_flops_ratio", "recurring_attended", "novel_attended",
                   "fall_from_warmup_end", "accuracy_recurring", "accuracy_novel",
                   "dynamics_mse", "swap_accuracy_recurring", "zero_accuracy_recurring",
                   "skip_accuracy_novel")


_FRACTIONS = {"final_attention", "final_flops_ratio", "recurring_attended", "novel_attended",
              "accuracy_recurring", "accuracy_novel", "swap_accuracy_recurring",
              "zero_accuracy_recurring", "skip_accuracy_novel"}


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
            values = group[col].replace([np.inf, -np.inf], np.nan).dropna()
            if values.empty:
                row.update({col: np.nan, f"{col}_low": np.nan, f"{col}_high": np.nan})
                continue
            mean, low, high, _, _ = seed_interval(values, level)
            low = max(low, 0.0)  # every summary metric is >= 0, whatever t says
            if col in _FRACTIONS:  # and a share cannot pass 1
                high = min(high, 1.0)
            row.update({col: mean, f"{col}_low": low, f"{col}_high": high})
        rows.append(row)
    return pd.DataFrame(rows)
