"""``cramcog synchrony CONSOLIDATION.nc``: do patterns leave attention together?

Tests, per seed, whether the per-pattern events of a consolidation record (final switch, first
departure, return to attention) fall at the same evaluations more often than an interval-jitter
null allows, and measures how long one pattern's fall takes (:mod:`cramcog.analysis.synchrony`).

Examples
--------
    cramcog consolidation cram=runs/i22/sync_s1,runs/i22/sync_s2,runs/i22/sync_s3 \\
        --out paper/records/consolidation_sync.nc --switch-threshold 0.5
    cramcog synchrony paper/records/consolidation_sync.nc --out paper/records/switch_sync.nc

>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> register(sub)
"""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "synchrony", help="do patterns switch off attention together? (jitter test per seed)",
        description="Interval-jitter test of per-pattern switch synchrony on a consolidation "
                    "record (cramcog consolidation), and the width of each pattern's fall; "
                    "prints a table per window and writes a record.")
    p.add_argument("record", metavar="CONSOLIDATION.nc", help="a consolidation record")
    p.add_argument("--variant", default="cram", help="which variant's seeds (default cram)")
    p.add_argument("--windows", type=int, nargs="+", default=[50, 100, 200], metavar="STEPS",
                   help="jitter windows in training steps (default 50 100 200; 100 gives "
                        "switch_sync_p)")
    p.add_argument("--resamples", type=int, default=10_000,
                   help="jittered data sets per test (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the resampling (default 0)")
    p.add_argument("--out", default=None, metavar="FILE.nc", help="write the record here")
    p.add_argument("--figures", default=None, metavar="DIR",
                   help="also draw each seed's switch raster to DIR/switch_raster_<variant>_s<seed>.png")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cramcog import records
    from cramcog.analysis.runs import AnalysisError
    from cramcog.analysis.synchrony import synchrony_record, synchrony_table

    if args.resamples < 99:
        raise SystemExit(f"cramcog synchrony: --resamples {args.resamples} is too few for a "
                         "p-value; use >= 99 (default 10000)")
    ds = records.open(args.record)
    if ds.attrs.get("study") != "consolidation":
        raise SystemExit(f"cramcog synchrony: {args.record} is not a consolidation record "
                         "(make one with `cramcog consolidation NAME=RUNS --out FILE.nc`)")
    try:
        rec = synchrony_record(ds, args.variant, args.windows, args.resamples, args.seed,
                               source=args.record)
    except AnalysisError as err:
        raise SystemExit(f"cramcog synchrony: {err}")
    for w in rec.window_steps.values:
        print(f"\nwindow {int(w)} steps:")
        print(synchrony_table(rec, int(w)))
    if args.out:
        records.save(rec, args.out)
        print(f"wrote {args.out}")
    if args.figures:
        from pathlib import Path

        from cramcog.commands.figures import safe_stem
        from cramcog.figures.style import save_figure
        from cramcog.figures.synchrony import plot_switch_raster

        for seed in rec.seed.values:
            stem = safe_stem(f"switch_raster_{args.variant}_s{int(seed)}")
            path = save_figure(plot_switch_raster(ds, args.variant, int(seed)),
                               Path(args.figures) / f"{stem}.png")
            print(f"wrote {path}")
    return 0
