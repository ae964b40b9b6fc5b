"""The gamma study: every run's consolidation curve fitted in several windows, pooled across seeds
and compared with every human data set.

For each training run (a training record, or a cell of an ablation record):

1. the consolidation curve - the layer-mean attention fraction in a stated window, against
   ``t = step - window start + one logging interval`` - is cut for every window
   (:class:`cramcog.analysis.curves.ConsolidationWindow`; defaults in
   :data:`DEFAULT_WINDOWS`), and a curve family with an exponent gamma (default the pure power
   law ``y = a t^-gamma``) is fitted by least squares, with a 95% profile-likelihood interval;
2. per variant and window, gamma is POOLED across seeds: the mean of the seeds' gammas with a
   Student-t interval across seeds (see :func:`pooled_gamma` for why this, and not the per-run
   interval, is the honest one);
3. each pooled gamma is compared with every human data set through
   :func:`cramcog.comparison.compare_gamma` (same family fitted to the human curves; MOVER interval of
   the difference; verdict consistent / inconclusive / different / no fit).

A run whose curve cannot be fitted (a dense baseline's constant attention, a window with fewer
than 3 points, a fit that did not converge) gets NaN and the reason, never a number.

Examples
--------
>>> from cramcog.experiments.ablations import demo_run
>>> from cramcog.experiments.gamma_study import gamma_study, gamma_study_table
>>> runs = {"demo": demo_run({"rate": 0.1, "steps": 40, "seed": 0})}
>>> ds = gamma_study(runs, windows=["peak:end", "peak:0.5*end"], human="ebbinghaus_1885")
>>> ds.attrs["record_kind"], dict(ds.sizes)["window"]
('fit', 2)
>>> gamma_study_table(ds).columns[:4].tolist()
['variant', 'window', 'gamma', 'ci_low']
"""
from __future__ import annotations

import math
import os
import warnings
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from cramcog.analysis.curves import ConsolidationWindow, cut_consolidation_curve

# peak..end (as `make reproduce` fits) plus stated alternatives: later starts (2x, 4x the peak
# step; the steepest fall) show whether gamma depends on where the fit begins, an early stop
# (half of the logged span) whether it depends on the floor the curve settles on.
DEFAULT_WINDOWS = ("peak:end", "2*peak:end", "4*peak:end", "transition:end", "peak:0.5*end")
STUDY = "gamma_study"          # the record's ``study`` attr: what gamma_study_table accepts
NO_RUN = "no run for this seed"


def _load(item: Any, what: str) -> xr.Dataset:
    if isinstance(item, (str, os.PathLike)):
        from cramcog import records

        return records.open(item)
    if isinstance(item, xr.Dataset):
        return item
    raise TypeError(f"{what}: each run is a record (xarray.Dataset) or a path to one, got "
                    f"{type(item).__name__}")


def _runs(runs: Any) -> tuple[list[tuple[str, int, xr.Dataset]], list[str]]:
    """``[(variant, seed, run)]`` and the source paths, from records, paths or ``{name: ...}``."""
    from cramcog.analysis.runs import as_runs

    what = "gamma_study"
    if isinstance(runs, (str, os.PathLike, xr.Dataset)):
        runs = [runs]
    if isinstance(runs, Mapping):
        sources = [str(v) for v in runs.values() if isinstance(v, (str, os.PathLike))]
        data: Any = {str(k): _load(v, what) for k, v in runs.items()}
    elif isinstance(runs, (list, tuple)):
        sources = [str(v) for v in runs if isinstance(v, (str, os.PathLike))]
        data = [_load(v, what) for v in runs]
    else:
        raise TypeError(f"{what} takes a record, a path, a list of them or {{name: record}}, "
                        f"got {type(runs).__name__}")
    out = as_runs(data, what=what)
    seen: dict[tuple[str, int], int] = {}
    for variant, seed, _ in out:
        if (variant, seed) in seen:
            raise ValueError(f"{what}: two runs are both variant {variant!r}, seed {seed}; name "
                             "them apart by passing {name: record} (e.g. {'cram': r1, "
                             "'no_consolidation': r2})")
        seen[(variant, seed)] = 1
    return out, sources


