"""Figures of training and ablation runs: attention over training, accuracy vs attention,
ablation panels."""
from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from cramcog.analysis.metrics import final_metrics
from cramcog.analysis.runs import (QUERY_KINDS, FigureError, _check_record, _scalar, as_runs,
                                   attention_frame, warmup_end_step)
from cramcog.figures.style import _loglog, _sns


def plot_attention_over_training(data: Any, mark_transition: bool = True):
    """Attention fraction per layer over training, log-log, with the end of the warm-up marked.

    One panel per variant (seeds averaged, band = range over seeds). The dashed grey line is the
    attention floor (the novel-query rate) where the record has it; the dotted red line the end
    of the attention warm-up (the earliest over seeds; ``warmup_end_step``), from where a fall
    can mean consolidation: a fall from the forced warm-up peak is reached without consolidation
    too. Step 0 is left off the log x axis, and so are variants that never attend (nothing to
    draw on log axes).

    Returns
    -------
    seaborn.FacetGrid

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from cramcog.experiments.ablations import demo_run
    >>> g = plot_attention_over_training(demo_run({"rate": 0.1, "steps": 30, "seed": 0}))
    >>> g.axes.flat[0].get_yscale()
    'log'
    """
    sns = _sns()
    df = attention_frame(data)
    df = df[(df.step > 0) & (df.attention_fraction > 0)]
    if df.empty:
        raise FigureError("plot_attention_over_training: no positive steps with attention > 0")
    df["layer"] = df["layer"].astype(str)
    variants = list(dict.fromkeys(df.variant))
    grid = sns.relplot(data=df, x="step", y="attention_fraction", hue="layer", col="variant",
                       col_order=variants, col_wrap=min(4, len(variants)), kind="line",
                       errorbar=("pi", 100), height=3, aspect=1.2, facet_kws={"sharey": True})
    runs = {v: [] for v in variants}
    for variant, seed, run in as_runs(data, what="plot_attention_over_training"):
        if variant in runs:  # a variant that never attends (working memory only) has no panel
            runs[variant].append(run)
    for ax, variant in zip(grid.axes.flat, variants):
        _loglog(ax)
        floor = np.nanmean([_scalar(r, "attention_floor") for r in runs[variant]])
        if np.isfinite(floor) and floor > 0:
            ax.axhline(floor, color="0.4", ls="--", lw=1, label="floor")
        warm = [warmup_end_step(r) for r in runs[variant]]
        warm = [w for w in warm if w > 0]
        if mark_transition and warm:
            ax.axvline(min(warm), color="tab:red", ls=":", lw=1.5)
            ax.annotate(f"warm-up ends {min(warm)}", (min(warm), ax.get_ylim()[0]),
                        xytext=(4, 6), textcoords="offset points", fontsize=7,
                        color="tab:red")
    grid.set_axis_labels("optimizer step", "attention fraction (tokens)")
    grid.set_titles("{col_name}")
    return grid


def plot_accuracy_vs_attention(data: Any):
    """Final retrieval accuracy against final attention fraction, every run of every variant.

    One panel per query kind (overall, recurring, novel) present in the records; one point per
    (variant, seed); the floor (novel-query rate) as a dashed line.

    Returns
    -------
    seaborn.FacetGrid

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from cramcog.experiments.ablations import demo_run
    >>> runs = {"a": demo_run({"rate": 0.1, "steps": 20, "seed": 0}),
    ...         "b": demo_run({"rate": 0.01, "steps": 20, "seed": 0})}
    >>> plot_accuracy_vs_attention(runs).axes.size
    3
    """
    sns = _sns()
    m = final_metrics(data)
    cols = [f"accuracy_{k}" for k in QUERY_KINDS if m[f"accuracy_{k}"].notna().any()]
    if not cols:
        raise FigureError("plot_accuracy_vs_attention: the records have no retrieval_accuracy")
    long = m.melt(id_vars=["variant", "seed", "final_attention", "attention_floor"],
                  value_vars=cols, var_name="query_kind", value_name="accuracy")
    long["query_kind"] = long.query_kind.str.replace("accuracy_", "", regex=False)
    grid = sns.relplot(data=long, x="final_attention", y="accuracy", hue="variant",
                       style="variant", col="query_kind", kind="scatter", s=60, height=3,
                       aspect=1.1)
    floor = np.nanmean(m.attention_floor.values) if m.attention_floor.notna().any() else np.nan
    for ax in grid.axes.flat:
        _loglog(ax, y=False, zeros=m.final_attention)
        if np.isfinite(floor) and floor > 0:
            ax.axvline(floor, color="0.4", ls="--", lw=1)
    grid.set_axis_labels("final attention fraction, retrieving layer (log)", "retrieval accuracy")
    grid.set_titles("{col_name} queries")
    return grid


