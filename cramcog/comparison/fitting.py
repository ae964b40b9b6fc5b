"""The same curve families fitted and ranked on either side of a comparison.

Every curve, the model's per seed and each human one, is fitted in its falling orientation
(:func:`cramcog.comparison.curves.orient`) with the same families (``SHAPE_FAMILIES`` by
default), ranked by AICc (QAICc with one dispersion for all families when the fits are quasi)
and Akaike weights. Each human curve is fitted once per setting and kept (:func:`fit_one`):
:func:`cramcog.comparison.compare_shape`, :func:`cramcog.comparison.compare_gamma`,
:func:`cramcog.comparison.human_shapes` and the figures reuse its fits. The model's intervals
are seed-pooled (:func:`fit_model_side`).

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

def fit_model_side(models: ModelCurves, averaging: str, families, level, seed,
                   likelihood: str = "least_squares"):
    """Per family: seeds converged, seed wins, summed AICc ranking and seed-pooled shape."""
    from cramcog.dynamics.intervals import seed_interval

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
        directions.append(curve_direction(t, y))
        yo, _ = orient(t, y, n)
        fits = fit_families(t, yo, n if likelihood == "binomial" else None, families, "none",
                            level, seed)
        seed_aicc, _ = criterion_values(fits)
        for f in families:
            ok = not isinstance(fits[f], str) and bool(fits[f].converged)
            aicc[f].append(seed_aicc[f])
            name = fits[f].spec.shape_param if ok else None
            shapes[f].append(float(fits[f].params[name]) if name else math.nan)
        _, _, best = rank_values(seed_aicc)
        if best:
            wins[best] += 1
    n_seeds = len(per_seed)
    # Rank families that converged on every seed by their AICc summed over seeds.
    summed = {f: (float(np.sum(a)) if np.isfinite(a).all() and a else math.nan)
              for f, a in aicc.items()}
    delta, weight, best = rank_values(summed)
    out = {}
    for f in families:
        mean, low, high, sd, k = seed_interval(shapes[f], level)
        out[f] = {"converged": int(np.isfinite(aicc[f]).sum()), "wins": wins[f], "mean": mean,
                  "low": low, "high": high, "sd": sd}
    direction = max(set(directions), key=directions.count) if directions else ""
    return {"families": out, "delta": delta, "weight": weight, "best": best,
            "n_seeds": n_seeds, "direction": direction}
