"""``cramcog reproduce``: the main job (:mod:`cramcog.experiments.reproduce`). Writes one run
folder under ``runs/`` and prints its path.

>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> register(sub)
"""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "reproduce",
        help="the main job: train CRAM, fit its consolidation curve, compare gamma with humans",
        description="Trains CRAM on SRCD (the small CPU config by default), fits a power law to "
                    "its attention-use curve, fits every curve family to the bundled human "
                    "forgetting curves, compares gamma, writes records, figures and a summary "
                    "to runs/<timestamp>-reproduce/ and prints the folder. Rerun with the same "
                    "--out to resume an interrupted training.")
    parser.add_argument("--train", default="small",
                        help="named training config (tiny, small, paper) or 'none' to compare "
                             "the paper's reported gamma without training (default: small)")
    parser.add_argument("--steps", type=int, default=0,
                        help="override the training steps (default: the config's own)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="run folder (default: runs/<UTC timestamp>-reproduce)")
    parser.add_argument("--families", default="power,shifted_power",
                        help="families whose gamma is compared (comma-separated)")
    parser.add_argument("--level", type=float, default=0.95, help="confidence level")
    parser.add_argument("--margin", type=float, default=0.1,
                        help="equivalence margin in gamma units for 'consistent'")
    parser.add_argument("--ci", default="profile", choices=["profile", "wald", "bootstrap"])
    parser.add_argument("--seed", type=int, default=0, help="seed of every fit (default 0)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cramcog.experiments.reproduce import ReproduceConfig, run_reproduce

    config = ReproduceConfig(families=args.families, level=args.level, margin=args.margin,
                             ci=args.ci, seed=args.seed, train=args.train, steps=args.steps)
    folder = run_reproduce(args.out, config=config)
    print(folder)
    return 0
