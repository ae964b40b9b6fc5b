"""Figures of the paper's other experiments: transfer bars and Theorem-1 scaling."""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from cramcog.analysis.runs import FigureError, _check_record, _need
from cramcog.figures.style import _percent, _plt, _sns

PAPER_TRANSFER_REDUCTION = (0.48, 0.52)  # the paper's transfer attention reduction band



def transfer_frame(ds: xr.Dataset, reference: str = "no_consolidation") -> pd.DataFrame:
    """Per (variant, seed, task, bindings): attention and its reduction against ``reference``.

    Transfer record schema (kind "transfer"): dims ``(variant, seed, task[, bindings])``,
    variable ``attention_fraction`` (attention used on the transfer task after retraining the
    head), and optionally ``accuracy``; the ``variant`` coordinate includes ``reference`` (the
    model without consolidation). ``reduction = 1 - attention / attention[reference]`` for the
    same seed, task and bindings. Records without a bindings dim (made before it existed) kept
    the training bindings: ``bindings = "same"``.
    """
    ds = _check_record(ds, ("transfer",), "plot_transfer")
    _need(ds, ["attention_fraction", "variant", "seed", "task"], "plot_transfer")
    variants = [str(v) for v in ds.variant.values]
    if reference not in variants:
        raise FigureError(f"plot_transfer: reference variant {reference!r} is not in the record "
                          f"(variants: {variants})")
    if "bindings" not in ds.dims:
        ds = ds.expand_dims(bindings=["same"], axis=-1)
    from cramcog.experiments.transfer import attention_reduction

    att = ds["attention_fraction"]
    red = attention_reduction(att, reference)
    frame = {"attention_fraction": att, "reduction": red}
    if "accuracy" in ds:
        frame["accuracy"] = ds["accuracy"]
    df = xr.Dataset(frame).to_dataframe().reset_index()
    return df[["variant", "seed", "task", "bindings", "attention_fraction", "reduction"]
              + (["accuracy"] if "accuracy" in ds else [])].dropna(subset=["reduction"])


def plot_transfer(ds: xr.Dataset, reference: str = "no_consolidation"):
    """Bars: attention reduction on each transfer task against the model without consolidation,
    one panel per kind of recurring bindings (the training ones, or all new).

    Bars are means over seeds with 95% bootstrap intervals (seeded); the paper's 48-52% band is
    shaded.

    Returns
    -------
    matplotlib.figure.Figure
    """
    sns = _sns()
    plt = _plt()
    df = transfer_frame(ds, reference)
    df = df[df.variant != reference]
    if df.empty:
        raise FigureError("plot_transfer: no variant besides the reference to compare")
    kinds = list(dict.fromkeys(df.bindings))
    fig, axes = plt.subplots(len(kinds), 1, figsize=(0.8 * df.task.nunique() + 3,
                                                     2.8 * len(kinds)),
                             sharex=True, sharey=True, squeeze=False)
    lo, hi = PAPER_TRANSFER_REDUCTION
    for ax, kind in zip(axes[:, 0], kinds):
        sns.barplot(data=df[df.bindings == kind], x="task", y="reduction", hue="variant",
                    errorbar=("ci", 95), seed=0, ax=ax)
        ax.axhspan(lo, hi, color="tab:orange", alpha=0.2, label="paper 48-52%")
        ax.axhline(0, color="0.3", lw=0.6)
        ax.set_title(f"{kind} recurring bindings", fontsize=9)
        ax.set_ylabel("")
        ax.yaxis.set_major_formatter(_percent())
        ax.tick_params(axis="x", rotation=30, labelsize=7)
        ax.legend(fontsize=7)
    fig.supylabel(f"attention reduction vs {reference}", fontsize=9)
    fig.tight_layout()
    return fig


