"""Curve families for forgetting and consolidation curves.

Each family is a :class:`Family`: a formula, parameter names, bounds, a mean function, its
analytic Jacobian, a starting-value function (from a linearising regression), a docstring and a
literature source. ``FAMILIES`` maps a name to its Family.

Conventions (one rule for every family):

- ``t`` is time since learning (any unit; the fit does not rescale it). Families that take
  ``log t`` or ``t**-gamma`` need ``t > 0``; the others accept ``t >= 0``.
- The power-law exponent is called ``gamma`` in EVERY power-law family (``power``,
  ``shifted_power``, their ``+c`` variants and ``actr``, where ACT-R itself calls the decay ``d``).
- Asymptotes are separate families named ``"<base>+c"``: ``mean = base(t) + c``. A name is one
  model, so ``family="all"`` and AIC ranking treat "with asymptote" as a model of its own.
  ``logarithmic`` has no ``+c`` (``a - b ln t + c`` is not identifiable) and ``actr`` has none
  (its logistic link already bounds the curve).
- Direction. :func:`curve_direction` reads whether a curve rises or falls (Spearman's rank
  correlation of y with t). A ``+c`` family is fitted in the direction of the curves: falling
  towards ``c`` (``base(t) + c``, forgetting) or, where most curves rise, in its rising form
  ``c - base(t)`` (:func:`rising_form`, ``RISING``: a learning or practice curve such as
  ``c - a exp(-b t)``, ``a > 0`` the size of the rise), the same model under the same name. A
  family that can only fall (``hyperbolic``, ``b > 0``: ``can_rise`` False) is left out of the
  ranking of a rising curve, with a note naming its rising form (``hyperbolic+c``).
- Degenerate shapes. ``Family.degenerate`` names estimates that are not the shape the family
  stands for (a Weibull with ``k <= 0`` is singular at ``t = 0``: ``(t/s)**k`` is infinite
  there); such a fit is left out of the ranking, with the reason.
- Units. ``time_dims`` gives the power of t in each parameter's unit (``s`` and ``t50``: 1,
  the hyperbolic rate ``b``: -1), so a parameter "at its bound" is judged against the data's
  range of t, not against a number that depends on the unit of t.
- Every family declares its dimensionless SHAPE parameter (``shape_param``): the one that does
  not change when ``t`` is rescaled (exposures vs practice blocks, hours vs days), so model and
  human curves measured in different units can be compared through it. ``gamma`` for the power
  families and ``actr``, ``k`` for ``weibull``, ``slope`` for ``logistic``; None where the family
  has none (``exponential``'s rate has units 1/t; ``exp_sqrt``'s exponent is fixed at 1/2).
  ``has_gamma`` says whether a family has a power-law exponent ``gamma``.
- Bounds are handled by transforms, never by clipping: a parameter bounded in ``(0, inf)`` is
  optimised as ``log(p)``; unbounded parameters are optimised as they are. Rates and exponents
  (``b``, ``gamma``) are unbounded where the formula is defined for either sign, so a curve that
  rises gets a negative rate instead of a fit stuck at a bound.

Limiting forms. Several families contain others as limits, which the optimiser can only
approach: ``shifted_power`` tends to ``power`` as ``s -> 0`` (with ``a`` growing) and to
``exponential`` as ``s, gamma -> inf`` with ``gamma / s`` fixed; ``power+c`` tends to
``logarithmic`` as ``gamma -> 0`` (``a -> inf``, ``c -> -inf``). When the data favour such a limit
the fit is flagged as not converged (a parameter at its bound, a singular Hessian, or the
gradient not zero while drifting): fit the limiting family instead.

Examples
--------
>>> import numpy as np
>>> from cramcog.dynamics.families import FAMILIES
>>> power = FAMILIES["power"]
>>> power.param_names
('a', 'gamma')
>>> float(power.mean(np.array([[4.0]]), np.array([[0.8, 0.5]]))[0, 0])
0.4
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import numpy as np

Array = np.ndarray
_TINY = 1e-12

# ACT-R's logistic noise s cannot be estimated together with the decay from one retention curve
# (only gamma/s is identifiable), so it is fixed. 0.25 is a common ACT-R setting of :ans; use
# make_actr_family(noise=...) for another value.
ACTR_DEFAULT_NOISE = 0.25


@dataclass(frozen=True)
class Family:
    """One curve family: ``mean(t; params)`` with Jacobian, bounds, start values and provenance.

    Parameters
    ----------
    name
        Registry name, e.g. ``"power"`` or ``"power+c"``.
    formula
        Human-readable formula, e.g. ``"a * t**(-gamma)"``.
    param_names
        Names in the order used by ``mean``/``jacobian``/``start``.
    bounds
        ``(low, high)`` per parameter; supported: ``(-inf, inf)`` (identity) and ``(0, inf)``
        (optimised on the log scale).
    mean
        ``mean(t, p) -> mu``; ``t`` shape (B, m) or (1, m), ``p`` shape (B, k) -> (B, m).
    jacobian
        ``jacobian(t, p) -> dmu/dp`` of shape (B, m, k).
    start
        ``start(t, y) -> p0`` of shape (B, k): starting values from a linearising regression.
    needs_positive_t
        True if the formula needs ``t > 0`` (log t or t**-gamma).
    doc, source
        What the family is, and where it comes from in the literature.
    bounded01
        True if the mean stays inside (0, 1) whatever the parameters (a logistic link).
    shape_param
        Name of the dimensionless shape parameter (invariant to rescaling ``t``), or None if the
        family has none. Defaults to ``"gamma"`` when the family has a ``gamma``.
    amplitude_first
        True if the mean is affine in the FIRST parameter with a positive slope,
        ``mean = p[0] * f(t) + g(t)`` with ``f > 0`` (an amplitude ``a``, ``f`` and ``g``
        depending on the other parameters). A binomial fit then keeps the mean inside [0, 1] at
        points observed at 0% or 100% by moving the amplitude, and can find a maximum that
        lies on that edge (see :mod:`cramcog.dynamics.optimizer`).
    nonnegative
        True if the mean is >= 0 whatever the parameters (an amplitude times a positive
        shape): a 0% point can then never hold the fit at 0.
    can_rise
        False for a family that can only fall whatever its parameters (``hyperbolic``): it is
        left out of the ranking of a rising curve (see :func:`curve_direction`).
    rises_to_plateau
        True if the family rises to a plateau by itself (the logistic with ``slope > 0``): its
        ``+c`` variant needs no rising form (:func:`rising_form`), which would only mirror the
        same curves (``c - a L(z) = a L(-z) + c - a``).
    rising
        True for the rising form ``c - base(t)`` of a ``+c`` family (:func:`rising_form`).
    time_dims
        Power of t in each parameter's unit (``s``: 1, a rate: -1, dimensionless: 0), or None
        for all 0. A log-scaled parameter with a time unit is "at its bound" when it runs
        far outside the data's range of t, a verdict that does not depend on the unit of t.
    degenerate
        ``degenerate(t, p) -> (B,) str``: why an estimate is a degenerate shape ("" if it is
        not), e.g. a Weibull with ``k <= 0``; None if the family has none. Degenerate fits are
        left out of the ranking.

    Examples
    --------
    >>> from cramcog.dynamics.families import FAMILIES
    >>> FAMILIES["hyperbolic"].formula
    'a / (1 + b * t)'
    """

    name: str
    formula: str
    param_names: tuple[str, ...]
    bounds: tuple[tuple[float, float], ...]
    mean: Callable[[Array, Array], Array] = field(repr=False)
    jacobian: Callable[[Array, Array], Array] = field(repr=False)
    start: Callable[[Array, Array], Array] = field(repr=False)
    needs_positive_t: bool = True
    doc: str = ""
    source: str = ""
    bounded01: bool = False  # the mean stays in (0, 1) for any parameters (a probability link)
    shape_param: str | None = None  # dimensionless shape parameter ("gamma", "k", "slope")
    amplitude_first: bool = False  # mean = p[0] * f + g with f > 0 (see above)
    nonnegative: bool = False      # the mean is >= 0 for any parameters
    can_rise: bool = True          # False: the family can only fall (see curve_direction)
    rises_to_plateau: bool = False  # rises to a plateau with a > 0 (logistic, slope > 0)
    rising: bool = False           # the rising form c - base(t) of a +c family (rising_form)
    time_dims: tuple[float, ...] | None = None  # power of t in each parameter's unit
    degenerate: Callable[[Array, Array], Array] | None = field(default=None, repr=False)

    def __post_init__(self):
        if not self.name or not isinstance(self.name, str):
            raise ValueError("Family.name must be a non-empty string")
        if len(self.bounds) != len(self.param_names):
            raise ValueError(f"family {self.name!r}: {len(self.param_names)} parameters but "
                             f"{len(self.bounds)} bounds")
        if len(set(self.param_names)) != len(self.param_names):
            raise ValueError(f"family {self.name!r}: duplicate parameter names {self.param_names}")
        for pname, (low, high) in zip(self.param_names, self.bounds):
            if (low, high) not in ((-np.inf, np.inf), (0.0, np.inf)):
                raise ValueError(f"family {self.name!r}, parameter {pname!r}: bounds {(low, high)} "
                                 "unsupported; use (-inf, inf) or (0, inf)")
        if self.shape_param is None and "gamma" in self.param_names:
            object.__setattr__(self, "shape_param", "gamma")
        if self.shape_param is not None and self.shape_param not in self.param_names:
            raise ValueError(f"family {self.name!r}: shape_param {self.shape_param!r} is not one "
                             f"of its parameters {self.param_names}")
        if self.time_dims is None:
            object.__setattr__(self, "time_dims", (0.0,) * len(self.param_names))
        if len(self.time_dims) != len(self.param_names):
            raise ValueError(f"family {self.name!r}: {len(self.param_names)} parameters but "
                             f"{len(self.time_dims)} time_dims")

    # -- parameter transforms: internal (unbounded) theta <-> natural p ---------------------
    @property
    def n_params(self) -> int:
        return len(self.param_names)

    @cached_property
    def log_scaled(self) -> np.ndarray:
        """Boolean mask (k,): parameters optimised on the log scale (bounded below by 0)."""
        mask = np.array([low == 0.0 for low, _ in self.bounds])
        mask.setflags(write=False)  # cached: shared by every caller
        return mask

    @property
    def has_gamma(self) -> bool:
        """True if the family has a power-law exponent ``gamma``."""
        return "gamma" in self.param_names

    is_power_law = has_gamma  # older name

    def to_natural(self, theta: Array) -> Array:
        """Internal parameters (..., k) -> natural parameters (..., k)."""
        return np.where(self.log_scaled, np.exp(np.minimum(np.maximum(theta, -700.0), 700.0)),
                        theta)

    def to_internal(self, p: Array) -> Array:
        """Natural parameters (..., k) -> internal parameters (..., k)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.log_scaled, np.log(np.maximum(p, 1e-300)), p)

    def dnatural(self, theta: Array) -> Array:
        """d p / d theta, elementwise (..., k): p for log-scaled parameters, 1 otherwise."""
        return np.where(self.log_scaled, np.exp(np.minimum(np.maximum(theta, -700.0), 700.0)),
                        1.0)


