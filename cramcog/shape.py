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
least squares otherwise), ranks them by AICc on each side, and reports whether the same family
wins on both, with each family's dimensionless shape parameter (gamma, Weibull k, logistic slope:
:attr:`cramcog.dynamics.Family.shape_param`) and its interval side by side. x stays in each side's
own units (exposures, presentations, items of lag): the shape parameters do not depend on them.

- The model's intervals come from SEEDS (independent runs): per seed a fit, then the mean and a
  Student-t interval over seeds (:func:`cramcog.dynamics.intervals.seed_interval`). One run's
  logged steps are autocorrelated, and an interval from them is too narrow; it is never used.
  The model's ranking sums each family's AICc over seeds (each seed its own parameters). The
  per-seed fits only rank families, so they use least squares on the shares by default
  (``model_likelihood``): a model curve holds exact 1s (before its first switch) and 0s (after
  its last), where the binomial maximum of a family without a probability link lies on the
  boundary, and one run's probes are not independent across steps anyway.
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
>>> from cramcog.shape import compare_shape, shape_summary
>>> toy = consolidation_record([simulate_consolidation(n_episodes=80, seed=s) for s in (0, 1)])
>>> table = compare_shape(toy, human="zbrodoff_1995_alpha_arithmetic",
...                       families=["exponential", "power"], ci="wald")
>>> summary = shape_summary(table)
>>> summary[["human_best", "model_best"]].values.tolist()
[['exponential', 'exponential']]
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

#: Families fitted by default on both sides (each shape parameter is dimensionless).
SHAPE_FAMILIES = ("exponential", "power", "logistic", "weibull",
                  "exponential+c", "power+c", "logistic+c", "weibull+c")
AVERAGINGS = ("by_time", "by_exposure")
MODEL_INTERVAL = ("seed-pooled: a fit per seed (independent run), then the mean over seeds and "
                  "its Student-t interval (cramcog.dynamics.intervals.seed_interval); never an "
                  "interval from one run's autocorrelated steps")
_RECORD_VARS = ("recurring_attended", "recurring_probe_count", "exposures")


# ----------------------------------------------------------------------------- the model side

