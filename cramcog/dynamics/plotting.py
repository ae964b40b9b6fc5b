"""Plots of fitted curves that people can read (matplotlib + seaborn).

- Axis labels come from the data's names and units (``delay (days)``, ``recalled (proportion)``).
- Every family has its own style, the same in every plot (:func:`family_style`): a base family
  and its asymptote variant share a colour, the ``+c`` variant is dashed, so 16 families never
  repeat a style.
- Observed proportions (binomial fits) carry Wilson score intervals (:func:`wilson_interval`).
- The legend sits outside the axes, never over the points.
- Confidence bands only for the best few families (``band=True``: the best; ``band=3``: the best
  three; ``band="all"``), ranked by AICc.
- A batched fit (several subjects or curves) draws one panel per curve on shared axes
  (:func:`plot_panels`) instead of overlapping bands; a group fit draws each subject's fit
  beside the group curve (:func:`plot_group`).

Examples
--------
>>> import matplotlib; matplotlib.use("Agg")
>>> import numpy as np, xarray as xr
>>> from cramcog.dynamics import fit_consolidation_curve
>>> t = xr.DataArray([1, 2, 4, 8, 16.0], dims="delay", name="delay", attrs={"units": "days"})
>>> y = xr.DataArray([0.9, 0.7, 0.55, 0.47, 0.37], dims="delay", name="recall")
>>> fits = fit_consolidation_curve(t, y, family=["power", "hyperbolic"])
>>> ax = fits.plot()
>>> ax.get_xlabel(), ax.get_ylabel()
('delay (days)', 'recall')
"""
from __future__ import annotations

import zlib

import numpy as np

_LINESTYLES = ("-", "--", "-.", ":")


