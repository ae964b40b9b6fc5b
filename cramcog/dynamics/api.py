"""The front of the fit layer: :func:`fit_consolidation_curve`, for one set of curves or, with
``by=``, for many subjects.

It sits above the two modules it hands the work to, and neither imports it:
:mod:`cramcog.dynamics.fit` fits one set of curves; :mod:`cramcog.dynamics.group` fits every
subject (through ``fit``) and a group-level estimate.

Examples
--------
>>> import numpy as np
>>> from cramcog.dynamics.api import fit_consolidation_curve
>>> t = np.array([1, 2, 4, 8, 16, 32.0])
>>> fit_consolidation_curve(t, [41, 33, 29, 23, 20, 17], n=50, y_kind="successes").family
'power'
"""
from __future__ import annotations

from cramcog.dynamics.fit import fit_consolidation_curve as _fit_curves
from cramcog.dynamics.group import fit_group


def fit_consolidation_curve(t, y, n=None, family="power", ci="profile", level=0.95,
                            n_boot=1000, seed=0, dim=None, *, data=None, y_kind="auto",
                            bootstrap="parametric", criterion="aicc", fixed=None, chance=None,
                            force=False, overdispersion=None, cluster=None, by=None,
                            group_model="two-stage", random=None, n_nodes=None):
    """Fit forgetting / consolidation curve families by maximum likelihood, with intervals.

    Parameters
    ----------
    t : array_like, pandas Series, xarray DataArray, str or None
        Times since learning (>= 0; > 0 for families with ``log t`` or ``t**-gamma``), or
        exposures / practice blocks. A string names a column of ``data`` or a coordinate of an
        xarray ``y``; None (xarray ``y``) uses the coordinate of the time dim.
    y : array_like, pandas Series/DataFrame, xarray DataArray or str
        Observations (see ``y_kind``). A 2-D array is (curve, point); a DataFrame with several
        columns is one curve per column; an xarray ``y`` with dims besides ``dim`` is a batch of
        curves, all fitted at once.
    n : array_like or int, optional
        Trials per point. Given: binomial likelihood. None: least squares (Gaussian likelihood
        with the variance profiled out, so information criteria compare families on the same
        data).
    family : str, list of str, or "all"
        A name from ``FAMILIES`` (power-law exponents are always called ``gamma``), a list of
        names, or "all". "all" skips (with a warning, listed in ``FitSet.skipped``) families
        that these data cannot support, e.g. ``t = 0`` for the power law or fewer than k + 2
        points; an explicitly named family that cannot be fitted raises ValueError.
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
        Look ``t``, ``y``, ``n``, ``cluster`` up by name in it.
    y_kind : {"auto", "proportion", "successes", "percent", "value", "rt"}
        What ``y`` holds (:func:`cramcog.dynamics.data.convert_y` is the one place that reads
        it): proportions in [0, 1], whole counts of successes out of ``n``, percentages 0-100
        (divided by 100), a measurement (least squares) or response times ("rt": positive and
        right-skewed, fitted with a log-normal likelihood, i.e. least squares on log y with the
        fitted curve as the median of y; no ``n``, no ``by``). "auto" reads proportions when every
        ``y`` lies in [0, 1] and warns or fails on anything ambiguous (values above 1 read as
        counts, a mistyped proportion, fractional counts), naming the values: say what ``y``
        holds to be sure.
    bootstrap : {"parametric", "nonparametric"}
        Bootstrap scheme (``ci="bootstrap"``); with ``cluster`` it is a cluster bootstrap.
    criterion : {"aicc", "aic", "bic"}
        How a FitSet ranks families: AICc (default; AIC with the small-sample correction
        ``2K(K+1)/(m-K-1)``, K parameters counting the noise variance for least squares, m
        points), AIC or BIC. With ``overdispersion="quasi"`` they become QAICc/QAIC/QBIC.
    fixed : dict, optional
        Parameters held at a value, not estimated (as lmfit's ``vary=False``), e.g.
        ``{"c": 0.25}`` or ``{"s": 1.0}``. They are not counted in k; their interval is the
        value itself. Named families must have them; "all" skips those that do not.
    chance : float, optional
        A chance floor, e.g. 0.25 for 4-choice recognition: the asymptote ``c`` is held there.
        Named families without ``+c`` are fitted as their ``+c`` variant (``power`` ->
        ``power+c``); "all" fits the ``+c`` families only.
    force : bool
        Fit families with fewer than k + 2 points (k + 3 for least squares).
    overdispersion : {None, "quasi"}
        "quasi" (binomial only): intervals scaled by the Pearson dispersion c (chi2 / df,
        floored at 1), profile and Wald intervals with F / t reference distributions, a
        beta-binomial parametric bootstrap, and QAIC(c) ranking with one c for all families
        (from the fit with the most parameters). Without it, a binomial fit whose dispersion is
        large warns.
    cluster : array_like or str, optional
        One label per point (subject, session, item) of ONE pooled curve, e.g. long data with
        several subjects per time. With ``ci="bootstrap"`` the clusters are resampled (a
        cluster bootstrap), so the intervals carry between-cluster variation.
    by : str, list of str or array_like, optional
        Many subjects: the subject column / dim (or each row's subject label). Fits every
        subject and a group-level (random-effects) estimate: a :class:`GroupFit` (one family)
        or :class:`GroupFitSet`; see :mod:`cramcog.dynamics.group`.
    group_model : {"two-stage", "mixed"}
        With ``by``: how the group values are estimated. "two-stage" (default) combines the
        per-subject estimates by a random-effects model and leaves out subjects whose fit
        failed or sits on the edge of [0, 1] (a cell at 0% or 100%); "mixed" (binomial) fits
        a nonlinear mixed model to every subject's counts at once and keeps them all
        (:mod:`cramcog.dynamics.mixed`). ``GroupFit.difference`` compares conditions under
        either.
    random : list of str, optional
        With ``group_model="mixed"``: the parameters with a subject random effect (default:
        every free parameter).
    n_nodes : int, optional
        With ``group_model="mixed"``: quadrature nodes per random effect.

    Returns
    -------
    FitResult
        For one family name.
    FitSet
        For a list or "all": a mapping ``name -> FitResult`` with ``best``, ``weights``,
        ``table()`` and ``report()``.

    Raises
    ------
    ValueError
        NaN/inf, negative t, t <= 0 for a family that needs t > 0, y impossible for its kind
        (named), successes > n, fewer than k + 2 points, mismatched lengths, constant y,
        unknown family (the message lists valid names), or bad settings.
    TypeError
        Non-numeric input.

    Warns
    -----
    UserWarning
        Ambiguous y (see ``y_kind``), families skipped by "all", a weak ranking from few
        points, a binomial fit with large dispersion (lack of fit / overdispersion).

    Notes
    -----
    Convergence is judged at the optimum, however the iterations ended: the Newton step still
    to go must be under 1e-3 standard errors and gain under a millionth of the objective (or
    less than the objective's round-off, as for exact counts of 1e9 trials), the Hessian must
    be positive definite and no parameter may sit at its bound, judged against the data's range
    of t (rescaling t, seconds vs hours, changes no verdict). A fit that reached the optimum
    when the iteration cap ran out is converged, and its ``message`` says so.

    Rising curves (learning, practice: accuracy over blocks) are fitted as such: the direction
    is read from Spearman's rank correlation of y with t, and on a rising curve (more rising
    than falling curves in a batch) a ``+c`` family takes its rising form ``c - base(t)``, e.g.
    ``c - a exp(-b t)`` with ``a > 0`` (``fit.formula`` shows it; see
    :func:`cramcog.dynamics.families.rising_form`). Some fits are left out of the ranking
    although they may have converged (``converged == False``, ``message`` "left out of the
    ranking: ..."): a degenerate shape (a Weibull with ``k <= 0``, singular at t = 0), or a
    family that can only fall (``hyperbolic``) on a rising curve.

    A fit that fails a convergence check has ``converged == False``, a ``message`` saying why,
    and NaN intervals. A binomial maximum on the edge of [0, 1] (a point observed at 100% or 0%
    that the curve could follow only by leaving [0, 1]) is the constrained maximum, held at
    exactly 1 or 0 there: converged, ``on_edge`` True, and its ``message`` names the point.
    Wald standard errors (``se``) are always reported for converged fits.
    Every result carries its goodness of fit (``deviance``, ``pearson_chi2``, ``dispersion``)
    and ``report()`` prints it all, in the spirit of lmfit's ``fit_report``.

    Examples
    --------
    >>> import numpy as np
    >>> from cramcog.dynamics import fit_consolidation_curve
    >>> t = np.array([1, 2, 4, 8, 16, 32.0])
    >>> y = np.array([0.82, 0.66, 0.58, 0.46, 0.40, 0.34])
    >>> fits = fit_consolidation_curve(t, y, family=["power", "exponential"])
    >>> fits.best.family, fits.criterion
    ('power', 'aicc')
    >>> lo, hi = fits["power"].ci["gamma"]
    >>> bool(lo < fits["power"].params["gamma"] < hi)
    True

    A 4-choice recognition curve falls towards chance (0.25), not towards 0:

    >>> k = np.array([37, 33, 29, 25, 22, 20, 18, 17])
    >>> fit = fit_consolidation_curve(np.arange(1.0, 9.0), k, n=40, y_kind="successes",
    ...                               family="exponential", chance=0.25)
    >>> fit.family, fit.fixed, fit.n_params
    ('exponential+c', {'c': 0.25}, 2)

    Accuracy rising over practice blocks, and response times falling by the power law of
    practice (a log-normal likelihood):

    >>> blocks = np.arange(1.0, 9.0)
    >>> fit = fit_consolidation_curve(blocks, [0, .53, .67, .80, .89, .92, .96, .95],
    ...                               family="exponential+c")
    >>> fit.formula, round(fit.params["c"], 3)
    ('c - a * exp(-b * t)', 0.954)
    >>> rt = [1276, 859, 824, 736, 695, 669, 611, 625, 598, 664, 594, 574]
    >>> fit = fit_consolidation_curve(np.arange(1.0, 13.0), rt, family="power+c", y_kind="rt")
    >>> fit.likelihood, round(fit.params["gamma"], 2)
    ('lognormal', 0.91)
    """
    if by is not None and y_kind == "rt":
        raise ValueError("y_kind='rt' (a log-normal likelihood) is not available for group fits "
                         "(by=) yet: fit each subject's curve without by=, or fit log RT with "
                         "y_kind='value'")
    if by is not None:  # many subjects: per-subject fits and a group estimate (group.py)
        return fit_group(t, y, n, family, by=by, data=data, dim=dim, y_kind=y_kind, ci=ci,
                         level=level, n_boot=n_boot, seed=seed, bootstrap=bootstrap,
                         criterion=criterion, fixed=fixed, chance=chance, force=force,
                         overdispersion=overdispersion, cluster=cluster,
                         group_model=group_model, random=random, n_nodes=n_nodes)
    if group_model != "two-stage" or random is not None or n_nodes is not None:
        raise ValueError("group_model=, random= and n_nodes= describe a group fit: name the "
                         "subjects with by= (e.g. by='subject')")
    return _fit_curves(t, y, n, family, ci, level, n_boot, seed, dim, data=data, y_kind=y_kind,
                       bootstrap=bootstrap, criterion=criterion, fixed=fixed, chance=chance,
                       force=force, overdispersion=overdispersion, cluster=cluster,
                       stacklevel=3)
