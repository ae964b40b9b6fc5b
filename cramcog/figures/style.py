"""Plot plumbing shared by the figure modules: lazy matplotlib/seaborn, saving, log axes."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any


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


def _loglog(ax, x: bool = True, y: bool = True) -> None:
    """Log axes; minor tick labels only where the data span less than a decade (else they
    collide), and then short ("0.954") rather than scientific."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    short = FuncFormatter(lambda v, _: f"{v:.3g}")
    for on, axis, set_scale, get_lim in ((x, ax.xaxis, ax.set_xscale, ax.get_xlim),
                                         (y, ax.yaxis, ax.set_yscale, ax.get_ylim)):
        if not on:
            continue
        set_scale("log")
        lo, hi = get_lim()
        narrow = lo > 0 and hi / lo < 10
        axis.set_minor_formatter(short if narrow else NullFormatter())
        if narrow:
            axis.set_major_formatter(short)


def _percent():
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0)

