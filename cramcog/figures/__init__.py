"""Every paper figure, regenerated from records alone.

Each figure function takes records (xarray Datasets from :mod:`cramcog.records`) and returns the
figure (a seaborn ``FacetGrid`` or a matplotlib ``Figure``); nothing reads a model or a log. The
records are first turned into tidy pandas DataFrames (``*_frame`` functions, useful on their own),
then drawn with seaborn. :func:`figures_for` dispatches on the record kind (``ds.cram.kind``) and is
what ``cramcog figures RECORDS... --out DIR`` runs.

Record kinds and their figures
------------------------------
- ``training`` (dims ``step, layer``; ``attention_fraction``, ``retrieval_accuracy`` at
  ``eval_step``...): attention use over training (:func:`plot_attention_over_training`), the
  consolidation curve with its fitted power law over human curves (:func:`plot_consolidation`);
  several training records together also give accuracy vs attention.
- ``ablation`` (the same with leading ``variant, seed`` dims, from :mod:`cramcog.experiments.ablations`):
  attention over training per variant, accuracy vs attention (:func:`plot_accuracy_vs_attention`),
  ablation panels (:func:`plot_ablation_panels`), gamma per variant and seed (:func:`plot_gammas`;
  its sensitivity to the fit window: :func:`plot_gamma_windows`).
- ``comparison`` (a :func:`cramcog.compare_gamma` table as a record, or the DataFrame itself):
  the gamma forest plot (:func:`plot_gamma_comparison`).
- ``transfer``: attention reduction bars (:func:`plot_transfer`); schema in its docstring.
- ``scaling``: Theorem 1, attention vs pattern frequency x length (:func:`plot_scaling`).
- ``evaluation`` records of the consolidation study (``cramcog consolidation``): consolidation
  curves with the family verdict (:func:`plot_consolidation_curves`), per-pattern curves beside
  their average (:func:`plot_pattern_curves`), the causal test (:func:`plot_causal_test`); of
  the operating-point study (``cramcog operating-point``): results over each knob's values
  (:func:`cramcog.figures.operating.plot_operating_point`).

Phase transition (documented choice): the step where a smoothed log curve falls fastest per
optimizer step (:func:`detect_phase_transition`). The analysis behind every figure lives in
:mod:`cramcog.analysis`.

Examples
--------
>>> import matplotlib; matplotlib.use("Agg")
>>> from cramcog.experiments.ablations import demo_run
>>> from cramcog import figures
>>> ds = demo_run({"rate": 0.05, "steps": 40, "seed": 0})
>>> grid = figures.plot_attention_over_training(ds)
>>> figures.final_metrics(ds)[["final_attention", "accuracy_overall"]].shape
(1, 2)"""
from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
import xarray as xr

from cramcog.analysis.items import unequal_rates
from cramcog.figures.consolidation import (plot_causal_test, plot_consolidation_curves,
                                           plot_executed_flops, plot_item_specificity,
                                           plot_pattern_curves)
from cramcog.figures.experiments import (PAPER_TRANSFER_REDUCTION, plot_scaling, plot_transfer,
                                         scaling_frame, transfer_frame)
from cramcog.analysis.metrics import SUMMARY_METRICS, final_metrics, variant_summary
from cramcog.analysis.phase import PhaseTransition, detect_phase_transition
from cramcog.analysis.runs import (QUERY_KINDS, FigureError, accuracy_of, as_runs,
                                   attention_frame)
from cramcog.figures.gamma import (PAPER_GAMMA, ConsolidationWindow, comparison_frame,
                                   consolidation_curve, consolidation_frame, fit_power,
                                   gamma_frame, plot_consolidation, plot_gamma_comparison,
                                   plot_gamma_windows, plot_gammas)
from cramcog.figures.style import save_figure
from cramcog.figures.training import (plot_ablation_panels, plot_accuracy_vs_attention,
                                      plot_attention_over_training)

FIGURE_KINDS = ("training", "ablation", "comparison", "transfer", "scaling", "evaluation")