# ----------------------------------------------------------------------------- start helpers

def _linfit(x: Array, z: Array, w: Array | None = None) -> tuple[Array, Array]:
    """Batched weighted regression z = c0 + c1 x over the last axis; returns (c0, c1), each (B,)."""
    x, z = np.broadcast_arrays(x, z)
    w = np.ones_like(z) if w is None else np.broadcast_to(w, z.shape)
    sw = w.sum(-1)
    xm, zm = (w * x).sum(-1) / sw, (w * z).sum(-1) / sw
    sxx = (w * (x - xm[:, None]) ** 2).sum(-1)
    slope = np.where(sxx > 0, (w * (x - xm[:, None]) * (z - zm[:, None])).sum(-1)
                     / np.where(sxx > 0, sxx, 1.0), 0.0)
    return zm - slope * xm, slope


def _safe_log(y: Array) -> Array:
    """log of y with non-positive values floored at a small fraction of the curve's scale."""
    floor = np.maximum(np.abs(y).max(-1, keepdims=True) * 1e-3, 1e-12)
    return np.log(np.maximum(y, floor))


def _log_weights(y: Array) -> Array:
    # Weighting log-regressions by y^2 approximates least squares on the original scale, so a
    # noisy near-zero tail does not dominate the starting values.
    return np.maximum(y, 1e-6 * np.abs(y).max(-1, keepdims=True) + 1e-300) ** 2


