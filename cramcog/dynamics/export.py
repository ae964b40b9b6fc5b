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

import numpy as np


def fits_to_record(fits, skipped: dict | None = None):
    """One record for fits of several families to the SAME data.

    Parameters
    ----------
    fits : list of FitResult
        Fits sharing their data (as in one ``fit_consolidation_curve`` call).
    skipped : dict, optional
        Families left out, with reasons (stored as attrs).

    Returns
    -------
    xarray.Dataset
        ``estimate``, ``ci_low``, ``ci_high``, ``se`` over (family, parameter, *batch);
        ``loglik``, ``aic``, ``bic``, ``converged``, ``message`` over (family, *batch);
        ``formula`` over family; ``data_t``, ``data_y`` (``data_n``) over (*batch, point).
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
    aic = per_fit(lambda f: 2 * f._k_aic - 2 * f.loglik_values)
    bic = per_fit(lambda f: f._k_aic * np.log(f.n_points) - 2 * f.loglik_values)
    data_vars = {
        "estimate": (fp, per_param(lambda f: f.estimates),
                     {"long_name": "maximum-likelihood estimate"}),
        "ci_low": (fp, per_param(lambda f: f.ci_low),
                   {"long_name": f"lower {first.level:g} confidence limit ({first.ci_method})"}),
        "ci_high": (fp, per_param(lambda f: f.ci_high),
                    {"long_name": f"upper {first.level:g} confidence limit ({first.ci_method})"}),
        "se": (fp, se, {"long_name": "Wald standard error"}),
        "loglik": (fb, per_fit(lambda f: f.loglik_values), {"long_name": "log-likelihood"}),
        "aic": (fb, aic, {"long_name": "Akaike information criterion"}),
        "bic": (fb, bic, {"long_name": "Bayesian information criterion (m = points)"}),
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
             "y_kind": first.curves.y_kind,
             "level": float(first.level), "n_points": int(m),
             "families_skipped": list((skipped or {}).keys()) or "",
             "skipped_reasons": "; ".join((skipped or {}).values())}
    return new_record(data_vars, coords=coords, kind="fit", config=first.config,
                      seed=first.seed, attrs=attrs)
