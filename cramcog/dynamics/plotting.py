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
- Figures a journal accepts: a log time axis by default when the delays span more than a
  decade (``logx=None``; a delay of 0 gives a symlog axis, linear up to the first delay); a
  family that did not converge is not drawn (a note in the axes names it); curves and bands are
  clipped to [0, 1] on proportion axes; units are written once (``lag (s)``,
  ``retention (proportion)``, never ``Retention (%) (proportion)``); facets never drop subjects
  silently (``page=`` pages through them, ``max_panels=None`` draws all, and the title says
  ``showing k of n``); tick labels that would overlap are thinned; ``residuals=True`` adds a
  residual panel under a single curve's plot.

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

import re
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
    >>> axis_label("lag (s)", {"units": "s"}), axis_label("delay", {"units": "s"})
    ('lag (s)', 'delay (s)')
    """
    attrs = attrs or {}
    label = str(attrs.get("long_name") or name)
    units = str(attrs.get("units") or "")
    if units and not re.search(rf"(?<!\w){re.escape(units)}(?!\w)", label, re.IGNORECASE):
        label = f"{label} ({units})"
    return label


_PERCENT = re.compile(r"\s*\((%|percent|pct)\)\s*$", re.IGNORECASE)
_UNITS_AT_END = re.compile(r"\([^()]*\)\s*$")


def y_label(name: str, y_kind: str = "value", attrs: dict | None = None) -> str:
    """The y axis label: the name with its units once. Proportions (``y_kind`` proportion,
    successes or percent: all are plotted as proportions) say ``(proportion)``, replacing a
    ``(%)`` in the name, never beside other units.

    Examples
    --------
    >>> y_label("Retention (%)", "percent"), y_label("recalled", "successes")
    ('Retention (proportion)', 'recalled (proportion)')
    >>> y_label("recall proportion", "proportion"), y_label("rt (ms)", "rt"), y_label("score")
    ('recall proportion', 'rt (ms)', 'score')
    """
    label = axis_label(name, attrs)
    if not _is_proportion_kind(y_kind):
        return label
    if _PERCENT.search(label):
        return _PERCENT.sub(" (proportion)", label)
    if "proportion" in label.lower() or _UNITS_AT_END.search(label):
        return label
    return f"{label} (proportion)"


def _is_proportion_kind(y_kind: str) -> bool:
    return y_kind in ("proportion", "successes", "percent")


def _labels(curves) -> tuple[str, str]:
    x = axis_label(curves.time_name, curves.time_attrs)
    return x, y_label(curves.y_name, curves.y_kind)


def _clip(values, proportion: bool):
    """Curves on a proportion axis stay in [0, 1]."""
    values = np.asarray(values, float)
    return np.clip(values, 0.0, 1.0) if proportion else values


def auto_logx(t) -> bool:
    """True when the positive delays span more than a decade (max / min > 10).

    Examples
    --------
    >>> auto_logx([1, 2, 4, 8]), auto_logx([1, 4, 16, 64]), auto_logx([0, 1, 100])
    (False, True, True)
    """
    t = np.asarray(t, float).ravel()
    pos = t[np.isfinite(t) & (t > 0)]
    return bool(pos.size >= 2 and pos.max() / pos.min() > 10)


def _x_scale(t, loglog: bool, logx) -> str:
    """'linear', 'log' or 'symlog' (log with a delay of 0 kept, linear up to the first delay)."""
    if loglog:
        return "log"
    if logx is None:
        logx = auto_logx(t)
    if not logx:
        return "linear"
    t = np.asarray(t, float).ravel()
    return "symlog" if np.any(t[np.isfinite(t)] <= 0) else "log"


def _apply_x_scale(ax, scale: str, t) -> None:
    if scale == "log":
        ax.set_xscale("log")
    elif scale == "symlog":
        t = np.asarray(t, float).ravel()
        ax.set_xscale("symlog", linthresh=float(t[t > 0].min()), linscale=0.5)


def _grid(t: np.ndarray, log_x) -> np.ndarray:
    """200 times to draw curves at: linear, log-spaced (``True`` / "log") or, for "symlog",
    linear from 0 to the first positive delay and log-spaced beyond."""
    t = np.asarray(t, float).ravel()
    lo, hi = float(np.min(t)), float(np.max(t))
    pos = t[t > 0]
    if log_x == "symlog" and pos.size and lo <= 0:
        first = float(pos.min())
        return np.concatenate([np.linspace(lo, first, 20, endpoint=False),
                               np.geomspace(first, max(hi, first * 1.01), 180)])
    if log_x and log_x != "linear":
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


def _finish(ax, xlabel, ylabel, loglog, legend=True, x_scale="linear", t=None):
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator

    short = FuncFormatter(lambda v, _: f"{v:.3g}")
    if loglog:
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            axis.set_major_formatter(short)
            if lo > 0 and np.log10(hi / lo) < 1.5:   # too few decades to label: label minors
                axis.set_minor_formatter(short)
    elif x_scale != "linear":
        _apply_x_scale(ax, x_scale, t)
        if x_scale == "log":
            ax.xaxis.set_major_locator(LogLocator(base=10, numticks=6))
        ax.xaxis.set_major_formatter(short)
        lo, hi = ax.get_xlim()
        if x_scale == "log" and lo > 0 and np.log10(hi / lo) < 1.5:
            ax.xaxis.set_minor_formatter(short)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if legend:
        ax.legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0),
                  borderaxespad=0.0)


def declutter_ticks(fig, pad: float = 2.0) -> int:
    """Thin tick labels that would overlap their neighbours: keep every 2nd (3rd, ...) major
    tick until none overlap, and drop minor labels that collide.

    Returns the number of axes changed. Every plot here calls it; call it again after changing
    limits or font sizes.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(figsize=(1.5, 1.5))
    >>> _ = ax.set_xticks(range(0, 20000, 1000)), ax.set_xlim(0, 20000)
    >>> declutter_ticks(fig) > 0
    True
    """
    from matplotlib.ticker import FixedLocator, NullFormatter

    changed = 0
    for _ in range(3):                       # thinning one axis can change another's layout
        fig.draw_without_rendering()
        renderer = fig.canvas.get_renderer()
        again = 0
        for ax in fig.axes:
            for axis in (ax.xaxis, ax.yaxis):
                major = _visible_labels(axis.get_majorticklabels(), axis)
                minor = _visible_labels(axis.get_minorticklabels(), axis)
                if minor and _overlaps(_boxes(sorted(major + minor,
                                                     key=lambda lab: _tick_pos(lab, axis)),
                                              renderer, pad)):
                    axis.set_minor_formatter(NullFormatter())
                    again += 1
                step = 1
                while len(major[::step]) > 1 and _overlaps(_boxes(major[::step], renderer, pad)):
                    step += 1
                if step > 1:
                    axis.set_major_locator(FixedLocator([_tick_pos(lab, axis)
                                                         for lab in major[::step]]))
                    again += 1
        changed += again
        if not again:
            break
    return changed


def _visible_labels(labels, axis) -> list:
    lo, hi = sorted(axis.get_view_interval())
    eps = 1e-9 * abs(hi - lo)
    keep = [lab for lab in labels if lab.get_visible() and lab.get_text()
            and lo - eps <= _tick_pos(lab, axis) <= hi + eps]
    return sorted(keep, key=lambda lab: _tick_pos(lab, axis))


def _boxes(labels, renderer, pad: float) -> list:
    return [lab.get_window_extent(renderer).padded(pad / 2) for lab in labels]


def _overlaps(boxes) -> bool:
    return any(a.overlaps(b) for a, b in zip(boxes, boxes[1:]))


def _tick_pos(label, axis) -> float:
    x, y = label.get_position()
    return x if axis.axis_name == "x" else y


def _note(ax, text: str, y: float = 0.03) -> None:
    """A small grey note inside the axes (lower left)."""
    ax.text(0.02, y, text, transform=ax.transAxes, ha="left", va="bottom", fontsize="x-small",
            color="0.35")


def plot_fits(fits, ax=None, loglog: bool = False, band=True, highlight: str | None = None,
              max_curves: int = 12, logx: bool | None = None, residuals: bool = False):
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
    logx : bool, optional
        Log time axis. None (default): log when the delays span more than a decade (symlog,
        linear below the first delay, when a delay is 0).
    residuals : bool
        Add a panel below with each drawn family's residuals (data minus curve) at the data's
        delays; it is ``ax.residual_ax``.

    Families that did not converge are not drawn; a note in the axes names them. On a
    proportion axis curves and bands are clipped to [0, 1].

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
    >>> ax.get_xscale()                          # 1 to 32: more than a decade
    'log'
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    first = fits[0]
    nb = first.estimates.shape[0]
    if nb > 1 and ax is None:
        return plot_panels(fits, loglog=loglog, band=band, highlight=highlight,
                           max_panels=max_curves, logx=logx)
    shown = min(nb, max_curves)
    xlabel, ylabel = _labels(first.curves)
    proportion = _is_proportion_kind(first.curves.y_kind)
    banded = _banded(fits, band, highlight) if nb == 1 else set()
    palette = sns.color_palette("colorblind", max(shown, 3))
    t_all = first.curves.t
    scale = _x_scale(t_all[:shown], loglog, logx)
    positive_only = loglog or scale == "log"
    res_ax = None
    with sns.axes_style("whitegrid"):
        if ax is None:
            if residuals:
                fig, (ax, res_ax) = plt.subplots(2, 1, figsize=(6, 5.2), sharex=True,
                                                 gridspec_kw={"height_ratios": [3, 1]})
            else:
                _, ax = plt.subplots(figsize=(6, 4))
        elif residuals:
            from mpl_toolkits.axes_grid1 import make_axes_locatable
            res_ax = make_axes_locatable(ax).append_axes("bottom", size="30%", pad=0.1,
                                                         sharex=ax)
        for b in range(shown):
            tb = t_all[0] if t_all.shape[0] == 1 else t_all[b]
            keep = tb > 0 if positive_only else np.ones(tb.shape, bool)
            n = None if first.curves.n is None else first.curves.n[b][keep]
            _draw_data(ax, tb[keep], first.curves.y[b][keep], n, first.level,
                       color="0.15" if shown == 1 else palette[b],
                       label="data" + (f" ({first.level:.0%} Wilson)" if n is not None else "")
                       if b == 0 else None)
        needs_pos = any(f.spec.needs_positive_t for f in fits)
        grid_all = _grid(t_all[:shown], "log" if positive_only or (scale == "linear" and needs_pos)
                         else scale if scale != "linear" else False)
        failed = []
        for f in _rank(fits):
            style = family_style(f.family)
            bold = highlight is None or f.family == highlight
            grid = grid_all[grid_all > 0] if f.spec.needs_positive_t else grid_all
            with np.errstate(all="ignore"):
                mu = _clip(f.spec.mean(grid[None, :], f.estimates[:shown]), proportion)
            drawn = False
            for b in range(shown):
                if not bool(f.converged_flags[b]):
                    failed.append(f.family if shown == 1 else f"{f.family} {_curve_name(f, b)}")
                    continue
                drawn = True
                if shown == 1:
                    label, color = f.family, style["color"]
                else:
                    label, color = f"{f.family} {_curve_name(f, b)}", palette[b]
                ax.plot(grid, mu[b], color=color, ls=style["ls"], lw=2.4 if bold else 1.3,
                        label=label, zorder=3 if bold else 2)
                if res_ax is not None:
                    tb = t_all[0] if t_all.shape[0] == 1 else t_all[b]
                    keep = tb > 0 if (positive_only or f.spec.needs_positive_t) else \
                        np.ones(tb.shape, bool)
                    with np.errstate(all="ignore"):
                        at = f.spec.mean(tb[keep][None, :], f.estimates[b:b + 1])[0]
                    res_ax.plot(tb[keep], first.curves.y[b][keep] - at, "o-", color=color,
                                ls=style["ls"], ms=3.5, lw=0.9 if not bold else 1.4)
            if f.family in banded and drawn:
                lo, hi = f.predict_band(grid)
                ax.fill_between(grid, _clip(np.ravel(lo), proportion),
                                _clip(np.ravel(hi), proportion), color=style["color"],
                                alpha=0.18, lw=0, label=f"{f.family} {f.level:.0%} band")
        if failed:
            _note(ax, "not converged, not drawn: " + ", ".join(failed))
        if proportion:
            lo, hi = ax.get_ylim()
            ax.set_ylim(max(lo, -0.03), min(hi, 1.03))
        _finish(ax, "" if res_ax is not None else xlabel, ylabel, loglog, x_scale=scale,
                t=t_all[:shown])
        if res_ax is not None:
            res_ax.axhline(0.0, color="0.3", lw=0.8)
            res_ax.set_ylabel("residual")
            _finish(res_ax, xlabel, "residual", False, legend=False,
                    x_scale="log" if loglog else scale, t=t_all[:shown])
            ax.tick_params(labelbottom=False)
            ax.residual_ax = res_ax
    declutter_ticks(ax.figure)
    return ax


def plot_panels(fits, loglog: bool = False, band=True, highlight: str | None = None,
                max_panels: int | None = 24, col_wrap: int = 4, height: float = 2.3,
                logx: bool | None = None, page: int = 0):
    """One panel per curve of a batched fit (shared axes), every family in its own style.

    Parameters
    ----------
    fits : list of FitResult
        Batched fits of the same curves (e.g. the families of one ``FitSet``).
    loglog, band, highlight, logx
        As for :func:`plot_fits`; bands are per panel.
    max_panels : int or None
        Panels per figure (None: every curve in one figure). With more curves the title says
        ``showing k of n`` and ``page`` picks which.
    col_wrap, height : int, float
        Panels per row, panel height in inches.
    page : int
        Which page of ``max_panels`` curves to draw (0: the first).

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
    idx = _page(nb, max_panels, page)
    shown = len(idx)
    names = [_curve_name(first, b) for b in idx]
    xlabel, ylabel = _labels(first.curves)
    proportion = _is_proportion_kind(first.curves.y_kind)
    frame = pd.DataFrame({"curve": names})
    with sns.axes_style("whitegrid"):
        grid = sns.FacetGrid(frame, col="curve", col_wrap=min(col_wrap, shown), sharex=True,
                             sharey=True, height=height, aspect=1.2, col_order=names)
    banded = _banded(fits, band, highlight)
    t_all = first.curves.t
    t_shown = t_all if t_all.shape[0] == 1 else t_all[idx]
    scale = _x_scale(t_shown, loglog, logx)
    positive_only = loglog or scale == "log"
    needs_pos = any(f.spec.needs_positive_t for f in fits)
    grid_t = _grid(t_shown, "log" if positive_only or (scale == "linear" and needs_pos)
                   else scale if scale != "linear" else False)
    bands: dict = {}
    for b, name in zip(idx, names):
        ax = grid.axes_dict[name]
        tb = t_all[0] if t_all.shape[0] == 1 else t_all[b]
        keep = tb > 0 if positive_only else np.ones(tb.shape, bool)
        n = None if first.curves.n is None else first.curves.n[b][keep]
        _draw_data(ax, tb[keep], first.curves.y[b][keep], n, first.level)
        failed = []
        for f in _rank(fits):
            style = family_style(f.family)
            if not bool(f.converged_flags[b]):
                failed.append(f.family)
                continue
            g = grid_t[grid_t > 0] if f.spec.needs_positive_t else grid_t
            with np.errstate(all="ignore"):
                mu = _clip(f.spec.mean(g[None, :], f.estimates[b:b + 1])[0], proportion)
            bold = highlight is None or f.family == highlight
            ax.plot(g, mu, color=style["color"], ls=style["ls"], lw=2.0 if bold else 1.1,
                    label=f.family)
            if f.family in banded:
                if f.family not in bands:          # every curve's band at once, once
                    lo, hi = f.predict_band(g)
                    bands[f.family] = (np.asarray(lo).reshape(nb, -1),
                                       np.asarray(hi).reshape(nb, -1))
                lo, hi = bands[f.family]
                ax.fill_between(g, _clip(lo[b], proportion), _clip(hi[b], proportion),
                                color=style["color"], alpha=0.18, lw=0)
        if failed:
            _note(ax, "not converged: " + ", ".join(failed))
        ax.set_title(name)
        _finish(ax, "", "", loglog, legend=False, x_scale=scale, t=t_shown)
    if proportion:
        lo, hi = grid.axes.flat[0].get_ylim()
        grid.axes.flat[0].set_ylim(max(lo, -0.03), min(hi, 1.03))
    grid.set_axis_labels(xlabel, ylabel)
    _outside_legend(grid)
    if shown < nb:
        grid.figure.suptitle(_showing(idx, nb, max_panels, page, "curves"), y=1.02)
    declutter_ticks(grid.figure)
    return grid