def _windows(windows: Any) -> list[ConsolidationWindow]:
    if isinstance(windows, (str, ConsolidationWindow)):
        windows = [windows]
    if not isinstance(windows, (list, tuple)) or not windows:
        raise TypeError("windows must be a non-empty list of 'START:STOP' strings or "
                        f"ConsolidationWindow, got {windows!r}")
    out = [ConsolidationWindow.parse(w) for w in windows]
    labels = [w.label for w in out]
    if len(set(labels)) != len(labels):
        raise ValueError(f"windows repeat: {labels}; give each window once")
    return out


def _check_family(family: str) -> str:
    from cramcog.comparison import gamma_families

    names = gamma_families()
    if not isinstance(family, str) or family not in names:
        raise ValueError(f"family {family!r} has no exponent gamma; use one of {names}")
    return family


def fit_run(run: xr.Dataset, window: ConsolidationWindow, family: str = "power",
            level: float = 0.95, seed: int = 0) -> dict:
    """Fit one run's consolidation curve in one window: gamma, its interval, or NaN + reason.

    Returns
    -------
    dict
        gamma, ci_low, ci_high, n_points, start_step, stop_step, residual_lag1 (see
        :func:`residual_lag1`), the family's other parameters (``param_<name>``) and ``reason``
        ("" when fitted).

    Examples
    --------
    >>> from cramcog.experiments.ablations import demo_run
    >>> row = fit_run(demo_run({"rate": 0.1, "steps": 40, "seed": 0}), ConsolidationWindow())
    >>> row["reason"], row["ci_low"] < row["gamma"] < row["ci_high"]
    ('', True)
    """
    from cramcog.dynamics.fit import fit_consolidation_curve

    row = {"gamma": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n_points": 0,
           "start_step": np.nan, "stop_step": np.nan, "residual_lag1": np.nan, "reason": ""}
    try:
        curve = cut_consolidation_curve(run, window)
        row.update(start_step=curve.start_step, stop_step=curve.stop_step,
                   n_points=int(curve.t.size))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fit = fit_consolidation_curve(curve.t, curve.y, family=family, level=level,
                                          seed=seed)
    except ValueError as err:  # constant attention, too few points, window off the curve
        row["reason"] = str(err).splitlines()[0]
        return row
    if not bool(fit.converged):
        row["reason"] = f"the {family} fit did not converge: {fit.message}"
        return row
    low, high = (float(v) for v in fit.ci["gamma"])
    if math.isnan(low) or math.isnan(high):
        row["reason"] = "the interval of gamma could not be computed"
        return row
    row.update(gamma=float(fit.params["gamma"]), ci_low=low, ci_high=high,
               residual_lag1=residual_lag1(curve.y - fit.predict(curve.t)))
    for name, value in fit.params.items():
        if name != "gamma":
            row[f"param_{name}"] = float(value)
    return row


def residual_lag1(residuals: np.ndarray) -> float:
    """Lag-1 autocorrelation of a fit's residuals (n,): the evidence against the per-run interval.

    Near 0 for independent scatter; near 1 when neighbouring logged steps deviate from the fitted
    law together, as training curves do. Then the effective number of independent points is
    roughly ``n (1 - r) / (1 + r)``, far below n, and the profile interval is too narrow by about
    ``sqrt((1 + r) / (1 - r))``. NaN for fewer than 4 residuals or constant residuals.

    Examples
    --------
    >>> round(residual_lag1(np.array([1.0, -1, 1, -1, 1, -1])), 2)
    -1.0
    """
    r = np.asarray(residuals, dtype=float)
    if r.size < 4:
        return float("nan")
    a, b = r[:-1] - r.mean(), r[1:] - r.mean()
    denom = float(np.sum((r - r.mean()) ** 2))
    return float(np.sum(a * b) / denom * r.size / (r.size - 1)) if denom > 0 else float("nan")


