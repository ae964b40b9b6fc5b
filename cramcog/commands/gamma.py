"""``cramcog gamma RUN_DIR_OR_RECORD... --out FILE.nc``: the gamma study of training runs.

Fits the power law (or ``--family``) to every run's consolidation curve in each fit window
(``--window START:STOP``, repeatable; default: the study's stated windows), pools gamma per
variant across seeds (t-interval), compares it with the human data sets, writes the record
atomically and prints the tables and the command line that produced them. See
:mod:`cramcog.experiments.gamma_study`.

Examples
--------
>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> register(sub)
>>> from cramcog.cli import main
>>> main(["gamma", "runs/exp/var", "--out", "gamma.nc", "--window", "peak:end"])  # doctest: +SKIP
0
"""
from __future__ import annotations

import argparse
import shlex


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "gamma", help="gamma of every run's consolidation curve, pooled over seeds, vs humans",
        description="The gamma study: cut each training run's consolidation curve (layer-mean "
                    "attention fraction) in each fit window, fit a power law (least squares, "
                    "profile intervals), pool gamma per variant across seeds (Student-t "
                    "interval) and compare it with every human data set (compare_gamma). "
                    "Writes one 'fit' record and prints the tables.")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR_OR_RECORD",
                   help="training/ablation records (.nc) or run folders (record.nc, "
                        "train/record.nc or the *.nc inside are read); NAME=PATH[,PATH...] "
                        "names the runs there NAME so their seeds pool (cram=runs/s0,runs/s1)")
    p.add_argument("--out", required=True, metavar="FILE.nc", help="where to write the record")
    p.add_argument("--window", action="append", default=None, metavar="START:STOP",
                   help="fit window, repeatable. START: peak | K*peak | transition | step; "
                        "STOP: end | F*end | step (default: peak:end 2*peak:end 4*peak:end "
                        "transition:end peak:0.5*end)")
    p.add_argument("--human", default="all",
                   help="human data sets: 'all' (default), 'none', or comma-separated names "
                        "(cramcog data list)")
    p.add_argument("--family", default="power",
                   help="curve family with an exponent gamma (default power)")
    p.add_argument("--level", type=float, default=0.95, help="confidence level (0.95)")
    p.add_argument("--margin", type=float, default=0.1,
                   help="equivalence margin of the 'consistent' verdict, gamma units (0.1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fits (default 0)")
    p.set_defaults(func=run)


def command_line(args: argparse.Namespace) -> str:
    """The ``cramcog gamma ...`` command that reproduces ``args`` (every option spelled out).

    Examples
    --------
    >>> ns = argparse.Namespace(runs=["a.nc"], out="g.nc", window=["peak:end"], human="all",
    ...                         family="power", level=0.95, margin=0.1, seed=0)
    >>> command_line(ns)
    'cramcog gamma a.nc --out g.nc --window peak:end --human all --family power --level 0.95 --margin 0.1 --seed 0'
    """
    parts = ["cramcog", "gamma", *args.runs, "--out", args.out]
    for window in args.window or []:
        parts += ["--window", window]
    parts += ["--human", args.human, "--family", args.family, "--level", f"{args.level:g}",
              "--margin", f"{args.margin:g}", "--seed", str(args.seed)]
    return shlex.join(parts)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from cramcog import records
    from cramcog.analysis.curves import ConsolidationWindow
    from cramcog.experiments.gamma_study import (DEFAULT_WINDOWS, collect_runs, gamma_study,
                                                 gamma_study_table)

    windows = [ConsolidationWindow.parse(w) for w in args.window or DEFAULT_WINDOWS]  # fail fast

    human = None if args.human == "none" else (
        "all" if args.human == "all" else [h.strip() for h in args.human.split(",") if h.strip()])
    if human == []:
        raise ValueError("--human is empty: use 'all', 'none' or data set names")
    runs = collect_runs(args.runs)
    ds = gamma_study(runs, windows=windows, human=human,
                     family=args.family, level=args.level, margin=args.margin, seed=args.seed)
    command = command_line(args)
    ds.attrs["command"] = command
    ds.attrs["sources"] = [str(p) for p in args.runs]
    path = records.save(ds, args.out)
    with pd.option_context("display.width", 200, "display.max_columns", 30,
                           "display.float_format", "{:.3f}".format):
        print(f"== gamma per run ({ds.attrs['family']}: {ds.attrs['formula']}; "
              f"{ds.attrs['time_axis']})")
        print(gamma_study_table(ds, "runs").to_string(index=False))
        print(f"\n== gamma pooled per variant ({ds.attrs['pooled_interval']}) and verdicts "
              "against the human data")
        print(gamma_study_table(ds, "pooled").drop(columns=["reason"]).to_string(index=False))
        notes = gamma_study_table(ds, "pooled").query("reason != ''")
        for row in notes.itertuples():
            print(f"  {row.variant} [{row.window}]: {row.reason}")
    print(f"\ncomparison: {ds.attrs['comparison']}")
    if ds.attrs.get("caveat"):
        print(f"caveat: {ds.attrs['caveat']}")
    print(f"wrote {path}")
    print(f"command: {command}")
    return 0
