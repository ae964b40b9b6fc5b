"""``cramcog data list`` and ``cramcog data show NAME``: the bundled human data sets.

Examples
--------
>>> from cramcog.cli import main
>>> main(["data", "list"])  # doctest: +ELLIPSIS
name ...
0
"""
from __future__ import annotations

import argparse
import textwrap


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "data", help="list and show the bundled human memory data sets",
        description="The human forgetting and episodic-to-semantic data bundled with cramcog, "
                    "with citations and reliability notes.")
    actions = parser.add_subparsers(dest="data_action", metavar="ACTION")
    list_parser = actions.add_parser("list", help="names, kinds and reliability of the data sets")
    list_parser.add_argument("--kind", choices=["curve", "grid", "table"], default=None,
                             help="only forgetting curves over a delay axis (curve), "
                                  "measurements over categorical dims (grid) or tables")
    list_parser.add_argument("--paradigm", default=None,
                             help="only one paradigm: forgetting, strategy_shift, remember_know, "
                                  "gist_detail, episodic_semantic (strategy_shift + "
                                  "remember_know), or a table role (constants, anchors, index)")
    show = actions.add_parser("show", help="citation, provenance, notes and values of one data set")
    show.add_argument("name", help="a name from `cramcog data list`")
    show.add_argument("--csv", action="store_true", help="print the tidy CSV instead of a table")
    shapes = actions.add_parser(
        "shapes", help="every curve family fitted to the human curves, ranked by AICc, with each "
                       "family's shape parameter and interval (cramcog.comparison.human_shapes)")
    shapes.add_argument("--human", default="episodic_semantic",
                        help="a paradigm, episodic_semantic (default), all, or a data set name")
    shapes.add_argument("--top", type=int, default=3, help="families shown per curve")
    shapes.add_argument("--ci", default="profile", choices=["profile", "wald", "bootstrap"])
    shapes.add_argument("--csv", default=None, help="also write the full table to this CSV")
    parser.set_defaults(func=run, data_parser=parser)


def run(args: argparse.Namespace) -> int:
    from cramcog import psych

    if args.data_action == "list":
        names = psych.list(args.kind, paradigm=args.paradigm)
        width = max([len(n) for n in names] + [4])
        print(f"{'name':<{width}}  {'kind':<5}  {'paradigm':<14}  {'reliability':<11}  title")
        for name in names:
            meta = psych.metadata(name)
            print(f"{name:<{width}}  {meta['kind']:<5}  {meta['paradigm']:<14}  "
                  f"{meta['reliability_grade']:<11}  {meta['title']}")
        return 0
    if args.data_action == "show":
        meta = psych.metadata(args.name)  # ValueError lists the valid names
        df = psych.table(args.name)
        if args.csv:
            print(df.to_csv(index=False), end="")
            return 0
        def wrap(text):
            return textwrap.fill(str(text), width=100, subsequent_indent="    ")
        print(f"{meta['name']}: {meta['title']}")
        for key in ("paradigm", "citation", "source_read", "reliability", "how_obtained",
                    "curve_notes"):
            if meta.get(key):
                print(wrap(f"{key}: {meta[key]}"))
        if meta.get("x"):
            print(f"x: {meta['x']['long_name']} [{meta['x']['units']}]  (column "
                  f"{meta['x']['column']})")
            print(f"y: {meta['y']['long_name']} [{meta['y']['units']}]  (column "
                  f"{meta['y']['column']})")
        for key, text in meta.get("reliability_per_value", {}).items():
            print(wrap(f"reliability of {key}: {text}"))
        for spec in meta.get("comparison_curves", []):
            print(wrap(f"derived curve {spec['series']}: y = {spec['y']['long_name']}; "
                       f"x = {spec['x']['long_name']}; assumption: {spec.get('assumption', '')}"))
        fit = meta.get("published_fit")
        if fit:
            print(wrap(f"published fit: {fit['formula']} with {fit['params']} ({fit['source']})"))
        for note in meta.get("notes", []):
            if note:
                print(wrap(f"note: {note}"))
        with_pd_options(lambda: print(df.to_string(index=False)))
        return 0
    if args.data_action == "shapes":
        from cramcog.comparison import human_shapes, shapes_markdown

        table = human_shapes(args.human, ci=args.ci)
        print(shapes_markdown(table, top=args.top))
        if args.csv:
            table.to_csv(args.csv, index=False)
        return 0
    args.data_parser.print_help()
    return 2


def with_pd_options(fn):
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.max_colwidth", 60, "display.max_rows", 200):
        fn()