def _positive_rate(rate: Array, t: Array) -> Array:
    """A usable positive rate: fall back to 1/median(t) where the regression gave <= 0."""
    tm = np.broadcast_to(t, t.shape).max(-1)
    fallback = 1.0 / np.maximum(tm, _TINY)
    return np.where(np.isfinite(rate) & (rate > 0), rate, fallback)


def _best_start(t, y, mean, candidates):
    """Of several (B, k) candidate starts keep, per curve, the one with the smallest SSE."""
    best_p, best_sse = None, None
    for p in candidates:
        with np.errstate(all="ignore"):
            sse = ((mean(t, p) - y) ** 2).sum(-1)
        sse = np.where(np.isfinite(sse) & np.isfinite(p).all(-1), sse, np.inf)
        if best_p is None:
            best_p, best_sse = p, sse
        else:
            better = sse < best_sse
            best_p = np.where(better[:, None], p, best_p)
            best_sse = np.minimum(best_sse, sse)
    return best_p


# ----------------------------------------------------------------------------- direction

#: A curve rises (falls) when Spearman's rank correlation of y with t is at least (at most
#: minus) this; in between it has no clear direction (see :func:`curve_direction`).
DIRECTION_RHO = 0.5


def _ranks(x: Array) -> Array:
    """Ranks (0-based, ties averaged) along the last axis of a 2-D array."""
    nb, m = x.shape
    order = np.argsort(x, axis=-1, kind="stable")
    xs = np.take_along_axis(x, order, axis=-1)
    pos = np.broadcast_to(np.arange(m), (nb, m))
    first = np.ones((nb, m), bool)
    first[:, 1:] = xs[:, 1:] != xs[:, :-1]                  # a tie run starts here
    last = np.ones((nb, m), bool)
    last[:, :-1] = first[:, 1:]                              # ... ends here
    start = np.maximum.accumulate(np.where(first, pos, 0), axis=-1)
    end = np.minimum.accumulate(np.where(last, pos, m - 1)[:, ::-1], axis=-1)[:, ::-1]
    ranks = np.empty((nb, m))
    np.put_along_axis(ranks, order, 0.5 * (start + end), axis=-1)
    return ranks


def spearman_rho(t, y) -> Array:
    """Spearman's rank correlation of each curve's ``y`` with ``t`` (ties get average ranks).

    Parameters
    ----------
    t : array_like
        (m,), (1, m) or (B, m) times.
    y : array_like
        (m,) or (B, m) observations.

    Returns
    -------
    numpy.ndarray
        (B,) correlations in [-1, 1]; 0 where ``t`` or ``y`` is constant.

    Examples
    --------
    >>> spearman_rho([1, 2, 3, 4], [0.1, 0.5, 0.4, 0.9]).round(2).tolist()
    [0.8]
    """
    yb = np.atleast_2d(np.asarray(y, dtype=float))
    tb = np.broadcast_to(np.atleast_2d(np.asarray(t, dtype=float)), yb.shape)
    rt, ry = _ranks(np.ascontiguousarray(tb)), _ranks(yb)
    rt = rt - rt.mean(-1, keepdims=True)
    ry = ry - ry.mean(-1, keepdims=True)
    den = np.sqrt((rt * rt).sum(-1) * (ry * ry).sum(-1))
    return np.where(den > 0, (rt * ry).sum(-1) / np.where(den > 0, den, 1.0), 0.0)


