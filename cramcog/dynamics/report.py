"""Text reports of fits, in the spirit of lmfit's ``fit_report``: ``FitResult.report()`` and
``FitSet.report()`` call these.

A report says what was fitted and how (family, formula, likelihood, how y was read, held
parameters), whether it converged, how well it fits (deviance, Pearson dispersion and its
lack-of-fit p, information criteria), every parameter with its standard error and interval, and
the correlations between estimates; a FitSet report ranks the families first.

Examples
--------
>>> import numpy as np
>>> from cramcog.dynamics import fit_consolidation_curve
>>> t = np.array([1, 2, 4, 8, 16, 32.0])
>>> fit = fit_consolidation_curve(t, [0.82, 0.66, 0.58, 0.46, 0.40, 0.34], family="power")
>>> print(fit.report())                                              # doctest: +ELLIPSIS
[[Fit]] power: a * t**(-gamma)
    likelihood  least squares, 6 points, 2 estimated parameters (+ noise variance)
...
"""
from __future__ import annotations

import numpy as np

from cramcog.dynamics.criteria import CRITERION_LABELS as _CRIT


def _num(x, digits: int = 4) -> str:
    if x is None or not np.isfinite(x):
        return "nan" if x is None or np.isnan(x) else ("inf" if x > 0 else "-inf")
    return f"{x:.{digits}g}"


def _likelihood_line(fit) -> str:
    like = fit.likelihood.replace("_", " ")
    kind = fit.curves.y_kind
    how = f" (y read as {kind})" if kind != "value" else ""
    extra = "" if fit.likelihood == "binomial" else " (+ noise variance)"
    held = f", {len(fit.fixed)} held" if fit.fixed else ""
    return (f"{like}{how}, {fit.n_points} points, {fit.n_params} estimated "
            f"parameter{'s' if fit.n_params != 1 else ''}{extra}{held}")


def _curve_lines(fit, b: int) -> list[str]:
    """Goodness of fit, parameters and correlations of curve b."""
    out = ["[[Goodness of fit]]"]
    df = fit.df_resid
    if fit.likelihood == "binomial":
        out.append(f"    deviance    {_num(fit.deviance_values[b])}  ({df} df)")
        out.append(f"    Pearson     chi2 {_num(fit.pearson_values[b])}, dispersion "
                   f"{_num(fit.dispersion_values[b], 3)}, lack-of-fit p = "
                   f"{_num(fit.gof_p_values[b], 2)}")
    else:
        rss = "RSS log y " if fit.likelihood == "lognormal" else "RSS       "
        out.append(f"    {rss}  {_num(fit.deviance_values[b])}  ({df} df); residual "
                   f"variance {_num(fit.dispersion_values[b], 3)}")
    out.append(f"    log-lik     {_num(fit.loglik_values[b], 6)}")
    crits = ["aicc", "aic", "bic"]
    vals = "  ".join(f"{_CRIT[c]} {_num(fit._ic_values(c)[b], 6)}" for c in crits)
    if fit.quasi_dispersion is not None:
        q = fit.criterion_name
        vals = f"{_CRIT[q]} {_num(fit._ic_values(q)[b], 6)}  " + vals
    out.append(f"    {vals}   (ranking: {_CRIT[fit.criterion_name]})")
    title = f"[[Parameters]]  {fit.ci_method} {fit.level:.0%} intervals"
    if fit.quasi_dispersion is not None:
        title += f", scaled by dispersion {fit.quasi_dispersion[b]:.3g} (quasi)"
    out.append(title)
    names = fit.spec.param_names
    var = np.diagonal(fit.cov[b])
    for j, p in enumerate(names):
        est = fit.estimates[b, j]
        if p in fit.fixed:
            out.append(f"    {p:<7} = {_num(est)} (fixed)")
            continue
        se = np.sqrt(var[j]) if np.isfinite(var[j]) and var[j] >= 0 else np.nan
        line = (f"    {p:<7} = {_num(est)}  se {_num(se, 3)}  "
                f"[{_num(fit.ci_low[b, j])}, {_num(fit.ci_high[b, j])}]")
        if p == fit.shape_param:
            line += "  shape parameter"
        out.append(line)
    free = [j for j, p in enumerate(names) if p not in fit.fixed]
    corr = []
    for i, j in ((i, j) for n, i in enumerate(free) for j in free[n + 1:]):
        d = np.sqrt(var[i] * var[j])
        if np.isfinite(d) and d > 0:
            r = fit.cov[b, i, j] / d
            if abs(r) >= 0.1:
                corr.append((abs(r), f"    C({names[i]}, {names[j]}) = {r:+.3f}"))
    if corr:
        out.append("[[Correlations]]  (|r| >= 0.1)")
        out += [c for _, c in sorted(corr, reverse=True)]
    return out


