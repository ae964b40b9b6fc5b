"""``cramcog ablate``: run a named ablation grid (or one defined in a JSON file) x seeds.

Examples
--------
>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> register(sub)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "ablate", help="run an ablation grid (config overrides x seeds) and write one record",
        description="Run every (variant, seed) cell of a grid through a process pool (or a dask "
                    "cluster with --scheduler). Each finished cell is saved under OUT/cells/, so "
                    "re-running the same command computes only the missing cells; the combined "
                    "record OUT/<grid>.nc is rewritten as each cell finishes. Failed cells are "
                    "recorded (status/error variables, OUT/cells/*/seed*.error.json) and listed.")
    p.add_argument("grid", nargs="?", help="a shipped grid name (see --list) or a JSON file "
                   '{"name", "variants": {name: {dotted.key: value}}, "base"?, "seeds"?, '
                   '"parameter"?}')
    p.add_argument("--list", action="store_true", help="list the shipped grids and exit")
    p.add_argument("--base", default=None, help="named training config or JSON config file "
                   "(default: the grid file's base, else 'small')")
    p.add_argument("--variants", nargs="+", default=None, metavar="VARIANT",
                   help="run only these variants of the grid (same OUT: the rest can run later)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds (default 0 1 2)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a base config key for every cell (dotted key; VALUE parsed as "
                        "JSON, else kept as a string), e.g. --set train.steps=200")
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="device of every training cell: auto (CUDA when present; the configs' "
                        "default), cpu, cuda or cuda:N (same as --set device=DEVICE); cells "
                        "finished on another device are kept")
    p.add_argument("--dtype", default=None, choices=("fp32", "bf16"),
                   help="fp32 or bf16 autocast for every training cell (--set autocast=...)")
    p.add_argument("--out", default=None, help="output folder (default runs/ablate-<grid>)")
    p.add_argument("--workers", type=int, default=None,
                   help="process-pool workers (default: min(cells, CPUs))")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on a dask.distributed cluster at ADDRESS (e.g. tcp://host:8786)")
    p.add_argument("--reuse", nargs="+", default=[], metavar="RECORD",
                   help="records of runs trained elsewhere (e.g. runs/cram/record.nc); one whose "
                        "config equals a cell's config exactly (seed included) becomes that cell "
                        "instead of being re-run")
    p.add_argument("--no-retry", action="store_true", help="do not re-run cells that failed")
    p.add_argument("--run-fn", default=None, metavar="MODULE:FUNCTION",
                   help="run function fn(config: dict) -> record (default: cramcog.train.train)")
    p.set_defaults(func=run)


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_overrides(items: list[str]) -> dict:
    """``["a.b=1", "c=x"]`` -> ``{"a.b": 1, "c": "x"}``; a malformed item raises ValueError."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE, e.g. --set train.steps=200")
        out[key.strip()] = _parse_value(value)
    return out


def build_grid(args):
    """The AblationGrid the command line asks for."""
    from cramcog.experiments.ablations import (GRIDS, AblationGrid, apply_overrides,
                                               base_config_dict, named_grid)

    spec: dict = {}
    if args.grid in GRIDS:
        name = args.grid
    else:
        path = Path(args.grid)
        if not path.is_file():
            raise ValueError(f"{args.grid!r} is neither a shipped grid ({sorted(GRIDS)}) nor a "
                             "JSON grid file")
        try:
            spec = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON: {err}") from None
        if not isinstance(spec, dict) or "variants" not in spec:
            raise ValueError(f"{path}: a grid file is a JSON object with at least 'variants'")
        name = None
    base = args.base if args.base is not None else spec.get("base", "small")
    if isinstance(base, str) and base.endswith(".json"):
        base = json.loads(Path(base).read_text())
    overrides = parse_overrides(args.overrides)
    if getattr(args, "device", None) is not None:
        overrides["device"] = args.device
    if getattr(args, "dtype", None) is not None:
        from cramcog.commands.train import DTYPES
        overrides["autocast"] = DTYPES[args.dtype]
    base_config = apply_overrides(base_config_dict(base), overrides)
    seeds = args.seeds if args.seeds is not None else spec.get("seeds", [0, 1, 2])
    if name is not None:
        grid = named_grid(name, base=base_config, seeds=seeds)
    else:
        grid = AblationGrid(name=spec.get("name", Path(args.grid).stem), base=base_config,
                            variants=spec["variants"], seeds=seeds,
                            seed_key=spec.get("seed_key", "seed"),
                            parameter=spec.get("parameter", ""),
                            description=spec.get("description", ""))
    return grid.select(args.variants) if args.variants else grid


def load_run_fn(spec: str | None):
    """``"package.module:function"`` -> the function (None -> the default, training)."""
    if spec is None:
        return None
    import importlib

    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"--run-fn {spec!r}: expected MODULE:FUNCTION, e.g. "
                         "cramcog.experiments.ablations:demo_run")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"--run-fn {spec!r}: cannot load it ({err})") from None
    if not callable(fn):
        raise ValueError(f"--run-fn {spec!r} is not callable")
    return fn


def run(args) -> int:
    from cramcog.experiments.ablations import GRIDS, adopt_records, named_grid, run_grid

    if args.list:
        for name in sorted(GRIDS):
            g = named_grid(name, base={}, seeds=(0,))
            print(f"{name:20s} {len(g.variants):2d} variants  {g.description}")
        return 0
    if not args.grid:
        raise ValueError("name a grid (cramcog ablate --list shows them) or a JSON grid file")
    grid = build_grid(args)
    run_fn = load_run_fn(args.run_fn)
    out = Path(args.out or f"runs/ablate-{grid.name}")
    if args.reuse:
        adopted = adopt_records(grid, out, args.reuse)
        for (variant, seed), path in adopted.items():
            print(f"adopted {path} as {variant} seed={seed}")
        if len(adopted) < len(args.reuse):
            print(f"{len(args.reuse) - len(adopted)} of {len(args.reuse)} --reuse records not "
                  "adopted (no cell has their config, or that cell is already finished)")
    executor, client = None, None
    if args.scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise ValueError("--scheduler needs dask.distributed: pip install 'cramcog[cluster]'"
                             ) from None
        client = Client(args.scheduler)
        executor = client.get_executor()
    try:
        res = run_grid(grid, out, run_fn=run_fn, executor=executor, max_workers=args.workers,
                       retry_failed=not args.no_retry, return_result=True)
    finally:
        if client is not None:
            client.close()
    print(f"{res.path}  ran {len(res.ran)}, skipped {len(res.skipped)} finished, "
          f"failed {len(res.failed)}")
    for (variant, seed), err in res.failed.items():
        print(f"  FAILED {variant} seed={seed}: {err}", file=sys.stderr)
    return 1 if res.failed else 0
