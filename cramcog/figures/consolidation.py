"""Figures of the consolidation record (:func:`cramcog.analysis.consolidation_record`).

- :func:`plot_consolidation_curves`: the share of recurring (and novel) probe queries executing
  attention in the retrieving layer against exposures since the warm-up, seeds thin and their
  mean bold, with the AIC-best family fitted to the pooled seeds and its verdict;
- :func:`plot_pattern_curves`: one run's per-pattern curves beside their average and the curve
  that per-pattern STEPS at the measured switch exposures would give;
- :func:`plot_causal_test`: accuracy of recurring queries on the semantic route, clean and with
  f_sem swapped between patterns or zeroed; of novel queries with and without attention;
- :func:`plot_executed_flops`: executed forward FLOPs per token over training, each variant
  against the same-width dense Transformer (a flat line).

Examples
--------
>>> import matplotlib; matplotlib.use("Agg")
>>> from cramcog.configs import named_config
>>> from cramcog.train import train
>>> from cramcog.analysis import consolidation_record
>>> ds = consolidation_record({"cram": train(named_config("tiny", steps=6), progress=False)})
>>> plot_causal_test(ds).axes[0].get_title()
'recurring queries on the semantic route'
"""
from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from cramcog.analysis.consolidation import curve_frame, curve_points, pattern_frame
from cramcog.analysis.runs import FigureError
from cramcog.figures.style import _plt, _sns


def _check(ds) -> xr.Dataset:
    if not isinstance(ds, xr.Dataset) or ds.attrs.get("study") != "consolidation":
        raise FigureError("this figure draws a consolidation record (cramcog consolidation "
                          "RUNS --out FILE.nc; cramcog.analysis.consolidation_record)")
    return ds


