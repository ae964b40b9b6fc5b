"""Are per-pattern switches independent, or network-wide events? (switch synchrony)

A consolidation record (:func:`cramcog.analysis.consolidation_record`) gives, per pattern, the
share of its probe queries that attend at every evaluation. From it, per run, three kinds of
events, each at an evaluation slot after the warm-up:

- ``switch``: the pattern's final switch off attention (:func:`switch_index`);
- ``first_off``: the first evaluation where at most ``threshold`` of its probes attend;
- ``return``: every evaluation where it crosses back above ``threshold``.

An event at the first evaluation after the warm-up is censored (the pattern may have left
attention any time before: the switch rule only starts counting there) and is left out.

Synchrony statistic: coincidences, the number of pattern pairs whose events fall at the same
evaluation, sum_e n_e (n_e - 1) / 2. Null (interval jitter, Amarasingham et al. 2012, J
Neurophysiol 107:517): the evaluations after the warm-up are cut into fixed windows of
``window_steps``; each event is moved to a uniformly drawn evaluation of its own window,
independently of every other event. That keeps the coarse time course (how many patterns
switch in each window) and destroys only alignment finer than the window. ``p`` is the share of
resamples with at least the observed coincidences ((1 + k) / (1 + R)). Small p: patterns leave
together, at shared evaluations, more than independent per-pattern timing within a window
allows, i.e. network-wide events. The test can only see alignment at the evaluation interval or
coarser; a record evaluated every 50 steps with 100-step windows has 2 slots per window.

Returns are several events per pattern, each jittered on its own: the null can put two returns
of one pattern at one evaluation, which the data cannot, so the return test is conservative.

Abruptness is measured by :func:`switch_widths` (from >= 75% of a pattern's probes attending to
<= 25%), in steps and in the pattern's own exposures.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> together = np.repeat([20, 40], 30)                    # 60 events at two slots
>>> spread = rng.integers(1, 60, 60)                      # 60 events at independent slots
>>> jitter_test(together, start=0, n_evals=60, window=10, resamples=999, seed=0)["p"] < 0.01
True
>>> jitter_test(spread, start=0, n_evals=60, window=10, resamples=999, seed=0)["p"] > 0.05
True
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from cramcog.analysis.consolidation import SWITCH_THRESHOLD, switch_index, switch_widths
from cramcog.analysis.runs import AnalysisError

EVENTS = ("switch", "first_off", "return")
PRIMARY_WINDOW_STEPS = 100        # fixed before the dense-evaluation runs (issue 22, section 2)


def coincidences(slots: np.ndarray) -> int:
    """Pairs of events at the same slot: sum over slots of n (n - 1) / 2.

    Examples
    --------
    >>> coincidences(np.array([3, 3, 3, 5, 7, 7]))
    4
    """
    slots = np.asarray(slots, dtype=np.int64)
    if slots.size == 0:
        return 0
    n = np.bincount(slots - slots.min())
    return int((n * (n - 1) // 2).sum())


def jitter_test(slots: np.ndarray, start: int, n_evals: int, window: int,
                resamples: int = 10_000, seed: int = 0) -> dict[str, float]:
    """Interval-jitter test of event synchrony (see the module docstring).

    Parameters
    ----------
    slots
        Evaluation index of each event, all ``> start`` and ``< n_evals``.
    start
        The first evaluation after the warm-up (censored: events there are not passed in);
        windows start at ``start + 1``.
    n_evals
        Number of evaluations.
    window
        Window length in evaluations (>= 2).
    resamples, seed
        Number of jittered data sets and the seed of their generator.

    Returns
    -------
    dict
        ``coincidences`` (observed), ``null_mean``, ``null_q95``, ``excess`` (observed /
        null mean), ``p`` and ``n_events``.
    """
    slots = np.asarray(slots, dtype=np.int64)
    if window < 2:
        raise AnalysisError(f"jitter_test: a window of {window} evaluation(s) cannot move any "
                            "event; use windows of >= 2 evaluations")
    if slots.size and (slots.min() <= start or slots.max() >= n_evals):
        raise AnalysisError("jitter_test: events must lie after the warm-up slot and before "
                            "the last evaluation")
    observed = coincidences(slots)
    if slots.size < 2:
        return {"coincidences": float(observed), "null_mean": np.nan, "null_q95": np.nan,
                "excess": np.nan, "p": np.nan, "n_events": float(slots.size)}
    first = start + 1
    lo = first + (slots - first) // window * window                           # (K,)
    width = np.minimum(lo + window, n_evals) - lo                            # (K,)
    rng = np.random.default_rng(seed)
    null = np.empty(resamples, dtype=np.int64)
    for r in range(resamples):
        moved = lo + (rng.random(slots.size) * width).astype(np.int64)
        n = np.bincount(moved - first)
        null[r] = (n * (n - 1) // 2).sum()
    mean = float(null.mean())
    return {"coincidences": float(observed), "null_mean": mean,
            "null_q95": float(np.quantile(null, 0.95)),
            "excess": observed / mean if mean > 0 else np.nan,
            "p": float((1 + np.sum(null >= observed)) / (1 + resamples)),
            "n_events": float(slots.size)}


def pattern_events(share: np.ndarray, start: int,
                   threshold: float = SWITCH_THRESHOLD) -> dict[str, np.ndarray]:
    """Evaluation indices of each event kind (:data:`EVENTS`), the censored slot ``start``
    excluded, and ``censored``: patterns whose final switch sits at ``start``.

    Examples
    --------
    >>> share = np.array([[1.0, 0.0, 0.0], [0.9, 0.0, 0.0], [0.1, 1.0, 0.0], [0.8, 0.0, 0.0],
    ...                   [0.0, 0.0, 0.0]])          # columns: patterns; rows: evaluations
    >>> ev = pattern_events(share, start=0)
    >>> {k: v.tolist() for k, v in ev.items()}
    {'switch': [4, 3], 'first_off': [2], 'return': [2, 3], 'censored': [2]}
    """
    share = np.asarray(share, dtype=float)
    off = share <= threshold                                                 # (E, P)
    final = switch_index(share, start, threshold)
    after = off[start:]
    first = np.where(after.any(0), after.argmax(0) + start, -1)
    back = np.flatnonzero(off[start:-1].ravel() & ~off[start + 1:].ravel())
    back_slots = back // share.shape[1] + start + 1
    return {"switch": final[final > start], "first_off": first[first > start],
            "return": back_slots, "censored": np.flatnonzero(final == start)}


def run_shares(ds: xr.Dataset, variant: str, seed: int):
    """(steps, share (E, P), exposures (E, P), start) of one run of a consolidation record:
    evaluations with every pattern measured, and the index of the first one after the warm-up."""
    cell = ds.sel(variant=variant, seed=seed)
    steps = np.asarray(ds["eval_step"].values, dtype=float)
    share = (cell["pattern_attended"] / cell["pattern_probes"]).values            # (E, P)
    expo = cell["pattern_exposures"].values                                       # (E, P)
    ok = np.isfinite(share).all(1)
    steps, share, expo = steps[ok], share[ok], expo[ok]
    warm = float(cell["warmup_end_step"])
    start = int(np.searchsorted(steps, warm)) if warm >= 0 else len(steps)
    return steps, share, expo, start


def run_synchrony(ds: xr.Dataset, variant: str, seed: int,
                  windows_steps: Sequence[int] = (50, PRIMARY_WINDOW_STEPS, 200),
                  resamples: int = 10_000, threshold: float | None = None,
                  rng_seed: int = 0) -> dict:
    """Synchrony tests and switch widths of one run of a consolidation record.

    Returns
    -------
    dict
        ``tests``: {(event, window_steps): :func:`jitter_test` result plus ``max_at_one_eval``
        and ``top3_share`` (share of the events at the 3 fullest evaluations)}; and per run
        ``eval_interval``, ``censored``, ``median_width_steps``, ``median_width_exposures``,
        ``one_interval_share`` (widths of one evaluation interval), ``switched``.
    """
    threshold = float(ds.attrs.get("switch_threshold", SWITCH_THRESHOLD)) \
        if threshold is None else threshold
    steps, share, expo, start = run_shares(ds, variant, seed)
    if start >= len(steps) - 2:
        raise AnalysisError(f"synchrony: {variant} seed {seed} has fewer than 3 evaluations "
                            "after its warm-up; nothing to test")
    interval = float(np.median(np.diff(steps[start:])))
    events = pattern_events(share, start, threshold)
    tests = {}
    for w in windows_steps:
        slots_per_window = int(round(w / interval))
        if slots_per_window < 2:
            raise AnalysisError(
                f"synchrony: a {w}-step window holds {slots_per_window} evaluation(s) at this "
                f"record's interval of {interval:g} steps; use windows >= {2 * interval:g} steps "
                "or evaluate more often (train with --set eval_every=10)")
        for kind in EVENTS:
            slots = events[kind]
            res = jitter_test(slots, start, len(steps), slots_per_window, resamples,
                              seed=rng_seed)
            n = np.bincount(slots) if slots.size else np.zeros(1, dtype=np.int64)
            res["max_at_one_eval"] = float(n.max())
            res["top3_share"] = float(np.sort(n)[-3:].sum() / slots.size) if slots.size \
                else np.nan
            tests[(kind, int(w))] = res
    post = slice(start, None)
    w_steps = switch_widths(share[post], steps[post])
    w_expo = switch_widths(share[post], expo[post])
    fin = w_steps[np.isfinite(w_steps)]
    return {"tests": tests, "eval_interval": interval, "censored": float(events["censored"].size),
            "switched": float(np.sum(switch_index(share, start, threshold) >= 0)),
            "median_width_steps": float(np.median(fin)) if fin.size else np.nan,
            "median_width_exposures": float(np.nanmedian(w_expo)) if fin.size else np.nan,
            "one_interval_share": float(np.mean(fin <= interval * 1.01)) if fin.size else np.nan}


def synchrony_record(ds: xr.Dataset, variant: str = "cram",
                     windows_steps: Sequence[int] = (50, PRIMARY_WINDOW_STEPS, 200),
                     resamples: int = 10_000, rng_seed: int = 0,
                     source: str | None = None) -> xr.Dataset:
    """Switch-synchrony record of every seed of ``variant`` in a consolidation record.

    Parameters
    ----------
    ds
        A consolidation record (``cramcog consolidation``), ideally of runs evaluated every
        <= 10 steps (the test cannot see alignment finer than the evaluation interval).
    variant
        Which variant's seeds to test.
    windows_steps
        Jitter windows in training steps; :data:`PRIMARY_WINDOW_STEPS` gives ``switch_sync_p``.
    resamples, rng_seed
        Jittered data sets per test and their seed.
    source
        Where ``ds`` came from (stored in the attrs).

    Returns
    -------
    xarray.Dataset
        Kind ``evaluation`` (``study = "switch_synchrony"``), dims (seed, event, window_steps):
        p, coincidences, null_mean, null_q95, excess, n_events, max_at_one_eval, top3_share;
        per seed: switch_sync_p (final switches, primary window), eval_interval, censored,
        switched, median_width_steps, median_width_exposures, one_interval_share.

    Examples
    --------
    >>> rec = synchrony_record(records.open("paper/records/switch_sync_runs.nc"))  # doctest: +SKIP
    """
    from cramcog import records

    if "pattern_attended" not in ds or variant not in [str(v) for v in ds.variant.values]:
        raise AnalysisError(f"synchrony_record needs a consolidation record with variant "
                            f"{variant!r} (cramcog consolidation NAME=RUNS --out FILE.nc)")
    windows = [int(w) for w in windows_steps]
    if PRIMARY_WINDOW_STEPS not in windows:
        windows.append(PRIMARY_WINDOW_STEPS)
    seeds = [int(s) for s in ds.seed.values
             if np.isfinite(ds["warmup_end_step"].sel(variant=variant, seed=s))]
    fields = ("p", "coincidences", "null_mean", "null_q95", "excess", "n_events",
              "max_at_one_eval", "top3_share")
    per_run = ("eval_interval", "censored", "switched", "median_width_steps",
               "median_width_exposures", "one_interval_share")
    grid = {k: np.full((len(seeds), len(EVENTS), len(windows)), np.nan) for k in fields}
    runs = {k: np.full(len(seeds), np.nan) for k in per_run}
    for i, seed in enumerate(seeds):
        res = run_synchrony(ds, variant, seed, windows, resamples, rng_seed=rng_seed)
        for (kind, w), test in res["tests"].items():
            for k in fields:
                grid[k][i, EVENTS.index(kind), windows.index(w)] = test[k]
        for k in per_run:
            runs[k][i] = res[k]
    dims = ("seed", "event", "window_steps")
    variables = {k: (dims, v) for k, v in grid.items()}
    variables.update({k: (("seed",), v) for k, v in runs.items()})
    variables["switch_sync_p"] = (("seed",), grid["p"][:, EVENTS.index("switch"),
                                                      windows.index(PRIMARY_WINDOW_STEPS)])
    return records.new_record(
        variables, kind="evaluation",
        config={"variant": variant, "windows_steps": windows, "resamples": resamples,
                "rng_seed": rng_seed, "primary_window_steps": PRIMARY_WINDOW_STEPS},
        seed=rng_seed,
        coords={"seed": np.array(seeds, dtype=np.int64), "event": np.array(EVENTS),
                "window_steps": np.array(windows, dtype=np.int64)},
        attrs={"study": "switch_synchrony", "variant": variant,
               "source": source or "", "seq_len": ds.attrs.get("seq_len", -1),
               "switch_threshold": float(ds.attrs.get("switch_threshold", SWITCH_THRESHOLD)),
               "null": "interval jitter: each event redrawn uniformly within its own window "
                       "of window_steps (windows from the first evaluation after the warm-up); "
                       "p = (1 + #null >= observed) / (1 + resamples)"})


def synchrony_frame(rec: xr.Dataset) -> pd.DataFrame:
    """One row per (seed, event, window_steps) with the test numbers and the per-seed ones."""
    grid = rec[["p", "coincidences", "null_mean", "excess", "n_events", "max_at_one_eval",
                "top3_share"]].to_dataframe().reset_index()
    per_seed = rec[["eval_interval", "censored", "switched", "median_width_steps",
                    "median_width_exposures", "one_interval_share"]].to_dataframe()
    return grid.merge(per_seed.reset_index(), on="seed")


def synchrony_table(rec: xr.Dataset, window_steps: int = PRIMARY_WINDOW_STEPS) -> str:
    """Markdown table: a row per seed, the three event kinds at one window.

    Examples
    --------
    >>> print(synchrony_table(rec))                                       # doctest: +SKIP
    """
    f = synchrony_frame(rec)
    f = f[f.window_steps == window_steps]
    lines = [f"| seed | event | events | coincidences (null mean) | excess | p | most at one "
             f"evaluation | width, steps (exposures) |", "|" + "---|" * 8]
    for row in f.itertuples():
        lines.append(f"| {row.seed} | {row.event} | {row.n_events:.0f} | {row.coincidences:.0f} "
                     f"({row.null_mean:.1f}) | {row.excess:.2f} | {row.p:.4f} | "
                     f"{row.max_at_one_eval:.0f} | {row.median_width_steps:.0f} "
                     f"({row.median_width_exposures:.0f}) |")
    return "\n".join(lines)


__all__ = ["EVENTS", "PRIMARY_WINDOW_STEPS", "coincidences", "jitter_test", "pattern_events",
           "run_shares", "run_synchrony", "switch_widths", "synchrony_frame", "synchrony_record",
           "synchrony_table"]
