"""The same curve families fitted and ranked on either side of a comparison.

Every curve, the model's per seed and each human one, is fitted in its falling orientation
(:func:`cramcog.comparison.curves.orient`) with the same families (``SHAPE_FAMILIES`` by
default), ranked by AICc (QAICc with one dispersion for all families when the fits are quasi)
and Akaike weights. Each human curve is fitted once per setting and kept (:func:`fit_one`):
:func:`cramcog.comparison.compare_shape`, :func:`cramcog.comparison.compare_gamma`,
:func:`cramcog.comparison.human_shapes` and the figures reuse its fits. On the model side every
seed (an independent run) is fitted and its families ranked WITHIN the seed; the verdict is the
family best in the most seeds (:func:`seed_verdict`), an AICc summed over seeds only secondary
(:func:`summed_ranking`); the shape parameters' intervals are seed-pooled
(:func:`fit_model_side`).

Examples
--------
>>> import numpy as np
>>> t = np.array([1, 2, 4, 8, 16, 32.0])
>>> fits, delta, weights, best, criterion = fit_and_rank(
...     t, 0.9 * t ** -0.4, None, ["exponential", "power"], "wald", 0.95, 0)
>>> best, criterion
('power', 'aicc')
"""
from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np

from cramcog.comparison.curves import ModelCurves, curve_direction, orient

#: Families fitted by default on both sides (each shape parameter is dimensionless).
SHAPE_FAMILIES = ("exponential", "power", "logistic", "weibull",
                  "exponential+c", "power+c", "logistic+c", "weibull+c")


# ----------------------------------------------------------------------------- one curve

# fits of human curves, kept: (curve data, family, settings) -> (fit or error, its warnings)
_KEPT: dict = {}
#: At most this many fits are kept (the oldest are dropped first).
KEEP_AT_MOST = 4096


def fit_one(t, y, n, family: str, *, ci: str, level: float, seed: int,
            overdispersion: str | None = None, y_kind: str = "proportion", keep: bool = False):
    """One family fitted to one curve (:func:`cramcog.fit_consolidation_curve`).

    With ``keep`` the fit is kept: the same curve (``t``, ``y``, ``n``) with the same settings
    is fitted once, and a later call returns the kept fit (or raises its error again) and gives
    the warnings the fit gave, again. Human curves are kept, so that
    :func:`cramcog.comparison.compare_shape`, :func:`cramcog.comparison.compare_gamma`,
    :func:`cramcog.comparison.human_shapes` and the figures fit each of them once; a kept fit is
    read, never changed.

    Examples
    --------
    >>> import numpy as np
    >>> t, y = np.array([1, 2, 4, 8, 16.0]), np.array([0.8, 0.66, 0.55, 0.45, 0.37])
    >>> a = fit_one(t, y, None, "power", ci="wald", level=0.95, seed=0, keep=True)
    >>> a is fit_one(t, y, None, "power", ci="wald", level=0.95, seed=0, keep=True)
    True
    """
    from cramcog.dynamics import fit_consolidation_curve

    settings = dict(n=n, family=family, ci=ci, level=level, seed=seed, y_kind=y_kind,
                    overdispersion=overdispersion)
    if not keep:
        return fit_consolidation_curve(t, y, **settings)
    key = (_data_key(t), _data_key(y), _data_key(n), family, ci, level, seed, overdispersion,
           y_kind)
    if key not in _KEPT:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            try:
                outcome = fit_consolidation_curve(t, y, **settings)
            except (ValueError, RuntimeError, np.linalg.LinAlgError) as err:
                outcome = err
        if len(_KEPT) >= KEEP_AT_MOST:
            _KEPT.pop(next(iter(_KEPT)))
        _KEPT[key] = (outcome, list(said))
    outcome, said = _KEPT[key]
    for w in said:  # under the caller's warning filters, as a fresh fit would give them
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if isinstance(outcome, Exception):
        raise outcome.with_traceback(None)
    return outcome


def _data_key(values):
    if values is None:
        return None
    a = np.asarray(values)
    return a.dtype.str, a.shape, a.tobytes()


def fit_families(t, y, n, families, ci, level, seed, overdispersion=None, *, keep=False):
    """{family: fit or reason} for one curve; reasons for families the data cannot support.

    ``keep``: keep the fits (:func:`fit_one`), as for every human curve."""
    out = {}
    for fam in families:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[fam] = fit_one(t, y, n, fam, ci=ci, level=level, seed=seed,
                                   overdispersion=overdispersion if n is not None else None,
                                   keep=keep)
        except (ValueError, RuntimeError, np.linalg.LinAlgError) as err:
            out[fam] = str(err).splitlines()[0][:200]
    return out