def curve_direction(t, y, threshold: float = DIRECTION_RHO) -> Array:
    """Whether each curve rises (+1), falls (-1) or has no clear direction (0).

    A curve rises when Spearman's rank correlation of ``y`` with ``t`` is at least
    ``threshold`` and falls when it is at most ``-threshold``: a monotone trend, whatever its
    shape. Forgetting curves fall; learning and practice curves (accuracy over blocks) rise;
    response times over practice fall.

    Parameters
    ----------
    t, y : array_like
        As for :func:`spearman_rho`.
    threshold : float
        The |rho| from which a curve has a direction.

    Returns
    -------
    numpy.ndarray
        (B,) ints in {-1, 0, 1}.

    Examples
    --------
    >>> t = [1, 2, 3, 4, 5, 6, 7, 8]
    >>> curve_direction(t, [0, .53, .67, .80, .89, .92, .96, .95]).tolist()
    [1]
    >>> curve_direction(t, [.9, .7, .6, .5, .45, .4, .38, .35]).tolist()
    [-1]
    """
    rho = spearman_rho(t, y)
    return np.where(rho >= threshold, 1, np.where(rho <= -threshold, -1, 0))


# ----------------------------------------------------------------------------- base families

def _exp_mean(t, p):
    return p[:, 0, None] * np.exp(-p[:, 1, None] * t)


def _exp_jac(t, p):
    e = np.exp(-p[:, 1, None] * t)
    e, tt = np.broadcast_arrays(e, t)
    return np.stack([e, -tt * p[:, 0, None] * e], axis=-1)


def _exp_start(t, y):
    c0, c1 = _linfit(t, _safe_log(y), _log_weights(y))
    return np.stack([np.exp(c0), -c1], axis=-1)


def _pow_mean(t, p):
    return p[:, 0, None] * t ** (-p[:, 1, None])


def _pow_jac(t, p):
    base = t ** (-p[:, 1, None])
    base, lt = np.broadcast_arrays(base, np.log(t))
    return np.stack([base, -lt * p[:, 0, None] * base], axis=-1)


def _pow_start(t, y):
    # log-log linear regression: log y = log a - gamma log t
    c0, c1 = _linfit(np.log(t), _safe_log(y), _log_weights(y))
    return np.stack([np.exp(c0), -c1], axis=-1)


def _spow_mean(t, p):
    return p[:, 0, None] * (1.0 + t / p[:, 1, None]) ** (-p[:, 2, None])


def _spow_jac(t, p):
    a, s, g = p[:, 0, None], p[:, 1, None], p[:, 2, None]
    u = 1.0 + t / s
    f = a * u ** (-g)
    tt = np.broadcast_to(t, f.shape)
    return np.stack([u ** (-g) + 0 * f, g * f * tt / (s * s * u), -np.log(u) * f], axis=-1)


def _spow_start(t, y):
    # For a grid of shifts s (spanning the sampled times), log y is linear in log(1 + t/s);
    # keep the s whose linearised fit has the smallest squared error on the original scale.
    tb = np.broadcast_to(t, y.shape)
    tpos = np.where(tb > 0, tb, np.nan)
    lo, hi = np.nanmin(tpos, -1), np.nanmax(tpos, -1)
    lo = np.where(np.isfinite(lo), lo, 1.0)
    hi = np.where(np.isfinite(hi), hi, 1.0)
    cands = []
    for frac in np.linspace(-1.0, 1.0, 9):
        s = np.exp(np.log(lo) + (frac + 1) / 2 * (np.log(hi) - np.log(lo)))  # (B,)
        c0, c1 = _linfit(np.log1p(tb / s[:, None]), _safe_log(y), _log_weights(y))
        cands.append(np.stack([np.exp(c0), s, -c1], axis=-1))
    return _best_start(t, y, _spow_mean, cands)


def _hyp_mean(t, p):
    return p[:, 0, None] / (1.0 + p[:, 1, None] * t)


def _hyp_jac(t, p):
    d = 1.0 + p[:, 1, None] * t
    d, tt = np.broadcast_arrays(d, t)
    return np.stack([1.0 / d, -p[:, 0, None] * tt / d ** 2], axis=-1)


def _hyp_start(t, y):
    # 1/y = 1/a + (b/a) t ; weighted by y^2 to undo the 1/y noise amplification
    yf = np.maximum(y, 1e-3 * np.abs(y).max(-1, keepdims=True) + 1e-300)
    c0, c1 = _linfit(t, 1.0 / yf, yf ** 2)
    a = np.where(c0 > 0, 1.0 / np.where(c0 > 0, c0, 1.0), np.abs(y).max(-1))
    return np.stack([a, _positive_rate(c1 * a, t)], axis=-1)


def _esq_mean(t, p):
    return p[:, 0, None] * np.exp(-p[:, 1, None] * np.sqrt(t))


def _esq_jac(t, p):
    r = np.sqrt(t)
    e = np.exp(-p[:, 1, None] * r)
    e, rr = np.broadcast_arrays(e, r)
    return np.stack([e, -rr * p[:, 0, None] * e], axis=-1)


def _esq_start(t, y):
    c0, c1 = _linfit(np.sqrt(t), _safe_log(y), _log_weights(y))
    return np.stack([np.exp(c0), -c1], axis=-1)


