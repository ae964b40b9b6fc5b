"""Model and human consolidation curves as one tidy frame, on shared axes (the figure draws it).


Each side keeps its own x (exposures, presentations, items of lag) until the figure: there every
curve's x is divided by its own midpoint ``x50`` (where the curve has made half of its change,
:func:`midpoint`), so curves of different units meet at 1 and differ only in SHAPE; log x. y is
the proportion as measured: the model's share of recurring probes still attending (episodic) and
the human curve's episodic analog (Zbrodoff's counting share, Reder's Remember share), so a
direction that disagrees shows as a curve going the other way.

- Model: one line per model (CRAM, the toy model, ...), averaged the way each panel's human
  curves were (block means for strategy shift, pooled at exact exposures for remember/know; see
  :meth:`cramcog.comparison.ModelCurves.curves`): every seed normalised by its own ``x50``, then
  the mean over seeds with a Student-t band over seeds (never a band from one run's steps), drawn
  where at least two seeds reach that x / x50 and clipped to [0, 1].
- Human: points with Wilson 95% intervals where trial counts exist, and the best family by AICc
  (QAICc for counts: fitted in the falling orientation with quasi-binomial intervals, as
  :func:`cramcog.comparison.compare_shape` does) with its delta-method band.

:func:`human_comparison_frame` computes it; :func:`cramcog.figures.human.plot_human_comparison`
only draws it.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from cramcog.dynamics.plotting import wilson_interval

GRID = np.geomspace(0.1, 10.0, 41)   # normalised x where the model's seeds are averaged


def midpoint(t: np.ndarray, y: np.ndarray) -> float:
    """x50: where the curve first gets halfway from its first to its last value (log x).

    First and last values are the means of the first and last two points (less noise), see
    :func:`cramcog.comparison.crossing`.

    Examples
    --------
    >>> import numpy as np
    >>> round(midpoint(np.array([1, 2, 4, 8.0]), np.array([1, 1, 0, 0.0])), 3)
    2.828
    """
    from cramcog.comparison import crossing

    return crossing(t, y, 0.5, ends=2 if len(t) >= 4 else 1)


def _as_models(model) -> dict[str, Any]:
    from cramcog.comparison import is_model_side, model_curves

    if model is None:
        return {}
    if isinstance(model, dict):
        return {label: model_curves(m, label=label) for label, m in model.items()}
    if is_model_side(model):
        m = model_curves(model)
        return {m.label: m}
    return {model_curves(m).label: model_curves(m) for m in model}


def human_comparison_frame(model=None, human: Any = "episodic_semantic",
                           families: Sequence[str] | None = None, level: float = 0.95
                           ) -> pd.DataFrame:
    """Tidy rows for :func:`plot_human_comparison`.

    Parameters
    ----------
    model
        None, a model side (see :func:`cramcog.comparison.model_curves`), a list of them, or a
        dict ``{label: model side}``.
    human
        Human curves, as for :func:`cramcog.comparison.compare_shape`.
    families
        Families tried for each human curve's fitted line (default
        :data:`cramcog.comparison.SHAPE_FAMILIES`).
    level
        Level of every band.

    Returns
    -------
    pandas.DataFrame
        Columns: source, side ("model" | "human"), element ("data" | "fit"), paradigm,
        averaging, x (own units), x_norm (x / x50), y, y_low, y_high, family.

    Examples
    --------
    >>> df = human_comparison_frame(human="zbrodoff_1995_alpha_arithmetic",
    ...                             families=["exponential"])
    >>> sorted(set(df.element)), bool(df.x_norm.gt(0).all())
    (['data', 'fit'], True)
    """
    from cramcog.dynamics.intervals import seed_interval
    from cramcog.comparison import AVERAGINGS, SHAPE_FAMILIES, fit_and_rank, human_curves, orient

    families = list(families or SHAPE_FAMILIES)
    curves = human_curves(human)
    if not curves:
        raise ValueError(f"no human curve in {human!r}")
    rows = []
    for c in (c.positive() for c in curves):
        x50 = midpoint(c.t, c.y)
        if not math.isfinite(x50):
            continue
        low = high = np.full(c.t.shape, np.nan)
        if c.n is not None:
            low, high = wilson_interval(c.y * c.n, c.n, level)
        base = {"source": c.label, "side": "human", "paradigm": c.paradigm,
                "averaging": c.averaging}
        rows.append(pd.DataFrame({**base, "element": "data", "x": c.t, "x_norm": c.t / x50,
                                  "y": c.y, "y_low": low, "y_high": high, "family": ""}))
        yo, orientation = orient(c.t, c.y, c.n)
        fits, _, _, best, _ = fit_and_rank(c.t, yo, c.n, families, "wald", level, 0, "quasi",
                                           keep=True)
        if best:
            grid = np.geomspace(c.t.min(), c.t.max(), 60)
            mu = fits[best].predict(grid)
            lo, hi = fits[best].predict_band(grid, level)
            if orientation.startswith("complement"):
                mu, lo, hi = 1 - mu, 1 - hi, 1 - lo
            rows.append(pd.DataFrame({**base, "element": "fit", "x": grid, "x_norm": grid / x50,
                                      "y": mu, "y_low": lo, "y_high": hi, "family": best}))
    averagings = {c.averaging if c.averaging in AVERAGINGS else "by_time" for c in curves}
    paradigms = {c.paradigm for c in curves}
    for label, m in _as_models(model).items():
        for averaging in sorted(averagings):
            if averaging == "by_exposure" and not m.has_items:
                continue
            on_grid = []
            for t, y, _ in m.curves(averaging):
                x50 = midpoint(t, y) if len(t) >= 2 else math.nan
                if math.isfinite(x50):
                    on_grid.append(np.interp(np.log(GRID), np.log(t / x50), y,
                                             left=np.nan, right=np.nan))
            if not on_grid:
                continue
            stack = np.array(on_grid)                                      # (seed, grid)
            stats = [seed_interval(col, level) for col in stack.T]
            enough = np.array([s[4] >= min(2, len(on_grid)) for s in stats])  # >= 2 seeds
            mean = np.where(enough, [s[0] for s in stats], np.nan)
            # a share's band stays in [0, 1]; with one seed there is no band (NaN)
            lo = np.clip([s[1] for s in stats], 0, 1)
            hi = np.clip([s[2] for s in stats], 0, 1)
            for paradigm in paradigms:
                panel_avg = {c.averaging for c in curves if c.paradigm == paradigm}
                if averaging not in panel_avg and not (averaging == "by_time" and
                                                       not panel_avg & set(AVERAGINGS)):
                    continue
                keep = np.isfinite(mean)
                rows.append(pd.DataFrame({
                    "source": f"{label} ({averaging.replace('_', ' ')})", "side": "model",
                    "paradigm": paradigm, "averaging": averaging, "element": "fit",
                    "x": np.nan, "x_norm": GRID[keep], "y": mean[keep], "y_low": lo[keep],
                    "y_high": hi[keep], "family": ""}))
    return pd.concat(rows, ignore_index=True)


__all__ = ["GRID", "human_comparison_frame", "midpoint"]
