"""``cramcog fit FILE.csv``: fit forgetting/consolidation curve families to your own data.

Prints a table of the fits (ranked by AICc with ``--family all``), and writes for each curve a
record (``<stem>[_<series>]_fit.nc``) and a figure (``.png``) into ``--out``. With ``--by
subject`` it fits every subject and a group-level estimate instead, and writes one CSV for all
subjects (``<stem>_subjects.csv``), the group estimates (``<stem>_group.csv``), the pooled vs
per-subject vs group comparison (``<stem>_compare.csv``), a record and a faceted figure; with
``--series COND`` as well, each condition's difference from the first with an interval and a
test (printed, and ``<stem>_differences.csv``). ``--group-model mixed`` estimates the group
values by a binomial nonlinear mixed model that keeps every subject, cells at 100% included.

Reading the file: ``#`` lines are comments, the delimiter is sniffed (comma, semicolon, tab),
spaces around column names are stripped, a column named ``n`` is the trials (binomial
likelihood) unless ``--n`` says otherwise, delays may be written "20min", "1h", "2d" (converted
to ``--t-units``, or to the coarsest unit written), and ``y`` is read once, as ``--y-kind``
says. Column names and units become the axis labels and are stored in the record. A wide table
(``--wide``, detected when ``--t`` is not a column and every other header is a delay: rows are
participants, headers delays such as "0,5 h", empty cells reported) is read by
:func:`cramcog.psych.wide_to_long`; "58%" cells are read as percent. ``--criterion``,
``--chance``, ``--fixed``, ``--overdispersion`` and ``--force`` go to
:func:`cramcog.dynamics.fit_consolidation_curve`; each curve's output ends with the best family,
its weight and every parameter with its interval.

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
import contextlib
import math
import re
import sys
import warnings
from pathlib import Path

# a module without imports: the fitting stack (~0.8 s) loads only when a fit runs, not on every
# cramcog command (--help included)
from cramcog.dynamics.kinds import Y_KINDS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "fit", help="fit curve families to a CSV of (delay, retention) points",
        description="Fit forgetting/consolidation curve families (power, exponential, shifted "
                    "power, ...) to your own data: prints the fits, writes a record (.nc) and a "
                    "figure (.png) per curve. With trials (--n, or a column named n) the "
                    "likelihood is binomial, otherwise least squares. With --by SUBJECT: a fit "
                    "per subject and a group-level (random-effects) estimate.")
    parser.add_argument("file", help="CSV file with a header row ('#' lines are comments; "
                                     "comma, semicolon or tab separated)")
    parser.add_argument("--family", default="all",
                        help="'all' (default), one family, or a comma-separated list, e.g. "
                             "power,exponential")
    parser.add_argument("--t", default="t", metavar="COL",
                        help="delay column (default: t); numbers, or text like 20min, 1h, 2d")
    parser.add_argument("--y", default="y", metavar="COL", help="retention column (default: y)")
    parser.add_argument("--n", default=None, metavar="COL",
                        help="trials column: binomial likelihood (default: the column named 'n' "
                             "if the file has one; 'none' fits least squares)")
    parser.add_argument("--y-kind", default="auto", choices=Y_KINDS,
                        help="what y holds: proportions, successes (counts out of n), percent "
                             "(0-100), value (a measurement, least squares), rt (response "
                             "times, log-normal); auto guesses and stops or warns when it cannot "
                             "tell")
    parser.add_argument("--series", default=None, metavar="COL[,COL]",
                        help="column(s) naming separate curves (condition, ...): one fit per "
                             "curve (with --by: one group estimate per level, and each "
                             "level's difference from the first with an interval and a test)")
    parser.add_argument("--by", default=None, metavar="COL",
                        help="subject column: a fit per subject AND a group-level estimate "
                             "(random effects), one CSV for all subjects, faceted figure")
    parser.add_argument("--group-model", default="two-stage", choices=["two-stage", "mixed"],
                        help="with --by: 'two-stage' (default) combines per-subject fits by "
                             "random effects and leaves out subjects fitted on the edge of "
                             "[0, 1] (a cell at 0%% or 100%%); 'mixed' fits a binomial "
                             "nonlinear mixed model to every subject at once and keeps them "
                             "all")
    parser.add_argument("--y-scale", type=float, default=1.0,
                        help="multiply y by this before reading it (prefer --y-kind percent "
                             "for percentages)")
    parser.add_argument("--t-units", default="",
                        help="units of the delay, stored in the record and on the axis; text "
                             "delays (1h, 2d) are converted to it")
    parser.add_argument("--ci", default="profile", choices=["profile", "wald", "bootstrap"],
                        help="confidence interval method (default: profile likelihood)")
    parser.add_argument("--level", type=float, default=0.95, help="confidence level (0.95)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the bootstrap and optimiser restarts (default 0)")
    parser.add_argument("--band", default="1", metavar="K",
                        help="confidence bands for the best K families in the figure (default "
                             "1; 'all'; 0 for none)")
    parser.add_argument("--loglog", action="store_true", help="log-log axes in the figure")
    parser.add_argument("--out", default=".", metavar="DIR",
                        help="folder for the record and figure (default: current folder)")
    parser.add_argument("--wide", action="store_true",
                        help="the file is a wide table: the first column names the participant "
                             "of each row, every other header is a delay (1, 2.5, 0,5 h, "
                             "1 day), empty cells are missing (each one reported); a fit per "
                             "row, or --by PARTICIPANT for a group estimate; --n 20 gives the "
                             "trials per cell. Detected (and said) when --t is not a column "
                             "and every other header reads as a delay")
    parser.add_argument("--criterion", default="aicc", choices=["aicc", "aic", "bic"],
                        help="how families are ranked (default aicc; QAICc etc. with "
                             "--overdispersion quasi)")
    parser.add_argument("--chance", type=float, default=None, metavar="P",
                        help="a chance floor, e.g. 0.25 for 4-choice recognition: the "
                             "asymptote c is held there (power -> power+c; 'all' fits the +c "
                             "families)")
    parser.add_argument("--fixed", default=None, metavar="NAME=VALUE[,NAME=VALUE]",
                        help="parameters held at a value, not estimated, e.g. c=0.25 or "
                             "c=0.25,s=1 (not counted in k)")
    parser.add_argument("--overdispersion", default=None, choices=["quasi"],
                        help="quasi (binomial only): intervals scaled by the Pearson "
                             "dispersion, QAICc ranking")
    parser.add_argument("--force", action="store_true",
                        help="fit families with fewer than k + 2 points (k + 3 for least "
                             "squares)")
    parser.set_defaults(func=run)


def _families(text: str):
    names = [f.strip() for f in text.split(",") if f.strip()]
    if not names:
        raise ValueError("--family is empty: use 'all' or names such as power,exponential")
    return "all" if names == ["all"] else (names[0] if len(names) == 1 else names)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "curve"


def _band(text: str):
    if text == "all":
        return "all"
    try:
        return max(int(text), 0)
    except ValueError:
        raise ValueError(f"--band must be a number of families or 'all', got {text!r}") from None


def _fixed(text: str | None) -> dict | None:
    """--fixed c=0.25,s=1 as {"c": 0.25, "s": 1.0}."""
    if text is None:
        return None
    fixed = {}
    for part in (p.strip() for p in text.split(",")):
        name, sep, value = part.partition("=")
        try:
            if not (sep and name.strip()):
                raise ValueError
            fixed[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--fixed takes NAME=VALUE[,NAME=VALUE] (e.g. c=0.25,s=1); got "
                             f"{part!r}") from None
    return fixed


def _fit_options(args) -> dict:
    """The fitting options the command line passes on to fit_consolidation_curve."""
    if args.chance is not None and not 0 <= args.chance < 1:
        raise ValueError(f"--chance must be a probability in [0, 1), got {args.chance}")
    return dict(criterion=args.criterion, chance=args.chance, fixed=_fixed(args.fixed),
                overdispersion=args.overdispersion, force=args.force)


def _cli_words(err: ValueError) -> ValueError:
    """An input error in command-line words: y_kind='percent' -> --y-kind percent."""
    text = re.sub(r"y_kind='(\w+)'", r"--y-kind \1", str(err))
    text = text.replace("(t_units=)", "")
    return ValueError(text)


@contextlib.contextmanager
def _said_warnings():
    """Warnings (how y was read, a weak ranking, subjects left out) as one line each on
    stderr, in command-line words, instead of Python's file:line form."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        yield
    for w in caught:
        print(f"cramcog fit: warning: {_cli_words(ValueError(str(w.message)))}", file=sys.stderr)


