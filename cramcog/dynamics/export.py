"""Fit results as cramcog records (xarray Datasets with dims (family, parameter, *batch dims)).

Examples
--------
>>> import numpy as np
>>> from cramcog.dynamics import fit_consolidation_curve
>>> t = np.array([1, 2, 4, 8, 16.0])
>>> fits = fit_consolidation_curve(t, [0.9, 0.7, 0.55, 0.47, 0.37], family=["power", "exp_sqrt"])
>>> ds = fits.to_xarray()
>>> ds["parameter"].values.tolist()
['a', 'gamma', 'b']
"""
from __future__ import annotations

import json

import numpy as np


def fits_to_record(fits, skipped: dict | None = None, criterion: str | None = None,
                   c_hat=None):
    """One record for fits of several families to the SAME data.

    Parameters
    ----------
    fits : list of FitResult
        Fits sharing their data (as in one ``fit_consolidation_curve`` call).
    skipped : dict, optional
        Families left out, with reasons (stored as attrs).
    criterion : str, optional
        The ranking criterion (default: the fits' own, "q"-prefixed for quasi fits).
    c_hat : array_like, optional
        (B,) the common dispersion a quasi FitSet ranks with.

    Returns
    -------
    xarray.Dataset
        ``estimate``, ``ci_low``, ``ci_high``, ``se``, ``fixed`` (1 = held) over (family,
        parameter, *batch); ``loglik``, ``aic``, ``aicc``, ``bic``, ``ic`` (the ranking
        criterion, named in attrs ``criterion``), ``deviance``, ``pearson_chi2``, ``df_resid``,
        ``dispersion``, ``converged``, ``message`` over (family, *batch) (and
        ``quasi_dispersion`` for quasi fits); ``formula`` over family; ``data_t``, ``data_y``
        (``data_n``) over (*batch, point).
    """
    from cramcog.records import new_record

    first = fits[0]
    params: list[str] = []
    for f in fits:
        params += [p for p in f.spec.param_names if p not in params]
    bdims, bshape = first.batch_dims, first.batch_shape
    nb = first.estimates.shape[0]
    nf, npar = len(fits), len(params)

    def per_param(get):
        out = np.full((nf, npar, nb), np.nan)
        for i, f in enumerate(fits):
            vals = get(f)                                                  # (B, k)
            for j, p in enumerate(f.spec.param_names):
                out[i, params.index(p)] = vals[:, j]
        return out.reshape((nf, npar) + bshape)

    def per_fit(get, dtype=float):
        return np.stack([np.asarray(get(f), dtype=dtype) for f in fits]).reshape((nf,) + bshape)

    se = per_param(lambda f: np.sqrt(np.maximum(np.diagonal(f.cov, axis1=1, axis2=2), 0)))
    fp = ("family", "parameter") + bdims
    fb = ("family",) + bdims
    crit = criterion or first.criterion_name
    if crit.startswith("q") and c_hat is None:
        c_hat = first.quasi_dispersion
    ic = per_fit(lambda f: f._ic_values(crit, c_hat))
    held = per_param(lambda f: np.broadcast_to(
        np.array([float(p in f.fixed) for p in f.spec.param_names]), f.estimates.shape))
    data_vars = {
        "estimate": (fp, per_param(lambda f: f.estimates),
                     {"long_name": "maximum-likelihood estimate"}),
        "ci_low": (fp, per_param(lambda f: f.ci_low),
                   {"long_name": f"lower {first.level:g} confidence limit ({first.ci_method})"}),
        "ci_high": (fp, per_param(lambda f: f.ci_high),
                    {"long_name": f"upper {first.level:g} confidence limit ({first.ci_method})"}),
        "se": (fp, se, {"long_name": "Wald standard error"}),
        "loglik": (fb, per_fit(lambda f: f.loglik_values), {"long_name": "log-likelihood"}),
        "aic": (fb, per_fit(lambda f: f._ic_values("aic")),
                {"long_name": "Akaike information criterion"}),
        "aicc": (fb, per_fit(lambda f: f._ic_values("aicc")),
                 {"long_name": "AIC with the small-sample correction (m = points)"}),
        "bic": (fb, per_fit(lambda f: f._ic_values("bic")),
                {"long_name": "Bayesian information criterion (m = points)"}),
        "ic": (fb, ic, {"long_name": f"ranking criterion ({crit})"}),
        "fixed": (fp, held, {"long_name": "parameter held fixed (1) or estimated (0); NaN: "
                                          "not a parameter of the family"}),
        "deviance": (fb, per_fit(lambda f: f.deviance_values),
                     {"long_name": "deviance (binomial) or residual sum of squares"}),
        "pearson_chi2": (fb, per_fit(lambda f: f.pearson_values),
                         {"long_name": "Pearson chi-square (binomial) or residual sum of "
                                       "squares"}),
        "df_resid": (("family",), np.array([f.df_resid for f in fits], dtype=np.int64),
                     {"long_name": "residual degrees of freedom (points - estimated "
                                   "parameters)"}),
        "dispersion": (fb, per_fit(lambda f: f.dispersion_values),
                       {"long_name": "Pearson chi-square / df (binomial; about 1 without "
                                     "overdispersion) or residual variance"}),
        "converged": (fb, per_fit(lambda f: f.converged_flags, np.int8),
                      {"long_name": "fit passed every convergence check (1) or not (0)"}),
        "message": (fb, per_fit(lambda f: f.messages.astype(str), object).astype(str),
                    {"long_name": "convergence / interval notes"}),
        "formula": (("family",), np.array([f.formula for f in fits], dtype=str)),
        "n_params": (("family",), np.array([f.n_params for f in fits], dtype=np.int64)),
    }
    m = first.n_points
    t = first.curves.t
    t_dims = ("point",) if t.shape[0] == 1 else bdims + ("point",)
    t_vals = t[0] if t.shape[0] == 1 else t.reshape(bshape + (m,))
    t_attrs = {"long_name": first.curves.time_name, **first.curves.time_attrs}
    data_vars["data_t"] = (t_dims, t_vals, t_attrs)
    data_vars["data_y"] = (bdims + ("point",), first.curves.y.reshape(bshape + (m,)),
                           {"long_name": first.curves.y_name + (
                               " (proportion)" if first.likelihood == "binomial" else "")})
    if first.quasi_dispersion is not None:
        data_vars["quasi_dispersion"] = (
            fb, per_fit(lambda f: f.quasi_dispersion),
            {"long_name": "dispersion scaling this family's intervals (floored at 1)"})
    if first.curves.n is not None:
        data_vars["data_n"] = (bdims + ("point",), first.curves.n.reshape(bshape + (m,)),
                               {"long_name": "trials"})
    coords = {
        "family": ("family", np.array([f.family for f in fits], dtype=str),
                   {"long_name": "curve family"}),
        "parameter": ("parameter", np.array(params, dtype=str),
                      {"long_name": "curve parameter (power-law exponents are 'gamma')"}),
        "point": ("point", np.arange(m, dtype=np.int64), {"long_name": "data point index"}),
    }
    for d in bdims:
        coords[d] = (d, np.asarray(first.batch_coords[d]))
    attrs = {"likelihood": first.likelihood, "ci_method": first.ci_method,
             "y_kind": first.curves.y_kind, "criterion": crit,
             "overdispersion": "quasi" if first.quasi_dispersion is not None else "none",
             "fixed_json": json.dumps(first.fixed),
             "level": float(first.level), "n_points": int(m),
             "families_skipped": list((skipped or {}).keys()) or "",
             "skipped_reasons": "; ".join((skipped or {}).values())}
    if c_hat is not None and crit.startswith("q"):
        data_vars["c_hat"] = (bdims, np.asarray(c_hat, float).reshape(bshape),
                              {"long_name": "dispersion used by the quasi criterion (all "
                                            "families)"})
    return new_record(data_vars, coords=coords, kind="fit", config=first.config,
                      seed=first.seed, attrs=attrs)
