"""``cramcog operating-point SWEEP.nc... --out operating_point.nc``: where the reported operating
point sits among each knob's values.

Reads ablation records that sweep one knob each (``cramcog ablate router_threshold|
router_q_gain|compute_cost --base small|paper_cpu --seeds 100 101``), writes one record with
dims (seq_len, knob, level, seed) (:mod:`cramcog.analysis.operating`) and prints, per knob
value, the seed mean and range of the queries attending, the accuracies, selectivity and
whole-run FLOPs (:func:`cramcog.analysis.operating.operating_point_table`, markdown).

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


def run(args: argparse.Namespace) -> int:
    from cramcog import records
    from cramcog.analysis.operating import operating_point_record, operating_point_table

    sweeps = [records.open(p) for p in args.sweeps]
    ds = operating_point_record(sweeps)
    ds.attrs["command"] = shlex.join(["cramcog", "operating-point", *args.sweeps,
                                      "--out", args.out])
    ds.attrs["sources"] = [str(p) for p in args.sweeps]
    records.save(ds, args.out)
    print(operating_point_table(ds))
    print(f"wrote {args.out}")
    return 0
