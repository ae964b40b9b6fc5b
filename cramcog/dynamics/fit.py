"""``fit_consolidation_curve``: maximum-likelihood fits of forgetting / consolidation curves.

The pipeline for each family: validate the input (:mod:`cramcog.dynamics.data`), orient a
``+c`` family to the curves' direction (its rising form ``c - base(t)`` where most curves rise),
start from a linearising regression (log-log for the power law, log-linear for the exponential,
...), run the batched Levenberg-Marquardt optimiser on every curve at once, retry failed curves
from perturbed starts, check convergence at the optimum (Newton step in standard errors,
positive-definite Hessian, no parameter at a bound), leave degenerate shapes and falling-only
families on rising curves out of the ranking (:func:`_left_out`), then compute the goodness
of fit (deviance, Pearson dispersion), information criteria (AICc by default), Wald covariances
and the requested intervals. Parameters can be held fixed (``fixed``,
``chance``); binomial fits can be made robust to overdispersion (``overdispersion="quasi"``,
``cluster``).

Examples
--------
>>> import numpy as np
>>> from cramcog.dynamics import fit_consolidation_curve
>>> t = np.array([1, 2, 4, 8, 16, 32.0])
>>> recalled = np.array([41, 33, 29, 23, 20, 17])
>>> fit = fit_consolidation_curve(t, recalled, n=50, family="power", y_kind="successes")
>>> fit.likelihood, round(fit.params["gamma"], 2)
('binomial', 0.26)
"""
from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass

import numpy as np

from cramcog.dynamics.data import CurveData, as_curves
from cramcog.dynamics.families import (DIRECTION_RHO, FAMILIES, RISING, Family, curve_direction,
                                       get_family, oriented, spearman_rho)
from cramcog.dynamics.intervals import (BOOTSTRAP_KINDS, BootstrapResult, bootstrap_intervals,
                                        profile_intervals, wald_quantile)
from cramcog.dynamics.optimizer import LMResult, Problem, levenberg_marquardt
from cramcog.dynamics.ranking import FitSet
from cramcog.dynamics.result import FitResult

CI_METHODS = ("profile", "bootstrap", "wald", "none")
CRITERIA = ("aicc", "aic", "bic")
OVERDISPERSION = ("none", "quasi")
#: A binomial fit whose Pearson dispersion exceeds this (with a chi2 lack-of-fit p below
#: LACK_OF_FIT_P, divided by the number of curves of a batch) gets a warning: its plain
#: binomial intervals are too narrow.
DISPERSION_WARN = 1.5
LACK_OF_FIT_P = 0.01
#: With fewer points than this, a ranking whose best family has an Akaike weight below
#: WEAK_WEIGHT is reported with a warning (few points cannot separate the families).
FEW_POINTS = 10
WEAK_WEIGHT = 0.9


@dataclass(frozen=True)
class FitConfig:
    """Settings of one call (stored as the record's ``config_json``).

    Parameters
    ----------
    ci : str
        "profile" (default), "bootstrap", "wald" or "none".
    level : float
        Confidence level in (0, 1).
    n_boot : int
        Bootstrap replicates per curve (>= 20; used only with ci="bootstrap").
    seed : int
        Seed of the bootstrap draws and of the restart perturbations.
    bootstrap : str
        "parametric" (default), "nonparametric" or "cluster" (see
        :mod:`cramcog.dynamics.intervals`).
    criterion : str
        "aicc" (default), "aic" or "bic": how a FitSet ranks families.
    overdispersion : str
        "none" (default) or "quasi": scale binomial intervals by the Pearson dispersion.
    force : bool
        Fit families with fewer than k + 2 points (k free parameters, plus the noise variance
        for least squares); never needed for good data.
    """

    ci: str = "profile"           # profile likelihood: transform-invariant, calibrated
    level: float = 0.95           # two-sided confidence level
    n_boot: int = 1000            # bootstrap replicates per curve
    seed: int = 0                 # every run is seeded
    bootstrap: str = "parametric"  # draw from the fitted model (or resample, or clusters)
    criterion: str = "aicc"       # AIC with the small-sample correction (Hurvich & Tsai 1989)
    overdispersion: str = "none"  # "quasi": quasi-binomial intervals and QAIC
    force: bool = False           # allow fewer than k + 2 points

    def __post_init__(self):
        if self.ci not in CI_METHODS:
            raise ValueError(f"ci={self.ci!r}; use one of {CI_METHODS} (or None)")
        if not isinstance(self.level, (int, float)) or not 0 < self.level < 1:
            raise ValueError(f"level must be a number in (0, 1), e.g. 0.95; got {self.level!r}")
        if not isinstance(self.n_boot, (int, np.integer)) or self.n_boot < 20:
            raise ValueError(f"n_boot must be an integer >= 20; got {self.n_boot!r}")
        if not isinstance(self.seed, (int, np.integer)):
            raise TypeError(f"seed must be an integer; got {type(self.seed).__name__}")
        if self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0; got {self.seed}")
        if self.bootstrap not in BOOTSTRAP_KINDS:
            raise ValueError(f"bootstrap={self.bootstrap!r}; use one of {BOOTSTRAP_KINDS}")
        if self.criterion not in CRITERIA:
            raise ValueError(f"criterion={self.criterion!r}; use one of {CRITERIA}")
        if self.overdispersion not in OVERDISPERSION:
            raise ValueError(f"overdispersion={self.overdispersion!r}; use one of "
                             f"{OVERDISPERSION} (or None)")


