"""``cramcog fit FILE.csv``: fit forgetting/consolidation curve families to your own data.

Prints a table of the fits (ranked by AIC with ``--family all``), and writes for each curve a
record (``<stem>[_<series>]_fit.nc``) and a figure (``.png``) into ``--out``.

Examples
--------
>>> import os, tempfile
>>> from cramcog.cli import main
>>> d = tempfile.mkdtemp()
>>> _ = open(os.path.join(d, "c.csv"), "w").write("t,y\\n1,.8\\n2,.66\\n4,.55\\n8,.45\\n16,.37\\n")
>>> main(["fit", os.path.join(d, "c.csv"), "--family", "power", "--out", d])  # doctest: +SKIP
0
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "fit", help="fit curve families to a CSV of (delay, retention) points",
        description="Fit forgetting/consolidation curve families (power, exponential, shifted "
                    "power, ...) to your own data: prints the fits, writes a record (.nc) and a "
                    "figure (.png) per curve. With --n the likelihood is binomial, otherwise "
                    "least squares.")
    parser.add_argument("file", help="CSV file with a header row ('#' lines are comments)")
    parser.add_argument("--family", default="all",
                        help="'all' (default), one family, or a comma-separated list, e.g. "
                             "power,exponential")
    parser.add_argument("--t", default="t", metavar="COL", help="delay column (default: t)")
    parser.add_argument("--y", default="y", metavar="COL",
                        help="retention column (default: y): proportions, or successes with --n")
    parser.add_argument("--n", default=None, metavar="COL",
                        help="trials column: switches to the binomial likelihood")
    parser.add_argument("--series", default=None, metavar="COL",
                        help="column naming separate curves (subject, condition, ...): one fit "
                             "per curve")
    parser.add_argument("--y-scale", type=float, default=1.0,
                        help="multiply y by this (e.g. 0.01 for percentages)")
    parser.add_argument("--t-units", default="", help="units of the delay, stored in the record")
    parser.add_argument("--ci", default="profile", choices=["profile", "wald", "bootstrap"],
                        help="confidence interval method (default: profile likelihood)")
    parser.add_argument("--level", type=float, default=0.95, help="confidence level (0.95)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the bootstrap and optimiser restarts (default 0)")
    parser.add_argument("--loglog", action="store_true", help="log-log axes in the figure")
    parser.add_argument("--out", default=".", metavar="DIR",
                        help="folder for the record and figure (default: current folder)")
    parser.set_defaults(func=run)


def _families(text: str):
    names = [f.strip() for f in text.split(",") if f.strip()]
    if not names:
        raise ValueError("--family is empty: use 'all' or names such as power,exponential")
    return "all" if names == ["all"] else (names[0] if len(names) == 1 else names)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "curve"


def run(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")  # a CLI writes files; never open a window
    import matplotlib.pyplot as plt

    from cramcog import psych, records

    if not 0 < args.level < 1:
        raise ValueError(f"--level must be in (0, 1), got {args.level}")
    family = _families(args.family)
    ds = psych.load_csv(args.file, t=args.t, y=args.y, n=args.n, series=args.series,
                        t_units=args.t_units, y_scale=args.y_scale)
    curves = psych.curves(ds)
    if not curves:
        raise ValueError(f"{args.file}: a curve needs at least 3 distinct delays")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = _slug(Path(args.file).stem)
    for curve in curves:
        fits, failed = fit_families(curve.t, curve.y, curve.n, family, ci=args.ci,
                                    level=args.level, seed=args.seed)
        name = stem if not curve.series else f"{stem}_{_slug(curve.series)}"
        likelihood = "least squares" if curve.n is None else "binomial"
        print(f"== {curve.label}: {len(curve.t)} points, {likelihood}, {args.ci} "
              f"{args.level:.0%} intervals")
        print(_table_text(fits))
        for fam, why in failed.items():
            print(f"  {fam}: FAILED ({why})")
        record = fits.to_xarray()
        record.attrs["source_file"] = str(Path(args.file).resolve())
        record.attrs["curve"] = curve.label
        nc = records.save(record, out / f"{name}_fit.nc")
        ax = fits.plot(loglog=args.loglog)
        figure = _figure_of(ax)
        figure.suptitle(f"{curve.label} ({likelihood})")
        png = out / f"{name}_fit.png"
        figure.savefig(png, dpi=120, bbox_inches="tight")
        plt.close(figure)
        print(f"wrote {nc}\nwrote {png}")
    return 0


def fit_families(t, y, n, family, **kwargs):
    """``fit_consolidation_curve`` that survives one family's numerical failure.

    When fitting several families, a family whose optimiser raises (e.g. a singular matrix on a
    short curve) is left out and reported, instead of losing every other family's fit.

    Returns
    -------
    (FitResult or FitSet, dict)
        The fit(s) and ``{family: reason}`` for families that failed.

    Examples
    --------
    >>> import numpy as np
    >>> fits, failed = fit_families(np.array([1, 2, 4, 8, 16.]), np.array([.8, .6, .5, .4, .35]),
    ...                             None, ["power", "exponential"], ci="wald")
    >>> sorted(fits), failed
    (['exponential', 'power'], {})
    """
    import warnings

    import numpy as np

    from cramcog.dynamics import FAMILIES, FitSet, fit_consolidation_curve

    try:
        return fit_consolidation_curve(t, y, n=n, family=family, **kwargs), {}
    except (np.linalg.LinAlgError, FloatingPointError, ZeroDivisionError) as err:
        if isinstance(family, str) and family != "all":
            raise ValueError(f"the {family!r} fit failed numerically: {err}") from None
    names = list(FAMILIES) if family == "all" else list(family)
    fits, failed = {}, {}
    for name in names:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                fits[name] = fit_consolidation_curve(t, y, n=n, family=name, **kwargs)
        except (np.linalg.LinAlgError, FloatingPointError, ZeroDivisionError) as err:
            failed[name] = f"{type(err).__name__}: {err}"
        except ValueError as err:  # the data cannot support this family (as "all" skips it)
            if family != "all":
                raise
            failed[name] = f"skipped: {err}"
    if not fits:
        raise ValueError(f"every family failed: {failed}")
    return FitSet(fits), failed


def _table_text(fits) -> str:
    """A compact table (AIC ranking, gamma with interval), then any non-routine fit messages."""
    import pandas as pd

    from cramcog.dynamics import FitSet

    if isinstance(fits, FitSet):
        table = fits.table()
    else:  # one family: one row, every parameter with its interval
        row = {"family": fits.family, "n_params": fits.n_params, "aic": fits.aic,
               "converged": bool(fits.converged), "message": str(fits.message)}
        for key, value in fits.params.items():
            low, high = fits.ci.get(key, (float("nan"), float("nan")))
            row[key], row[f"{key}_low"], row[f"{key}_high"] = value, low, high
        table = pd.DataFrame([row])
    shown = [c for c in table.columns if c not in ("formula", "message", "loglik", "bic")]
    with pd.option_context("display.width", 200, "display.max_columns", 40,
                           "display.float_format", "{:.4g}".format):
        text = table[shown].to_string(index=False)
    notes = [f"  {r['family']}: {r['message']}" for _, r in table.iterrows()
             if str(r["message"]) != "converged"]
    return text + ("\nnotes:\n" + "\n".join(notes) if notes else "")


def _figure_of(obj):
    """The matplotlib Figure behind an Axes, a FacetGrid or a Figure."""
    for attr in ("figure", "fig"):
        fig = getattr(obj, attr, None)
        if fig is not None and hasattr(fig, "savefig"):
            return fig
    if hasattr(obj, "savefig"):
        return obj
    raise TypeError(f"cannot find a figure in {type(obj).__name__}")
