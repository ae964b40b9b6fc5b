"""``fit_consolidation_curve``: maximum-likelihood fits of forgetting / consolidation curves.

The pipeline for each family: validate the input (:mod:`cramcog.dynamics.data`), start from a
linearising regression (log-log for the power law, log-linear for the exponential, ...), run the
batched Levenberg-Marquardt optimiser on every curve at once, retry failed curves from perturbed
starts, check convergence (Newton decrement, positive-definite Hessian, no parameter at a bound),
then compute AIC/BIC, Wald covariances and the requested intervals.

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
from cramcog.dynamics.families import FAMILIES, Family, get_family
from cramcog.dynamics.intervals import (BOOTSTRAP_KINDS, bootstrap_intervals,
                                        profile_intervals, wald_quantile)
from cramcog.dynamics.optimizer import LMResult, Problem, levenberg_marquardt
from cramcog.dynamics.result import FitResult, FitSet

CI_METHODS = ("profile", "bootstrap", "wald", "none")


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
        "parametric" (default) or "nonparametric" (see :mod:`cramcog.dynamics.intervals`).
    """

    ci: str = "profile"           # profile likelihood: transform-invariant, calibrated
    level: float = 0.95           # two-sided confidence level
    n_boot: int = 1000            # bootstrap replicates per curve
    seed: int = 0                 # every run is seeded
    bootstrap: str = "parametric"  # draw from the fitted model (or resample, "nonparametric")

    def __post_init__(self):
        if self.ci not in CI_METHODS:
            raise ValueError(f"ci={self.ci!r}; use one of {CI_METHODS} (or None)")
        if not isinstance(self.level, (int, float)) or not 0 < self.level < 1:
            raise ValueError(f"level must be a number in (0, 1), e.g. 0.95; got {self.level!r}")
        if not isinstance(self.n_boot, (int, np.integer)) or self.n_boot < 20:
            raise ValueError(f"n_boot must be an integer >= 20; got {self.n_boot!r}")
        if not isinstance(self.seed, (int, np.integer)):
            raise TypeError(f"seed must be an integer; got {type(self.seed).__name__}")
        if self.bootstrap not in BOOTSTRAP_KINDS:
            raise ValueError(f"bootstrap={self.bootstrap!r}; use one of {BOOTSTRAP_KINDS}")


def _family_list(family) -> tuple[list[Family], bool]:
    """Families to fit, and whether the user asked for "all" (which skips unusable ones)."""
    if isinstance(family, str) and family == "all":
        return list(FAMILIES.values()), True
    if isinstance(family, (str, Family)):
        return [get_family(family)], False
    try:
        names = list(family)
    except TypeError:
        raise TypeError(f"family must be a name, 'all', or a list of names; got "
                        f"{type(family).__name__}") from None
    if not names:
        raise ValueError(f"family list is empty; choose from {', '.join(FAMILIES)}")
    fams = [get_family(f) for f in names]
    if len({f.name for f in fams}) != len(fams):
        raise ValueError(f"family list has duplicates: {names}")
    return fams, False


def _unusable(fam: Family, curves: CurveData) -> str:
    """Why ``fam`` cannot be fitted to ``curves`` ("" if it can)."""
    k, m = fam.n_params, curves.n_points
    if fam.needs_positive_t and (curves.t <= 0).any():
        return (f"family {fam.name!r} ({fam.formula}) needs t > 0 but t has values <= 0; drop "
                "t = 0 points, shift t, or use a family defined at 0 (exponential, "
                "shifted_power, hyperbolic, exp_sqrt)")
    need = k + 1 if curves.likelihood == "least_squares" else k
    if m < need:
        why = (" (least squares also estimates the noise variance, so it needs one more point "
               "than parameters)" if curves.likelihood == "least_squares" else "")
        return (f"family {fam.name!r} has {k} parameters but the curves have only {m} points; "
                f"need at least {need}{why}")
    return ""


def _clean_start(fam: Family, p0: np.ndarray) -> np.ndarray:
    th = fam.to_internal(p0)
    th = np.where(np.isfinite(th), th, 0.0)
    return np.clip(th, -20.0, 20.0)


