"""Switch raster: every pattern's route over training, and how many switch at each evaluation.

Computed as a frame (:func:`switch_raster_frame`), then drawn (:func:`plot_switch_raster`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from cramcog.analysis.runs import FigureError
from cramcog.figures.style import _plt, _sns


def switch_raster_frame(ds: xr.Dataset, variant: str, seed: int) -> pd.DataFrame:
    """Tidy (pattern, eval_step, share, order) after the warm-up: ``share`` of the pattern's
    probes attending, ``order`` its rank by final switch (never-switching patterns last).

    Examples
    --------
    >>> f = switch_raster_frame(records.open("paper/records/consolidation.nc"), "cram", 1)
    ...                                                                  # doctest: +SKIP
    """
    from cramcog.analysis.synchrony import pattern_events, run_shares
    from cramcog.analysis.consolidation import switch_index

    if "pattern_attended" not in ds or variant not in [str(v) for v in ds.variant.values]:
        raise FigureError(f"plot_switch_raster: needs a consolidation record with variant "
                          f"{variant!r}")
    steps, share, _, start = run_shares(ds, variant, seed)
    if not len(steps):
        raise FigureError(f"plot_switch_raster: {variant} seed {seed} has no evaluation")
    warm_ended = start < len(steps)
    if not warm_ended:          # e.g. a short demo run: show every evaluation, and say so
        start = 0
    final = switch_index(share, start).astype(float)
    final[final < 0] = np.inf
    order = np.argsort(np.argsort(final, kind="stable"), kind="stable")
    E, P = share[start:].shape
    frame = pd.DataFrame({"pattern": np.tile(np.arange(P), E),
                          "eval_step": np.repeat(steps[start:], P),
                          "share": share[start:].ravel(),
                          "order": np.tile(order, E)})
    events = pattern_events(share, start)
    counts = {k: np.bincount(events[k], minlength=len(steps))[start:] for k in ("switch", "return")}
    frame.attrs["events"] = pd.DataFrame({"eval_step": steps[start:], **counts})
    frame.attrs["warmup_ended"] = warm_ended
    return frame


def plot_switch_raster(ds: xr.Dataset, variant: str = "cram", seed: int | None = None):
    """Raster of one run: patterns (rows, sorted by final switch) x evaluations, coloured by
    the share of the pattern's probes attending; above it, how many patterns make their final
    switch, and how many return to attention, at each evaluation; on top, the average over
    patterns (the consolidation curve against training step).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _sns()
    plt = _plt()
    seed = int(ds.seed.values[0]) if seed is None else seed
    frame = switch_raster_frame(ds, variant, seed)
    events = frame.attrs["events"]
    grid = frame.pivot(index="order", columns="eval_step", values="share")
    steps = grid.columns.values
    fig, (avg, top, ax) = plt.subplots(3, 1, figsize=(7.0, 6.4), sharex=True,
                                       gridspec_kw={"height_ratios": [1, 1, 3]})
    width = float(np.median(np.diff(steps))) if steps.size > 1 else 1.0
    mean = frame.groupby("eval_step").share.mean()
    avg.plot(mean.index, mean.values, color="tab:blue", lw=1.5)
    avg.set(ylim=(-0.03, 1.03), ylabel="average")
    top.bar(events.eval_step, events["switch"], width=width, color="tab:blue",
            label="final switch off attention")
    top.bar(events.eval_step, -events["return"], width=width, color="tab:red",
            label="return to attention (down)")
    top.set_ylabel("patterns")
    top.legend(fontsize=6, loc="upper right")
    half = width / 2
    im = ax.imshow(grid.values, aspect="auto", interpolation="nearest", cmap="viridis",
                   vmin=0, vmax=1, extent=(steps[0] - half, steps[-1] + half, grid.shape[0], 0))
    ax.grid(False)
    ax.set(xlabel="training step", ylabel="pattern (sorted by final switch)")
    fig.colorbar(im, ax=[avg, top, ax], label="share of its probes attending", shrink=0.6)
    when = "after the warm-up" if frame.attrs["warmup_ended"] else \
        "(the warm-up never ended: every evaluation)"
    avg.set_title(f"{variant}, seed {seed}: each pattern's route {when} "
                  f"(evaluations every {width:g} steps)", fontsize=8)
    return fig


__all__ = ["plot_switch_raster", "switch_raster_frame"]
