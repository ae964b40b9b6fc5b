"""``cramcog experiment scaling|transfer``: the paper's Theorem-1 and transfer experiments.

Both read finished training runs (``cramcog train --out DIR``) and write one record.

Examples
--------
>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> register(sub)
>>> parse_runs(["cram=runs/a,runs/b", "no_consolidation=runs/c"])
{'cram': ['runs/a', 'runs/b'], 'no_consolidation': ['runs/c']}
"""
from __future__ import annotations

import shlex
import sys


def parse_runs(items: list[str]) -> dict[str, list[str]]:
    """NAME=DIR[,DIR...] items to ``{name: [dir, ...]}`` (:func:`cramcog.analysis.runs.parse_runs`,
    imported on use: command modules stay light at import)."""
    from cramcog.analysis.runs import parse_runs as parse

    return parse(items)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "experiment", help="Theorem-1 scaling and transfer experiments on trained runs",
        description="Run one of the paper's other experiments on finished training runs and "
                    "write its record (atomically). RUNS are NAME=DIR[,DIR...] (one DIR per seed).")
    sub = p.add_subparsers(dest="experiment", required=True)

    s = sub.add_parser("scaling", help="Theorem 1: attention on recurring patterns vs f x n")
    s.add_argument("runs", nargs="+", metavar="NAME=DIR[,DIR...]",
                   help="one folder per training seed, e.g. cram=runs/c1,runs/c2 "
                        "no_consolidation=runs/n1,runs/n2")
    s.add_argument("--rates", type=float, nargs="+", default=None,
                   help="recurring-query rates f (default 0.005 0.01 0.02 0.035 0.07)")
    s.add_argument("--seq-lens", type=int, nargs="+", default=None,
                   help="sequence lengths n (default 128 256 512 1024)")
    s.add_argument("--sequences", type=int, default=8, help="test sequences per cell")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True, help="record file (.nc)")
    add_device_argument(s)
    s.set_defaults(func=run_scaling)

    t = sub.add_parser("transfer", help="freeze semantic memory + router, retrain the head on "
                                        "unseen SRCD variants, count attention")
    t.add_argument("runs", nargs="+", metavar="NAME=DIR[,DIR...]",
                   help="e.g. cram=runs/s0,runs/s1 no_consolidation=runs/n0,runs/n1")
    t.add_argument("--steps", type=int, default=150, help="retraining steps per variant")
    t.add_argument("--trainable", choices=("head", "body"), default="head")
    t.add_argument("--tasks", nargs="+", default=None, help="variant names (default: all)")
    t.add_argument("--bindings", nargs="+", choices=("same", "disjoint"), default=["same"],
                   help="recurring bindings of each variant: the training ones (same) and/or "
                        "all new (disjoint); default same")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", required=True, help="record file (.nc)")
    add_device_argument(t)
    t.set_defaults(func=run_transfer)


def add_device_argument(parser) -> None:
    """``--device`` (auto | cpu | cuda | cuda:N) for commands that run trained models."""
    parser.add_argument("--device", default="auto", metavar="DEVICE",
                        help="where the models run: auto (CUDA when present; the default), cpu, "
                             "cuda or cuda:N, wherever they were trained")


def _finish(ds, out: str) -> None:
    from cramcog import records
    records.save(ds, out)
    print(f"wrote {out}\ncommand: cramcog " + " ".join(shlex.quote(a) for a in sys.argv[1:]))


def run_scaling(args) -> int:
    import pandas as pd

    from cramcog.experiments.scaling import (ScalingConfig, proportionality,
                                             proportionality_by_seed, scaling_experiment)
    runs = parse_runs(args.runs)
    kw = {"n_sequences": args.sequences, "seed": args.seed}
    if args.rates:
        kw["recurring_rates"] = tuple(args.rates)
    if args.seq_lens:
        kw["seq_lens"] = tuple(args.seq_lens)
    ds = scaling_experiment(runs, ScalingConfig(**kw), device=args.device)
    print(proportionality_by_seed(ds).to_string(index=False))
    beta = proportionality(ds)
    print(pd.DataFrame([{"router": k, "beta, seeds pooled": b, "se": se}
                        for k, (b, se) in beta.items()]).to_string(index=False))
    _finish(ds, args.out)
    return 0


def run_transfer(args) -> int:
    from cramcog.experiments.transfer import TransferConfig, transfer_experiment
    from cramcog.figures.experiments import transfer_frame
    cfg = TransferConfig(steps=args.steps, trainable=args.trainable, seed=args.seed,
                         tasks=tuple(args.tasks or ()), bindings=tuple(args.bindings))
    runs = parse_runs(args.runs)
    ds = transfer_experiment(runs, cfg, device=args.device)
    table = ds[["attention_fraction", "recurring_attended", "accuracy"]].to_dataframe()
    print(table.reset_index().to_string(index=False))
    if "attention_reduction" in ds and len(runs) > 1:
        from cramcog.dynamics.intervals import seed_interval

        red = transfer_frame(ds)
        red = red[red.variant != "no_consolidation"]
        # one number per seed (mean over tasks), then a t-interval over seeds
        per_seed = red.groupby(["variant", "bindings", "seed"]).reduction.mean()
        for (variant, bindings), values in per_seed.groupby(level=["variant", "bindings"]):
            mean, low, high, _, k = seed_interval(values)
            print(f"{variant}, {bindings} bindings: attention reduction vs no_consolidation "
                  f"{mean:.1%} (95% t-interval over {k} seeds [{low:.1%}, {high:.1%}])")
    _finish(ds, args.out)
    return 0