# ----------------------------------------------------------------------------- which families

def _family_list(family, held: dict, chance) -> tuple[list[Family], dict, bool]:
    """Families to fit, those skipped (name -> why), and whether the user asked for "all".

    With a chance floor, named families without an asymptote are swapped for their "+c"
    variant (``power`` -> ``power+c`` with ``c`` held at the floor); "all" keeps only families
    that have every held parameter.
    """
    if isinstance(family, str) and family == "all":
        fams, is_all = list(FAMILIES.values()), True
    elif isinstance(family, (str, Family)):
        fams, is_all = [get_family(family)], False
    else:
        try:
            names = list(family)
        except TypeError:
            raise TypeError(f"family must be a name, 'all', or a list of names; got "
                            f"{type(family).__name__}") from None
        if not names:
            raise ValueError(f"family list is empty; choose from {', '.join(FAMILIES)}")
        fams, is_all = [get_family(f) for f in names], False
    if chance is not None and not is_all:
        swapped = []
        for fam in fams:
            if "c" not in fam.param_names:
                if fam.name + "+c" not in FAMILIES:
                    raise ValueError(f"chance={chance:g} holds the asymptote c at the chance "
                                     f"floor, but family {fam.name!r} has no asymptote (and no "
                                     f"'{fam.name}+c' variant); choose a family with '+c'")
                fam = FAMILIES[fam.name + "+c"]
            swapped.append(fam)
        fams = swapped
    if len({f.name for f in fams}) != len(fams):
        raise ValueError(f"family list has duplicates: {[f.name for f in fams]}")
    skipped = {}
    keep = []
    for fam in fams:
        lacking = [p for p in held if p not in fam.param_names]
        if not lacking:
            keep.append(fam)
        elif is_all:
            skipped[fam.name] = (f"family {fam.name!r} has no parameter {lacking} to hold "
                                 "fixed" + (" at the chance floor" if chance is not None else ""))
        else:
            raise ValueError(f"fixed={held}: family {fam.name!r} has no parameter {lacking}; "
                             f"its parameters are {fam.param_names}")
    return keep, skipped, is_all


def _held(fixed, chance) -> dict:
    """The parameters held fixed: ``fixed`` plus ``c = chance``; validated."""
    held = {}
    if fixed is not None:
        if not isinstance(fixed, dict):
            raise TypeError(f"fixed must be a dict name -> value, e.g. {{'c': 0.25}}; got "
                            f"{type(fixed).__name__}")
        held.update(fixed)
    if chance is not None:
        if not isinstance(chance, (int, float)) or not 0 <= chance < 1:
            raise ValueError(f"chance must be a number in [0, 1), e.g. 0.25 for 4-choice "
                             f"recognition; got {chance!r}")
        if "c" in held and held["c"] != chance:
            raise ValueError(f"chance={chance} and fixed={{'c': {held['c']}}} disagree")
        held["c"] = float(chance)
    for name, value in held.items():
        if not isinstance(name, str):
            raise TypeError(f"fixed parameter names must be strings, got {name!r}")
        if not isinstance(value, (int, float, np.integer, np.floating)) or \
                not np.isfinite(value):
            raise ValueError(f"fixed value of {name!r} must be a finite number, got {value!r}")
    return {k: float(v) for k, v in held.items()}


def _fixed_arrays(fam: Family, held: dict) -> tuple[np.ndarray, np.ndarray]:
    """(k,) mask of held parameters and (k,) their natural values (NaN where free)."""
    mask = np.array([p in held for p in fam.param_names])
    values = np.array([held.get(p, np.nan) for p in fam.param_names])
    for j, p in enumerate(fam.param_names):
        if mask[j] and fam.log_scaled[j] and values[j] <= 0:
            raise ValueError(f"family {fam.name!r}: {p} must be > 0, cannot be held at "
                             f"{values[j]:g}")
    return mask, values


