"""``cramcog consolidation RUNS... --out FILE.nc``: consolidation per pattern, fitted and tested.

Reads training runs trained with per-pattern probes (``probe_per_pattern`` > 0, the default) and
writes one record (:func:`cramcog.analysis.consolidation_record`) with dims (variant, seed,
eval_step, pattern), the curve fits of every family (:func:`cramcog.analysis.fit_consolidation`)
and the causal test, then prints the per-run table and the family verdicts (and, for runs trained
with unequal pattern frequencies, whether patterns switch after their own exposures:
:mod:`cramcog.analysis.items`; ``--csv`` then also writes ``<prefix>_items.csv``). RUNS are record
files, run folders, or ``NAME=PATH[,PATH...]`` to name a variant (default: ``cram``,
``cram_no_consolidation`` or the model kind, from each run's config).

``--binding`` also runs the binding test (:func:`cramcog.experiments.binding.binding_test_run`:
where the recurring bindings live) on every run whose ``record.nc`` has a ``model.pt`` beside it,
and adds its results as per-run variables (NaN for record files without a model; a run FOLDER
without ``model.pt`` is an error).

Examples
--------
    cramcog consolidation runs/cram_s* runs/nocons_s* --out consolidation.nc
    cramcog consolidation cram=runs/c1,runs/c2 no_consolidation=runs/n1 --out c.nc --no-fit
    cramcog consolidation runs/final20/cram_s1 --out binding.nc --no-fit --binding

>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> register(sub)
"""
from __future__ import annotations

import argparse
import shlex


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "consolidation", help="consolidation per pattern from runs with probes: record, "
                              "curve fits, causal test",
        description="Read training runs that carry per-pattern probes and write the "
                    "consolidation record: recurring_attended / novel_attended (share of "
                    "probe queries executing attention in the retrieving layer) over "
                    "evaluation steps, with counts, exposures and per-pattern curves; final "
                    "test numbers; the causal test; and every curve family fitted to "
                    "recurring_attended against exposures after the warm-up (binomial "
                    "likelihood), gamma reported only where a power law wins by >= 10 AIC.")
    p.add_argument("runs", nargs="+", metavar="RUN",
                   help="record file, run folder, or NAME=PATH[,PATH...]")
    p.add_argument("--out", required=True, metavar="FILE.nc", help="record to write")
    p.add_argument("--switch-threshold", type=float, default=0.5,
                   help="a pattern has stopped attending once at most this share of its "
                        "probes attend, from then on (default 0.5)")
    p.add_argument("--no-fit", action="store_true", help="skip the curve-family fits")
    p.add_argument("--ci", default="profile", choices=("profile", "wald", "bootstrap", "none"),
                   help="interval method of the fits (default profile)")
    p.add_argument("--csv", default=None, metavar="PREFIX",
                   help="also write PREFIX_runs.csv and PREFIX_fits.csv")
    p.add_argument("--refit", action="store_true",
                   help="RUN is one consolidation record: fit the curve families again with "
                        "this version's fitter and write it to --out (runs, probes and the "
                        "binding test kept as recorded)")
    p.add_argument("--binding", action="store_true",
                   help="also run the binding test (interchange, mean ablation, no context: "
                        "where the recurring bindings live) on runs given as folders with "
                        "model.pt, on their test batches; NaN for record files without a model")
    p.add_argument("--binding-device", default="cpu", metavar="DEVICE",
                   help="where the binding test runs the models: cpu (default), auto, cuda")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    command = shlex.join(["cramcog", "consolidation", *args.runs, "--out", args.out,
                          "--switch-threshold", f"{args.switch_threshold:g}", "--ci", args.ci]
                         + (["--no-fit"] if args.no_fit else [])
                         + (["--binding", "--binding-device", args.binding_device]
                            if args.binding else []))
    from cramcog.experiments.consolidation import (consolidation_study,
                                                   item_specificity_report,
                                                   refit_consolidation_record)

    if args.refit:
        if len(args.runs) != 1 or args.binding or args.no_fit:
            raise ValueError("--refit takes one consolidation record (and no --binding or "
                             "--no-fit): cramcog consolidation RECORD.nc --refit --out FILE.nc")
        command = shlex.join(["cramcog", "consolidation", args.runs[0], "--refit",
                              "--out", args.out, "--ci", args.ci])
        ds, table, fits = refit_consolidation_record(args.runs[0], args.out, ci=args.ci,
                                                     command=command)
    else:
        ds, table, fits = consolidation_study(args.runs, args.out, args.switch_threshold,
                                              fit=not args.no_fit, command=command, ci=args.ci,
                                              binding=args.binding,
                                              binding_device=args.binding_device)
    cols = ["variant", "seed", "retrieving_layer", "warmup_end_step", "final_step",
            "val_recurring_attended", "val_novel_attended", "test_recurring_attended",
            "test_novel_attended", "test_accuracy_recurring", "test_accuracy_novel",
            "retrieving_layer_attention_over_floor", "fall_from_warmup_end",
            "switch_exposures", "swap_accuracy_recurring", "zero_accuracy_recurring",
            "skip_accuracy_novel"]
    with pd.option_context("display.width", 250, "display.max_columns", 30,
                           "display.float_format", "{:.4g}".format):
        print(table[[c for c in cols if c in table]].to_string(index=False))
        if args.binding:
            from cramcog.analysis.causal import BINDING_SITES, EVERY_LAYER
            bcols = ["variant", "seed", "binding_clean_accuracy_recurring",
                     *[f"interchange_{s}_partner_share" for s in BINDING_SITES],
                     *[f"mean_ablation_{s}_accuracy_recurring" for s in BINDING_SITES],
                     "no_context_accuracy_recurring", "no_context_ablated_accuracy_recurring",
                     "no_context_accuracy_novel",
                     *[f"every_layer_{k}" for k in EVERY_LAYER]]
            print("\nbinding test (retrieving layer; interchange: share answering the partner "
                  "pattern's value; NaN: no model or no query covered)")
            print(table[[c for c in bcols if c in table]].to_string(index=False))
        if not fits.empty:
            print()
            for row in fits.itertuples():
                who = "pooled" if row.seed < 0 else f"seed {row.seed}"
                print(f"{row.variant} ({who}, {row.n_points} points): {row.verdict}")
    items = item_specificity_report(ds)
    if args.csv:
        table.to_csv(f"{args.csv}_runs.csv", index=False, float_format="%.6g")
        if not fits.empty:
            fits.to_csv(f"{args.csv}_fits.csv", index=False, float_format="%.6g")
        if items is not None:
            items.to_csv(f"{args.csv}_items.csv", index=False, float_format="%.6g")
    print(f"wrote {args.out}")
    return 0