def _trials_column(args, columns) -> str | None:
    """--n, or by convention a column named 'n' (said on stdout); 'none' for least squares."""
    if args.n is not None:
        return None if args.n.lower() == "none" else args.n
    if "n" in columns and "n" not in (args.t, args.y, args.by):
        print("reading trials from column 'n' (binomial likelihood); --n none fits least "
              "squares instead")
        return "n"
    return None


def run(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")  # a CLI writes files; never open a window

    from cramcog import psych

    if not 0 < args.level < 1:
        raise ValueError(f"--level must be in (0, 1), got {args.level}")
    if not math.isfinite(args.y_scale):
        raise ValueError(f"--y-scale must be a finite number, got {args.y_scale}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    if args.group_model != "two-stage" and not args.by:
        raise ValueError("--group-model sets how --by SUBJECT fits are combined: add --by")
    family = _families(args.family)
    band = _band(args.band)
    options = _fit_options(args)
    columns = psych.read_user_csv(args.file).columns
    if not args.wide and args.t not in columns and psych.looks_wide(columns, args.t_units):
        args.wide = True
        print(f"reading a wide layout (no column {args.t!r}; every header after "
              f"{columns[0]!r} reads as a delay): {columns[0]!r} names the participant of each "
              "row, the other columns are delays (--wide says so explicitly)")
    if args.wide:
        n_col = args.n
        args.t, args.y = "delay", "y"
        if not args.by and not args.series:
            args.series = str(columns[0])
    else:
        n_col = _trials_column(args, columns)
    series = [c.strip() for c in (args.series or "").split(",") if c.strip()]
    try:
        with _said_warnings():
            ds = psych.load_csv(args.file, t=args.t, y=args.y, n=n_col,
                                series=series + ([args.by] if args.by else []),
                                t_units=args.t_units, y_scale=args.y_scale, y_kind=args.y_kind,
                                wide=args.wide)
    except ValueError as err:
        raise _cli_words(err) from None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = _slug(Path(args.file).stem)
    about = {"source_file": str(Path(args.file).resolve()), "t_column": args.t,
             "y_column": args.y, "n_column": n_col or "", "y_kind": ds["y"].attrs["y_kind"],
             "t_units": str(ds["x"].attrs.get("units", ""))}
    if args.wide:
        about["layout"] = "wide"
    if about["t_units"] and not args.t_units:   # converted from text delays: never silently
        print(f"delays converted to {about['t_units']} (the coarsest unit written in the "
              f"file); --t-units picks another")
    if args.by:
        return _run_group(args, ds, family, band, out, stem, about, options)
    curves = psych.curves(ds)
    if not curves:
        raise ValueError(f"{args.file}: a curve needs at least 3 distinct delays")
    for curve in curves:
        t, y, n = _named(curve.t, curve.y, curve.n, args, about)
        with _said_warnings():
            fits, failed = fit_families(t, y, n, family, ci=args.ci, level=args.level,
                                        seed=args.seed, y_kind=_fit_kind(about), **options)
        name = stem if not curve.series else f"{stem}_{_slug(curve.series)}"
        likelihood = ("binomial" if curve.n is not None else
                      "log-normal" if about["y_kind"] == "rt" else "least squares")
        print(f"== {curve.label}: {len(curve.t)} points, {likelihood}, {args.ci} "
              f"{args.level:.0%} intervals")
        print(_table_text(fits))
        for fam, why in failed.items():
            print(f"  {fam}: FAILED ({why})")
        print(_parameters_text(fits))
        record = fits.to_xarray()
        record.attrs.update(about, curve=curve.label)
        _write(out, name, record, fits.plot(loglog=args.loglog, band=band),
               f"{curve.label} ({likelihood})")
    return 0


def _fit_kind(about: dict) -> str:
    """load_csv read y once; the fit takes it as read (proportions, or raw values)."""
    return about["y_kind"] if about["y_kind"] in ("value", "rt") else "proportion"


def _named(t, y, n, args, about):
    """t, y, n as DataArrays that carry the column names and units into records and labels."""
    import xarray as xr

    units = {"units": about["t_units"]} if about["t_units"] else {}
    t = xr.DataArray(t, dims="point", name=args.t, attrs=units)
    y = xr.DataArray(y, dims="point", name=args.y)
    return t, y, None if n is None else xr.DataArray(n, dims="point")


def _write(out: Path, name: str, record, plot, title: str) -> None:
    import matplotlib.pyplot as plt

    from cramcog import records

    nc = records.save(record, out / f"{name}_fit.nc")
    figure = _figure_of(plot)
    figure.suptitle(title, y=1.02)
    png = out / f"{name}_fit.png"
    figure.savefig(png, dpi=120, bbox_inches="tight")
    plt.close(figure)
    print(f"wrote {nc}\nwrote {png}")


def _run_group(args, ds, family, band, out: Path, stem: str, about: dict,
               options: dict) -> int:
    """--by: a fit per subject and a group estimate; tables, record and faceted figure."""
    import pandas as pd

    from cramcog.dynamics import fit_consolidation_curve
    from cramcog.dynamics.group import GroupFit, GroupFitSet

    y = ds["y"].rename(args.y)
    t = ds["x"].rename(args.t)
    t.attrs = {"units": about["t_units"]} if about["t_units"] else {}
    with _said_warnings():
        fits = fit_consolidation_curve(t, y, ds["n"] if "n" in ds else None, family=family,
                                       by=args.by, dim="delay", ci=args.ci, level=args.level,
                                       seed=args.seed, y_kind=_fit_kind(about),
                                       group_model=args.group_model, **options)
    if isinstance(fits, GroupFit):
        fits = GroupFitSet({fits.family: fits})
    first = next(iter(fits.values()))
    likelihood = "least squares" if "n" not in ds else "binomial"
    model = ("random effects (REML) of the per-subject fits" if args.group_model == "two-stage"
             else "nonlinear mixed model of every subject's counts")
    print(f"== {stem}: {len(first.curves)} curves of {args.by}, {likelihood}, {args.ci} "
          f"{args.level:.0%} intervals per subject; group: {model}")
    print(fits.report())
    compare = fits.compare()
    with pd.option_context("display.width", 200, "display.max_columns", 40,
                           "display.float_format", "{:.4g}".format):
        print("\npooled curve vs per-subject fits vs group estimate:\n"
              + compare.to_string(index=False))
    tables = [(fits.table(), "subjects"), (fits.group_table(), "group"), (compare, "compare")]
    if len(first.groups) > 1:       # conditions: each level against the first, every family
        tables.append((pd.concat([g.differences() for g in fits.values()], ignore_index=True),
                       "differences"))
    for table, suffix in tables:
        path = out / f"{stem}_{suffix}.csv"
        table.to_csv(path, index=False)
        print(f"wrote {path}")
    record = fits.to_xarray()
    record.attrs.update(about)
    _write(out, f"{stem}_group", record, fits.plot(loglog=args.loglog, band=bool(band)),
           f"{stem}: {fits.best.family}, per {args.by} ({likelihood})")
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
    """A table that fits a terminal: the ranking (criterion, its difference, Akaike weight),
    the shape parameter with its interval and the dispersion per family; then any non-routine
    fit messages. One family: every parameter with its interval."""
    import pandas as pd

    from cramcog.dynamics import FitSet

    def interval(value, low, high):
        return f"{value:.3g} [{low:.3g}, {high:.3g}]" if pd.notna(value) else ""

    if isinstance(fits, FitSet):
        table = fits.table()
        crit = fits.criterion
        shown = pd.DataFrame({
            "family": table["family"], "k": table["n_params"],
            crit: table[crit], "delta": table[f"delta_{crit}"],
            "weight": table["akaike_weight"],
            "shape [CI]": [f"{p} {interval(v, lo, hi)}" if isinstance(p, str) and p else ""
                           for p, v, lo, hi in zip(table["shape_param"], table["shape"],
                                                   table["shape_low"], table["shape_high"])],
            "dispersion": table["dispersion"], "converged": table["converged"]})
    else:  # one family: one row, every parameter with its interval
        row = {"family": fits.family, "n_params": fits.n_params, "aicc": fits.aicc,
               "converged": bool(fits.converged)}
        for key, value in fits.params.items():
            low, high = fits.ci.get(key, (float("nan"), float("nan")))
            row[key], row[f"{key}_low"], row[f"{key}_high"] = value, low, high
        shown = table = pd.DataFrame([{**row, "message": str(fits.message)}])
        shown = shown.drop(columns="message")
    with pd.option_context("display.width", 120, "display.max_columns", 40,
                           "display.float_format", "{:.4g}".format):
        text = shown.to_string(index=False)
    notes = [f"  {r['family']}: {r['message']}" for _, r in table.iterrows()
             if str(r["message"]) != "converged"]
    return text + ("\nnotes:\n" + "\n".join(notes) if notes else "")


def _parameters_text(fits) -> str:
    """The verdict on the families (the best, its weight, the runner-up) and every parameter
    of the best family with its interval, one per line."""
    import math

    from cramcog.dynamics import FitSet

    lines = []
    if isinstance(fits, FitSet):
        best = fits.best
        weights = {k: float(v) for k, v in fits.weights.items()}
        others = sorted(((w, k) for k, w in weights.items()
                         if k != best.family and math.isfinite(w)), reverse=True)
        runner = (f"; next {others[0][1]} (weight {others[0][0]:.2f})" if others else "")
        weak = fits.weak_ranking_note()
        lines.append(f"best family: {best.family} ({fits.criterion} weight "
                     f"{weights.get(best.family, float('nan')):.2f}{runner})"
                     + ("; the ranking is weak (few points)" if weak else ""))
    else:
        best = fits
        lines.append(f"family: {best.family}")
    if not bool(best.converged):
        lines.append(f"  NOT CONVERGED: {best.message}")
    lines.append(f"{best.family} parameters ({best.formula}):")
    for key, value in best.params.items():
        low, high = best.ci.get(key, (float("nan"), float("nan")))
        held = " (fixed)" if key in (getattr(best, "fixed", None) or {}) else ""
        lines.append(f"  {key} = {value:.4g} [{low:.4g}, {high:.4g}]{held}")
    return "\n".join(lines)


def _figure_of(obj):
    """The matplotlib Figure behind an Axes, a FacetGrid or a Figure."""
    for attr in ("figure", "fig"):
        fig = getattr(obj, attr, None)
        if fig is not None and hasattr(fig, "savefig"):
            return fig
    if hasattr(obj, "savefig"):
        return obj
    raise TypeError(f"cannot find a figure in {type(obj).__name__}")
