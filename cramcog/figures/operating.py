"""Figure of the operating-point record (:func:`cramcog.analysis.operating.operating_point_record`).

:func:`plot_operating_point`: one panel per (sequence length, knob); against the knob's value,
the share of recurring and of novel test queries attending in the retrieving layer and the two
accuracies, each seed a dot and the seed mean a line; a dotted vertical line marks the value
the reported config uses.

Examples
--------
>>> import matplotlib; matplotlib.use("Agg")
>>> import numpy as np, xarray as xr
>>> shares = np.array([[[[0.0, 0.1], [0.9, 1.0], [1.0, 1.0]]]])
>>> ds = xr.Dataset({"test_recurring_attended": (("seq_len", "knob", "level", "seed"), shares)},
...                 coords={"seq_len": [256], "knob": ["compute_cost"], "level": [0, 1, 2],
...                         "seed": [100, 101],
...                         "value": (("seq_len", "knob", "level"), np.array([[[0.3, 1, 3]]])),
...                         "operating_value": (("seq_len", "knob"), np.array([[0.3]]))})
>>> list(plot_operating_point(ds).axes_dict)
['compute_cost, N=256']
"""
from __future__ import annotations

from cramcog.analysis.operating import operating_point_frame
from cramcog.analysis.runs import FigureError
from cramcog.figures.style import _percent, _plt, _sns

# what the figure shows, in the legend's words
SHOWN = {"test_recurring_attended": "recurring queries attending",
         "test_novel_attended": "novel queries attending",
         "test_accuracy_recurring": "accuracy, recurring",
         "test_accuracy_novel": "accuracy, novel"}


def plot_operating_point(ds):
    """Queries attending and accuracies over each knob's values (see the module docstring).

    Returns
    -------
    seaborn.FacetGrid
    """
    sns = _sns()
    df = operating_point_frame(ds, [m for m in SHOWN if m in ds])
    df = df.dropna(subset=["number"])
    if df.empty:
        raise FigureError("plot_operating_point: the record has no finished run")
    df["shown"] = df["measure"].map(SHOWN)
    df["panel"] = df["knob"] + ", N=" + df["seq_len"].astype(str)
    grid = sns.FacetGrid(df, col="panel", col_wrap=min(3, df.panel.nunique()), sharex=False,
                         height=2.6, aspect=1.1)
    palette = dict(zip(SHOWN.values(), ("tab:red", "tab:blue", "tab:orange", "tab:green")))
    grid.map_dataframe(sns.lineplot, x="value", y="number", hue="shown", palette=palette,
                       errorbar=None, marker="o", markersize=3)
    grid.map_dataframe(sns.scatterplot, x="value", y="number", hue="shown", palette=palette,
                       s=12, alpha=0.5, legend=False)
    for panel, ax in grid.axes_dict.items():
        sub = df[df.panel == panel]
        for value in sub.loc[sub.operating, "value"].unique():
            ax.axvline(value, color="black", ls=":", lw=1)
        ax.set_xlabel(f"{sub.knob.iloc[0]} (dotted: reported)")
        ax.yaxis.set_major_formatter(_percent())
        ax.set_ylim(-0.03, 1.03)
    grid.set_titles("{col_name}")
    grid.set_ylabels("share")
    _plt().tight_layout()
    # above the panels, in one row (beside them it covers the last panel's axis label); drawn
    # by hand: seaborn's add_legend resizes the figure and fails for one narrow panel
    from matplotlib.lines import Line2D

    shown = [label for label in SHOWN.values() if label in set(df["shown"])]
    handles = [Line2D([], [], color=palette[label], marker="o", markersize=3) for label in shown]
    grid.figure.legend(handles, shown, loc="lower center", bbox_to_anchor=(0.5, 1.0),
                       ncol=len(shown), frameon=False)
    return grid