# ablation panel titles; shares and accuracies are fractions, drawn on 0-1
PANEL_TITLES = {
    "final_attention": "attention (test, retrieving layer)",
    "attention_over_floor": "attention / floor (retrieving layer)",
    "recurring_attended": "recurring queries attending",
    "fall_from_warmup_end": "fall from warm-up end (queries)",
    "accuracy_recurring": "accuracy, recurring",
    "accuracy_novel": "accuracy, novel",
    "dynamics_mse": "dynamics MSE (test)",
}
_LOG_PANELS = ("final_attention", "attention_over_floor", "fall_from_warmup_end")


def plot_ablation_panels(ds: xr.Dataset):
    """Ablation summary: attention, what consolidation moves, accuracies against the setting.

    Panels (where the record has them): held-out attention and attention over the floor in the
    retrieving layer, the share of recurring queries that still attend there
    (:func:`final_metrics`), the fall of query attention from the end of the warm-up,
    accuracy on recurring and on novel queries, dynamics MSE. With a numeric swept parameter
    (``parameter_value`` coordinate, e.g. recurring fraction 0-0.9) the x axis is its value
    (points = seeds, line = mean); otherwise one category per variant.

    Returns
    -------
    seaborn.FacetGrid

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from cramcog.experiments.ablations import AblationGrid, combine_cells, demo_run
    >>> g = AblationGrid(name="r", base={"rate": 0.1, "steps": 20, "seed": 0},
    ...                  variants={"r=0.1": {"rate": 0.1}, "r=0.3": {"rate": 0.3}}, parameter="rate")
    >>> ds = combine_cells(g, {c.key: demo_run(c.config) for c in g.cells()})
    >>> [ax.get_title() for ax in plot_ablation_panels(ds).axes.flat][:2]
    ['attention (test, retrieving layer)', 'attention / floor (retrieving layer)']
    """
    sns = _sns()
    _check_record(ds, ("ablation",), "plot_ablation_panels")
    m = final_metrics(ds)
    metrics = [k for k in PANEL_TITLES if k in m and m[k].notna().any()]
    numeric = "parameter_value" in m
    x = "parameter_value" if numeric else "variant"
    long = m.melt(id_vars=[x] + ([] if x == "variant" else ["variant"]) + ["seed"],
                  value_vars=metrics, var_name="metric", value_name="value")
    if numeric:
        grid = sns.relplot(data=long, x=x, y="value", col="metric", col_wrap=3, kind="line",
                           marker="o", errorbar=("pi", 100), height=2.6,
                           facet_kws={"sharey": False})
        grid.set_axis_labels(str(ds.attrs.get("parameter", "parameter")), "")
    else:
        grid = sns.catplot(data=long, x="value", y=x, col="metric", col_wrap=3, kind="point",
                           linestyle="none", errorbar=("pi", 100), height=2.6,
                           sharex=False)
        grid.set_axis_labels("", "")
    for metric, ax in grid.axes_dict.items():
        ax.set_title(PANEL_TITLES[metric])
        if numeric:  # the seeds themselves, over the mean line
            sub = long[long.metric == metric]
            ax.scatter(sub[x], sub["value"], s=10, color="0.3", zorder=3)
        if metric in _LOG_PANELS:
            _loglog(ax, x=not numeric, y=numeric, zeros=m[metric])
        elif metric != "dynamics_mse":
            (ax.set_ylim if numeric else ax.set_xlim)(-0.03, 1.03)
    return grid
