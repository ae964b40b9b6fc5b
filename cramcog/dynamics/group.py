"""Many subjects: a fit per subject AND a group-level (random-effects) estimate of every parameter.

``fit_consolidation_curve(..., by="subject")`` lands here (:func:`fit_group`). Each subject's
curve is fitted by the usual batched maximum-likelihood fitter (all subjects of one design at
once); then, for every parameter, the per-subject estimates are combined by a random-effects
model: subject ``i``'s estimate ``theta_i`` with standard error ``se_i`` is read as

    theta_i = mu + u_i + e_i,   u_i ~ N(0, tau^2) (between subjects),   e_i ~ N(0, se_i^2)

so ``mu`` is the group value, ``tau`` the between-subject SD, and each subject's shrunken
(empirical-Bayes) estimate is ``mu + tau^2 / (tau^2 + se_i^2) (theta_i - mu)``.

- ``tau^2`` by restricted maximum likelihood (REML, as in metafor's default), which, unlike the
  plain SD of the per-subject estimates, subtracts their estimation noise: the raw SD
  overestimates the between-subject spread whenever subjects have few trials.
- The interval of ``mu`` is Hartung-Knapp-Sidik-Jonkman (a t interval with S - 1 df whose scale
  is the weighted residual spread, never smaller than the REML one: ``max(1, q)``), which keeps
  its level with few subjects, where the plain normal interval is too narrow.
- The interval of ``tau`` is the Q-profile interval (Viechtbauer 2007, Stat Med 26:37-52).
- Each subject's standard error is evaluated at the GROUP values of the parameters (expected
  information; its own noise level for least squares; re-evaluated a few rounds), so a
  subject's weight reflects its design (delays, trials) and noise, not the noise in its own
  estimates. Own Wald SEs are correlated with the estimates (binomial: a steeper curve ends
  nearer 0, where each trial says more), and weights from them bias the weighted mean: in
  simulation (600 subjects, 8 delays, 15 trials per point, group gamma 0.35, SD 0.05; 3 seeds)
  by -0.010 to -0.013 in gamma; with reference SEs by +0.000 to +0.002.
- Parameters the fitter keeps positive (``a``, rates) are combined on the log scale, the scale it
  optimises them on (``scale[name] == "log"``: ``params`` is then the geometric mean, the median
  subject, and ``sd`` is in log units); exponents such as ``gamma`` on their own scale.

Two group models (``group_model``). The two-stage model above is the default: it works for every
family and both likelihoods, reuses the batched per-subject fits (so 200 subjects x all families
cost about as much as one batched fit), and gives the per-subject table every lab wants anyway.
Its cost: it trusts each subject's Wald standard error, so subjects whose fit fails are left out
of the group estimate and listed (``excluded``), and so are fits held on the edge of [0, 1] (a
point at 100% or 0%, see ``FitResult.on_edge``): a constrained maximum is no roughly normal
estimate with a standard error (in simulation: 600 power-law subjects, 8 delays x 15 trials,
a = 0.8, 3 seeds, the 4-5% on the edge sat ~0.09 above their true gamma and would move the group
gamma by +0.003 to +0.004). Where many subjects have a cell at 100% that leaves out the best
rememberers and biases the group values (a warning says how many were left out, and why).
``group_model="mixed"`` (binomial only) fits a nonlinear mixed model to every subject's counts at
once instead (:mod:`cramcog.dynamics.mixed`: random effects by subject, integrated out by
adaptive Gauss-Hermite quadrature), which keeps every subject with a trial, 100% cells and curves
too short for a fit of their own included; the per-subject fits, the table and the family
ranking stay the same. A power law ``a t^-gamma`` on the binomial scale is a GLM only with a log
link, and statsmodels' binomial mixed model (``BinomialBayesMixedGLM``) has the logit link only
and is a variational approximation, so neither it nor a GLM replaces this; they serve as checks
(benchmarks/bench_mixed.py).

Conditions. With ``by=[condition, subject]`` every level gets its own group values, and
:meth:`GroupFit.difference` compares two levels (an interval and a t test), within or between
subjects as the subject ids say; ``report()`` prints every level against the first.

Simulation tests (tests/dynamics/test_group.py, test_mixed.py) check that the group gamma and the
between-subject SD are recovered, with intervals that cover the true values.

Averaging artefact. :meth:`GroupFitSet.compare` sets the fit to the pooled (averaged) curve beside
the per-subject fits and the group estimate: subjects that each forget exponentially at different
rates give an average that a power law describes better (Anderson & Tweney 1997), and the table
says which family each approach prefers and by how much.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from cramcog.dynamics import fit_consolidation_curve
>>> rng = np.random.default_rng(0)
>>> t = np.array([1, 2, 4, 8, 16, 32.0])
>>> gammas = rng.normal(0.4, 0.1, 12)                      # 12 subjects, group gamma 0.4
>>> rows = [(s, tt, rng.binomial(60, 0.9 * tt ** -g), 60)
...         for s, g in enumerate(gammas) for tt in t]
>>> df = pd.DataFrame(rows, columns=["subject", "day", "recalled", "trials"])
>>> group = fit_consolidation_curve("day", "recalled", "trials", data=df, by="subject",
...                                 y_kind="successes")
>>> group.n_subjects, round(group.params["gamma"], 1), round(group.sd["gamma"], 1)
(12, 0.4, 0.1)
>>> lo, hi = group.ci["gamma"]                             # HKSJ interval of the group gamma
>>> bool(lo < 0.4 < hi)
True
>>> group.table()[["subject", "family", "gamma", "gamma_low", "gamma_high"]].shape
(12, 5)
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from cramcog.dynamics.families import Family
from cramcog.dynamics.result import Params

MIN_POINTS = 3          # a curve with fewer distinct delays cannot tell families apart
EXCLUDED_WARN = 0.2     # warn when more than this share of subjects is left out of the group
REFERENCE_SE_ROUNDS = 3  # re-evaluations of each subject's SE at the group value (see above)
GROUP_MODELS = ("two-stage", "mixed")


# ----------------------------------------------------------------------------- random effects

@dataclass(frozen=True)
class RandomEffects:
    """A random-effects summary of per-subject estimates of one parameter (one scale).

    Attributes
    ----------
    mu, mu_low, mu_high : float
        The group value and its HKSJ interval.
    tau, tau_low, tau_high : float
        The between-subject SD (REML) and its Q-profile interval.
    n_used : int
        Subjects with a finite estimate and standard error.
    i2 : float
        Share of the spread of the estimates that is between-subject (Higgins' I^2).
    shrunk : numpy.ndarray
        Empirical-Bayes estimate per subject (NaN where the subject was not used).
    se, df : float
        Standard error of ``mu`` behind its interval and the degrees of freedom of its t
        reference (``mu_low = mu - t_df * se``).
    """

    mu: float
    mu_low: float
    mu_high: float
    tau: float
    tau_low: float
    tau_high: float
    n_used: int
    i2: float
    shrunk: np.ndarray
    se: float = float("nan")
    df: float = float("nan")


@dataclass(frozen=True)
class Difference:
    """A parameter compared between two conditions (:meth:`GroupFit.difference`).

    Attributes
    ----------
    parameter, a, b : str
        The parameter and the two groups (as "condition=level").
    estimate, ci_low, ci_high : float
        ``a - b`` (``scale == "difference"``) or ``a / b`` (``scale == "ratio"``, for
        parameters combined on the log scale) and its interval at ``level``.
    statistic, df, p : float
        t statistic (on the difference, or the log ratio), its degrees of freedom and the
        two-sided p-value of "no difference".
    design : str
        "within-subject" (subjects in both groups) or "between-subject".
    method : str
        How the standard error was found, in words.
    n_a, n_b, n_paired, n_used : int
        Subjects in each group, in both, and behind the comparison.
    model : str
        The group model ("two-stage" or "mixed").
    """

    parameter: str
    a: str
    b: str
    estimate: float
    ci_low: float
    ci_high: float
    statistic: float
    df: float
    p: float
    scale: str
    design: str
    method: str
    n_a: int
    n_b: int
    n_paired: int
    n_used: int
    level: float
    model: str

    def as_dict(self) -> dict:
        from dataclasses import asdict
        return asdict(self)

    def __str__(self) -> str:
        op = "-" if self.scale == "difference" else "/"
        p = f"p = {self.p:.3g}" if self.p >= 1e-4 else "p < 1e-4"
        return (f"{self.parameter}: [{self.a}] {op} [{self.b}] = {self.estimate:.4g} "
                f"[{self.ci_low:.4g}, {self.ci_high:.4g}]  t({self.df:.1f}) = "
                f"{self.statistic:.2f}, {p}  ({self.design}; {self.method})")


def _weighted_mean(y, v, tau2):
    w = 1.0 / (v + tau2)
    return float(np.sum(w * y) / np.sum(w)), w


def _q_generalised(y, v, tau2) -> float:
    mu, w = _weighted_mean(y, v, tau2)
    return float(np.sum(w * (y - mu) ** 2))


def random_effects(estimates, se, level: float = 0.95) -> RandomEffects:
    """Combine per-subject estimates with standard errors by a random-effects model.

    Parameters
    ----------
    estimates, se : array_like, shape (S,)
        One estimate and its standard error per subject; non-finite or non-positive standard
        errors leave that subject out.
    level : float
        Confidence level of both intervals.

    Returns
    -------
    RandomEffects
        NaN everywhere (``n_used`` says why) with fewer than 2 usable subjects.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> truth = rng.normal(0.5, 0.2, 400)                  # between-subject SD 0.2
    >>> se = np.full(400, 0.1)
    >>> re = random_effects(truth + rng.normal(0, se), se)
    >>> round(re.mu, 1), round(re.tau, 1), bool(re.tau_low < 0.2 < re.tau_high)
    (0.5, 0.2, True)
    """
    from scipy import optimize, stats

    y_all = np.asarray(estimates, dtype=float).reshape(-1)
    se_all = np.asarray(se, dtype=float).reshape(-1)
    use = np.isfinite(y_all) & np.isfinite(se_all) & (se_all > 0)
    shrunk = np.full(y_all.shape, np.nan)
    s = int(use.sum())
    if s < 2:
        nan = float("nan")
        return RandomEffects(nan, nan, nan, nan, nan, nan, s, nan, shrunk)
    y, v = y_all[use], se_all[use] ** 2
    alpha = 1.0 - level

    def neg_reml(tau2):
        mu, w = _weighted_mean(y, v, tau2)
        return 0.5 * (np.sum(np.log(v + tau2)) + np.log(np.sum(w)) + np.sum(w * (y - mu) ** 2))

    upper = 10.0 * float(np.var(y, ddof=1)) + float(v.max()) + 1e-12
    opt = optimize.minimize_scalar(neg_reml, bounds=(0.0, upper), method="bounded",
                                   options={"xatol": 1e-10 * upper + 1e-14})
    tau2 = float(opt.x) if neg_reml(float(opt.x)) < neg_reml(0.0) else 0.0
    mu, w = _weighted_mean(y, v, tau2)
    # Hartung-Knapp-Sidik-Jonkman interval; max(1, q) keeps it from being narrower than the
    # REML-based one when the estimates happen to agree more than their SEs say.
    q_hk = float(np.sum(w * (y - mu) ** 2) / (s - 1))
    se_mu = float(np.sqrt(max(1.0, q_hk) / np.sum(w)))
    half = stats.t.ppf(1 - alpha / 2, s - 1) * se_mu

    # Q-profile interval of tau^2: Q_gen(tau2) falls monotonically from Q_gen(0) to 0.
    def root(target):
        if _q_generalised(y, v, 0.0) <= target:
            return 0.0
        hi = upper
        while _q_generalised(y, v, hi) > target:
            hi *= 4.0
        return optimize.brentq(lambda x: _q_generalised(y, v, x) - target, 0.0, hi,
                               xtol=1e-12 * hi + 1e-15)

    tau2_low = root(stats.chi2.ppf(1 - alpha / 2, s - 1))
    tau2_high = root(stats.chi2.ppf(alpha / 2, s - 1))
    typical_v = (s - 1) * np.sum(1 / v) / (np.sum(1 / v) ** 2 - np.sum(1 / v ** 2))
    i2 = tau2 / (tau2 + typical_v) if np.isfinite(typical_v) else float("nan")
    shrunk[use] = mu + tau2 / (tau2 + v) * (y - mu)
    return RandomEffects(mu=mu, mu_low=mu - half, mu_high=mu + half, tau=float(np.sqrt(tau2)),
                         tau_low=float(np.sqrt(tau2_low)), tau_high=float(np.sqrt(tau2_high)),
                         n_used=s, i2=float(i2), shrunk=shrunk, se=se_mu, df=float(s - 1))


def _internal_variance(spec: Family, t: np.ndarray, n, theta: np.ndarray,
                       free: np.ndarray) -> np.ndarray:
    """Diagonal of the inverse expected information (B, k) of the ``free`` parameters on the
    optimiser's scale (NaN for held ones), up to the least-squares noise variance, which
    cancels in the ratios it is used for."""
    from cramcog.dynamics.fit import _safe_inv
    from cramcog.dynamics.optimizer import Problem, gauss_newton_terms

    y = np.full((theta.shape[0], np.shape(t)[-1]), 0.5)       # the information ignores y
    _, _, h = gauss_newton_terms(spec, Problem(t, y, n), theta)
    info = h[:, free][:, :, free]
    out = np.full(theta.shape, np.nan)
    ok = np.isfinite(info).all((-1, -2))
    if ok.any():
        sub = out[ok]
        sub[:, free] = np.diagonal(_safe_inv(info[ok]), axis1=1, axis2=2)
        out[ok] = sub
    return out


# ----------------------------------------------------------------------------- input

@dataclass
class _Long:
    """Observations in long form, one row per (curve, point), plus their names."""

    table: "object"              # DataFrame: conditions..., subject, _t, _y[, _n]
    subject: str                 # name of the subject column
    conditions: list             # names of condition columns (each level gets its own group)
    time_name: str
    time_attrs: dict
    y_name: str
    dropped: "object" = None     # DataFrame of rows left out before any curve: keys, row, reason


def _dropped_rows(df, keys: list, mask, reason: str):
    """The rows of ``df`` under ``mask`` as entries of ``excluded``: their labels, the row
    (the input's index) and why they were left out."""
    import pandas as pd

    out = pd.DataFrame({k: df.loc[mask, k].to_numpy() if k in df else np.nan for k in keys})
    out["row"] = np.asarray(df.index[mask])
    out["reason"] = reason
    return out


def _pooled_within_curve(df, names: list, time: str, skip: set) -> None:
    """Warn when a label column (text, category or bool) splits one curve into parts that each
    span several delays: a condition ``by`` does not name, so that curve mixes conditions (e.g.
    one subject id reused in two groups). A column with one level per delay only renames t."""
    for col in df.columns:
        if col in skip or col in names or df[col].dtype.kind in "iufcmM":
            continue
        levels = df.groupby(names, sort=False)[col].nunique(dropna=True)
        spans = df.groupby(names + [col], sort=False)[time].nunique().groupby(
            level=list(range(len(names)))).max()
        mixed = levels[(levels > 1) & (spans.reindex(levels.index) > 1)]
        if len(mixed):
            key = mixed.index[0]
            label = ", ".join(f"{k}={v}" for k, v in zip(names, key if isinstance(key, tuple)
                                                         else (key,)))
            warnings.warn(f"column {col!r} takes {int(mixed.iloc[0])} values within one curve "
                          f"({label}; {len(mixed)} curve(s) like it): those rows are pooled "
                          f"into one curve. If {col!r} is a condition, name it: "
                          f"by=[{col!r}, {names[-1]!r}]", UserWarning, stacklevel=5)


def _names(by) -> list[str] | None:
    if isinstance(by, str):
        return [by]
    if isinstance(by, (list, tuple)) and by and all(isinstance(b, str) for b in by):
        return list(by)
    return None


def _long_table(t, y, n, by, data, dim) -> _Long:
    """Any supported input -> long table (see :func:`fit_group` for the forms)."""
    import pandas as pd

    from cramcog.dynamics.data import _is_pandas, _is_xr

    names = _names(by)
    if data is not None and _is_pandas(data) and hasattr(data, "columns"):
        if names is None:
            raise TypeError("with data=DataFrame, by names its subject column, e.g. "
                            "by='subject' (or ['condition', 'subject'])")
        df = data.copy()
        df.columns = [str(c).strip() for c in df.columns]
        cols = {"t": t, "y": y, **({"n": n} if isinstance(n, str) else {})}
        wanted = {**cols, **{f"by[{i}]": b for i, b in enumerate(names)}}
        missing = [f"{v!r} ({k})" for k, v in wanted.items()
                   if not isinstance(v, str) or v not in df.columns]
        if missing:
            raise ValueError(f"column {', '.join(missing)} not found in data; it has columns "
                             f"{list(df.columns)} (name t, y, n and by as columns)")
        out = pd.DataFrame({b: df[b].to_numpy() for b in names})
        out["_t"], out["_y"] = df[t].to_numpy(), df[y].to_numpy()
        if n is not None:
            out["_n"] = df[n].to_numpy() if isinstance(n, str) else np.broadcast_to(
                np.asarray(n, dtype=float), len(df))
        out.index = df.index
        _pooled_within_curve(df, names, t, {c for c in cols.values() if isinstance(c, str)})
        bad = out[["_t", "_y"] + (["_n"] if n is not None else [])].isna().any(axis=1)
        dropped = _dropped_rows(out, names, bad, "missing t, y or n")
        if bad.any():
            warnings.warn(f"{int(bad.sum())} row(s) with a missing t, y or n were dropped "
                          f"(rows {df.index[bad].tolist()[:10]}; all listed in .excluded)",
                          stacklevel=4)
            out = out[~bad]
        return _Long(out, names[-1], names[:-1], t, {}, y, dropped)
    if data is not None and _is_xr(data) and hasattr(data, "data_vars"):
        def var(v):
            if isinstance(v, str):
                if v not in data.variables:
                    raise ValueError(f"{v!r} is not a variable of data (has "
                                     f"{list(data.variables)})")
                return data[v]
            return v
        t, y, n = (None if t is None else var(t)), var(y), var(n)
    if _is_xr(y):
        return _long_from_xarray(t, y, n, names, dim)
    # plain arrays: one row per observation, by = the subject label of each row
    if names is not None:
        raise ValueError(f"by={by!r} names a column or dim, but y is a plain array: pass "
                         "data=DataFrame (or an xarray y with that dim), or pass the subject "
                         "label of every observation, by=labels")
    from cramcog.dynamics.data import _numeric
    yv, tv = _numeric("y", y).reshape(-1), _numeric("t", t).reshape(-1)
    labels = np.asarray(by.to_numpy() if _is_pandas(by) else by)
    if not (yv.size == tv.size == labels.reshape(-1).size):
        raise ValueError(f"long input needs one t, y and subject label per observation; got "
                         f"{tv.size} t, {yv.size} y and {labels.size} labels")
    subject = str(getattr(by, "name", None) or "subject")
    out = pd.DataFrame({subject: labels.reshape(-1), "_t": tv, "_y": yv})
    if n is not None:
        out["_n"] = np.broadcast_to(_numeric("n", n), yv.shape) if np.ndim(n) <= 1 else \
            _numeric("n", n).reshape(-1)
    time_name = str(getattr(t, "name", None) or "t") if _is_pandas(t) else "t"
    y_name = str(getattr(y, "name", None) or "y") if _is_pandas(y) else "y"
    return _Long(out, subject, [], time_name, {}, y_name)


def _long_from_xarray(t, y, n, names, dim) -> _Long:
    import xarray as xr

    from cramcog.dynamics.data import _is_xr, _time_of

    if names is None:
        raise TypeError(f"with an xarray y, by names its subject dim (y has dims {y.dims})")
    missing = [b for b in names if b not in y.dims]
    if missing:
        raise ValueError(f"by={names} but y has no dim {missing} (dims: {y.dims})")
    free = [d for d in y.dims if d not in names]
    t, dim = _time_of(t, y, dim, free, f"by={names} names the subjects, any other dim is a "
                      "condition with its own group estimate")
    if not _is_xr(t):
        t = xr.DataArray(np.asarray(t, dtype=float), dims=(dim,))
    conditions = [d for d in free if d != dim]
    ds = xr.Dataset({"_y": y.reset_coords(drop=True),
                     "_t": t.reset_coords(drop=True).broadcast_like(y)})
    if n is not None:
        ds["_n"] = (n.reset_coords(drop=True) if _is_xr(n) else
                    xr.DataArray(np.asarray(n, dtype=float)) if np.ndim(n) == 0 else
                    xr.DataArray(np.asarray(n, dtype=float), dims=y.dims)).broadcast_like(y)
    for d in y.dims:
        if d not in ds.coords:
            ds = ds.assign_coords({d: np.arange(y.sizes[d])})
    df = ds.to_dataframe().reset_index()
    keep = df[["_t", "_y"] + (["_n"] if n is not None else [])].notna().all(axis=1)
    df = df[keep][conditions + names + ["_t", "_y"] + (["_n"] if n is not None else [])]
    time_name = str(t.name) if t.name is not None else str(dim)
    attrs = {k: v for k, v in t.attrs.items() if k in ("units", "long_name")}
    y_name = str(y.name) if y.name is not None else "y"
    return _Long(df.reset_index(drop=True), names[-1], conditions + names[:-1], time_name,
                 attrs, y_name)


# ----------------------------------------------------------------------------- fitting

@dataclass
class _Curves:
    """The curves to fit: an index (one row per curve) and the rows of each."""

    index: "object"         # DataFrame: conditions..., subject, n_points, excluded (reason or "")
    t: list                 # per curve: sorted times
    y: list                 # per curve: proportions (binomial) or raw values
    n: list | None          # per curve: trials, or None for least squares
    y_kind: str = "proportion"  # how the user's y was read (y itself is already converted)
    dropped: "object" = None    # DataFrame of rows without a label: keys, row, reason


def _split_curves(long: _Long, y_kind: str) -> _Curves:
    from cramcog.dynamics.data import convert_y

    df = long.table
    has_n = "_n" in df
    # ONE reading of y for the whole table, by the one place that reads y (convert_y), so
    # subjects cannot be read differently and nothing is divided by n twice.
    y, kind = convert_y(df["_y"].to_numpy(float), df["_n"].to_numpy(float) if has_n else None,
                        y_kind, df["_t"].to_numpy(float), stacklevel=5)
    return _table_curves(df.assign(_y=y[0]), long.conditions + [long.subject], kind)


def _table_curves(df, keys: list, y_kind: str) -> _Curves:
    """Long table -> one curve per ``keys`` combination, sorted by t; curves with fewer than
    MIN_POINTS distinct delays or a constant y are kept in the index, marked excluded."""
    import pandas as pd

    has_n = "_n" in df
    # groupby drops rows whose label is missing, and rows repeating a (curve, delay) are
    # counted twice: say so, never silently.
    unlabeled = df[keys].isna().any(axis=1)
    dropped = _dropped_rows(df, keys, unlabeled,
                            f"no {'/'.join(map(str, keys))} label")
    if unlabeled.any():
        warnings.warn(f"{int(unlabeled.sum())} row(s) without a {'/'.join(map(str, keys))} "
                      f"label were dropped (rows {df.index[unlabeled].tolist()[:10]}; all "
                      "listed in .excluded): give each row its label", UserWarning,
                      stacklevel=5)
    twice = df.duplicated(keys + ["_t"], keep="first") & ~unlabeled
    if twice.any():
        first = df[twice].iloc[0]
        where = ", ".join(f"{k}={first[k]}" for k in keys) + f", t={first['_t']:g}"
        warnings.warn(f"{int(twice.sum())} row(s) repeat a delay within one curve (first: "
                      f"{where}): each counts as another point. Duplicated rows? Drop them. "
                      "Several conditions under one subject id? Name the condition too, "
                      "by=['condition', 'subject']", UserWarning, stacklevel=5)
    rows, ts, ys, ns = [], [], [], []
    for key, part in df.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        part = part.sort_values("_t", kind="stable")
        t, y = part["_t"].to_numpy(float), part["_y"].to_numpy(float)
        why = ""
        if np.unique(t).size < MIN_POINTS:
            why = f"fewer than {MIN_POINTS} distinct delays"
        elif np.ptp(y) == 0:
            why = f"constant y = {y[0]:g}: no decay to fit"
        rows.append(dict(zip(keys, key), n_points=t.size, excluded=why))
        ts.append(t)
        ys.append(y)
        ns.append(part["_n"].to_numpy(float) if has_n else None)
    return _Curves(pd.DataFrame(rows), ts, ys, ns if has_n else None, y_kind, dropped)


@dataclass
class _FamilyFits:
    """One family fitted to every curve; arrays over all C curves (NaN where not fitted)."""

    spec: Family
    est: np.ndarray          # (C, k) natural parameters
    cov: np.ndarray          # (C, k, k) Wald covariance of the natural parameters
    low: np.ndarray          # (C, k) per-curve interval
    high: np.ndarray         # (C, k)
    conv: np.ndarray         # (C,) bool
    loglik: np.ndarray       # (C,)
    crit: np.ndarray         # (C,) information criterion (``criterion``)
    msgs: np.ndarray         # (C,) str
    blocks: list             # [(FitResult, curve indices)]: the batched fits behind the arrays
    criterion: str = "aicc"  # as the fitter ranked them ("qaicc" etc. for quasi fits)
    fixed: dict = None       # parameters held at a value (name -> value)
    edge: np.ndarray = None  # (C,) bool: binomial maximum on the edge of [0, 1]

    @classmethod
    def empty(cls, spec: Family, n_curves: int, why: np.ndarray) -> "_FamilyFits":
        k = spec.n_params
        nan = np.full((n_curves, k), np.nan)
        return cls(spec, nan.copy(), np.full((n_curves, k, k), np.nan), nan.copy(), nan.copy(),
                   np.zeros(n_curves, bool), np.full(n_curves, np.nan),
                   np.full(n_curves, np.nan), why.astype(object).copy(), [], fixed={},
                   edge=np.zeros(n_curves, bool))

    def put(self, fit, rows: np.ndarray, crit: np.ndarray, criterion: str) -> None:
        self.est[rows], self.cov[rows] = fit.estimates, fit.cov
        self.low[rows], self.high[rows] = fit.ci_low, fit.ci_high
        self.conv[rows] = fit.converged_flags
        self.loglik[rows] = fit.loglik_values
        self.crit[rows] = crit
        self.msgs[rows] = fit.messages
        self.edge[rows] = np.atleast_1d(fit.on_edge)
        self.criterion, self.fixed = criterion, dict(fit.fixed)
        self.blocks.append((fit, rows))


def _fit_curves(curves: _Curves, family, long: _Long, fit_kwargs: dict):
    """Fit every non-excluded curve, one batched call per number of points.

    Returns ``({family: _FamilyFits}, {family: reason it was fitted to no curve})``.
    """
    import xarray as xr

    from cramcog.dynamics.fit import fit_consolidation_curve
    from cramcog.dynamics.ranking import FitSet

    idx = curves.index
    why = idx["excluded"].to_numpy(object)
    by_m: dict[int, list[int]] = {}
    for c in np.flatnonzero(why == ""):
        by_m.setdefault(len(curves.t[c]), []).append(int(c))
    if not by_m:
        raise ValueError("no curve can be fitted: " + "; ".join(
            f"{s}: {w}" for s, w in zip(idx[long.subject], why)))
    results: dict[str, _FamilyFits] = {}
    skipped: dict[str, str] = {}
    not_fitted: list[tuple[np.ndarray, str, str | None]] = []   # (rows, reason, family or all)
    # y was read once, in _split_curves: proportions from here on (or raw values)
    kwargs = dict(fit_kwargs, y_kind="value" if curves.y_kind == "value" else "proportion")
    for m, rows in sorted(by_m.items()):
        rows = np.array(rows)

        def block(values, **named):
            return xr.DataArray(np.stack([values[c] for c in rows]), dims=("curve", "point"),
                                coords={"curve": rows}, **named)

        t_da = block(curves.t, name=long.time_name, attrs=long.time_attrs)
        y_da = block(curves.y, name=long.y_name)
        n_da = None if curves.n is None else block(curves.n)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)   # skips are reported once, below
                out = fit_consolidation_curve(t_da, y_da, n_da, family=family, dim="point",
                                              **kwargs)
        except ValueError as err:       # these curves cannot support the family (too few points)
            if len(by_m) == 1:
                raise
            not_fitted.append((rows, f"not fitted: {err}", None))
            continue
        if isinstance(out, FitSet):
            fits, crit = dict(out), {name: out.ic_values(name) for name in out}
            for name, reason in out.skipped.items():
                not_fitted.append((rows, f"not fitted: {reason}", name))
                skipped.setdefault(name, f"curves with {m} points: {reason}")
            criterion = out.criterion
        else:
            fits, crit = {out.family: out}, {out.family: np.atleast_1d(out.ic)}
            criterion = out.criterion_name
        for name, fit in fits.items():
            results.setdefault(name, _FamilyFits.empty(fit.spec, len(idx), why)).put(
                fit, rows, crit[name], criterion)
    if not results:
        raise ValueError("no family could be fitted to any curve: " + "; ".join(
            r for _, r, _ in not_fitted))
    for rows, reason, name in not_fitted:
        for fam in ([results[name]] if name in results else [] if name else results.values()):
            fam.msgs[rows] = reason
    unfitted = {k: v for k, v in skipped.items() if k not in results}
    if skipped:
        warnings.warn("family='all' left out " + "; ".join(
            f"{k} ({'every curve' if k in unfitted else 'some curves'}: {v})"
            for k, v in skipped.items()), stacklevel=4)
    return results, unfitted


def _pooled_curves(curves: _Curves, long: _Long) -> _Curves:
    """One curve per condition from every fitted subject: successes and trials summed at each
    delay (binomial), or y averaged over subjects (least squares): the averaged curve."""
    import pandas as pd

    idx = curves.index
    fitted = np.flatnonzero(idx["excluded"].to_numpy(object) == "")
    sizes = [len(curves.t[c]) for c in fitted]
    df = pd.DataFrame({"_t": np.concatenate([curves.t[c] for c in fitted]),
                       "_y": np.concatenate([curves.y[c] for c in fitted])})
    if curves.n is not None:
        df["_n"] = np.concatenate([curves.n[c] for c in fitted])
        df["_y"] = df["_y"] * df["_n"]                         # successes
    for col in long.conditions:
        df[col] = np.repeat(idx[col].to_numpy()[fitted], sizes)
    df[long.subject] = "pooled"
    keys = long.conditions + [long.subject]
    agg = {"_y": "sum", "_n": "sum"} if curves.n is not None else {"_y": "mean"}
    table = df.groupby(keys + ["_t"], sort=False).agg(agg).reset_index()
    if curves.n is not None:
        table["_y"] = table["_y"] / table["_n"]
    return _table_curves(table, keys, curves.y_kind)


# ----------------------------------------------------------------------------- results

class GroupFit:
    """One family fitted to every subject, with a group-level estimate of each parameter.

    Build it with ``fit_consolidation_curve(..., by="subject")`` (see :mod:`.group`).

    Attributes
    ----------
    family, formula, likelihood, level
        As for :class:`~cramcog.dynamics.FitResult`.
    subject : str
        Name of the subject column / dim.
    conditions : list of str
        Other columns / dims; each combination of their levels gets its own group estimate,
        listed in ``groups`` (a DataFrame) in the order of the group arrays.
    curves : pandas.DataFrame
        One row per subject (x condition): ``n_points`` and ``excluded`` (why a curve was not
        fitted, "" if it was).
    group_model : str
        "two-stage" (random effects of the per-subject estimates) or "mixed" (a binomial
        nonlinear mixed model of every subject's counts); see the module docstring.
    excluded : pandas.DataFrame
        Curves (and input rows) left out of the group estimate, with the reason.

    Notes
    -----
    Without conditions every group statistic is a float; with conditions an array over the
    rows of ``groups``; :meth:`difference` compares two of them.
    """

    def __init__(self, fits: _FamilyFits, curves: _Curves, long: _Long, level: float,
                 pooled: _FamilyFits | None = None, pooled_curves: _Curves | None = None,
                 group_model: str = "two-stage", random=None, n_nodes: int | None = None):
        import pandas as pd

        if group_model not in GROUP_MODELS:
            raise ValueError(f"group_model must be one of {GROUP_MODELS}, got {group_model!r}")
        if group_model == "mixed" and curves.n is None:
            raise ValueError("group_model='mixed' is the binomial mixed model: it needs trials "
                             "(n); for least squares use the two-stage group estimate")
        self._fits, self._curves, self._long = fits, curves, long
        self._pooled, self._pooled_curves = pooled, pooled_curves
        self.level = float(level)
        self.group_model = group_model
        self.subject, self.conditions = long.subject, list(long.conditions)
        self.curves = curves.index.copy()
        if self.conditions:
            self.groups = self.curves[self.conditions].drop_duplicates().reset_index(drop=True)
            key = self.curves[self.conditions].apply(tuple, axis=1)
            self._group_of = np.array([list(self.groups.apply(tuple, axis=1)).index(k)
                                       for k in key])
        else:
            self.groups = pd.DataFrame(index=[0])
            self._group_of = np.zeros(len(self.curves), int)
        spec = fits.spec
        g, k = len(self.groups), spec.n_params
        self._re = np.empty((g, k), dtype=object)
        self._shrunk = np.full((len(self.curves), k), np.nan)
        self._se_used = np.full((len(self.curves), k), np.nan)   # SEs the two-stage combined
        self._mixed = [None] * g                                  # MixedFit per group
        self._members = [np.array([], int)] * g                  # curves behind each group
        self._two_stage()
        reason = np.where(fits.edge, "converged on the edge of [0, 1] (a point at 0% or "
                          "100% held there): a constrained maximum, left out of the two-stage "
                          "group estimate (group_model='mixed' keeps it)",
                          fits.msgs.astype(str))
        if group_model == "mixed":
            reason = self._mixed_model(random, n_nodes)
        self._shrunk = np.where(spec.log_scaled, np.exp(self._shrunk), self._shrunk)
        usable = self._usable
        keys = [*self.conditions, self.subject]
        # whole curves left out (row = NA), then single input rows dropped before any curve
        self.excluded = pd.concat(
            [self.curves.loc[~usable, keys].assign(row=pd.NA, reason=reason[~usable])]
            + [d for d in (long.dropped, curves.dropped) if d is not None and len(d)],
            ignore_index=True)

    def _two_stage(self) -> None:
        """The random-effects combination of the per-subject estimates (module docstring)."""
        fits, spec = self._fits, self._fits.spec
        k = spec.n_params
        est_int, se_int = self._internal()
        held = fits.fixed or {}
        free = np.array([p not in held for p in spec.param_names])
        # parameters held at a value (fixed=, chance=): the same for everyone, no spread
        held_int = spec.to_internal(np.array([held.get(p, 1.0) for p in spec.param_names]))
        # Fits held on the edge of [0, 1] (a point at 0% or 100%) are constrained maxima, not
        # the roughly normal estimates with standard errors that this two-stage model combines
        # (in simulation they sit ~0.09 above the true gamma): they stay in the per-subject
        # table but are left out here, and listed in ``excluded``.
        self._usable = usable = fits.conv & ~fits.edge
        for gi in range(len(self.groups)):
            members = np.flatnonzero((self._group_of == gi) & usable)
            self._members[gi] = members

            def combine(se):
                return {j: random_effects(est_int[members, j], se[:, j], self.level)
                        for j in np.flatnonzero(free)}

            se_now = se_int[members]
            res = combine(se_now)
            for _ in range(REFERENCE_SE_ROUNDS):
                mu = np.where(free, [res[j].mu if free[j] else 0.0 for j in range(k)],
                              held_int)
                if not np.isfinite(mu).all():
                    break
                se_now = se_int[members] * self._se_ratio(members, mu, free)
                res = combine(se_now)
                if all(np.isclose(res[j].mu, mu[j], rtol=1e-6, atol=1e-9) for j in res):
                    break
            self._se_used[members] = se_now
            for j in range(k):
                v = float(held_int[j])
                re = res[j] if free[j] else RandomEffects(
                    v, v, v, 0.0, 0.0, 0.0, int(members.size), float("nan"),
                    np.full(members.size, v))
                self._re[gi, j] = re
                self._shrunk[members, j] = re.shrunk

    def _mixed_model(self, random, n_nodes) -> np.ndarray:
        """The binomial mixed model (:mod:`cramcog.dynamics.mixed`) per group, started at the
        two-stage values; every curve with a trial enters. Returns each curve's reason to be
        left out ("" if used)."""
        from cramcog.dynamics.mixed import fit_mixed

        fits, spec, curves = self._fits, self._fits.spec, self._curves
        held = fits.fixed or {}
        random = None if random is None else [p for p in random if p in spec.param_names
                                              and p not in held]
        has_data = np.array([bool(np.any(np.asarray(n) > 0)) for n in curves.n])
        reason = np.where(has_data, "", "no point with trials").astype(object)
        self._usable = has_data.copy()
        nan = float("nan")
        for gi in range(len(self.groups)):
            members = np.flatnonzero((self._group_of == gi) & has_data)
            self._members[gi] = members
            two = [self._re[gi, j] for j in range(spec.n_params)]
            start = np.array([r.mu for r in two])
            start_sd = np.array([r.tau for r in two])
            ok = np.isfinite(start).all()
            try:
                if members.size < 2:
                    raise ValueError(f"a mixed model needs at least 2 subjects, got "
                                     f"{members.size}")
                mixed = fit_mixed(spec, [curves.t[c] for c in members],
                                  [curves.y[c] for c in members],
                                  [curves.n[c] for c in members], fixed=held, random=random,
                                  level=self.level, n_nodes=n_nodes,
                                  start=spec.to_natural(start) if ok else None,
                                  start_sd=start_sd if ok else None)
            except (ValueError, np.linalg.LinAlgError) as err:
                warnings.warn(f"{spec.name}: the mixed model could not be fitted"
                              + (f" ({self._group_label(gi)})" if self.conditions else "")
                              + f": {err}", UserWarning, stacklevel=6)
                for j in range(spec.n_params):
                    self._re[gi, j] = RandomEffects(nan, nan, nan, nan, nan, nan, 0, nan,
                                                    np.full(members.size, nan))
                self._shrunk[members] = nan
                reason[members] = f"mixed model not fitted: {err}"
                self._usable[members] = False
                continue
            self._mixed[gi] = mixed
            low, high = mixed.interval_internal()
            sd_low, sd_high = mixed.sd_interval()
            se = mixed.se_internal()
            sd = list(mixed.sd.values())                     # 0 where at its floor
            for j in range(spec.n_params):
                self._re[gi, j] = RandomEffects(
                    float(mixed.beta[j]), float(low[j]), float(high[j]), float(sd[j]),
                    float(sd_low[j]), float(sd_high[j]), int(members.size), nan,
                    mixed.modes[:, j].copy(), se=float(se[j]), df=mixed.df)
            self._shrunk[members] = mixed.modes
            if not mixed.converged:
                warnings.warn(f"{spec.name}: the mixed model did not converge"
                              + (f" ({self._group_label(gi)})" if self.conditions else "")
                              + f": {mixed.message}", UserWarning, stacklevel=6)
        return reason

    def _group_label(self, gi: int) -> str:
        """'condition=level, ...' of group ``gi`` ("all" without conditions)."""
        if not self.conditions:
            return "all"
        row = self.groups.iloc[gi]
        return ", ".join(f"{c}={row[c]}" for c in self.conditions)

    def _se_ratio(self, members: np.ndarray, mu_internal: np.ndarray,
                  free: np.ndarray) -> np.ndarray:
        """sqrt(var at the group values / var at the subject's own estimates), (members, k).

        Variances from the expected information on the optimiser's scale, evaluated with every
        parameter at its group value, so a subject's weight reflects its design (delays,
        trials) and noise level, not the noise in its own estimates. 1 where singular.
        """
        spec = self.spec
        theta = spec.to_internal(self._fits.est[members])
        ratio = np.ones(theta.shape)
        for fit, rows in self._fits.blocks:
            pos = np.flatnonzero(np.isin(members, rows))
            if pos.size == 0:
                continue
            b = np.searchsorted(rows, members[pos])
            t = fit.curves.t if fit.curves.t.shape[0] == 1 else fit.curves.t[b]
            n = None if fit.curves.n is None else fit.curves.n[b]
            ref = np.broadcast_to(mu_internal, theta[pos].shape)
            with np.errstate(all="ignore"):
                r = np.sqrt(_internal_variance(spec, t, n, ref, free) /
                            _internal_variance(spec, t, n, theta[pos], free))
            ratio[pos] = np.where(np.isfinite(r) & (r > 0), r, 1.0)
        return ratio

    def _internal(self):
        """Per-curve estimates and Wald SEs on the optimiser's scale (log for positive params)."""
        f = self._fits
        var = np.diagonal(f.cov, axis1=1, axis2=2)
        with np.errstate(all="ignore"):
            se = np.sqrt(np.where(var >= 0, var, np.nan))
            log = f.spec.log_scaled
            est = np.where(log, np.log(f.est), f.est)
            se = np.where(log, se / f.est, se)
        return est, se

    # -- basic facts ---------------------------------------------------------------------------
    @property
    def spec(self) -> Family:
        return self._fits.spec

    @property
    def family(self) -> str:
        return self.spec.name

    @property
    def formula(self) -> str:
        return self.spec.formula

    @property
    def likelihood(self) -> str:
        return "least_squares" if self._curves.n is None else "binomial"

    @property
    def has_gamma(self) -> bool:
        return self.spec.has_gamma

    @property
    def n_subjects(self):
        """Subjects whose fit entered the group estimate (per group)."""
        return self._out(np.array([self._re[g, 0].n_used for g in range(len(self.groups))]))

    @property
    def scale(self) -> dict:
        """Parameter -> "log" (combined on the log scale) or "linear"."""
        return {p: ("log" if lg else "linear")
                for p, lg in zip(self.spec.param_names, self.spec.log_scaled)}

    def _out(self, values):
        values = np.asarray(values)
        return values[0].item() if not self.conditions else values

    def _stat(self, name: str, natural: bool):
        out = {}
        for j, p in enumerate(self.spec.param_names):
            v = np.array([getattr(self._re[g, j], name) for g in range(len(self.groups))],
                         dtype=float)
            out[p] = self._out(np.exp(v) if natural and self.spec.log_scaled[j] else v)
        return Params(out, self.spec)

    # -- group estimates -----------------------------------------------------------------------
    @property
    def params(self) -> dict:
        """Parameter -> group value (the median subject for log-scale parameters)."""
        return self._stat("mu", True)

    @property
    def ci(self) -> dict:
        """Parameter -> (low, high): HKSJ interval of the group value at ``level``."""
        lo, hi = self._stat("mu_low", True), self._stat("mu_high", True)
        return Params({p: (lo[p], hi[p]) for p in lo}, self.spec)

    @property
    def sd(self) -> dict:
        """Parameter -> between-subject SD (REML; in log units where ``scale`` is "log")."""
        return self._stat("tau", False)

    @property
    def sd_ci(self) -> dict:
        """Parameter -> (low, high): Q-profile interval of the between-subject SD."""
        lo, hi = self._stat("tau_low", False), self._stat("tau_high", False)
        return Params({p: (lo[p], hi[p]) for p in lo}, self.spec)

    @property
    def shrunk(self) -> dict:
        """Parameter -> empirical-Bayes estimate per curve (rows of ``curves``; NaN if unused)."""
        return Params({p: self._shrunk[:, j] for j, p in enumerate(self.spec.param_names)},
                      self.spec)

    def predict(self, t_new) -> np.ndarray:
        """The group curve (every parameter at its group value) at ``t_new``.

        Returns shape ``(len(t_new),)``, or ``(len(groups), len(t_new))`` with conditions.
        """
        p = np.array([[getattr(self._re[g, j], "mu") for j in range(self.spec.n_params)]
                      for g in range(len(self.groups))])
        p = np.where(self.spec.log_scaled, np.exp(p), p)
        tn = np.asarray(t_new, dtype=float).reshape(-1)
        with np.errstate(all="ignore"):
            mu = self.spec.mean(tn[None, :], p)
        return mu[0] if not self.conditions else mu

    # -- per-subject fits ----------------------------------------------------------------------
    def subject_fit(self, subject, **conditions):
        """One subject's fit as an ordinary single-curve FitResult.

        Examples
        --------
        >>> group.subject_fit(3).family        # doctest: +SKIP
        'power'
        """
        want = {self.subject: subject, **conditions}
        missing = [c for c in self.conditions if c not in conditions]
        if missing:
            raise ValueError(f"name the condition(s) {missing} too, e.g. "
                             f"subject_fit({subject!r}, {missing[0]}=...)")
        hit = np.ones(len(self.curves), bool)
        for col, value in want.items():
            if col not in self.curves:
                raise ValueError(f"unknown column {col!r}; use {[self.subject, *self.conditions]}")
            hit &= self.curves[col].astype(str).to_numpy() == str(value)
        if not hit.any():
            raise ValueError(f"no curve with {want}; subjects: "
                             f"{self.curves[self.subject].unique().tolist()[:20]}")
        c = int(np.flatnonzero(hit)[0])
        for fit, rows in self._fits.blocks:
            if c in rows:
                return fit.sel(curve=c)
        raise ValueError(f"the curve {want} was not fitted: {self._fits.msgs[c]}")

    def pooled_fit(self, **conditions):
        """The fit to the pooled (averaged) curve, as a FitResult (name a condition if any)."""
        if self._pooled is None:
            raise ValueError("no pooled fit: fit with pooled=True")
        hit = self._pooled_hit(conditions)
        if hit.sum() != 1:
            raise ValueError(f"name one level of each condition {self.conditions}")
        c = int(np.flatnonzero(hit)[0])
        for fit, rows in self._pooled.blocks:
            if c in rows:
                return fit.sel(curve=c)
        raise ValueError(f"the pooled curve was not fitted: {self._pooled.msgs[c]}")

    def _pooled_hit(self, conditions: dict) -> np.ndarray:
        """Which pooled curves have these condition levels (compared as text)."""
        idx = self._pooled_curves.index
        hit = np.ones(len(idx), bool)
        for col, value in conditions.items():
            hit &= idx[col].astype(str).to_numpy() == str(value)
        return hit

    def _pooled_rows(self) -> np.ndarray:
        """The pooled curve (row of the pooled fits) of each group, -1 where there is none.

        The pooled curves cover only conditions with a fitted curve, in the order their first
        fitted curve appears, so pooled row ``i`` need not be group ``i``."""
        rows = np.full(len(self.groups), -1)
        if self._pooled is None:
            return rows
        for gi in range(len(self.groups)):
            hit = self._pooled_hit(self.groups.iloc[gi].to_dict() if self.conditions else {})
            if hit.sum() == 1:
                rows[gi] = int(np.flatnonzero(hit)[0])
        return rows

    # -- tables --------------------------------------------------------------------------------
    def table(self):
        """Tidy per-subject table: one row per curve (see :meth:`GroupFitSet.table`)."""
        return _named_criterion(_subject_table({self.family: self}), self._fits.criterion)

    def group_table(self):
        """Tidy group table: one row per (condition, parameter): ``estimate``, ``ci_low``,
        ``ci_high``, ``sd``, ``sd_low``, ``sd_high``, ``scale``, ``n_subjects``, ``i2``,
        ``raw_sd`` (SD of the per-subject estimates, inflated by their noise)."""
        import pandas as pd

        est_int, _ = self._internal()
        rows = []
        for g in range(len(self.groups)):
            members = np.flatnonzero((self._group_of == g) & self._usable)
            for j, p in enumerate(self.spec.param_names):
                re = self._re[g, j]
                log = bool(self.spec.log_scaled[j])
                back = np.exp if log else (lambda x: x)
                raw = est_int[members, j]
                raw = raw[np.isfinite(raw)]
                rows.append({**self.groups.iloc[g].to_dict(), "family": self.family,
                             "parameter": p, "estimate": back(re.mu),
                             "ci_low": back(re.mu_low), "ci_high": back(re.mu_high),
                             "sd": re.tau, "sd_low": re.tau_low, "sd_high": re.tau_high,
                             "scale": "log" if log else "linear", "n_subjects": re.n_used,
                             "i2": re.i2,
                             "raw_sd": float(raw.std(ddof=1)) if raw.size > 1 else np.nan})
        return pd.DataFrame(rows)

    def _model_text(self) -> str:
        if self.group_model == "mixed":
            fit = next((m for m in self._mixed if m is not None), None)
            names = [p for p, r in zip(self.spec.param_names, fit.random) if r] if fit else []
            nodes = f"adaptive Gauss-Hermite, {fit.n_nodes} nodes per effect" if fit else ""
            return (f"{self.likelihood}; nonlinear mixed model, random effects over "
                    f"{self.subject} on {', '.join(names) or 'none'} ({nodes}); "
                    f"{self.level:.0%} Wald intervals (t, subjects - 1 df)")
        return (f"{self.likelihood}; random effects over {self.subject}, REML; "
                f"{self.level:.0%} HKSJ / Q-profile intervals")

    def report(self) -> str:
        """A short text report: the group estimates, the differences between conditions (each
        level against the first, see :meth:`difference`) and who was left out."""
        import pandas as pd

        lines = [f"{self.family}: {self.formula}  [{self._model_text()}]"]
        for _, r in self.group_table().iterrows():
            cond = ", ".join(f"{c}={r[c]}" for c in self.conditions)
            unit = " (log units)" if r["scale"] == "log" else ""
            lines.append(f"  {cond + ': ' if cond else ''}{r['parameter']:>6} = "
                         f"{r['estimate']:.4g} [{r['ci_low']:.4g}, {r['ci_high']:.4g}]   "
                         f"between-subject SD {r['sd']:.3g} [{r['sd_low']:.3g}, "
                         f"{r['sd_high']:.3g}]{unit}   n = {r['n_subjects']}")
        if len(self.groups) > 1:
            first = self._group_label(0)
            lines.append(f"  differences between conditions (each against {first}):")
            for gi in range(1, len(self.groups)):
                for p in self._free_params():
                    try:
                        lines.append(f"    {self.difference(p, gi, 0)}")
                    except ValueError as err:
                        lines.append(f"    {p}: {self._group_label(gi)} vs {first}: {err}")
        if len(self.excluded):
            keys = [*self.conditions, self.subject]
            lines.append(f"  left out ({len(self.excluded)}):")
            for reason, part in self.excluded.groupby("reason", sort=False):
                who = [", ".join(f"{k}={r[k]}" for k in keys)
                       + ("" if pd.isna(r["row"]) else f" (row {r['row']})")
                       for _, r in part.head(6).iterrows()]
                lines.append(f"    {len(part)} {reason}: " + "; ".join(who)
                             + (" ..." if len(part) > 6 else ""))
        return "\n".join(lines)

    # -- comparing conditions ------------------------------------------------------------------
    def _free_params(self) -> list[str]:
        held = self._fits.fixed or {}
        return [p for p in self.spec.param_names if p not in held]

    def _group_index(self, label) -> int:
        """The row of ``groups`` named by ``label``: a level of the one condition, a tuple of
        levels (one per condition), a dict ``{condition: level}``, or the row number."""
        if not self.conditions:
            raise ValueError("this fit has no conditions to compare: fit with by=[condition, "
                             "subject] (or --series COND with --by in the command line)")
        if isinstance(label, (int, np.integer)) and not isinstance(label, bool) and \
                not any(self.groups[c].astype(str).eq(str(label)).any() for c in self.conditions):
            if not 0 <= label < len(self.groups):
                raise ValueError(f"group {label} out of range: there are {len(self.groups)}")
            return int(label)
        if isinstance(label, dict):
            want = label
        elif isinstance(label, tuple):
            want = dict(zip(self.conditions, label))
        elif len(self.conditions) == 1:
            want = {self.conditions[0]: label}
        else:
            raise ValueError(f"name a level of each condition {self.conditions}, as a tuple "
                             f"or a dict, e.g. {dict(self.groups.iloc[0])}")
        unknown = [c for c in want if c not in self.conditions]
        if unknown or len(want) != len(self.conditions):
            raise ValueError(f"name a level of each condition {self.conditions}; got {label!r}")
        hit = np.ones(len(self.groups), bool)
        for col, value in want.items():
            hit &= self.groups[col].astype(str).to_numpy() == str(value)
        if not hit.any():
            raise ValueError(f"no group {want}; the groups are "
                             f"{self.groups.astype(str).to_dict('records')}")
        return int(np.flatnonzero(hit)[0])

    def difference(self, param: str, a, b) -> "Difference":
        """The difference of a parameter between two conditions, with an interval and a test.

        Parameters
        ----------
        param : str
            A free parameter, e.g. "gamma".
        a, b : level, tuple, dict or int
            The two groups: a level of the condition (one condition column), a tuple or dict of
            levels (several), or a row number of ``groups``.

        Returns
        -------
        Difference
            ``a - b`` for parameters on the linear scale, ``a / b`` for log-scale ones (``a``,
            rates), with its interval at ``level``, a t statistic and a two-sided p-value.

        Notes
        -----
        The design is read from the subject ids. No subject in both groups: between-subject,
        the two group estimates are independent; their standard errors add (Welch-Satterthwaite
        degrees of freedom). Subjects in both: within-subject. The two-stage model then
        combines each subject's own difference (a random-effects model of the paired
        differences, with the HKSJ interval: a paired test that keeps the between-subject
        variation of the effect); subjects in one group only are left out of it. The mixed
        model fits each condition separately and correlates the two estimates through the
        subjects they share, by the cluster-robust (sandwich) covariance of the stacked
        estimating equations (as Stata's ``suest``), small-sample factor S / (S - 1) and a t
        reference with S - 1 df (S subjects in either group).

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from cramcog.dynamics import fit_consolidation_curve
        >>> rng = np.random.default_rng(3)
        >>> t = np.array([1, 2, 4, 8, 16, 32.0])
        >>> rows = [(s, c, tt, rng.binomial(40, 0.9 * tt ** -(g + d)), 40)
        ...         for s, g in enumerate(rng.normal(0.4, 0.1, 20))
        ...         for c, d in (("restudy", 0.0), ("retrieval", -0.15)) for tt in t]
        >>> df = pd.DataFrame(rows, columns=["subject", "practice", "day", "k", "n"])
        >>> g = fit_consolidation_curve("day", "k", "n", data=df, y_kind="successes",
        ...                             by=["practice", "subject"], family="power",
        ...                             group_model="mixed")
        >>> d = g.difference("gamma", "retrieval", "restudy")
        >>> d.design, round(d.estimate, 2), bool(d.p < 0.001)
        ('within-subject', -0.13, True)
        """
        from scipy import stats

        if param not in self.spec.param_names:
            raise ValueError(f"{self.family} has no parameter {param!r}; its parameters are "
                             f"{list(self.spec.param_names)}")
        if param not in self._free_params():
            raise ValueError(f"{param} is held at a value (fixed=/chance=): it has no "
                             "difference to estimate")
        ia, ib = self._group_index(a), self._group_index(b)
        if ia == ib:
            raise ValueError(f"a and b name the same group ({self._group_label(ia)})")
        j = self.spec.param_names.index(param)
        log = bool(self.spec.log_scaled[j])
        subj = self.curves[self.subject].astype(str).to_numpy()
        in_a, in_b = (subj[self._members[g]] for g in (ia, ib))
        shared = sorted(set(in_a) & set(in_b))
        all_subjects = set(in_a) | set(in_b)
        nan = float("nan")
        if len(shared) >= 2:
            design = "within-subject"
            if self.group_model == "mixed":
                est, se, df, n_used = self._suest(ia, ib, j)
                method = (f"mixed model per condition, cluster-robust covariance over "
                          f"{len(all_subjects)} subjects ({len(shared)} in both)")
            else:
                ca = dict(zip(in_a, self._members[ia]))
                cb = dict(zip(in_b, self._members[ib]))
                rows_a = np.array([ca[s] for s in shared])
                rows_b = np.array([cb[s] for s in shared])
                est_int, _ = self._internal()
                d = est_int[rows_a, j] - est_int[rows_b, j]
                sd = np.sqrt(self._se_used[rows_a, j] ** 2 + self._se_used[rows_b, j] ** 2)
                re = random_effects(d, sd, self.level)
                est, se, df, n_used = re.mu, re.se, re.df, re.n_used
                method = (f"paired: random effects of {n_used} subjects' own differences "
                          f"(HKSJ)" + (f"; {len(all_subjects) - len(shared)} in one group only "
                                       "left out" if len(all_subjects) > len(shared) else ""))
        else:
            design = "between-subject"
            ra, rb = self._re[ia, j], self._re[ib, j]
            est = ra.mu - rb.mu
            va, vb = ra.se ** 2, rb.se ** 2
            se = float(np.sqrt(va + vb))
            df = (va + vb) ** 2 / (va ** 2 / ra.df + vb ** 2 / rb.df) if va + vb > 0 else nan
            n_used = ra.n_used + rb.n_used
            method = ("independent groups: standard errors added, Welch-Satterthwaite df"
                      + ("" if not shared else "; the one subject in both is treated as two"))
        tstat = est / se if se > 0 else nan
        p = float(2 * stats.t.sf(abs(tstat), df)) if np.isfinite(tstat) and df > 0 else nan
        half = float(stats.t.ppf(0.5 + self.level / 2, df)) * se if df > 0 else nan
        back = np.exp if log else (lambda x: x)
        return Difference(parameter=param, a=self._group_label(ia), b=self._group_label(ib),
                          estimate=float(back(est)), ci_low=float(back(est - half)),
                          ci_high=float(back(est + half)), statistic=float(tstat),
                          df=float(df), p=p, scale="ratio" if log else "difference",
                          design=design, method=method, n_a=int(len(in_a)),
                          n_b=int(len(in_b)), n_paired=int(len(shared) if design ==
                                                           "within-subject" else 0),
                          n_used=int(n_used), level=self.level, model=self.group_model)

    def _suest(self, ia: int, ib: int, j: int):
        """(difference, SE, df, subjects) of parameter ``j`` between two mixed-model groups that
        share subjects: the cluster-robust covariance of the two fits' stacked estimating
        equations (per-subject scores), bread = each fit's inverse Hessian."""
        fa, fb = self._mixed[ia], self._mixed[ib]
        if fa is None or fb is None:
            raise ValueError("the mixed model was not fitted in both groups")
        subj = self.curves[self.subject].astype(str).to_numpy()
        ids = sorted(set(subj[self._members[ia]]) | set(subj[self._members[ib]]))
        pos = {s: i for i, s in enumerate(ids)}
        pa, pb = fa.scores.shape[1], fb.scores.shape[1]
        scores = np.zeros((len(ids), pa + pb))
        scores[[pos[s] for s in subj[self._members[ia]]], :pa] = fa.scores
        scores[[pos[s] for s in subj[self._members[ib]]], pa:] = fb.scores
        bread = np.zeros((pa + pb, pa + pb))
        bread[:pa, :pa] = np.nan_to_num(fa.cov)       # an SD at 0 has no row: held there
        bread[pa:, pa:] = np.nan_to_num(fb.cov)
        n = len(ids)
        meat = scores.T @ scores * n / (n - 1)
        v = bread @ meat @ bread
        ja = int(np.flatnonzero(np.flatnonzero(fa.free) == j)[0])
        jb = pa + int(np.flatnonzero(np.flatnonzero(fb.free) == j)[0])
        var = v[ja, ja] + v[jb, jb] - 2 * v[ja, jb]
        return (float(fa.beta[j] - fb.beta[j]), float(np.sqrt(max(var, 0.0))), float(n - 1), n)

    def differences(self):
        """Every free parameter, every condition against the first: one row per
        :meth:`difference` (a DataFrame; empty without conditions)."""
        import pandas as pd

        rows = []
        for gi in range(1, len(self.groups)):
            for p in self._free_params():
                try:
                    rows.append({"family": self.family, **self.difference(p, gi, 0).as_dict()})
                except ValueError:
                    continue
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        return f"<GroupFit {self.report()}>"

    # -- output --------------------------------------------------------------------------------
    def to_xarray(self):
        """Per-subject and group estimates as one record (see :meth:`GroupFitSet.to_xarray`)."""
        return _group_record({self.family: self})

    def plot(self, **kwargs):
        """One panel per subject (shared axes): data, the subject's fit and the group curve.

        See :func:`cramcog.dynamics.plotting.plot_group` for the keyword arguments.
        """
        from cramcog.dynamics.plotting import plot_group
        return plot_group(self, **kwargs)


class GroupFitSet(Mapping):
    """Several families fitted to every subject: a read-only dict ``family -> GroupFit``.

    ``best`` is the family with the lowest AICc summed over subjects (on the subjects where
    every candidate converged); ``table()`` is one tidy table for all subjects and families,
    ``compare()`` sets the pooled curve beside the per-subject and group estimates.
    """

    def __init__(self, fits: dict[str, GroupFit], skipped: dict[str, str] | None = None):
        if not fits:
            raise ValueError("a GroupFitSet needs at least one family")
        self._fits = dict(fits)
        self.skipped = dict(skipped or {})

    def __getitem__(self, name: str) -> GroupFit:
        try:
            return self._fits[name]
        except KeyError:
            raise KeyError(f"{name!r} was not fitted; fitted families: {list(self._fits)}") \
                from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._fits)

    def __len__(self) -> int:
        return len(self._fits)

    def _first(self) -> GroupFit:
        return next(iter(self._fits.values()))

    @property
    def criterion(self) -> str:
        """The information criterion ranking the families ("aicc" by default; see
        ``fit_consolidation_curve``); table columns are named after it."""
        return self._first()._fits.criterion

    def ranking(self):
        """Families ranked by the criterion (AICc by default) summed over subjects, per group
        (condition); see :meth:`_ranking` for the columns ("aicc" in their names is the
        criterion's name)."""
        return _named_criterion(self._ranking(), self.criterion)

    def _ranking(self):
        """Families ranked by AICc summed over subjects, per group (condition).

        Candidates are families that converged on at least half of the fitted curves; the sums
        run over the curves on which every candidate converged (the same data for each).
        Columns: (conditions,) family, summed_aicc, delta_aicc, akaike_weight, share_best
        (share of those subjects whose own AICc picks this family), n_subjects.
        """
        import pandas as pd

        first = self._first()
        fitted = first.curves["excluded"].to_numpy(object) == ""
        cand = [n for n, g in self._fits.items()
                if g._fits.conv[fitted].mean() >= 0.5] if fitted.any() else []
        rows = []
        for gi in range(len(first.groups)):
            in_g = (first._group_of == gi) & fitted
            both = in_g.copy()
            for n in cand:
                both &= self._fits[n]._fits.conv & np.isfinite(self._fits[n]._fits.crit)
            crit = np.array([self._fits[n]._fits.crit[both] for n in cand]).reshape(
                len(cand), -1)
            winners = np.argmin(crit, axis=0) if crit.size else np.array([], int)
            total = crit.sum(axis=1)
            delta = total - total.min() if total.size else total
            weight = np.exp(-0.5 * delta) / np.exp(-0.5 * delta).sum() if total.size else total
            cond = first.groups.iloc[gi].to_dict() if first.conditions else {}
            for i, n in enumerate(cand):
                rows.append({**cond, "family": n, "summed_aicc": total[i],
                             "delta_aicc": delta[i], "akaike_weight": weight[i],
                             "share_best": float(np.mean(winners == i)) if winners.size
                             else np.nan, "n_subjects": int(both.sum())})
            for n in self._fits:
                if n not in cand:
                    rows.append({**cond, "family": n, "summed_aicc": np.nan,
                                 "delta_aicc": np.nan, "akaike_weight": np.nan,
                                 "share_best": np.nan, "n_subjects": 0})
        df = pd.DataFrame(rows)
        return df.sort_values(first.conditions + ["delta_aicc"], na_position="last",
                              kind="stable").reset_index(drop=True)

    @property
    def best(self) -> GroupFit:
        """The family with the lowest summed AICc (over all groups)."""
        rank = self._ranking().dropna(subset=["summed_aicc"])
        if rank.empty:
            raise ValueError("no family converged on at least half of the curves")
        return self._fits[rank.groupby("family")["summed_aicc"].sum().idxmin()]

    def table(self):
        """ONE tidy table for all subjects and families (write it with ``.to_csv(path)``).

        One row per (condition, subject, family): ``n_points``, ``converged``, ``loglik``,
        ``aicc``, ``delta_aicc`` and ``akaike_weight`` (within the subject, converged families
        only), every parameter with ``_low``/``_high`` (the per-subject interval) and
        ``_shrunk`` (the empirical-Bayes estimate), and ``message``.
        """
        return _named_criterion(_subject_table(self._fits), self.criterion)

    def group_table(self):
        """The group estimates of every family (rows of :meth:`GroupFit.group_table`)."""
        import pandas as pd
        return pd.concat([g.group_table() for g in self._fits.values()], ignore_index=True)

    def compare(self, gamma_family: str | None = None):
        """Pooled curve vs per-subject fits vs group estimate: the averaging artefact, measured.

        Parameters
        ----------
        gamma_family : str, optional
            The family whose ``gamma`` is compared (default: the best family with a gamma).

        Returns
        -------
        pandas.DataFrame
            One row per (condition, approach, family). ``approach`` is "pooled" (one fit to the
            averaged curve: successes and trials summed over subjects), "per-subject" (AICc
            summed over subjects) or "group" (random-effects estimate). ``delta_aicc`` and
            ``akaike_weight`` rank the families within an approach; ``share_best`` is the share
            of subjects whose own AICc picks the family; ``n_ranked`` counts the subjects
            behind the ranking (pooled: all pooled; per-subject: those on which every candidate
            converged). ``gamma``, ``gamma_low``, ``gamma_high``, ``gamma_sd`` are given for
            ``gamma_family``: the pooled fit's estimate and interval; the mean of the
            per-subject estimates with a t-interval and their raw SD; the group value with its
            HKSJ interval and the REML between-subject SD; ``n_gamma`` counts the subjects
            behind them.
        """
        import pandas as pd

        from cramcog.dynamics.intervals import seed_interval

        first = self._first()
        if gamma_family is None:
            with_gamma = [n for n in self._ranking().dropna(subset=["summed_aicc"])["family"]
                          if self._fits[n].has_gamma]
            gamma_family = with_gamma[0] if with_gamma else None
        elif gamma_family not in self._fits or not self._fits[gamma_family].has_gamma:
            have = [n for n, g in self._fits.items() if g.has_gamma]
            raise ValueError(f"gamma_family={gamma_family!r} is not a fitted family with a "
                             f"gamma; those are {have}")
        rank = self._ranking()
        rows = []
        pooled_row = first._pooled_rows()
        for gi in range(len(first.groups)):
            cond = first.groups.iloc[gi].to_dict() if first.conditions else {}
            # pooled: one curve, ranked by its own AICc
            if first._pooled is not None:
                pr = pooled_row[gi]
                crit = {n: g._pooled.crit[pr] if pr >= 0 and g._pooled.conv[pr] else np.nan
                        for n, g in self._fits.items()}
                best = np.nanmin(list(crit.values())) if np.isfinite(
                    list(crit.values())).any() else np.nan
                w = {n: np.exp(-0.5 * (c - best)) for n, c in crit.items()}
                norm = np.nansum(list(w.values()))
                pooled_n = int(((first._group_of == gi)
                                & (first.curves["excluded"].to_numpy(object) == "")).sum())
                for n, g in self._fits.items():
                    row = {**cond, "approach": "pooled", "family": n,
                           "delta_aicc": crit[n] - best, "akaike_weight": w[n] / norm,
                           "share_best": np.nan, "n_ranked": pooled_n}
                    if n == gamma_family:
                        j = g.spec.param_names.index("gamma")
                        est, low, high = ((a[pr, j] if pr >= 0 else np.nan) for a in
                                          (g._pooled.est, g._pooled.low, g._pooled.high))
                        row.update(gamma=est, gamma_low=low, gamma_high=high, gamma_sd=np.nan,
                                   n_gamma=pooled_n)
                    rows.append(row)
            sub = rank
            for c, v in cond.items():
                sub = sub[sub[c] == v]
            for _, r in sub.iterrows():
                n = r["family"]
                g = self._fits[n]
                row = {**cond, "approach": "per-subject", "family": n,
                       "delta_aicc": r["delta_aicc"], "akaike_weight": r["akaike_weight"],
                       "share_best": r["share_best"], "n_ranked": r["n_subjects"]}
                if n == gamma_family:
                    j = g.spec.param_names.index("gamma")
                    members = (g._group_of == gi) & g._fits.conv
                    mean, lo, hi, sd, n_g = seed_interval(g._fits.est[members, j], g.level)
                    row.update(gamma=mean, gamma_low=lo, gamma_high=hi, gamma_sd=sd,
                               n_gamma=n_g)
                rows.append(row)
            if gamma_family is not None:
                g = self._fits[gamma_family]
                re = g._re[gi, g.spec.param_names.index("gamma")]
                rows.append({**cond, "approach": "group", "family": gamma_family,
                             "delta_aicc": np.nan, "akaike_weight": np.nan,
                             "share_best": np.nan, "n_ranked": np.nan, "gamma": re.mu,
                             "gamma_low": re.mu_low, "gamma_high": re.mu_high,
                             "gamma_sd": re.tau, "n_gamma": re.n_used})
        cols = first.conditions + ["approach", "family", "delta_aicc", "akaike_weight",
                                   "share_best", "n_ranked", "gamma", "gamma_low", "gamma_high",
                                   "gamma_sd", "n_gamma"]
        out = pd.DataFrame(rows).reindex(columns=cols)
        out[["n_ranked", "n_gamma"]] = out[["n_ranked", "n_gamma"]].astype("Int64")
        return _named_criterion(out, self.criterion)

    def report(self) -> str:
        """The family ranking over subjects and the best family's group estimates."""
        import pandas as pd

        with pd.option_context("display.width", 200, "display.float_format", "{:.4g}".format):
            ranking = self.ranking().to_string(index=False)
        from cramcog.dynamics.ranking import CRITERION_LABELS

        label = CRITERION_LABELS.get(self.criterion, self.criterion)
        return f"families ranked by {label} summed over subjects:\n{ranking}\n\n" + \
            self.best.report()

    def to_xarray(self):
        """All families, per subject and per group, as one record (``kind="fit"``).

        Dims ``family``, ``parameter``, ``curve`` (one per subject x condition; coords name the
        subject and conditions), ``group`` (one per condition level) and ``point``.
        """
        return _group_record(self._fits)

    def plot(self, family: str | None = None, **kwargs):
        """One panel per subject: data, the subject's fit and the group curve of ``family``
        (default: the best). See :func:`cramcog.dynamics.plotting.plot_group`."""
        from cramcog.dynamics.plotting import plot_group
        return plot_group(self[family] if family else self.best, **kwargs)

    def __repr__(self) -> str:
        return f"<GroupFitSet {list(self._fits)}; best={self.best.family}>"


