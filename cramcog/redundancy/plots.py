"""The redundancy figure: per layer, over training checkpoints (seaborn).

Examples
--------
>>> import numpy as np
>>> from cramcog.redundancy.gpt2 import GPT2, GPT2Config
>>> from cramcog.redundancy.analysis import RedundancyConfig, measure_redundancy
>>> from cramcog.redundancy.plots import redundancy_table
>>> model = GPT2(GPT2Config(n_embd=16, n_layer=2, n_head=2, n_positions=16))
>>> ds = measure_redundancy(model, np.random.default_rng(0).integers(0, 256, (40, 16)),
...                         RedundancyConfig(n_folds=3))
>>> sorted(redundancy_table(ds).measure.unique())[0]
'mean head R^2 (held-out)'
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from cramcog.redundancy.analysis import fraction_within


def redundancy_table(ds) -> pd.DataFrame:
    """Tidy table: one row per (step, layer, measure) with its value.

    Measures: the share of predictable head operations in the layer (heads pooled), the mean
    held-out head R^2, and the share of predictable whole-layer outputs. A record without a
    checkpoint dimension counts as one checkpoint at step 0.
    """
    if "checkpoint" not in ds.dims:
        ds = ds.expand_dims(checkpoint=[0]).assign_coords(step=("checkpoint", [0]))
    tau = float(ds.attrs.get("tau", 0.5))
    rows = []
    for c in range(ds.sizes["checkpoint"]):
        one = ds.isel(checkpoint=c)
        step = int(one.step)
        for li, layer in enumerate(ds.layer.values):
            counts = one.rel_error_counts.isel(layer=li).sum("head").values
            if counts.sum() > 0:
                rows.append((step, int(layer), "predictable head operations",
                             float(fraction_within(counts, tau))))
                rows.append((step, int(layer), "mean head R^2 (held-out)",
                             float(np.nanmean(one.r2_heldout.isel(layer=li).values))))
            rows.append((step, int(layer), "predictable layer outputs",
                         float(one.layer_predictable_fraction.isel(layer=li))))
    return pd.DataFrame(rows, columns=["step", "layer", "measure", "value"])


def plot_redundancy(ds, path=None):
    """Redundancy per layer over training: one panel per measure, one line per layer.

    Parameters
    ----------
    ds : xarray.Dataset
        A redundancy record (from ``train_and_measure`` or ``measure_redundancy``).
    path : str or Path, optional
        Save the figure there (PNG, 150 dpi).

    Returns
    -------
    seaborn.FacetGrid
    """
    import matplotlib
    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import seaborn as sns

    table = redundancy_table(ds)
    table["layer"] = table["layer"].astype(str)
    grid = sns.relplot(data=table, x="step", y="value", hue="layer", col="measure", kind="line",
                       marker="o", height=3.2, aspect=1.1, facet_kws={"sharey": False})
    grid.set_titles("{col_name}")
    last = max(1, int(table["step"].max()))
    for ax in grid.axes.flat:
        ax.set_xscale("symlog", linthresh=1)        # step 0 (initialisation) stays on the axis
        ax.set_xlim(0, last * 1.5)
        ax.set_xlabel("training step (symlog)")
    tau = ds.attrs.get("tau", 0.5)
    grid.figure.suptitle(f"Attention redundancy over training (predictable: relative error <= {tau})",
                         y=1.04, fontsize=10)
    if path is not None:
        grid.figure.savefig(path, dpi=150, bbox_inches="tight")
    return grid
