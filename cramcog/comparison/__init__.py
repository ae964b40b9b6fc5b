"""The model-human comparison in one place: shape first, per item, then gamma.

A consolidation curve is compared with human curves in this order: first its SHAPE (the same
families fitted to both sides, ranked by AICc: does the same family win on both?), then per-item
evidence (switch points), and only then a power-law exponent gamma, where a power law describes
the curve. Every model number is pooled over seeds (independent runs), never taken from one run's
autocorrelated steps.

Modules, each importing only those listed before it:

- ``curves``: both sides as curves (:func:`model_curves`, :class:`ModelCurves`, the model's x
  counted from its first exposure or, ``origin="warmup_end"``, from the warm-up end;
  :func:`human_curves`), their orientation (:func:`orient`: every curve fitted falling) and
  which human curves a shape verdict may be given for (:func:`comparability`: practice on x,
  the model's direction);
- ``fitting``: the same families fitted and ranked on either side; each human curve fitted once
  per setting and kept (:func:`fit_one`); the model's families ranked within each seed, the
  verdict the family best in the most seeds (:func:`seed_verdict`);
- ``shape``: :func:`compare_shape`, :func:`shape_summary`, the time-origin sensitivity
  (:func:`origin_sensitivity`), per item :func:`compare_items`;
- ``gamma``: :class:`ReportedGamma`, :func:`compare_gamma` (MOVER interval of the difference,
  equivalence verdicts), :func:`seed_pooled_gamma`;
- ``report``: :func:`compare_with_humans` (all of it, as ``make reproduce`` runs it), the human
  table (:func:`human_shapes`), the gamma tables (drawn by :mod:`cramcog.figures.forest`);
- ``frames``: :func:`human_comparison_frame`, both sides on shared axes (x / x50, proportion)
  with their bands, the frame :func:`cramcog.figures.human.plot_human_comparison` draws.

``cramcog.compare`` and ``cramcog.shape`` re-export these names for one release.

Examples
--------
>>> from cramcog.comparison import ReportedGamma, compare_gamma
>>> row = compare_gamma(ReportedGamma(0.43, (0.39, 0.47), family="power"),
...                     human="ebbinghaus_1885").iloc[0]
>>> row["paradigm"], row["verdict"]
('forgetting', 'different')
"""
from cramcog.comparison.curves import (AVERAGINGS, MODEL_INTERVAL, ORIGINS, WINDOWS, ModelCurves,
                                       comparability, human_axis, human_curves, human_direction,
                                       is_model_side, model_curves, orient)
from cramcog.comparison.fitting import (SHAPE_FAMILIES, fit_and_rank, fit_families, fit_one,
                                        seed_verdict, summed_ranking)
from cramcog.comparison.gamma import (COLUMNS, VERDICTS, ReportedGamma, compare_gamma,
                                      gamma_families, mover_interval, seed_pooled_gamma, verdict)
from cramcog.comparison.report import (HumanComparison, compare_with_humans, human_shapes,
                                       origins_markdown, shapes_markdown, summarize, to_record)
from cramcog.comparison.frames import human_comparison_frame, midpoint
from cramcog.comparison.shape import (compare_items, compare_shape, crossing, origin_sensitivity,
                                      shape_summary, transition_ratio)

__all__ = ["AVERAGINGS", "COLUMNS", "MODEL_INTERVAL", "ORIGINS", "SHAPE_FAMILIES", "VERDICTS",
           "WINDOWS", "HumanComparison", "ModelCurves", "ReportedGamma",
           "comparability", "compare_gamma", "compare_items", "compare_shape",
           "compare_with_humans", "crossing", "fit_and_rank", "fit_families", "fit_one",
           "gamma_families", "human_axis", "human_curves", "human_direction",
           "human_comparison_frame", "human_shapes", "is_model_side", "midpoint",
           "model_curves", "mover_interval", "orient", "origin_sensitivity", "origins_markdown",
           "seed_pooled_gamma", "seed_verdict", "shape_summary", "shapes_markdown",
           "summarize", "summed_ranking", "to_record", "transition_ratio", "verdict"]