def _log_mean(t, p):
    return p[:, 0, None] - p[:, 1, None] * np.log(t)


def _log_jac(t, p):
    lt = np.broadcast_to(np.log(t), (p.shape[0], np.shape(t)[-1]))
    return np.stack([np.ones_like(lt), -lt], axis=-1)


def _log_start(t, y):
    c0, c1 = _linfit(np.log(t), y)
    return np.stack([c0, -c1], axis=-1)


def _levels(y):
    """Candidate upper levels a for sigmoid starts: a little above the curve's maximum."""
    ymax = np.abs(y).max(-1)
    span = np.ptp(y, axis=-1)
    return [ymax + f * span + 1e-12 for f in (0.01, 0.05, 0.2, 0.6)]


# Logistic in t, slope relative to the midpoint (scale-free; see the registry entry's doc).

def _logistic_mean(t, p):
    z = p[:, 2, None] * (t / p[:, 1, None] - 1.0)
    return p[:, 0, None] * 0.5 * (1.0 + np.tanh(0.5 * z))          # a * logistic(z), no overflow


def _logistic_jac(t, p):
    a, m, k = p[:, 0, None], p[:, 1, None], p[:, 2, None]
    tt = np.broadcast_to(t, (p.shape[0], np.shape(t)[-1]))
    lg = 0.5 * (1.0 + np.tanh(0.5 * k * (tt / m - 1.0)))
    d = a * lg * (1.0 - lg)                                         # d mean / dz
    return np.stack([lg, -d * k * tt / (m * m), d * (tt / m - 1.0)], axis=-1)


def _logistic_start(t, y):
    # logit(y / a) is linear in t: z = c0 + c1 t, so t50 = -c0 / c1 and slope = c1 t50 = -c0.
    # Weights yc (1 - yc) undo the logit's noise amplification near 0 and a.
    tb = np.broadcast_to(t, y.shape)
    tmax = np.maximum(tb.max(-1), _TINY)
    cands = []
    for a in _levels(y):
        yc = np.clip(y / a[:, None], 0.02, 0.98)
        c0, c1 = _linfit(tb, np.log(yc / (1 - yc)), yc * (1 - yc))
        c1 = np.where(np.abs(c1) * tmax > 1e-3, c1, np.where(c1 < 0, -1.0, 1.0) / tmax)
        t50 = -c0 / c1
        # Midpoint before the data (a curve seen only on one side of its midpoint): start it at
        # the median time, keeping the fitted rate.
        t50 = np.where(np.isfinite(t50) & (t50 > 0), t50, np.median(tb, -1) + _TINY)
        cands.append(np.stack([a, t50, c1 * t50], axis=-1))
    return _best_start(t, y, _logistic_mean, cands)


# Weibull / stretched exponential a exp(-(t/s)^k).

def _weibull_u(t, p):
    """(t / s)**k, with the t = 0 limit (0 for k > 0, inf for k < 0) taken exactly."""
    s, k = p[:, 1, None], p[:, 2, None]
    tt = np.broadcast_to(t, (p.shape[0], np.shape(t)[-1]))
    with np.errstate(divide="ignore", over="ignore"):
        return np.where(tt > 0, (np.where(tt > 0, tt, 1.0) / s) ** k,
                        np.where(k > 0, 0.0, np.inf)), tt


def _weibull_mean(t, p):
    u, _ = _weibull_u(t, p)
    return p[:, 0, None] * np.exp(-u)


def _weibull_jac(t, p):
    a, s, k = p[:, 0, None], p[:, 1, None], p[:, 2, None]
    u, tt = _weibull_u(t, p)
    e = np.exp(-u)
    with np.errstate(invalid="ignore", divide="ignore"):
        ue = np.where(np.isfinite(u), u * e, 0.0)                   # u e^-u -> 0 as u -> inf
        log_ts = np.log(np.where(tt > 0, tt, 1.0) / s)
        d_k = np.where(tt > 0, -a * ue * log_ts, 0.0)               # t = 0: u log u -> 0 too
    return np.stack([e, a * ue * k / s, d_k], axis=-1)


def _weibull_start(t, y):
    # ln(-ln(y / a)) = k ln t - k ln s on the t > 0 points, weighted by (y u)^2 (delta method).
    tb = np.broadcast_to(t, y.shape)
    pos = tb > 0
    lt = np.log(np.where(pos, tb, 1.0))
    cands = []
    for a in _levels(y):
        yc = np.clip(y / a[:, None], 1e-3, 1 - 1e-3)
        u = -np.log(yc)
        c0, c1 = _linfit(lt, np.log(u), np.where(pos, (yc * u) ** 2, 0.0) + 1e-300)
        k = np.where(np.abs(c1) > 1e-3, c1, np.where(c1 < 0, -0.1, 0.1))
        s = np.exp(np.clip(-c0 / k, -700, 700))
        cands.append(np.stack([a, s, k], axis=-1))
    return _best_start(t, y, _weibull_mean, cands)


def _weibull_degenerate(t, p):
    # k <= 0: (t / s)**k is infinite at t = 0 (k < 0) or constant (k = 0): no Weibull decay.
    return np.array([f"shape k = {k:.3g} <= 0: (t / s)**k is singular at t = 0, so this is "
                     "not a Weibull curve (a rising curve is fitted by weibull+c, "
                     "c - a exp(-(t/s)^k))" if not k > 0 else "" for k in p[:, 2]], dtype=object)