def wilson_interval(successes, n, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion (sensible at 0 and 1, unlike Wald's).

    Parameters
    ----------
    successes, n : array_like
        Counts of successes and trials (broadcast together; ``successes`` may be fractional
        when it comes from a proportion times ``n``).
    level : float
        Confidence level.

    Returns
    -------
    (low, high) : tuple of numpy.ndarray

    Examples
    --------
    >>> lo, hi = wilson_interval([0, 8], [10, 10])
    >>> lo.round(3).tolist(), hi.round(3).tolist()    # 0/10 and 8/10
    ([0.0, 0.49], [0.278, 0.943])
    """
    from scipy import stats

    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    k, n = np.broadcast_arrays(np.asarray(successes, float), np.asarray(n, float))
    z = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(all="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def family_style(name: str) -> dict:
    """Colour and line style of a family, stable across plots.

    Base families get the colour-blind palette in registry order; ``"<base>+c"`` takes its
    base's colour, dashed. Families outside the registry get a colour from their name, dotted.

    Examples
    --------
    >>> family_style("power")["color"] == family_style("power+c")["color"]
    True
    >>> family_style("power")["ls"], family_style("power+c")["ls"]
    ('-', '--')
    """
    import seaborn as sns

    from cramcog.dynamics.families import FAMILIES

    bases = list(dict.fromkeys(n.split("+")[0] for n in FAMILIES))
    palette = sns.color_palette("colorblind", max(len(bases), 10))
    base, _, suffix = name.partition("+")
    if base in bases:
        return {"color": palette[bases.index(base)], "ls": "--" if suffix else "-"}
    return {"color": palette[zlib.crc32(name.encode()) % len(palette)], "ls": ":"}


def axis_label(name: str, attrs: dict | None = None) -> str:
    """``long_name`` (or ``name``) with ``(units)`` when units are known and not in it already.

    Examples
    --------
    >>> axis_label("days", {"units": "days"}), axis_label("t", {"units": "h"})
    ('days', 't (h)')
    """
    attrs = attrs or {}
    label = str(attrs.get("long_name") or name)
    units = str(attrs.get("units") or "")
    if units and units.lower() not in label.lower():
        label = f"{label} ({units})"
    return label


def _labels(curves) -> tuple[str, str]:
    x = axis_label(curves.time_name, curves.time_attrs)
    y = curves.y_name
    if curves.y_kind != "value" and "proportion" not in y:
        y = f"{y} (proportion)"
    return x, y


def _grid(t: np.ndarray, log_x: bool) -> np.ndarray:
    t = np.asarray(t, float).ravel()
    lo, hi = float(np.min(t)), float(np.max(t))
    if log_x:
        pos = t[t > 0]
        lo = float(pos.min()) if pos.size else 1e-3
        return np.geomspace(lo, max(hi, lo * 1.01), 200)
    return np.linspace(lo, hi, 200)


def _curve_name(fit, b: int) -> str:
    """'subject=s1, layer=L0' for curve b of a batched fit."""
    idx = np.unravel_index(b, fit.batch_shape)
    return ", ".join(f"{d}={fit.batch_coords[d][i]}" for d, i in zip(fit.batch_dims, idx))


def _rank(fits) -> list:
    """Fits ordered best first: converged before failed, then by their criterion (AICc by
    default) summed over curves."""
    def key(f):
        return (not bool(np.all(f.converged_flags)), float(np.sum(np.atleast_1d(f.ic))))
    return sorted(fits, key=key)


def _banded(fits, band, highlight) -> set:
    """Names of the families that get a confidence band."""
    if band is False or band is None or band == 0:
        return set()
    ranked = [f.family for f in _rank(fits)]
    if band == "all":
        return set(ranked)
    if band is True:
        return {highlight} if highlight else {ranked[0]}
    if isinstance(band, int):
        return set(ranked[:band])
    if isinstance(band, str):
        return {band}
    return set(band)


def _draw_data(ax, t, y, n, level, color="0.15", label="data"):
    """Observed points; Wilson error bars when trials are known."""
    if n is None:
        ax.plot(t, y, "o", color=color, ms=4.5, zorder=4, label=label)
        return
    lo, hi = wilson_interval(y * n, n, level)
    yerr = np.maximum([y - lo, hi - y], 0.0)      # rounding at 0% / 100%
    ax.errorbar(t, y, yerr=yerr, fmt="o", color=color, ms=4.5, elinewidth=1,
                capsize=2, zorder=4, label=label)


def _finish(ax, xlabel, ylabel, loglog, legend=True):
    if loglog:
        from matplotlib.ticker import FuncFormatter
        short = FuncFormatter(lambda v, _: f"{v:.3g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            axis.set_major_formatter(short)
            if lo > 0 and np.log10(hi / lo) < 1.5:   # too few decades to label: label minors
                axis.set_minor_formatter(short)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if legend:
        ax.legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0),
                  borderaxespad=0.0)


def plot_fits(fits, ax=None, loglog: bool = False, band=True, highlight: str | None = None,
              max_curves: int = 12):
    """Draw data and fitted curves of one or several FitResults that share their data.

    Parameters
    ----------
    fits : list of FitResult
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; None makes a figure (for a batched fit: one panel per curve).
    loglog : bool
        Log-log axes (a power law is a straight line there).
    band : bool, int, str or list of str
        Confidence bands: True for ``highlight`` (or the best family), an int for the best
        that many families by AICc, "all", or family names.
    highlight : str, optional
        Family drawn bold (e.g. the best by AICc).
    max_curves : int
        For batched fits, the number of curves (panels) drawn.

    Returns
    -------
    matplotlib.axes.Axes, or a seaborn FacetGrid for a batched fit drawn without ``ax``.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np
    >>> from cramcog.dynamics import fit_consolidation_curve
    >>> t = np.array([1, 2, 4, 8, 16, 32.0])
    >>> fits = fit_consolidation_curve(t, [41, 33, 29, 23, 20, 17], n=50, y_kind="successes",
    ...                                family=["power", "exponential", "hyperbolic"])
    >>> ax = plot_fits(list(fits.values()), band=2)
    >>> len(ax.collections) - 1                  # two bands beside the data's error bars
    2
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    first = fits[0]
    nb = first.estimates.shape[0]
    if nb > 1 and ax is None:
        return plot_panels(fits, loglog=loglog, band=band, highlight=highlight,
                           max_panels=max_curves)
    shown = min(nb, max_curves)
    xlabel, ylabel = _labels(first.curves)
    banded = _banded(fits, band, highlight) if nb == 1 else set()
    palette = sns.color_palette("colorblind", max(shown, 3))
    with sns.axes_style("whitegrid"):
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        t_all = first.curves.t
        for b in range(shown):
            tb = t_all[0] if t_all.shape[0] == 1 else t_all[b]
            keep = tb > 0 if loglog else np.ones(tb.shape, bool)
            n = None if first.curves.n is None else first.curves.n[b][keep]
            _draw_data(ax, tb[keep], first.curves.y[b][keep], n, first.level,
                       color="0.15" if shown == 1 else palette[b],
                       label="data" + (f" ({first.level:.0%} Wilson)" if n is not None else "")
                       if b == 0 else None)
        grid_all = _grid(t_all[:shown], loglog or any(f.spec.needs_positive_t for f in fits))
        for f in _rank(fits):
            style = family_style(f.family)
            bold = highlight is None or f.family == highlight
            grid = grid_all[grid_all > 0] if f.spec.needs_positive_t else grid_all
            with np.errstate(all="ignore"):
                mu = f.spec.mean(grid[None, :], f.estimates[:shown])
            for b in range(shown):
                ok = bool(f.converged_flags[b])
                if shown == 1:
                    label = f.family + ("" if ok else " (not converged)")
                    color = style["color"]
                else:
                    label = f"{f.family} {_curve_name(f, b)}" + ("" if ok else " (failed)")
                    color = palette[b]
                ax.plot(grid, mu[b], color=color, ls=style["ls"], alpha=1.0 if ok else 0.45,
                        lw=2.4 if bold else 1.3 if ok else 0.9, label=label,
                        zorder=3 if bold else 2)
            if f.family in banded:
                lo, hi = f.predict_band(grid)
                ax.fill_between(grid, np.ravel(lo), np.ravel(hi), color=style["color"],
                                alpha=0.18, lw=0, label=f"{f.family} {f.level:.0%} band")
        _finish(ax, xlabel, ylabel, loglog)
    return ax


def plot_panels(fits, loglog: bool = False, band=True, highlight: str | None = None,
                max_panels: int = 24, col_wrap: int = 4, height: float = 2.3):
    """One panel per curve of a batched fit (shared axes), every family in its own style.

    Parameters
    ----------
    fits : list of FitResult
        Batched fits of the same curves (e.g. the families of one ``FitSet``).
    loglog, band, highlight
        As for :func:`plot_fits`; bands are per panel.
    max_panels : int
        Draw the first this many curves (the title says how many there are).
    col_wrap, height : int, float
        Panels per row, panel height in inches.

    Returns
    -------
    seaborn.FacetGrid

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np
    >>> from cramcog.dynamics import fit_consolidation_curve
    >>> t = np.array([1, 2, 4, 8, 16.0])
    >>> fit = fit_consolidation_curve(t, np.stack([t ** -0.3, t ** -0.6]) * 0.9 + 0.01)
    >>> grid = fit.plot()
    >>> len(grid.axes.flat), grid.axes.flat[0].get_title()
    (2, 'curve=0')
    """
    import pandas as pd
    import seaborn as sns

    first = fits[0]
    nb = first.estimates.shape[0]
    shown = min(nb, max_panels)
    names = [_curve_name(first, b) for b in range(shown)]
    xlabel, ylabel = _labels(first.curves)
    frame = pd.DataFrame({"curve": names})
    with sns.axes_style("whitegrid"):
        grid = sns.FacetGrid(frame, col="curve", col_wrap=min(col_wrap, shown), sharex=True,
                             sharey=True, height=height, aspect=1.2, col_order=names)
    banded = _banded(fits, band, highlight)
    t_all = first.curves.t
    grid_t = _grid(t_all[:shown], loglog or any(f.spec.needs_positive_t for f in fits))
    bands: dict = {}
    for b, name in enumerate(names):
        ax = grid.axes_dict[name]
        tb = t_all[0] if t_all.shape[0] == 1 else t_all[b]
        keep = tb > 0 if loglog else np.ones(tb.shape, bool)
        n = None if first.curves.n is None else first.curves.n[b][keep]
        _draw_data(ax, tb[keep], first.curves.y[b][keep], n, first.level)
        for f in _rank(fits):
            style = family_style(f.family)
            g = grid_t[grid_t > 0] if f.spec.needs_positive_t else grid_t
            with np.errstate(all="ignore"):
                mu = f.spec.mean(g[None, :], f.estimates[b:b + 1])[0]
            ok = bool(f.converged_flags[b])
            bold = highlight is None or f.family == highlight
            ax.plot(g, mu, color=style["color"], ls=style["ls"], alpha=1.0 if ok else 0.45,
                    lw=2.0 if bold else 1.1 if ok else 0.8,
                    label=f.family + ("" if ok else " (failed)"))
            if f.family in banded and ok:
                if f.family not in bands:          # every curve's band at once, once
                    lo, hi = f.predict_band(g)
                    bands[f.family] = (np.asarray(lo).reshape(nb, -1),
                                       np.asarray(hi).reshape(nb, -1))
                lo, hi = bands[f.family]
                ax.fill_between(g, lo[b], hi[b], color=style["color"], alpha=0.18, lw=0)
        ax.set_title(name)
        _finish(ax, "", "", loglog, legend=False)
    grid.set_axis_labels(xlabel, ylabel)
    _outside_legend(grid)
    if shown < nb:
        grid.figure.suptitle(f"first {shown} of {nb} curves", y=1.02)
    return grid


def _outside_legend(grid):
    """One legend for a FacetGrid, right of the panels (duplicates dropped)."""
    seen = {}
    for ax in grid.axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab and not lab.startswith("_"):
                seen.setdefault(lab, h)
    if seen:
        grid.figure.legend(list(seen.values()), list(seen.keys()), loc="upper left",
                           bbox_to_anchor=(1.0, 0.95), frameon=False, fontsize="small")


def plot_group(group, loglog: bool = False, max_panels: int = 24, col_wrap: int = 4,
               height: float = 2.3, band: bool = False, shrunk: bool = False):
    """One panel per subject (shared axes): the data, the subject's own fit, the group curve.

    Parameters
    ----------
    group : GroupFit
        From ``fit_consolidation_curve(..., by="subject")`` (one family).
    loglog : bool
        Log-log axes.
    max_panels : int
        Draw the first this many subjects (the title says how many there are).
    col_wrap, height
        Panels per row, panel height in inches.
    band : bool
        Also shade each subject's confidence band.
    shrunk : bool
        Also draw each subject's empirical-Bayes (shrunken) curve, dotted.

    Returns
    -------
    seaborn.FacetGrid
        Conditions, if any, are colours within each panel (legend outside, right).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np, pandas as pd
    >>> from cramcog.dynamics import fit_consolidation_curve
    >>> rng = np.random.default_rng(0)
    >>> t = np.array([1, 2, 4, 8, 16.0])
    >>> df = pd.DataFrame([(s, tt, rng.binomial(40, 0.9 * tt ** -g), 40) for s, g in
    ...                    enumerate([0.3, 0.4, 0.5]) for tt in t], columns=["id", "t", "k", "n"])
    >>> group = fit_consolidation_curve("t", "k", "n", data=df, by="id", y_kind="successes")
    >>> grid = group.plot()
    >>> [ax.get_title() for ax in grid.axes.flat]
    ['id = 0', 'id = 1', 'id = 2']
    """
    import seaborn as sns

    curves, fits = group.curves, group._fits
    subjects = list(dict.fromkeys(curves[group.subject].tolist()))
    shown = subjects[:max_panels]
    conds = group.conditions
    levels = [tuple(r) for r in group.groups[conds].itertuples(index=False)] if conds else [()]
    palette = sns.color_palette("colorblind", max(len(levels), 3))
    with sns.axes_style("whitegrid"):
        grid = sns.FacetGrid(curves[curves[group.subject].isin(shown)], col=group.subject,
                             col_wrap=min(col_wrap, len(shown)), sharex=True, sharey=True,
                             height=height, aspect=1.2, col_order=shown)
    long = group._long
    all_t = np.concatenate(group._curves.t)
    t_grid = _grid(all_t, loglog or group.spec.needs_positive_t)
    if group.spec.needs_positive_t:
        t_grid = t_grid[t_grid > 0]
    group_mu = np.atleast_2d(group.predict(t_grid))
    style = family_style(group.family)
    for c in range(len(curves)):
        subj = curves[group.subject].iloc[c]
        if subj not in shown:
            continue
        ax = grid.axes_dict[subj]
        gi = int(group._group_of[c])
        level = levels[gi]
        color = "0.15" if not conds else palette[gi]
        tag = ", ".join(map(str, level))
        t, y = group._curves.t[c], group._curves.y[c]
        n = None if group._curves.n is None else group._curves.n[c]
        keep = t > 0 if loglog else np.ones(t.shape, bool)
        _draw_data(ax, t[keep], y[keep], None if n is None else n[keep], group.level,
                   color=color, label=f"data {tag}".strip())
        if not fits.conv[c]:
            what = "fit failed" if not curves["excluded"].iloc[c] else "not fitted"
            ax.text(0.97, 0.92 - 0.1 * gi, f"{what} {tag}".strip(), transform=ax.transAxes,
                    ha="right", fontsize="small", color=color if conds else "0.4")
        else:
            with np.errstate(all="ignore"):
                mu = group.spec.mean(t_grid[None, :], fits.est[c:c + 1])[0]
            ax.plot(t_grid, mu, color=style["color"] if not conds else color, lw=1.8,
                    ls=style["ls"], label=f"{group.family} fit {tag}".strip())
            if band:
                fit = group.subject_fit(subj, **dict(zip(conds, level)))
                lo, hi = fit.predict_band(t_grid)
                ax.fill_between(t_grid, lo, hi, color=style["color"] if not conds else color,
                                alpha=0.15, lw=0)
            if shrunk:
                p = np.array([group.shrunk[name][c] for name in group.spec.param_names])
                with np.errstate(all="ignore"):
                    mu_s = group.spec.mean(t_grid[None, :], p[None, :])[0]
                ax.plot(t_grid, mu_s, color=color, lw=1.0, ls=":",
                        label=f"shrunken {tag}".strip())
        ax.plot(t_grid, group_mu[gi], color="0.45" if not conds else color, lw=1.2, ls="--",
                label=f"group {tag}".strip(), zorder=1)
        _finish(ax, "", "", loglog, legend=False)
    grid.set_titles("{col_var} = {col_name}")
    ylabel = long.y_name + (" (proportion)" if group._curves.y_kind != "value" else "")
    grid.set_axis_labels(axis_label(long.time_name, long.time_attrs), ylabel)
    _outside_legend(grid)
    title = f"{group.family}: each {group.subject}'s fit and the group curve (dashed)"
    if len(shown) < len(subjects):
        title += f"; first {len(shown)} of {len(subjects)} {group.subject}s"
    grid.figure.suptitle(title, y=1.03)
    return grid