def _fit_points(fam: Family, prob: Problem, rng: np.random.Generator,
                n_restarts: int = 4) -> LMResult:
    """Fit every curve; curves that fail are retried from perturbed starts (best kept)."""
    t_b = np.broadcast_to(prob.t, prob.y.shape)
    with np.errstate(all="ignore"):
        th0 = _clean_start(fam, fam.start(t_b, prob.y))
    res = levenberg_marquardt(fam, prob, th0)
    for _ in range(n_restarts):
        bad = np.flatnonzero(~res.converged)
        if bad.size == 0:
            break
        # Perturb the start by a factor of e^(+-1.5) on log-scaled parameters and by up to
        # +-150% on the others: enough to leave a poor basin, seeded so reruns agree.
        jitter = rng.uniform(-1.5, 1.5, size=(bad.size, fam.n_params))
        base = th0[bad]
        trial = np.where(fam.log_scaled, base + jitter, base * (1 + jitter) + 0.1 * jitter)
        r2 = levenberg_marquardt(fam, prob.take(bad), trial, max_iter=200)
        take = r2.converged | (~res.converged[bad] & (r2.obj < res.obj[bad]))
        idx = bad[take]
        for name in ("theta", "obj", "converged", "reason", "n_iter", "hessian", "grad"):
            getattr(res, name)[idx] = getattr(r2, name)[take]
    return res


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
    return -0.5 * m * (np.log(2 * np.pi * np.maximum(rss, 1e-300) / m) + 1.0)


def _covariances(fam: Family, prob: Problem, res: LMResult):
    """Wald covariance of internal (B, k, k) and natural (B, k, k) parameters."""
    nb, k = res.theta.shape
    m = prob.y.shape[1]
    h = res.hessian
    cov_t = np.full((nb, k, k), np.nan)
    ok = np.isfinite(h).all((-1, -2))
    if ok.any():
        with np.errstate(all="ignore"):
            try:
                inv = np.linalg.inv(h[ok])
            except np.linalg.LinAlgError:
                inv = np.linalg.pinv(h[ok])
        cov_t[ok] = inv
    if not prob.binomial:
        sigma2 = 2.0 * res.obj / (m - k)                    # RSS / (m - k)
        cov_t = cov_t * sigma2[:, None, None]
    d = fam.dnatural(res.theta)
    cov_p = cov_t * d[:, :, None] * d[:, None, :]
    return cov_t, cov_p


def _refit_from_profile(fam, prob, cfg, res, ok, prof):
    """Refit curves whose profile found a lower objective, starting from that point."""
    from cramcog.dynamics.intervals import ProfileResult
    redo = ok[prof.better_optimum]
    r2 = levenberg_marquardt(fam, prob.take(redo), prof.better_theta[prof.better_optimum])
    take = r2.converged & (r2.obj < res.obj[redo])
    idx = redo[take]
    for name in ("theta", "obj", "converged", "reason", "n_iter", "hessian", "grad"):
        getattr(res, name)[idx] = getattr(r2, name)[take]
    cov_t, cov_p = _covariances(fam, prob, res)
    est = fam.to_natural(res.theta)
    if idx.size:
        p2 = profile_intervals(fam, prob.take(idx), res.theta[idx], res.obj[idx], cov_t[idx],
                               cfg.level)
        pos = np.searchsorted(ok, idx)
        low, high, okk = prof.low.copy(), prof.high.copy(), prof.ok.copy()
        bet = prof.better_optimum.copy()
        low[pos], high[pos], okk[pos], bet[pos] = p2.low, p2.high, p2.ok, p2.better_optimum
        prof = ProfileResult(low=low, high=high, ok=okk, better_optimum=bet,
                             better_theta=prof.better_theta)
    return res, cov_t, cov_p, est, prof


