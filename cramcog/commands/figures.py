"""``cramcog figures RECORDS... --out DIR``: regenerate every paper figure from records alone.

Examples
--------
>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> register(sub)
"""
from __future__ import annotations

import re
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "figures", help="draw every figure the given records support (PNG)",
        description="Open each record (.nc), draw the figures its kind supports (training, "
                    "ablation, comparison, transfer, scaling; see cramcog.figures) and write "
                    "them as OUT/<record name>_<figure>.<format>. Several training records "
                    "together also give an accuracy-vs-attention figure. Ablation records (and "
                    "several training records) also give tables: <name>_metrics.csv (one row "
                    "per run) and <name>_summary.csv (mean and 95% t-interval over seeds).")
    p.add_argument("records", nargs="+", help="record files (.nc) written by cramcog")
    p.add_argument("--out", default="paper/figures", help="output folder (default paper/figures)")
    p.add_argument("--human", default="all",
                   help="human data sets drawn beside consolidation curves: 'all', 'none', or "
                        "comma-separated names (cramcog data list)")
    p.add_argument("--format", default="png", choices=("png", "pdf", "svg"),
                   help="image format (default png)")
    p.add_argument("--dpi", type=int, default=150, help="resolution of raster formats")
    p.add_argument("--skip-unsupported", action="store_true",
                   help="skip records of kinds that have no figure (fit, benchmark, ...) with a "
                        "note, instead of stopping with an error")
    p.set_defaults(func=run)


def run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")  # files only: never open a window
    from cramcog import figures, records

    if args.dpi <= 0:
        raise ValueError(f"--dpi must be > 0, got {args.dpi}")
    paths = [Path(p) for p in args.records]
    stems = [p.stem for p in paths]
    if len(set(stems)) != len(stems):  # two runs/x/train.nc: name them by folder too
        stems = [f"{p.parent.name}_{p.stem}" if p.parent.name else p.stem for p in paths]
    loaded = [records.open(p) for p in paths]
    if args.skip_unsupported:
        keep = [i for i, ds in enumerate(loaded) if ds.cram.kind in figures.FIGURE_KINDS]
        for i in sorted(set(range(len(loaded))) - set(keep)):
            print(f"skipped {paths[i]}: no figure for {loaded[i].cram.kind!r} records",
                  file=sys.stderr)
        loaded, stems = [loaded[i] for i in keep], [stems[i] for i in keep]
        if not loaded:
            raise ValueError(f"none of the records has a figure; figures exist for kinds "
                             f"{figures.FIGURE_KINDS}")
    human = None if args.human == "none" else (
        "all" if args.human == "all" else [h.strip() for h in args.human.split(",") if h.strip()])
    made = figures.figures_for(loaded, names=stems, human=human)
    out = Path(args.out)
    used: set[str] = set()
    for stem, fig in made.items():
        path = figures.save_figure(fig, out / f"{safe_stem(stem, used)}.{args.format}",
                                   dpi=args.dpi)
        print(path)
    tables = {s: ds for s, ds in zip(stems, loaded) if ds.cram.kind == "ablation"}
    training = {s: ds for s, ds in zip(stems, loaded) if ds.cram.kind == "training"}
    if len(training) > 1:
        tables["training"] = training
    for stem, data in tables.items():
        metrics = figures.final_metrics(data)
        for suffix, table in (("metrics", metrics), ("summary", figures.variant_summary(metrics))):
            print(_write_csv(table, out / f"{safe_stem(f'{stem}_{suffix}', used)}.csv"))
    return 0


_UNSAFE = re.compile(r"[^A-Za-z0-9_.=+-]")


def safe_stem(stem: str, used: set[str] | None = None) -> str:
    """A file name stem that stays inside the output folder: names from records (variants) and
    from the command line may hold "/", ".." or other characters; those become "_" (said on
    stderr), a leading dot goes, and a stem already ``used`` gets a numbered suffix.

    Examples
    --------
    >>> safe_stem("consolidation_patterns_cram")
    'consolidation_patterns_cram'
    >>> safe_stem("c_patterns_x/../../ESCAPED/pwned")                 # doctest: +ELLIPSIS
    'c_patterns_x_.._.._ESCAPED_pwned'
    """
    safe = _UNSAFE.sub("_", stem).lstrip(".") or "figure"
    if used is not None:
        base, i = safe, 2
        while safe in used:
            safe, i = f"{base}_{i}", i + 1
        used.add(safe)
    if safe != stem:
        print(f"cramcog figures: {stem!r} written as {safe!r} (a name from a record or the "
              "command line may not name folders)", file=sys.stderr)
    return safe


def _write_csv(table, path: Path) -> Path:
    """Write atomically: a reader never sees half a table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    table.to_csv(tmp, index=False, float_format="%.6g")
    tmp.replace(path)
    return path
