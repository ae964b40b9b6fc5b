"""Plot plumbing shared by the figure modules: lazy matplotlib/seaborn, saving, log axes."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _sns():
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper")
    return sns


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 150) -> Path:
    """Write a Figure or FacetGrid to ``path`` (format from the suffix) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure = getattr(fig, "figure", fig)
    if hasattr(figure, "get_figure") and not hasattr(figure, "savefig"):
        figure = figure.get_figure()
    figure.savefig(path, dpi=dpi, bbox_inches="tight")
    _plt().close(figure)
    return path


def _loglog(ax, x: bool = True, y: bool = True, zeros=None) -> None:
    """Log axes; minor tick labels only where fewer than two decades are labelled (else they
    collide), and then short ("0.954") rather than scientific.

    ``zeros``: the plotted values; if any is exactly 0 (e.g. a model with no attention at all)
    the axis is symlog, linear below the decade of the smallest positive value, so the zero
    stays on the figure instead of vanishing off a log axis.
    """
    from matplotlib.ticker import FuncFormatter, NullFormatter

    short = FuncFormatter(lambda v, _: f"{v:.3g}")
    values = np.asarray(zeros if zeros is not None else [], dtype=float)
    positive = values[np.isfinite(values) & (values > 0)]
    has_zero = bool((values == 0).any()) and positive.size > 0
    for on, axis, set_scale, get_lim in ((x, ax.xaxis, ax.set_xscale, ax.get_xlim),
                                         (y, ax.yaxis, ax.set_yscale, ax.get_ylim)):
        if not on:
            continue
        if has_zero:
            linthresh = 10.0 ** np.floor(np.log10(positive.min()))
            set_scale("symlog", linthresh=linthresh, linscale=0.5)
            axis.set_minor_formatter(NullFormatter())
            ax.autoscale_view()
            (ax.set_xlim if axis is ax.xaxis else ax.set_ylim)(-0.2 * linthresh,
                                                               1.5 * positive.max())
            continue
        set_scale("log")
        lo, hi = get_lim()
        # narrow: fewer than two labelled decades (e.g. 0.58-6.0 shows only "10^0")
        narrow = lo > 0 and np.floor(np.log10(hi)) - np.ceil(np.log10(lo)) < 1
        axis.set_minor_formatter(short if narrow else NullFormatter())
        if narrow:
            axis.set_major_formatter(short)


def _percent():
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0)