def fit_report(fit, max_curves: int = 20) -> str:
    """The text of :meth:`FitResult.report` (see there)."""
    lines = [f"[[Fit]] {fit.family}: {fit.formula}",
             f"    likelihood  {_likelihood_line(fit)}"]
    if fit.fixed:
        lines.append("    held        " + ", ".join(f"{k} = {v:g}" for k, v in fit.fixed.items()))
    if not fit.batch_shape:
        lines.append(f"    converged   {bool(fit.converged_flags[0])}"
                     + ("" if fit.converged_flags[0] else f" ({fit.messages[0]})"))
        lines += _curve_lines(fit, 0)
        notes = []
        if fit.converged_flags[0] and fit.messages[0] != "converged":
            notes.append(fit.messages[0])
        if fit.quasi_dispersion is not None:
            notes.append("overdispersion='quasi': standard errors and intervals are scaled by the "
                         "Pearson dispersion (floored at 1), with t / F reference distributions; "
                         "information criteria are QAIC-type (deviance / dispersion, one more "
                         "parameter)")
        if fit.likelihood == "binomial" and np.isfinite(fit.gof_p_values[0]) and \
                fit.gof_p_values[0] < 0.01 and fit.quasi_dispersion is None:
            notes.append(f"lack of fit: dispersion {fit.dispersion_values[0]:.2f} (p = "
                         f"{fit.gof_p_values[0]:.2g}); binomial intervals are too narrow: "
                         "consider overdispersion='quasi' or a cluster bootstrap")
        if notes:
            lines.append("[[Notes]]")
            lines += [f"    - {n}" for n in notes]
        return "\n".join(lines)
    import pandas as pd
    nb = fit.estimates.shape[0]
    lines.append(f"    curves      {nb} over {fit.batch_dims}; "
                 f"{int(fit.converged_flags.sum())} converged")
    index = np.unravel_index(np.arange(nb), fit.batch_shape)
    rows = []
    for b in range(min(nb, max_curves)):
        row = {d: fit.batch_coords[d][index[i][b]] for i, d in enumerate(fit.batch_dims)}
        for j, p in enumerate(fit.spec.param_names):
            row[p] = fit.estimates[b, j]
            if p not in fit.fixed:
                row[f"{p}_low"], row[f"{p}_high"] = fit.ci_low[b, j], fit.ci_high[b, j]
        row.update({_CRIT[fit.criterion_name]: fit._ic_values(fit.criterion_name)[b],
                    "dispersion": fit.dispersion_values[b],
                    "converged": bool(fit.converged_flags[b])})
        rows.append(row)
    lines.append("[[Curves]]  estimates, " + f"{fit.ci_method} {fit.level:.0%} intervals")
    text = pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4g}")
    lines += ["    " + ln for ln in text.splitlines()]
    if nb > max_curves:
        lines.append(f"    ... {nb - max_curves} more curves (fit.sel(...) reports one)")
    return "\n".join(lines)


def fitset_report(fits, max_rows: int = 20) -> str:
    """The text of :meth:`FitSet.report` (see there)."""
    best = fits.best
    crit = fits.criterion
    table = fits.table()
    lines = [f"[[Model comparison]]  ranked by {_CRIT[crit]}; {best.n_points} points, "
             f"{best.likelihood.replace('_', ' ')}"]
    if fits.c_hat is not None:
        lines.append(f"    one dispersion for every family (most general converged fit): "
                     f"c = {', '.join(f'{c:.3g}' for c in np.ravel(fits.c_hat)[:5])}")
    if best.batch_shape:
        # per family: curves where it ranks first, and the criterion summed over curves
        keys = list(best.batch_dims)
        firsts = table[table["converged"]].groupby(keys, sort=False).head(1)["family"]
        summary = table.groupby("family", sort=False).agg(
            n_params=("n_params", "first"), total=(crit, "sum"),
            converged=("converged", "sum")).reset_index()
        summary["best_on"] = summary["family"].map(firsts.value_counts()).fillna(0).astype(int)
        summary = summary.sort_values("total").rename(columns={"total": f"sum {_CRIT[crit]}"})
        text = summary.to_string(index=False, float_format=lambda v: f"{v:.6g}")
    else:
        show = table.head(max_rows).copy()
        show.insert(0, "rank", [str(i + 1) if ok else "-"
                                for i, ok in enumerate(show["converged"])])
        show["shape"] = [f"{p}={_num(v, 3)}" if p else "" for p, v in
                         zip(show["shape_param"], show["shape"])]
        cols = ["rank", "family", "n_params", "loglik", crit, f"delta_{crit}", "akaike_weight",
                "shape", "dispersion", "converged"]
        text = show[cols].rename(columns={"n_params": "k", crit: _CRIT[crit],
                                          f"delta_{crit}": f"d{_CRIT[crit]}",
                                          "akaike_weight": "weight"}).to_string(
            index=False, float_format=lambda v: f"{v:.4g}")
        if len(table) > max_rows:
            text += f"\n... {len(table) - max_rows} more"
    lines += ["    " + ln for ln in text.splitlines()]
    w = fits.weights[best.family]
    lines.append(f"best: {best.family}" + ("" if best.batch_shape else
                                           f" (Akaike weight {w:.2f})"))
    notes = []
    weak = fits.weak_ranking_note()
    if weak:
        notes.append(weak)
    if fits.skipped:
        notes += [f"skipped {name}: {why}" for name, why in fits.skipped.items()]
    left = {}   # fits left out although they may have converged: degenerate, wrong direction
    for name in fits:
        why = [str(m) for m in np.ravel(fits[name].messages) if str(m).startswith("left out")]
        if why:
            left[name] = why[0][len("left out of the ranking: "):]
    notes += [f"left out of the ranking: {name}: {why}" for name, why in left.items()]
    failed = [n for n in fits if not np.all(fits[n].converged) and n not in left]
    if failed:
        notes.append(f"not converged (ranked last, no weight): {', '.join(failed)}")
    if notes:
        lines.append("[[Notes]]")
        lines += [f"    - {n}" for n in notes]
    lines.append("")
    lines.append(fit_report(best))
    return "\n".join(lines)
