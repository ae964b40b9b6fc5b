"""Forest plots of human gammas against the model's: draws a
:func:`cramcog.comparison.compare_gamma` table (the comparison computes it, this only draws).

Examples
--------
>>> import matplotlib; matplotlib.use("Agg")
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from cramcog.comparison.report import _check_table

VERDICT_COLORS = {"consistent": "#1b9e77", "inconclusive": "#7570b3", "different": "#d95f02",
                  "no fit": "#999999"}


def forest_plot(table: pd.DataFrame, ax=None, *, family: str | None = None):
    """Forest plot of human gammas with intervals, the model's gamma and interval highlighted.

    Parameters
    ----------
    table
        The DataFrame from :func:`cramcog.comparison.compare_gamma`.
    ax
        Matplotlib axes (a new figure if None).
    family
        Which family to draw when the table holds several (default: the first).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"source": ["a", "b"], "series": ["", "s"], "family": "power",
    ...     "gamma": [0.1, 0.3], "ci_low": [0.05, 0.2], "ci_high": [0.15, 0.4],
    ...     "model_gamma": 0.2, "model_ci_low": 0.15, "model_ci_high": 0.25,
    ...     "verdict": ["different", "inconclusive"]})
    >>> ax = forest_plot(t)
    >>> ax.get_xlabel()
    'gamma (power)'
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    _check_table(table, ["source", "series", "family", "gamma", "ci_low", "ci_high",
                         "model_gamma", "model_ci_low", "model_ci_high", "verdict"])
    family = family or str(table["family"].iloc[0])
    sub = table[table["family"] == family].reset_index(drop=True)
    if sub.empty:
        raise ValueError(f"no rows for family {family!r}; the table has {table.family.unique()}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.45 * len(sub) + 1.6))
    labels = [f"{s}/{r}" if r else s for s, r in zip(sub["source"], sub["series"])]
    ypos = np.arange(len(sub))[::-1]
    mg, ml, mh = (float(sub[c].iloc[0]) for c in ("model_gamma", "model_ci_low", "model_ci_high"))
    ax.axvspan(ml, mh, color="#e7298a", alpha=0.18, lw=0, label="model interval")
    ax.axvline(mg, color="#e7298a", lw=2, label=f"model gamma = {mg:.3g}")
    for verdict_name, color in VERDICT_COLORS.items():
        rows = sub["verdict"] == verdict_name
        if rows.any():
            ax.errorbar(sub.loc[rows, "gamma"], ypos[rows.to_numpy()],
                        xerr=[sub.loc[rows, "gamma"] - sub.loc[rows, "ci_low"],
                              sub.loc[rows, "ci_high"] - sub.loc[rows, "gamma"]],
                        fmt="o", color=color, capsize=3, label=verdict_name)
    for y in ypos[(sub["verdict"] == "no fit").to_numpy()]:
        ax.annotate("no fit", (0.02, y), xycoords=("axes fraction", "data"), va="center",
                    color=VERDICT_COLORS["no fit"], fontsize="small")
    ax.set_yticks(ypos, labels)
    ax.set_xlabel(f"gamma ({family})")
    ax.set_title("gamma: model vs human data (same family)")
    ax.legend(loc="best", fontsize="small", frameon=False)
    sns.despine(ax=ax)
    return ax


def forest_grid(table: pd.DataFrame):
    """A seaborn FacetGrid of forest plots, one panel per family in the table.

    Returns
    -------
    seaborn.FacetGrid

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"source": ["a", "a"], "series": "", "family": ["power", "actr"],
    ...     "gamma": [0.1, 0.3], "ci_low": [0.05, 0.2], "ci_high": [0.15, 0.4],
    ...     "model_gamma": 0.2, "model_ci_low": 0.15, "model_ci_high": 0.25,
    ...     "verdict": ["different", "inconclusive"]})
    >>> len(forest_grid(t).axes.flat)
    2
    """
    import seaborn as sns

    _check_table(table, ["family"])
    families = list(dict.fromkeys(table["family"]))
    n_rows = int(table.groupby("family").size().max())
    grid = sns.FacetGrid(table, col="family", col_order=families, sharex=False, sharey=False,
                         height=0.45 * n_rows + 1.8, aspect=1.6 if len(families) == 1 else 1.2)
    for ax, fam in zip(grid.axes.flat, families):
        forest_plot(table, ax=ax, family=fam)
        ax.set_title(fam)
    grid.figure.suptitle("gamma: model vs human data, each family fitted to both", y=1.02)
    grid.figure.tight_layout()
    return grid


__all__ = ["VERDICT_COLORS", "forest_grid", "forest_plot"]