def pooled_gamma(gammas: Sequence[float], level: float = 0.95,
                 single_interval: tuple[float, float] | None = None) -> dict:
    """gamma pooled across seeds: the mean with a Student-t interval across the seeds.

    Why across seeds: the per-run profile-likelihood interval treats the logged points of one
    curve as independent draws around the fitted law. They are not: neighbouring steps share the
    same slowly changing weights, so residuals are strongly autocorrelated, and much of the
    misfit is systematic (a warm-up plateau, a floor) rather than noise. That interval is
    therefore far too narrow, and it says nothing about how gamma varies from one training run
    to the next, which is what a claim about "the" gamma of a model must cover. Seeds are
    independent replicates of the whole training, so the spread of their gammas is the honest
    uncertainty: ``mean +- t_{(1+level)/2, k-1} * sd / sqrt(k)``. It is wide when k is small (k = 2
    multiplies sd/sqrt(2) by 12.7 at 95%), which is the truth about two seeds.

    With one fitted seed there is no spread to measure: its profile interval
    (``single_interval``) is kept and the method says it is too narrow. NaN gammas (unfitted
    seeds) are left out; the count of fitted seeds is returned.

    Examples
    --------
    >>> p = pooled_gamma([0.40, 0.44, 0.48])
    >>> round(p["gamma"], 2), round(p["ci_low"], 3), round(p["ci_high"], 3), p["n_seeds"]
    (0.44, 0.341, 0.539, 3)
    """
    from cramcog.dynamics.intervals import seed_interval

    mean, low, high, sd, k = seed_interval(gammas, level)
    if k == 0:
        return {"gamma": np.nan, "ci_low": np.nan, "ci_high": np.nan, "sd": np.nan,
                "n_seeds": 0, "method": "none: no seed was fitted"}
    if k == 1:
        low, high = single_interval if single_interval is not None else (np.nan, np.nan)
        return {"gamma": mean, "ci_low": float(low), "ci_high": float(high),
                "sd": np.nan, "n_seeds": 1,
                "method": "one seed: its profile interval (too narrow: autocorrelated points)"}
    return {"gamma": mean, "ci_low": low, "ci_high": high, "sd": sd,
            "n_seeds": k, "method": f"t across {k} seeds"}


def _human_label(source: str, series: str) -> str:
    series = "" if series in (None, "nan") or (isinstance(series, float) and math.isnan(series)) \
        else str(series)
    return f"{source}/{series}" if series else str(source)


