"""``cramcog lengths RECORD.nc...``: the same study at several sequence lengths, side by side.

Reads consolidation records (``cramcog consolidation``, one per sequence length; each carries
``seq_len``) and prints one markdown table: a row per measure (accuracy, queries attending,
retrieving layer x floor, selectivity, transition, falls, FLOPs, Dynamics MSE and wall time
against the Transformer), a column per length, each cell the mean and range over seeds
(:mod:`cramcog.analysis.lengths`).

Examples
--------
    cramcog lengths paper/records/consolidation.nc paper/records/consolidation_n2048.nc

>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> register(sub)
"""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "lengths", help="consolidation records of several sequence lengths, side by side",
        description="Print one table comparing consolidation records (cramcog consolidation) "
                    "made at different sequence lengths: mean [min, max] over seeds of each "
                    "measure, ratios to the Transformer paired by seed.")
    p.add_argument("records", nargs="+", metavar="RECORD.nc", help="consolidation records")
    p.add_argument("--csv", default=None, metavar="FILE",
                   help="also write the tidy table (measure, column, n, mean, low, high)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cramcog import records
    from cramcog.analysis.lengths import length_comparison, length_table

    loaded = []
    for path in args.records:
        ds = records.open(path)
        if ds.attrs.get("study") != "consolidation":
            raise SystemExit(f"cramcog lengths: {path} is not a consolidation record (make one "
                             "with `cramcog consolidation RUNS --out FILE.nc`)")
        loaded.append(ds)
    frame = length_comparison(loaded)
    print(length_table(frame))
    if args.csv:
        frame.to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    return 0