def _named_criterion(df, criterion: str):
    """Columns named after the criterion in use (aicc -> bic, qaicc, ...)."""
    if criterion == "aicc":
        return df
    return df.rename(columns=lambda c: c.replace("aicc", criterion))


def _subject_table(fits: dict[str, GroupFit]):
    import pandas as pd

    first = next(iter(fits.values()))
    keys = first.conditions + [first.subject]
    params: list[str] = []
    for g in fits.values():
        params += [p for p in g.spec.param_names if p not in params]
    frames = []
    for name, g in fits.items():
        f = g._fits
        df = first.curves[keys + ["n_points"]].copy()
        df["family"] = name
        df["converged"] = f.conv
        df["loglik"], df["aicc"] = f.loglik, f.crit
        for p in params:
            j = g.spec.param_names.index(p) if p in g.spec.param_names else None
            col = (lambda a: a[:, j]) if j is not None else (lambda a: np.full(len(df), np.nan))
            df[p], df[f"{p}_low"], df[f"{p}_high"] = col(f.est), col(f.low), col(f.high)
            df[f"{p}_shrunk"] = col(g._shrunk)
        df["message"] = f.msgs.astype(str)
        df["_curve"] = np.arange(len(df))
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    ok = out["aicc"].where(out["converged"])
    best = ok.groupby(out["_curve"]).transform("min")
    out["delta_aicc"] = ok - best
    w = np.exp(-0.5 * out["delta_aicc"])
    out["akaike_weight"] = w / w.groupby(out["_curve"]).transform("sum")
    out = out.sort_values(["_curve", "delta_aicc"], na_position="last", kind="stable")
    cols = keys + ["family", "n_points", "converged", "loglik", "aicc", "delta_aicc",
                   "akaike_weight"] + [c for p in params for c in
                                       (p, f"{p}_low", f"{p}_high", f"{p}_shrunk")] + ["message"]
    return out[cols].reset_index(drop=True)