def scaling_frame(ds: xr.Dataset) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Theorem 1 data and fitted slopes.

    Scaling record schema (kind "scaling", written by
    :func:`cramcog.experiments.scaling.scaling_experiment`): dims ``(router, seed, frequency,
    seq_len)`` (older records: no seed), variable ``attention_tokens`` (recurring-query tokens
    that executed attention, per sequence). Returns ``(points, slopes)``: points columns router,
    (seed,) frequency, seq_len, f_times_n, attention_tokens; slopes columns router, beta, beta_se
    (least squares of attention_tokens = beta f n over every seed's points: ~1 attends every
    recurring occurrence, ~0 consolidated), beta_min and beta_max (over seeds, each fitted alone),
    slope, slope_se, intercept (OLS of log attention_tokens on log(f n), over positive counts;
    NaN when fewer than 3 are positive).
    """
    from cramcog.experiments.scaling import proportionality, proportionality_by_seed

    ds = _check_record(ds, ("scaling",), "plot_scaling")
    _need(ds, ["attention_tokens", "frequency", "seq_len", "router"], "plot_scaling")
    df = ds["attention_tokens"].to_dataframe().reset_index().dropna(subset=["attention_tokens"])
    df["f_times_n"] = df.frequency * df.seq_len
    beta = proportionality(ds)
    by_seed = proportionality_by_seed(ds).groupby("router").beta
    rows = []
    for router, sub in df.groupby("router", sort=False):
        row = {"router": router, "beta": beta[router][0], "beta_se": beta[router][1],
               "beta_min": by_seed.min().get(router, np.nan),
               "beta_max": by_seed.max().get(router, np.nan),
               "slope": np.nan, "slope_se": np.nan, "intercept": np.nan}
        sub = sub[(sub.attention_tokens > 0) & (sub.f_times_n > 0)]
        if len(sub) >= 3 and sub.f_times_n.nunique() >= 2:
            x, y = np.log(sub.f_times_n.values), np.log(sub.attention_tokens.values)
            (slope, icpt), cov = np.polyfit(x, y, 1, cov=True) if len(sub) > 3 else \
                (np.polyfit(x, y, 1), np.full((2, 2), np.nan))
            row.update(slope=float(slope), slope_se=float(np.sqrt(cov[0, 0])),
                       intercept=float(icpt))
        rows.append(row)
    return df, pd.DataFrame(rows)


def plot_scaling(ds: xr.Dataset):
    """Theorem 1: recurring-query tokens that executed attention vs pattern frequency x sequence
    length, per router, with the fitted proportion beta (a router that cannot consolidate attends
    every occurrence, beta ~ 1; a consolidating one does not, beta ~ 0). The dashed line is
    beta = 1, Theorem 1's Omega(f n) for a static router.

    Returns
    -------
    matplotlib.figure.Figure
    """
    sns = _sns()
    plt = _plt()
    df, slopes = scaling_frame(ds)
    fig, ax = plt.subplots(figsize=(4.8, 3.6))
    palette = dict(zip(slopes.router, sns.color_palette(n_colors=len(slopes))))
    sns.scatterplot(data=df, x="f_times_n", y="attention_tokens", hue="router", palette=palette,
                    style="seq_len", ax=ax, s=25)
    xs = np.linspace(0, df.f_times_n.max(), 50)
    ax.plot(xs, xs, color="0.5", ls="--", lw=0.8, label="every occurrence (f n)")
    for row in slopes.itertuples():
        if np.isfinite(row.beta):
            spread = (f", seeds {row.beta_min:.3f}-{row.beta_max:.3f}"
                      if np.isfinite(row.beta_min) and row.beta_max > row.beta_min else "")
            ax.plot(xs, row.beta * xs, color=palette[row.router], lw=1.2,
                    label=f"{row.router}: beta {row.beta:.3f} +- {row.beta_se:.3f}{spread}")
    ax.set(xlabel="recurring occurrences per sequence (f n)",
           ylabel="recurring queries executing attention")
    ax.legend(fontsize=6)
    fig.tight_layout()
    return fig