def fit_and_rank(t, y, n, families, ci, level, seed, overdispersion=None, *, keep=False):
    """Fit ``families`` to one curve and rank them: (fits, delta, weights, best, criterion).

    ``keep``: keep the fits (:func:`fit_one`), as for every human curve."""
    fits = fit_families(t, y, n, families, ci, level, seed, overdispersion, keep=keep)
    values, criterion = criterion_values(fits)
    delta, weights, best = rank_values(values)
    return fits, delta, weights, best, criterion


def criterion_values(fits: dict) -> tuple[dict[str, float], str]:
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


def rank_values(values: dict[str, float]) -> tuple[dict[str, float], dict[str, float], str | None]:
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


def fit_dispersion(fit) -> float:
    """The fit's Pearson dispersion (NaN for a failed fit)."""
    if isinstance(fit, str):
        return math.nan
    return float(np.squeeze(fit.dispersion))


def shape_of(fit, family: str) -> tuple[str, float, float, float]:
    from cramcog.dynamics.families import get_family

    name = get_family(family).shape_param
    if name is None or isinstance(fit, str) or not bool(fit.converged):
        return name or "", math.nan, math.nan, math.nan
    low, high = fit.ci[name]
    return name, float(fit.params[name]), float(low), float(high)


# ----------------------------------------------------------------------------- model side

#: Within this many AICc of a seed's best family, a family is "within 2" of the best there.
WITHIN_AICC = 2.0


def seed_verdict(per_seed: Sequence[dict[str, float]], families: Sequence[str]) -> dict:
    """The model's family verdict from families ranked WITHIN each seed (each seed a run).

    Each seed's families are ranked by their own AICc; a family that failed or did not
    converge in a seed (NaN) counts as not best there. The verdict is the family best in the
    most seeds; where several share the most wins the verdict says it is a tie; a family that is
    best in no seed is never the verdict. An AICc summed over seeds is kept as secondary
    information only (:func:`summed_ranking`): it can crown a family that wins no seed, when
    the family that wins most seeds failed in one of them and so drops out of the sum.

    Parameters
    ----------
    per_seed
        One ``{family: AICc}`` per seed (NaN: not converged; an empty dict or all NaN: the seed
        had no curve to fit).
    families
        The families compared.

    Returns
    -------
    dict
        ``best`` (the family best in the most seeds; "" on a tie or when nothing converged),
        ``tied`` (the families sharing the most wins, several on a tie), ``wins``,
        ``within_2`` (seeds where the family is within 2 AICc of that seed's best, its wins
        included) and ``failed`` (seeds where it did not converge), each per family,
        ``n_seeds``, ``n_ranked`` (seeds with at least one converged family) and ``verdict``
        (in words).

    Examples
    --------
    >>> nan = float("nan")
    >>> seeds = [{"logistic": 0.0, "weibull": 3.0}] * 4 + [{"logistic": nan, "weibull": 0.0}]
    >>> out = seed_verdict(seeds, ["logistic", "weibull"])
    >>> out["best"], out["wins"]["logistic"], out["failed"]["logistic"]
    ('logistic', 4, 1)
    >>> print(out["verdict"])  # doctest: +NORMALIZE_WHITESPACE
    logistic: best in 4 of 5 seeds (within 2 AICc of the best in 4; did not converge in 1 seed,
    counted as not best there)
    """
    families = list(families)
    wins = {f: 0 for f in families}
    within = {f: 0 for f in families}
    failed = {f: 0 for f in families}
    n_ranked = 0
    for values in per_seed:
        values = {f: values.get(f, math.nan) for f in families}
        delta, _, best = rank_values(values)
        if best is None:
            continue  # no curve in this seed, or nothing converged: no family is best
        n_ranked += 1
        wins[best] += 1
        for f in families:
            if not math.isfinite(values[f]):
                failed[f] += 1
            elif delta[f] <= WITHIN_AICC:
                within[f] += 1
    most = max(wins.values(), default=0)
    tied = [f for f in families if most > 0 and wins[f] == most]
    n_seeds = len(per_seed)
    if not tied:
        verdict = f"no family converged in any of {n_seeds} seeds"
    elif len(tied) > 1:
        verdict = (f"tie: {', '.join(tied)}, each best in {most} of {n_seeds} seeds "
                   f"(within 2 AICc of the best in {', '.join(str(within[f]) for f in tied)})")
    else:
        f = tied[0]
        verdict = (f"{f}: best in {most} of {n_seeds} seeds (within 2 AICc of the best in "
                   f"{within[f]}")
        if failed[f]:
            verdict += (f"; did not converge in {failed[f]} seed{'s' if failed[f] > 1 else ''}"
                        ", counted as not best there")
        verdict += ")"
    return {"best": tied[0] if len(tied) == 1 else "", "tied": tied, "wins": wins,
            "within_2": within, "failed": failed, "n_seeds": n_seeds, "n_ranked": n_ranked,
            "verdict": verdict}


