"""Confidence intervals for batched fits: Wald, profile likelihood and bootstrap.

All three work on B curves at once.

- ``wald``: estimate +- q * SE in natural parameters (q from the normal for the binomial
  likelihood, from Student's t with m - k df for least squares). Symmetric; fast; can cross a
  bound.
- ``profile`` (default): the set of values of one parameter whose profile likelihood-ratio
  statistic stays below its critical value, the other parameters re-fitted at each value.
  Binomial: ``2 (obj(psi) - obj_hat) <= chi2_1(level)``. Least squares with unknown variance:
  ``(RSS(psi) - RSS_hat) / (RSS_hat / (m - k)) <= F(1, m - k; level)`` (the small-sample form
  used by R's ``confint.nls``/``profile.nls``), which is calibrated for short curves where the
  plain chi-square version is too narrow. Endpoints are found by a safeguarded secant search on
  the signed root of the statistic, all (curve, parameter, side) triples together, each at its
  own pace (the nuisance fits run a slice of iterations at a time, so a hard triple costs its
  own iterations, not everyone's); a trial's nuisance fit stops as soon as its objective shows
  the trial clearly inside (or, at its rate of descent, clearly outside) the interval, and a
  curve whose profile reveals a better optimum than its estimate stops (it is refitted).
  Intervals are invariant to the parameter transform. A side whose statistic never reaches the
  critical value is unbounded (+-inf, or 0 for a positive parameter).
- ``bootstrap``: percentile intervals from ``n_boot`` resampled data sets per curve, all fitted
  together by the batched optimiser, each warm-started at the estimate. ``parametric``: binomial
  counts drawn from the fitted probabilities, or Gaussian noise added to the fitted curve with
  a variance drawn as RSS / chi2_{m-k} per replicate (so sigma's own uncertainty is carried, as
  in a t interval); ``nonparametric``: binomial counts drawn from the OBSERVED proportions
  (resampling each point's trials), or least-squares residuals resampled with replacement
  (centred, scaled by sqrt(m / (m - k))). The times stay fixed in both, so no resample loses a
  point. Replicates that fail to converge are dropped and counted.
  ``cluster``: the clusters (subjects, sessions) are resampled with replacement, each replicate
  keeping all the points of the clusters it drew (as case weights), so the interval carries the
  between-cluster variation that a binomial model of pooled trials ignores.

Overdispersion (quasi-likelihood, binomial only). With a dispersion ``c`` (Pearson chi2 / df,
floored at 1) the profile statistic becomes ``2 (obj(psi) - obj_hat) / c`` against F(1, m - k),
Wald intervals use ``sqrt(c)`` x SE with Student t (m - k df), the same small-sample forms as
least squares (McCullagh & Nelder 1989, sec. 4.5; R's quasibinomial), and the parametric
bootstrap draws beta-binomial counts with the same dispersion: intra-point correlation
``rho = (c - 1) / (n - 1)``.

Log-normal fits (response times) are least squares on the log scale: their profile and Wald
intervals take the least-squares forms, and their bootstrap draws are made on the log scale.

Examples
--------
>>> import numpy as np
>>> from cramcog.dynamics.intervals import critical_value
>>> round(critical_value("binomial", 0.95, m=10, k=2), 3)
3.841
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from cramcog.dynamics.families import Family
from cramcog.dynamics.optimizer import Problem, levenberg_marquardt

#: Profile search: iterations of a trial's nuisance fit from the warm start / from the estimate
#: (a retry), and the slice of iterations every unfinished row gets per pass.
_WARM_ITER, _RETRY_ITER, _SLICE = 60, 100, 8

BOOTSTRAP_KINDS = ("parametric", "nonparametric", "cluster")


def critical_value(likelihood: str, level: float, m: int, k: int) -> float:
    """Critical value of the profile statistic: chi2_1 (binomial), F(1, m-k) (LS, quasi).

    Examples
    --------
    >>> round(critical_value("least_squares", 0.95, m=10, k=2), 3)  # F(1, 8)
    5.318
    """
    if likelihood == "binomial":
        return float(stats.chi2.ppf(level, 1))
    return float(stats.f.ppf(level, 1, m - k))


def wald_quantile(likelihood: str, level: float, m: int, k: int) -> float:
    """Two-sided quantile for Wald intervals: normal (binomial), t with m - k df (LS, quasi).

    Examples
    --------
    >>> round(wald_quantile("binomial", 0.95, 10, 2), 3), round(wald_quantile("ls", 0.95, 10, 2), 3)
    (1.96, 2.306)
    """
    if likelihood == "binomial":
        return float(stats.norm.ppf(0.5 + level / 2))
    return float(stats.t.ppf(0.5 + level / 2, m - k))


def seed_interval(values, level: float = 0.95) -> tuple[float, float, float, float, int]:
    """Mean over independent runs (seeds) and its Student-t interval, NaNs dropped.

    Returns ``(mean, low, high, sd, k)``; with one value the interval and sd are NaN (one run
    says nothing about the spread between runs), with none everything but ``k`` is NaN.

    Examples
    --------
    >>> tuple(round(v, 3) for v in seed_interval([0.32, 0.465, 0.541])[:3])
    (0.442, 0.163, 0.721)
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    k = int(x.size)
    if k == 0:
        return np.nan, np.nan, np.nan, np.nan, 0
    mean = float(x.mean())
    if k == 1:
        return mean, np.nan, np.nan, np.nan, 1
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, k - 1) * sd / np.sqrt(k))
    return mean, mean - half, mean + half, sd, k