def _fit_family(fam: Family, curves: CurveData, cfg: FitConfig, config: dict) -> FitResult:
    prob = Problem(curves.t, curves.y, curves.n)
    # Separate seeded streams: restarts never shift the bootstrap draws.
    res = _fit_points(fam, prob, np.random.default_rng([cfg.seed, _stable_hash(fam.name), 0]))
    cov_t, cov_p = _covariances(fam, prob, res)
    est = fam.to_natural(res.theta)
    nb, k = est.shape
    conv = res.converged.copy()
    msgs = np.array(["converged" if c else f"not converged: {r}"
                     for c, r in zip(conv, res.reason)], dtype=object)
    low = np.full((nb, k), np.nan)
    high = np.full((nb, k), np.nan)
    boot = None
    ok = np.flatnonzero(conv)
    if cfg.ci == "wald":
        q = wald_quantile(curves.likelihood, cfg.level, curves.n_points, k)
        var = np.diagonal(cov_p, axis1=1, axis2=2)
        sd = np.sqrt(np.where(var >= 0, var, np.nan))  # a failed fit's covariance may be junk
        low, high = est - q * sd, est + q * sd
    elif cfg.ci == "profile" and ok.size:
        prof = profile_intervals(fam, prob.take(ok), res.theta[ok], res.obj[ok], cov_t[ok],
                                 cfg.level)
        if prof.better_optimum.any():
            # Profiling walked past a lower point: the optimiser had stopped at a local optimum.
            # Refit those curves from there (one round) and profile them again.
            res, cov_t, cov_p, est, prof = _refit_from_profile(fam, prob, cfg, res, ok, prof)
            conv = res.converged.copy()
            msgs = np.array(["converged" if c else f"not converged: {r}"
                             for c, r in zip(conv, res.reason)], dtype=object)
        low[ok], high[ok] = prof.low, prof.high
        for i, b in enumerate(ok):
            notes = []
            if prof.better_optimum[i]:
                notes.append("profiling found a better optimum than the estimate: the fit may "
                             "be a local optimum")
                conv[b] = False
            if not prof.ok[i].all():
                bad = [fam.param_names[j] for j in np.flatnonzero(~prof.ok[i])]
                notes.append(f"profile interval endpoint not found for {bad} (NaN)")
            unb = [fam.param_names[j] for j in range(k)
                   if np.isinf(prof.high[i, j]) or np.isinf(prof.low[i, j])
                   or (fam.log_scaled[j] and prof.low[i, j] == 0.0)]
            if unb:
                notes.append(f"profile interval unbounded for {unb}: the data do not bound them")
            if notes:
                msgs[b] = ("converged; " if conv[b] else "not converged: ") + "; ".join(notes)
    elif cfg.ci == "bootstrap" and ok.size:
        sub = prob.take(ok)
        with np.errstate(all="ignore"):
            mu_hat = fam.mean(sub.t, est[ok])
        boot_rng = np.random.default_rng([cfg.seed, _stable_hash(fam.name), 1])
        bres = bootstrap_intervals(fam, sub, res.theta[ok], mu_hat, cfg.level, cfg.n_boot,
                                   boot_rng, cfg.bootstrap)
        low[ok], high[ok] = bres.low, bres.high
        draws = np.full((cfg.n_boot, nb, k), np.nan)
        okb = np.zeros((cfg.n_boot, nb), bool)
        draws[:, ok], okb[:, ok] = bres.draws, bres.ok
        from cramcog.dynamics.intervals import BootstrapResult
        boot = BootstrapResult(draws=draws, ok=okb, low=low, high=high)
        frac = bres.ok.mean(0)
        for i, b in enumerate(ok):
            if frac[i] < 0.9:
                msgs[b] = (f"converged; only {frac[i]:.0%} of bootstrap replicates converged: "
                           "the interval uses those alone and may be unreliable")
    # A failed fit gets no interval: NaN, never a plausible-looking number.
    low[~conv], high[~conv] = np.nan, np.nan
    return FitResult(spec=fam, curves=curves, estimates=est, cov=cov_p, ci_low=low, ci_high=high,
                     converged_flags=conv, messages=msgs, loglik_values=_loglik(prob, res.obj),
                     ci_method=cfg.ci, level=float(cfg.level), seed=int(cfg.seed),
                     config=config, boot=boot)


def _stable_hash(name: str) -> int:
    """A process-independent integer for a family name (Python's hash() is salted)."""
    return zlib.crc32(name.encode())


