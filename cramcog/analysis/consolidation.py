"""Consolidation measured per pattern: the record, its curve fits and the per-pattern check.

:func:`consolidation_record` reads training runs that carry per-pattern probes
(:mod:`cramcog.analysis.probes`) and writes one record with dims ``(variant, seed, eval_step)``
(and ``pattern``):

- ``recurring_attended`` / ``novel_attended``: share of recurring / novel probe queries whose
  route in the RETRIEVING layer executed attention, with their binomial counts
  (``recurring_attended_count``, ``recurring_probe_count``, ``novel_*``);
- ``accuracy_recurring`` / ``accuracy_novel`` on the probes; ``exposures``: mean exposures
  (training queries so far) per recurring pattern;
- per pattern: ``pattern_attended``, ``pattern_probes``, ``pattern_exposures`` and
  ``pattern_switch_exposures`` (the pattern's exposures when its probes stop attending: from
  that evaluation on, at most ``switch_threshold`` of them attend; NaN where that never
  happens);
- per (variant, seed): ``retrieving_layer``, ``warmup_end_step``,
  ``retrieving_layer_attention_over_floor`` and ``attention_sum_over_floor`` (final, test
  split), ``fall_from_warmup_end`` (its ceiling in the attrs), ``switch_exposures`` (median over
  patterns), the final test shares and accuracies, and the causal test
  (``swap_accuracy_recurring``, ``zero_accuracy_recurring``, ``swap_partner_share``,
  ``skip_accuracy_novel`` beside the clean accuracies).

:func:`fit_consolidation` fits every curve family to ``recurring_attended`` against exposures
after the warm-up (binomial likelihood with the probe counts), per seed and pooled over seeds,
and names gamma only where a power-law family beats every other family by >= 10 AIC; otherwise
it says which family describes the curve. :func:`step_mixture_check` asks whether the average
curve is a mixture of per-pattern steps (averaged step functions can look like power laws).

Examples
--------
>>> import numpy as np
>>> share = np.array([[1.0, 1.0], [0.9, 0.2], [0.4, 0.0], [0.1, 0.0]])   # (eval, pattern)
>>> exposures = np.array([[0, 0], [10, 11], [20, 22], [30, 33]])
>>> switch_exposures(share, exposures, start=0).tolist()
[20.0, 11.0]
"""
from __future__ import annotations

import json
import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from cramcog.analysis.causal import CAUSAL_COLUMNS
from cramcog.analysis.metrics import (_test_query_attended, attention_fall_from_peak,
                                      fall_from_warmup_end, flops_ratio_on_test,
                                      run_retrieving_layer, task_config, transition_step)
from cramcog.analysis.probes import retrieving_layer
from cramcog.analysis.runs import AnalysisError, _scalar, as_runs, warmup_end_step
from cramcog.dynamics.ranking import information_criterion

POWER_WIN_AIC = 10.0            # a power family must beat every other family by this much
# what a power law is tested against: the sigmoid families (item-wise steps average to them)
# and the exponential; a verdict names those of them that did not converge
CONTENDERS = (("logistic", "logistic+c", "weibull", "weibull+c"), ("exponential", "exponential+c"))
SWITCH_THRESHOLD = 0.5          # a pattern has switched once at most this share still attends
# selective consolidation, the headline (test split, retrieving layer): recurring queries off
# attention AND novel queries on it AND both answered. A MoD-like model also takes recurring
# queries off attention, but drops novel ones with them; it fails this conjunction
SELECTIVE = {"recurring_attended_max": 0.05, "novel_attended_min": 0.98,
             "accuracy_recurring_min": 0.99, "accuracy_novel_min": 0.95}
# per-run arrays the record keeps beside the curves: name -> the run's variable and its dims
RUN_ARRAYS = {"test_route_fraction": ("test_route_fraction", ("layer", "category", "tier")),
              "test_executed_flops_per_token": ("test_executed_flops_per_token", ("component",)),
              "transformer_flops_per_token": ("transformer_flops_per_token", ("component",))}


def selective_consolidation(recurring_attended, novel_attended, accuracy_recurring,
                            accuracy_novel) -> float:
    """1.0 where a run consolidated selectively (:data:`SELECTIVE`), 0.0 where not, NaN where a
    number is missing.

    Examples
    --------
    >>> selective_consolidation(0.0, 1.0, 1.0, 0.99), selective_consolidation(0.0, 0.2, 1.0, 0.3)
    (1.0, 0.0)
    """
    values = (recurring_attended, novel_attended, accuracy_recurring, accuracy_novel)
    if not np.all(np.isfinite(values)):
        return np.nan
    return float(recurring_attended <= SELECTIVE["recurring_attended_max"]
                 and novel_attended >= SELECTIVE["novel_attended_min"]
                 and accuracy_recurring >= SELECTIVE["accuracy_recurring_min"]
                 and accuracy_novel >= SELECTIVE["accuracy_novel_min"])
# the causal test's record variables, by the consolidation record's names
CAUSAL = {column: var for var, column in CAUSAL_COLUMNS.items()} | {
    "causal_novel_queries": "causal_novel_queries"}


def variant_label(run: xr.Dataset) -> str:
    """A variant name from a training record's config: ``cram``, ``cram_no_consolidation``, or
    the model kind (``mod_like``, ``seqboat_like``...).

    Examples
    --------
    >>> import xarray as xr
    >>> variant_label(xr.Dataset(attrs={"config_json": '{"model_kind": "cram", '
    ...                                 '"model": {"consolidation": false}}'}))
    'cram_no_consolidation'
    """
    if run.attrs.get("ablation_variant"):
        return str(run.attrs["ablation_variant"])
    try:
        cfg = json.loads(run.attrs.get("config_json", "{}"))
    except (TypeError, json.JSONDecodeError):
        cfg = {}
    kind = cfg.get("model_kind", "cram")
    if kind == "cram" and not cfg.get("model", {}).get("consolidation", True):
        return "cram_no_consolidation"
    return str(kind)


def switch_exposures(share: np.ndarray, exposures: np.ndarray, start: int = 0,
                     threshold: float = SWITCH_THRESHOLD) -> np.ndarray:
    """Per pattern, its exposures at the first evaluation from which its probes stop attending.

    Parameters
    ----------
    share
        (E, P) share of each pattern's probe queries that executed attention, per evaluation.
    exposures
        (E, P) the pattern's exposures at each evaluation.
    start
        First evaluation index that counts (the end of the warm-up).
    threshold
        "Stopped attending": at most this share attends at that evaluation and every later one.

    Returns
    -------
    numpy.ndarray
        (P,) float, NaN for a pattern whose probes still attend at the end.
    """
    exposures = np.asarray(exposures, dtype=float)
    first = switch_index(share, start, threshold)
    out = np.full(first.shape, np.nan)
    ok = first >= 0
    out[ok] = exposures[first[ok], np.flatnonzero(ok)]
    return out