def profile_statistic(likelihood: str, obj: np.ndarray, obj_hat: np.ndarray, m: int,
                      k: int, dispersion=1.0) -> np.ndarray:
    """The profile statistic (see module docstring) from objectives; >= 0 up to round-off.

    Examples
    --------
    >>> float(profile_statistic("binomial", np.array(3.0), np.array(1.0), 10, 2)[()])
    4.0
    >>> float(profile_statistic("quasi", np.array(3.0), np.array(1.0), 10, 2, 2.0)[()])
    2.0
    """
    if likelihood == "binomial":
        return 2.0 * (obj - obj_hat)
    if likelihood == "quasi":
        return 2.0 * (obj - obj_hat) / dispersion
    return (obj - obj_hat) * (m - k) / np.maximum(obj_hat, 1e-300)


def profile_objective(likelihood: str, stat, obj_hat: np.ndarray, m: int, k: int,
                      dispersion=1.0) -> np.ndarray:
    """The objective at which the profile statistic equals ``stat`` (inverse of
    :func:`profile_statistic`).

    Examples
    --------
    >>> float(profile_objective("binomial", 4.0, np.array(1.0), 10, 2)[()])
    3.0
    """
    obj_hat = np.asarray(obj_hat, float)
    if likelihood == "binomial":
        return obj_hat + 0.5 * stat
    if likelihood == "quasi":
        return obj_hat + 0.5 * stat * dispersion
    return obj_hat + stat * np.maximum(obj_hat, 1e-300) / (m - k)


@dataclass
class ProfileResult:
    low: np.ndarray        # (B, k) natural-scale lower endpoints
    high: np.ndarray       # (B, k) natural-scale upper endpoints
    ok: np.ndarray         # (B, k) bool: both endpoints found (or legitimately unbounded)
    better_optimum: np.ndarray  # (B,) bool: profiling found a lower objective than the "MLE"
    better_theta: np.ndarray    # (B, k) the lowest-objective point profiling visited


