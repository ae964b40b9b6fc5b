"""Shape first: a model's consolidation curve against human episodic-to-semantic curves.

The question a memory researcher asks of a consolidation curve is not "what is its gamma" but
"what SHAPE is it, and is it the shape of the human shift". A gamma means something only where a
power law describes the curve, and the human strategy shift is not obviously one:

- **Instance theory** (Logan 1988) has every trial race the algorithm against the retrieval of
  stored instances; the speed-up is a power function of practice.
- **CMPL** (Rickard 1997, 2004) has one strategy run per trial: for each ITEM the switch from
  algorithm (or look-up) to retrieval is close to a step, after ~60 exposures to that item in
  pseudo-arithmetic; the probability of retrieval is a sigmoid in practice, not a power law, and
  the power law holds only within each strategy (Delaney et al. 1998).
- **Averaging artefacts.** Steps at switch points that differ across items and people average to
  smooth, power-law-looking curves (Haider & Frensch 2002); Heathcote, Brown & Mewhort (2000)
  found the exponential beating the power law in every UNaveraged data set of 40, and averaging
  biasing towards the power law. A power law on an averaged curve therefore says little about
  the process; compare per-item switch points, or average the model exactly as the humans were
  averaged before comparing averaged curves.
- **Remember/Know**: repetition within a session RAISES the recollective (Remember) share, the
  passage of time lowers it (Reder et al. 2000; Gardiner & Java 1991). A model whose episodic
  share falls with same-context repetition has the direction of the strategy-shift data, not that
  of the remember-to-know shift over delays.

So :func:`compare_shape` fits the SAME families (exponential, power, logistic, Weibull, each also
with an asymptote) to the model's curve and to each human curve (binomial where counts exist,
least squares otherwise), ranks them on each side, and reports whether the same family wins on
both, with each family's dimensionless shape parameter (gamma, Weibull k, logistic slope:
:attr:`cramcog.dynamics.Family.shape_param`) and its interval side by side. x stays in each side's
own units (exposures, presentations, items of lag): a change of units does not move the shape
parameters, a change of origin does (``origin``, :func:`origin_sensitivity`).

- Only what is comparable gets a verdict (``shape_verdict``): a human curve whose x counts
  PRACTICE (presentations, repetitions: the model's x is exposures) and which runs the model's
  way as measured. A curve over a lag or a delay, or one that runs the other way (Reder's
  Remember share rises with repetition; it is fitted as 1 - y), is shown as context with the
  verdict "not compared (axis: lag)" or "not compared (direction flipped)"
  (:func:`cramcog.comparison.curves.comparability`; the axis and direction come from each
  curve's metadata).
- The model's families are ranked WITHIN each seed (an independent run) by AICc; the model's
  verdict is the family best in the most seeds, with ties said so and a family that failed to
  converge in a seed counted as not best there (:func:`cramcog.comparison.fitting.seed_verdict`).
  An AICc summed over seeds is kept as secondary information (``model_summed_*``, with the
  seeds it covers): summed only over families that converged in every seed, it can put first a
  family that wins no seed.
- The model's intervals come from SEEDS (independent runs): per seed a fit, then the mean and a
  Student-t interval over seeds (:func:`cramcog.dynamics.intervals.seed_interval`). One run's
  logged steps are autocorrelated, and an interval from them is too narrow; it is never used.
  The per-seed fits only rank families, so they use least squares on the shares by default
  (``model_likelihood``): a model curve holds exact 1s (before its first switch) and 0s (after
  its last), where the binomial maximum of a family without a probability link lies on the
  boundary, and one run's probes are not independent across steps anyway.
- The model's x counts exposures from the first one (``origin="first_exposure"``), as people's
  presentations and repetitions are counted from the first; the curve itself starts after the
  attention warm-up (``window``). :func:`origin_sensitivity` refits with x counted from the
  warm-up end (as ``cramcog consolidation`` fits its curve) and reports both.
- Every curve is fitted in its FALLING orientation (a rising curve as 1 - y), so the signs of the
  shape parameters mean the same on both sides; the direction of the episodic analog is reported
  separately (``direction_agrees``).
- The model is averaged the way each human curve was (``Curve.averaging``): ``"by_time"`` (block
  means over a window of exposures, Zbrodoff) takes the model's share over all recurring probes
  at each evaluation against mean exposures; ``"by_exposure"`` (pooled at exact exposure counts,
  Reder) pools every (evaluation, pattern) cell at equal exposures of THAT pattern.

:func:`compare_items` compares per-item evidence: the model's switch points (exposures after
which a pattern stopped attending) against the human item-level evidence (item-specific practice
in Zbrodoff, discrete per-problem switches in Tenison et al., completion by ~60 exposures per item
in Rickard 1997), through dimensionless quantities.

Examples
--------
>>> from cramcog.dynamics.toy_consolidation import simulate_consolidation, consolidation_record
>>> from cramcog.comparison import compare_shape, shape_summary
>>> toy = consolidation_record([simulate_consolidation(n_episodes=80, seed=s) for s in (0, 1)])
>>> table = compare_shape(toy, human="zbrodoff_1995_alpha_arithmetic",
...                       families=["exponential", "power"], ci="wald")
>>> summary = shape_summary(table)
>>> summary[["human_best", "model_best"]].values.tolist()
[['exponential', 'exponential']]
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from cramcog.comparison.curves import (AVERAGINGS, MODEL_INTERVAL, ORIGINS, comparability,
                                       human_axis, human_curves, human_direction, model_curves,
                                       orient)
from cramcog.comparison.fitting import (SHAPE_FAMILIES, criterion_values, fit_and_rank,
                                        fit_dispersion, fit_families, fit_model_side, shape_of)

#: What the model side's ranking is, in the tables' attrs.
MODEL_CRITERION = ("families ranked by AICc within each seed; the verdict is the family best in "
                   "the most seeds (ties said so; not converged = not best); secondary: AICc "
                   "summed over seeds, for the families that converged in every seed "
                   "(model_summed_*)")


# ----------------------------------------------------------------------------- compare_shape

def compare_shape(model, human: Any = "episodic_semantic",
                  families: Sequence[str] = SHAPE_FAMILIES, *, level: float = 0.95,
                  ci: str = "profile", seed: int = 0, variant: str | None = None,
                  window: str = "auto", origin: str | None = None,
                  include_unreliable: bool = False, model_likelihood: str = "least_squares",
                  overdispersion: str | None = "quasi") -> pd.DataFrame:
    """Fit the same families to the model's curve and to each human curve; compare shapes.

    Parameters
    ----------
    model
        The model side (see :func:`model_curves`): a consolidation record of CRAM or toy runs
        (several seeds), a path to one, toy results, or :class:`ModelCurves`.
    human
        ``"episodic_semantic"`` (default: the strategy-shift and remember/know curves), a
        paradigm ("strategy_shift", "remember_know", "forgetting"), ``"all"``, a data set name,
        a :class:`cramcog.psych.Curve`, or a list of these.
    families
        Curve families fitted on both sides (default ``SHAPE_FAMILIES``).
    level
        Confidence level of the human intervals (``ci``) and of the model's seed interval.
    ci
        Interval method of the human fits ("profile", "wald", "bootstrap").
    seed
        Seed of the fits.
    variant, window, origin
        Passed to :func:`model_curves` (``origin``: where the model's x = 0 is; default the
        first exposure, as people's practice is counted; ``"warmup_end"`` as ``cramcog
        consolidation`` fits).
    include_unreliable
        Also use human series flagged unreliable.
    model_likelihood
        ``"least_squares"`` (default; see the module docstring) or ``"binomial"`` (the probe
        counts) for the model's per-seed fits.
    overdispersion
        ``"quasi"`` (default) for the human curves with counts: intervals scaled by the Pearson
        dispersion (floored at 1) and QAICc ranking with one dispersion for all families
        (:func:`cramcog.fit_consolidation_curve`); pooled trials cluster by participant, so
        plain binomial intervals are too narrow. None: plain binomial.

    Returns
    -------
    pandas.DataFrame
        One row per (human curve, family): human, paradigm, x_kind, axis (practice, lag or
        delay), averaging, orientation, human_direction, model_direction, direction_agrees,
        compared (a shape verdict is given: practice on x and the model's direction),
        shape_verdict ("same shape (...)", "different shape (...)", "undecided (...)", or "not
        compared (axis: lag)" / "not compared (direction flipped)"), family, shape_param,
        human_converged, human_delta_aicc (delta of the human criterion: AICc, or QAICc for quasi
        fits), human_weight, human_shape, human_shape_low, human_shape_high, human_criterion,
        human_dispersion (Pearson chi2 / df of that family's fit), model_seeds,
        model_seeds_converged, model_seed_wins (seeds where the family is best),
        model_seed_within2 (within 2 AICc of the seed's best), model_seeds_failed (not
        converged: not best there), model_shape (mean over seeds), model_shape_low,
        model_shape_high (seed-pooled interval), model_shape_sd, human_best, model_best (best in
        the most seeds; tied families joined by " / "), model_verdict (in words), same_best,
        model_summed_delta_aicc, model_summed_weight, model_summed_seeds (SECONDARY: AICc summed
        over that many seeds, NaN for families that did not converge in all), likelihood, note.
        ``attrs``: model label, the model interval's method, criterion, level, window, origin,
        ``model_summed`` (per averaging: what the secondary summed AICc covers).

    Raises
    ------
    ValueError
        No human curve, an unknown family, or a model record without the needed variables.

    Examples
    --------
    >>> from cramcog.dynamics.toy_consolidation import simulate_consolidation
    >>> toy = [simulate_consolidation(n_episodes=60, seed=s) for s in (0, 1, 2)]
    >>> t = compare_shape(toy, human="reder_2000_remember_know_repetition_lag",
    ...                   families=["exponential", "power"], ci="wald")
    >>> sorted(set(t.human_direction)), sorted(set(t.model_direction))
    (['falls', 'rises'], ['falls'])
    """
    from cramcog.dynamics.families import get_family

    families = [get_family(f).name for f in families]
    if not families:
        raise ValueError("families is empty: name at least one curve family")
    if model_likelihood not in ("least_squares", "binomial"):
        raise ValueError(f"model_likelihood must be 'least_squares' or 'binomial', got "
                         f"{model_likelihood!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    models = model_curves(model, variant, window=window, origin=origin)
    curves = human_curves(human, include_unreliable)
    if not curves:
        raise ValueError(f"no human curve in {human!r} (tables and phase data have none; see "
                         "cramcog.psych.all_curves)")
    model_side = {}  # averaging -> per-family summary, computed once per averaging
    rows, criteria = [], set()
    for curve in curves:
        c = curve.positive()
        averaging = c.averaging if c.averaging in AVERAGINGS else "by_time"
        if averaging not in model_side:
            if averaging == "by_exposure" and not models.has_items:
                averaging = "by_time"
            model_side[averaging] = fit_model_side(models, averaging, families, level, seed,
                                                   model_likelihood)
        ms = model_side[averaging]
        y, orientation = orient(c.t, c.y, c.n)
        direction = human_direction(c)
        fits, delta, weight, best, criterion = fit_and_rank(c.t, y, c.n, families, ci, level,
                                                            seed, overdispersion, keep=True)
        criteria.add(criterion)
        model_best = " / ".join(ms["tied"])
        shape_verdict = _shape_verdict(comparability(c, ms["direction"]), best, ms)
        note = []
        if c.averaging not in AVERAGINGS:
            note.append(f"human curve averaged {c.averaging or 'unknown'}; the model is "
                        "averaged by time")
        if c.x_kind == "delay":
            note.append("human x is a delay, the model's is exposures: context, not compared")
        if c.assumption:
            note.append("derived: " + c.assumption.split(". ")[0])
        for fam in families:
            name, g, low, high = shape_of(fits[fam], fam)
            m = ms["families"][fam]
            summed = ms["summed"]
            rows.append({
                "human": c.label, "paradigm": c.paradigm, "x_kind": c.x_kind,
                "axis": human_axis(c), "averaging": averaging, "orientation": orientation,
                "human_direction": direction, "model_direction": ms["direction"],
                "direction_agrees": direction == ms["direction"],
                "compared": not shape_verdict.startswith("not compared"),
                "shape_verdict": shape_verdict, "family": fam, "shape_param": name,
                "human_converged": not isinstance(fits[fam], str) and bool(fits[fam].converged),
                "human_delta_aicc": delta[fam], "human_weight": weight[fam],
                "human_shape": g, "human_shape_low": low, "human_shape_high": high,
                "model_seeds": ms["n_seeds"], "model_seeds_converged": m["converged"],
                "model_seed_wins": m["wins"], "model_seed_within2": m["within_2"],
                "model_seeds_failed": m["failed"], "model_shape": m["mean"],
                "model_shape_low": m["low"], "model_shape_high": m["high"],
                "model_shape_sd": m["sd"], "human_best": best or "", "model_best": model_best,
                "model_verdict": ms["verdict"],
                "same_best": bool(best and best == ms["best"]),
                "model_summed_delta_aicc": summed["delta"][fam],
                "model_summed_weight": summed["weight"][fam],
                "model_summed_seeds": summed["n_seeds"],
                "likelihood": "least squares" if c.n is None else "binomial",
                "human_criterion": criterion, "human_dispersion": fit_dispersion(fits[fam]),
                "human_message": fits[fam] if isinstance(fits[fam], str)
                else str(fits[fam].message), "note": "; ".join(note)})
    table = pd.DataFrame(rows)
    table.attrs.update(model_label=models.label, model_interval=MODEL_INTERVAL,
                       criterion=f"human: {'/'.join(sorted(criteria))}; model: "
                                 f"{MODEL_CRITERION}", level=level, human_ci=ci,
                       human_overdispersion=str(overdispersion),
                       model_likelihood=model_likelihood,
                       window=models.window, origin=models.origin, model_notes=models.notes,
                       model_summed={a: side["summed"]["note"] for a, side in model_side.items()},
                       orientation="every curve fitted falling (a rising one as 1 - y)")
    return table


def _shape_verdict(not_comparable: str, human_best: str | None, model_side: dict) -> str:
    """The shape verdict of one human curve against the model's per-seed verdict."""
    if not_comparable:
        return not_comparable
    tied = model_side["tied"]
    if not human_best or not tied:
        return "undecided (no family converged on the " + ("human" if not human_best
                                                           else "model") + " side)"
    model = " / ".join(tied) + (" tied" if len(tied) > 1 else "")
    if human_best not in tied:
        return f"different shape (human: {human_best}, model: {model})"
    if len(tied) > 1:
        return f"undecided (human: {human_best}, model: {model})"
    return f"same shape ({human_best} on both)"


def shape_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per human curve: the verdict, the winning family on each side, shape parameters.

    Columns: human, paradigm, axis, averaging, compared, shape_verdict, human_best,
    human_best_weight, model_best (best in the most seeds; a tie joined by " / "),
    model_best_wins (in how many seeds), model_seeds, model_verdict, same_best,
    direction_agrees, then the human's best family's shape parameter on both sides
    (``shape_param``, ``human_shape`` [``human_shape_low``, ``human_shape_high``],
    ``model_shape`` [``model_shape_low``, ``model_shape_high``]) and ``model_best_shape`` (the
    model's own best family's parameter and interval, as text).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"human": ["h", "h"], "paradigm": "strategy_shift", "axis": "practice",
    ...     "averaging": "by_time", "compared": True,
    ...     "shape_verdict": "same shape (logistic on both)", "family": ["power", "logistic"],
    ...     "shape_param": ["gamma", "slope"], "human_weight": [0.1, 0.9],
    ...     "model_seed_wins": [0, 3], "model_seeds": 3, "human_best": "logistic",
    ...     "model_best": "logistic", "model_verdict": "logistic: best in 3 of 3 seeds",
    ...     "same_best": True, "direction_agrees": True, "human_shape": [0.5, -4.0],
    ...     "human_shape_low": [0.4, -5.0], "human_shape_high": [0.6, -3.0],
    ...     "model_shape": [0.3, -6.0], "model_shape_low": [0.2, -7.0],
    ...     "model_shape_high": [0.4, -5.0]})
    >>> shape_summary(t)[["shape_verdict", "model_best_wins", "human_shape"]].values.tolist()
    [['same shape (logistic on both)', 3, -4.0]]
    """
    rows = []
    for human, sub in table.groupby("human", sort=False):
        first = sub.iloc[0]
        by_fam = sub.set_index("family")
        hb, mb = first["human_best"], first["model_best"]
        model_best = [f for f in str(mb).split(" / ") if f]
        row = {"human": human, "paradigm": first["paradigm"], "axis": first["axis"],
               "averaging": first["averaging"], "compared": bool(first["compared"]),
               "shape_verdict": first["shape_verdict"], "human_best": hb,
               "human_best_weight": by_fam["human_weight"].get(hb, np.nan) if hb else np.nan,
               "model_best": mb,
               "model_best_wins": int(by_fam["model_seed_wins"][model_best[0]])
               if model_best else 0, "model_seeds": int(first["model_seeds"]),
               "model_verdict": first["model_verdict"], "same_best": bool(first["same_best"]),
               "direction_agrees": bool(first["direction_agrees"])}
        ref = by_fam.loc[hb] if hb else None
        for col in ("shape_param", "human_shape", "human_shape_low", "human_shape_high",
                    "model_shape", "model_shape_low", "model_shape_high"):
            row[col] = ref[col] if ref is not None else np.nan
        row["model_best_shape"] = "; ".join(_model_shape_text(by_fam.loc[f]) for f in model_best)
        rows.append(row)
    return pd.DataFrame(rows)


def _model_shape_text(m) -> str:
    """``name = mean [low, high]`` of the model's seed-pooled shape parameter of one family."""
    if not m["shape_param"]:
        return f"{m.name}: (no shape parameter)"
    return (f"{m['shape_param']} = {m['model_shape']:.3g} [{m['model_shape_low']:.3g}, "
            f"{m['model_shape_high']:.3g}]")


def origin_sensitivity(model, families: Sequence[str] = SHAPE_FAMILIES, *,
                       averagings: Sequence[str] = AVERAGINGS, level: float = 0.95,
                       seed: int = 0, variant: str | None = None, window: str = "auto",
                       model_likelihood: str = "least_squares") -> pd.DataFrame:
    """The model's shape under both time origins: x counted from the first exposure, or from
    the warm-up end.

    People's practice is counted from the first presentation (Zbrodoff's presentations of an
    equation, Reder's repetitions of a word), so the comparison counts the model's exposures
    from its first (``origin="first_exposure"``, the reported one). A CRAM run begins with a
    forced attention warm-up, and ``cramcog consolidation`` fits its curve against exposures
    since the warm-up end; shape parameters move with the origin (shifting x changes a
    Weibull k or a gamma), so both are fitted and reported, the second as sensitivity.

    Parameters
    ----------
    model, variant, window
        As for :func:`compare_shape`.
    families, level, seed, model_likelihood
        As for :func:`compare_shape`.
    averagings
        Which averagings of the model's curve (``"by_time"``, ``"by_exposure"``; the latter
        only where the record has per-pattern variables).

    Returns
    -------
    pandas.DataFrame
        One row per (origin, averaging, family): origin, reported (True for
        ``"first_exposure"``), averaging, family, shape_param, seeds, wins, within_2, failed,
        shape, shape_low, shape_high (seed-pooled), best (the family best in the most seeds;
        a tie joined by " / ") and verdict (in words).

    Examples
    --------
    >>> from cramcog.dynamics.toy_consolidation import simulate_consolidation
    >>> toy = [simulate_consolidation(n_episodes=60, seed=s) for s in (0, 1, 2)]
    >>> table = origin_sensitivity(toy, ["exponential", "weibull"], averagings=["by_time"])
    >>> sorted(set(table.origin)), bool(table[table.origin == "first_exposure"].reported.all())
    (['first_exposure', 'warmup_end'], True)
    """
    from cramcog.dynamics.families import get_family

    families = [get_family(f).name for f in families]
    base = model_curves(model, variant, window=window)
    rows = []
    for origin in ORIGINS:
        models = model_curves(base, origin=origin)
        for averaging in averagings:
            if averaging == "by_exposure" and not models.has_items:
                continue
            side = fit_model_side(models, averaging, families, level, seed, model_likelihood)
            for fam in families:
                m = side["families"][fam]
                rows.append({"origin": origin, "reported": origin == "first_exposure",
                             "averaging": averaging, "family": fam,
                             "shape_param": get_family(fam).shape_param or "",
                             "seeds": side["n_seeds"], "wins": m["wins"],
                             "within_2": m["within_2"], "failed": m["failed"],
                             "shape": m["mean"], "shape_low": m["low"],
                             "shape_high": m["high"], "best": " / ".join(side["tied"]),
                             "verdict": side["verdict"]})
    table = pd.DataFrame(rows)
    table.attrs.update(model_label=base.label, reported_origin="first_exposure",
                       model_interval=MODEL_INTERVAL, level=level, window=base.window,
                       criterion=MODEL_CRITERION)
    return table


# ----------------------------------------------------------------------------- per item

def crossing(t: np.ndarray, y: np.ndarray, q: float, ends: int = 1) -> float:
    """Where a curve, rescaled to run from 1 (its start) to 0 (its end), first falls to ``q``.

    Linear interpolation on log t. ``ends``: how many first / last points are averaged for the
    start and end values (more = less noise). NaN for a flat curve or one that never gets there.

    Examples
    --------
    >>> import numpy as np
    >>> round(crossing(np.array([1, 2, 4, 8.0]), np.array([1, 1, 0, 0.0]), 0.5), 3)
    2.828
    """
    t, y = np.asarray(t, float), np.asarray(y, float)
    if len(t) < 2:
        return math.nan
    ends = min(ends, len(t) // 2) or 1
    start, end = y[:ends].mean(), y[-ends:].mean()
    if not start != end:
        return math.nan
    r = (y - end) / (start - end)
    below = np.flatnonzero(r <= q)
    if below.size == 0:
        return math.nan
    j = below[0]
    if j == 0:
        return float(t[0])
    f = (r[j - 1] - q) / (r[j - 1] - r[j])
    lt = np.log(t)
    return float(np.exp(lt[j - 1] + f * (lt[j] - lt[j - 1])))


def transition_ratio(t: np.ndarray, y: np.ndarray, low: float = 0.1, high: float = 0.9) -> float:
    """How spread out a falling transition is, in a unit-free number: ``x(low) / x(high)``.

    ``x(q)`` is where the curve, rescaled to run from 1 (its first value) to 0 (its last), first
    falls to ``q`` (:func:`crossing`). For a step per item averaged over items, it is the ratio
    of the 90th to the 10th percentile of the switch points.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([1, 2, 4, 8, 16, 32.0])
    >>> round(transition_ratio(t, np.array([1, 0.9, 0.5, 0.1, 0.0, 0.0])), 2)
    4.0
    """
    t, y = np.asarray(t, float), np.asarray(y, float)
    if len(t) < 2 or not y[0] > y[-1]:
        return math.nan
    return crossing(t, y, low) / crossing(t, y, high)


def compare_items(model, *, level: float = 0.95, variant: str | None = None,
                  window: str = "auto") -> pd.DataFrame:
    """Per-item evidence: the model's switch points against the human item-level evidence.

    Rows (``side`` = model | human, ``quantity``, ``value``, ``low``, ``high``, ``units``,
    ``source``, ``note``):

    - ``item_specific_dAICc``: how much better the share still on the look-up route is described
      against exposures to THAT item than against total practice (AICc of the best of
      exponential/logistic/Weibull on total practice minus on item exposures, least squares on the
      shares; > 0 = item-specific).
      Human: Zbrodoff's derived counting share (item exposures vs trials into the session);
      model: every (evaluation, pattern) cell (pattern exposures vs training step), per seed.
    - ``switch_spread``: the 90th / 10th percentile of the model's per-pattern switch points
      (unit-free), beside the human averaged curve's ``transition_ratio`` (x at 10% of the
      shift left / x at 90%): under a step per item the two are the same quantity.
    - ``never_switched``: the share of patterns that never stopped attending.
    - ``median_switch``: the model's median switch point in its own exposures, beside Rickard's
      (1997) "complete by ~60 exposures per problem" (different tasks and units: context only).
    - ``solve_collapse``: Tenison et al.'s Solve-stage duration after / before the switch to
      retrieval (a discrete per-problem switch), for context.

    Model values are means over seeds with a Student-t interval over seeds.

    Examples
    --------
    >>> from cramcog.dynamics.toy_consolidation import simulate_consolidation
    >>> items = compare_items([simulate_consolidation(n_episodes=80, seed=s) for s in (0, 1)])
    >>> sorted(set(items.quantity))[:3]
    ['item_specific_dAICc', 'median_switch', 'never_switched']
    """
    from cramcog import psych
    from cramcog.dynamics.intervals import seed_interval

    # exposures from the first: the item clock is set against the step, counted from 0 too
    models = model_curves(model, variant, window=window, origin="first_exposure")
    rows = []

    def add(side, quantity, values_or_value, units, source, note=""):
        if side == "model":
            mean, low, high, _, k = seed_interval(values_or_value, level)
            if units == "share":  # a share's interval stays in [0, 1]
                low, high = max(low, 0.0), min(high, 1.0)
            note = f"{note}; mean over {k} seeds, t-interval".lstrip("; ")
        else:
            mean, low, high = values_or_value, math.nan, math.nan
        rows.append({"side": side, "quantity": quantity, "value": mean, "low": low,
                     "high": high, "units": units, "source": source, "note": note})

    # --- item-specificity
    zb = psych.zbrodoff_counting_share()
    trials_into_session = (zb["block"].to_numpy(float) - 0.5) * 192.0
    add("human", "item_specific_dAICc",
        _best_aicc(trials_into_session, zb["counting_share"].to_numpy(float))
        - _best_aicc(zb["x"].to_numpy(float), zb["counting_share"].to_numpy(float)),
        "AICc", "zbrodoff_1995_alpha_arithmetic",
        "counting share against trials into the session vs presentations of that equation")
    if models.has_items:
        per_seed = []
        for i in range(len(models.seeds)):
            step, expo, att, probes = models.cells(i)
            keep = probes > 0
            share = att[keep] / probes[keep]
            per_seed.append(_best_aicc(step[keep], share) - _best_aicc(expo[keep], share))
        add("model", "item_specific_dAICc", per_seed, "AICc", models.label,
            "pattern attended against training step vs that pattern's exposures")
    # --- switch points
    if "pattern_switch_exposures" in models.record:
        sw = models.switch_points()
        spread = [np.nanpercentile(s, 90) / np.nanpercentile(s, 10)
                  if np.isfinite(s).sum() >= 5 else math.nan for s in sw]
        add("model", "switch_spread", spread, "ratio", models.label,
            "90th / 10th percentile of per-pattern switch points")
        add("model", "never_switched", [float(np.mean(~np.isfinite(s))) for s in sw], "share",
            models.label, "patterns that never stopped attending")
        add("model", "median_switch", [float(np.nanmedian(s)) if np.isfinite(s).any()
                                       else math.nan for s in sw],
            "exposures", models.label, "in the model's own exposures")
    zc = psych.curves("zbrodoff_1995_alpha_arithmetic")[0]
    order = np.argsort(zc.t, kind="stable")
    xs, ys = _mean_by_x(zc.t[order], zc.y[order])
    add("human", "switch_spread", transition_ratio(xs, ys), "ratio",
        "zbrodoff_1995_alpha_arithmetic", "transition_ratio of the averaged counting share "
        "(x at 10% / x at 90% of the shift left); equals the switch-point spread if each item "
        "steps")
    add("human", "median_switch", 60.0, "exposures", "published_anchors_strategy_shift_rk",
        "Rickard (1997): transition to retrieval complete by ~60 exposures per problem "
        "(pseudo-arithmetic; an upper end, not a median; different task and units)")
    tn = psych.load("tenison_2016_pyramid_learning_phases")["mean_duration_s"].sel(
        cognitive_stage="solve")
    add("human", "solve_collapse", float((tn.sel(learning_phase="2_retrieve")
                                          / tn.sel(learning_phase="1_compute")).mean()),
        "ratio", "tenison_2016_pyramid_learning_phases",
        "Solve-stage duration retrieve / compute phase, mean over heights: a discrete switch "
        "per problem")
    table = pd.DataFrame(rows)
    table.attrs.update(model_label=models.label, model_interval=MODEL_INTERVAL, level=level)
    return table


def _mean_by_x(t, y):
    """Mean y at each distinct t (block means at equal exposures pooled)."""
    ux = np.unique(t)
    return ux, np.array([y[t == u].mean() for u in ux])


def _best_aicc(x, y, families=("exponential", "logistic", "weibull")) -> float:
    """The lowest least-squares AICc among ``families`` for the shares y against x."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = x > 0
    fits = fit_families(x[keep], y[keep], None, families, "none", 0.95, 0)
    values = [v for v in criterion_values(fits)[0].values() if math.isfinite(v)]
    return min(values) if values else math.nan
