"""``cramcog operating-point SWEEP.nc... --out operating_point.nc``: where the reported operating
point sits among each knob's values.

Reads ablation records that sweep one knob each (``cramcog ablate router_threshold|
router_q_gain|compute_cost --base small|paper_cpu --seeds 100 101``), writes one record with
dims (seq_len, knob, level, seed) (:mod:`cramcog.analysis.operating`) and prints, per knob
value, the seed mean and range of the queries attending and the accuracies.

Examples
--------
    cramcog operating-point runs/op256/*/*.nc runs/op2048/*/*.nc --out operating_point.nc

>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> register(sub)
"""
from __future__ import annotations

import argparse
import shlex


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "operating-point", help="knob sweeps (ablation records) stacked into one record",
        description="Stack ablation records that each sweep one router knob into one record "
                    "(seq_len, knob, level, seed) with the reported value marked, and print "
                    "the queries attending and accuracies per value.")
    p.add_argument("sweeps", nargs="+", metavar="SWEEP.nc", help="ablation records")
    p.add_argument("--out", required=True, metavar="FILE.nc", help="record to write")
    p.set_defaults(func=run)


def summary(ds):
    """Per (seq_len, knob, value): mean and [min, max] over seeds of the shown measures."""
    from cramcog.analysis.operating import operating_point_frame

    shown = ["test_recurring_attended", "test_novel_attended", "test_accuracy_recurring",
             "test_accuracy_novel", "selective_consolidation", "run_flops_ratio"]
    df = operating_point_frame(ds, shown).dropna(subset=["number"])
    keys = ["seq_len", "knob", "value", "operating", "measure"]
    agg = df.groupby(keys, sort=False).number.agg(["mean", "min", "max", "count"]).reset_index()
    agg["text"] = [f"{m:.3f} [{lo:.3f}, {hi:.3f}]" for m, lo, hi in
                   zip(agg["mean"], agg["min"], agg["max"])]
    return agg.pivot(index=["seq_len", "knob", "value", "operating"], columns="measure",
                     values="text")[[m for m in shown if m in set(agg.measure)]]


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from cramcog import records
    from cramcog.analysis.operating import operating_point_record

    sweeps = [records.open(p) for p in args.sweeps]
    ds = operating_point_record(sweeps)
    ds.attrs["command"] = shlex.join(["cramcog", "operating-point", *args.sweeps,
                                      "--out", args.out])
    ds.attrs["sources"] = [str(p) for p in args.sweeps]
    records.save(ds, args.out)
    with pd.option_context("display.width", 250, "display.max_columns", 12):
        print(summary(ds).to_string())
    print(f"wrote {args.out}")
    return 0