def profile_intervals(family: Family, prob: Problem, theta_hat: np.ndarray, obj_hat: np.ndarray,
                      cov_theta: np.ndarray, level: float, *, params: list[int] | None = None,
                      max_outer: int = 60, rtol: float = 1e-4, fixed: np.ndarray | None = None,
                      dispersion: np.ndarray | None = None) -> ProfileResult:
    """Profile-likelihood intervals for B curves, every parameter (or ``params``), both sides.

    Parameters
    ----------
    family, prob
        The family and the B curves' data.
    theta_hat, obj_hat
        (B, k) internal estimates and (B,) objectives at them.
    cov_theta
        (B, k, k) covariance of the internal estimates (sets the first trial step and the
        warm start of the nuisance parameters).
    level
        Confidence level.
    params
        Indices of the parameters to profile (default: all free ones).
    fixed
        (k,) bool: parameters held at their value (not estimated, not profiled, not counted).
    dispersion
        (B,) quasi-likelihood dispersion of a binomial fit (see the module docstring), or None.
    max_outer, rtol
        Root search: at most ``max_outer`` profile evaluations per endpoint, stop when the signed
        root is within ``rtol * z`` of its target ``z``.

    Returns
    -------
    ProfileResult

    Examples
    --------
    >>> from cramcog.dynamics.families import FAMILIES
    >>> from cramcog.dynamics.optimizer import Problem, levenberg_marquardt
    >>> fam = FAMILIES["power"]
    >>> t = np.geomspace(1, 64, 8)[None, :]
    >>> prob = Problem(t, np.array([[42, 37, 30, 27, 22, 19, 17, 14]]) / 50, np.full((1, 8), 50))
    >>> fit = levenberg_marquardt(fam, prob, fam.to_internal(fam.start(t, prob.y)))
    >>> res = profile_intervals(fam, prob, fit.theta, fit.obj, np.linalg.inv(fit.hessian), 0.95)
    >>> bool(res.low[0, 1] < fam.to_natural(fit.theta)[0, 1] < res.high[0, 1])
    True
    """
    nb, k = theta_hat.shape
    m = prob.y.shape[1]
    held = np.zeros(k, bool) if fixed is None else np.asarray(fixed, bool)
    k_free = int(k - held.sum())
    like = "binomial" if prob.binomial else "least_squares"
    if dispersion is not None and prob.binomial:
        like = "quasi"
        disp = np.broadcast_to(np.asarray(dispersion, float), (nb,))
    else:
        disp = np.ones(nb)
    z = np.sqrt(critical_value(like, level, m, k_free))
    params = [j for j in range(k) if not held[j]] if params is None else list(params)
    # One row per (curve, parameter, side).
    cb, cj, cs = np.meshgrid(np.arange(nb), np.asarray(params), np.array([-1.0, 1.0]),
                             indexing="ij")
    cb, cj, cs = cb.ravel(), cj.ravel(), cs.ravel()
    q = cb.size
    sub = prob.take(cb)
    fixed = np.broadcast_to(held, (q, k)).copy()
    fixed[np.arange(q), cj] = True
    th0 = theta_hat[cb]
    var_j = cov_theta[cb, cj, cj]
    se_j = np.sqrt(np.where(np.isfinite(var_j) & (var_j > 0), var_j, 1.0))
    # Regression of the nuisance parameters on the profiled one: a first-order warm start.
    slope = cov_theta[cb, :, cj] / np.where(var_j > 0, var_j, 1.0)[:, None]      # (q, k)
    slope = np.where(np.isfinite(slope), slope, 0.0)
    objh = obj_hat[cb]
    # A trial below the estimate's objective by less than the objective's round-off is no
    # better optimum (exact data leave an objective of round-off size).
    with np.errstate(all="ignore"):
        noise_h = 10.0 * sub.round_off(family.mean(sub.t, family.to_natural(th0)))
    lo = np.zeros(q)              # step with statistic root < z (bracket low end)
    r_lo = np.zeros(q)
    hi = np.full(q, np.inf)       # step with root > z, once found
    r_hi = np.full(q, np.inf)
    g_lo = np.full(q, -z)         # Illinois-scaled root - z at the bracket ends
    g_hi = np.full(q, np.inf)
    last_side = np.zeros(q, int)  # -1: last trial moved lo, +1: moved hi
    delta = z * se_j              # first trial: the Wald endpoint
    best_theta = th0.copy()
    active = np.ones(q, bool)
    found = np.zeros(q, bool)
    unbounded = np.zeros(q, bool)
    better = np.zeros(q, bool)
    low_obj = np.full(q, np.inf)       # lowest objective seen per row, and where
    low_theta = th0.copy()
    limit = np.where(family.log_scaled[cj], 30.0, 1e6 * (1 + np.abs(th0[np.arange(q), cj])))
    # A trial whose objective is already clearly inside the interval (root below z_in) stops
    # early: only its side of z matters, unless it reveals a better optimum than the estimate.
    inside_obj = profile_objective(like, (z * (1.0 - 10.0 * rtol)) ** 2, objh, m, k_free,
                                   disp[cb])
    # ... and a trial that at its rate of descent cannot get inside it (root below z_out)
    # within its iterations stops too: it lies outside.
    outside_obj = profile_objective(like, (z * (1.0 + 10.0 * rtol)) ** 2, objh, m, k_free,
                                    disp[cb])
    width1 = np.full(q, np.inf)   # bracket widths after the last two trials
    width2 = np.full(q, np.inf)
    d_prev = np.zeros(q)          # previous trial step and its root (extrapolation)
    r_prev = np.zeros(q)
    trials = np.zeros(q, int)     # profile evaluations so far
    # The nuisance fit of a trial runs in slices of _SLICE iterations, every row at its own
    # pace: a row whose fit has finished moves on to its next trial while slow fits continue,
    # so one hard row costs its own iterations, not every row's. Phase 0 starts from the
    # previous trial's fit (warm), phase 1 retries a fit that failed from the estimate with psi
    # plugged in (if the warm start landed badly); the lower objective counts.
    phase = np.zeros(q, int)
    used = np.zeros(q, int)                    # iterations of the current phase so far
    lam = np.full(q, 1e-3)
    cur = th0.copy()                           # current nuisance fit of each row
    first_obj = np.full(q, np.inf)             # phase 0's result while phase 1 runs
    first_theta = th0.copy()
    first_conv = np.zeros(q, bool)
    # The last converged point of each row's profile path (the estimate to begin with): the
    # secant from it to the next converged trial replaces the covariance slope, so warm starts
    # follow the path of the nuisance parameters (a first-order extrapolation of it).
    anchor = th0.copy()
    caps = (_WARM_ITER, _RETRY_ITER)

    slope0 = slope.copy()
    alt = th0.copy()                           # the retry's start

    def begin(rows):
        """Start the next trial of ``rows`` at psi = estimate + side x delta from the best of
        four starts of the nuisance parameters (lowest objective): the last trial's fit moved
        along the profile path's secant, the last fit as it is, the estimate, and the
        estimate moved along the covariance slope. The second best is kept for a retry."""
        psi = th0[rows, cj[rows]] + cs[rows] * delta[rows]
        ii = np.arange(rows.size)
        cands = np.stack([best_theta[rows] + slope[rows] * (psi - best_theta[rows, cj[rows]])
                          [:, None], best_theta[rows], th0[rows],
                          th0[rows] + slope0[rows] * (psi - th0[rows, cj[rows]])[:, None]])
        cands[:, ii, cj[rows]] = psi
        part = sub.take(rows)
        with np.errstate(all="ignore"):
            objs = np.stack([part.objective(family.mean(part.t, family.to_natural(c)))
                             for c in cands])
        objs = np.where(np.isfinite(objs), objs, np.inf)
        order = np.argsort(objs, axis=0, kind="stable")
        cur[rows], alt[rows] = cands[order[0], ii], cands[order[1], ii]
        lam[rows], used[rows], phase[rows] = 1e-3, 0, 0

    begin(np.arange(q))
    while active.any():
        run = np.flatnonzero(active)
        cap = np.where(phase[run] == 0, caps[0], caps[1])
        fit = levenberg_marquardt(family, sub.take(run), cur[run], fixed=fixed[run],
                                  max_iter=_SLICE, lam0=lam[run], budget=cap - used[run],
                                  stop_below=inside_obj[run], floor=objh[run],
                                  stop_above=outside_obj[run], check_capped=False)
        used[run] += fit.n_iter
        cur[run], lam[run] = fit.theta, fit.lam
        ended = ~fit.capped
        inside = fit.obj < inside_obj[run]
        # phase 0 over: retry a failed fit unless it already lies inside the interval
        retry = ended & (phase[run] == 0) & ~fit.converged & ~inside
        if retry.any():
            rr = run[retry]
            first_obj[rr], first_theta[rr] = fit.obj[retry], fit.theta[retry]
            first_conv[rr] = fit.converged[retry]
            cur[rr], lam[rr], used[rr], phase[rr] = alt[rr], 1e-3, 0, 1
        complete = ended & ~retry
        if not complete.any():
            continue
        act = run[complete]
        obj_t, theta_t = fit.obj[complete], fit.theta[complete]
        was_retry = phase[act] == 1
        keep_first = was_retry & ~(obj_t < first_obj[act])
        obj_t = np.where(keep_first, first_obj[act], obj_t)
        theta_t = np.where(keep_first[:, None], first_theta[act], theta_t)
        conv_t = np.where(keep_first, first_conv[act], fit.converged[complete])
        jj = cj[act]
        step_j = theta_t[np.arange(act.size), jj] - anchor[act, jj]
        upd = conv_t & np.isfinite(obj_t) & (np.abs(step_j) > 0)
        if upd.any():
            au = act[upd]
            sl = (theta_t[upd] - anchor[au]) / step_j[upd, None]
            slope[au] = np.where(np.isfinite(sl), sl, slope[au])
            anchor[au] = theta_t[upd]
        trials[act] += 1
        stat = profile_statistic(like, obj_t, objh[act], m, k_free, disp[cb[act]])
        better[act] |= (stat < -1e-6 * max(1.0, z * z)) & (objh[act] - obj_t > noise_h[act])
        # A curve with a better optimum than its estimate is refitted (and profiled again) or
        # flagged as not converged: its other endpoints are not needed, so all its rows stop.
        if better[act].any():
            quit_rows = np.isin(cb, cb[act[better[act]]])
            active[quit_rows] = False
        lower = obj_t < low_obj[act]
        low_obj[act] = np.where(lower, obj_t, low_obj[act])
        low_theta[act] = np.where(lower[:, None], theta_t, low_theta[act])
        root = np.sqrt(np.maximum(stat, 0.0))
        best_theta[act] = np.where(np.isfinite(obj_t)[:, None], theta_t, best_theta[act])
        d = delta[act]
        below = root < z
        lo[act] = np.where(below, np.maximum(lo[act], d), lo[act])
        r_lo[act] = np.where(below & (d >= lo[act]), root, r_lo[act])
        hi[act] = np.where(~below, np.minimum(hi[act], d), hi[act])
        r_hi[act] = np.where(~below & (d <= hi[act]), root, r_hi[act])
        # Illinois regula falsi on g = root - z: when the same end moves twice in a row, halve
        # the other end's g, so a sharply curved profile cannot stall the secant.
        side = np.where(below, -1, 1)
        repeat = side == last_side[act]
        g_lo[act] = np.where(below, root - z, np.where(repeat, 0.5 * g_lo[act], g_lo[act]))
        g_hi[act] = np.where(~below, root - z, np.where(repeat, 0.5 * g_hi[act], g_hi[act]))
        last_side[act] = side
        done = np.abs(root - z) <= rtol * z
        found[act] |= done
        # Next trial step: secant inside the bracket (bisection guard), else extrapolate.
        has_hi = np.isfinite(hi[act])
        l, h = lo[act], hi[act]
        with np.errstate(all="ignore"):
            sec = l - g_lo[act] * (h - l) / (g_hi[act] - g_lo[act])
        mid = 0.5 * (l + h)
        with np.errstate(all="ignore"):  # h = inf before a bracket exists
            # a secant step at least 1e-3 of the bracket inside it, so that the next trial
            # lands on the other side of a root that lies right next to an end
            sec = np.clip(sec, l + 1e-3 * (h - l), h - 1e-3 * (h - l))
        # ... and bisection whenever the last two trials did not halve the bracket (a profile
        # that jumps, or noisy nuisance fits, would otherwise creep along one end).
        width = np.where(has_hi, h - l, np.inf)
        slow = width > 0.5 * width2[act]
        width2[act], width1[act] = width1[act], width
        nxt_b = np.where(np.isfinite(sec) & ~slow, sec, mid)
        # Before a bracket exists, extrapolate the secant through the last two trials (the first
        # from the estimate, root 0), growing the step 1.2x to 4x: a profile that flattens out
        # (an unbounded side) is crossed in a few trials, not 1.2x at a time.
        with np.errstate(all="ignore"):
            rate = (root - r_prev[act]) / (d - d_prev[act])
            reach = np.where(rate > 0, d + (z - root) / rate, np.inf)
        nxt_e = np.clip(np.where(np.isfinite(reach), reach, 4.0 * d), 1.2 * d, 4.0 * d)
        d_prev[act], r_prev[act] = d, root
        nxt = np.where(has_hi, nxt_b, nxt_e)
        # A bracket this narrow without hitting the target means the profile jumps there (e.g. a
        # family degenerating at gamma -> 0): the jump is the endpoint.
        # Located to the relative precision of a smooth endpoint (rtol of the step).
        narrow = has_hi & ((h - l) <= rtol * h)
        found[act] |= narrow
        too_far = ~has_hi & (th0[act, cj[act]] + cs[act] * nxt > limit[act])
        too_far |= ~has_hi & (np.abs(cs[act] * nxt) > limit[act])
        unbounded[act] |= too_far & ~found[act]
        delta[act] = nxt
        active[act] &= ~(found[act] | unbounded[act]) & (trials[act] < max_outer)
        nxt_rows = act[active[act]]
        if nxt_rows.size:
            begin(nxt_rows)
    # Endpoint in internal units: the bracket end closest to the target.
    end = np.where(found, np.where(np.isfinite(hi) & (np.abs(r_hi - z) < np.abs(r_lo - z)),
                                   hi, lo), np.nan)
    end = np.where(found & (np.abs(r_lo - z) <= rtol * z), lo, end)
    psi_end = th0[np.arange(q), cj] + cs * end
    nat = np.where(family.log_scaled[cj], np.exp(np.clip(psi_end, -700, 700)), psi_end)
    inf_val = np.where(cs > 0, np.inf, np.where(family.log_scaled[cj], 0.0, -np.inf))
    nat = np.where(unbounded, inf_val, np.where(found, nat, np.nan))
    low = np.full((nb, k), np.nan)
    high = np.full((nb, k), np.nan)
    side_lo = cs < 0
    low[cb[side_lo], cj[side_lo]] = nat[side_lo]
    high[cb[~side_lo], cj[~side_lo]] = nat[~side_lo]
    done_any = found | unbounded
    okq = np.zeros((nb, k, 2), bool)
    okq[cb, cj, (cs > 0).astype(int)] = done_any
    for j in range(k):
        if j not in params:
            okq[:, j, :] = False
    ok = okq.all(-1)
    bet = np.zeros(nb, bool)
    np.logical_or.at(bet, cb, better)
    # per curve, the lowest-objective point over all its (parameter, side) rows
    best_theta = theta_hat.copy()
    order = np.lexsort((low_obj, cb))                  # by curve, then ascending objective
    first = order[np.r_[True, cb[order][1:] != cb[order][:-1]]]
    first = first[np.isfinite(low_obj[first])]
    best_theta[cb[first]] = low_theta[first]
    return ProfileResult(low=low, high=high, ok=ok, better_optimum=bet, better_theta=best_theta)


