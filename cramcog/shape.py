"""Kept for one release: the shape-first comparison moved to :mod:`cramcog.comparison` (import
from there; ``compare_shape`` and ``compare_items`` live in :mod:`cramcog.comparison.shape`, the
model and human curves in :mod:`cramcog.comparison.curves`, ``compare_with_humans`` in
:mod:`cramcog.comparison.report`). This module only re-exports the names it had.

Examples
--------
>>> from cramcog import comparison
>>> compare_shape is comparison.compare_shape
True
"""
from cramcog.comparison import (AVERAGINGS, MODEL_INTERVAL, SHAPE_FAMILIES, WINDOWS,
                                HumanComparison, ModelCurves, compare_items, compare_shape,
                                compare_with_humans, crossing, human_shapes, is_model_side,
                                model_curves, seed_pooled_gamma, shape_summary, shapes_markdown,
                                transition_ratio)

__all__ = ["AVERAGINGS", "MODEL_INTERVAL", "SHAPE_FAMILIES", "WINDOWS", "HumanComparison",
           "ModelCurves", "compare_items", "compare_shape", "compare_with_humans", "crossing",
           "human_shapes", "is_model_side", "model_curves", "seed_pooled_gamma", "shape_summary",
           "shapes_markdown", "transition_ratio"]