def switch_index(share: np.ndarray, start: int = 0,
                 threshold: float = SWITCH_THRESHOLD) -> np.ndarray:
    """Per pattern, the index of the first evaluation (from ``start``) at and after which at most
    ``threshold`` of its probes attend; -1 where that never happens (see
    :func:`switch_exposures`, which reads the exposures there).

    Examples
    --------
    >>> share = np.array([[1.0, 1.0], [0.2, 1.0], [0.9, 0.1], [0.1, 0.0]])
    >>> switch_index(share).tolist()
    [3, 2]
    """
    share = np.asarray(share, dtype=float)
    below = share <= threshold                                            # (E, P)
    # stays below from e on: reverse cumulative AND
    stays = np.flip(np.logical_and.accumulate(np.flip(below, 0), 0), 0)   # (E, P)
    stays[:start] = False
    return np.where(stays.any(0), stays.argmax(0), -1)


def switch_widths(share: np.ndarray, axis: np.ndarray, high: float = 0.75,
                  low: float = 0.25) -> np.ndarray:
    """Per pattern, how long its fall takes: ``axis`` at the first evaluation with <= ``low``
    of its probes attending minus ``axis`` at the last evaluation before it with >= ``high``
    (for the first such fall); NaN where the pattern never falls.

    Parameters
    ----------
    share
        (E, P) share of each pattern's probes attending.
    axis
        (E,) or (E, P): training step or the pattern's exposures at each evaluation.

    Examples
    --------
    >>> share = np.array([[1.0, 1.0], [0.8, 0.5], [0.1, 0.2], [0.0, 0.0]])
    >>> switch_widths(share, np.array([0, 10, 20, 30])).tolist()
    [10.0, 20.0]
    """
    share = np.asarray(share, dtype=float)
    axis = np.asarray(axis, dtype=float)
    if axis.ndim == 1:
        axis = np.broadcast_to(axis[:, None], share.shape)
    out = np.full(share.shape[1], np.nan)
    for p in range(share.shape[1]):
        hi = np.flatnonzero(share[:, p] >= high)
        lo = np.flatnonzero(share[:, p] <= low)
        if hi.size and lo.size and lo[-1] > hi[0]:
            last_hi = hi[hi < lo[lo > hi[0]][0]][-1]
            first_lo = lo[lo > last_hi][0]
            out[p] = axis[first_lo, p] - axis[last_hi, p]
    return out


