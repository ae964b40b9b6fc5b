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

import numpy as np


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


def consolidation(runs, out, switch_threshold: float = 0.5, fit: bool = True,
                  command: str = "", ci: str = "profile", binding: bool = False,
                  binding_device: str = "cpu"):
    """The API of the command: load ``runs`` (paths, as on the command line), build the record,
    fit, save to ``out`` (atomically) and return ``(record, per-run table, fits table)``.
    ``binding``: add the binding test of every run with a model (:func:`binding_folders`).

    Examples
    --------
    >>> ds, table, fits = consolidation(["runs/a"], "c.nc")       # doctest: +SKIP
    """
    import pandas as pd

    from cramcog import records
    from cramcog.analysis import (consolidation_record, consolidation_summary,
                                  fit_consolidation, variant_label, with_fits)
    from cramcog.analysis.runs import load_runs

    if not 0 <= switch_threshold < 1:
        raise ValueError(f"--switch-threshold must be in [0, 1), got {switch_threshold}")
    loaded = load_runs(runs, name_of=variant_label, what="cramcog consolidation")
    models = binding_folders(runs, loaded) if binding else {}   # a missing model fails here
    ds = consolidation_record(loaded, switch_threshold=switch_threshold)
    fits = fit_consolidation(ds, ci=ci) if fit else pd.DataFrame()
    ds = with_fits(ds, fits)
    if binding:
        from cramcog.experiments.binding import binding_test_run
        from cramcog.analysis.consolidation import with_binding
        results = {}
        for key, folder in models.items():
            print(f"binding test: {folder} ...", flush=True)
            results[key] = binding_test_run(folder, binding_device)
        ds = with_binding(ds, results)
    if command:
        ds.attrs["command"] = command
    ds.attrs["sources"] = [str(r) for r in runs]
    records.save(ds, out)
    return ds, consolidation_summary(ds), fits


def refit(record, out, ci: str = "profile", command: str = ""):
    """Fit the curve families of an existing consolidation record again (after a change of the
    fitter) and save it to ``out``; everything else in the record is kept as it was. Returns
    ``(record, per-run table, fits table)`` like :func:`consolidation`.

    Examples
    --------
    >>> ds, table, fits = refit("paper/records/consolidation.nc", "c.nc")   # doctest: +SKIP
    """
    from cramcog import records
    from cramcog.analysis import consolidation_summary, fit_consolidation, with_fits
    from cramcog.records import provenance

    ds = records.open(record)
    if ds.attrs.get("study") != "consolidation":
        raise ValueError(f"--refit: {record} is not a consolidation record (make one with "
                         "`cramcog consolidation RUNS --out FILE.nc`)")
    old = [v for v in ds.variables if str(v).startswith("curve_fit_")]
    ds = ds.drop_vars(old + (["fit_seed"] if "fit_seed" in ds.dims else []), errors="ignore")
    fits = fit_consolidation(ds, ci=ci)
    ds = with_fits(ds, fits)
    now = provenance(-1)
    ds.attrs["curve_fit_refit"] = (f"{command or 'refit'} at git revision "
                                   f"{now.get('git_revision', '')} on {now.get('created', '')}")
    records.save(ds, out)
    return ds, consolidation_summary(ds), fits


def binding_folders(runs, loaded) -> dict:
    """The run folder of each loaded run that has a model: ``{(variant, seed): folder}``.

    A run's model is ``model.pt`` beside its ``record.nc``. Runs found in a folder given in
    ``runs`` must have one (FileNotFoundError: a clear message beats a silent NaN); runs given as
    record files without one, cells of ablation records and dense Transformers (no routed layers
    to edit) are left out (NaN in the record).
    Keys are those :func:`cramcog.analysis.consolidation_record` gives unnamed training runs.
    """
    from pathlib import Path

    from cramcog.analysis import variant_label
    from cramcog.analysis.runs import _record_paths, parse_runs
    from cramcog.train import RECORD_FILE

    from_folder = set()            # record files found in folders given on the command line
    for given in runs:
        if "=" in str(given) and not Path(given).exists():
            paths = [p for folders in parse_runs([str(given)]).values() for p in folders]
        else:
            paths = [given]
        for path in map(Path, paths):
            if path.is_dir():
                from_folder.update(f.resolve() for f in _record_paths(path))
    folders = {}
    for run in loaded:
        source = run.encoding.get("source")     # the file load_runs opened
        if not source or run.attrs.get("ablation_variant"):
            continue
        if run.cram.config.get("model_kind") == "transformer":
            continue   # no routed layers to edit: NaN in the record
        file = Path(source).resolve()
        if file.name == RECORD_FILE and (file.parent / "model.pt").is_file():
            folders[(variant_label(run), int(run.attrs.get("seed", -1)))] = file.parent
        elif file in from_folder:
            raise FileNotFoundError(
                f"--binding: {file.parent} has no model.pt (an unfinished run?); the binding "
                f"test needs the trained model. Give {file} itself to leave this run NaN")
    return folders