def _group_record(fits: dict[str, GroupFit]):
    import pandas as pd

    from cramcog.records import new_record

    first = next(iter(fits.values()))
    names = list(fits)
    params: list[str] = []
    for g in fits.values():
        params += [p for p in g.spec.param_names if p not in params]
    nf, npar, nc, ng = len(names), len(params), len(first.curves), len(first.groups)

    def grid(get, shape):
        out = np.full((nf, npar) + shape, np.nan)
        for i, g in enumerate(fits.values()):
            for j, p in enumerate(g.spec.param_names):
                out[i, params.index(p)] = get(g, j)
        return out

    def per_curve(a):
        return lambda g, j: getattr(g._fits, a)[:, j]

    def per_group(a, natural=False):
        def get(g, j):
            v = np.array([getattr(g._re[gi, j], a) for gi in range(ng)], dtype=float)
            return np.exp(v) if natural and g.spec.log_scaled[j] else v
        return get

    crit = first._fits.criterion
    def wald_se(g, j):
        var = np.diagonal(g._fits.cov, axis1=1, axis2=2)[:, j]
        with np.errstate(invalid="ignore"):
            return np.sqrt(np.where(var >= 0, var, np.nan))

    se = grid(wald_se, (nc,))
    fpc, fpg = ("family", "parameter", "curve"), ("family", "parameter", "group")
    data_vars = {
        "estimate": (fpc, grid(per_curve("est"), (nc,)),
                     {"long_name": "per-subject maximum-likelihood estimate"}),
        "ci_low": (fpc, grid(per_curve("low"), (nc,)), {"long_name": "per-subject lower limit"}),
        "ci_high": (fpc, grid(per_curve("high"), (nc,)),
                    {"long_name": "per-subject upper limit"}),
        "se": (fpc, se, {"long_name": "per-subject Wald standard error"}),
        "shrunk": (fpc, grid(lambda g, j: g._shrunk[:, j], (nc,)),
                   {"long_name": "empirical-Bayes (shrunken) per-subject estimate"}),
        "converged": (("family", "curve"), np.stack([g._fits.conv for g in fits.values()])
                      .astype(np.int8), {"long_name": "per-subject fit converged (1) or not"}),
        "loglik": (("family", "curve"), np.stack([g._fits.loglik for g in fits.values()])),
        "ic": (("family", "curve"), np.stack([g._fits.crit for g in fits.values()]),
               {"long_name": f"ranking criterion ({crit}) per subject"}),
        "message": (("family", "curve"), np.stack([g._fits.msgs.astype(str)
                                                   for g in fits.values()]).astype(str)),
        "group_estimate": (fpg, grid(per_group("mu", True), (ng,)),
                           {"long_name": f"group value ({first.group_model})"}),
        "group_ci_low": (fpg, grid(per_group("mu_low", True), (ng,)),
                         {"long_name": f"lower {first.level:g} limit"}),
        "group_ci_high": (fpg, grid(per_group("mu_high", True), (ng,)),
                          {"long_name": f"upper {first.level:g} limit"}),
        "group_sd": (fpg, grid(per_group("tau"), (ng,)),
                     {"long_name": "between-subject SD (log units for log-scale params)"}),
        "group_sd_low": (fpg, grid(per_group("tau_low"), (ng,)),
                         {"long_name": f"lower {first.level:g} limit of the SD"}),
        "group_sd_high": (fpg, grid(per_group("tau_high"), (ng,)),
                          {"long_name": f"upper {first.level:g} limit of the SD"}),
        "group_n": (fpg, grid(per_group("n_used"), (ng,)),
                    {"long_name": "subjects in the group estimate"}),
        "formula": (("family",), np.array([g.formula for g in fits.values()], dtype=str)),
    }
    if first._pooled is not None:
        pooled_row = first._pooled_rows()

        def by_group(a):
            """Pooled-fit values ``a`` (one row per pooled curve) per group, NaN if none."""
            out = np.full((ng,) + a.shape[1:], np.nan)
            out[pooled_row >= 0] = a[pooled_row[pooled_row >= 0]]
            return out

        data_vars["pooled_estimate"] = (fpg, grid(lambda g, j: by_group(g._pooled.est)[:, j],
                                                  (ng,)),
                                        {"long_name": "estimate from the pooled curve"})
        data_vars["pooled_ic"] = (("family", "group"),
                                  np.stack([by_group(g._pooled.crit) for g in fits.values()]),
                                  {"long_name": f"ranking criterion ({crit}) of the pooled "
                                                "curve"})
    m = max(len(t) for t in first._curves.t)
    pad = lambda arrs: np.array([np.pad(a, (0, m - len(a)), constant_values=np.nan)  # noqa
                                 for a in arrs])
    t_attrs = {"long_name": first._long.time_name, **first._long.time_attrs}
    data_vars["data_t"] = (("curve", "point"), pad(first._curves.t), t_attrs)
    data_vars["data_y"] = (("curve", "point"), pad(first._curves.y),
                           {"long_name": first._long.y_name + (
                               " (proportion)" if first._curves.y_kind != "value" else "")})
    if first._curves.n is not None:
        data_vars["data_n"] = (("curve", "point"), pad(first._curves.n), {"long_name": "trials"})
    coords = {"family": ("family", np.array(names, dtype=str)),
              "parameter": ("parameter", np.array(params, dtype=str)),
              "curve": ("curve", np.arange(nc, dtype=np.int64)),
              "group": ("group", np.arange(ng, dtype=np.int64)),
              "point": ("point", np.arange(m, dtype=np.int64))}
    for col in [first.subject, *first.conditions]:
        coords[f"curve_{col}"] = ("curve", first.curves[col].astype(str).to_numpy())
    for col in first.conditions:
        coords[f"group_{col}"] = ("group", first.groups[col].astype(str).to_numpy())
    coords["scale"] = (("family", "parameter"), np.array(
        [[g.scale.get(p, "") for p in params] for g in fits.values()], dtype=str))
    attrs = {"likelihood": first.likelihood, "y_kind": first._curves.y_kind, "criterion": crit,
             "level": first.level, "subject": first.subject,
             "conditions": first.conditions or "", "group_model":
             "random effects on per-subject estimates: REML tau, HKSJ interval of the mean, "
             "Q-profile interval of tau" if first.group_model == "two-stage" else
             "binomial nonlinear mixed model (adaptive Gauss-Hermite quadrature): Wald "
             "intervals of the group values (t, subjects - 1 df) and of log tau",
             "excluded": "; ".join(
                 f"{r[first.subject]}" + ("" if pd.isna(r["row"]) else f" (row {r['row']})")
                 + f": {r['reason']}" for _, r in first.excluded.iterrows())}
    return new_record(data_vars, coords=coords, kind="fit", seed=-1, attrs=attrs)


