"""Item-specific consolidation: does a pattern leave attention at ITS OWN exposure count, or at a
training step shared by all patterns?

In people the strategy shift (look-up -> retrieval) is item-specific: an item switches after
enough practice on that item, not after enough practice overall (Logan 1988; Rickard 1997;
Zbrodoff 1995; psych_data/ shape constraints). On SRCD with equally frequent patterns the two
cannot be told apart (exposures are proportional to steps for every pattern). With Zipf
frequencies (``task.pattern_zipf`` > 0) they can: a pattern seen r times per step that switches
after E* of its own exposures switches at step E* / r, so

    log(switch step) = const + b * log(r)

has slope b = -1 if the switch follows the item's own exposures and b = 0 if it follows the
training step (total practice). ``item_specificity`` estimates b per run (OLS over patterns) and
over seeds (Student-t across seeds: seeds are the independent replications). Two things push b
toward 0 whatever the mechanism, so a b near -1 is conservative evidence: patterns that have not
switched when training stops (counted at the last evaluation, a lower bound on their switch step)
and frequent patterns that reach E* during the attention warm-up (they cannot switch before it
ends); ``slope_rare`` repeats the fit on the rarer half of the patterns, far from that floor.

Examples
--------
>>> import numpy as np
>>> steps = np.arange(50, 3201, 50)
>>> rate = np.geomspace(0.5, 4, 40)                     # exposures per step, per pattern
>>> exposures = np.outer(steps, rate)                   # (eval_step, pattern)
>>> switch = np.array([exposures[np.searchsorted(exposures[:, p], 1200.0), p] for p in range(40)])
>>> ds = item_record_from_arrays(steps, exposures, switch)
>>> round(float(item_specificity(ds).slope.iloc[0]), 1)  # each pattern at its own 1200 exposures
-1.0
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from cramcog.analysis.runs import AnalysisError

MIN_RATE_RANGE = 2.0   # patterns' exposure rates must span at least this factor to separate b


def _need_record(ds) -> xr.Dataset:
    need = ("pattern_exposures", "pattern_switch_exposures")
    if not isinstance(ds, xr.Dataset) or any(n not in ds for n in need):
        raise AnalysisError("item_specificity reads a consolidation record with per-pattern "
                            "variables (cramcog consolidation RUNS --out FILE.nc)")
    return ds


def pattern_switch_steps(ds: xr.Dataset, variant: str, seed: int) -> pd.DataFrame:
    """One run's patterns: exposure rate, switch exposures and the step of the switch.

    Parameters
    ----------
    ds
        A consolidation record (:func:`cramcog.analysis.consolidation_record`).
    variant, seed
        The run.

    Returns
    -------
    pandas.DataFrame
        One row per pattern: ``pattern``, ``rate`` (training queries of the pattern per step,
        from its exposures at the last evaluation), ``switch_exposures`` (its count at the
        switch evaluation), ``switch_step`` and ``switch_exposures_mid`` (midway between that
        evaluation and the one before, where the switch happened; for a pattern that never
        switched the last evaluation step, a lower bound) and ``switched``.

    Examples
    --------
    >>> steps = np.array([100, 200, 300])
    >>> ds = item_record_from_arrays(steps, np.outer(steps, [1.0, 2.0]), np.array([200.0, np.nan]))
    >>> pattern_switch_steps(ds, "cram", 0)[["rate", "switch_step", "switched"]].values.tolist()
    [[1.0, 150.0, True], [2.0, 300.0, False]]
    """
    _need_record(ds)
    run = ds.sel(variant=variant, seed=seed)
    exposures = run["pattern_exposures"].transpose("eval_step", "pattern").values.astype(float)
    steps = np.asarray(run["eval_step"].values, dtype=float)
    keep = np.isfinite(exposures).all(1)
    exposures, steps = exposures[keep], steps[keep]
    if steps.size == 0:
        raise AnalysisError(f"{variant} seed {seed}: no evaluations in the record")
    switch = np.asarray(run["pattern_switch_exposures"].values, dtype=float)          # (P,)
    switched = np.isfinite(switch)
    # exposures only grow: the switch evaluation is the first one at the switch exposure count
    last = exposures.shape[0] - 1
    at = np.array([min(np.searchsorted(exposures[:, p], s), last) if ok else last
                   for p, (s, ok) in enumerate(zip(switch, switched))])
    # the switch happened between the previous evaluation and this one: take the midpoint, or a
    # frequent pattern's count overshoots by half an interval's exposures (a bias toward slope 0)
    before = np.maximum(at - 1, 0)
    cols = np.arange(exposures.shape[1])
    mid_step = np.where(switched, (steps[before] + steps[at]) / 2, steps[last])
    mid_exposures = np.where(switched, (exposures[before, cols] + exposures[at, cols]) / 2,
                             np.nan)
    return pd.DataFrame({
        "variant": variant, "seed": int(seed),
        "pattern": np.asarray(run["pattern"].values, dtype=int),
        "rate": exposures[-1] / steps[-1],
        "switch_exposures": switch,
        "switch_step": mid_step,
        "switch_exposures_mid": mid_exposures,
        "switched": switched,
    })


def unequal_rates(ds: xr.Dataset, variant: str = "cram",
                  min_rate_range: float = MIN_RATE_RANGE) -> bool:
    """Whether the variant's runs saw their patterns at rates spanning ``min_rate_range`` or
    more (only then can :func:`item_specificity` tell the hypotheses apart).

    Examples
    --------
    >>> steps = np.array([100, 200])
    >>> unequal_rates(item_record_from_arrays(steps, np.outer(steps, [1.0, 1.1]), [np.nan] * 2))
    False
    """
    if not isinstance(ds, xr.Dataset) or "pattern_exposures" not in ds \
            or variant not in ds.variant.values:
        return False
    exposures = ds["pattern_exposures"].sel(variant=variant).transpose(
        "seed", "eval_step", "pattern").values.astype(float)                  # (seed, E, P)
    # exposures only grow: each pattern's largest count is its last
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # an all-NaN (pending) seed
        last = np.nanmax(exposures, axis=1)                                    # (seed, P)
        ratio = np.nanmax(last, axis=-1) / np.nanmin(last, axis=-1)
    return bool(np.any(ratio >= min_rate_range))


def _ols_slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope of y on x and its standard error (NaN with fewer than 3 points)."""
    if x.size < 3 or np.ptp(x) == 0:
        return np.nan, np.nan
    X = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    s2 = float(resid @ resid) / (x.size - 2)
    cov = s2 * np.linalg.inv(X.T @ X)
    return float(coef[1]), float(np.sqrt(cov[1, 1]))