def fit_consolidation_curve(t, y, n=None, family="power", ci="profile", level=0.95,
                            n_boot=1000, seed=0, dim=None, *, data=None, y_kind="auto",
                            bootstrap="parametric", by=None):
    """Fit forgetting / consolidation curve families by maximum likelihood, with intervals.

    Parameters
    ----------
    t : array_like, pandas Series, xarray DataArray, str or None
        Times since learning (>= 0; > 0 for families with ``log t`` or ``t**-gamma``). A string
        names a column of ``data`` or a coordinate of an xarray ``y``; None (xarray ``y``) uses
        the coordinate of the time dim.
    y : array_like, pandas Series/DataFrame, xarray DataArray or str
        Observations. With ``n``: proportions in [0, 1] or success counts <= n (see
        ``y_kind``). A 2-D array is (curve, point); a DataFrame with several columns is one
        curve per column; an xarray ``y`` with dims besides ``dim`` is a batch of curves, all
        fitted at once.
    n : array_like or int, optional
        Trials per point. Given: binomial likelihood. None: least squares (Gaussian likelihood
        with the variance profiled out, so AIC/BIC compare families on the same data).
    family : str, list of str, or "all"
        A name from ``FAMILIES`` (power-law exponents are always called ``gamma``), a list of
        names, or "all". "all" skips (with a warning, listed in ``FitSet.skipped``) families
        that these data cannot support, e.g. ``t = 0`` for the power law; an explicitly named
        family that cannot be fitted raises ValueError.
    ci : {"profile", "bootstrap", "wald", "none"} or None
        Interval method (see :mod:`cramcog.dynamics.intervals`).
    level : float
        Confidence level.
    n_boot : int
        Bootstrap replicates (``ci="bootstrap"``).
    seed : int
        Seed for the bootstrap and the restart perturbations: equal seeds give equal results.
    dim : str, optional
        With xarray ``y``: the time dimension (other dims become batch dims).
    data : pandas.DataFrame or xarray.Dataset, optional
        Look ``t``, ``y``, ``n`` up by name in it.
    y_kind : {"auto", "proportion", "successes", "percent", "value"}
        What ``y`` holds (:func:`cramcog.dynamics.data.convert_y` is the one place that reads
        it): proportions in [0, 1], whole counts of successes out of ``n``, percentages 0-100
        (divided by 100) or a measurement (least squares). "auto" reads proportions when every
        ``y`` lies in [0, 1] and warns or fails on anything ambiguous (values above 1 read as
        counts, a mistyped proportion, fractional counts), naming the values: say what ``y``
        holds to be sure.
    bootstrap : {"parametric", "nonparametric"}
        Bootstrap scheme (``ci="bootstrap"``).

    Returns
    -------
    FitResult
        For one family name.
    FitSet
        For a list or "all": a mapping ``name -> FitResult`` with ``best`` and ``table()``.

    Raises
    ------
    ValueError
        NaN/inf, negative t, t <= 0 for a family that needs t > 0, proportions outside [0, 1],
        successes > n, fewer points than parameters, mismatched lengths, constant y, unknown
        family (the message lists valid names), or bad settings.
    TypeError
        Non-numeric input.

    Notes
    -----
    A fit that fails a convergence check has ``converged == False``, a ``message`` saying why,
    and NaN intervals. Wald standard errors (``se``) are always reported for converged fits.

    Examples
    --------
    >>> import numpy as np
    >>> from cramcog.dynamics import fit_consolidation_curve
    >>> t = np.array([1, 2, 4, 8, 16, 32.0])
    >>> y = np.array([0.82, 0.66, 0.58, 0.46, 0.40, 0.34])
    >>> fits = fit_consolidation_curve(t, y, family=["power", "exponential"])
    >>> fits.best.family
    'power'
    >>> lo, hi = fits["power"].ci["gamma"]
    >>> bool(lo < fits["power"].params["gamma"] < hi)
    True
    """
    if by is not None:  # many subjects: per-subject fits and a group estimate (group.py)
        from cramcog.dynamics.group import fit_group
        return fit_group(t, y, n, family, by=by, data=data, dim=dim, y_kind=y_kind, ci=ci,
                         level=level, n_boot=n_boot, seed=seed, bootstrap=bootstrap)
    cfg = FitConfig(ci="none" if ci is None else ci, level=level, n_boot=n_boot, seed=seed,
                    bootstrap=bootstrap)
    fams, is_all = _family_list(family)
    curves = as_curves(t, y, n, dim=dim, y_kind=y_kind, data=data, stacklevel=3)
    usable, skipped = [], {}
    for fam in fams:
        why = _unusable(fam, curves)
        if not why:
            usable.append(fam)
        elif is_all:
            skipped[fam.name] = why
        else:
            raise ValueError(why)
    if skipped:
        warnings.warn(f"family='all' skipped {list(skipped)}: " + "; ".join(skipped.values()),
                      stacklevel=2)
    if not usable:
        raise ValueError("no family can be fitted to these data: " + "; ".join(skipped.values()))
    config = {"families": [f.name for f in usable], "ci": cfg.ci, "level": cfg.level,
              "n_boot": cfg.n_boot, "seed": cfg.seed, "bootstrap": cfg.bootstrap,
              "likelihood": curves.likelihood, "dim": dim, "y_kind": y_kind}
    results = {fam.name: _fit_family(fam, curves, cfg, config) for fam in usable}
    if isinstance(family, (str, Family)) and not is_all:
        return results[fams[0].name]
    return FitSet(results, skipped=skipped)