def make_actr_family(noise: float = ACTR_DEFAULT_NOISE) -> Family:
    """The ACT-R base-level family with logistic noise ``s = noise`` held fixed.

    One study at time 0 leaves a trace whose base-level activation at lag ``t`` is
    ``A(t) = ln(t**-gamma) + beta = beta - gamma ln t`` (ACT-R's decay ``d`` is called ``gamma``
    here, like every power-law exponent in cramcog). Recall probability is the logistic
    ``P = 1 / (1 + exp(-(A - tau) / s))``. Only ``beta - tau`` is identifiable, so it is one
    parameter ``b``: ``P(t) = 1 / (1 + exp((gamma ln t - b) / s))``. With one retention curve
    ``gamma`` and ``s`` are not separately identifiable, so ``s`` is fixed.

    Parameters
    ----------
    noise
        The logistic noise ``s`` (> 0).

    Returns
    -------
    Family

    Examples
    --------
    >>> fam = make_actr_family(0.5)
    >>> fam.name, fam.param_names
    ('actr', ('b', 'gamma'))
    """
    if not (isinstance(noise, (int, float)) and np.isfinite(noise) and noise > 0):
        raise ValueError(f"ACT-R noise s must be a positive finite number, got {noise!r}")
    s = float(noise)

    def mean(t, p):
        z = (p[:, 0, None] - p[:, 1, None] * np.log(t)) / s
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # logistic(z), overflow-free

    def jac(t, p):
        f = mean(t, p)
        d = f * (1.0 - f) / s
        lt = np.broadcast_to(np.log(t), f.shape)
        return np.stack([d, -lt * d], axis=-1)

    def start(t, y):
        yc = np.clip(y, 0.01, 0.99)
        c0, c1 = _linfit(np.log(t), np.log(yc / (1 - yc)))  # logit y = b/s - (gamma/s) ln t
        return np.stack([c0 * s, -c1 * s], axis=-1)

    return Family(
        name="actr", formula=f"1 / (1 + exp((gamma * ln t - b) / {s:g}))",
        param_names=("b", "gamma"), bounds=((-np.inf, np.inf), (-np.inf, np.inf)),
        mean=mean, jacobian=jac, start=start, needs_positive_t=True, bounded01=True,
        nonnegative=True,
        doc=("ACT-R base-level learning: activation b - gamma ln t from one power-decayed trace, "
             f"logistic link to recall probability with fixed noise s = {s:g}."),
        source=("Anderson & Schooler (1991), Psychological Science 2:396-408; Anderson & Lebiere "
                "(1998), The Atomic Components of Thought; Pavlik & Anderson (2005), Cognitive "
                "Science 29:559-586."))


def with_asymptote(base: Family) -> Family:
    """``base`` plus a free asymptote ``c``: ``mean = base(t) + c``, named ``base.name + '+c'``.

    Parameters
    ----------
    base
        A family without an asymptote.

    Returns
    -------
    Family

    Examples
    --------
    >>> from cramcog.dynamics.families import FAMILIES
    >>> with_asymptote(FAMILIES["power"]).param_names
    ('a', 'gamma', 'c')
    """

    def mean(t, p):
        return base.mean(t, p[:, :-1]) + p[:, -1, None]

    def jac(t, p):
        jb = base.jacobian(t, p[:, :-1])
        return np.concatenate([jb, np.ones(jb.shape[:-1] + (1,))], axis=-1)

    def start(t, y):
        # Try a few asymptotes below the curve's minimum and keep the best linearised start.
        ymin = y.min(-1)
        span = y.max(-1) - ymin
        cands = []
        for c0 in (np.where(ymin > 0, 0.0, ymin - 0.05 * span),
                   np.where(ymin > 0, 0.5 * ymin, ymin - 0.2 * span),
                   np.where(ymin > 0, 0.9 * ymin, ymin - 0.5 * span)):
            pb = base.start(t, y - c0[:, None])
            cands.append(np.concatenate([pb, c0[:, None]], axis=-1))
        return _best_start(t, y, mean, cands)

    return Family(
        name=base.name + "+c", formula=f"{base.formula} + c",
        param_names=base.param_names + ("c",), bounds=base.bounds + ((-np.inf, np.inf),),
        mean=mean, jacobian=jac, start=start, needs_positive_t=base.needs_positive_t,
        doc=base.doc + " Plus a free asymptote c (the level the curve decays towards).",
        source=base.source, shape_param=base.shape_param, amplitude_first=base.amplitude_first,
        can_rise=base.can_rise, rises_to_plateau=base.rises_to_plateau,
        time_dims=base.time_dims + (0.0,), degenerate=_without_c(base.degenerate))


def _without_c(check):
    """A base family's ``degenerate`` check for its +c forms (the last parameter is c)."""
    if check is None:
        return None
    return lambda t, p: check(t, p[:, :-1])


