"""Figures of consolidation curves, their power-law gamma, and gamma against the human data.

The analysis (cutting a curve from a record, fitting gamma) lives in
:mod:`cramcog.analysis.curves`; its names are imported here so existing callers of
``cramcog.figures.gamma`` keep working.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from cramcog.analysis.curves import (ConsolidationWindow, consolidation_curve, fit_power,
                                     gamma_frame)
from cramcog.analysis.runs import FigureError, _check_record, as_runs
from cramcog.figures.style import _loglog, _plt, _sns

__all__ = ["PAPER_GAMMA", "ConsolidationWindow", "comparison_frame", "consolidation_curve",
           "consolidation_frame", "fit_power", "gamma_frame", "plot_consolidation",
           "plot_gamma_comparison", "plot_gamma_windows", "plot_gammas"]

PAPER_GAMMA = (0.43, 0.04)            # the paper's gamma +- its reported uncertainty


def _gamma_text(fit) -> str:
    if isinstance(fit, str):
        return f"no fit: {fit[:40]}"
    lo, hi = fit.ci["gamma"]
    flag = "" if getattr(fit, "converged", True) else " (not converged)"
    return f"gamma={fit.params['gamma']:.2f} [{lo:.2f}, {hi:.2f}]{flag}"


def consolidation_frame(data: Any, human: str | Sequence[str] | None = "all",
                        window: ConsolidationWindow | None = None
                        ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Tidy consolidation curves (model runs + human curves) and their power-law fits.

    Returns ``(frame, fits)``: frame columns source, kind ("model" | "human"), t, y, y_fit; fits
    ``{source: fit result}``, or the reason (str) where a curve cannot be fitted (a constant
    attention fraction, as in a dense baseline; ``y_fit`` is NaN there). Model runs are averaged over seeds per variant. Human curves come
    from :func:`cramcog.psych.curves` (``human``: "all", a list of data set names, or None).
    """
    rows, fits = [], {}
    by_variant: dict[str, list] = {}
    for variant, seed, run in as_runs(data, what="consolidation_frame"):
        by_variant.setdefault(variant, []).append(consolidation_curve(run, window))
    for variant, curves in by_variant.items():
        t = curves[0][0]
        if all(c[0].shape == t.shape and np.allclose(c[0], t) for c in curves):
            y = np.mean([c[1] for c in curves], axis=0)
        else:  # seeds with different windows: pool them
            t = np.concatenate([c[0] for c in curves])
            y = np.concatenate([c[1] for c in curves])
            order = np.argsort(t, kind="stable")
            t, y = t[order], y[order]
        try:
            fit = fit_power(t, y)
        except ValueError as err:  # constant attention (dense baselines): data without a fit
            fit, y_fit = str(err), np.full_like(y, np.nan)
        else:
            y_fit = fit.predict(t)
        fits[f"model: {variant}"] = fit
        rows.append(pd.DataFrame({"source": f"model: {variant}", "kind": "model", "t": t, "y": y,
                                  "y_fit": y_fit}))
    for curve in _human_curves(human):
        c = curve.positive()
        if c.t.size < 3:
            continue
        fit = fit_power(c.t, c.y, c.n)
        fits[c.label] = fit
        rows.append(pd.DataFrame({"source": c.label, "kind": "human", "t": c.t, "y": c.y,
                                  "y_fit": fit.predict(c.t)}))
    return pd.concat(rows, ignore_index=True), fits


def _human_curves(human):
    if human is None or human == "none" or human == []:
        return []
    from cramcog import psych

    if human == "all":
        return psych.all_curves()
    if isinstance(human, str):
        human = [human]
    return [c for name in human for c in psych.curves(name)]


def plot_consolidation(data: Any, human: str | Sequence[str] | None = "all",
                       window: ConsolidationWindow | None = None):
    """The consolidation curve with its fitted power law, beside human curves fitted the same way.

    One log-log panel per source (model variants first, then each human curve), each with the
    data (points), the power-law fit (line) and gamma with its 95% interval in the title. Model
    curves: layer-mean attention fraction from the peak (:class:`ConsolidationWindow`), seeds
    averaged. Axes are not shared: the model's time is optimizer steps, the humans' their delays.

    Returns
    -------
    seaborn.FacetGrid
    """
    sns = _sns()
    df, fits = consolidation_frame(data, human=human, window=window)
    order = list(dict.fromkeys(df.source))
    grid = sns.FacetGrid(df, col="source", col_order=order, hue="kind",
                         hue_order=["model", "human"], col_wrap=min(4, len(order)), height=2.6,
                         sharex=False, sharey=False)
    grid.map_dataframe(sns.scatterplot, x="t", y="y", s=14)
    grid.map_dataframe(sns.lineplot, x="t", y="y_fit", color="black", lw=1.2)
    for ax, source in zip(grid.axes.flat, order):
        _loglog(ax)
        ax.set_title(f"{source}\n{_gamma_text(fits[source])}", fontsize=8)
    grid.set_axis_labels("time since start (steps / delay units)", "attention / retention")
    return grid


