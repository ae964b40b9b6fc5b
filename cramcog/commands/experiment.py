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


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "experiment", help="Theorem-1 scaling and transfer experiments on trained runs",
        description="Run one of the paper's other experiments on finished training runs and "
                    "write its record (atomically). RUNS are NAME=DIR[,DIR...] (one DIR per seed).")
    sub = p.add_subparsers(dest="experiment", required=True)

    s = sub.add_parser("scaling", help="Theorem 1: attention on recurring patterns vs f x n")
    s.add_argument("runs", nargs="+", metavar="NAME=DIR", help="e.g. cram=runs/small")
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
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", required=True, help="record file (.nc)")
    add_device_argument(t)
    t.set_defaults(func=run_transfer)


def add_device_argument(parser) -> None:
    """``--device`` (auto | cpu | cuda | cuda:N) for commands that run trained models."""
    parser.add_argument("--device", default="auto", metavar="DEVICE",
                        help="where the models run: auto (CUDA when present; the default), cpu, "
                             "cuda or cuda:N, wherever they were trained")


def parse_runs(items: list[str]) -> dict[str, list[str]]:
    """``["a=d1,d2", "b=d3"]`` -> ``{"a": ["d1", "d2"], "b": ["d3"]}``; malformed items raise."""
    out: dict[str, list[str]] = {}
    for item in items:
        name, sep, dirs = item.partition("=")
        folders = [d for d in dirs.split(",") if d]
        if not sep or not name or not folders:
            raise ValueError(f"{item!r}: expected NAME=DIR[,DIR...], e.g. cram=runs/small")
        if name in out:
            raise ValueError(f"run name {name!r} given twice; list its folders comma-separated")
        out[name] = folders
    return out


def _finish(ds, out: str) -> None:
    from cramcog import records
    records.save(ds, out)
    print(f"wrote {out}\ncommand: cramcog " + " ".join(shlex.quote(a) for a in sys.argv[1:]))


def run_scaling(args) -> int:
    import pandas as pd

    from cramcog.experiments.scaling import ScalingConfig, proportionality, scaling_experiment
    runs = parse_runs(args.runs)
    bad = [k for k, v in runs.items() if len(v) != 1]
    if bad:
        raise ValueError(f"scaling takes one run folder per name; {bad} have several")
    kw = {"n_sequences": args.sequences, "seed": args.seed}
    if args.rates:
        kw["recurring_rates"] = tuple(args.rates)
    if args.seq_lens:
        kw["seq_lens"] = tuple(args.seq_lens)
    ds = scaling_experiment({k: v[0] for k, v in runs.items()}, ScalingConfig(**kw),
                            device=args.device)
    beta = proportionality(ds)
    print(pd.DataFrame([{"router": k, "beta (attention per f n)": b, "se": se}
                        for k, (b, se) in beta.items()]).to_string(index=False))
    _finish(ds, args.out)
    return 0


def run_transfer(args) -> int:
    from cramcog.experiments.transfer import TransferConfig, transfer_experiment
    from cramcog.figures.experiments import transfer_frame
    cfg = TransferConfig(steps=args.steps, trainable=args.trainable, seed=args.seed,
                         tasks=tuple(args.tasks or ()))
    runs = parse_runs(args.runs)
    ds = transfer_experiment(runs, cfg, device=args.device)
    table = ds[["attention_fraction", "accuracy"]].to_dataframe().reset_index()
    print(table.to_string(index=False))
    if "no_consolidation" in runs and len(runs) > 1:
        red = transfer_frame(ds)
        red = red[red.variant != "no_consolidation"]
        print(red.groupby("variant").reduction.describe().to_string())
        from cramcog.dynamics.intervals import seed_interval

        per_seed = red.groupby(["variant", "seed"]).reduction.mean()  # mean over tasks
        for variant, values in per_seed.groupby(level="variant"):
            mean, low, high, _, k = seed_interval(values)
            print(f"{variant}: attention reduction vs no_consolidation {mean:.1%} "
                  f"(95% t-interval over {k} seeds [{low:.1%}, {high:.1%}])")
    _finish(ds, args.out)
    return 0