def rising_form(base: Family) -> Family:
    """The rising form of ``base + c``: ``mean = c - base(t)``, a learning or practice curve
    that rises towards the asymptote ``c`` (``a > 0`` is the size of the rise).

    It has the name, parameters and bounds of ``base.name + "+c"``, so it is the same model in
    a ranking, fitted in the direction of a rising curve: ``fit_consolidation_curve`` uses it
    for the ``+c`` family of a curve that rises (:func:`curve_direction`); ``RISING`` holds one
    per ``+c`` family whose base falls (all but the logistic, which rises by itself with
    ``slope > 0``).

    Parameters
    ----------
    base
        A family without an asymptote, whose mean is an amplitude times a falling shape.

    Returns
    -------
    Family

    Examples
    --------
    >>> import numpy as np
    >>> from cramcog.dynamics.families import FAMILIES
    >>> fam = rising_form(FAMILIES["exponential"])
    >>> fam.name, fam.formula
    ('exponential+c', 'c - a * exp(-b * t)')
    >>> fam.mean(np.array([[0.0, 1e9]]), np.array([[0.6, 0.5, 0.95]])).round(2).tolist()
    [[0.35, 0.95]]
    """

    def mean(t, p):
        return p[:, -1, None] - base.mean(t, p[:, :-1])

    def jac(t, p):
        jb = base.jacobian(t, p[:, :-1])
        return np.concatenate([-jb, np.ones(jb.shape[:-1] + (1,))], axis=-1)

    def start(t, y):
        # A few asymptotes above the curve's maximum, each with the base family fitted to the
        # falling c - y; the best linearised start is kept.
        ymax = y.max(-1)
        span = ymax - y.min(-1)
        cands = []
        for frac in (0.02, 0.1, 0.3):
            c0 = ymax + frac * span
            pb = base.start(t, c0[:, None] - y)
            cands.append(np.concatenate([pb, c0[:, None]], axis=-1))
        return _best_start(t, y, mean, cands)

    return Family(
        name=base.name + "+c", formula=f"c - {base.formula}",
        param_names=base.param_names + ("c",), bounds=base.bounds + ((-np.inf, np.inf),),
        mean=mean, jacobian=jac, start=start, needs_positive_t=base.needs_positive_t,
        doc=base.doc + (" Rising form: c minus the decay, a learning or practice curve rising "
                        "towards the asymptote c (a > 0 is the size of the rise)."),
        source=base.source, shape_param=base.shape_param, rising=True,
        time_dims=base.time_dims + (0.0,), degenerate=_without_c(base.degenerate))


_POS, _REAL = (0.0, np.inf), (-np.inf, np.inf)