def _best_fit_line(ds: xr.Dataset, variant: str):
    """(t grid, prediction, family name) of the pooled AIC-best family, refitted; None without
    fits. The full verdict (ties, overdispersion, why no gamma) stays in the record and the CSV:
    a title is one sentence."""
    if "curve_fit_best" not in ds:
        return None
    sel = ds["curve_fit_best"].sel(variant=variant)
    seeds = ds.fit_seed.values
    label = -1 if -1 in seeds else seeds[0]
    best = str(sel.sel(fit_seed=label).values)
    if not best:
        return None
    from cramcog.dynamics import fit_consolidation_curve

    runs = None if label == -1 else [int(label)]
    t, k, n = curve_points(ds, variant, runs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_consolidation_curve(t, k, n=n, family=best, ci="none", y_kind="successes")
    grid = np.geomspace(t.min(), t.max(), 200)
    return grid, fit.predict(grid), best


def plot_consolidation_curves(ds: xr.Dataset):
    """Recurring and novel queries attending in the retrieving layer, against exposures.

    One panel per variant; x = mean exposures per recurring pattern since the end of the
    warm-up (log), seeds thin, their mean bold; the pooled best-fitting family (black), named
    in the title (the full verdict is ``curve_fit_verdict`` in the record).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _sns()
    plt = _plt()
    _check(ds)
    df = curve_frame(ds)
    if df.empty:
        raise FigureError("plot_consolidation_curves: the record has no evaluation")
    variants = list(dict.fromkeys(df.variant))
    # runs whose warm-up never ended are drawn against all their exposures, and said so
    no_warmup = df.groupby("variant").exposures_since_warmup.apply(lambda x: x.isna().all())
    df["x"] = df.exposures_since_warmup.fillna(df.exposures.where(
        df.variant.map(no_warmup)))
    df = df.dropna(subset=["x"])
    fig, axes = plt.subplots(1, len(variants), figsize=(4.6 * len(variants), 3.6),
                             squeeze=False, sharey=True)
    for ax, variant in zip(axes[0], variants):
        sub = df[df.variant == variant]
        for seed, run in sub.groupby("seed"):
            ax.plot(run.x, run.recurring_attended, color="tab:blue", lw=0.7, alpha=0.45)
            ax.plot(run.x, run.novel_attended, color="tab:orange", lw=0.7, alpha=0.45)
        mean = sub.groupby("eval_step")[["x", "recurring_attended", "novel_attended"]].mean()
        ax.plot(mean.x, mean.recurring_attended, color="tab:blue", lw=2,
                label="recurring queries")
        ax.plot(mean.x, mean.novel_attended, color="tab:orange", lw=2, label="novel queries")
        line = _best_fit_line(ds, variant)
        title = variant + (" (the warm-up never ended: all evaluations)"
                           if no_warmup[variant] else "")
        if line is not None:
            grid, pred, best = line
            ax.plot(grid, pred, color="black", lw=1.2, ls="--", label="best family (pooled)")
            title += f": lowest AIC pooled, {best}"
        ax.set_xscale("log")
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("exposures per pattern since the warm-up (+ one interval)")
    axes[0][0].set_ylabel("share executing attention\n(retrieving layer, probes)")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def executed_flops_frame(ds: xr.Dataset) -> "pd.DataFrame":
    """Tidy (variant, seed, eval_step, flops_per_token, transformer_flops_per_token) frame of
    the training FLOPs in a consolidation record (NaN-only runs left out)."""
    _check(ds)
    if "training_flops_per_token" not in ds or "transformer_flops_per_token" not in ds:
        raise FigureError("plot_executed_flops: the record has no executed FLOPs (its runs "
                          "were trained before cramcog counted them: train them again)")
    df = ds["training_flops_per_token"].to_dataframe(name="flops_per_token").reset_index()
    dense = ds["transformer_flops_per_token"].sum("component").to_dataframe(
        name="transformer_flops_per_token").reset_index()
    df = df.merge(dense[["variant", "seed", "transformer_flops_per_token"]],
                  on=["variant", "seed"]).dropna(subset=["flops_per_token"])
    return df[["variant", "seed", "eval_step", "flops_per_token", "transformer_flops_per_token"]]


def plot_executed_flops(ds: xr.Dataset):
    """Executed forward FLOPs per token over training, per variant, seeds thin and their mean
    bold, beside the same-width dense Transformer (flat: it runs everything on every token).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _sns()
    plt = _plt()
    df = executed_flops_frame(ds)
    if df.empty:
        raise FigureError("plot_executed_flops: no run of the record counted executed FLOPs")
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    colors = dict(zip(dict.fromkeys(df.variant), ("tab:blue", "tab:green", "tab:red",
                                                  "tab:purple", "tab:brown")))
    for variant, sub in df.groupby("variant", sort=False):
        for _, run in sub.groupby("seed"):
            ax.plot(run.eval_step, run.flops_per_token / 1e3, color=colors[variant], lw=0.6,
                    alpha=0.4)
        mean = sub.groupby("eval_step").flops_per_token.mean()
        ax.plot(mean.index, mean.values / 1e3, color=colors[variant], lw=2, label=variant)
    dense = float(df.transformer_flops_per_token.median())
    ax.axhline(dense / 1e3, color="black", lw=1.5, ls="--", label="dense Transformer")
    ax.set_xlabel("training step")
    ax.set_ylabel("executed forward kFLOPs per token")
    ax.set_ylim(0, None)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width) or [""]


