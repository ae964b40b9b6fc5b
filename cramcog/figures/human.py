"""Model and human consolidation curves on shared axes: normalised x, proportion y, with bands.

Draws the frame of :func:`cramcog.comparison.frames.human_comparison_frame` (which says how
each side is normalised and banded): one panel per paradigm, model lines with their seed band,
human points with Wilson intervals and the best family's line.

Examples
--------
>>> import matplotlib; matplotlib.use("Agg")
>>> from cramcog.dynamics.toy_consolidation import simulate_consolidation
>>> from cramcog.figures.human import plot_human_comparison
>>> toy = [simulate_consolidation(n_episodes=60, seed=s) for s in (0, 1)]
>>> grid = plot_human_comparison({"toy model": toy}, families=["exponential", "weibull"])
>>> [ax.get_title() for ax in grid.axes.flat]
['strategy shift', 'remember / know']
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from cramcog.comparison.frames import GRID, human_comparison_frame, midpoint  # noqa: F401
from cramcog.figures.style import _loglog, _plt, _sns

PANEL_TITLES = {"strategy_shift": "strategy shift", "remember_know": "remember / know",
                "forgetting": "forgetting", "gist_detail": "gist / detail"}


def plot_human_comparison(model=None, human: Any = "episodic_semantic",
                          families: Sequence[str] | None = None, level: float = 0.95,
                          frame: pd.DataFrame | None = None):
    """Model and human curves on shared axes (x / x50, proportion), one panel per paradigm.

    Parameters
    ----------
    model, human, families, level
        See :func:`human_comparison_frame`.
    frame
        A frame from :func:`human_comparison_frame` (then the other arguments are ignored).

    Returns
    -------
    seaborn.FacetGrid

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> grid = plot_human_comparison(human="reder_2000_remember_know_repetition_lag",
    ...                              families=["exponential", "power"])
    >>> grid.axes.flat[0].get_xscale()
    'log'
    """
    plt, sns = _plt(), _sns()
    df = frame if frame is not None else human_comparison_frame(model, human, families, level)
    panels = [p for p in PANEL_TITLES if p in set(df.paradigm)]
    grid = sns.FacetGrid(df, col="paradigm", col_order=panels, height=3.6, aspect=1.25,
                         sharex=True, sharey=True)
    humans = list(dict.fromkeys(df.loc[df.side == "human", "source"]))
    models = list(dict.fromkeys(df.loc[df.side == "model", "source"]))
    palette = dict(zip(humans, sns.color_palette("colorblind", max(len(humans), 1))))
    model_colors = dict(zip(models, sns.color_palette("dark", max(len(models), 1))[::-1]))
    markers = "osD^vP*X"
    for ax, paradigm in zip(grid.axes.flat, panels):
        sub = df[df.paradigm == paradigm]
        for i, source in enumerate(s for s in humans if s in set(sub.source)):
            color = palette[source]
            short = source.split("/", 1)[1] if "/" in source else source
            data = sub[(sub.source == source) & (sub.element == "data")]
            fit = sub[(sub.source == source) & (sub.element == "fit")]
            best = f" (best: {fit.family.iloc[0]})" if len(fit) else " (no family fits)"
            err = None
            if data.y_low.notna().any():
                err = np.vstack([data.y - data.y_low, data.y_high - data.y])
            ax.errorbar(data.x_norm, data.y, yerr=err, fmt=markers[i % len(markers)],
                        color=color, ms=4, capsize=2, lw=0.8, label=f"human: {short}{best}")
            if len(fit):
                ax.plot(fit.x_norm, fit.y, color=color, lw=1.2)
                ax.fill_between(fit.x_norm, fit.y_low, fit.y_high, color=color, alpha=0.15,
                                lw=0)
        for source in (s for s in models if s in set(sub.source)):
            m = sub[sub.source == source]
            color = model_colors[source]
            ax.plot(m.x_norm, m.y, color=color, lw=2.2, ls="--", label=f"model: {source}")
            ax.fill_between(m.x_norm, m.y_low, m.y_high, color=color, alpha=0.2, lw=0)
        ax.set_title(PANEL_TITLES[paradigm])
        ax.set_ylim(-0.03, 1.03)
        ax.axvline(1.0, color="0.6", lw=0.6, ls=":")
        _loglog(ax, x=True, y=False)
        ax.legend(fontsize="x-small", frameon=False, loc="upper left",
                  bbox_to_anchor=(1.0, 1.0))
    grid.set_axis_labels("x / x50 (each curve's own midpoint; log)",
                         "share on the episodic / look-up route")
    grid.figure.suptitle(f"model vs human: shape on shared axes (bands: {level:.0%}; model "
                         "over seeds)", y=1.03)
    grid.figure.tight_layout()
    return grid