def figures_for(records_: Sequence[xr.Dataset], names: Sequence[str] | None = None,
                human: str | Sequence[str] | None = "all") -> dict[str, Any]:
    """Every figure the records support: ``{file stem: figure}`` (dispatch on ``ds.cram.kind``).

    Raises FigureError for a record kind that has no figure (listing the kinds that do).
    """
    names = list(names) if names is not None else [f"record{i}" for i in range(len(records_))]
    if len(names) != len(records_):
        raise ValueError("names and records differ in length")
    out: dict[str, Any] = {}
    training = {}
    for name, ds in zip(names, records_):
        if not isinstance(ds, xr.Dataset):
            raise TypeError(f"{name}: a record is an xarray.Dataset, got {type(ds).__name__}")
        kind = ds.attrs.get("record_kind", "")
        if kind not in FIGURE_KINDS:
            raise FigureError(f"{name}: no figure draws {kind or 'non-cramcog'!r} records; "
                              f"figures exist for kinds {FIGURE_KINDS}")
        if kind == "training":
            training[name] = ds
            out[f"{name}_attention"] = plot_attention_over_training(ds)
            out[f"{name}_consolidation"] = plot_consolidation(ds, human=human)
        elif kind == "ablation":
            out[f"{name}_attention"] = plot_attention_over_training(ds)
            out[f"{name}_accuracy_vs_attention"] = plot_accuracy_vs_attention(ds)
            out[f"{name}_panels"] = plot_ablation_panels(ds)
            try:
                out[f"{name}_gamma"] = plot_gammas(ds)
            except FigureError as err:  # e.g. only dense variants: no curve to fit, say so
                warnings.warn(f"{name}: no gamma figure ({err})", stacklevel=2)
        elif kind == "comparison":
            out[f"{name}_gamma_comparison"] = plot_gamma_comparison(ds)
        elif kind == "transfer":
            out[f"{name}_transfer"] = plot_transfer(ds)
        elif kind == "scaling":
            out[f"{name}_scaling"] = plot_scaling(ds)
        elif kind == "evaluation" and ds.attrs.get("study") == "operating_point":
            from cramcog.figures.operating import plot_operating_point
            out[name] = plot_operating_point(ds)
        elif kind == "evaluation":
            if ds.attrs.get("study") != "consolidation":
                raise FigureError(f"{name}: no figure draws this evaluation record (only the "
                                  "consolidation and operating-point studies'; the switch "
                                  "raster of a synchrony study is drawn from its consolidation "
                                  "record)")
            out[f"{name}_curves"] = plot_consolidation_curves(ds)
            out[f"{name}_causal"] = plot_causal_test(ds)
            if "training_flops_per_token" in ds and \
                    bool(np.isfinite(ds["training_flops_per_token"].values).any()):
                out[f"{name}_flops"] = plot_executed_flops(ds)
            if unequal_rates(ds):   # only runs trained with unequal pattern frequencies
                try:
                    out[f"{name}_items"] = plot_item_specificity(ds)
                except FigureError as err:   # e.g. no pattern has switched yet
                    warnings.warn(f"{name}: no item-specificity figure ({err})", stacklevel=2)
            if human is not None:   # the CRAM variant beside the episodic-to-semantic data
                from cramcog.figures.human import plot_human_comparison
                try:
                    out[f"{name}_human"] = plot_human_comparison(
                        ds.sel(variant=["cram"]) if "cram" in ds.variant.values else ds)
                except (ValueError, KeyError) as err:
                    warnings.warn(f"{name}: no human comparison figure ({err})", stacklevel=2)
            for variant in ds.variant.values:
                # per-pattern lines against OWN exposures say something only when patterns
                # recur at different rates; otherwise the raster below shows the same, readably
                if unequal_rates(ds, str(variant)):
                    try:
                        out[f"{name}_patterns_{variant}"] = plot_pattern_curves(ds, str(variant))
                    except FigureError as err:
                        warnings.warn(f"{name}: no per-pattern figure for {variant} ({err})",
                                      stacklevel=2)
                ok = ds["warmup_end_step"].sel(variant=variant).values >= 0   # NaN: no run
                if "pattern_attended" in ds and ok.any():   # first seed with a run
                    from cramcog.figures.synchrony import plot_switch_raster
                    seed = int(ds.seed.values[np.flatnonzero(ok)[0]])
                    try:
                        out[f"{name}_raster_{variant}"] = plot_switch_raster(ds, str(variant),
                                                                             seed)
                    except FigureError as err:
                        warnings.warn(f"{name}: no switch raster for {variant} ({err})",
                                      stacklevel=2)
    if len(training) > 1:
        out["training_accuracy_vs_attention"] = plot_accuracy_vs_attention(training)
    return out



__all__ = [
    "FIGURE_KINDS", "PAPER_GAMMA", "PAPER_TRANSFER_REDUCTION", "QUERY_KINDS", "SUMMARY_METRICS",
    "ConsolidationWindow", "FigureError", "PhaseTransition", "accuracy_of", "as_runs",
    "attention_frame", "comparison_frame", "consolidation_curve", "consolidation_frame",
    "detect_phase_transition", "figures_for", "final_metrics", "fit_power", "gamma_frame",
    "plot_ablation_panels", "plot_accuracy_vs_attention", "plot_attention_over_training",
    "plot_causal_test", "plot_consolidation_curves", "plot_executed_flops",
    "plot_item_specificity",
    "plot_pattern_curves",
    "plot_consolidation", "plot_gamma_comparison", "plot_gamma_windows", "plot_gammas",
    "plot_scaling", "plot_transfer", "save_figure", "scaling_frame", "transfer_frame",
    "variant_summary",
]