def first_off_and_returns(share: np.ndarray, exposures: np.ndarray, start: int = 0,
                          threshold: float = SWITCH_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """Per pattern: its exposures at the FIRST evaluation (from ``start``) where at most
    ``threshold`` of its probes attend, and how often it returned to attention after that
    (evaluations where it crosses back above the threshold). A pattern whose route is a clean
    step has 0 returns and ``first off == switch`` (:func:`switch_exposures`).

    Examples
    --------
    >>> share = np.array([[1.0], [0.2], [0.9], [0.1], [0.0]])
    >>> first, back = first_off_and_returns(share, np.arange(5.0)[:, None] * 10)
    >>> first.tolist(), back.tolist()
    ([10.0], [1])
    """
    share = np.asarray(share, dtype=float)[start:]
    exposures = np.asarray(exposures, dtype=float)[start:]
    P = share.shape[1] if share.ndim == 2 else 0
    first = np.full(P, np.nan)
    back = np.zeros(P, dtype=np.int64)
    if share.size == 0:
        return first, back
    off = share <= threshold                                               # (E, P)
    for p in range(P):
        idx = np.flatnonzero(off[:, p])
        if idx.size:
            first[p] = exposures[idx[0], p]
            after = off[idx[0]:, p]
            back[p] = int(np.sum(after[:-1] & ~after[1:]))
    return first, back


def _median_switch(values: np.ndarray) -> float:
    """Median over patterns, a never-switching pattern counting as +inf (NaN if it is the
    median)."""
    v = np.where(np.isfinite(values), values, np.inf)
    med = float(np.median(v)) if v.size else np.nan
    return med if np.isfinite(med) else np.nan


def _config_steps(run: xr.Dataset):
    try:
        return json.loads(run.attrs.get("config_json", "{}")).get("steps", "?")
    except json.JSONDecodeError:
        return "?"


def run_consolidation(run: xr.Dataset, switch_threshold: float = SWITCH_THRESHOLD) -> dict:
    """The per-run arrays of :func:`consolidation_record` (see there); needs per-pattern probes."""
    needed = ["probe_attended", "probe_correct", "pattern_exposures"]
    missing = [n for n in needed if n not in run]
    if missing or "probe_kind" not in run.coords:
        raise AnalysisError(f"consolidation: this run has no per-pattern probes (missing "
                            f"{missing or ['probe_kind']}); train it with probe_per_pattern > 0")
    if "test_retrieval_accuracy" not in run:
        done, total = run.attrs.get("steps_done", "?"), _config_steps(run)
        raise AnalysisError(f"consolidation: this run is unfinished (step {done} of {total}, no "
                            "test split yet); resume it (`cramcog train` with the same --out) "
                            "and try again")
    layer = run_retrieving_layer(run)
    # probes padded in an ablation record (another cell had more: no kind, NaN routes) go
    real = np.isin(np.asarray(run["probe_kind"].values).astype(str), ("recurring", "novel"))
    if not real.all():
        run = run.isel(probe=np.flatnonzero(real))
    kind = np.asarray(run["probe_kind"].values).astype(str)
    # a probe padded in an ablation record (NaN: another cell had more probes) is no pattern
    pattern = np.nan_to_num(np.asarray(run["probe_pattern"].values, dtype=float),
                            nan=-1).astype(np.int64)
    att = run["probe_attended"].transpose("eval_step", "layer", "probe").values[:, layer]
    correct = run["probe_correct"].transpose("eval_step", "probe").values.astype(float)
    steps = np.asarray(run["eval_step"].values, dtype=np.int64)
    keep = np.isfinite(att.astype(float)).all(1)
    att, correct, steps = att[keep].astype(float), correct[keep], steps[keep]
    exp_p = run["pattern_exposures"].transpose("eval_step", "pattern").values[keep].astype(float)
    rec, nov = kind == "recurring", kind == "novel"
    P = exp_p.shape[1]
    probes_p = np.bincount(pattern[rec], minlength=P).astype(float)                     # (P,)
    att_p = np.stack([np.bincount(pattern[rec], weights=a[rec], minlength=P) for a in att])
    with np.errstate(invalid="ignore", divide="ignore"):
        share_p = att_p / probes_p
    warm = warmup_end_step(run)
    start = int(np.searchsorted(steps, warm)) if warm >= 0 else len(steps)
    switch = switch_exposures(share_p, exp_p, start, switch_threshold) if start < len(steps) \
        else np.full(P, np.nan)
    first_off, returns = first_off_and_returns(share_p, exp_p, start, switch_threshold)
    floor = _scalar(run, "attention_floor")
    test_att = run.get("test_attention_fraction")
    over = sum_over = np.nan
    if test_att is not None and np.isfinite(floor) and floor > 0:
        values = np.asarray(test_att.values, dtype=float)
        over, sum_over = values[layer] / floor, np.nansum(values) / floor
    fall, ceiling = fall_from_warmup_end(run, layer)
    peak_fall, peak_ceiling = attention_fall_from_peak(run)
    test_acc = run.get("test_retrieval_accuracy")
    tq = _test_query_attended(run, layer)
    per_run = {
        "retrieving_layer": float(layer), "warmup_end_step": float(warm),
        "retrieving_layer_attention_over_floor": over, "attention_sum_over_floor": sum_over,
        "fall_from_warmup_end": fall, "fall_ceiling": ceiling,
        "switch_exposures": _median_switch(switch),
        "first_off_exposures": _median_switch(first_off),
        "returns_per_pattern": float(returns.mean()) if returns.size else np.nan,
        "switched_patterns": float(np.isfinite(switch).sum()),
        "test_recurring_attended": tq["recurring_attended"],
        "test_novel_attended": tq["novel_attended"],
        "test_accuracy_recurring": float(test_acc.sel(query_kind="recurring"))
        if test_acc is not None else np.nan,
        "test_accuracy_novel": float(test_acc.sel(query_kind="novel"))
        if test_acc is not None else np.nan,
        "attention_floor": floor,
        "run_flops_ratio": _scalar(run, "run_flops_ratio"),   # an attr, or a cell variable
        "transition_step": transition_step(run, layer),
        "half_off_step": transition_step(run, layer, after_warmup=False),
        "attention_fall_from_peak": peak_fall,
        "attention_fall_from_peak_ceiling": peak_ceiling,
        "test_dynamics_mse": _scalar(run, "test_dynamics_mse"),
        "wall_seconds": _scalar(run, "wall_seconds"),
    }
    per_run["selective_consolidation"] = selective_consolidation(
        per_run["test_recurring_attended"], per_run["test_novel_attended"],
        per_run["test_accuracy_recurring"], per_run["test_accuracy_novel"])
    per_run["test_flops_ratio"] = flops_ratio_on_test(run)
    for name, var in CAUSAL.items():
        per_run[name] = float(run[var]) if var in run else np.nan
    arrays = {name: (run[var].transpose(*dims), dims) for name, (var, dims) in RUN_ARRAYS.items()
              if var in run}
    flops = np.full(len(steps), np.nan)
    if "executed_flops_per_token" in run:
        # training FLOPs per token, averaged over the steps of each evaluation interval
        per_step = run["executed_flops_per_token"].sum("component").to_series()
        edges = np.concatenate([[0], steps])
        for e in range(len(steps)):
            interval = per_step[(per_step.index > edges[e]) & (per_step.index <= edges[e + 1])]
            flops[e] = interval.mean() if len(interval) else np.nan
    return {
        "eval_step": steps,
        "recurring_attended_count": att[:, rec].sum(1),
        "recurring_probe_count": np.full(len(steps), float(rec.sum())),
        "novel_attended_count": att[:, nov].sum(1),
        "novel_probe_count": np.full(len(steps), float(nov.sum())),
        "accuracy_recurring": correct[:, rec].mean(1) if rec.any() else np.full(len(steps), np.nan),
        "accuracy_novel": correct[:, nov].mean(1) if nov.any() else np.full(len(steps), np.nan),
        "exposures": exp_p.mean(1), "training_flops_per_token": flops,
        "pattern_attended": att_p, "pattern_probes": np.broadcast_to(probes_p, att_p.shape),
        "pattern_exposures": exp_p, "pattern_switch_exposures": switch,
        "pattern_first_off_exposures": first_off, "pattern_returns": returns.astype(float),
        "per_run": per_run, "arrays": arrays,
    }


def _runs_of(data: Any):
    return as_runs(data, kinds=("training", "ablation"), what="consolidation_record")


def consolidation_record(data: Any, switch_threshold: float = SWITCH_THRESHOLD) -> xr.Dataset:
    """The consolidation record of training runs with per-pattern probes (module docstring).

    Parameters
    ----------
    data
        Training or ablation records: one, a list, or ``{variant name: record}``. Without names,
        a training record's variant is :func:`variant_label` of its config.
    switch_threshold
        A pattern has stopped attending once at most this share of its probes attend, at that
        evaluation and every later one.

    Returns
    -------
    xarray.Dataset
        A record of kind ``evaluation`` (``study = "consolidation"``) with dims
        ``(variant, seed, eval_step, pattern)``; evaluation steps are the union over runs (NaN
        where a run has none).

    Examples
    --------
    >>> from cramcog.configs import named_config
    >>> from cramcog.train import train
    >>> run = train(named_config("tiny", steps=6), progress=False)
    >>> ds = consolidation_record({"cram": run})
    >>> ds.recurring_attended.dims
    ('variant', 'seed', 'eval_step')
    """
    from cramcog import records

    named = isinstance(data, dict)
    runs, chance, seq_lens, configs = [], set(), set(), {}
    for variant, seed, run in _runs_of(data):
        task = task_config(run)
        if task is not None:
            seq_lens.add(int(task.seq_len))
        # a training run keeps the name it was given (NAME=PATH on the command line, set by
        # load_runs as run_name); only an unnamed one is named from its config
        if not named and run.attrs.get("record_kind") == "training" \
                and not run.attrs.get("ablation_variant") and not run.attrs.get("run_name"):
            variant = variant_label(run)
        runs.append((variant, seed, run_consolidation(run, switch_threshold)))
        try:    # what made each run, kept with the record that summarises it
            configs[f"{variant}/seed {seed}"] = json.loads(run.attrs.get("config_json", "{}"))
        except json.JSONDecodeError:
            configs[f"{variant}/seed {seed}"] = {}
        if "causal_chance" in run.attrs:
            chance.add(float(run.attrs["causal_chance"]))
    keys = [(v, s) for v, s, _ in runs]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})
        raise AnalysisError(f"consolidation_record: runs repeat (variant, seed) {dup}; name "
                            "them apart with {name: record} or NAME=PATH")
    variants = list(dict.fromkeys(v for v, _, _ in runs))
    seeds = sorted({s for _, s, _ in runs})
    steps = np.unique(np.concatenate([r["eval_step"] for _, _, r in runs]))
    P = max(r["pattern_exposures"].shape[1] for _, _, r in runs)
    V, S, E = len(variants), len(seeds), len(steps)
    vse = ("variant", "seed", "eval_step")
    series = ("recurring_attended_count", "recurring_probe_count", "novel_attended_count",
              "novel_probe_count", "accuracy_recurring", "accuracy_novel", "exposures",
              "training_flops_per_token")
    grids = {k: np.full((V, S, E), np.nan) for k in series}
    pgrids = {k: np.full((V, S, E, P), np.nan) for k in
              ("pattern_attended", "pattern_probes", "pattern_exposures")}
    switch = np.full((V, S, P), np.nan)
    first_off = np.full((V, S, P), np.nan)
    returns = np.full((V, S, P), np.nan)
    per_run_names = list(runs[0][2]["per_run"])
    per_run = {k: np.full((V, S), np.nan) for k in per_run_names}
    ceilings = set()
    for variant, seed, r in runs:
        i, j = variants.index(variant), seeds.index(seed)
        e = np.searchsorted(steps, r["eval_step"])
        for k in series:
            grids[k][i, j, e] = r[k]
        p = r["pattern_exposures"].shape[1]
        for k in pgrids:
            pgrids[k][i, j, e, :p] = r[k]
        switch[i, j, :p] = r["pattern_switch_exposures"]
        first_off[i, j, :p] = r["pattern_first_off_exposures"]
        returns[i, j, :p] = r["pattern_returns"]
        for k in per_run_names:
            per_run[k][i, j] = r["per_run"][k]
        if np.isfinite(r["per_run"]["fall_ceiling"]):
            ceilings.add(round(float(r["per_run"]["fall_ceiling"]), 6))
    with np.errstate(invalid="ignore", divide="ignore"):
        rec_share = grids["recurring_attended_count"] / grids["recurring_probe_count"]
        nov_share = grids["novel_attended_count"] / grids["novel_probe_count"]
    fr = lambda u, ln: {"units": u, "long_name": ln}  # noqa: E731
    data_vars = {
        "recurring_attended": (vse, rec_share, fr("1", "share of recurring probe queries "
                                                  "executing attention in the retrieving layer")),
        "novel_attended": (vse, nov_share, fr("1", "share of novel probe queries executing "
                                              "attention in the retrieving layer")),
        "recurring_attended_count": (vse, grids["recurring_attended_count"],
                                     fr("queries", "recurring probes attending")),
        "recurring_probe_count": (vse, grids["recurring_probe_count"],
                                  fr("queries", "recurring probes")),
        "novel_attended_count": (vse, grids["novel_attended_count"],
                                 fr("queries", "novel probes attending")),
        "novel_probe_count": (vse, grids["novel_probe_count"], fr("queries", "novel probes")),
        "accuracy_recurring": (vse, grids["accuracy_recurring"],
                               fr("1", "probe accuracy, recurring queries")),
        "accuracy_novel": (vse, grids["accuracy_novel"], fr("1", "probe accuracy, novel queries")),
        "exposures": (vse, grids["exposures"], fr("training queries",
                                                   "mean exposures per recurring pattern")),
        "training_flops_per_token": (vse, grids["training_flops_per_token"], fr(
            "FLOPs per token", "executed training-forward FLOPs per token, mean over the "
                               "steps since the previous evaluation")),
        "pattern_attended": (vse + ("pattern",), pgrids["pattern_attended"],
                             fr("queries", "the pattern's probes attending in the retrieving "
                                           "layer")),
        "pattern_probes": (vse + ("pattern",), pgrids["pattern_probes"],
                           fr("queries", "the pattern's probe queries")),
        "pattern_exposures": (vse + ("pattern",), pgrids["pattern_exposures"],
                              fr("training queries", "the pattern's exposures so far")),
        "pattern_switch_exposures": (("variant", "seed", "pattern"), switch, fr(
            "training queries", f"exposures when the pattern's probes stop attending (<= "
                                f"{switch_threshold:g} attend from then on; NaN: never)")),
        "pattern_first_off_exposures": (("variant", "seed", "pattern"), first_off, fr(
            "training queries", f"exposures when <= {switch_threshold:g} of the pattern's "
                                "probes first attend (NaN: never)")),
        "pattern_returns": (("variant", "seed", "pattern"), returns, fr(
            "evaluations", "times the pattern came back to attention after first leaving it")),
    }
    units = {"retrieving_layer": ("1", "the layer whose attention the novel queries use"),
             "warmup_end_step": ("optimizer steps", "end of the attention warm-up (-1: never)"),
             "retrieving_layer_attention_over_floor": ("1", "test attention fraction of the "
                                                             "retrieving layer / floor"),
             "attention_sum_over_floor": ("1", "test attention fraction summed over layers / "
                                               "floor"),
             "fall_from_warmup_end": ("1", "fall of the retrieving layer's query attention "
                                           "from the warm-up end to the end (test)"),
             "fall_ceiling": ("1", "the most consolidation can give: queries / novel queries"),
             "switch_exposures": ("training queries", "median over patterns of the exposures "
                                                      "at which a pattern stops attending"),
             "switched_patterns": ("patterns", "patterns whose probes stopped attending"),
             "first_off_exposures": ("training queries", "median over patterns of the "
                                                         "exposures at which a pattern first "
                                                         "leaves attention"),
             "returns_per_pattern": ("evaluations", "mean times a pattern came back to "
                                                    "attention after first leaving it"),
             "test_recurring_attended": ("1", "test recurring queries attending, retrieving "
                                              "layer"),
             "test_novel_attended": ("1", "test novel queries attending, retrieving layer"),
             "test_accuracy_recurring": ("1", "test accuracy, recurring queries"),
             "test_accuracy_novel": ("1", "test accuracy, novel queries"),
             "attention_floor": ("fraction of tokens", "novel queries / tokens"),
             "run_flops_ratio": ("1", "whole-run executed forward FLOPs / the same-width "
                                      "Transformer's for the same steps and tokens"),
             "test_flops_ratio": ("1", "test-split executed forward FLOPs per token / the "
                                       "same-width Transformer's"),
             "transition_step": ("optimizer steps", "first evaluation after the warm-up where "
                                                    "the running median of recurring probes "
                                                    "attending is <= 0.5 (NaN: never)"),
             "half_off_step": ("optimizer steps", "the same counted from the first "
                                                  "evaluation, the warm-up included"),
             "attention_fall_from_peak": ("1", "the paper's measure: peak share of tokens "
                                               "routed to attention in training (layer mean) / "
                                               "the share at the end of training"),
             "attention_fall_from_peak_ceiling": ("1", "its most: peak x layers / floor (only "
                                                       "novel queries attend, in one layer)"),
             "test_dynamics_mse": ("1", "Dynamics MSE on the test split"),
             "wall_seconds": ("s", "training wall time as recorded by the run (machine and "
                                   "concurrency as run)"),
             "selective_consolidation": ("1", "1: test recurring queries off attention AND "
                                              "novel ones on it AND both answered (attrs "
                                              "selective)")}
    for k in per_run_names:
        u, ln = units.get(k, ("1", k.replace("_", " ") + " (causal test, test split)"))
        data_vars[k] = (("variant", "seed"), per_run[k], fr(u, ln))
    extra_coords = {}
    for name in RUN_ARRAYS:
        found = [(variants.index(v), seeds.index(s), r["arrays"][name]) for v, s, r in runs
                 if name in r["arrays"]]
        if not found:
            continue
        template, dims = found[0][2]
        grid = np.full((V, S, *template.shape), np.nan)
        for i, j, (values, _) in found:
            grid[i, j] = values.values
        extra_coords.update({d: (d, np.asarray(template[d].values)) for d in dims})
        data_vars[name] = (("variant", "seed", *dims), grid, dict(template.attrs))
    coords = {"variant": ("variant", np.array(variants, dtype=str)),
              "seed": ("seed", np.array(seeds, dtype="int64")),
              "eval_step": ("eval_step", steps.astype("int64"),
                            fr("optimizer steps", "evaluation step")),
              "pattern": ("pattern", np.arange(P, dtype="int64")), **extra_coords}
    layers = per_run["retrieving_layer"]
    warm = per_run["warmup_end_step"]
    if len(seq_lens) > 1:
        raise AnalysisError(f"consolidation_record: the runs have different sequence lengths "
                            f"{sorted(seq_lens)}; build one record per length")
    attrs = {
        "study": "consolidation",
        "source_configs_json": json.dumps(configs, sort_keys=True),
        "seq_len": int(seq_lens.pop()) if seq_lens else -1,
        "retrieving_layer": "per run (variable retrieving_layer): the layer where the most "
                            "novel probe queries execute attention at the final evaluation; "
                            "values " + ", ".join(f"{variants[i]}/seed {seeds[j]}: L"
                                                  f"{int(layers[i, j])}"
                                                  for i in range(V) for j in range(S)
                                                  if np.isfinite(layers[i, j])),
        "warmup_end": "per run (variable warmup_end_step): the step at which held-out novel "
                      "accuracy first passed warmup_novel_accuracy and the attention cost "
                      "switched on; values " + ", ".join(
                          f"{variants[i]}/seed {seeds[j]}: {int(warm[i, j])}"
                          for i in range(V) for j in range(S) if np.isfinite(warm[i, j])),
        "fall_ceiling": float(min(ceilings)) if ceilings else float("nan"),
        "ceiling": "fall_from_warmup_end <= (n_recurring + n_novel) / n_novel queries per "
                   "sequence when the novel queries keep attending: consolidation can only "
                   "take recurring queries off attention",
        "switch_threshold": float(switch_threshold),
        "selective": "selective_consolidation = 1 where test recurring_attended <= "
                     f"{SELECTIVE['recurring_attended_max']}, novel_attended >= "
                     f"{SELECTIVE['novel_attended_min']}, accuracy recurring >= "
                     f"{SELECTIVE['accuracy_recurring_min']} and novel >= "
                     f"{SELECTIVE['accuracy_novel_min']} (retrieving layer)",
        "causal_chance": float(min(chance)) if chance else float("nan"),
        "probes": "validation queries, every recurring pattern at least probe_per_pattern "
                  "times in fresh contexts, plus the novel queries of those sequences; argmax "
                  "routes as at inference",
    }
    return records.new_record(data_vars, coords=coords, kind="evaluation", attrs=attrs)


