"""Compare a model's forgetting/consolidation exponent gamma with human data, honestly.

Ask the shape first: a gamma means something only where a power law describes the curve, and the
human strategy shift is not obviously a power law (CMPL vs instance theory; averaging artefacts).
:func:`cramcog.comparison.compare_shape` (:mod:`cramcog.comparison.shape`) fits the same families
to the model's and the human curves and says whether the same family wins on both sides; read it
before any gamma.

:func:`compare_gamma` fits the SAME curve family to every human curve (a power law's gamma and a
shifted power law's gamma are different quantities, so comparing across forms is meaningless),
and sets the model's gamma against each one, with intervals for both and for their difference.

Which human data (``human=``): ``"episodic_semantic"`` (the strategy-shift and remember/know
curves: the question the CRAM comparison is about), a paradigm (``"strategy_shift"``,
``"remember_know"``, ``"forgetting"``), ``"all"``, data set names, or curves. Every row says its
``paradigm``: forgetting curves (retention against delay) answer a different question and are
labelled as such. Every human curve is fitted in its falling orientation (a rising one, such as
the Remember share over repetitions, as 1 - y; column ``orientation``).

The model's gamma: a fit result, a fit set (its best family WITH a gamma, said so when the best
family overall has none), a :class:`ReportedGamma`, or a per-pattern consolidation record of
several seeds (CRAM or toy), whose gamma is SEED-POOLED: a power-law fit per seed, the mean and a
Student-t interval over seeds (:func:`seed_pooled_gamma`), never one run's profile interval over
its autocorrelated steps.

How the verdict is decided (``level`` = 0.95 and ``margin`` = 0.1 by default):

- the difference ``diff = model_gamma - human_gamma`` gets a ``level`` interval by MOVER (the
  method of variance estimates recovery; Zou & Donner 2008, Stat. Med. 27:1693), which combines
  the two (possibly asymmetric, e.g. profile-likelihood) intervals without assuming symmetry;
- ``"different"``: the difference's interval excludes 0;
- ``"consistent"``: it contains 0 AND lies inside ``[-margin, +margin]``, i.e. the data rule out
  any difference as large as ``margin`` (an equivalence test at the same level, two one-sided
  tests style). The default margin 0.1 is the width of the human range the CRAM paper quotes
  ("human 0.4-0.5"): a comparison that cannot resolve that range says nothing;
- ``"inconclusive"``: it contains 0 but is too wide to rule out a difference of ``margin``;
- ``"no fit"``: the human curve could not be fitted with that family, or its interval could not
  be computed (the ``note`` says why). An unbounded interval (+-inf) is kept: it gives
  "inconclusive".

Human curves are fitted on t > 0 only (power-law families need it), in their own time units: a
pure or shifted power law's gamma does not depend on the time unit, only its scale does.

Examples
--------
>>> from cramcog.comparison import ReportedGamma, compare_gamma
>>> paper = ReportedGamma(0.43, (0.39, 0.47), family="power", label="paper")
>>> table = compare_gamma(paper, human="ebbinghaus_1885")
>>> row = table.iloc[0]
>>> round(float(row["gamma"]), 2), row["verdict"]     # savings curves have small exponents
(0.13, 'different')
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from cramcog.comparison.curves import human_curves, is_model_side, model_curves, orient
from cramcog.comparison.fitting import fit_families, fit_one

VERDICTS = ("consistent", "inconclusive", "different", "no fit")
COLUMNS = ["source", "series", "paradigm", "family", "gamma", "ci_low", "ci_high", "model_gamma",
           "model_ci_low", "model_ci_high", "diff", "diff_ci_low", "diff_ci_high", "verdict",
           "n_points", "t_units", "measure", "reliability", "likelihood", "orientation", "note"]


@dataclass(frozen=True)
class ReportedGamma:
    """A gamma known only as a number and an interval (e.g. one a paper reports), fit-shaped.

    Parameters
    ----------
    gamma
        The estimate.
    interval
        ``(low, high)`` at ``level`` (also available fit-style as ``ci["gamma"]``).
    family
        The curve family it belongs to, or None if unknown (then pass ``family=`` to
        :func:`compare_gamma`, which is an ASSUMPTION and is labelled as one).
    label
        Name shown in tables and figures.
    level
        Confidence level of ``ci``.
    method
        How the interval was obtained (e.g. "seed-pooled ..."), shown in tables.

    Examples
    --------
    >>> g = ReportedGamma(0.43, (0.39, 0.47), family="power", label="CRAM paper")
    >>> g.params["gamma"], g.ci["gamma"], g.converged
    (0.43, (0.39, 0.47), True)
    """

    gamma: float
    interval: Any
    family: str | None = None
    label: str = "model"
    level: float = 0.95
    method: str = "as reported"

    def __post_init__(self):
        try:
            low, high = (float(v) for v in self.interval)
        except (TypeError, ValueError):
            raise TypeError(f"interval must be a (low, high) pair, got {self.interval!r}") from None
        if not all(math.isfinite(float(v)) for v in (self.gamma, low, high)):
            raise ValueError(f"gamma and its interval must be finite, got {self.gamma}, "
                             f"{self.interval}")
        if not low <= self.gamma <= high:
            raise ValueError(f"the interval {self.interval} must contain gamma={self.gamma}")
        if not 0 < self.level < 1:
            raise ValueError(f"level must be in (0, 1), got {self.level}")
        object.__setattr__(self, "interval", (low, high))

    @property
    def params(self) -> dict:
        return {"gamma": float(self.gamma)}

    @property
    def converged(self) -> bool:
        return True

    @property
    def ci(self) -> dict:
        return {"gamma": self.interval}


# ----------------------------------------------------------------------------- helpers

def gamma_families() -> list[str]:
    """Curve families with a power-law exponent ``gamma`` (the ones :func:`compare_gamma` takes).

    Examples
    --------
    >>> "power" in gamma_families() and "exponential" not in gamma_families()
    True
    """
    from cramcog.dynamics.families import FAMILIES

    return [name for name, fam in FAMILIES.items() if fam.has_gamma]


def _family_name(fit) -> str | None:
    family = getattr(fit, "family", None)
    return getattr(family, "name", family)


def _gamma_interval(fit) -> tuple[float, float, float]:
    gamma, (low, high) = fit.params["gamma"], fit.ci["gamma"]
    if np.size(gamma) != 1:
        raise ValueError(f"this fit holds {np.size(gamma)} curves (a batched fit); compare one "
                         "curve at a time, e.g. fit each layer or seed separately")
    return float(np.squeeze(gamma)), float(np.squeeze(low)), float(np.squeeze(high))


def _is_fit_set(fit) -> bool:
    return hasattr(fit, "best") and hasattr(fit, "__getitem__")


def _has_gamma(fit) -> bool:
    spec = getattr(fit, "spec", None)
    if spec is not None:
        return bool(spec.has_gamma)
    return "gamma" in getattr(fit, "params", {})


def _best_with_gamma(fit_set) -> tuple[Any, str]:
    """The fit set's best converged family WITH a gamma (by its criterion, AICc by default),
    and a note if it is not the best family overall."""
    try:
        best_gamma = fit_set.best_with("gamma")
    except ValueError as err:
        raise ValueError(f"{err}. Families with a gamma: {gamma_families()}. Fit one of those, "
                         "or compare shapes instead (cramcog.comparison.compare_shape): a gamma "
                         "means nothing where no power law describes the curve") from None
    best = fit_set.best
    note = ""
    if best is not best_gamma and bool(np.all(best.converged)):
        gap = float(np.sum(fit_set.ic_values(best_gamma.family))
                    - np.sum(fit_set.ic_values(best.family)))
        note = (f"the best family, {best.family!r}, has no gamma; compared: the best family with "
                f"one, {best_gamma.family!r}, {gap:.1f} {fit_set.criterion.upper()} worse: a "
                "power-law exponent describes this curve only if a power law fits it")
        warnings.warn(note, stacklevel=4)
    return best_gamma, note


def _model_fits(fit, family) -> tuple[list[tuple[str, Any]], str]:
    """[(family, fit-like)] for the model side, checking gamma, convergence and family; a note."""
    requested = None if family is None else ([family] if isinstance(family, str) else
                                             list(family))
    note = ""
    if _is_fit_set(fit):
        if requested is None:
            best, note = _best_with_gamma(fit)
            requested = [best.family]
        elif requested == ["all"]:
            requested = [f for f in gamma_families() if _safe_get(fit, f) is not None]
        pairs = []
        for name in requested:
            one = _safe_get(fit, name)
            if one is None:
                raise ValueError(f"the fit set has no {name!r} fit; fit that family first")
            pairs.append((name, one))
    else:
        if not hasattr(fit, "params") or not hasattr(fit, "ci"):
            raise TypeError("compare_gamma needs a fit result with .params['gamma'] and "
                            ".ci['gamma'], a fit set, a ReportedGamma or a consolidation "
                            f"record; got {type(fit).__name__}")
        own = _family_name(fit)
        if requested is None:
            if own is None:
                raise ValueError("the model's curve family is unknown: pass family=... (the human "
                                 "curves are fitted with the SAME family)")
            requested = [own]
        if own is not None and requested != [own]:
            raise ValueError(f"the model's gamma comes from the {own!r} family; comparing it with "
                             f"human gammas fitted with {requested} is meaningless (same form "
                             "only): drop family= or refit the model")
        pairs = [(name, fit) for name in requested]
    for name, one in pairs:
        if not _has_gamma(one):
            shape = getattr(getattr(one, "spec", None), "shape_param", None)
            extra = f" (its shape parameter is {shape!r})" if shape else ""
            raise ValueError(f"family {name!r} has no gamma{extra}; use one of "
                             f"{gamma_families()}, or compare shapes with "
                             "cramcog.comparison.compare_shape")
        g, low, high = _gamma_interval(one)
        if not bool(np.all(one.converged)):
            raise ValueError(f"the model's {name!r} fit did not converge: a failed fit cannot be "
                             "compared")
        if not math.isfinite(g) or math.isnan(low) or math.isnan(high):
            raise ValueError(f"the model's {name!r} gamma or its interval is undefined "
                             f"({g}, [{low}, {high}]): its interval computation failed")
    return pairs, note


def _safe_get(fit_set, name):
    try:
        return fit_set[name]
    except (KeyError, ValueError):
        return None


def mover_interval(d1: float, l1: float, u1: float, d2: float, l2: float, u2: float):
    """Interval for ``d1 - d2`` from two independent intervals (MOVER, Zou & Donner 2008).

    Exact for symmetric normal intervals (then it is the usual sqrt(se1^2 + se2^2) rule), and it
    keeps the asymmetry of profile-likelihood intervals.

    Examples
    --------
    >>> diff, low, high = mover_interval(0.5, 0.4, 0.6, 0.3, 0.2, 0.4)
    >>> round(diff, 4), round(low, 4), round(high, 4)
    (0.2, 0.0586, 0.3414)
    """
    diff = d1 - d2
    low = diff - math.sqrt((d1 - l1) ** 2 + (u2 - d2) ** 2)
    high = diff + math.sqrt((u1 - d1) ** 2 + (d2 - l2) ** 2)
    return diff, low, high


def verdict(diff_low: float, diff_high: float, margin: float) -> str:
    """The verdict for a difference interval (see the module docstring).

    Examples
    --------
    >>> verdict(-0.05, 0.04, 0.1), verdict(-0.3, 0.2, 0.1), verdict(0.02, 0.2, 0.1)
    ('consistent', 'inconclusive', 'different')
    >>> verdict(-0.05, float("inf"), 0.1)    # an unbounded interval can never be "consistent"
    'inconclusive'
    """
    if math.isnan(diff_low) or math.isnan(diff_high):
        return "no fit"
    if diff_low > 0 or diff_high < 0:
        return "different"
    if -margin <= diff_low and diff_high <= margin:
        return "consistent"
    return "inconclusive"


# ----------------------------------------------------------------------------- the comparison

def compare_gamma(fit, human: Any = "all", family: str | Sequence[str] | None = None,
                  level: float = 0.95, *, margin: float = 0.1, include_unreliable: bool = False,
                  ci: str = "profile", seed: int = 0,
                  overdispersion: str | None = "quasi") -> pd.DataFrame:
    """The model's gamma against each human data set's gamma fitted with the same family.

    Parameters
    ----------
    fit
        The model side: a fit result with ``params["gamma"]`` and ``ci["gamma"]`` (from
        :func:`cramcog.fit_consolidation_curve`); a fit set (its best converged family WITH a
        gamma by AICc, with a warning and a note when the best family overall has none; or the
        families named in ``family``; ``family="all"`` takes every fitted family with a gamma);
        a :class:`ReportedGamma`; or a per-pattern consolidation record of several seeds (CRAM
        or toy; a path, toy results or :class:`cramcog.comparison.ModelCurves` too), whose gamma
        is seed-pooled (:func:`seed_pooled_gamma`).
    human
        ``"all"`` (every bundled curve from :func:`cramcog.psych.all_curves`, each labelled with
        its paradigm), ``"episodic_semantic"`` (strategy_shift + remember_know), a paradigm
        (``"forgetting"``, ``"strategy_shift"``, ``"remember_know"``), a data set name, a
        Dataset from :func:`cramcog.psych.load_csv`, a :class:`cramcog.psych.Curve`, or a list
        of those.
    family
        The family (or families) to fit to the human curves. Defaults to the model fit's own
        family; it must match it when the model fit knows its family.
    level
        Confidence level of the human intervals and of the difference's interval. The model's
        interval must be at the same level.
    margin
        Equivalence margin in gamma units: "consistent" requires the difference's interval to
        lie inside ``[-margin, margin]``.
    include_unreliable
        Also compare with series flagged unreliable in the bundled metadata.
    ci
        Interval method for the human fits (``"profile"``, ``"wald"`` or ``"bootstrap"``).
    seed
        Seed of the human fits (bootstrap resamples, optimiser restarts).
    overdispersion
        ``"quasi"`` (default): human curves with trial counts get intervals scaled by their
        Pearson dispersion (floored at 1; :func:`cramcog.fit_consolidation_curve`), because
        pooled trials cluster by participant or session (Meeter et al.'s binomial intervals are
        ~2-2.6x too narrow otherwise). None: plain binomial intervals.

    Returns
    -------
    pandas.DataFrame
        One row per (human curve, family), columns ``COLUMNS``: source, series, paradigm,
        family, gamma, ci_low, ci_high, model_gamma, model_ci_low, model_ci_high, diff (model -
        human), diff_ci_low, diff_ci_high, verdict, n_points, t_units, measure, reliability,
        likelihood, orientation, note. ``df.attrs`` holds level, margin, the model label, the
        model interval's method and the method.

    Raises
    ------
    ValueError
        The model has no gamma (a single fit of a family without one; a fit set without a
        converged family with one), did not converge, has an interval at another level, or its
        family differs from ``family``; bad ``level`` / ``margin``.

    Examples
    --------
    >>> from cramcog.comparison import ReportedGamma, compare_gamma
    >>> g = ReportedGamma(0.1, (0.08, 0.12), family="power", label="toy model")
    >>> row = compare_gamma(g, human="ebbinghaus_1885").iloc[0]
    >>> row["source"], row["verdict"] in ("consistent", "inconclusive", "different")
    ('ebbinghaus_1885', True)
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if not (isinstance(margin, (int, float)) and margin > 0 and math.isfinite(margin)):
        raise ValueError(f"margin must be a positive number of gamma units, got {margin!r}")
    model_interval = "the model fit's own interval"
    if is_model_side(fit):
        fams = [family] if isinstance(family, str) else list(family or ["power"])
        if len(fams) != 1:
            raise ValueError("compare one family at a time for a consolidation record")
        fit = seed_pooled_gamma(fit, family=fams[0], level=level)
        model_interval = fit.method
    pairs, model_note = _model_fits(fit, family)
    model_level = getattr(pairs[0][1], "level", level)
    if model_level is not None and abs(float(model_level) - level) > 1e-9:
        raise ValueError(f"the model's interval is at level {model_level} but level={level}: "
                         "refit the model at the same level (the difference's interval needs both)")
    curves = human_curves(human, include_unreliable)
    if not curves:
        raise ValueError(f"no human curve to compare with in {human!r} (tables and two-delay data "
                         "have none; see cramcog.psych.list('curve'))")
    label = getattr(fit, "label", None) or "model"
    rows = []
    for fam, model_fit in pairs:
        mg, ml, mh = _gamma_interval(model_fit)
        for curve in curves:
            c = curve.positive()
            y, orientation = orient(c.t, c.y, c.n)
            row = {"source": c.source, "series": c.series, "paradigm": c.paradigm,
                   "family": fam, "model_gamma": mg,
                   "model_ci_low": ml, "model_ci_high": mh, "n_points": int(len(c.t)),
                   "t_units": c.t_units, "measure": c.measure, "reliability": c.reliability,
                   "likelihood": "least squares" if c.n is None else "binomial",
                   "orientation": orientation, "note": ""}
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    # a bundled curve that pools items at equal x says so in its metadata
                    warnings.filterwarnings("ignore", message="t repeats values")
                    hf = fit_one(c.t, y, c.n, fam, ci=ci, level=level, seed=seed,
                                 y_kind=c.y_kind,
                                 overdispersion=overdispersion if c.n is not None else None,
                                 keep=True)
                g, low, high = _gamma_interval(hf)
                if not bool(hf.converged):
                    raise ValueError(f"the fit did not converge: {getattr(hf, 'message', '')}")
                if not math.isfinite(g) or math.isnan(low) or math.isnan(high):
                    # NaN = the interval search failed; +-inf (unbounded) is an honest answer
                    raise ValueError(f"gamma interval could not be computed ({low}, {high})")
            except (ValueError, RuntimeError, np.linalg.LinAlgError) as err:
                row.update(gamma=np.nan, ci_low=np.nan, ci_high=np.nan, diff=np.nan,
                           diff_ci_low=np.nan, diff_ci_high=np.nan, verdict="no fit",
                           note="; ".join(n for n in (str(err).splitlines()[0][:300], model_note)
                                          if n))
                rows.append(row)
                continue
            diff, dlow, dhigh = mover_interval(mg, ml, mh, g, low, high)
            row.update(gamma=g, ci_low=low, ci_high=high, diff=diff, diff_ci_low=dlow,
                       diff_ci_high=dhigh, verdict=verdict(dlow, dhigh, margin))
            row["note"] = "; ".join(n for n in (c.caveat, model_note) if n)
            rows.append(row)
    table = pd.DataFrame(rows, columns=COLUMNS)
    table.attrs.update(level=level, margin=margin, model_label=label, human_ci=ci, seed=seed,
                       diff_ci="MOVER (Zou & Donner 2008)", window="t > 0",
                       model_interval=model_interval, model_note=model_note,
                       human_overdispersion=str(overdispersion),
                       orientation="every human curve fitted falling (a rising one as 1 - y)")
    return table


# ----------------------------------------------------------------------------- seed-pooled gamma

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
    ReportedGamma
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
        yo, _ = orient(t, y, n)
        fit = fit_families(t, yo, n if model_likelihood == "binomial" else None, [fam.name],
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