def simulate(prob: Problem, mu_hat: np.ndarray, n_params: int, n_boot: int,
             rng: np.random.Generator, kind: str = "parametric",
             dispersion: np.ndarray | None = None) -> np.ndarray:
    """Bootstrap data sets: (n_boot, B, m) responses (proportions for the binomial likelihood).

    See the module docstring for what ``parametric`` and ``nonparametric`` draw; ``n_params``
    counts the estimated parameters. A binomial ``dispersion`` (B,) > 1 draws beta-binomial
    counts with that dispersion instead of binomial ones.

    Examples
    --------
    >>> from cramcog.dynamics.optimizer import Problem
    >>> prob = Problem(np.array([[1.0, 2, 4]]), np.array([[0.8, 0.6, 0.5]]), np.full((1, 3), 20))
    >>> ys = simulate(prob, np.array([[0.8, 0.6, 0.5]]), 2, 5, np.random.default_rng(0))
    >>> ys.shape, bool(((ys * 20) % 1 == 0).all())
    ((5, 1, 3), True)
    """
    if kind not in ("parametric", "nonparametric"):
        raise ValueError(f"simulate draws 'parametric' or 'nonparametric' data, not {kind!r}")
    nb, m = prob.y.shape
    if prob.binomial:
        p = np.clip(mu_hat if kind == "parametric" else prob.y, 0.0, 1.0)
        n_int = prob.n.astype(np.int64)
        if dispersion is not None:
            # Beta-binomial with Var = n p (1 - p) c: intra-point correlation rho = (c-1)/(n-1).
            # Each replicate draws its own c = c_hat (m - k) / chi2_{m-k} (floored at 1), so the
            # interval carries the uncertainty of c_hat, as the least-squares draw of sigma does.
            c_hat = np.broadcast_to(np.asarray(dispersion, float), (nb,))
            c = np.maximum(c_hat * (m - n_params) / rng.chisquare(m - n_params, (n_boot, nb)),
                           1.0)[..., None]                                 # (R, B, 1)
            rho = np.clip((c - 1.0) / np.maximum(prob.n - 1.0, 1.0), 0.0, 0.99)  # (R, B, m)
            rho = np.where(prob.n > 1, rho, 0.0)
            scale = np.where(rho > 0, (1.0 - rho) / np.where(rho > 0, rho, 1.0), np.inf)
            pc = np.clip(p, 1e-9, 1 - 1e-9)
            with np.errstate(invalid="ignore"):
                draw = rng.beta(np.broadcast_to(pc * np.minimum(scale, 1e12), (n_boot, nb, m)),
                                np.broadcast_to((1 - pc) * np.minimum(scale, 1e12),
                                                (n_boot, nb, m)))
            p = np.where(rho > 0, draw, p)
        return rng.binomial(n_int, p, size=(n_boot, nb, m)) / prob.n
    if prob.log:  # log-normal: the same draws on the log scale
        with np.errstate(all="ignore"):
            log_prob = Problem(prob.t, np.log(prob.y), w=prob.w)
            return np.exp(simulate(log_prob, np.log(mu_hat), n_params, n_boot, rng, kind))
    resid = prob.y - mu_hat                                                # (B, m)
    if kind == "parametric":
        # Each replicate's noise sd is drawn as sqrt(RSS / chi2_{m-k}): the uncertainty in sigma
        # that a t interval accounts for. With a fixed sigma-hat the percentile interval of a
        # 10-point curve covers only ~89% at a nominal 95%; with the draw it matches the exact
        # t interval of a linear model.
        rss = (resid ** 2).sum(-1)                                        # (B,)
        sigma = np.sqrt(rss / rng.chisquare(m - n_params, size=(n_boot, nb)))  # (R, B)
        return mu_hat + rng.standard_normal((n_boot, nb, m)) * sigma[..., None]
    centred = (resid - resid.mean(-1, keepdims=True)) * np.sqrt(m / (m - n_params))
    pick = rng.integers(0, m, size=(n_boot, nb, m))
    return mu_hat + np.take_along_axis(np.broadcast_to(centred, (n_boot, nb, m)), pick, axis=-1)