def _unusable(fam: Family, curves: CurveData, n_held: int = 0, force: bool = False) -> str:
    """Why ``fam`` cannot be fitted to ``curves`` ("" if it can).

    The rule: k free parameters need k + 2 points (k + 3 for least squares, which also
    estimates the noise variance), so at least two residual degrees of freedom remain for the
    goodness of fit and AICc stays finite. ``force`` lowers it to k (k + 1): an exact fit.
    """
    k, m = fam.n_params - n_held, curves.n_points
    if fam.needs_positive_t and (curves.t <= 0).any():
        return (f"family {fam.name!r} ({fam.formula}) needs t > 0 but t has values <= 0; drop "
                "t = 0 points, shift t, or use a family defined at 0 (exponential, "
                "shifted_power, hyperbolic, exp_sqrt, logistic, weibull)")
    ls = curves.likelihood != "binomial"          # least squares, log-normal: + the variance
    need = k + (1 if ls else 0) + (0 if force else 2)
    if m < need:
        noise = " plus the noise variance" if ls else ""
        rule = ("" if force else f"; families need k + 2 points (k = {k} free parameters"
                f"{noise}) so that some data are left to judge the fit (force=True fits "
                "with fewer, leaving nothing to judge it)")
        return (f"family {fam.name!r} has {k} free parameters but the curves have only {m} "
                f"points: need at least {need}{rule}")
    return ""


# ----------------------------------------------------------------------------- fitting

def _clean_start(fam: Family, p0: np.ndarray) -> np.ndarray:
    th = fam.to_internal(p0)
    th = np.where(np.isfinite(th), th, 0.0)
    return np.clip(th, -20.0, 20.0)


