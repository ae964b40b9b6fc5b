"""Item-specific consolidation: does a pattern leave attention at ITS OWN exposure count, or at a
training step shared by all patterns?

In people the strategy shift (look-up -> retrieval) is largely item-specific: an item switches
after enough practice on that item more than after enough practice overall (Logan 1988; Rickard
1997; Zbrodoff 1995; psych_data/ shape constraints). On SRCD with equally frequent patterns the two
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

The second measure uses every evaluation, not only the switch points, and applies to people as
well: :func:`practice_glm` fits logit(share still attending) on log(own exposures) and
log(total practice) at once; the item-practice index b_item / (b_item + b_total) is 1 for a shift
driven by the item's own practice and 0 for one driven by total practice
(:func:`item_practice_index` for a consolidation record, :func:`zbrodoff_practice_index` for
Zbrodoff's (1995) frequency conditions, where the two vary apart by design).

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

#: Equivalence margin of the item-practice index, model minus people, fixed before the test was
#: first computed. The index runs from 0 (only total practice drives the shift) to 1 (only the
#: item's own practice); 0.5 is where the two clocks weigh the same, the line between "mostly
#: total practice" and "mostly item-specific". +-0.2 is a fifth of that range, less than the
#: distance (0.25) from the middle of the item-specific half (0.75) to that line: two indices
#: closer than 0.2 tell the same story at the resolution the question asks (is the shift mostly
#: item-specific?); a larger difference can move an index across it.
ITEM_PRACTICE_MARGIN = 0.2
#: Zbrodoff's (1995) participant groups: the three frequency conditions were run between
#: participants, so the 9 cells (3 blocks x 3 addends) of one condition share participants.
ZBRODOFF_GROUP = "condition"


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
    """Slope of y on x and its standard error (NaN with fewer than 3 points or constant x)."""
    from scipy import stats

    if x.size < 3 or np.ptp(x) == 0:
        return np.nan, np.nan
    fit = stats.linregress(x, y)
    return float(fit.slope), float(fit.stderr)


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
        main = "slope" if "slope" in part else "index"
        row = {"variant": v, "n_seeds": int(part[main].notna().sum())}
        for col in [c for c in ("slope", "slope_rare", "index") if c in part]:
            mean, low, high, _, _ = seed_interval(part[col], level)
            row.update({col: mean, f"{col}_low": low, f"{col}_high": high})
        rows.append(row)
    return pd.DataFrame(rows)


def practice_glm(share, item_exposures, total_practice, n=None, level: float = 0.95,
                 seed: int = 0) -> dict:
    """Which practice drives the shift? A quasi-binomial GLM on both clocks at once:

        logit(share) = a + b_item log(item exposures) + b_total log(total practice)

    and the item-specificity index ``b_item / (b_item + b_total)``: 1 when only the item's own
    exposures matter, 0 when only total practice does (for a switch at a fixed share it equals
    minus the switch-step slope of :func:`item_specificity`). Both coefficients are identified only
    when item exposures and total practice vary apart (unequal item frequencies).

    Parameters
    ----------
    share
        Share still on the episodic / algorithmic route, per point (in [0, 1]).
    item_exposures, total_practice
        The item's own exposures and all training so far, per point (> 0).
    n
        Trials behind each share (binomial weights); None: every point weighs the same.
    level
        Interval level; the index's interval comes from 20000 draws of the coefficients from
        their (dispersion-scaled) covariance.
    seed
        Seeds those draws.

    Returns
    -------
    dict
        ``b_item``, ``b_item_se``, ``b_total``, ``b_total_se``, ``index``, ``index_low``,
        ``index_high``, ``dispersion`` (Pearson), ``n_points``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(1, 100, 300); t = rng.uniform(10, 1000, 300)
    >>> p = 1 / (1 + np.exp(-(6 - 2.0 * np.log(x) - 0.5 * np.log(t))))
    >>> out = practice_glm(rng.binomial(40, p) / 40, x, t, n=np.full(300, 40))
    >>> round(out["index"], 1)
    0.8
    """
    import statsmodels.api as sm

    share = np.asarray(share, dtype=float)
    x = np.asarray(item_exposures, dtype=float)
    t = np.asarray(total_practice, dtype=float)
    w = np.ones_like(share) if n is None else np.asarray(n, dtype=float)
    ok = np.isfinite(share) & np.isfinite(x) & np.isfinite(t) & (x > 0) & (t > 0) & (w > 0)
    if ok.sum() < 4:
        raise AnalysisError(f"practice_glm: {int(ok.sum())} usable points (need >= 4 with "
                            "positive exposures and practice)")
    share, x, t, w = share[ok], x[ok], t[ok], w[ok]
    if not (np.all(share >= 0) and np.all(share <= 1)):
        raise AnalysisError("practice_glm: shares must lie in [0, 1]")
    X = np.column_stack([np.ones_like(x), np.log(x), np.log(t)])
    if np.linalg.matrix_rank(X) < 3 or abs(np.corrcoef(X[:, 1], X[:, 2])[0, 1]) > 0.999:
        raise AnalysisError("practice_glm: item exposures and total practice move together "
                            "(equal item frequencies): their effects cannot be told apart")
    fit = sm.GLM(share, X, family=sm.families.Binomial(), var_weights=w).fit(scale="X2")
    b, cov = np.asarray(fit.params), np.asarray(fit.cov_params())
    draws = np.random.default_rng(seed).multivariate_normal(b, cov, 20000)
    with np.errstate(divide="ignore", invalid="ignore"):
        idx = draws[:, 1] / (draws[:, 1] + draws[:, 2])
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(idx, [tail, 100 - tail])
    return {"b_item": float(b[1]), "b_item_se": float(np.sqrt(cov[1, 1])),
            "b_total": float(b[2]), "b_total_se": float(np.sqrt(cov[2, 2])),
            "index": float(b[1] / (b[1] + b[2])), "index_low": float(low),
            "index_high": float(high), "dispersion": float(fit.scale),
            "n_points": int(ok.sum())}


def item_practice_index(ds: xr.Dataset, variant: str | None = None) -> pd.DataFrame:
    """:func:`practice_glm` per run of a consolidation record: each pattern's share of probes
    attending at each evaluation after the warm-up, against its exposures and the step.

    Returns
    -------
    pandas.DataFrame
        One row per (variant, seed) with the columns of :func:`practice_glm`; see
        :func:`item_specificity_summary` for the interval over seeds (column ``index``).

    Examples
    --------
    >>> steps = np.arange(50, 3201, 50)
    >>> exposures = np.outer(steps, np.geomspace(0.5, 4, 30))
    >>> ds = item_record_from_arrays(steps, exposures, [np.nan] * 30)
    >>> ds["pattern_attended"] = ds.pattern_exposures * 0 + 8.0 * (ds.pattern_exposures < 1000)
    >>> ds["pattern_probes"] = ds.pattern_exposures * 0 + 8.0
    >>> ds["pattern_attended"][..., 10, 0] = 4.0              # not a perfect step: finite slopes
    >>> round(float(item_practice_index(ds)["index"][0]), 1)
    1.0
    """
    need = ("pattern_attended", "pattern_probes", "pattern_exposures")
    if not isinstance(ds, xr.Dataset) or any(v not in ds for v in need):
        raise AnalysisError("item_practice_index reads a consolidation record "
                            "(cramcog consolidation RUNS --out FILE.nc)")
    variants = [variant] if variant is not None else [str(v) for v in ds.variant.values]
    rows = []
    for v in variants:
        for seed in ds.seed.values:
            run = ds.sel(variant=v, seed=seed)
            order = ("eval_step", "pattern")
            att = run["pattern_attended"].transpose(*order).values.astype(float)
            probes = run["pattern_probes"].transpose(*order).values.astype(float)
            exp_p = run["pattern_exposures"].transpose(*order).values.astype(float)
            steps = np.broadcast_to(np.asarray(run["eval_step"].values, float)[:, None],
                                    exp_p.shape)
            # no variable: a record without a warm-up; -1 / NaN: the warm-up never ended
            warm = float(run["warmup_end_step"]) if "warmup_end_step" in run else 0.0
            after = (steps > warm) & np.isfinite(att) & (probes > 0)
            if not after.any() or not np.isfinite(warm) or warm < 0:
                continue       # never left the warm-up, or a pending cell
            try:
                out = practice_glm(att[after] / probes[after], exp_p[after], steps[after],
                                   n=probes[after])
            except AnalysisError:
                continue
            rows.append({"variant": v, "seed": int(seed), **out})
    if not rows:
        raise AnalysisError("item_practice_index: no run with evaluations after its warm-up and "
                            "unequal pattern frequencies")
    return pd.DataFrame(rows)


def zbrodoff_practice_index(level: float = 0.95, seed: int = 0) -> dict:
    """The same index for people: Zbrodoff (1995) alphabet arithmetic, whose frequency
    conditions make item presentations and total trials vary apart.

    y: the counting share of each (condition, block, addend) cell's mean RT
    (:func:`cramcog.psych.zbrodoff_counting_share`, a two-strategy mixture: a proxy for
    P(counting), not a measured proportion); item exposures: presentations of the equation before
    the block's midpoint; total practice: trials before it ((block - 0.5) x 192). Cell means
    with unknown N: every cell weighs the same and the interval is quasi-binomial (indicative).

    Examples
    --------
    >>> out = zbrodoff_practice_index()
    >>> 0.5 < out["index"] < 1.0, out["n_points"]
    (True, 27)
    """
    from cramcog import psych

    return _zbrodoff_glm(psych.zbrodoff_counting_share(), level=level, seed=seed)


def _zbrodoff_glm(cells: pd.DataFrame, level: float = 0.95, seed: int = 0) -> dict:
    """:func:`practice_glm` on cells of :func:`cramcog.psych.zbrodoff_counting_share`."""
    total = (cells["block"].to_numpy(float) - 0.5) * 192.0
    return practice_glm(cells["counting_share"].to_numpy(float), cells["x"].to_numpy(float),
                        total, level=level, seed=seed)


def zbrodoff_index_derivations(seed: int = 0) -> pd.DataFrame:
    """People's item-practice index under each reasonable derivation, with a standard error that
    does not treat repeated measures as independent.

    Two things widen the human side beyond :func:`zbrodoff_practice_index`'s interval:

    - the derivation: the counting share rests on reference cells (pure retrieval R, pure
      counting C), and each reasonable choice (:func:`cramcog.psych.zbrodoff_reference_choices`)
      gives its own index; the comparison takes the envelope over them;
    - repeated measures: Zbrodoff's three frequency conditions were three groups of
      participants, and the 9 cells of a group (3 blocks x 3 addends) are means over the SAME
      people, so they are not independent. The standard error is clustered by group, as a
      leave-one-group-out jackknife (CV3, with G - 1 = 2 degrees of freedom; MacKinnon, Nielsen
      & Webb 2023). A sandwich estimator clustered by group cannot be used: with G = 3 clusters
      its middle matrix has rank G - 1 = 2, below the GLM's 3 coefficients (and it is biased
      down with few clusters); clustering by block has the same 3 clusters and is not the unit
      of independence (the blocks of a group are the same people). With 2 degrees of freedom
      the human index is known to about +-0.4 (90%): the data are the limit.

    Parameters
    ----------
    seed
        Seeds the draws of :func:`practice_glm` (its own interval, not used here).

    Returns
    -------
    pandas.DataFrame
        One row per derivation, the default first: ``choice``, ``default``, ``index``, ``se``
        (leave-one-group-out jackknife), ``df`` (groups - 1), ``b_item``, ``b_total``,
        ``index_without_<group>`` (the index with that group left out), ``n_points``.

    Examples
    --------
    >>> table = zbrodoff_index_derivations()
    >>> len(table), int(table.df[0])
    (6, 2)
    >>> bool(table["index"][0] == zbrodoff_practice_index()["index"])
    True
    """
    from cramcog import psych

    rows = []
    for choice in psych.zbrodoff_reference_choices().itertuples():
        cells = psych.zbrodoff_counting_share(choice.retrieval_rt, choice.counting_rt)
        full = _zbrodoff_glm(cells, seed=seed)
        groups = list(dict.fromkeys(cells[ZBRODOFF_GROUP]))
        without = {g: _zbrodoff_glm(cells[cells[ZBRODOFF_GROUP] != g], seed=seed)["index"]
                   for g in groups}
        left_out = np.array(list(without.values()))
        n_groups = len(groups)
        se = float(np.sqrt((n_groups - 1) / n_groups
                           * np.sum((left_out - left_out.mean()) ** 2)))
        rows.append({"choice": choice.choice, "default": bool(choice.default),
                     "index": full["index"], "se": se, "df": n_groups - 1,
                     "b_item": full["b_item"], "b_total": full["b_total"],
                     **{f"index_without_{g}": v for g, v in without.items()},
                     "n_points": full["n_points"]})
    return pd.DataFrame(rows)


def item_practice_equivalence(model_index, people: pd.DataFrame | None = None, *,
                              margin: float = ITEM_PRACTICE_MARGIN, alpha: float = 0.05,
                              variant: str | None = None) -> dict:
    """Is the model's item-practice index EQUIVALENT to people's? A TOST on model - people.

    Overlapping intervals are not equivalence. Two one-sided tests (Schuirmann 1987) ask
    whether the difference lies inside +-``margin`` (:data:`ITEM_PRACTICE_MARGIN`, fixed before
    the test); equivalently, whether its 90% interval (for ``alpha`` = 0.05) does.

    - Model: the mean of the per-seed indices (:func:`item_practice_index`) and its standard
      error over seeds (seeds are the independent replications; one run's (pattern,
      evaluation) cells are repeated measures and never counted as independent), ``n - 1``
      degrees of freedom.
    - People: the index of each reasonable derivation with its group-clustered jackknife
      standard error (:func:`zbrodoff_index_derivations`).
    - Per derivation: Welch's t for the difference (Welch-Satterthwaite degrees of freedom), the
      TOST p and the two-sided p of "no difference". The derivation uncertainty enters as an
      envelope: the interval is the union of the derivations' intervals, the TOST p the largest
      (equivalence must hold whichever reference cells are right), and "different" needs every
      derivation to reject a zero difference.

    Parameters
    ----------
    model_index
        The model's per-seed indices, or a consolidation record (then
        :func:`item_practice_index` of ``variant`` gives them).
    people
        The human side (default :func:`zbrodoff_index_derivations`): columns ``index``, ``se``,
        ``df``, ``default``, ``choice``.
    margin
        The equivalence margin on the index scale.
    alpha
        Level of each one-sided test (the interval is 1 - 2 alpha).
    variant
        The record's variant (default: its only one).

    Returns
    -------
    dict
        ``model_index``, ``model_se``, ``n_seeds``, ``people_index`` (the default derivation),
        ``people_index_min`` / ``people_index_max`` (over the derivations), ``people_se``,
        ``people_df`` (the default derivation's), ``difference`` (model - people, default
        derivation), ``difference_min`` / ``difference_max`` (over derivations),
        ``difference_low`` / ``difference_high`` (the 1 - 2 alpha envelope), ``interval_level``,
        ``tost_p``, ``difference_p`` (the largest two-sided p of a zero difference), ``margin``,
        ``n_derivations``, ``verdict`` ("equivalent within ±margin", "not shown equivalent" or
        "different") and ``per_derivation`` (a DataFrame).

    Examples
    --------
    >>> people = pd.DataFrame({"choice": ["a"], "default": [True], "index": [0.75],
    ...                        "se": [0.02], "df": [20]})
    >>> item_practice_equivalence([0.72, 0.76, 0.74, 0.78, 0.73], people)["verdict"]
    'equivalent within ±0.2'
    >>> item_practice_equivalence([0.12, 0.16, 0.14, 0.18, 0.13], people)["verdict"]
    'different'
    """
    from scipy import stats

    if isinstance(model_index, xr.Dataset):
        model_index = item_practice_index(model_index, variant)["index"]
    model = np.asarray(model_index, dtype=float)
    model = model[np.isfinite(model)]
    if model.size < 2:
        raise AnalysisError(f"item_practice_equivalence: {model.size} model seed(s) with an "
                            "index; an interval over seeds needs at least 2")
    people = zbrodoff_index_derivations() if people is None else people
    mean, var, df_model = float(model.mean()), float(model.var(ddof=1) / model.size), \
        model.size - 1
    rows = []
    for _, h in people.iterrows():
        diff = mean - h["index"]
        se = float(np.sqrt(var + h["se"] ** 2))
        df = se ** 4 / (var ** 2 / df_model + h["se"] ** 4 / h["df"])   # Welch-Satterthwaite
        half = stats.t.ppf(1 - alpha, df) * se
        tost = max(stats.t.sf((diff + margin) / se, df), stats.t.cdf((diff - margin) / se, df))
        rows.append({"choice": h["choice"], "default": bool(h["default"]),
                     "people_index": h["index"], "people_se": h["se"], "people_df": h["df"],
                     "difference": diff, "se": se, "df": df,
                     "low": diff - half, "high": diff + half, "tost_p": float(tost),
                     "difference_p": float(2 * stats.t.sf(abs(diff) / se, df))})
    per = pd.DataFrame(rows)
    default = per[per["default"]].iloc[0] if per["default"].any() else per.iloc[0]
    tost_p, difference_p = float(per.tost_p.max()), float(per.difference_p.max())
    if tost_p < alpha:
        verdict = f"equivalent within ±{margin:g}"
    elif difference_p < alpha:
        verdict = "different"
    else:
        verdict = "not shown equivalent"
    return {"model_index": mean, "model_se": float(np.sqrt(var)), "n_seeds": int(model.size),
            "people_index": float(default.people_index),
            "people_index_min": float(per.people_index.min()),
            "people_index_max": float(per.people_index.max()),
            "people_se": float(default.people_se), "people_df": float(default.people_df),
            "difference": float(default.difference),
            "difference_min": float(per.difference.min()),
            "difference_max": float(per.difference.max()),
            "difference_low": float(per.low.min()), "difference_high": float(per.high.max()),
            "interval_level": 1 - 2 * alpha, "tost_p": tost_p, "difference_p": difference_p,
            "margin": margin, "n_derivations": len(per), "verdict": verdict,
            "per_derivation": per}


def equivalence_text(result: dict) -> str:
    """One line for a report: :func:`item_practice_equivalence`'s two indices, their difference,
    its interval, the TOST p and the verdict.

    Examples
    --------
    >>> people = pd.DataFrame({"choice": ["a"], "default": [True], "index": [0.75],
    ...                        "se": [0.02], "df": [20]})
    >>> print(equivalence_text(item_practice_equivalence([0.72, 0.76, 0.74, 0.78, 0.73],
    ...     people)))  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    item-practice index: model 0.75 (5 seeds), people 0.75 (1 derivation); model - people -0.00,
    90% CI [-0.04, +0.03]; TOST against ±0.2: p = ...: equivalent within ±0.2
    """
    r = result
    if r["n_derivations"] > 1:
        people = (f"{r['people_index']:.2f} ({r['people_index_min']:.2f} to "
                  f"{r['people_index_max']:.2f} over {r['n_derivations']} derivations)")
        difference = (f"{r['difference']:+.2f} ({r['difference_min']:+.2f} to "
                      f"{r['difference_max']:+.2f})")
    else:
        people, difference = f"{r['people_index']:.2f} (1 derivation)", f"{r['difference']:+.2f}"
    return (f"item-practice index: model {r['model_index']:.2f} ({r['n_seeds']} seeds), people "
            f"{people}; model - people {difference}, {r['interval_level']:.0%} CI "
            f"[{r['difference_low']:+.2f}, {r['difference_high']:+.2f}]; TOST against "
            f"±{r['margin']:g}: p = {r['tost_p']:.2g}: {r['verdict']}")


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