def _item_specificity(ds):
    """With unequal pattern frequencies: print and return the per-run item-specificity slopes
    (log switch step on log exposure rate: -1 own exposures, 0 a shared step); else None."""
    from cramcog.analysis.items import (equivalence_text, item_practice_equivalence,
                                        item_practice_index, item_specificity,
                                        item_specificity_summary, unequal_rates,
                                        zbrodoff_index_derivations)
    from cramcog.analysis.runs import AnalysisError

    # variants whose patterns recur at unequal rates and of which some pattern switched
    variants = [str(v) for v in ds.variant.values if unequal_rates(ds, str(v))
                and np.isfinite(ds["pattern_switch_exposures"].sel(variant=v)).any()]
    if not variants:
        return None
    import pandas as pd

    items = pd.concat([item_specificity(ds, v) for v in variants], ignore_index=True)
    try:
        index = item_practice_index(ds.sel(variant=variants))
        items = items.merge(index[["variant", "seed", "b_item", "b_total", "index"]],
                            on=["variant", "seed"], how="left")
    except AnalysisError:   # no evaluation after a warm-up: the slopes still stand
        items = items.assign(b_item=np.nan, b_total=np.nan, index=np.nan)
    print("\nitem specificity: slope of log(switch step) on log(the pattern's exposure rate) "
          "(-1 = after its own exposures, 0 = at a shared training step); item-practice index "
          "b_item / (b_item + b_total) of logit(share attending) on log(own exposures) and "
          "log(step) (1 = own exposures, 0 = total practice)")
    print(items.to_string(index=False, float_format="{:.3g}".format))
    for row in item_specificity_summary(items).itertuples():
        print(f"{row.variant}: slope {row.slope:.2f} [{row.slope_low:.2f}, {row.slope_high:.2f}] "
              f"over {row.n_seeds} seeds (rarer half: {row.slope_rare:.2f} "
              f"[{row.slope_rare_low:.2f}, {row.slope_rare_high:.2f}]); item-practice index "
              f"{row.index:.2f} [{row.index_low:.2f}, {row.index_high:.2f}]")
    people = zbrodoff_index_derivations()
    default = people[people["default"]].iloc[0]
    print(f"people (Zbrodoff 1995, counting share of cell mean RTs): item-practice index "
          f"{default['index']:.2f} ({people['index'].min():.2f} to {people['index'].max():.2f} "
          f"over {len(people)} choices of the reference cells), standard error "
          f"{default['se']:.2f} clustered by participant group ({int(default['df'])} df: "
          "3 groups, leave-one-group-out jackknife)")
    for variant, part in items.groupby("variant", sort=False):
        if part["index"].notna().sum() < 2:
            continue
        result = item_practice_equivalence(part["index"], people)
        print(f"{variant} vs people: {equivalence_text(result)}")
    return items


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    command = shlex.join(["cramcog", "consolidation", *args.runs, "--out", args.out,
                          "--switch-threshold", f"{args.switch_threshold:g}", "--ci", args.ci]
                         + (["--no-fit"] if args.no_fit else [])
                         + (["--binding", "--binding-device", args.binding_device]
                            if args.binding else []))
    if args.refit:
        if len(args.runs) != 1 or args.binding or args.no_fit:
            raise ValueError("--refit takes one consolidation record (and no --binding or "
                             "--no-fit): cramcog consolidation RECORD.nc --refit --out FILE.nc")
        ds, table, fits = refit(args.runs[0], args.out, ci=args.ci,
                                command=shlex.join(["cramcog", "consolidation", args.runs[0],
                                                    "--refit", "--out", args.out,
                                                    "--ci", args.ci]))
    else:
        ds, table, fits = consolidation(args.runs, args.out, args.switch_threshold,
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
    items = _item_specificity(ds)
    if args.csv:
        table.to_csv(f"{args.csv}_runs.csv", index=False, float_format="%.6g")
        if not fits.empty:
            fits.to_csv(f"{args.csv}_fits.csv", index=False, float_format="%.6g")
        if items is not None:
            items.to_csv(f"{args.csv}_items.csv", index=False, float_format="%.6g")
    print(f"wrote {args.out}")
    return 0