def summed_ranking(per_seed: Sequence[dict[str, float]], families: Sequence[str]) -> dict:
    """SECONDARY: families ranked by their AICc summed over the seeds they all have a curve in.

    Only families that converged in every such seed are summed (a sum over fewer seeds is not
    comparable); the others get NaN and are named in ``note``. Use :func:`seed_verdict` for the
    verdict: this sum can rank first a family that is best in no seed.

    Returns
    -------
    dict
        ``delta``, ``weight`` (Akaike weights over the summed families), ``best``, ``n_seeds``
        (how many seeds the sum covers), ``left_out`` and ``note`` (what the sum covers, in
        words).

    Examples
    --------
    >>> nan = float("nan")
    >>> seeds = [{"logistic": 0.0, "weibull": 3.0}] * 4 + [{"logistic": nan, "weibull": 0.0}]
    >>> out = summed_ranking(seeds, ["logistic", "weibull"])
    >>> out["best"], out["note"]
    ('weibull', 'AICc summed over 5 seeds; left out (did not converge in every seed): logistic')
    """
    families = list(families)
    fitted = [s for s in per_seed if any(math.isfinite(s.get(f, math.nan)) for f in families)]
    summed = {}
    for f in families:
        values = [s.get(f, math.nan) for s in fitted]
        summed[f] = float(np.sum(values)) if values and np.isfinite(values).all() else math.nan
    delta, weight, best = rank_values(summed)
    left_out = [f for f in families if not math.isfinite(summed[f])]
    note = f"AICc summed over {len(fitted)} seeds"
    if left_out:
        note += f"; left out (did not converge in every seed): {', '.join(left_out)}"
    return {"delta": delta, "weight": weight, "best": best or "", "n_seeds": len(fitted),
            "left_out": left_out, "note": note}


def fit_model_side(models: ModelCurves, averaging: str, families, level, seed,
                   likelihood: str = "least_squares"):
    """The model side: per seed a fit of every family, ranked within the seed; the verdict.

    Returns
    -------
    dict
        ``families``: per family ``converged`` (seeds), ``wins``, ``within_2``, ``failed``
        and its seed-pooled shape parameter (``mean``, ``low``, ``high``, ``sd``);
        ``best``, ``tied``, ``verdict`` (:func:`seed_verdict`); ``summed`` (secondary:
        :func:`summed_ranking`); ``per_seed`` (each seed's AICc per family); ``n_seeds``,
        ``direction``.
    """
    from cramcog.dynamics.intervals import seed_interval

    per_seed_curves = models.curves(averaging)
    directions, per_seed = [], []
    shapes = {f: [] for f in families}
    for t, y, n in per_seed_curves:
        if len(t) < 3 or np.ptp(y) <= 0:
            per_seed.append({f: math.nan for f in families})
            for f in families:
                shapes[f].append(math.nan)
            continue
        directions.append(curve_direction(t, y))
        yo, _ = orient(t, y, n)
        fits = fit_families(t, yo, n if likelihood == "binomial" else None, families, "none",
                            level, seed)
        seed_aicc, _ = criterion_values(fits)
        per_seed.append(seed_aicc)
        for f in families:
            ok = not isinstance(fits[f], str) and bool(fits[f].converged)
            name = fits[f].spec.shape_param if ok else None
            shapes[f].append(float(fits[f].params[name]) if name else math.nan)
    ranked = seed_verdict(per_seed, families)
    out = {}
    for f in families:
        mean, low, high, sd, _ = seed_interval(shapes[f], level)
        out[f] = {"converged": int(sum(math.isfinite(s[f]) for s in per_seed)),
                  "wins": ranked["wins"][f], "within_2": ranked["within_2"][f],
                  "failed": ranked["failed"][f], "mean": mean, "low": low, "high": high,
                  "sd": sd}
    direction = max(set(directions), key=directions.count) if directions else ""
    return {"families": out, "best": ranked["best"], "tied": ranked["tied"],
            "verdict": ranked["verdict"], "summed": summed_ranking(per_seed, families),
            "per_seed": per_seed, "n_seeds": len(per_seed_curves), "direction": direction}