def item_specificity(ds: xr.Dataset, variant: str | None = None,
                     min_rate_range: float = MIN_RATE_RANGE) -> pd.DataFrame:
    """Per run: the slope b of log(switch step) on log(exposure rate) over patterns.

    b = -1: each pattern leaves attention after a fixed number of ITS OWN exposures
    (item-specific, as in people); b = 0: all leave at a shared training step (total practice).

    Parameters
    ----------
    ds
        A consolidation record of runs trained with unequal pattern frequencies
        (``task.pattern_zipf`` > 0).
    variant
        Only this variant (default: every variant with a switching pattern).
    min_rate_range
        The least max/min ratio of the patterns' rates that can separate the hypotheses.

    Returns
    -------
    pandas.DataFrame
        One row per (variant, seed): ``slope`` and ``slope_se`` (OLS over patterns, every
        pattern; one that never switched counts at the last evaluation), ``slope_rare`` (the
        rarer half of the patterns), ``rate_range``, ``n_patterns``, ``n_switched``,
        ``median_switch_exposures``, ``rho_exposures_rate`` (Spearman, switched patterns: near 0
        if item-specific, near 1 if total practice). See :func:`item_specificity_summary` for the
        interval over seeds.

    Raises
    ------
    AnalysisError
        If the patterns' rates span less than ``min_rate_range`` (equal frequencies: train with
        ``--set task.pattern_zipf=0.75``).

    Examples
    --------
    >>> steps = np.arange(50, 3201, 50)
    >>> rate = np.geomspace(0.5, 10, 40)
    >>> exposures = np.outer(steps, rate)
    >>> shared = np.array([exposures[np.searchsorted(steps, 1000), p] for p in range(40)])
    >>> table = item_specificity(item_record_from_arrays(steps, exposures, shared))
    >>> round(float(table.slope[0]), 2)                 # all at step 1000: total practice
    0.0
    """
    from scipy import stats

    _need_record(ds)
    variants = [variant] if variant is not None else [str(v) for v in ds.variant.values]
    rows = []
    for v in variants:
        for seed in ds.seed.values:
            try:
                df = pattern_switch_steps(ds, v, int(seed))
            except AnalysisError:
                continue
            if not df.switched.any() or not np.isfinite(df.rate).all():
                continue
            rate_range = float(df.rate.max() / df.rate.min()) if df.rate.min() > 0 else np.inf
            if not rate_range >= min_rate_range:
                raise AnalysisError(
                    f"{v} seed {int(seed)}: the patterns' exposure rates span only "
                    f"{rate_range:.2f}x (< {min_rate_range}): with equal frequencies an item's "
                    "exposures and the training step cannot be told apart; train with unequal "
                    "frequencies, e.g. --set task.pattern_zipf=0.75")
            x, y = np.log(df.rate.values), np.log(df.switch_step.values)
            slope, se = _ols_slope(x, y)
            rare = df.rate.values <= np.median(df.rate.values)
            slope_rare, _ = _ols_slope(x[rare], y[rare])
            sw = df[df.switched]
            rho = float(stats.spearmanr(sw.switch_exposures_mid, sw.rate)[0]) if len(sw) > 2 \
                else np.nan
            rows.append({"variant": v, "seed": int(seed), "slope": slope, "slope_se": se,
                         "slope_rare": slope_rare, "rate_range": rate_range,
                         "n_patterns": len(df), "n_switched": int(df.switched.sum()),
                         "median_switch_exposures": float(sw.switch_exposures_mid.median()),
                         "rho_exposures_rate": rho})
    if not rows:
        raise AnalysisError("item_specificity: no run with a switching pattern in the record")
    return pd.DataFrame(rows)