# ----------------------------------------------------------------------------- curve fits

def _is_power(fit) -> bool:
    """A family whose MEAN is a power law of t (power, shifted power, their +c). ACT-R also has a
    ``gamma``, the decay of an activation inside a logistic link: its curve is a sigmoid in
    log t, not a power law of the share, so it is compared as one of the alternatives."""
    has_gamma = bool(getattr(fit, "has_gamma", "gamma" in fit.spec.param_names))
    return has_gamma and not bool(getattr(fit.spec, "bounded01", False))


def _shape_text(fit) -> str:
    """``name=value`` of the family's shape parameter, where the family names one."""
    spec = getattr(fit, "spec", None)
    name = getattr(spec, "shape_param", None)
    if not name or name not in fit.params:
        name = "gamma" if _is_power(fit) else None
    if not name:
        return ""
    value = float(np.ravel(fit.params[name])[0])
    if name == "gamma" and not _is_power(fit):   # ACT-R: the decay of an activation
        return f", activation decay d = {value:.3g} (a sigmoid in log t, not a power law)"
    return f", {name} = {value:.3g}"


def curve_points(ds: xr.Dataset, variant: str, seeds: Sequence[int] | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t, k, n) of ``recurring_attended`` after the warm-up, stacked over ``seeds``.

    t is the mean exposures since the first evaluation at or after the warm-up end, plus one
    evaluation interval of exposures (so t > 0 as power laws need). Points start after the LAST
    evaluation at which every recurring probe attended: until then the retrieving layer sits at
    its ceiling (on the dense path every token executes attention, whatever the routes), which
    says nothing about consolidation and puts a binomial maximum on the edge p = 1.
    """
    ts, ks, ns = [], [], []
    seeds = list(ds.seed.values) if seeds is None else list(seeds)
    for seed in seeds:
        cell = ds.sel(variant=variant, seed=seed)
        warm = float(cell["warmup_end_step"])
        x = cell["exposures"].values
        ok = np.isfinite(x) & np.isfinite(cell["recurring_attended_count"].values)
        steps = ds["eval_step"].values
        after = ok & (steps >= warm) if warm >= 0 else np.zeros_like(ok)
        if after.sum() < 4:
            continue
        x = x[after]
        k = cell["recurring_attended_count"].values[after]
        n = cell["recurring_probe_count"].values[after]
        at_ceiling = np.flatnonzero(k >= n)
        first = at_ceiling[-1] + 1 if at_ceiling.size else 0
        if x.size - first < 4:
            continue
        dx = float(np.median(np.diff(x))) if x.size > 1 else 1.0
        ts.append(x[first:] - x[0] + dx)
        ks.append(k[first:])
        ns.append(n[first:])
    if not ts:
        return np.array([]), np.array([]), np.array([])
    return np.concatenate(ts), np.concatenate(ks), np.concatenate(ns)


def describe_fits(fits) -> dict[str, Any]:
    """Verdict of a family comparison: gamma only where a power family wins by >= 10 AIC.

    Beside AIC, QAIC = -2 loglik / phi + 2 k with phi the Pearson dispersion of the AIC-best
    binomial fit (chi2 / residual df, at least 1; the fit layer's ``dispersion``): probe
    outcomes at one evaluation share the model's state (one router, one f_sem), so they are not
    independent trials and a binomial AIC overstates differences by about phi. gamma is
    reported only where a power-law family (a mean that is a power law of t: power, shifted
    power, their +c; not ACT-R, a sigmoid in log t) beats every other converged family by
    >= :data:`POWER_WIN_AIC` in AIC AND in QAIC; the verdict names the contenders
    (:data:`CONTENDERS`: the sigmoid families, the exponential) that did not converge, since a
    power law was not compared with them.

    Returns
    -------
    dict
        ``best`` (family with the lowest AIC), ``power_margin`` (AIC of the best non-power
        family minus that of the best power family: > 0 when a power law wins),
        ``power_margin_qaic``, ``dispersion`` (phi), ``gamma`` and its interval (NaN unless
        the power family wins), ``ranking`` (converged families by AIC) and ``verdict``.
    """
    table = fits.table()
    conv = table[table.converged].sort_values("aic", kind="stable")
    nan = float("nan")
    if conv.empty:
        return {"best": "", "power_margin": nan, "power_margin_qaic": nan, "dispersion": nan,
                "gamma": nan, "gamma_low": nan, "gamma_high": nan, "ranking": [],
                "verdict": "no family converged"}
    ranking = list(conv.family)
    best = fits[ranking[0]]
    phi = max(1.0, float(conv.dispersion.iloc[0])) if np.isfinite(conv.dispersion.iloc[0]) \
        else 1.0
    qaic = information_criterion("qaic", conv.loglik.to_numpy(float),
                                 conv.n_params.to_numpy(float), len(conv), c_hat=phi)
    is_power = conv.family.map(lambda f: _is_power(fits[f])).to_numpy()
    missing = [" / ".join(group) for group in CONTENDERS
               if not any(f in set(conv.family) for f in group)]
    both = is_power.any() and (~is_power).any()
    untested = (f"; not converged, so not compared: {' and '.join(missing)} "
                f"({len(conv)} of {len(table)} families converged)") if missing else ""
    margin = float(conv.aic[~is_power].min() - conv.aic[is_power].min()) if both else nan
    margin_q = float(qaic[~is_power].min() - qaic[is_power].min()) if both else nan
    out = {"best": ranking[0], "power_margin": margin, "power_margin_qaic": margin_q,
           "dispersion": phi, "gamma": nan, "gamma_low": nan, "gamma_high": nan,
           "ranking": ranking}
    if both and min(margin, margin_q) >= POWER_WIN_AIC:
        row = conv[is_power].iloc[0]
        out.update(gamma=float(row.gamma), gamma_low=float(row.gamma_low),
                   gamma_high=float(row.gamma_high))
        out["verdict"] = (f"a power law describes the curve: {row.family} beats every other "
                          f"converged family ({len(conv)} of {len(table)}) by {margin:.1f} AIC "
                          f"({margin_q:.1f} QAIC, overdispersion {phi:.3g}), gamma = "
                          f"{row.gamma:.3f} [{row.gamma_low:.3f}, {row.gamma_high:.3f}]"
                          + untested)
        return out
    if not (~is_power).any():
        why = "no non-power family converged, so nothing was compared"
    elif not is_power.any():
        why = "no power family converged"
    elif margin < 0:
        why = f"the best power family is {-margin:.1f} AIC ({-margin_q:.1f} QAIC) worse"
    else:
        why = (f"a power family wins by only {margin:.1f} AIC / {margin_q:.1f} QAIC "
               f"(overdispersion {phi:.3g}; < {POWER_WIN_AIC:g} in one of them)")
    shape = _shape_text(best) if not _is_power(best) else ""
    tied = list(conv.family[qaic <= qaic.min() + 2.0])
    out["qaic_tied"] = tied
    if len(tied) > 1:
        head = (f"{ranking[0]} has the lowest AIC{shape}, but with overdispersion {phi:.3g} "
                f"{len(tied)} families lie within 2 QAIC of the best ({', '.join(tied)})")
    else:
        head = (f"{ranking[0]} describes the curve best{shape} (first by AIC and by more than "
                f"2 QAIC, overdispersion {phi:.3g})")
    out["verdict"] = f"{head}; no gamma: {why}{untested}"
    return out


def fit_consolidation(ds: xr.Dataset, family: Any = "all", ci: str = "profile",
                      pooled: bool = True) -> pd.DataFrame:
    """Fit every family to each variant's consolidation curve, per seed and pooled over seeds.

    The curve is ``recurring_attended`` against mean exposures after the warm-up
    (:func:`curve_points`), with a binomial likelihood on the probe counts
    (:func:`cramcog.dynamics.fit_consolidation_curve`, ``family="all"``). Runs with fewer than
    4 such evaluations are left out.

    Returns
    -------
    pandas.DataFrame
        One row per (variant, seed) and, with several seeds, per variant pooled (``seed = -1``,
        the seeds' points stacked): ``n_points``,
        ``best``, ``power_margin``, ``gamma`` (NaN unless a power family wins by >= 10 AIC),
        its interval, ``ranking`` (families by AIC, comma-separated) and ``verdict``.
    """
    from cramcog.dynamics import fit_consolidation_curve

    rows = []
    for variant in ds.variant.values:
        groups = [(int(s), [s]) for s in ds.seed.values]
        if pooled and ds.sizes["seed"] > 1:
            groups.append((-1, list(ds.seed.values)))
        for label, seeds in groups:
            t, k, n = curve_points(ds, str(variant), seeds)
            row = {"variant": str(variant), "seed": label, "n_points": int(t.size)}
            if t.size < 4 or np.all(k == k[0]):
                row.update(best="", verdict="no curve to fit (fewer than 4 points after the "
                           "warm-up, or a constant share)", ranking="")
                rows.append(row)
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fits = fit_consolidation_curve(t, k, n=n, family=family, ci=ci,
                                               criterion="aic", y_kind="successes")
            d = describe_fits(fits)
            d["ranking"] = ", ".join(d["ranking"])
            d["qaic_tied"] = ", ".join(d.get("qaic_tied", []))
            row.update(d)
            rows.append(row)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- per pattern

def step_mixture_check(ds: xr.Dataset, variant: str, seed: int) -> dict[str, float]:
    """Is the average curve a mixture of per-pattern steps?

    Compares the measured ``recurring_attended`` after the warm-up with the curve that per-
    pattern STEPS at the measured switch exposures would give (the share of patterns not yet
    switched, :func:`switch_exposures`), and measures how sharp each pattern's switch is.

    Returns
    -------
    dict
        ``step_curve_rmse``: RMS difference between the measured curve and the step mixture
        (NaN when no pattern switched: there is no step to check);
        ``median_switch_width``: median over patterns of the exposures a pattern takes to fall
        from >= 75% of its probes attending to <= 25%; ``switch_iqr``: inter-quartile range of
        the switch exposures across patterns. A width well below the spread says the average
        curve's shape is that of the switch-exposure distribution, not of each pattern's curve.
    """
    cell = ds.sel(variant=variant, seed=seed)
    steps = ds["eval_step"].values
    warm = float(cell["warmup_end_step"])
    share = (cell["pattern_attended"] / cell["pattern_probes"]).values          # (E, P)
    expo = cell["pattern_exposures"].values                                      # (E, P)
    ok = np.isfinite(share).all(1) & (steps >= warm)
    share, expo = share[ok], expo[ok]
    switch = cell["pattern_switch_exposures"].values                             # (P,)
    measured = cell["recurring_attended"].values[ok]
    if not ok.any():
        return {"step_curve_rmse": np.nan, "median_switch_width": np.nan, "switch_iqr": np.nan}
    # step mixture at each evaluation: patterns whose switch has not happened yet attend
    not_yet = ~(np.isfinite(switch)[None, :] & (expo >= switch[None, :]))        # (E, P)
    step_curve = not_yet.mean(1)
    widths = switch_widths(share, expo)
    widths = widths[np.isfinite(widths)]
    fin = switch[np.isfinite(switch)]
    iqr = float(np.subtract(*np.percentile(fin, [75, 25]))) if fin.size >= 4 else np.nan
    # no pattern switched: a curve that never falls matches "no steps" trivially, so a run
    # without consolidation would score a perfect 0: nothing was checked, say NaN
    rmse = float(np.sqrt(np.mean((measured - step_curve) ** 2))) if fin.size else np.nan
    return {"step_curve_rmse": rmse,
            "median_switch_width": float(np.median(widths)) if widths.size else np.nan,
            "switch_iqr": iqr}


def curve_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Tidy average curves: variant, seed, eval_step, exposures, exposures_since_warmup,
    recurring_attended, novel_attended, accuracy_recurring, accuracy_novel.

    ``exposures_since_warmup`` is the fit's time axis (:func:`curve_points`): mean exposures
    since the first evaluation at or after the warm-up end plus one evaluation interval (NaN
    before the warm-up end).
    """
    cols = ["recurring_attended", "novel_attended", "accuracy_recurring", "accuracy_novel",
            "exposures"]
    df = ds[cols].to_dataframe().reset_index().dropna(subset=["recurring_attended"])
    df["exposures_since_warmup"] = np.nan
    for (variant, seed), group in df.groupby(["variant", "seed"]):
        warm = float(ds["warmup_end_step"].sel(variant=variant, seed=seed))
        after = group[group.eval_step >= warm] if warm >= 0 else group.iloc[:0]
        if len(after):
            x = after.exposures.values
            dx = float(np.median(np.diff(x))) if x.size > 1 else 1.0
            df.loc[after.index, "exposures_since_warmup"] = x - x[0] + dx
    return df.reset_index(drop=True)


def pattern_frame(ds: xr.Dataset, variant: str, seed: int) -> pd.DataFrame:
    """Tidy per-pattern curves of one run: pattern, eval_step, exposures (the pattern's own),
    share (of its probes attending in the retrieving layer), switch_exposures."""
    cell = ds.sel(variant=variant, seed=seed)
    share = (cell["pattern_attended"] / cell["pattern_probes"]).rename("share")
    df = xr.merge([share, cell["pattern_exposures"].rename("exposures")]).to_dataframe()
    df = df.reset_index()[["pattern", "eval_step", "exposures", "share"]].dropna()
    switch = cell["pattern_switch_exposures"].to_series()
    df["switch_exposures"] = df.pattern.map(switch)
    return df


def consolidation_summary(ds: xr.Dataset) -> pd.DataFrame:
    """One row per (variant, seed): final probe shares, test numbers, switch and causal test.

    Examples
    --------
    >>> from cramcog.configs import named_config
    >>> from cramcog.train import train
    >>> ds = consolidation_record({"cram": train(named_config("tiny", steps=6), progress=False)})
    >>> "swap_accuracy_recurring" in consolidation_summary(ds).columns
    True
    """
    rows = []
    per_run = [k for k, v in ds.data_vars.items() if v.dims == ("variant", "seed")]
    for variant in ds.variant.values:
        for seed in ds.seed.values:
            cell = ds.sel(variant=variant, seed=seed)
            if not np.isfinite(cell["retrieving_layer"].values):
                continue
            last = np.flatnonzero(np.isfinite(cell["recurring_attended"].values))
            row = {"variant": str(variant), "seed": int(seed)}
            if last.size:
                e = last[-1]
                row.update(final_step=int(ds.eval_step.values[e]),
                           val_recurring_attended=float(cell["recurring_attended"][e]),
                           val_novel_attended=float(cell["novel_attended"][e]),
                           val_accuracy_recurring=float(cell["accuracy_recurring"][e]),
                           val_accuracy_novel=float(cell["accuracy_novel"][e]))
            row.update({k: float(cell[k]) for k in per_run})
            row.update(step_mixture_check(ds, str(variant), int(seed)))
            rows.append(row)
    return pd.DataFrame(rows)


def plateau_step(steps: np.ndarray, share: np.ndarray, window: int = 6, tol: float = 0.02
                 ) -> float:
    """First step from which the running median of ``share`` (over ``window`` evaluations,
    trailing) stays within ``tol`` of its final value: where the curve has plateaued. The
    median ignores the brief spikes of a router that moves many queries at once. NaN with
    fewer than ``2 window`` points, or while the last ``window`` medians still drift by more
    than ``tol``.

    Examples
    --------
    >>> s = np.arange(0, 1000, 50)
    >>> y = np.r_[np.linspace(1, 0.02, 10), np.full(10, 0.02)]
    >>> y[15] = 0.3                                          # one spike: still a plateau
    >>> plateau_step(s, y)
    600.0
    """
    share = np.asarray(share, dtype=float)
    steps = np.asarray(steps, dtype=float)
    ok = np.isfinite(share)
    share, steps = share[ok], steps[ok]
    if share.size < 2 * window:
        return np.nan
    med = np.array([np.median(share[max(0, i - window + 1):i + 1]) for i in range(share.size)])
    tail = med[-window:]
    if tail.max() - tail.min() > tol:
        return np.nan
    off = np.abs(med - med[-1]) > tol
    if not off.any():
        return float(steps[window - 1])
    return float(steps[np.flatnonzero(off)[-1] + 1])


__all__ = ["POWER_WIN_AIC", "SWITCH_THRESHOLD", "consolidation_record", "consolidation_summary",
           "curve_frame", "curve_points", "describe_fits", "first_off_and_returns",
           "pattern_frame", "fit_consolidation", "plateau_step", "retrieving_layer",
           "run_consolidation", "step_mixture_check", "switch_exposures", "switch_index",
           "switch_widths", "variant_label"]


def with_fits(ds: xr.Dataset, fits: pd.DataFrame) -> xr.Dataset:
    """The consolidation record with the curve fits of :func:`fit_consolidation` attached:
    ``curve_fit_*`` variables over ``(variant, fit_seed)`` (``fit_seed = -1``: pooled)."""
    if fits.empty:
        return ds
    fit_seeds = sorted(set(int(s) for s in fits.seed), key=lambda s: (s < 0, s))
    variants = [str(v) for v in ds.variant.values]
    shape = (len(variants), len(fit_seeds))
    cols = {"n_points": float, "power_margin": float, "power_margin_qaic": float,
            "dispersion": float, "gamma": float, "gamma_low": float, "gamma_high": float,
            "best": str, "ranking": str, "qaic_tied": str, "verdict": str}
    grids = {c: np.full(shape, np.nan) if t is float else np.full(shape, "", dtype=object)
             for c, t in cols.items()}
    for row in fits.itertuples():
        i, j = variants.index(row.variant), fit_seeds.index(int(row.seed))
        for c, t in cols.items():
            value = getattr(row, c, None)
            if value is None or (t is float and not np.isfinite(float(value))):
                continue
            grids[c][i, j] = t(value) if t is float else str(value)
    out = ds.copy()
    out = out.assign_coords(fit_seed=("fit_seed", np.array(fit_seeds, dtype="int64"),
                                      {"long_name": "seed of the fit (-1: seeds pooled)"}))
    long = {"n_points": "points fitted", "power_margin": "best non-power AIC - best power AIC",
            "power_margin_qaic": "the same in QAIC (AIC corrected for overdispersion)",
            "dispersion": "Pearson overdispersion of the AIC-best binomial fit",
            "gamma": "gamma, only where a power family wins by >= 10 AIC",
            "gamma_low": "gamma 95% interval, low", "gamma_high": "gamma 95% interval, high",
            "best": "family with the lowest AIC", "ranking": "families by AIC",
            "qaic_tied": "families within 2 QAIC of the best",
            "verdict": "which family describes the curve"}
    for c, t in cols.items():
        values = grids[c] if t is float else grids[c].astype(str)
        out[f"curve_fit_{c}"] = (("variant", "fit_seed"), values, {"long_name": long[c]})
    out.attrs["curve_fit"] = ("recurring_attended against mean exposures since the warm-up end "
                              "(+ one evaluation interval), binomial likelihood on the probe "
                              "counts, every family of cramcog.dynamics (family='all'), "
                              "ranked by AIC")
    return out


# ----------------------------------------------------------------------------- binding test

def with_binding(ds: xr.Dataset, results: dict) -> xr.Dataset:
    """The consolidation record with the binding test's results (issue 22) as per-run variables.

    Parameters
    ----------
    ds
        A consolidation record (:func:`consolidation_record`).
    results
        ``{(variant, seed): binding test dict}`` (:func:`cramcog.analysis.causal.binding_test`);
        a run left out, or given None, gets NaN.

    Returns
    -------
    xarray.Dataset
        A copy with each of :data:`cramcog.analysis.causal.BINDING_VARIABLES` over ``(variant,
        seed)``, with its units and long_name.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset(coords={"variant": ["cram"], "seed": [1, 2]})
    >>> out = with_binding(ds, {("cram", 2): {"no_context_accuracy_recurring": 0.9}})
    >>> out["no_context_accuracy_recurring"].values.tolist()
    [[nan, 0.9]]
    """
    from cramcog.analysis.causal import BINDING_VARIABLES

    variants = [str(v) for v in ds.variant.values]
    seeds = [int(s) for s in ds.seed.values]
    grids = {k: np.full((len(variants), len(seeds)), np.nan) for k in BINDING_VARIABLES}
    for (variant, seed), result in results.items():
        if (str(variant), int(seed)) not in {(v, s) for v in variants for s in seeds}:
            raise AnalysisError(f"with_binding: the record has no run ({variant!r}, seed {seed}); "
                                f"it has variants {variants} and seeds {seeds}")
        for k, value in (result or {}).items():
            if k in grids:
                grids[k][variants.index(str(variant)), seeds.index(int(seed))] = float(value)
    out = ds.copy()
    for k, (units, long_name) in BINDING_VARIABLES.items():
        out[k] = (("variant", "seed"), grids[k], {"units": units,
                                                  "long_name": long_name + " (binding test, "
                                                                           "test split)"})
    out.attrs["binding_test"] = (
        "cramcog.analysis.causal.binding_test on the run's test batches, in its retrieving "
        "layer, routes held at the unedited run's: interchange (the partner pattern's site "
        "output patched in), mean ablation over the batch's recurring queries, and no context "
        "(every binding event turned into an observation); NaN for runs without model.pt")
    return out