@dataclass
class BootstrapResult:
    draws: np.ndarray      # (n_boot, B, k) natural parameters of each replicate
    ok: np.ndarray         # (n_boot, B) bool: replicate converged
    low: np.ndarray        # (B, k)
    high: np.ndarray       # (B, k)


def bootstrap_intervals(family: Family, prob: Problem, theta_hat: np.ndarray,
                        mu_hat: np.ndarray, level: float, n_boot: int, rng: np.random.Generator,
                        kind: str = "parametric", *, fixed: np.ndarray | None = None,
                        dispersion: np.ndarray | None = None,
                        cluster: np.ndarray | None = None) -> BootstrapResult:
    """Percentile bootstrap intervals for B curves: every replicate fitted in one batch.

    ``kind`` is "parametric", "nonparametric" or "cluster" (then ``cluster`` gives one label per
    point of the single curve); ``fixed`` (k,) holds parameters at their value; a binomial
    ``dispersion`` (B,) draws beta-binomial counts (see :func:`simulate`).

    Examples
    --------
    >>> from cramcog.dynamics.families import FAMILIES
    >>> from cramcog.dynamics.optimizer import Problem
    >>> fam = FAMILIES["exponential"]
    >>> t = np.arange(1.0, 9.0)[None, :]
    >>> prob = Problem(t, 0.9 * np.exp(-0.2 * t) + 0.01 * np.sin(7 * t))
    >>> th = fam.to_internal(np.array([[0.9, 0.2]]))
    >>> res = bootstrap_intervals(fam, prob, th, fam.mean(t, np.array([[0.9, 0.2]])), 0.95, 200,
    ...                           np.random.default_rng(0))
    >>> res.draws.shape, bool(res.low[0, 1] < 0.2 < res.high[0, 1])
    ((200, 1, 2), True)
    """
    nb, k = theta_hat.shape
    m = prob.y.shape[1]
    held = np.zeros(k, bool) if fixed is None else np.asarray(fixed, bool)
    t = prob.t if prob.t.shape[0] == 1 else np.tile(prob.t, (n_boot, 1))
    if kind == "cluster":
        big, const = _cluster_replicates(prob, cluster, n_boot, rng)
    else:
        ystar = simulate(prob, mu_hat, k - int(held.sum()), n_boot, rng, kind,
                         dispersion)                                       # (R, B, m)
        flat_y = ystar.reshape(n_boot * nb, m)
        n = None if prob.n is None else np.tile(prob.n, (n_boot, 1))
        big = Problem(t, flat_y, n, log=prob.log)
        # A resample whose values are all equal carries no decay; it cannot be fitted.
        const = np.ptp(flat_y, axis=-1) == 0
    th0 = np.tile(theta_hat, (n_boot, 1))
    fit = levenberg_marquardt(family, big, th0, fixed=np.broadcast_to(held, th0.shape))
    ok = (fit.converged & ~const).reshape(n_boot, nb)
    draws = family.to_natural(fit.theta).reshape(n_boot, nb, k)
    masked = np.where(ok[..., None], draws, np.nan)
    alpha = (1 - level) / 2
    with warnings.catch_warnings():  # all-NaN columns (no converged replicate) give NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        low = np.nanquantile(masked, alpha, axis=0)
        high = np.nanquantile(masked, 1 - alpha, axis=0)
    return BootstrapResult(draws=draws, ok=ok, low=low, high=high)


def _cluster_replicates(prob: Problem, cluster, n_boot: int, rng: np.random.Generator):
    """Cluster-bootstrap problems for ONE curve: each replicate draws the clusters with
    replacement and weights every point by how often its cluster was drawn (0 = left out)."""
    if prob.n_curves != 1 or cluster is None:
        raise ValueError("a cluster bootstrap needs one curve and one cluster label per point")
    labels, code = np.unique(np.asarray(cluster), return_inverse=True)
    g = labels.size
    picks = rng.integers(0, g, size=(n_boot, g))                          # (R, G) draws
    times = np.zeros((n_boot, g))
    np.add.at(times, (np.arange(n_boot)[:, None], picks), 1.0)
    w = times[:, code]                                                    # (R, m) weights
    y = np.broadcast_to(prob.y, w.shape)
    n = None if prob.n is None else prob.n * w
    big = Problem(prob.t, y, n, w=None if prob.binomial else w, log=prob.log)
    ys = np.where(w > 0, y, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        const = ~(np.nanmax(ys, -1) > np.nanmin(ys, -1))                # nothing left to fit
    return big, const