@dataclass
class ModelCurves:
    """A model's consolidation curves, one per seed, plus its per-pattern history.

    Build it with :func:`model_curves` (from a consolidation record of CRAM runs, or of toy runs
    via :func:`cramcog.dynamics.toy_consolidation.consolidation_record`).

    Attributes
    ----------
    label : str
        Name shown in tables and figures.
    record : xarray.Dataset
        One variant's record: dims (seed, eval_step[, pattern]).
    window : str
        Where each seed's curve starts: ``"auto"`` (the end of the attention warm-up where the
        record has ``warmup_end_step``, as CRAM records do; else the peak), ``"warmup"``,
        ``"peak"`` (its highest share of recurring probes attending: consolidation can only
        start once attention serves the queries) or ``"all"``.
    """

    label: str
    record: Any
    window: str = "auto"
    notes: list = field(default_factory=list)

    @property
    def seeds(self) -> np.ndarray:
        return np.asarray(self.record["seed"].values)

    @property
    def has_items(self) -> bool:
        return all(v in self.record for v in ("pattern_attended", "pattern_probes",
                                              "pattern_exposures"))

    def _start(self, seed_index: int) -> int:
        """Index of the first evaluation step of the window for one seed."""
        share = self.record["recurring_attended"].isel(seed=seed_index).values.astype(float)
        if self.window == "all" or not np.isfinite(share).any():
            return 0
        if self.window in ("auto", "warmup") and "warmup_end_step" in self.record:
            warm = float(self.record["warmup_end_step"].isel(seed=seed_index))
            if warm >= 0:
                steps = np.asarray(self.record["eval_step"].values, dtype=float)
                return int(np.searchsorted(steps, warm, side="right"))  # after the warm-up
        if self.window == "warmup":
            raise ValueError(f"{self.label}: window 'warmup' needs warmup_end_step >= 0 in the "
                             "record (the attention warm-up never ended, or the record lacks it)")
        return int(np.nanargmax(share))

    def curves(self, averaging: str = "by_time", n_bins: int = 12
               ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """Per seed ``(t, y, n)``: the share still attending against exposures.

        Parameters
        ----------
        averaging
            ``"by_time"``: at each evaluation, the share over all recurring probes against the
            mean exposures per recurring pattern (``recurring_attended`` vs ``exposures``).
            ``"by_exposure"``: every (evaluation, pattern) cell pooled at equal exposures of
            THAT pattern (probe-weighted), on at most ``n_bins`` bins of exposures (each
            distinct count when there are fewer; log-spaced bins otherwise).
        n_bins
            Bins of ``by_exposure``.

        Returns
        -------
        list of (t, y, n), one per seed
            ``n`` holds the probes behind each share (binomial likelihood).

        Examples
        --------
        >>> from cramcog.dynamics.toy_consolidation import (simulate_consolidation,
        ...                                                 consolidation_record)
        >>> m = model_curves(consolidation_record(simulate_consolidation(n_episodes=40)))
        >>> t, y, n = m.curves("by_exposure")[0]
        >>> bool(y[0] == 1.0 and t[0] == 1.0)      # nothing answered semantically at 1 exposure
        True
        """
        if averaging not in AVERAGINGS:
            raise ValueError(f"averaging must be one of {AVERAGINGS}, got {averaging!r}")
        out = []
        for i in range(len(self.seeds)):
            one = self.record.isel(seed=i)
            start = self._start(i)
            if averaging == "by_time":
                t = one["exposures"].values[start:].astype(float)
                n = one["recurring_probe_count"].values[start:].astype(float)
                y = one["recurring_attended"].values[start:].astype(float)
                keep = np.isfinite(t) & np.isfinite(y) & (t > 0) & (n > 0)
                out.append((t[keep], y[keep], np.round(n[keep])))
                continue
            _, expo, att, probes = self.cells(i)
            keep = probes > 0
            out.append(_pool_by_exposure(expo[keep], att[keep], probes[keep], n_bins))
        return out

    def cells(self, seed_index: int):
        """One seed's (evaluation, pattern) cells in the window, flattened, where exposures > 0:
        ``(step, exposures, attended, probes)``; ``attended`` counts the pattern's probes that
        attended (the record's convention), ``probes`` how many there were (0: not probed)."""
        if not self.has_items:
            raise ValueError(f"{self.label}: per-pattern analyses need the variables "
                             "pattern_attended, pattern_probes, pattern_exposures")
        one = self.record.isel(seed=seed_index)
        start = self._start(seed_index)

        def grid(name):
            return one[name].transpose("eval_step", "pattern").values[start:].astype(float)
        att, probes, expo = grid("pattern_attended"), grid("pattern_probes"), \
            grid("pattern_exposures")
        step = np.broadcast_to(one["eval_step"].values[start:, None].astype(float), att.shape)
        keep = (expo > 0) & np.isfinite(expo) & np.isfinite(probes)
        att = np.where(np.isfinite(att), att, 0.0)
        return step[keep], expo[keep], att[keep], np.where(keep, probes, 0)[keep]

    def switch_points(self) -> np.ndarray:
        """``pattern_switch_exposures`` as (seed, pattern); NaN where a pattern never switched."""
        if "pattern_switch_exposures" not in self.record:
            raise ValueError(f"{self.label}: the record has no pattern_switch_exposures")
        return self.record["pattern_switch_exposures"].transpose("seed", ...).values.astype(float)


def _pool_by_exposure(expo, successes, probes, n_bins):
    """Probe-weighted share per bin of exposures: (t, y, n), t the probe-weighted mean exposure."""
    values = np.unique(expo)
    if values.size <= n_bins:
        index = np.searchsorted(values, expo)
        n_groups = values.size
    else:
        edges = np.unique(np.geomspace(expo.min(), expo.max() * (1 + 1e-9), n_bins + 1))
        index = np.clip(np.searchsorted(edges, expo, side="right") - 1, 0, edges.size - 2)
        n_groups = edges.size - 1
    k = np.bincount(index, successes, n_groups)
    n = np.bincount(index, probes, n_groups)
    t = np.bincount(index, expo * probes, n_groups)
    keep = n > 0
    return t[keep] / n[keep], k[keep] / n[keep], np.round(n[keep])


WINDOWS = ("auto", "warmup", "peak", "all")


def model_curves(model, variant: str | None = None, *, label: str | None = None,
                 window: str = "auto") -> ModelCurves:
    """The model side of a comparison, from a per-pattern consolidation record.

    Parameters
    ----------
    model
        A consolidation record (``cramcog consolidation RUNS --out FILE.nc`` for CRAM;
        :func:`cramcog.dynamics.toy_consolidation.consolidation_record` for the toy model) with
        ``recurring_attended``, ``recurring_probe_count`` and ``exposures`` over (variant, seed,
        eval_step) and, for per-item comparisons, ``pattern_*`` variables; a path to one; toy
        results (one per seed); or a :class:`ModelCurves` (returned as is).
    variant
        Which variant of the record (needed when it has several).
    label
        Name in tables (default: the variant, prefixed with the model).
    window
        Where each seed's curve starts (see :class:`ModelCurves`): ``"auto"`` (default: after
        the attention warm-up where the record says when it ended, else from the peak),
        ``"warmup"``, ``"peak"`` or ``"all"``.

    Returns
    -------
    ModelCurves

    Examples
    --------
    >>> from cramcog.dynamics.toy_consolidation import (simulate_consolidation,
    ...                                                 consolidation_record)
    >>> m = model_curves([simulate_consolidation(n_episodes=30, seed=s) for s in (0, 1, 2)])
    >>> m.label, m.seeds.tolist()
    ('toy model', [0, 1, 2])
    """
    import xarray as xr

    from cramcog.dynamics.toy_consolidation import ToyConsolidationResult, consolidation_record

    if isinstance(model, ModelCurves):
        return model
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {WINDOWS}, got {window!r}")
    if isinstance(model, ToyConsolidationResult) or (
            isinstance(model, (list, tuple)) and model
            and all(isinstance(r, ToyConsolidationResult) for r in model)):
        model = consolidation_record(model)
    elif isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        from cramcog import records
        model = records.open(model)
    if not isinstance(model, xr.Dataset):
        raise TypeError("the model side is a consolidation record (xarray.Dataset with "
                        f"{list(_RECORD_VARS)} over (variant, seed, eval_step)), a path to one, "
                        f"toy results, or ModelCurves; got {type(model).__name__}")
    missing = [v for v in _RECORD_VARS if v not in model]
    if missing:
        raise ValueError(f"the record lacks {missing}: a per-pattern consolidation record is "
                         "written by `cramcog consolidation RUNS --out FILE.nc` (CRAM) or "
                         "cramcog.dynamics.toy_consolidation.consolidation_record (toy)")
    if "seed" not in model.dims:
        model = model.expand_dims(seed=[int(model.attrs.get("seed", 0))])
    if "variant" in model.dims:
        variants = [str(v) for v in model["variant"].values]
        if variant is None:
            if len(variants) != 1:
                raise ValueError(f"the record has variants {variants}: pass variant=...")
            variant = variants[0]
        if variant not in variants:
            raise ValueError(f"variant {variant!r} is not in the record; it has {variants}")
        model = model.sel(variant=variant)
    is_toy = "toy" in str(model.attrs.get("model", "")).lower()
    name = label or ("toy model" if is_toy else f"CRAM ({variant})" if variant else "model")
    notes = []
    if model.sizes["seed"] < 2:
        notes.append("one seed: no seed-pooled interval can be computed (intervals are NaN); "
                     "run >= 3 seeds")
    return ModelCurves(label=name, record=model, window=window, notes=notes)


# ----------------------------------------------------------------------------- fitting helpers

def _criterion(fits: dict) -> tuple[dict[str, float], str]:
    """One curve's criterion per family, from the fit layer's FitSet (AICc; QAICc with ONE
    dispersion for all families when the fits are quasi), NaN where a family failed or did not
    converge; and the criterion's name."""
    from cramcog.dynamics import FitSet

    ok = {f: v for f, v in fits.items() if not isinstance(v, str)}
    if not ok:
        return {f: math.nan for f in fits}, "aicc"
    fit_set = FitSet(ok)
    values = {f: (float(np.squeeze(fit_set.ic_values(f))) if f in ok and bool(ok[f].converged)
                  else math.nan) for f in fits}
    return values, fit_set.criterion


def _fit_and_rank(t, y, n, families, ci, level, seed, overdispersion=None):
    """Fit ``families`` to one curve and rank them: (fits, delta, weights, best, criterion)."""
    fits = _fit_families(t, y, n, families, ci, level, seed, overdispersion)
    values, criterion = _criterion(fits)
    delta, weights, best = _ranked(values)
    return fits, delta, weights, best, criterion


def _direction(t: np.ndarray, y: np.ndarray) -> str:
    """"falls" or "rises": the sign of the least-squares slope of y on log t."""
    slope = np.polyfit(np.log(np.maximum(t, 1e-300)), y, 1)[0] if len(t) > 1 else 0.0
    return "rises" if slope > 0 else "falls"


def _orient(t, y, n):
    """The falling orientation of a curve (a rising one as 1 - y) and what was done."""
    if _direction(t, y) == "rises":
        return 1.0 - y, "complement (1 - y)"
    return y, "as measured"


def _fit_families(t, y, n, families, ci, level, seed, overdispersion=None):
    """{family: fit or reason} for one curve; reasons for families the data cannot support."""
    from cramcog.dynamics import fit_consolidation_curve

    out = {}
    for fam in families:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[fam] = fit_consolidation_curve(
                    t, y, n=n, family=fam, ci=ci, level=level, seed=seed,
                    y_kind="proportion",
                    overdispersion=overdispersion if n is not None else None)
        except (ValueError, RuntimeError, np.linalg.LinAlgError) as err:
            out[fam] = str(err).splitlines()[0][:200]
    return out


def _ranked(values: dict[str, float]) -> tuple[dict[str, float], dict[str, float], str | None]:
    """delta and Akaike weights over the families with a finite criterion (here: the model's
    criterion summed over seeds); the winner."""
    finite = {f: a for f, a in values.items() if math.isfinite(a)}
    if not finite:
        return ({f: math.nan for f in values}, {f: math.nan for f in values}, None)
    best = min(finite, key=finite.get)
    delta = {f: (a - finite[best]) if f in finite else math.nan for f, a in values.items()}
    w = {f: math.exp(-0.5 * d) for f, d in delta.items() if math.isfinite(d)}
    total = sum(w.values())
    return delta, {f: w.get(f, 0.0) / total if f in finite else math.nan for f in values}, best


def _dispersion(fit) -> float:
    """The fit's Pearson dispersion (NaN for a failed fit)."""
    if isinstance(fit, str):
        return math.nan
    return float(np.squeeze(fit.dispersion))


def _shape_of(fit, family: str) -> tuple[str, float, float, float]:
    from cramcog.dynamics.families import get_family

    name = get_family(family).shape_param
    if name is None or isinstance(fit, str) or not bool(fit.converged):
        return name or "", math.nan, math.nan, math.nan
    low, high = fit.ci[name]
    return name, float(fit.params[name]), float(low), float(high)


# ----------------------------------------------------------------------------- human side

def _human_curves(human, include_unreliable: bool = False):
    """Human curves from a name, paradigm, group, Curve, Dataset or a list of those."""
    from cramcog import psych

    if isinstance(human, psych.Curve):
        return [human]
    if isinstance(human, str):
        if human == "all":
            return psych.all_curves(include_unreliable=include_unreliable)
        valid = (*psych.PARADIGMS, *psych.PARADIGM_GROUPS)
        if human in valid:
            return psych.all_curves(human, include_unreliable=include_unreliable)
        return psych.curves(human, include_unreliable=include_unreliable)
    if isinstance(human, (list, tuple)):
        return [c for item in human for c in _human_curves(item, include_unreliable)]
    return psych.curves(human, include_unreliable=include_unreliable)  # a Dataset


# ----------------------------------------------------------------------------- compare_shape

def compare_shape(model, human: Any = "episodic_semantic",
                  families: Sequence[str] = SHAPE_FAMILIES, *, level: float = 0.95,
                  ci: str = "profile", seed: int = 0, variant: str | None = None,
                  window: str = "auto", include_unreliable: bool = False,
                  model_likelihood: str = "least_squares",
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
    variant, window
        Passed to :func:`model_curves`.
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
        One row per (human curve, family): human, paradigm, x_kind, averaging, orientation,
        human_direction, model_direction, direction_agrees, family, shape_param,
        human_converged, human_delta_aicc (delta of the human criterion: AICc, or QAICc for quasi
        fits), human_weight, human_shape, human_shape_low, human_shape_high, human_criterion,
        human_dispersion (Pearson chi2 / df of that family's fit), model_seeds,
        model_seeds_converged, model_delta_aicc (AICc summed over seeds), model_weight,
        model_seed_wins, model_shape (mean over seeds),
        model_shape_low, model_shape_high (seed-pooled interval), model_shape_sd, human_best,
        model_best, same_best, likelihood, note. ``attrs``: model label, the model interval's
        method, criterion, level, window.

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
    from cramcog.dynamics.intervals import seed_interval

    families = [get_family(f).name for f in families]
    if not families:
        raise ValueError("families is empty: name at least one curve family")
    if model_likelihood not in ("least_squares", "binomial"):
        raise ValueError(f"model_likelihood must be 'least_squares' or 'binomial', got "
                         f"{model_likelihood!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    models = model_curves(model, variant, window=window)
    curves = _human_curves(human, include_unreliable)
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
            model_side[averaging] = _model_side(models, averaging, families, level, seed,
                                                seed_interval, model_likelihood)
        ms = model_side[averaging]
        y, orientation = _orient(c.t, c.y, c.n)
        direction = _direction(c.t, c.y)
        fits, delta, weight, best, criterion = _fit_and_rank(c.t, y, c.n, families, ci, level,
                                                             seed, overdispersion)
        criteria.add(criterion)
        note = []
        if c.averaging not in AVERAGINGS:
            note.append(f"human curve averaged {c.averaging or 'unknown'}; the model is "
                        "averaged by time")
        if c.x_kind == "delay":
            note.append("human x is a delay, the model's is exposures: a shape comparison only")
        if c.assumption:
            note.append("derived: " + c.assumption.split(". ")[0])
        for fam in families:
            name, g, low, high = _shape_of(fits[fam], fam)
            m = ms["families"][fam]
            rows.append({
                "human": c.label, "paradigm": c.paradigm, "x_kind": c.x_kind,
                "averaging": averaging, "orientation": orientation,
                "human_direction": direction, "model_direction": ms["direction"],
                "direction_agrees": direction == ms["direction"], "family": fam,
                "shape_param": name,
                "human_converged": not isinstance(fits[fam], str) and bool(fits[fam].converged),
                "human_delta_aicc": delta[fam], "human_weight": weight[fam],
                "human_shape": g, "human_shape_low": low, "human_shape_high": high,
                "model_seeds": ms["n_seeds"], "model_seeds_converged": m["converged"],
                "model_delta_aicc": ms["delta"][fam], "model_weight": ms["weight"][fam],
                "model_seed_wins": m["wins"], "model_shape": m["mean"],
                "model_shape_low": m["low"], "model_shape_high": m["high"],
                "model_shape_sd": m["sd"], "human_best": best or "", "model_best":
                ms["best"] or "", "same_best": bool(best and best == ms["best"]),
                "likelihood": "least squares" if c.n is None else "binomial",
                "human_criterion": criterion, "human_dispersion": _dispersion(fits[fam]),
                "human_message": fits[fam] if isinstance(fits[fam], str)
                else str(fits[fam].message), "note": "; ".join(note)})
    table = pd.DataFrame(rows)
    table.attrs.update(model_label=models.label, model_interval=MODEL_INTERVAL,
                       criterion=f"human: {'/'.join(sorted(criteria))}; model: AICc summed over "
                                 "seeds", level=level, human_ci=ci,
                       human_overdispersion=str(overdispersion),
                       model_likelihood=model_likelihood,
                       window=models.window, model_notes=models.notes,
                       orientation="every curve fitted falling (a rising one as 1 - y)")
    return table


def _model_side(models: ModelCurves, averaging: str, families, level, seed, seed_interval,
                likelihood: str = "least_squares"):
    """Per family: seeds converged, seed wins, summed AICc ranking and seed-pooled shape."""
    per_seed = models.curves(averaging)
    directions, aicc = [], {f: [] for f in families}
    shapes = {f: [] for f in families}
    wins = {f: 0 for f in families}
    for t, y, n in per_seed:
        if len(t) < 3 or np.ptp(y) <= 0:
            for f in families:
                aicc[f].append(math.nan)
                shapes[f].append(math.nan)
            continue
        directions.append(_direction(t, y))
        yo, _ = _orient(t, y, n)
        fits = _fit_families(t, yo, n if likelihood == "binomial" else None, families, "none",
                             level, seed)
        seed_aicc, _ = _criterion(fits)
        for f in families:
            ok = not isinstance(fits[f], str) and bool(fits[f].converged)
            aicc[f].append(seed_aicc[f])
            name = fits[f].spec.shape_param if ok else None
            shapes[f].append(float(fits[f].params[name]) if name else math.nan)
        _, _, best = _ranked(seed_aicc)
        if best:
            wins[best] += 1
    n_seeds = len(per_seed)
    # Rank families that converged on every seed by their AICc summed over seeds.
    summed = {f: (float(np.sum(a)) if np.isfinite(a).all() and a else math.nan)
              for f, a in aicc.items()}
    delta, weight, best = _ranked(summed)
    out = {}
    for f in families:
        mean, low, high, sd, k = seed_interval(shapes[f], level)
        out[f] = {"converged": int(np.isfinite(aicc[f]).sum()), "wins": wins[f], "mean": mean,
                  "low": low, "high": high, "sd": sd}
    direction = max(set(directions), key=directions.count) if directions else ""
    return {"families": out, "delta": delta, "weight": weight, "best": best,
            "n_seeds": n_seeds, "direction": direction}


def shape_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per human curve: the winning family on each side and its shape parameters.

    Columns: human, paradigm, averaging, human_best, human_best_weight, model_best,
    model_best_weight, same_best, direction_agrees, then the human's best family's shape
    parameter on both sides (``shape_param``, ``human_shape`` [``human_shape_low``,
    ``human_shape_high``], ``model_shape`` [``model_shape_low``, ``model_shape_high``]) and
    ``model_best_shape`` (the model's own best family's parameter and interval, as text).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"human": ["h", "h"], "paradigm": "strategy_shift",
    ...     "averaging": "by_time", "family": ["power", "logistic"],
    ...     "shape_param": ["gamma", "slope"], "human_weight": [0.1, 0.9],
    ...     "model_weight": [0.0, 1.0], "human_best": "logistic", "model_best": "logistic",
    ...     "same_best": True, "direction_agrees": True, "human_shape": [0.5, -4.0],
    ...     "human_shape_low": [0.4, -5.0], "human_shape_high": [0.6, -3.0],
    ...     "model_shape": [0.3, -6.0], "model_shape_low": [0.2, -7.0],
    ...     "model_shape_high": [0.4, -5.0]})
    >>> shape_summary(t)[["human_best", "same_best", "human_shape"]].values.tolist()
    [['logistic', True, -4.0]]
    """
    rows = []
    for human, sub in table.groupby("human", sort=False):
        first = sub.iloc[0]
        by_fam = sub.set_index("family")
        hb, mb = first["human_best"], first["model_best"]
        row = {"human": human, "paradigm": first["paradigm"], "averaging": first["averaging"],
               "human_best": hb, "human_best_weight": by_fam["human_weight"].get(hb, np.nan)
               if hb else np.nan, "model_best": mb,
               "model_best_weight": by_fam["model_weight"].get(mb, np.nan) if mb else np.nan,
               "same_best": bool(first["same_best"]),
               "direction_agrees": bool(first["direction_agrees"])}
        ref = by_fam.loc[hb] if hb else None
        for col in ("shape_param", "human_shape", "human_shape_low", "human_shape_high",
                    "model_shape", "model_shape_low", "model_shape_high"):
            row[col] = ref[col] if ref is not None else np.nan
        if mb:
            m = by_fam.loc[mb]
            row["model_best_shape"] = (f"{m['shape_param']} = {m['model_shape']:.3g} "
                                       f"[{m['model_shape_low']:.3g}, {m['model_shape_high']:.3g}]"
                                       if m["shape_param"] else "(no shape parameter)")
        else:
            row["model_best_shape"] = ""
        rows.append(row)
    return pd.DataFrame(rows)


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

    models = model_curves(model, variant, window=window)
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
    values = [v for v in _criterion(_fit_families(x[keep], y[keep], None, families, "none",
                                                   0.95, 0))[0].values() if math.isfinite(v)]
    return min(values) if values else math.nan


# ----------------------------------------------------------------------------- gamma, seed-pooled

def is_model_side(obj) -> bool:
    """True for what :func:`model_curves` takes: a consolidation record, ModelCurves, toy runs.

    Examples
    --------
    >>> from cramcog.dynamics.toy_consolidation import simulate_consolidation
    >>> is_model_side(simulate_consolidation(n_episodes=3)), is_model_side(0.43)
    (True, False)
    """
    import xarray as xr

    from cramcog.dynamics.toy_consolidation import ToyConsolidationResult

    if isinstance(obj, (ModelCurves, ToyConsolidationResult)):
        return True
    if isinstance(obj, xr.Dataset):
        return all(v in obj for v in _RECORD_VARS)
    return isinstance(obj, (list, tuple)) and bool(obj) and all(
        isinstance(r, ToyConsolidationResult) for r in obj)


def seed_pooled_gamma(model, family: str = "power", *, averaging: str = "by_time",
                      level: float = 0.95, variant: str | None = None, window: str = "auto",
                      model_likelihood: str = "least_squares"):
    """The model's gamma pooled over seeds: one fit per seed, mean and Student-t interval.

    The only model interval cramcog compares with human data: seeds are independent runs, while
    one run's logged steps are autocorrelated (a profile interval over them is too narrow).

    Parameters
    ----------
    model
        See :func:`model_curves` (at least 2 seeds whose fit converges).
    family
        A family with a gamma (default "power").
    averaging
        How the model's curve is averaged (see :meth:`ModelCurves.curves`).
    level
        Confidence level of the seed interval.
    variant, window
        Passed to :func:`model_curves`.
    model_likelihood
        "least_squares" (default) or "binomial" for the per-seed fits.

    Returns
    -------
    cramcog.compare.ReportedGamma
        Its ``method`` says how the interval was obtained and from how many seeds; the label
        names the model.

    Raises
    ------
    ValueError
        A family without gamma; fewer than 2 seeds with a converged fit.

    Examples
    --------
    >>> from cramcog.dynamics.toy_consolidation import simulate_consolidation
    >>> g = seed_pooled_gamma([simulate_consolidation(n_episodes=60, seed=s) for s in (0, 1, 2)])
    >>> g.family, g.method.startswith("seed-pooled over 3 seeds")
    ('power', True)
    """
    from cramcog.compare import ReportedGamma
    from cramcog.dynamics.families import get_family
    from cramcog.dynamics.intervals import seed_interval

    fam = get_family(family)
    if not fam.has_gamma:
        raise ValueError(f"family {fam.name!r} has no gamma (its shape parameter is "
                         f"{fam.shape_param!r}); use compare_shape for it")
    models = model_curves(model, variant, window=window)
    gammas = []
    for t, y, n in models.curves(averaging):
        if len(t) < 3 or np.ptp(y) <= 0:
            gammas.append(math.nan)
            continue
        yo, _ = _orient(t, y, n)
        fit = _fit_families(t, yo, n if model_likelihood == "binomial" else None, [fam.name],
                            "none", level, 0)[fam.name]
        gammas.append(float(fit.params["gamma"]) if not isinstance(fit, str)
                      and bool(fit.converged) else math.nan)
    mean, low, high, _, k = seed_interval(gammas, level)
    if k < 2:
        raise ValueError(f"{models.label}: {k} of {len(gammas)} seeds gave a converged "
                         f"{fam.name!r} fit; a seed-pooled interval needs at least 2 (run >= 3 "
                         "seeds)")
    method = (f"seed-pooled over {k} seeds ({len(gammas) - k} failed): mean of per-seed "
              f"{fam.name} fits ({model_likelihood}, {averaging}, window {models.window}) and a "
              f"Student-t {level:.0%} interval over seeds")
    return ReportedGamma(mean, (low, high), family=fam.name, level=level,
                         label=f"{models.label} (seed-pooled, {k} seeds)", method=method)


# ----------------------------------------------------------------------------- all in one

@dataclass
class HumanComparison:
    """Everything :func:`compare_with_humans` measured, with the text a report needs.

    Attributes
    ----------
    shape : pandas.DataFrame
        :func:`compare_shape`'s table; ``summary`` is :func:`shape_summary` of it.
    items : pandas.DataFrame
        :func:`compare_items`'s table (empty when the record has no per-pattern variables).
    gamma : pandas.DataFrame or None
        :func:`cramcog.compare.compare_gamma` of the seed-pooled power-law gamma against the
        same human curves (None, with ``gamma_note`` saying why, when it cannot be computed).
    model_interval : str
        Which interval the model's numbers use (always seed-pooled).
    """

    shape: pd.DataFrame
    summary: pd.DataFrame
    items: pd.DataFrame
    gamma: pd.DataFrame | None
    gamma_note: str
    model_interval: str
    human: str

    def to_markdown(self) -> str:
        """A short report: the interval used, then the shape table, per-item rows and gamma."""
        lines = [f"Human comparison ({self.human}); model interval: {self.model_interval}.", "",
                 "| human curve | human best | model best | same | direction agrees | "
                 "shape (human best family): human / model |", "|---|---|---|---|---|---|"]
        for _, r in self.summary.iterrows():
            shape = "-"
            if isinstance(r["shape_param"], str) and r["shape_param"]:
                shape = (f"{r['shape_param']} {r['human_shape']:.3g} [{r['human_shape_low']:.3g}, "
                         f"{r['human_shape_high']:.3g}] / {r['model_shape']:.3g} "
                         f"[{r['model_shape_low']:.3g}, {r['model_shape_high']:.3g}]")
            lines.append(f"| {r['human']} | {r['human_best']} | {r['model_best']} | "
                         f"{'yes' if r['same_best'] else 'no'} | "
                         f"{'yes' if r['direction_agrees'] else 'no'} | {shape} |")
        if len(self.items):
            lines += ["", "| side | quantity | value [interval] | source |", "|---|---|---|---|"]
            for _, r in self.items.iterrows():
                ci = "" if not np.isfinite(r["high"]) else f" [{r['low']:.3g}, {r['high']:.3g}]"
                lines.append(f"| {r['side']} | {r['quantity']} | {r['value']:.3g}{ci} "
                             f"{r['units']} | {r['source']} |")
        lines += ["", f"gamma: {self.gamma_note}"]
        return "\n".join(lines)


def compare_with_humans(model, human: Any = "episodic_semantic", *,
                        families: Sequence[str] = SHAPE_FAMILIES, level: float = 0.95,
                        ci: str = "profile", margin: float = 0.1, seed: int = 0,
                        variant: str | None = None, window: str = "auto",
                        overdispersion: str | None = "quasi") -> HumanComparison:
    """The full human comparison of a consolidation record: shape, per item, then gamma.

    What ``make reproduce`` calls: the episodic-to-semantic human curves by default, every model
    number seed-pooled (the record must hold several seeds), and the interval named.

    Parameters
    ----------
    model
        See :func:`model_curves`.
    human, families, level, ci, seed, variant, window, overdispersion
        See :func:`compare_shape`.
    margin
        Equivalence margin of the gamma verdicts (:func:`cramcog.compare.compare_gamma`).

    Returns
    -------
    HumanComparison

    Examples
    --------
    >>> from cramcog.dynamics.toy_consolidation import simulate_consolidation
    >>> toy = [simulate_consolidation(n_episodes=60, seed=s) for s in (0, 1, 2)]
    >>> out = compare_with_humans(toy, families=["exponential", "power"], ci="wald")
    >>> out.model_interval.startswith("seed-pooled")
    True
    >>> "model interval: seed-pooled" in out.to_markdown()
    True
    """
    from cramcog.compare import compare_gamma

    models = model_curves(model, variant, window=window)
    shape = compare_shape(models, human, families, level=level, ci=ci, seed=seed,
                          overdispersion=overdispersion)
    items = compare_items(models, level=level) if models.has_items else pd.DataFrame()
    gamma, note = None, ""
    try:
        pooled = seed_pooled_gamma(models, "power", level=level)
        gamma = compare_gamma(pooled, human=human, family="power", level=level, margin=margin,
                              ci=ci, seed=seed, overdispersion=overdispersion)
        power = shape[shape.family == "power"]
        wins = int((power.human_best == "power").sum())
        model_power = "yes" if (power.model_best == "power").any() else "no"
        note = (f"power-law gamma {pooled.gamma:.3g} [{pooled.interval[0]:.3g}, "
                f"{pooled.interval[1]:.3g}] ({pooled.method}); the power law is the best "
                f"family on the model side: {model_power}, on {wins} of "
                f"{power.human.nunique()} human curves (compare gammas only where the power "
                f"law is the best family on both sides)")
    except ValueError as err:
        note = f"not computed: {err}"
    return HumanComparison(shape=shape, summary=shape_summary(shape), items=items, gamma=gamma,
                           gamma_note=note, model_interval=MODEL_INTERVAL,
                           human=human if isinstance(human, str) else "custom")


# ----------------------------------------------------------------------------- human table

def human_shapes(human: Any = "episodic_semantic", families: Sequence[str] = SHAPE_FAMILIES, *,
                 level: float = 0.95, ci: str = "profile", seed: int = 0,
                 overdispersion: str | None = "quasi") -> pd.DataFrame:
    """Every family fitted to every human curve, ranked: the human side of :func:`compare_shape`.

    Parameters
    ----------
    human, families, level, ci, seed, overdispersion
        As for :func:`compare_shape`.

    Returns
    -------
    pandas.DataFrame
        One row per (human curve, family) in rank order within each curve: human, paradigm,
        orientation, likelihood, n_points, rank (1 = lowest criterion; NaN for families that
        did not converge), criterion (aicc, or qaicc for quasi fits), dispersion (the fit's
        Pearson chi2 / df), family, delta_aicc (delta of the criterion), weight (Akaike
        weight), shape_param, shape, shape_low, shape_high, message.

    Examples
    --------
    >>> t = human_shapes("zbrodoff_1995_alpha_arithmetic", ["exponential", "power"], ci="wald")
    >>> t[["family", "rank"]].values.tolist()
    [['exponential', 1.0], ['power', 2.0]]
    """
    curves = _human_curves(human)
    if not curves:
        raise ValueError(f"no human curve in {human!r}")
    rows, criteria = [], set()
    for curve in curves:
        c = curve.positive()
        y, orientation = _orient(c.t, c.y, c.n)
        fits, delta, weight, _, criterion = _fit_and_rank(c.t, y, c.n, list(families), ci,
                                                          level, seed, overdispersion)
        criteria.add(criterion)
        order = sorted(delta, key=lambda f: (not math.isfinite(delta[f]), delta[f]
                                             if math.isfinite(delta[f]) else 0.0))
        for rank, fam in enumerate(order, start=1):
            name, g, low, high = _shape_of(fits[fam], fam)
            rows.append({"human": c.label, "paradigm": c.paradigm, "orientation": orientation,
                         "likelihood": "least squares" if c.n is None else "binomial",
                         "n_points": len(c.t),
                         "rank": float(rank) if math.isfinite(delta[fam]) else math.nan,
                         "criterion": criterion,
                         "dispersion": _dispersion(fits[fam]),
                         "family": fam, "delta_aicc": delta[fam], "weight": weight[fam],
                         "shape_param": name, "shape": g, "shape_low": low, "shape_high": high,
                         "message": fits[fam] if isinstance(fits[fam], str)
                         else str(fits[fam].message)})
    table = pd.DataFrame(rows)
    table.attrs.update(criterion="/".join(sorted(criteria)), level=level, ci=ci,
                       overdispersion=str(overdispersion),
                       orientation="every curve fitted falling (a rising one as 1 - y)")
    return table


def shapes_markdown(table: pd.DataFrame, top: int = 3) -> str:
    """:func:`human_shapes` as a Markdown table: per curve, the ``top`` families by the criterion
    (AICc; QAICc for quasi-binomial fits), the Pearson dispersion of each binomial fit and the
    shape parameter with its interval.

    Examples
    --------
    >>> t = human_shapes("zbrodoff_1995_alpha_arithmetic", ["exponential", "power"], ci="wald")
    >>> print(shapes_markdown(t).splitlines()[0])  # doctest: +NORMALIZE_WHITESPACE
    | human curve | likelihood | rank | family | delta (criterion) | weight | dispersion |
      shape parameter [95% CI] |
    """
    level = table.attrs.get("level", 0.95)
    lines = [f"| human curve | likelihood | rank | family | delta (criterion) | weight | "
             f"dispersion | shape parameter [{level:.0%} CI] |", "|---" * 8 + "|"]
    for human, sub in table.groupby("human", sort=False):
        ranked = sub[sub["rank"].notna()].head(top)
        failed = sub[sub["rank"].isna()]["family"].tolist()
        for i, (_, r) in enumerate(ranked.iterrows()):
            shape = (f"{r['shape_param']} = {r['shape']:.3g} [{r['shape_low']:.3g}, "
                     f"{r['shape_high']:.3g}]" if r["shape_param"] else "(none)")
            name = human if i == 0 else ""
            lik = f"{r['likelihood']}, {r['orientation']}" if i == 0 else ""
            crit = {"aicc": "AICc", "qaicc": "QAICc"}.get(r["criterion"], r["criterion"])
            disp = f"{r['dispersion']:.2f}" if r["likelihood"] == "binomial" else "-"
            lines.append(f"| {name} | {lik} | {int(r['rank'])} | {r['family']} | "
                         f"{r['delta_aicc']:.1f} ({crit}) | {r['weight']:.2f} | "
                         f"{disp} | {shape} |")
        if failed:
            lines.append(f"| | | - | did not converge: {', '.join(failed)} | | | | |")
    return "\n".join(lines)