_BASE = [
    Family("exponential", "a * exp(-b * t)", ("a", "b"), (_POS, _REAL),
           _exp_mean, _exp_jac, _exp_start, needs_positive_t=False,
           amplitude_first=True, nonnegative=True, time_dims=(0.0, -1.0),
           doc="Exponential decay: a constant hazard of forgetting.",
           source="Ebbinghaus (1885), Ueber das Gedaechtnis; the constant-rate baseline in "
                  "Rubin & Wenzel (1996), Psychological Review 103:734-760."),
    Family("power", "a * t**(-gamma)", ("a", "gamma"), (_POS, _REAL),
           _pow_mean, _pow_jac, _pow_start, needs_positive_t=True,
           amplitude_first=True, nonnegative=True,
           doc="Power-law decay: the hazard falls as 1/t (Jost's law).",
           source="Wixted & Ebbesen (1991), Psychological Science 2:409-415; Rubin & Wenzel "
                  "(1996), Psychological Review 103:734-760."),
    Family("shifted_power", "a * (1 + t / s)**(-gamma)", ("a", "s", "gamma"), (_POS, _POS, _REAL),
           _spow_mean, _spow_jac, _spow_start, needs_positive_t=False,
           amplitude_first=True, nonnegative=True, time_dims=(0.0, 1.0, 0.0),
           doc="Shifted power law: finite at t = 0, power-law for t >> s (the form FSRS uses).",
           source="Wickelgren (1974), Memory & Cognition 2:775-780; Wixted & Carpenter (2007), "
                  "Psychological Science 18:133-134; FSRS (open-spaced-repetition) forgetting "
                  "curve R = (1 + F t / S)**(-decay)."),
    Family("hyperbolic", "a / (1 + b * t)", ("a", "b"), (_POS, _POS),
           _hyp_mean, _hyp_jac, _hyp_start, needs_positive_t=False,
           amplitude_first=True, nonnegative=True, can_rise=False, time_dims=(0.0, -1.0),
           doc="Hyperbolic decay (b > 0 keeps the curve free of a pole at t > 0), so it can "
               "only fall; hyperbolic+c on a rising curve is the rising form c - a / (1 + b t).",
           source="Rubin & Wenzel (1996), Psychological Review 103:734-760; Mazur (1987) "
                  "hyperbolic discounting form."),
    Family("exp_sqrt", "a * exp(-b * sqrt(t))", ("a", "b"), (_POS, _REAL),
           _esq_mean, _esq_jac, _esq_start, needs_positive_t=False,
           amplitude_first=True, nonnegative=True, time_dims=(0.0, -0.5),
           doc="Exponential in the square root of time (a stretched exponential, exponent 1/2).",
           source="Rubin & Wenzel (1996), Psychological Review 103:734-760 (one of their "
                  "four best-fitting two-parameter forms)."),
    Family("logarithmic", "a - b * ln(t)", ("a", "b"), (_REAL, _REAL),
           _log_mean, _log_jac, _log_start, needs_positive_t=True, amplitude_first=True,
           doc="Logarithmic decay (linear in log time); unbounded, so it has no +c variant.",
           source="Ebbinghaus (1885) savings fit; Rubin & Wenzel (1996), Psychological Review "
                  "103:734-760."),
    Family("logistic", "a / (1 + exp(-slope * (t / t50 - 1)))", ("a", "t50", "slope"),
           (_POS, _POS, _REAL), _logistic_mean, _logistic_jac, _logistic_start,
           needs_positive_t=False, shape_param="slope", amplitude_first=True,
           nonnegative=True, time_dims=(0.0, 1.0, 0.0), rises_to_plateau=True,
           doc=("Logistic (sigmoid) in t: a strategy shift or a consolidation step. t50 is the "
                "midpoint (half of a), slope = t50 x the logistic's rate = d logit(y/a) / d ln t "
                "at the midpoint. Written this way slope is dimensionless: rescaling t (exposures "
                "vs practice blocks, hours vs days) changes t50 only, so slopes of curves "
                "measured in different units can be compared. slope > 0 rises, slope < 0 falls; "
                "the curve covers 27%-73% of a between t50 (1 -+ 1/|slope|). Not the "
                "log-logistic 1 / (1 + (t/t50)^k), also scale-free, whose tail is a power law "
                "t^-k: it could not tell a sigmoid from a power law, which is what a "
                "strategy-shift comparison asks (CMPL vs instance theory)."),
           source=("Verhulst (1838), Correspondance mathematique et physique 10:113-121; "
                   "Rickard (1997), Journal of Experimental Psychology: General 126:288-311 "
                   "(CMPL: the shift to retrieval is a step per item, a sigmoid on average, not "
                   "a power law); Logan (1988), Psychological Review 95:492-527 (instance "
                   "theory); Delaney, Reder, Staszewski & Ritter (1998), Psychological Science "
                   "9:1-7.")),
    Family("weibull", "a * exp(-(t / s)**k)", ("a", "s", "k"), (_POS, _POS, _REAL),
           _weibull_mean, _weibull_jac, _weibull_start, needs_positive_t=False,
           amplitude_first=True, nonnegative=True, time_dims=(0.0, 1.0, 0.0),
           shape_param="k", degenerate=_weibull_degenerate,
           doc=("Weibull / stretched exponential: a hazard that changes as a power of t. k is "
                "dimensionless (rescaling t changes the scale s only): k = 1 is exponential, "
                "k < 1 stretched (a hazard falling with time, heavier tail), k > 1 compressed "
                "(a delayed, step-like fall), k = 1/2 is exp_sqrt. k <= 0 is degenerate "
                "((t/s)^k is singular at t = 0) and left out of the ranking; the rising Weibull "
                "is weibull+c on a rising curve: c - a exp(-(t/s)^k)."),
           source=("Weibull (1951), Journal of Applied Mechanics 18:293-297; the stretched "
                   "exponential of Kohlrausch (1854) and Williams & Watts (1970), Transactions "
                   "of the Faraday Society 66:80-85; it generalises exp_sqrt, among the best "
                   "two-parameter forgetting functions of Rubin & Wenzel (1996), Psychological "
                   "Review 103:734-760.")),
]


def _build_registry() -> dict[str, Family]:
    reg: dict[str, Family] = {}
    for fam in _BASE:
        reg[fam.name] = fam
        if fam.name != "logarithmic":
            reg[fam.name + "+c"] = with_asymptote(fam)
    reg["actr"] = make_actr_family()
    return reg


#: name -> Family; ``family="all"`` fits every entry.
FAMILIES: dict[str, Family] = _build_registry()

#: name -> the rising form (c - base(t), :func:`rising_form`) of that ``+c`` family, used for a
#: curve that rises; every ``+c`` family but ``logistic+c`` (the logistic rises by itself).
RISING: dict[str, Family] = {fam.name + "+c": rising_form(fam) for fam in _BASE
                             if fam.name + "+c" in FAMILIES and fam.amplitude_first
                             and not fam.rises_to_plateau}


def oriented(fam: Family, direction) -> Family:
    """``fam``, or its rising form (``RISING``) where most of the curves rise.

    Parameters
    ----------
    fam
        A registered family.
    direction
        (B,) curve directions from :func:`curve_direction`.

    Returns
    -------
    Family
        The rising form ``c - base(t)`` of a ``+c`` family when more curves rise than fall;
        else ``fam`` itself (a curve without a clear direction is fitted as before, falling).

    Examples
    --------
    >>> oriented(FAMILIES["power+c"], [1]).formula
    'c - a * t**(-gamma)'
    >>> oriented(FAMILIES["power+c"], [-1, 0]).formula
    'a * t**(-gamma) + c'
    """
    twin = RISING.get(fam.name)
    d = np.asarray(direction)
    if twin is None or fam is not FAMILIES.get(fam.name) or (d > 0).sum() <= (d < 0).sum():
        return fam
    return twin


def get_family(name) -> Family:
    """Look up a family by name (or pass a Family through); unknown names list the valid ones.

    Examples
    --------
    >>> get_family("power").formula
    'a * t**(-gamma)'
    """
    if isinstance(name, Family):
        return name
    if not isinstance(name, str):
        raise TypeError(f"family must be a name (str) or a Family, got {type(name).__name__}")
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown family {name!r}; valid names: {', '.join(FAMILIES)} "
                         "(or 'all', or a list of these)") from None