def item_specificity_summary(table: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Mean slope per variant over seeds with its Student-t interval (seeds are the replications).

    Examples
    --------
    >>> t = pd.DataFrame({"variant": "cram", "slope": [-0.9, -0.8, -1.0],
    ...                   "slope_rare": [-1.0, -0.9, -1.1]})
    >>> s = item_specificity_summary(t)
    >>> round(float(s.slope[0]), 2), bool(s.slope_high[0] < 0)
    (-0.9, True)
    """
    from cramcog.dynamics.intervals import seed_interval

    rows = []
    for v, part in table.groupby("variant", sort=False):
        row = {"variant": v, "n_seeds": int(part.slope.notna().sum())}
        for col in ("slope", "slope_rare"):
            mean, low, high, _, _ = seed_interval(part[col], level)
            row.update({col: mean, f"{col}_low": low, f"{col}_high": high})
        rows.append(row)
    return pd.DataFrame(rows)


def item_record_from_arrays(steps, exposures, switch, variant: str = "cram",
                            seed: int = 0) -> xr.Dataset:
    """A minimal consolidation-like record of one run (for examples and tests): eval steps (E,),
    per-pattern exposures (E, P) and switch exposures (P,) (NaN: never switched)."""
    exposures = np.asarray(exposures, dtype=float)
    dims = ("variant", "seed")
    return xr.Dataset(
        {"pattern_exposures": (dims + ("eval_step", "pattern"), exposures[None, None]),
         "pattern_switch_exposures": (dims + ("pattern",),
                                      np.asarray(switch, dtype=float)[None, None])},
        coords={"variant": [variant], "seed": [seed], "eval_step": np.asarray(steps),
                "pattern": np.arange(exposures.shape[1])},
        attrs={"study": "consolidation"})