# ----------------------------------------------------------------------------- entry point

def fit_group(t, y, n=None, family="power", *, by, data=None, dim=None, y_kind: str = "auto",
              level: float = 0.95, pooled: bool = True, group_model: str = "two-stage",
              random=None, n_nodes: int | None = None, **fit_kwargs):
    """Fit every subject's curve and estimate each parameter at the group level.

    Called by ``fit_consolidation_curve(..., by=...)``; the arguments are the same.

    Parameters
    ----------
    t, y, n
        Long data (one row per subject x delay) as column names of ``data`` (a DataFrame), or an
        xarray ``y`` with a subject dim (``t``: a coordinate name, a DataArray, or None for the
        time dim's coordinate), or plain arrays of equal length with ``by`` the subject label
        of each observation.
    family : str, list of str or "all"
        As for ``fit_consolidation_curve``.
    by : str, list of str, or array_like
        The subject column or dim. A list names condition columns/dims first and the subject
        last (e.g. ``["word_frequency", "subject"]``): each condition level gets its own group
        estimate. With an xarray ``y``, every dim other than ``by`` and ``dim`` is a condition.
    data : pandas.DataFrame or xarray.Dataset, optional
        Where ``t``, ``y``, ``n``, ``by`` are looked up by name.
    dim : str, optional
        The time dim of an xarray ``y``.
    y_kind : str
        How ``y`` is read with ``n`` (see ``fit_consolidation_curve``); decided once for the
        whole table.
    level : float
        Level of every interval (per subject and group).
    pooled : bool
        Also fit the pooled (averaged) curve, for :meth:`GroupFitSet.compare`.
    group_model : {"two-stage", "mixed"}
        How the group values are estimated. "two-stage" (default): a random-effects
        combination of the per-subject estimates (module docstring); subjects whose own fit
        failed or sits on the edge of [0, 1] (a cell at 0% or 100%) are left out. "mixed"
        (binomial only): a nonlinear mixed model fitted to every subject's counts at once
        (:mod:`cramcog.dynamics.mixed`); every subject with a trial is kept, 100% cells and
        curves too short for a fit of their own included. The per-subject fits, the table
        and the family ranking are the same for both.
    random : list of str, optional
        ``group_model="mixed"``: the parameters with a subject random effect (default: every
        free one); the others are the same for every subject.
    n_nodes : int, optional
        ``group_model="mixed"``: quadrature nodes per random effect (see
        :func:`cramcog.dynamics.mixed.fit_mixed`).
    **fit_kwargs
        Passed to ``fit_consolidation_curve`` for the per-subject fits (``ci``, ``seed``, ...).

    Returns
    -------
    GroupFit
        For one family name.
    GroupFitSet
        For a list of families or "all".

    Raises
    ------
    ValueError
        Missing columns/dims, fewer than 2 fittable subjects in a group, or any input error of
        ``fit_consolidation_curve``. Single subjects that cannot be fitted (fewer than 3
        delays, constant y, a failed fit) are left out and listed in ``excluded``.
    """
    from cramcog.dynamics.families import Family

    if fit_kwargs.get("cluster") is not None:
        raise ValueError("cluster= labels the subjects of ONE pooled curve; with by= every "
                         "subject is fitted as its own curve (and the group estimate carries "
                         "the between-subject variation): drop cluster=")
    fit_kwargs.pop("cluster", None)
    if group_model not in GROUP_MODELS:
        raise ValueError(f"group_model must be one of {GROUP_MODELS}, got {group_model!r}")
    if group_model != "mixed" and (random is not None or n_nodes is not None):
        raise ValueError("random= and n_nodes= set up the mixed model: pass "
                         "group_model='mixed' too")
    if random is not None and (isinstance(random, str) or not all(isinstance(p, str)
                                                                   for p in random)):
        raise ValueError(f"random must be a list of parameter names, e.g. ['gamma'], got "
                         f"{random!r}")
    long = _long_table(t, y, n, by, data, dim)
    curves = _split_curves(long, y_kind)
    kwargs = dict(fit_kwargs, level=level)
    fits, skipped = _fit_curves(curves, family, long, kwargs)
    pooled_fits, pooled_curves = {}, None
    if pooled:
        pooled_curves = _pooled_curves(curves, long)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                pooled_fits, _ = _fit_curves(pooled_curves, [f.spec for f in fits.values()],
                                             long, kwargs)
        except ValueError as err:
            warnings.warn(f"the pooled curve could not be fitted: {err}", stacklevel=3)
    single = isinstance(family, (str, Family)) and family != "all"
    if random is not None:
        names = {p for f in fits.values() for p in f.spec.param_names}
        unknown = [p for p in random if p not in names]
        if unknown:
            raise ValueError(f"random={list(random)}: no fitted family has parameter(s) "
                             f"{unknown} (parameters: {sorted(names)})")
    groups = {name: GroupFit(f, curves, long, level, pooled_fits.get(name), pooled_curves,
                             group_model=group_model, random=random, n_nodes=n_nodes)
              for name, f in fits.items()}
    few = [g for g in groups.values() if (np.atleast_1d(g.n_subjects) < 2).any()]
    if single and few:
        g = few[0]
        raise ValueError(f"{g.family}: a group estimate needs at least 2 fitted subjects per "
                         f"group; got {np.atleast_1d(g.n_subjects).tolist()} (left out: "
                         + "; ".join(f"{r[g.subject]}: {r['reason']}"
                                     for _, r in g.excluded.head(5).iterrows()) + ")")
    def curves_out(g):
        return int(g.excluded["row"].isna().sum())

    def why_out(g):
        """How many curves are left out, and why: converged on the edge of [0, 1] (two-stage
        only) apart from those not fitted or not converged."""
        out = ~g._usable
        edge = int((out & g._fits.edge & g._fits.conv).sum()) if g.group_model != "mixed" \
            else 0
        rest = int(out.sum()) - edge
        parts = ([f"{edge} converged on the edge of [0, 1] (a cell at 0% or 100%)"] if edge
                 else []) + ([f"{rest} not fitted or not converged" if g.group_model != "mixed"
                              else f"{rest} without data the mixed model can use"] if rest
                             else [])
        hint = "; group_model='mixed' keeps every subject" if edge else ""
        return f"{g.family}: {int(out.sum())} of {len(g.curves)} curves left out of the " \
               f"{g.group_model} group estimate ({', '.join(parts)}{hint})"

    many = [g for g in groups.values() if curves_out(g) > EXCLUDED_WARN * len(g.curves)]
    if many or few:
        warnings.warn("; ".join(
            [why_out(g) for g in many if g not in few]
            + ([f"no group estimate (fewer than 2 usable subjects) for "
                f"{[g.family for g in few]}"] if few else []))
            + " (see .excluded of each family)", stacklevel=3)
    if single:
        return next(iter(groups.values()))
    return GroupFitSet(groups, skipped=skipped)
