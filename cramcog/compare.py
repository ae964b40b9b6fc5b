"""Kept for one release: the gamma comparison moved to :mod:`cramcog.comparison` (import from
there; ``compare_gamma`` lives in :mod:`cramcog.comparison.gamma`, the tables in
:mod:`cramcog.comparison.report`, the forest plots in :mod:`cramcog.figures.forest`). This
module only re-exports the names it had.

Examples
--------
>>> from cramcog import comparison
>>> compare_gamma is comparison.compare_gamma
True
"""
from cramcog.comparison import (COLUMNS, SHAPE_FAMILIES, VERDICTS, HumanComparison,
                                ModelCurves, ReportedGamma, compare_gamma, compare_items,
                                compare_shape, compare_with_humans, gamma_families, model_curves,
                                mover_interval, seed_pooled_gamma, shape_summary, summarize,
                                to_record, verdict)
from cramcog.figures.forest import VERDICT_COLORS, forest_plot
from cramcog.figures.forest import forest_grid as plot_gamma_comparison

__all__ = ["COLUMNS", "SHAPE_FAMILIES", "VERDICT_COLORS", "VERDICTS", "HumanComparison",
           "ModelCurves", "ReportedGamma", "compare_gamma", "compare_items", "compare_shape",
           "compare_with_humans", "forest_plot", "gamma_families", "model_curves",
           "mover_interval", "plot_gamma_comparison", "seed_pooled_gamma", "shape_summary",
           "summarize", "to_record", "verdict"]