def _start(fam: Family, prob: Problem, mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Internal starting values (B, k) with held parameters at their values. A "+c" family
    with c held starts from its base family fitted to y - c, when that is closer."""
    t_b = np.broadcast_to(prob.t, prob.y.shape)
    with np.errstate(all="ignore"):
        th0 = _clean_start(fam, fam.start(t_b, prob.y))
    if not mask.any():
        return th0
    th0[:, mask] = fam.to_internal(values)[mask]
    base = FAMILIES.get(fam.name[:-2]) if fam.name.endswith("+c") else None
    if base is not None and mask[-1] and fam.param_names[:-1] == base.param_names:
        with np.errstate(all="ignore"):   # the decay of y - c (falling) or of c - y (rising)
            pb = base.start(t_b, values[-1] - prob.y if fam.rising else prob.y - values[-1])
        alt = _clean_start(fam, np.concatenate([pb, np.full((pb.shape[0], 1), values[-1])],
                                               axis=-1))
        alt[:, mask] = fam.to_internal(values)[mask]
        with np.errstate(all="ignore"):
            o0 = prob.objective(fam.mean(prob.t, fam.to_natural(th0)))
            o1 = prob.objective(fam.mean(prob.t, fam.to_natural(alt)))
        th0 = np.where((np.nan_to_num(o1, nan=np.inf) < np.nan_to_num(o0, nan=np.inf))[:, None],
                       alt, th0)
    return th0


def _fit_points(fam: Family, prob: Problem, rng: np.random.Generator, n_restarts: int = 4,
                mask: np.ndarray | None = None, values: np.ndarray | None = None) -> LMResult:
    """Fit every curve; curves that fail are retried from perturbed starts (best kept).
    ``mask``/``values`` (k,) hold parameters at fixed natural values."""
    k = fam.n_params
    mask = np.zeros(k, bool) if mask is None else mask
    values = np.full(k, np.nan) if values is None else values
    th0 = _start(fam, prob, mask, values)
    held = np.broadcast_to(mask, th0.shape)
    res = levenberg_marquardt(fam, prob, th0, fixed=held)
    bad = np.flatnonzero(~res.converged)
    if bad.size == 0 or n_restarts == 0:
        return res
    # Perturb the start by a factor of e^(+-1.5) on log-scaled parameters and by up to +-150%
    # on the others: enough to leave a poor basin, seeded so reruns agree. All restarts of all
    # failed curves run in one batch (rows: restart-major); a curve keeps its first converged
    # restart, else the lowest objective found.
    jitter = np.where(mask, 0.0, rng.uniform(-1.5, 1.5, size=(n_restarts, bad.size, k)))
    base = th0[bad]
    # The additive part moves a parameter that starts at 0; for a rate or a time scale it is
    # measured in the data's unit of t (1 / max t for a rate), so restarts do not depend on it.
    tmax = np.abs(np.broadcast_to(prob.t, prob.y.shape)[bad]).max(-1, keepdims=True)
    dims = np.asarray(fam.time_dims)
    unit = np.where(dims != 0, np.where(tmax > 0, tmax, 1.0) ** dims, 0.1)
    trial = np.where(fam.log_scaled, base + jitter, base * (1 + jitter) + unit * jitter)
    rows = np.tile(bad, n_restarts)
    r2 = levenberg_marquardt(fam, prob.take(rows), trial.reshape(-1, k), fixed=held[rows],
                             max_iter=200)
    conv = r2.converged.reshape(n_restarts, bad.size)
    obj = np.where(np.isfinite(r2.obj), r2.obj, np.inf).reshape(n_restarts, bad.size)
    pick = np.where(conv.any(0), np.argmax(conv, 0), np.argmin(obj, 0))
    chosen = pick * bad.size + np.arange(bad.size)          # row of r2 per failed curve
    take = r2.converged[chosen] | (r2.obj[chosen] < res.obj[bad])
    idx, src = bad[take], chosen[take]
    for name in _LM_FIELDS:
        getattr(res, name)[idx] = getattr(r2, name)[src]
    return res


#: LMResult fields carried over when a curve's fit is replaced by a better one.
_LM_FIELDS = ("theta", "obj", "converged", "reason", "n_iter", "hessian", "grad", "boundary",
              "edge_pivot", "edge_row", "note")


def _loglik(prob: Problem, obj: np.ndarray) -> np.ndarray:
    """Log-likelihood from the objective (binomial: full, with the log binomial coefficient;
    least squares: Gaussian with the variance profiled out, sigma^2 = RSS / m)."""
    m = prob.y.shape[1]
    if prob.binomial:
        from scipy.special import gammaln
        n, s = prob.n, prob.y * prob.n
        log_coef = gammaln(n + 1) - gammaln(s + 1) - gammaln(n - s + 1)
        return (log_coef + prob._sat).sum(-1) - obj
    rss = 2.0 * obj
    ll = -0.5 * m * (np.log(2 * np.pi * np.maximum(rss, 1e-300) / m) + 1.0)
    # log-normal: the Gaussian of log y, with the Jacobian of the log, is a density of y
    return ll - np.log(prob.y).sum(-1) if prob.log else ll


def _goodness(fam: Family, prob: Problem, est: np.ndarray, obj: np.ndarray):
    """Deviance (binomial: 2 x obj; least squares: RSS, of log y for the log-normal) and Pearson
    chi2 per curve (B,)."""
    with np.errstate(all="ignore"):
        mu = fam.mean(prob.t, est)
        r2 = (np.log(prob.y) - np.log(mu)) ** 2 if prob.log else (prob.y - mu) ** 2
        if prob.binomial:
            m = np.clip(mu, 1e-12, 1 - 1e-12)
            pearson = (prob.n * r2 / (m * (1 - m))).sum(-1)
        else:
            pearson = r2.sum(-1)
    return 2.0 * obj, pearson


def _safe_inv(a: np.ndarray) -> np.ndarray:
    """Batched inverse of (B, k, k) matrices; the pseudo-inverse of all if any is singular."""
    with np.errstate(all="ignore"):
        try:
            return np.linalg.inv(a)
        except np.linalg.LinAlgError:
            return np.linalg.pinv(a)


def _covariances(fam: Family, prob: Problem, res: LMResult, mask: np.ndarray | None = None,
                 dispersion: np.ndarray | None = None):
    """Wald covariance of internal (B, k, k) and natural (B, k, k) parameters; held
    parameters (``mask``) get zero variance; a quasi ``dispersion`` (B,) scales them."""
    nb, k = res.theta.shape
    m = prob.y.shape[1]
    mask = np.zeros(k, bool) if mask is None else mask
    h = res.hessian
    cov_t = np.full((nb, k, k), np.nan)
    ok = np.isfinite(h).all((-1, -2))
    if ok.any():
        cov_t[ok] = _safe_inv(h[ok])
    cov_t[:, mask, :] = 0.0
    cov_t[:, :, mask] = 0.0
    edge = np.flatnonzero(res.boundary >= 0) if res.boundary is not None else []
    if len(edge):
        # Held on an edge of [0, 1]: the pivot follows the other parameters along it, so its
        # (co)variance is theirs carried by d theta_pivot / d theta (conditional on the edge).
        ii, piv = np.arange(len(edge)), res.edge_pivot[edge]
        c = cov_t[edge]
        c[ii, piv, :] = 0.0
        c[ii, :, piv] = 0.0
        tmat = np.broadcast_to(np.eye(k), c.shape).copy()
        tmat[ii, piv, :] = res.edge_row[edge]
        cov_t[edge] = tmat @ c @ tmat.transpose(0, 2, 1)
    if not prob.binomial:
        sigma2 = 2.0 * res.obj / (m - (k - int(mask.sum())))           # RSS / (m - k)
        cov_t = cov_t * sigma2[:, None, None]
    elif dispersion is not None:
        cov_t = cov_t * dispersion[:, None, None]
    d = fam.dnatural(res.theta)
    cov_p = cov_t * d[:, :, None] * d[:, None, :]
    return cov_t, cov_p


def _refit_from_profile(fam, prob, cfg, res, ok, prof, mask=None, dispersion=None):
    """Refit curves whose profile found a lower objective, starting from that point."""
    from cramcog.dynamics.intervals import ProfileResult
    k = fam.n_params
    mask = np.zeros(k, bool) if mask is None else mask
    redo = ok[prof.better_optimum]
    r2 = levenberg_marquardt(fam, prob.take(redo), prof.better_theta[prof.better_optimum],
                             fixed=np.broadcast_to(mask, (redo.size, k)))
    take = r2.converged & (r2.obj < res.obj[redo])
    idx = redo[take]
    for name in _LM_FIELDS:
        getattr(res, name)[idx] = getattr(r2, name)[take]
    if dispersion is not None:  # the dispersion moves with the refitted means
        est = fam.to_natural(res.theta)
        dispersion = dispersion.copy()
        dispersion[idx] = _quasi_dispersion(fam, prob.take(idx), est[idx], res.obj[idx],
                                            int(k - mask.sum()))
    cov_t, cov_p = _covariances(fam, prob, res, mask, dispersion)
    est = fam.to_natural(res.theta)
    if idx.size:
        p2 = profile_intervals(fam, prob.take(idx), res.theta[idx], res.obj[idx], cov_t[idx],
                               cfg.level, fixed=mask,
                               dispersion=None if dispersion is None else dispersion[idx])
        pos = np.searchsorted(ok, idx)
        low, high, okk = prof.low.copy(), prof.high.copy(), prof.ok.copy()
        bet = prof.better_optimum.copy()
        low[pos], high[pos], okk[pos], bet[pos] = p2.low, p2.high, p2.ok, p2.better_optimum
        prof = ProfileResult(low=low, high=high, ok=okk, better_optimum=bet,
                             better_theta=prof.better_theta)
    if dispersion is not None:
        return res, cov_t, cov_p, est, prof, dispersion
    return res, cov_t, cov_p, est, prof


def _quasi_dispersion(fam, prob, est, obj, k_free) -> np.ndarray:
    """Pearson chi2 / (m - k), floored at 1 (Burnham & Anderson 2002, sec. 6.2: a c-hat below 1
    is taken as 1), NaN-free (1 where it cannot be estimated)."""
    _, pearson = _goodness(fam, prob, est, obj)
    df = prob.y.shape[1] - k_free
    c = pearson / df if df > 0 else np.full(pearson.shape, np.nan)
    return np.where(np.isfinite(c), np.maximum(c, 1.0), 1.0)


def _messages(conv, reasons, res: LMResult | None = None, prob: Problem | None = None):
    out = np.array(["converged" if c else f"not converged: {r}" for c, r in zip(conv, reasons)],
                   dtype=object)
    if res is not None and res.boundary is not None:
        for b in np.flatnonzero(conv & (res.boundary >= 0)):
            out[b] = "converged; " + _edge_note(prob, b, int(res.boundary[b]))
    if res is not None and res.note is not None:
        for b in np.flatnonzero(conv & (res.note != "")):
            out[b] = f"{out[b]}; {res.note[b]}"
    return out


def _left_out(fam: Family, prob: Problem, est: np.ndarray) -> np.ndarray:
    """(B,) why a fit is left out of the ranking although it may have converged ("" if not):
    a degenerate shape (``Family.degenerate``, e.g. a Weibull with k <= 0), or a family that
    can only fall fitted to a rising curve (:func:`cramcog.dynamics.families.curve_direction`).
    """
    nb = est.shape[0]
    out = np.full(nb, "", dtype=object)
    if fam.degenerate is not None:
        with np.errstate(all="ignore"):
            why = fam.degenerate(prob.t, est)
        for b in np.flatnonzero(why != ""):
            out[b] = f"degenerate shape: {why[b]}"
    if not fam.can_rise:
        rho = spearman_rho(prob.t, prob.y)
        twin = RISING.get(fam.name + "+c", RISING.get(fam.name))
        hint = ("" if twin is None else
                f": {twin.name} fits a rising curve as {twin.formula}" if twin.name != fam.name
                else f" (most curves of this batch fall; fitted alone, it would take the rising "
                     f"form {twin.formula})")
        for b in np.flatnonzero(rho >= DIRECTION_RHO):
            rising = (f"{fam.name} ({fam.formula}) can only fall but this curve rises "
                      f"(Spearman rho = {rho[b]:.2f}){hint}")
            out[b] = f"{out[b]}; {rising}" if out[b] else rising
    return out


def _verdicts(fam: Family, prob: Problem, res: LMResult):
    """(converged, messages) per curve: the optimiser's verdict, then fits left out of the
    ranking (:func:`_left_out`) marked as not converged, with the reason."""
    conv = res.converged.copy()
    msgs = _messages(conv, res.reason, res, prob)
    why = _left_out(fam, prob, fam.to_natural(res.theta))
    for b in np.flatnonzero(why != ""):
        msgs[b] = (f"left out of the ranking: {why[b]}" if conv[b]
                   else f"{msgs[b]}; {why[b]}")
        conv[b] = False
    return conv, msgs


def _edge_note(prob: Problem, b: int, j: int) -> str:
    """What a fit held at 0 or 1 at point ``j`` of curve ``b`` means, for its message."""
    t = prob.t[0 if prob.t.shape[0] == 1 else b, j]
    n, y = prob.n[b, j], prob.y[b, j]
    level = "1" if y >= 1 else "0"
    return (f"on the edge: fitted probability {level} at t = {t:g}, where {y * n:g}/{n:g} = "
            f"{y:.0%} were observed; the maximum likelihood within [0, 1] lies there (the "
            "curve would need to pass beyond it to follow the other points). Wald SEs are "
            "conditional on that edge; profile intervals respect it")


def _fit_family(fam: Family, curves: CurveData, cfg: FitConfig, config: dict,
                held: dict | None = None) -> FitResult:
    # A +c family follows the curves' direction: its rising form c - base(t) if most rise.
    fam = oriented(fam, curve_direction(curves.t, curves.y))
    mask, values = _fixed_arrays(fam, held or {})
    k_free = int(fam.n_params - mask.sum())
    quasi = cfg.overdispersion == "quasi"
    prob = Problem(curves.t, curves.y, curves.n, log=curves.likelihood == "lognormal")
    # Separate seeded streams: restarts never shift the bootstrap draws.
    res = _fit_points(fam, prob, np.random.default_rng([cfg.seed, _stable_hash(fam.name), 0]),
                      mask=mask, values=values)
    est = fam.to_natural(res.theta)
    disp = _quasi_dispersion(fam, prob, est, res.obj, k_free) if quasi else None
    cov_t, cov_p = _covariances(fam, prob, res, mask, disp)
    nb, k = est.shape
    conv, msgs = _verdicts(fam, prob, res)
    low = np.full((nb, k), np.nan)
    high = np.full((nb, k), np.nan)
    boot = None
    ok = np.flatnonzero(conv)
    if cfg.ci == "wald":
        like = "quasi" if quasi else curves.likelihood
        q = wald_quantile(like, cfg.level, curves.n_points, k_free)
        var = np.diagonal(cov_p, axis1=1, axis2=2)
        sd = np.sqrt(np.where(var >= 0, var, np.nan))  # a failed fit's covariance may be junk
        low, high = est - q * sd, est + q * sd
    elif cfg.ci == "profile" and ok.size and k_free:   # all held: nothing to profile
        prof = profile_intervals(fam, prob.take(ok), res.theta[ok], res.obj[ok], cov_t[ok],
                                 cfg.level, fixed=mask,
                                 dispersion=None if disp is None else disp[ok])
        if prof.better_optimum.any():
            # Profiling walked past a lower point: the optimiser had stopped at a local optimum.
            # Refit those curves from there (one round) and profile them again.
            out = _refit_from_profile(fam, prob, cfg, res, ok, prof, mask, disp)
            res, cov_t, cov_p, est, prof = out[:5]
            disp = out[5] if quasi else None
            conv, msgs = _verdicts(fam, prob, res)
        low[ok], high[ok] = prof.low, prof.high
        for i, b in enumerate(ok):
            notes = []
            if prof.better_optimum[i]:
                notes.append("profiling found a better optimum than the estimate: the fit may "
                             "be a local optimum")
                conv[b] = False
            free = ~mask
            if not prof.ok[i][free].all() and not prof.better_optimum[i]:
                bad = [fam.param_names[j] for j in np.flatnonzero(~prof.ok[i] & free)]
                notes.append(f"profile interval endpoint not found for {bad} (NaN)")
            unb = [fam.param_names[j] for j in range(k)
                   if np.isinf(prof.high[i, j]) or np.isinf(prof.low[i, j])
                   or (fam.log_scaled[j] and prof.low[i, j] == 0.0 and not mask[j])]
            if unb:
                notes.append(f"profile interval unbounded for {unb}: the data do not bound them")
            if notes:
                keep = conv[b] or msgs[b].startswith("left out")
                msgs[b] = (msgs[b] + "; " if keep else "not converged: ") + "; ".join(notes)
    elif cfg.ci == "bootstrap" and ok.size:
        sub = prob.take(ok)
        with np.errstate(all="ignore"):
            mu_hat = fam.mean(sub.t, est[ok])
        boot_rng = np.random.default_rng([cfg.seed, _stable_hash(fam.name), 1])
        kind = "cluster" if curves.cluster is not None else cfg.bootstrap
        bres = bootstrap_intervals(fam, sub, res.theta[ok], mu_hat, cfg.level, cfg.n_boot,
                                   boot_rng, kind, fixed=mask,
                                   dispersion=None if disp is None else disp[ok],
                                   cluster=curves.cluster)
        low[ok], high[ok] = bres.low, bres.high
        draws = np.full((cfg.n_boot, nb, k), np.nan)
        okb = np.zeros((cfg.n_boot, nb), bool)
        draws[:, ok], okb[:, ok] = bres.draws, bres.ok
        boot = BootstrapResult(draws=draws, ok=okb, low=low, high=high)
        frac = bres.ok.mean(0)
        for i, b in enumerate(ok):
            if frac[i] < 0.9:
                msgs[b] = (f"{msgs[b]}; only {frac[i]:.0%} of bootstrap replicates converged: "
                           "the interval uses those alone and may be unreliable")
    # Held parameters are known exactly; a failed fit gets no interval: NaN, never a
    # plausible-looking number.
    low[:, mask], high[:, mask] = values[mask], values[mask]
    low[~conv], high[~conv] = np.nan, np.nan
    deviance, pearson = _goodness(fam, prob, est, res.obj)
    return FitResult(spec=fam, curves=curves, estimates=est, cov=cov_p, ci_low=low, ci_high=high,
                     converged_flags=conv, messages=msgs, loglik_values=_loglik(prob, res.obj),
                     ci_method=cfg.ci, level=float(cfg.level), seed=int(cfg.seed),
                     config=config, boot=boot,
                     fixed={p: float(values[j]) for j, p in enumerate(fam.param_names)
                            if mask[j]},
                     deviance_values=deviance, pearson_values=pearson,
                     criterion=cfg.criterion, quasi_dispersion=disp,
                     edge_points=np.where(conv, res.boundary, -1))


def _stable_hash(name: str) -> int:
    """A process-independent integer for a family name (Python's hash() is salted)."""
    return zlib.crc32(name.encode())


def fit_consolidation_curve(t, y, n=None, family="power", ci="profile", level=0.95,
                            n_boot=1000, seed=0, dim=None, *, data=None, y_kind="auto",
                            bootstrap="parametric", criterion="aicc", fixed=None, chance=None,
                            force=False, overdispersion=None, cluster=None, stacklevel=2):
    """Fit curve families to one set of curves: :func:`cramcog.dynamics.fit_consolidation_curve`
    without ``by``.

    The public front (:mod:`cramcog.dynamics.api`) calls this for everything but grouped fits;
    :mod:`cramcog.dynamics.group` calls it for each block of subjects' curves. Its parameters,
    returns, errors and warnings are those of the front (see there), with one more:

    Parameters
    ----------
    stacklevel : int
        Where the warnings point, counted from this function (2: at its caller).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([1, 2, 4, 8, 16, 32.0])
    >>> y = np.array([0.82, 0.66, 0.58, 0.46, 0.40, 0.34])
    >>> fits = fit_consolidation_curve(t, y, family=["power", "exponential"])
    >>> fits.best.family, fits.criterion
    ('power', 'aicc')
    """
    cfg = FitConfig(ci="none" if ci is None else ci, level=level, n_boot=n_boot, seed=seed,
                    bootstrap=bootstrap, criterion=criterion,
                    overdispersion="none" if overdispersion is None else overdispersion,
                    force=bool(force))
    held = _held(fixed, chance)
    fams, skipped, is_all = _family_list(family, held, chance)
    curves = as_curves(t, y, n, dim=dim, y_kind=y_kind, data=data, cluster=cluster,
                       stacklevel=stacklevel + 1)
    if cfg.overdispersion == "quasi" and curves.likelihood != "binomial":
        raise ValueError("overdispersion='quasi' scales binomial intervals by the Pearson "
                         "dispersion; without n (least squares) the noise variance is already "
                         "estimated from the residuals: drop overdispersion or pass n")
    if curves.cluster is not None and cfg.ci != "bootstrap":
        raise ValueError(f"cluster= gives cluster-bootstrap intervals: pass ci='bootstrap' "
                         f"(ci={cfg.ci!r} would treat every trial as independent, ignoring "
                         "the clusters)")
    usable = []
    for fam in fams:
        why = _unusable(fam, curves, sum(p in held for p in fam.param_names), cfg.force)
        if not why:
            usable.append(fam)
        elif is_all:
            skipped[fam.name] = why
        else:
            raise ValueError(why)
    if skipped:
        warnings.warn(f"family='all' skipped {list(skipped)}: " + "; ".join(skipped.values()),
                      stacklevel=stacklevel)
    if not usable:
        raise ValueError("no family can be fitted to these data: " + "; ".join(skipped.values()))
    config = {"families": [f.name for f in usable], "ci": cfg.ci, "level": cfg.level,
              "n_boot": cfg.n_boot, "seed": cfg.seed, "bootstrap": cfg.bootstrap,
              "likelihood": curves.likelihood, "dim": dim, "y_kind": curves.y_kind,
              "criterion": cfg.criterion, "overdispersion": cfg.overdispersion,
              "fixed": held, "chance": chance, "force": cfg.force,
              "cluster": curves.cluster is not None}
    results = {fam.name: _fit_family(fam, curves, cfg, config, held) for fam in usable}
    single = isinstance(family, (str, Family)) and not is_all
    out = results[usable[0].name] if single else FitSet(results, skipped=skipped,
                                                        criterion=cfg.criterion)
    _warn_lack_of_fit(list(results.values()), cfg, curves, stacklevel + 1)
    if not single:
        note = out.weak_ranking_note(few_points=FEW_POINTS, weight=WEAK_WEIGHT)
        if note:
            warnings.warn(note, UserWarning, stacklevel=stacklevel)
    return out


def _warn_lack_of_fit(fits: list[FitResult], cfg: FitConfig, curves: CurveData,
                      stacklevel: int = 3):
    """Warn when even the best-fitting converged family leaves the binomial counts
    overdispersed (Pearson dispersion > DISPERSION_WARN with p < LACK_OF_FIT_P)."""
    if curves.likelihood != "binomial" or cfg.overdispersion == "quasi" or \
            curves.cluster is not None:
        return
    disp = np.stack([np.where(f.converged_flags, f.dispersion_values, np.inf) for f in fits])
    which = np.argmin(disp, axis=0)                                       # (B,)
    best = disp[which, np.arange(disp.shape[1])]
    pval = np.stack([f.gof_p_values for f in fits])[which, np.arange(disp.shape[1])]
    # Bonferroni over a batch's curves: 500 well-fitting curves must not warn by chance.
    bad = np.isfinite(best) & (best > DISPERSION_WARN) & (pval < LACK_OF_FIT_P / best.size)
    if not bad.any():
        return
    b = int(np.flatnonzero(bad)[np.argmax(best[bad])])
    f = fits[int(which[b])]
    where = (f"{int(bad.sum())} of {bad.size} curves, worst" if bad.size > 1 else "")
    warnings.warn(
        f"lack of fit ({where + ': ' if where else ''}family {f.family!r}, the best-fitting): "
        f"Pearson dispersion {best[b]:.2f} (chi2 = {f.pearson_values[b]:.1f} on "
        f"{f.df_resid} df, p = {pval[b]:.2g}). The counts vary more than a binomial allows "
        "(trials clustered in subjects or items that differ, or no family describes the "
        f"curve), so binomial intervals are too narrow by about {np.sqrt(best[b]):.1f}x. Use "
        "overdispersion='quasi' (intervals scaled by the dispersion, QAIC), or cluster= "
        "with ci='bootstrap' if the trials' subjects are known", UserWarning,
        stacklevel=stacklevel)
