"""What a run MEANS: per-layer and per-pattern metrics, consolidation curves, phase detection and
the causal tests. Figures and experiments import this package, never the other way round; it
imports numpy, pandas and xarray (torch only inside the functions that run a model).

Modules: ``runs`` (records to runs), ``metrics`` (final metrics judged in the retrieving layer),
``phase`` (phase detection), ``curves`` (attention-use curves in a stated window and their
power-law gamma), ``probes`` (per-pattern probe set, exposures, the retrieving layer),
``causal`` (the causal test), ``consolidation`` (the per-pattern consolidation record, its curve
fits and the step-mixture check), ``items`` (does a pattern switch after its own exposures or
at a shared training step?).

Examples
--------
>>> from cramcog import analysis
>>> from cramcog.experiments.ablations import demo_run
>>> int(analysis.final_metrics(demo_run({"rate": 0.1, "steps": 20, "seed": 0})).shape[0])
1
"""
from cramcog.analysis.consolidation import (POWER_WIN_AIC, consolidation_record,
                                            consolidation_summary, curve_frame, curve_points,
                                            describe_fits, fit_consolidation, pattern_frame,
                                            plateau_step, step_mixture_check, switch_exposures,
                                            variant_label, with_fits)
from cramcog.analysis.curves import (ConsolidationCurve, ConsolidationWindow,
                                     consolidation_curve, cut_consolidation_curve, fit_power,
                                     gamma_frame)
from cramcog.analysis.items import (item_specificity, item_specificity_summary,
                                    pattern_switch_steps, unequal_rates)
from cramcog.analysis.metrics import (SUMMARY_METRICS, attention_fall_from_peak,
                                      fall_from_warmup_end, final_metrics, run_retrieving_layer,
                                      transition_step, variant_summary)
from cramcog.analysis.phase import PhaseTransition, detect_phase_transition
from cramcog.analysis.probes import retrieving_layer
from cramcog.analysis.runs import AnalysisError, FigureError, as_runs, attention_frame

__all__ = ["AnalysisError", "ConsolidationCurve", "ConsolidationWindow", "FigureError",
           "POWER_WIN_AIC", "PhaseTransition", "SUMMARY_METRICS", "as_runs",
           "attention_fall_from_peak", "attention_frame", "consolidation_curve",
           "consolidation_record", "consolidation_summary", "curve_frame", "curve_points",
           "cut_consolidation_curve", "describe_fits", "detect_phase_transition",
           "fall_from_warmup_end", "final_metrics", "fit_consolidation", "fit_power",
           "gamma_frame", "item_specificity", "item_specificity_summary", "pattern_frame",
           "pattern_switch_steps", "plateau_step", "retrieving_layer", "run_retrieving_layer",
           "step_mixture_check", "switch_exposures", "transition_step", "unequal_rates",
           "variant_label", "variant_summary", "with_fits"]
