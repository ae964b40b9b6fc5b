"""The consolidation study of ``cramcog consolidation``: runs in, one record out.

:func:`consolidation_study` reads training runs with per-pattern probes, builds the
consolidation record (:func:`cramcog.analysis.consolidation_record`), fits every curve family,
optionally runs the binding test on each run's model, and saves it;
:func:`refit_consolidation_record` fits an existing record's curve families again;
:func:`item_specificity_report` prints and returns the own-exposures-or-total-practice tables
for runs trained with unequal pattern frequencies.
"""
from __future__ import annotations

import numpy as np


def consolidation_study(runs, out, switch_threshold: float = 0.5, fit: bool = True,
                  command: str = "", ci: str = "profile", binding: bool = False,
                  binding_device: str = "cpu"):
    """The API of the command: load ``runs`` (paths, as on the command line), build the record,
    fit, save to ``out`` (atomically) and return ``(record, per-run table, fits table)``.
    ``binding``: add the binding test of every run with a model (:func:`binding_folders`).

    Examples
    --------
    >>> ds, table, fits = consolidation_study(["runs/a"], "c.nc")       # doctest: +SKIP
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


def refit_consolidation_record(record, out, ci: str = "profile", command: str = ""):
    """Fit the curve families of an existing consolidation record again (after a change of the
    fitter) and save it to ``out``; everything else in the record is kept as it was. Returns
    ``(record, per-run table, fits table)`` like :func:`consolidation_study`.

    Examples
    --------
    >>> ds, table, fits = refit_consolidation_record("paper/records/consolidation.nc", "c.nc")   # doctest: +SKIP
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


def item_specificity_report(ds):
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


__all__ = ["binding_folders", "consolidation_study", "item_specificity_report",
           "refit_consolidation_record"]