def plot_gamma_windows(data: Any, windows: Sequence[ConsolidationWindow]):
    """Sensitivity of gamma to the fit window: gamma (95% interval) per window start, per variant.

    Returns
    -------
    seaborn.FacetGrid
    """
    sns = _sns()
    g = gamma_frame(data, windows).dropna(subset=["gamma"])
    if g.empty:
        raise FigureError("plot_gamma_windows: no run has a fittable curve in these windows")
    order = list(dict.fromkeys(ConsolidationWindow.parse(w).label if isinstance(w, str)
                               else w.label for w in windows))
    grid = sns.catplot(data=g, x="window", y="gamma", hue="variant", kind="point",
                       order=[o for o in order if o in set(g.window)], errorbar=("pi", 100),
                       dodge=0.3, height=3, aspect=1.4)
    mu, sd = PAPER_GAMMA
    for ax in grid.axes.flat:
        ax.axhspan(mu - sd, mu + sd, color="tab:orange", alpha=0.2)
    grid.set_axis_labels("fit window (steps)", "gamma (range over seeds)")
    return grid


def _forest(ax, labels, est, lo, hi, colors=None):
    y = np.arange(len(labels))[::-1]
    ax.errorbar(est, y, xerr=[np.asarray(est) - np.asarray(lo), np.asarray(hi) - np.asarray(est)],
                fmt="none", ecolor="0.3", capsize=2, lw=1)
    ax.scatter(est, y, c=colors or "tab:blue", zorder=3, s=22)
    ax.set_yticks(y, labels)
    return ax


def plot_gammas(data: Any, window: ConsolidationWindow | None = None):
    """gamma with its 95% interval for every run (variant, seed), against the paper's 0.43+-0.04.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _sns()
    plt = _plt()
    g = gamma_frame(data, window)
    if not g.gamma.notna().any():
        raise FigureError("plot_gammas: no run has a fittable consolidation curve ("
                          + "; ".join(sorted(set(g.message))) + ")")
    labels = [f"{v} / seed {s}" + ("" if np.isfinite(gm) else " (no fit)")
              for v, s, gm in zip(g.variant, g.seed, g.gamma)]
    fig, ax = plt.subplots(figsize=(5, 0.35 * len(g) + 1.2))
    _forest(ax, labels, g.gamma, g.ci_low, g.ci_high)
    mu, sd = PAPER_GAMMA
    ax.axvspan(mu - sd, mu + sd, color="tab:orange", alpha=0.2, label="paper 0.43 +- 0.04")
    ax.set_xlabel("gamma (power-law exponent of attention use)")
    ax.legend(loc="best", fontsize=7)
    fig.tight_layout()
    return fig


def comparison_frame(data: Any) -> pd.DataFrame:
    """A compare_gamma table from a DataFrame or a ``comparison`` record."""
    if isinstance(data, pd.DataFrame):
        df = data
    else:
        ds = _check_record(data, ("comparison",), "plot_gamma_comparison")
        df = ds.drop_attrs().to_dataframe().reset_index(drop="row" in ds.dims)
    needed = {"source", "series", "family", "gamma", "ci_low", "ci_high", "model_gamma",
              "model_ci_low", "model_ci_high", "verdict"}
    if not needed <= set(df.columns):
        raise FigureError(f"a gamma comparison table needs columns {sorted(needed)} (as "
                          f"cramcog.compare_gamma returns), got {sorted(df.columns)}")
    df = df.copy()
    df["series"] = df["series"].fillna("").astype(str).replace("nan", "")
    return df


def plot_gamma_comparison(data: Any):
    """Forest plots of human gammas against the model's, one panel per family.

    ``data``: the DataFrame from :func:`cramcog.compare_gamma` or its record
    (:func:`cramcog.comparison.to_record`, kind "comparison"). Drawn by
    :func:`cramcog.figures.forest.forest_grid` (one implementation of the forest plot).

    Returns
    -------
    seaborn.FacetGrid

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import pandas as pd
    >>> t = pd.DataFrame({"source": ["a", "b"], "series": "", "family": "power",
    ...                   "gamma": [0.4, 0.5], "ci_low": [0.3, 0.45], "ci_high": [0.5, 0.55],
    ...                   "model_gamma": 0.43, "model_ci_low": 0.4, "model_ci_high": 0.46,
    ...                   "verdict": ["consistent", "different"]})
    >>> plot_gamma_comparison(t).axes.size
    1
    """
    _sns()
    from cramcog.figures.forest import forest_grid

    return forest_grid(comparison_frame(data))