def gamma_study(runs: Any, windows: Sequence[str | ConsolidationWindow] = DEFAULT_WINDOWS,
                human: Any = "all", family: str = "power", *, level: float = 0.95,
                margin: float = 0.1, seed: int = 0, include_unreliable: bool = False
                ) -> xr.Dataset:
    """Fit gamma to every run's consolidation curve per window; pool per variant; compare.

    Parameters
    ----------
    runs
        Training or ablation records, paths to them, a list of those, or ``{name: record}`` (the
        name becomes the variant). Runs are split into ``(variant, seed)`` by
        :func:`cramcog.analysis.runs.as_runs`: training records take their config name, ablation
        cells their variant. Two runs with the same variant and seed raise ValueError.
    windows
        Fit windows, ``"START:STOP"`` strings or :class:`ConsolidationWindow` (default
        :data:`DEFAULT_WINDOWS`: peak..end, 2x and 4x the peak step..end, transition..end,
        peak..half of the logged span).
    human
        Human data sets to compare with: "all", a name, a list of names
        (:func:`cramcog.psych.list`), or None / "none" to skip the comparison.
    family
        A curve family with an exponent gamma (:func:`cramcog.comparison.gamma_families`).
    level
        Confidence level of every interval.
    margin
        Equivalence margin of the verdict (gamma units; see :mod:`cramcog.comparison.gamma`).
    seed
        Seed of the fits (optimiser restarts) and of the human fits.
    include_unreliable
        Also compare with human series flagged unreliable.

    Returns
    -------
    xarray.Dataset
        A "fit" record (``study = "gamma_study"``) with dims ``variant, seed, window`` (and
        ``human`` when compared): per run ``gamma``, ``gamma_ci_low/high``, ``n_points``,
        ``start_step``, ``stop_step``, ``reason`` ("" when fitted); per variant and window
        ``pooled_gamma``, ``pooled_ci_low/high``, ``seed_sd``, ``n_seeds``, ``n_runs``,
        ``pooled_method``, ``pooled_reason``; per human curve ``human_gamma`` and interval; per
        variant, window and human curve ``diff`` (model - human), its interval and ``verdict``.
        The window, the form, the time axis and the interval methods are stated in the attrs.

    Raises
    ------
    ValueError
        Bad windows, a family without gamma, duplicate runs, bad level / margin.
    TypeError
        Runs that are not records or paths.

    Examples
    --------
    >>> from cramcog.experiments.ablations import demo_run
    >>> runs = [demo_run({"name": "demo", "rate": 0.1, "steps": 40, "seed": s})
    ...         for s in (0, 1, 2)]           # one variant ("demo", its config name), 3 seeds
    >>> ds = gamma_study(runs, windows=["peak:end"], human=None)
    >>> ds.sizes["seed"], bool(ds.pooled_gamma.squeeze() == ds.gamma.mean())
    (3, True)
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if not (isinstance(margin, (int, float)) and 0 < margin < math.inf):
        raise ValueError(f"margin must be a positive number of gamma units, got {margin!r}")
    family = _check_family(family)
    wins = _windows(windows)
    human = None if human in (None, "none", []) else human
    runs_, sources = _runs(runs)

    variants = list(dict.fromkeys(v for v, _, _ in runs_))
    seeds = sorted({s for _, s, _ in runs_})
    V, S, W = len(variants), len(seeds), len(wins)
    fits: dict[tuple[int, int, int], dict] = {}
    for variant, s, run in runs_:
        for w, win in enumerate(wins):
            fits[variants.index(variant), seeds.index(s), w] = fit_run(run, win, family, level,
                                                                       seed)
    param_names = sorted({k for row in fits.values() for k in row if k.startswith("param_")})

    def grid(key, fill, dtype=float):
        out = np.full((V, S, W), fill, dtype=dtype)  # (variant, seed, window)
        for (v, s, w), row in fits.items():
            out[v, s, w] = row.get(key, fill)
        return out

    reason = grid("reason", NO_RUN, dtype=object)
    data = {
        "gamma": (("variant", "seed", "window"), grid("gamma", np.nan),
                  {"long_name": f"gamma of the run's {family} fit"}),
        "gamma_ci_low": (("variant", "seed", "window"), grid("ci_low", np.nan),
                         {"long_name": f"{level:g} profile-likelihood interval, low"}),
        "gamma_ci_high": (("variant", "seed", "window"), grid("ci_high", np.nan),
                          {"long_name": f"{level:g} profile-likelihood interval, high"}),
        "n_points": (("variant", "seed", "window"), grid("n_points", 0, dtype="int64"),
                     {"long_name": "logged steps in the window"}),
        "start_step": (("variant", "seed", "window"), grid("start_step", np.nan),
                       {"units": "optimizer steps", "long_name": "window start on this run"}),
        "stop_step": (("variant", "seed", "window"), grid("stop_step", np.nan),
                      {"units": "optimizer steps", "long_name": "window stop on this run"}),
        "residual_lag1": (("variant", "seed", "window"), grid("residual_lag1", np.nan),
                          {"long_name": "lag-1 autocorrelation of the fit residuals"}),
        "reason": (("variant", "seed", "window"), reason.astype(str),
                   {"long_name": "why gamma is NaN ('' when fitted)"}),
    }
    for name in param_names:
        data[name] = (("variant", "seed", "window"), grid(name, np.nan),
                      {"long_name": f"{family} parameter {name[6:]}"})

    pooled = _pool(data, fits, variants, seeds, wins, level)
    data.update(pooled)
    coords = {
        "variant": ("variant", np.array(variants, dtype=str)),
        "seed": ("seed", np.array(seeds, dtype="int64")),
        "window": ("window", np.array([w.label for w in wins], dtype=str),
                   {"long_name": "fit window START:STOP"}),
        "window_start": ("window", np.array([str(w.start) for w in wins], dtype=str)),
        "window_stop": ("window", np.array(["end" if w.stop is None else str(w.stop)
                                            for w in wins], dtype=str)),
    }
    comparison_note = "not compared (human=None)"
    if human is not None:
        comparison_note = _compare(data, coords, variants, wins, human=human, family=family,
                                   level=level, margin=margin, seed=seed,
                                   include_unreliable=include_unreliable)
    from cramcog import records
    from cramcog.dynamics.families import FAMILIES

    config = {"windows": [w.label for w in wins], "family": family, "level": level,
              "margin": margin, "seed": seed, "include_unreliable": include_unreliable,
              "human": human if isinstance(human, (str, type(None))) else
              [str(h) for h in human], "sources": sources}
    attrs = {
        "study": STUDY,
        "curve": "layer-mean attention_fraction (mean over layers) at each logged step",
        "time_axis": "t = step - window start + one logging interval (median step spacing)",
        "windows": [w.label for w in wins],
        "window_grammar": "START: peak | K*peak | transition | step; STOP: end | F*end | step",
        "family": family,
        "formula": str(getattr(FAMILIES[family], "formula", family)),
        "likelihood": "least squares (Gaussian, variance profiled out)",
        "run_interval": f"{level:g} profile likelihood per run (treats autocorrelated logged "
                        "points as independent: too narrow; see residual_lag1)",
        "pooled_interval": f"{level:g} Student-t across seeds: mean +- t * sd / sqrt(k)",
        "level": level, "margin": margin, "comparison": comparison_note,
        "sources": sources,
        "caveat": _caveat(data, variants),
    }
    return records.new_record(data, coords=coords, kind="fit", config=config, seed=seed,
                              attrs=attrs)


def _pool(data, fits, variants, seeds, wins, level) -> dict:
    V, W = len(variants), len(wins)
    out = {k: np.full((V, W), np.nan) for k in ("pooled_gamma", "pooled_ci_low",
                                                "pooled_ci_high", "seed_sd")}
    n_seeds = np.zeros((V, W), dtype="int64")
    n_runs = np.zeros((V, W), dtype="int64")
    method = np.full((V, W), "", dtype=object)
    why = np.full((V, W), "", dtype=object)
    gamma, low, high, reason = (data["gamma"][1], data["gamma_ci_low"][1],
                                data["gamma_ci_high"][1], data["reason"][1])
    for v in range(V):
        ran = [s for s in range(len(seeds)) if (v, s, 0) in fits]
        for w in range(W):
            fitted = [s for s in ran if np.isfinite(gamma[v, s, w])]
            single = (low[v, fitted[0], w], high[v, fitted[0], w]) if len(fitted) == 1 else None
            p = pooled_gamma(gamma[v, ran, w], level=level, single_interval=single)
            out["pooled_gamma"][v, w], out["seed_sd"][v, w] = p["gamma"], p["sd"]
            out["pooled_ci_low"][v, w], out["pooled_ci_high"][v, w] = p["ci_low"], p["ci_high"]
            n_seeds[v, w], n_runs[v, w], method[v, w] = p["n_seeds"], len(ran), p["method"]
            failed = sorted({str(reason[v, s, w]) for s in ran if s not in fitted})
            if not fitted:
                why[v, w] = "no seed could be fitted: " + "; ".join(failed)
            elif failed:
                why[v, w] = (f"pooled over the {len(fitted)} fitted of {len(ran)} seeds; the "
                             "others: " + "; ".join(failed))
    dims = ("variant", "window")
    return {
        "pooled_gamma": (dims, out["pooled_gamma"], {"long_name": "gamma, mean over seeds"}),
        "pooled_ci_low": (dims, out["pooled_ci_low"],
                          {"long_name": f"{level:g} t-interval across seeds, low"}),
        "pooled_ci_high": (dims, out["pooled_ci_high"],
                           {"long_name": f"{level:g} t-interval across seeds, high"}),
        "seed_sd": (dims, out["seed_sd"], {"long_name": "sd of gamma across seeds"}),
        "n_seeds": (dims, n_seeds, {"long_name": "seeds whose curve was fitted"}),
        "n_runs": (dims, n_runs, {"long_name": "seeds run"}),
        "pooled_method": (dims, method.astype(str)),
        "pooled_reason": (dims, why.astype(str),
                          {"long_name": "why the pooled gamma is NaN or partial"}),
    }


def _caveat(data, variants) -> str:
    """A warning when some variant has one fitted seed (its interval is the too-narrow one)."""
    single = sorted({variants[v] for v, w in zip(*np.nonzero(data["n_seeds"][1] == 1))})
    if not single:
        return ""
    return (f"{', '.join(single)}: one fitted seed, so the interval is that run's profile "
            "interval, which treats autocorrelated logged points as independent and is too "
            "narrow; run >= 3 seeds before reading the verdicts against the human data")


def _compare(data, coords, variants, wins, *, human, family, level, margin, seed,
             include_unreliable) -> str:
    """compare_gamma for every (variant, window) pooled gamma; fills ``data``/``coords``."""
    from cramcog.comparison import ReportedGamma, compare_gamma

    V, W = len(variants), len(wins)
    pooled = data["pooled_gamma"][1]
    low, high = data["pooled_ci_low"][1], data["pooled_ci_high"][1]
    tables: dict[tuple[int, int], pd.DataFrame] = {}
    skipped: dict[tuple[int, int], str] = {}
    for v in range(V):
        for w in range(W):
            g, lo, hi = pooled[v, w], low[v, w], high[v, w]
            if not all(np.isfinite([g, lo, hi])):
                skipped[v, w] = ("no pooled gamma" if not np.isfinite(g) else
                                 "the pooled interval is unbounded or undefined")
                continue
            model = ReportedGamma(float(g), (float(lo), float(hi)), family=family, level=level,
                                  label=f"{variants[v]} [{wins[w].label}]")
            tables[v, w] = compare_gamma(model, human=human, family=family, level=level,
                                         margin=margin, include_unreliable=include_unreliable,
                                         seed=seed)
    if not tables:
        return "nothing compared: no variant has a pooled gamma with a finite interval"
    first = next(iter(tables.values()))
    labels = [_human_label(s, r) for s, r in zip(first["source"], first["series"])]
    H = len(labels)
    dims = ("variant", "window", "human")
    cols = {k: np.full((V, W, H), np.nan) for k in ("diff", "diff_ci_low", "diff_ci_high")}
    verdict = np.full((V, W, H), "no fit", dtype=object)
    for (v, w), table in tables.items():
        for k in cols:
            cols[k][v, w] = table[k].to_numpy(dtype=float)
        verdict[v, w] = table["verdict"].astype(str).to_numpy()
    data.update({
        "human_gamma": (("human",), first["gamma"].to_numpy(dtype=float),
                        {"long_name": f"human gamma ({family}, same fit method)"}),
        "human_ci_low": (("human",), first["ci_low"].to_numpy(dtype=float)),
        "human_ci_high": (("human",), first["ci_high"].to_numpy(dtype=float)),
        "diff": (dims, cols["diff"], {"long_name": "pooled model gamma - human gamma"}),
        "diff_ci_low": (dims, cols["diff_ci_low"],
                        {"long_name": f"{level:g} MOVER interval of diff, low"}),
        "diff_ci_high": (dims, cols["diff_ci_high"],
                         {"long_name": f"{level:g} MOVER interval of diff, high"}),
        "verdict": (dims, verdict.astype(str),
                    {"long_name": "consistent | inconclusive | different | no fit"}),
    })
    coords["human"] = ("human", np.array(labels, dtype=str))
    for col in ("source", "series", "t_units", "measure", "reliability", "note"):
        coords[f"human_{col}"] = ("human", first[col].fillna("").astype(str).to_numpy())
    note = "MOVER interval of the difference, verdict at margin " + f"{margin:g}"
    if skipped:
        note += "; not compared: " + "; ".join(
            f"{variants[v]} [{wins[w].label}] ({why})" for (v, w), why in skipped.items())
    return note


def gamma_study_table(ds: xr.Dataset, part: str = "pooled") -> pd.DataFrame:
    """A tidy view of a :func:`gamma_study` record.

    Parameters
    ----------
    ds
        The record (from :func:`gamma_study` or :func:`cramcog.records.open`).
    part
        ``"pooled"`` (default): one row per variant and window - pooled gamma, interval, seeds,
        method, reason and the count of each verdict against the human data; ``"runs"``: one
        row per run and window; ``"comparison"``: one row per variant, window and human curve.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> from cramcog.experiments.ablations import demo_run
    >>> ds = gamma_study({"demo": demo_run({"rate": 0.1, "steps": 40, "seed": 0})},
    ...                  windows=["peak:end"], human=None)
    >>> gamma_study_table(ds, "runs")[["variant", "seed", "window"]].values.tolist()
    [['demo', 0, 'peak:end']]
    """
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"gamma_study_table needs the Dataset from gamma_study, got "
                        f"{type(ds).__name__}")
    if ds.attrs.get("study") != STUDY:
        raise ValueError("this Dataset is not a gamma_study record (no study='gamma_study' "
                         "attr); make one with cramcog.experiments.gamma_study.gamma_study")
    parts = ("pooled", "runs", "comparison")
    if part not in parts:
        raise ValueError(f"part must be one of {parts}, got {part!r}")
    if part == "runs":
        names = ["gamma", "gamma_ci_low", "gamma_ci_high", "n_points", "start_step",
                 "stop_step", "residual_lag1", "reason"]
        df = ds[names].to_dataframe().reset_index()
        df = df[df.reason != NO_RUN].rename(columns={"gamma_ci_low": "ci_low",
                                                     "gamma_ci_high": "ci_high"})
        return df[["variant", "seed", "window", "gamma", "ci_low", "ci_high", "n_points",
                   "start_step", "stop_step", "residual_lag1", "reason"]].reset_index(drop=True)
    if part == "comparison":
        if "verdict" not in ds:
            raise ValueError(f"this gamma study has no comparison ({ds.attrs.get('comparison')})")
        names = ["pooled_gamma", "pooled_ci_low", "pooled_ci_high", "human_gamma",
                 "human_ci_low", "human_ci_high", "diff", "diff_ci_low", "diff_ci_high",
                 "verdict"]
        df = ds[names].to_dataframe().reset_index()
        return df[["variant", "window", "human"] + names].reset_index(drop=True)
    names = ["pooled_gamma", "pooled_ci_low", "pooled_ci_high", "seed_sd", "n_seeds", "n_runs",
             "pooled_method", "pooled_reason"]
    counts = {}
    if "verdict" in ds:  # how many human curves give each verdict
        for name in ("consistent", "inconclusive", "different", "no fit"):
            counts[f"n_{name.replace(' ', '_')}"] = (ds["verdict"] == name).sum("human")
    df = ds[names].assign(counts).to_dataframe().reset_index()
    df = df.rename(columns={"pooled_gamma": "gamma", "pooled_ci_low": "ci_low",
                            "pooled_ci_high": "ci_high", "pooled_method": "method",
                            "pooled_reason": "reason"})
    return df[["variant", "window", "gamma", "ci_low", "ci_high", "seed_sd", "n_seeds",
               "n_runs", "method", "reason", *counts]].reset_index(drop=True)


def collect_runs(paths: Sequence[str | os.PathLike]) -> list[xr.Dataset]:
    """Open record files and run folders for :func:`gamma_study`: one record per run
    (:func:`cramcog.analysis.runs.load_runs`: ``NAME=PATH[,PATH...]`` names runs, folders are
    searched, runs that would share a variant and a seed are named by their folder).

    Examples
    --------
    >>> collect_runs(["/no/such/dir"])  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    FileNotFoundError: no record or run folder at /no/such/dir
    """
    from cramcog.analysis.runs import load_runs

    return load_runs(paths, what="the gamma study")
