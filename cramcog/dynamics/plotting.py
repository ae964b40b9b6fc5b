"""Plots of fitted curves: data, fitted means and confidence bands (matplotlib + seaborn).

Examples
--------
>>> import matplotlib; matplotlib.use("Agg")
>>> import numpy as np
>>> from cramcog.dynamics import fit_consolidation_curve
>>> t = np.array([1, 2, 4, 8, 16.0])
>>> fits = fit_consolidation_curve(t, [0.9, 0.7, 0.55, 0.47, 0.37], family=["power", "hyperbolic"])
>>> ax = fits.plot()
>>> ax.get_ylabel()
'y'
"""
from __future__ import annotations

import numpy as np


def _grid(t: np.ndarray, loglog: bool, positive: bool) -> np.ndarray:
    lo, hi = float(np.min(t)), float(np.max(t))
    if loglog or positive:
        lo = lo if lo > 0 else (np.min(t[t > 0]) if (t > 0).any() else 1e-3) / 2
        return np.geomspace(lo, hi, 200)
    return np.linspace(lo, hi, 200)


def _curve_name(fit, b: int) -> str:
    """'subject=s1, layer=L0' for curve b of a batched fit."""
    idx = np.unravel_index(b, fit.batch_shape)
    return ", ".join(f"{d}={fit.batch_coords[d][i]}" for d, i in zip(fit.batch_dims, idx))


def plot_fits(fits, ax=None, loglog: bool = False, band: bool = True, highlight: str | None = None,
              max_curves: int = 12):
    """Draw data and fitted curves of one or several FitResults that share their data.

    Parameters
    ----------
    fits : list of FitResult
    ax : matplotlib.axes.Axes, optional
    loglog : bool
        Log-log axes.
    band : bool
        Shade the confidence band (of ``highlight``, or of the only fit).
    highlight : str, optional
        Family drawn bold (e.g. the best by AIC).
    max_curves : int
        For batched fits, the number of curves drawn.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    first = fits[0]
    nb = first.estimates.shape[0]
    shown = min(nb, max_curves)
    colors = sns.color_palette("colorblind", max(len(fits), shown, 3))
    with sns.axes_style("whitegrid"):
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        t_all = first.curves.t
        for b in range(shown):
            tb = t_all[0] if t_all.shape[0] == 1 else t_all[b]
            keep = tb > 0 if loglog else np.ones_like(tb, bool)
            ax.scatter(tb[keep], first.curves.y[b][keep], color="0.2" if shown == 1 else colors[b],
                       s=22, zorder=3, label="data" if b == 0 else None)
        for i, f in enumerate(fits):
            positive = f.spec.needs_positive_t
            grid = _grid(t_all[:shown].ravel() if t_all.shape[0] > 1 else t_all[0], loglog,
                         positive)
            mu = f.spec.mean(grid[None, :], f.estimates[:shown])
            bold = highlight is None or f.family == highlight
            for b in range(shown):
                color = colors[i] if shown == 1 else colors[b]
                ok = bool(f.converged_flags[b])
                if shown == 1:
                    label = f.family + ("" if ok else " (not converged)")
                elif i == 0:  # batched: one line per curve, named by its batch coordinates
                    label = f"{f.family} {_curve_name(f, b)}" + ("" if ok else " (failed)")
                else:
                    label = None
                ax.plot(grid, mu[b], color=color, lw=2.2 if bold else 1.2,
                        ls="-" if ok else ":", label=label, zorder=2)
            if band and bold and (len(fits) == 1 or f.family == highlight):
                lo, hi = f.predict_band(grid)
                lo, hi = np.atleast_2d(lo).reshape(-1, grid.size), np.atleast_2d(hi).reshape(
                    -1, grid.size)
                for b in range(shown):
                    color = colors[i] if shown == 1 else colors[b]
                    ax.fill_between(grid, lo[b], hi[b], color=color, alpha=0.2, lw=0,
                                    label=f"{f.level:.0%} band" if b == 0 else None)
        if loglog:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel(first.curves.time_name)
        ax.set_ylabel(first.curves.y_name)
        ax.legend(frameon=False, fontsize="small")
    return ax