def plot_pattern_curves(ds: xr.Dataset, variant: str | None = None, seed: int | None = None,
                        max_patterns: int = 100):
    """Per-pattern consolidation of one run beside the average (do steps average to a curve?).

    Thin lines: each pattern's share of probes attending against ITS exposures; bold: the
    average over patterns; dashed / dotted: the averages that pure steps at each pattern's
    final switch / first departure would give (a pattern that flickers lies between them);
    bars (right axis): the final switch exposures over patterns.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _sns()
    plt = _plt()
    _check(ds)
    variant = str(ds.variant.values[0]) if variant is None else variant
    if seed is None:
        ok = np.isfinite(ds["retrieving_layer"].sel(variant=variant).values)
        seed = int(ds.seed.values[np.flatnonzero(ok)[0]])
    df = pattern_frame(ds, variant, seed)
    warm = float(ds["warmup_end_step"].sel(variant=variant, seed=seed))
    note = ""
    if warm >= 0 and (df.eval_step >= warm).any():
        df = df[df.eval_step >= warm]
    else:
        note = " (the warm-up never ended: all evaluations)"
    if df.empty:
        raise FigureError(f"plot_pattern_curves: {variant}/seed {seed} has no evaluation")
    from cramcog.analysis.items import unequal_rates

    fig, ax = plt.subplots(figsize=(6.2, 3.8))
    for p, g in list(df.groupby("pattern"))[:max_patterns]:
        ax.plot(g.exposures, g.share, color="0.5", lw=0.5, alpha=0.35)
    unequal = unequal_rates(ds, variant)
    if unequal:  # patterns at different rates: average at equal OWN exposures (log bins)
        edges = np.geomspace(max(df.exposures[df.exposures > 0].min(), 1.0),
                             df.exposures.max() * 1.001, 30)
        df = df.assign(exposure_bin=np.digitize(df.exposures, edges))
        avg = df.groupby("exposure_bin")[["exposures", "share"]].mean()
    else:          # equal rates: every pattern has the same exposures at an evaluation
        avg = df.groupby("eval_step")[["exposures", "share"]].mean()
    ax.plot(avg.exposures, avg.share, color="tab:blue", lw=2.2, label="average over patterns")
    switch = df.drop_duplicates("pattern").switch_exposures.values
    first = ds["pattern_first_off_exposures"].sel(variant=variant, seed=seed).values \
        if "pattern_first_off_exposures" in ds else None
    grid = avg.exposures.values
    for when, style, label in ((switch, "--", "steps at each pattern's final switch"),
                               (first, ":", "steps where each pattern first leaves")):
        if when is None:
            continue
        steps = np.array([np.mean(~(np.isfinite(when) & (x >= when))) for x in grid])
        ax.plot(grid, steps, color="black", ls=style, lw=1.2, label=label)
    fin = switch[np.isfinite(switch)]
    if fin.size:
        twin = ax.twinx()
        log_bins = unequal and fin.min() > 0
        twin.hist(fin, bins=np.geomspace(fin.min(), fin.max() * 1.001, 20) if log_bins else 20,
                  color="tab:green", alpha=0.25)
        twin.set_ylabel("patterns switching", color="tab:green")
        twin.grid(False)
    ax.set_ylim(-0.03, 1.03)
    if unequal:
        ax.set_xscale("log")
        for other in fig.axes:        # the histogram's twin axis shares x
            other.set_xscale("log")
    ax.set_xlabel("the pattern's exposures (training queries)"
                  + (", log: patterns at unequal rates" if unequal else ""))
    ax.set_ylabel("share of its probes attending")
    ax.set_title(f"{variant}, seed {seed}: per-pattern consolidation "
                 f"({np.isfinite(switch).sum()} of {switch.size} patterns switched){note}",
                 fontsize=8)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def plot_item_specificity(ds: xr.Dataset, variant: str = "cram"):
    """Does a pattern switch at its own exposure count or at a shared step? (one panel per seed)

    x: the pattern's exposure rate (training queries per step, log); y: the step at which its
    probes stopped attending (log; hollow: never switched, drawn at the last evaluation). Lines
    through the median pattern: slope -1 (each pattern after the same number of ITS OWN
    exposures) and slope 0 (all at one training step); the fitted slope in the title
    (:func:`cramcog.analysis.items.item_specificity`). Needs unequal pattern frequencies.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from cramcog.analysis.items import item_specificity, pattern_switch_steps

    _sns()
    plt = _plt()
    table = item_specificity(ds, variant)
    seeds = list(table.seed)
    fig, axes = plt.subplots(1, len(seeds), figsize=(3.0 * len(seeds) + 0.6, 3.2),
                             sharex=True, sharey=True, squeeze=False)
    for ax, (_, row) in zip(axes.flat, table.iterrows()):
        df = pattern_switch_steps(ds, variant, int(row.seed))
        warm = float(ds["warmup_end_step"].sel(variant=variant, seed=row.seed)) \
            if "warmup_end_step" in ds else np.nan
        on = df[df.switched]
        ax.scatter(on.rate, on.switch_step, s=10, color="tab:blue", label="switched")
        off = df[~df.switched]
        if len(off):
            ax.scatter(off.rate, off.switch_step, s=14, facecolors="none", edgecolors="tab:red",
                       label="not yet (last evaluation)")
        x0, y0 = float(np.median(df.rate)), float(np.median(df.switch_step))
        xs = np.geomspace(df.rate.min(), df.rate.max(), 20)
        ax.plot(xs, y0 * (xs / x0) ** -1.0, "k--", lw=1, label="own exposures (slope -1)")
        ax.plot(xs, np.full_like(xs, y0), "k:", lw=1, label="shared step (slope 0)")
        if np.isfinite(warm) and warm >= 0:
            ax.axhline(warm, color="tab:red", lw=0.8, alpha=0.6, label="warm-up end")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"seed {int(row.seed)}: slope {row.slope:.2f} ± {row.slope_se:.2f}",
                     fontsize=8)
        ax.set_xlabel("pattern's exposures per step")
    axes.flat[0].set_ylabel("step of the switch")
    axes.flat[-1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(f"{variant}: does each pattern leave attention after its own exposures?",
                 fontsize=9)
    fig.tight_layout()
    return fig


def plot_causal_test(ds: xr.Dataset):
    """The causal test per variant: recurring queries on the semantic route (clean, f_sem
    swapped between patterns, f_sem zeroed) and novel queries (with and without attention).

    Returns
    -------
    matplotlib.figure.Figure
    """
    sns = _sns()
    plt = _plt()
    _check(ds)
    import pandas as pd

    rows = []
    pairs = [("recurring queries on the semantic route",
              [("clean", "semantic_accuracy_recurring"),
               ("f_sem swapped", "swap_accuracy_recurring"),
               ("f_sem zeroed", "zero_accuracy_recurring")]),
             ("novel queries", [("clean", "causal_accuracy_novel"),
                                ("attention skipped", "skip_accuracy_novel")])]
    for panel, items in pairs:
        for label, var in items:
            if var not in ds:
                continue
            for variant in ds.variant.values:
                for seed in ds.seed.values:
                    v = float(ds[var].sel(variant=variant, seed=seed))
                    if np.isfinite(v):
                        rows.append({"panel": panel, "condition": label, "variant": str(variant),
                                     "seed": int(seed), "accuracy": v})
    df = pd.DataFrame(rows, columns=["panel", "condition", "variant", "seed", "accuracy"])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    variants = [str(v) for v in ds.variant.values]
    colors = dict(zip(variants, sns.color_palette(n_colors=max(1, len(variants)))))
    width = 0.7 / max(1, len(variants))
    for ax, (panel, items) in zip(axes, pairs):
        order = [label for label, _ in items]
        sub = df[df.panel == panel]
        for j, variant in enumerate(variants):
            for i, label in enumerate(order):
                vals = sub[(sub.variant == variant) & (sub.condition == label)].accuracy
                x = i + (j - (len(variants) - 1) / 2) * width
                if len(vals):
                    ax.scatter(np.full(len(vals), x), vals, s=16, color=colors[variant],
                               label=variant if i == 0 else None, zorder=3)
                    ax.plot([x - width / 3, x + width / 3], [vals.mean()] * 2, color="black",
                            lw=1.5)
        ax.axhline(_chance(ds), color="tab:red", ls=":", lw=1, label="chance")
        ax.set_xticks(range(len(order)), order)
        ax.set_xlim(-0.6, len(order) - 0.4)
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(panel)
        if sub.empty:
            ax.text(0.5, 0.5, "no query qualified", transform=ax.transAxes, ha="center")
    axes[1].legend(fontsize=7, loc="center right")
    axes[0].set_ylabel("accuracy (test split)")
    fig.tight_layout()
    return fig


def _chance(ds: xr.Dataset) -> float:
    value = ds.attrs.get("causal_chance")
    return float(value) if value is not None else float("nan")
