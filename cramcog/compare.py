"""Kept for one release: the gamma comparison moved to :mod:`cramcog.comparison` (import from
there; ``compare_gamma`` lives in :mod:`cramcog.comparison.gamma`, the tables and figures in
:mod:`cramcog.comparison.report`). This module only re-exports the names it had.

Examples
--------
>>> from cramcog import comparison
>>> compare_gamma is comparison.compare_gamma
True
"""
from cramcog.comparison import (COLUMNS, SHAPE_FAMILIES, VERDICT_COLORS, VERDICTS,
                                HumanComparison, ModelCurves, ReportedGamma, compare_gamma,
                                compare_items, compare_shape, compare_with_humans, forest_plot,
                                gamma_families, model_curves, mover_interval,
                                plot_gamma_comparison, seed_pooled_gamma, shape_summary,
                                summarize, to_record, verdict)

__all__ = ["COLUMNS", "SHAPE_FAMILIES", "VERDICT_COLORS", "VERDICTS", "HumanComparison",
           "ModelCurves", "ReportedGamma", "compare_gamma", "compare_items", "compare_shape",
           "compare_with_humans", "forest_plot", "gamma_families", "model_curves",
           "mover_interval", "plot_gamma_comparison", "seed_pooled_gamma", "shape_summary",
           "summarize", "to_record", "verdict"]