def _page(n: int, max_panels: int | None, page: int) -> list:
    """Indices of the curves on page ``page`` (of ``max_panels`` each; None: all)."""
    if max_panels is None or max_panels >= n:
        if page not in (0, -1):
            raise ValueError(f"page={page}: all {n} panels fit on page 0")
        return list(range(n))
    if max_panels < 1:
        raise ValueError(f"max_panels must be at least 1 (or None for all), got {max_panels}")
    pages = -(-n // max_panels)
    if page < 0:
        page += pages
    if not 0 <= page < pages:
        raise ValueError(f"page={page}: there are {pages} pages of {max_panels} (0 to "
                         f"{pages - 1})")
    return list(range(page * max_panels, min(n, (page + 1) * max_panels)))


def n_pages(n: int, max_panels: int | None = 24) -> int:
    """How many pages of ``max_panels`` facets ``n`` curves or subjects take.

    Examples
    --------
    >>> n_pages(65), n_pages(65, None), n_pages(24)
    (3, 1, 1)
    """
    return 1 if max_panels is None or n <= max_panels else -(-n // max_panels)


def _showing(idx, n: int, max_panels, page: int, what: str) -> str:
    pages = n_pages(n, max_panels)
    page = page % pages
    more = f"; page={page + 1} for the next" if page + 1 < pages else ""
    return (f"showing {len(idx)} of {n} {what} ({idx[0] + 1}-{idx[-1] + 1}, page {page + 1} of "
            f"{pages}{more})")


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


def plot_group(group, loglog: bool = False, max_panels: int | None = 24, col_wrap: int = 4,
               height: float = 2.3, band: bool = False, shrunk: bool = False,
               logx: bool | None = None, page: int = 0):
    """One panel per subject (shared axes): the data, the subject's own fit, the group curve.

    Parameters
    ----------
    group : GroupFit
        From ``fit_consolidation_curve(..., by="subject")`` (one family).
    loglog : bool
        Log-log axes.
    max_panels : int or None
        Subjects per figure (None: all in one figure). With more subjects the title says
        ``showing k of n`` and ``page`` picks which: draw every page with
        ``[group.plot(page=p) for p in range(n_pages(n))]``.
    col_wrap, height
        Panels per row, panel height in inches.
    band : bool
        Also shade each subject's confidence band.
    shrunk : bool
        Also draw each subject's empirical-Bayes (shrunken) curve, dotted.
    logx : bool, optional
        Log time axis; None (default): log when the delays span more than a decade.
    page : int
        Which page of ``max_panels`` subjects to draw (0: the first; -1: the last).

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
    >>> grid = group.plot(max_panels=2, page=1)
    >>> [ax.get_title() for ax in grid.axes.flat], grid.figure._suptitle.get_text().split(chr(10))[1]
    (['id = 2'], 'showing 1 of 3 ids (3-3, page 2 of 2)')
    """
    import seaborn as sns

    curves, fits = group.curves, group._fits
    subjects = list(dict.fromkeys(curves[group.subject].tolist()))
    idx = _page(len(subjects), max_panels, page)
    shown = [subjects[i] for i in idx]
    conds = group.conditions
    levels = [tuple(r) for r in group.groups[conds].itertuples(index=False)] if conds else [()]
    palette = sns.color_palette("colorblind", max(len(levels), 3))
    proportion = _is_proportion_kind(group._curves.y_kind)
    with sns.axes_style("whitegrid"):
        grid = sns.FacetGrid(curves[curves[group.subject].isin(shown)], col=group.subject,
                             col_wrap=min(col_wrap, len(shown)), sharex=True, sharey=True,
                             height=height, aspect=1.2, col_order=shown)
    long = group._long
    all_t = np.concatenate(group._curves.t)
    scale = _x_scale(all_t, loglog, logx)
    positive_only = loglog or scale == "log"
    t_grid = _grid(all_t, "log" if positive_only or (scale == "linear"
                                                     and group.spec.needs_positive_t)
                   else scale if scale != "linear" else False)
    if group.spec.needs_positive_t:
        t_grid = t_grid[t_grid > 0]
    group_mu = _clip(np.atleast_2d(group.predict(t_grid)), proportion)
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
        keep = t > 0 if positive_only else np.ones(t.shape, bool)
        _draw_data(ax, t[keep], y[keep], None if n is None else n[keep], group.level,
                   color=color, label=f"data {tag}".strip())
        if not fits.conv[c]:
            what = "fit failed" if not curves["excluded"].iloc[c] else "not fitted"
            ax.text(0.97, 0.92 - 0.1 * gi, f"{what} {tag}".strip(), transform=ax.transAxes,
                    ha="right", fontsize="small", color=color if conds else "0.4")
        else:
            with np.errstate(all="ignore"):
                mu = _clip(group.spec.mean(t_grid[None, :], fits.est[c:c + 1])[0], proportion)
            ax.plot(t_grid, mu, color=style["color"] if not conds else color, lw=1.8,
                    ls=style["ls"], label=f"{group.family} fit {tag}".strip())
            if band:
                fit = group.subject_fit(subj, **dict(zip(conds, level)))
                lo, hi = fit.predict_band(t_grid)
                ax.fill_between(t_grid, _clip(lo, proportion), _clip(hi, proportion),
                                color=style["color"] if not conds else color, alpha=0.15, lw=0)
            if shrunk:
                p = np.array([group.shrunk[name][c] for name in group.spec.param_names])
                with np.errstate(all="ignore"):
                    mu_s = _clip(group.spec.mean(t_grid[None, :], p[None, :])[0], proportion)
                ax.plot(t_grid, mu_s, color=color, lw=1.0, ls=":",
                        label=f"shrunken {tag}".strip())
        ax.plot(t_grid, group_mu[gi], color="0.45" if not conds else color, lw=1.2, ls="--",
                label=f"group {tag}".strip(), zorder=1)
        _finish(ax, "", "", loglog, legend=False, x_scale=scale, t=all_t)
    if proportion:
        lo, hi = grid.axes.flat[0].get_ylim()
        grid.axes.flat[0].set_ylim(max(lo, -0.03), min(hi, 1.03))
    grid.set_titles("{col_var} = {col_name}")
    ylabel = y_label(long.y_name, group._curves.y_kind)
    grid.set_axis_labels(axis_label(long.time_name, long.time_attrs), ylabel)
    _outside_legend(grid)
    title = f"{group.family}: each {group.subject}'s fit and the group curve (dashed)"
    if len(shown) < len(subjects):
        title += "\n" + _showing(idx, len(subjects), max_panels, page, f"{group.subject}s")
    grid.figure.suptitle(title, y=1.03 if len(shown) == len(subjects) else 1.06)
    declutter_ticks(grid.figure)
    return grid
