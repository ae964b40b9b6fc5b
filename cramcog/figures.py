"""Every paper figure, regenerated from records alone.

Each figure function takes records (xarray Datasets from :mod:`cramcog.records`) and returns the
figure (a seaborn ``FacetGrid`` or a matplotlib ``Figure``); nothing reads a model or a log. The
records are first turned into tidy pandas DataFrames (``*_frame`` functions, useful on their own),
then drawn with seaborn. :func:`figures_for` dispatches on the record kind (``ds.cram.kind``) and is
what ``cramcog figures RECORDS... --out DIR`` runs.

Record kinds and their figures
------------------------------
- ``training`` (dims ``step, layer``; ``attention_fraction``, ``retrieval_accuracy`` at
  ``eval_step``...): attention use over training (:func:`plot_attention_over_training`), the
  consolidation curve with its fitted power law over human curves (:func:`plot_consolidation`);
  several training records together also give accuracy vs attention.
- ``ablation`` (the same with leading ``variant, seed`` dims, from :mod:`cramcog.ablations`):
  attention over training per variant, accuracy vs attention (:func:`plot_accuracy_vs_attention`),
  ablation panels (:func:`plot_ablation_panels`), gamma per variant and seed (:func:`plot_gammas`;
  its sensitivity to the fit window: :func:`plot_gamma_windows`).
- ``comparison`` (a :func:`cramcog.compare_gamma` table as a record, or the DataFrame itself):
  the gamma forest plot (:func:`plot_gamma_comparison`).
- ``transfer``: attention reduction bars (:func:`plot_transfer`); schema in its docstring.
- ``scaling``: Theorem 1, attention vs pattern frequency x length (:func:`plot_scaling`).

Phase transition (documented choice): the step where the smoothed log attention fraction falls
fastest per optimizer step (:func:`detect_phase_transition`).

Examples
--------
>>> import matplotlib; matplotlib.use("Agg")
>>> from cramcog.ablations import demo_run
>>> from cramcog import figures
>>> ds = demo_run({"rate": 0.05, "steps": 40, "seed": 0})
>>> grid = figures.plot_attention_over_training(ds)
>>> figures.final_metrics(ds)[["final_attention", "accuracy_overall"]].shape
(1, 2)
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

FIGURE_KINDS = ("training", "ablation", "comparison", "transfer", "scaling")
QUERY_KINDS = ("overall", "recurring", "novel")
PAPER_GAMMA = (0.43, 0.04)            # the paper's gamma +- its reported uncertainty
PAPER_TRANSFER_REDUCTION = (0.48, 0.52)  # the paper's transfer attention reduction band


class FigureError(ValueError):
    """A record that cannot be drawn: wrong kind, or missing what the figure needs."""


# ----------------------------------------------------------------------------- record helpers

def _check_record(ds: Any, kinds: Sequence[str], what: str) -> xr.Dataset:
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"{what} needs an xarray.Dataset record, got {type(ds).__name__}")
    kind = str(ds.attrs.get("record_kind", ""))
    if not kind:
        raise FigureError(f"{what}: this Dataset is not a cramcog record (no record_kind attr); "
                          "build it with cramcog.records.new_record")
    if kind not in kinds:
        raise FigureError(f"{what} draws {' or '.join(kinds)} records, got a {kind!r} record")
    return ds


def _need(ds: xr.Dataset, names: Iterable[str], what: str) -> None:
    missing = [n for n in names if n not in ds.variables]
    if missing:
        raise FigureError(f"{what}: the {ds.attrs.get('record_kind', '?')} record has no "
                          f"{missing} (it has {sorted(map(str, ds.data_vars))})")


def _run_name(ds: xr.Dataset, i: int) -> str:
    for key in ("ablation_variant", "run_name", "name"):
        if ds.attrs.get(key):
            return str(ds.attrs[key])
    try:
        name = json.loads(ds.attrs.get("config_json", "{}")).get("name")
    except (TypeError, json.JSONDecodeError):
        name = None
    return str(name) if name else f"run{i}"


def as_runs(data: Any, kinds: Sequence[str] = ("training", "ablation"),
            what: str = "figure") -> list[tuple[str, int, xr.Dataset]]:
    """Split records into single runs: ``[(variant, seed, run Dataset with dims step, layer...)]``.

    ``data``: a training or ablation record, a list of them, or ``{name: record}``. Cells of an
    ablation record that did not finish (status != "ok") are left out.
    """
    if isinstance(data, xr.Dataset):
        items = [(None, data)]
    elif isinstance(data, Mapping):
        items = list(data.items())
    elif isinstance(data, (list, tuple)):
        items = [(None, d) for d in data]
    else:
        raise TypeError(f"{what} takes a record, a list of records or {{name: record}}, got "
                        f"{type(data).__name__}")
    if not items:
        raise ValueError(f"{what}: no records given")
    runs = []
    for i, (name, ds) in enumerate(items):
        _check_record(ds, kinds, what)
        if ds.cram.kind == "ablation":
            status = ds["status"] if "status" in ds else None
            for variant in ds["variant"].values:
                for seed in ds["seed"].values:
                    if status is not None and str(status.sel(variant=variant, seed=seed).values) \
                            != "ok":
                        continue
                    run = ds.sel(variant=variant, seed=seed).drop_vars(
                        [v for v in ("variant", "seed") if v in ds.coords])
                    # a cell is a run record again: its own kind, config and seed
                    run.attrs = dict(ds.attrs)
                    run.attrs.update(
                        record_kind=str(ds.attrs.get("cell_kind") or "training").split(",")[0],
                        seed=int(seed), ablation_variant=str(variant))
                    if "cell_config_json" in run:
                        run.attrs["config_json"] = str(run["cell_config_json"].values) or "{}"
                        run = run.drop_vars(["cell_config_json", "status", "error"],
                                            errors="ignore")
                    label = f"{name}:{variant}" if name else str(variant)
                    runs.append((label, int(seed), _drop_all_nan_steps(run)))
        else:
            seed = int(ds.attrs.get("seed", -1))
            runs.append((str(name) if name else _run_name(ds, i), seed, ds))
    if not runs:
        raise FigureError(f"{what}: no finished runs in the records (every cell failed or is "
                          "pending)")
    return runs


def _drop_all_nan_steps(run: xr.Dataset) -> xr.Dataset:
    """Steps that only exist in OTHER cells of an ablation (outer join) are all-NaN: drop them."""
    for dim in ("step", "eval_step"):
        if dim not in run.dims:
            continue
        keep = np.zeros(run.sizes[dim], dtype=bool)
        for var in run.data_vars.values():
            if dim in var.dims and var.dtype.kind == "f":
                other = [d for d in var.dims if d != dim]
                keep |= (np.isfinite(var).any(other) if other else np.isfinite(var)).values
        run = run.isel({dim: np.flatnonzero(keep)})
    return run


def attention_frame(data: Any, variable: str = "attention_fraction") -> pd.DataFrame:
    """Tidy frame of a per-(step, layer) variable: columns variant, seed, step, layer, value.

    Examples
    --------
    >>> from cramcog.ablations import demo_run
    >>> attention_frame(demo_run({"rate": 0.1, "steps": 3, "seed": 0})).columns.tolist()
    ['variant', 'seed', 'step', 'layer', 'attention_fraction']
    """
    frames = []
    for variant, seed, run in as_runs(data, what="attention_frame"):
        _need(run, [variable], "attention_frame")
        df = run[variable].to_dataframe(name=variable).reset_index()
        if "layer" not in df:
            df["layer"] = 0
        df = df[["step", "layer", variable]].dropna()
        df.insert(0, "seed", seed)
        df.insert(0, "variant", variant)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def accuracy_of(run: xr.Dataset, kind: str = "overall") -> xr.DataArray | None:
    """Retrieval accuracy over evaluation steps for one query kind, or None if the run has none.

    Accepts ``retrieval_accuracy(eval_step, query_kind)`` (DESIGN.md) or one variable per kind
    (``retrieval_accuracy_<kind>``).
    """
    if "retrieval_accuracy" in run and "query_kind" in run["retrieval_accuracy"].dims:
        labels = [str(v) for v in run["query_kind"].values]
        if kind in labels:
            return run["retrieval_accuracy"].isel(query_kind=labels.index(kind))
        return None
    for name in (f"retrieval_accuracy_{kind}", f"accuracy_{kind}"):
        if name in run:
            return run[name]
    if kind == "overall" and "retrieval_accuracy" in run:
        return run["retrieval_accuracy"]
    return None


def _eval_dim(da: xr.DataArray) -> str | None:
    return da.dims[0] if da.ndim == 1 else None


def _last_finite(da: xr.DataArray | None) -> float:
    if da is None:
        return float("nan")
    values = np.asarray(da.values, dtype=float).ravel()
    values = values[np.isfinite(values)]
    return float(values[-1]) if values.size else float("nan")


@dataclasses.dataclass
class PhaseTransition:
    """Where attention use falls fastest: ``step``, the log-slope there, and the fall ratio."""

    step: int                  # optimizer step of the steepest fall
    slope: float               # d log(attention) / d step there (< 0)
    peak_step: int             # step of the (smoothed) peak
    fall_ratio: float          # smoothed peak / smoothed final attention


def detect_phase_transition(step: Sequence, attention: Sequence,
                            smooth: int | None = None, min_fall: float = 2.0
                            ) -> PhaseTransition | None:
    """The step of the steepest fall of (smoothed) log attention; None if attention never falls
    by at least ``min_fall`` times from its smoothed peak (noise on a flat curve is no transition).

    The attention fraction is logged, smoothed by a centred running mean over ``smooth`` points
    (default: max(3, n // 15), odd) to keep single noisy steps from winning, and differentiated
    per optimizer step (``numpy.gradient`` on the step coordinate, so uneven logging is fine). The
    transition is the step of the most negative slope, searched AFTER the smoothed peak (a fall
    before the peak is a warm-up artefact, not consolidation). ``min_fall`` (>= 1) is the least
    fall from the smoothed peak that counts as a transition.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.arange(0, 4000, 20)
    >>> a = 0.02 + 0.5 / (1 + np.exp((s - 3000) / 100))     # a sigmoid fall at step 3000
    >>> abs(detect_phase_transition(s, a).step - 3000) <= 200  # log falls fastest just after
    True
    """
    step = np.asarray(step, dtype=float)
    a = np.asarray(attention, dtype=float)
    if step.ndim != 1 or step.shape != a.shape:
        raise ValueError(f"step and attention must be 1-D of the same length, got {step.shape} "
                         f"and {a.shape}")
    ok = np.isfinite(a) & np.isfinite(step) & (a > 0)
    step, a = step[ok], a[ok]
    if a.size < 3:
        return None
    if not (isinstance(min_fall, (int, float)) and min_fall >= 1):
        raise ValueError(f"min_fall must be a number >= 1, got {min_fall!r}")
    w = smooth if smooth is not None else max(3, a.size // 15)
    if not isinstance(w, (int, np.integer)) or w < 1:
        raise ValueError(f"smooth must be a positive int (points), got {smooth!r}")
    w = min(int(w) | 1, a.size - (1 - a.size % 2))  # odd, at most the length
    log_a = np.log(a)
    pad = w // 2
    padded = np.pad(log_a, pad, mode="edge")
    smooth_log = np.convolve(padded, np.ones(w) / w, mode="valid")  # (n,)
    peak = int(np.argmax(smooth_log))
    if peak >= a.size - 2:
        return None
    slope = np.gradient(smooth_log, step)
    i = peak + int(np.argmin(slope[peak:]))
    fall = float(np.exp(smooth_log[peak] - smooth_log[peak:].min()))
    if slope[i] >= 0 or fall < min_fall:
        return None
    return PhaseTransition(step=int(round(step[i])), slope=float(slope[i]),
                           peak_step=int(round(step[peak])),
                           fall_ratio=float(np.exp(smooth_log[peak] - smooth_log[-1])))


def _mean_attention(run: xr.DataArray) -> xr.DataArray:
    other = [d for d in run.dims if d != "step"]
    return run.mean(other) if other else run


def final_metrics(data: Any, tail: float = 0.1) -> pd.DataFrame:
    """One row per run: final/peak attention, fall ratio, transition, accuracies, dynamics MSE.

    Held-out numbers come first: ``final_attention``, the accuracies and ``dynamics_mse`` are the
    record's test-split results (``test_*`` variables: argmax routes, no replay) where it has
    them, else its last held-out evaluation, else (attention only) the training tail.
    ``train_final_attention`` is the layer-mean training attention over the last ``tail``
    fraction of logged steps, ``peak_attention`` the maximum of the layer-mean training curve and
    ``fall_ratio`` their ratio (both training curves, so sampling and replay count alike).
    ``attention_floor`` is the record's (NaN if absent).

    Examples
    --------
    >>> from cramcog.ablations import demo_run
    >>> m = final_metrics(demo_run({"rate": 0.1, "steps": 30, "seed": 0}))
    >>> bool(m.fall_ratio.iloc[0] > 1)
    True
    """
    if not 0 < tail <= 1:
        raise ValueError(f"tail must be in (0, 1], got {tail}")
    rows = []
    for variant, seed, run in as_runs(data, what="final_metrics"):
        _need(run, ["attention_fraction"], "final_metrics")
        mean = _mean_attention(run["attention_fraction"]).dropna("step")
        n_tail = max(1, int(round(tail * mean.sizes["step"])))
        pt = detect_phase_transition(mean["step"].values, mean.values)
        train_final = float(mean.values[-n_tail:].mean())
        row = {"variant": variant, "seed": seed,
               "final_attention": _held_out(run, "attention_fraction", train_final),
               "train_final_attention": train_final,
               "peak_attention": float(mean.max()),
               "fall_ratio": float(mean.max() / mean.values[-n_tail:].mean()),
               "transition_step": pt.step if pt else np.nan,
               "attention_floor": _scalar(run, "attention_floor")}
        if "attention_flops_ratio" in run:
            flops = _mean_attention(run["attention_flops_ratio"]).dropna("step")
            row["final_flops_ratio"] = float(flops.values[-n_tail:].mean())
        test = run.get("test_retrieval_accuracy")
        for kind in QUERY_KINDS:
            if test is not None and "query_kind" in test.dims and \
                    kind in [str(k) for k in test["query_kind"].values]:
                row[f"accuracy_{kind}"] = float(test.sel(query_kind=kind))
            else:
                row[f"accuracy_{kind}"] = _last_finite(accuracy_of(run, kind))
        if "test_dynamics_mse" in run and np.isfinite(float(run["test_dynamics_mse"])):
            row["dynamics_mse"] = float(run["test_dynamics_mse"])
        else:
            row["dynamics_mse"] = _last_finite(run["dynamics_mse"]) if "dynamics_mse" in run \
                else np.nan
        if "parameter_value" in run.coords:
            row["parameter_value"] = float(run["parameter_value"])
        rows.append(row)
    return pd.DataFrame(rows)


def _held_out(run: xr.Dataset, name: str, fallback: float) -> float:
    """Layer-mean of ``test_<name>`` (or the last ``eval_<name>``), else ``fallback``."""
    test = run.get(f"test_{name}")
    if test is not None and np.isfinite(test.values).any():
        return float(np.nanmean(test.values))
    ev = run.get(f"eval_{name}")
    if ev is not None and "eval_step" in ev.dims:
        layer_mean = ev.mean([d for d in ev.dims if d != "eval_step"])
        value = _last_finite(layer_mean)
        if np.isfinite(value):
            return value
    return fallback


def _scalar(run: xr.Dataset, name: str) -> float:
    if name in run.variables:
        return float(np.nanmean(run[name].values))
    value = run.attrs.get(name)
    return float(value) if isinstance(value, (int, float, np.number)) else float("nan")


# ----------------------------------------------------------------------------- plotting helpers

def _plt():
    import matplotlib.pyplot as plt

    return plt


def _sns():
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper")
    return sns


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 150) -> Path:
    """Write a Figure or FacetGrid to ``path`` (format from the suffix) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure = getattr(fig, "figure", fig)
    if hasattr(figure, "get_figure") and not hasattr(figure, "savefig"):
        figure = figure.get_figure()
    figure.savefig(path, dpi=dpi, bbox_inches="tight")
    _plt().close(figure)
    return path


def _loglog(ax, x: bool = True, y: bool = True) -> None:
    """Log axes; minor tick labels only where the data span less than a decade (else they
    collide), and then short ("0.954") rather than scientific."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    short = FuncFormatter(lambda v, _: f"{v:.3g}")
    for on, axis, set_scale, get_lim in ((x, ax.xaxis, ax.set_xscale, ax.get_xlim),
                                         (y, ax.yaxis, ax.set_yscale, ax.get_ylim)):
        if not on:
            continue
        set_scale("log")
        lo, hi = get_lim()
        narrow = lo > 0 and hi / lo < 10
        axis.set_minor_formatter(short if narrow else NullFormatter())
        if narrow:
            axis.set_major_formatter(short)


# ----------------------------------------------------------------------------- attention

def plot_attention_over_training(data: Any, mark_transition: bool = True):
    """Attention fraction per layer over training, log-log, with the phase transition marked.

    One panel per variant (seeds averaged, band = range over seeds). The dashed grey line is the
    attention floor (the novel-query rate) where the record has it; the dotted red line the
    transition of the layer-mean curve (:func:`detect_phase_transition`). Step 0 is left off the
    log x axis.

    Returns
    -------
    seaborn.FacetGrid

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from cramcog.ablations import demo_run
    >>> g = plot_attention_over_training(demo_run({"rate": 0.1, "steps": 30, "seed": 0}))
    >>> g.axes.flat[0].get_yscale()
    'log'
    """
    sns = _sns()
    df = attention_frame(data)
    df = df[(df.step > 0) & (df.attention_fraction > 0)]
    if df.empty:
        raise FigureError("plot_attention_over_training: no positive steps with attention > 0")
    df["layer"] = df["layer"].astype(str)
    variants = list(dict.fromkeys(df.variant))
    grid = sns.relplot(data=df, x="step", y="attention_fraction", hue="layer", col="variant",
                       col_order=variants, col_wrap=min(4, len(variants)), kind="line",
                       errorbar=("pi", 100), height=3, aspect=1.2, facet_kws={"sharey": True})
    runs = {v: [] for v in variants}
    for variant, seed, run in as_runs(data, what="plot_attention_over_training"):
        runs[variant].append(run)
    for ax, variant in zip(grid.axes.flat, variants):
        _loglog(ax)
        floor = np.nanmean([_scalar(r, "attention_floor") for r in runs[variant]])
        if np.isfinite(floor) and floor > 0:
            ax.axhline(floor, color="0.4", ls="--", lw=1, label="floor")
        if mark_transition:
            sub = df[df.variant == variant].groupby("step").attention_fraction.mean()
            pt = detect_phase_transition(sub.index.values, sub.values)
            if pt is not None:
                ax.axvline(pt.step, color="tab:red", ls=":", lw=1.5)
                ax.annotate(f"transition ~{pt.step}\nfall {pt.fall_ratio:.1f}x",
                            (pt.step, ax.get_ylim()[0]), xytext=(4, 6),
                            textcoords="offset points", fontsize=7, color="tab:red")
    grid.set_axis_labels("optimizer step", "attention fraction (tokens)")
    grid.set_titles("{col_name}")
    return grid


def plot_accuracy_vs_attention(data: Any):
    """Final retrieval accuracy against final attention fraction, every run of every variant.

    One panel per query kind (overall, recurring, novel) present in the records; one point per
    (variant, seed); the floor (novel-query rate) as a dashed line.

    Returns
    -------
    seaborn.FacetGrid

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from cramcog.ablations import demo_run
    >>> runs = {"a": demo_run({"rate": 0.1, "steps": 20, "seed": 0}),
    ...         "b": demo_run({"rate": 0.01, "steps": 20, "seed": 0})}
    >>> plot_accuracy_vs_attention(runs).axes.size
    3
    """
    sns = _sns()
    m = final_metrics(data)
    cols = [f"accuracy_{k}" for k in QUERY_KINDS if m[f"accuracy_{k}"].notna().any()]
    if not cols:
        raise FigureError("plot_accuracy_vs_attention: the records have no retrieval_accuracy")
    long = m.melt(id_vars=["variant", "seed", "final_attention", "attention_floor"],
                  value_vars=cols, var_name="query_kind", value_name="accuracy")
    long["query_kind"] = long.query_kind.str.replace("accuracy_", "", regex=False)
    grid = sns.relplot(data=long, x="final_attention", y="accuracy", hue="variant",
                       style="variant", col="query_kind", kind="scatter", s=60, height=3,
                       aspect=1.1)
    floor = np.nanmean(m.attention_floor.values) if m.attention_floor.notna().any() else np.nan
    for ax in grid.axes.flat:
        _loglog(ax, y=False)
        if np.isfinite(floor) and floor > 0:
            ax.axvline(floor, color="0.4", ls="--", lw=1)
    grid.set_axis_labels("final attention fraction (tokens, log)", "retrieval accuracy")
    grid.set_titles("{col_name} queries")
    return grid


# ----------------------------------------------------------------------------- consolidation

@dataclasses.dataclass
class ConsolidationWindow:
    """How a consolidation curve is cut from a training run (stated with every gamma).

    ``start``: "peak" (the smoothed attention peak, default) or an optimizer step;
    ``stop``: None (the last step) or a step. Time in the fit is ``t = step - start + dt`` with
    ``dt`` the logging interval, so the first point sits at one interval after the start.
    """

    start: Any = "peak"        # "peak" or an int step where the curve begins
    stop: int | None = None    # last step included (None: the end of training)

    def __post_init__(self):
        if not (self.start == "peak" or isinstance(self.start, (int, np.integer))):
            raise ValueError(f"window start must be 'peak' or an int step, got {self.start!r}")
        if self.stop is not None and not isinstance(self.stop, (int, np.integer)):
            raise ValueError(f"window stop must be None or an int step, got {self.stop!r}")


def consolidation_curve(run: xr.Dataset, window: ConsolidationWindow | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """``(t, y)``: the layer-mean attention fraction inside the window, t in steps since start.

    Examples
    --------
    >>> from cramcog.ablations import demo_run
    >>> t, y = consolidation_curve(demo_run({"rate": 0.1, "steps": 30, "seed": 0}))
    >>> bool(t[0] > 0 and y.size == t.size)
    True
    """
    window = window or ConsolidationWindow()
    _need(run, ["attention_fraction"], "consolidation_curve")
    mean = _mean_attention(run["attention_fraction"]).dropna("step")
    step = mean["step"].values.astype(float)
    y = mean.values.astype(float)
    if y.size < 3:
        raise FigureError(f"consolidation_curve: {y.size} logged steps; need at least 3")
    if window.start == "peak":
        pt = detect_phase_transition(step, y)
        start = float(pt.peak_step) if pt else float(step[int(np.argmax(y))])
    else:
        start = float(window.start)
    stop = float(window.stop) if window.stop is not None else step[-1]
    keep = (step >= start) & (step <= stop) & (y > 0)
    if keep.sum() < 3:
        raise FigureError(f"consolidation window [{start:g}, {stop:g}] holds {keep.sum()} "
                          "points with attention > 0; need at least 3 (widen the window)")
    dt = float(np.median(np.diff(step))) if step.size > 1 else 1.0
    return step[keep] - start + dt, y[keep]


def fit_power(t: np.ndarray, y: np.ndarray, n: np.ndarray | None = None):
    """The power-law fit of a curve with :func:`cramcog.dynamics.fit_consolidation_curve`."""
    from cramcog.dynamics import fit_consolidation_curve

    return fit_consolidation_curve(t, y, n=n, family="power")


def _gamma_text(fit) -> str:
    if isinstance(fit, str):
        return f"no fit: {fit[:40]}"
    lo, hi = fit.ci["gamma"]
    flag = "" if getattr(fit, "converged", True) else " (not converged)"
    return f"gamma={fit.params['gamma']:.2f} [{lo:.2f}, {hi:.2f}]{flag}"


def consolidation_frame(data: Any, human: str | Sequence[str] | None = "all",
                        window: ConsolidationWindow | None = None
                        ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Tidy consolidation curves (model runs + human curves) and their power-law fits.

    Returns ``(frame, fits)``: frame columns source, kind ("model" | "human"), t, y, y_fit; fits
    ``{source: fit result}``, or the reason (str) where a curve cannot be fitted (a constant
    attention fraction, as in a dense baseline; ``y_fit`` is NaN there). Model runs are averaged over seeds per variant. Human curves come
    from :func:`cramcog.psych.curves` (``human``: "all", a list of data set names, or None).
    """
    rows, fits = [], {}
    by_variant: dict[str, list] = {}
    for variant, seed, run in as_runs(data, what="consolidation_frame"):
        by_variant.setdefault(variant, []).append(consolidation_curve(run, window))
    for variant, curves in by_variant.items():
        t = curves[0][0]
        if all(c[0].shape == t.shape and np.allclose(c[0], t) for c in curves):
            y = np.mean([c[1] for c in curves], axis=0)
        else:  # seeds with different windows: pool them
            t = np.concatenate([c[0] for c in curves])
            y = np.concatenate([c[1] for c in curves])
            order = np.argsort(t, kind="stable")
            t, y = t[order], y[order]
        try:
            fit = fit_power(t, y)
        except ValueError as err:  # constant attention (dense baselines): data without a fit
            fit, y_fit = str(err), np.full_like(y, np.nan)
        else:
            y_fit = fit.predict(t)
        fits[f"model: {variant}"] = fit
        rows.append(pd.DataFrame({"source": f"model: {variant}", "kind": "model", "t": t, "y": y,
                                  "y_fit": y_fit}))
    for curve in _human_curves(human):
        c = curve.positive()
        if c.t.size < 3:
            continue
        fit = fit_power(c.t, c.y, c.n)
        fits[c.label] = fit
        rows.append(pd.DataFrame({"source": c.label, "kind": "human", "t": c.t, "y": c.y,
                                  "y_fit": fit.predict(c.t)}))
    return pd.concat(rows, ignore_index=True), fits


def _human_curves(human):
    if human is None or human == "none" or human == []:
        return []
    from cramcog import psych

    if human == "all":
        return psych.all_curves()
    if isinstance(human, str):
        human = [human]
    return [c for name in human for c in psych.curves(name)]


def plot_consolidation(data: Any, human: str | Sequence[str] | None = "all",
                       window: ConsolidationWindow | None = None):
    """The consolidation curve with its fitted power law, beside human curves fitted the same way.

    One log-log panel per source (model variants first, then each human curve), each with the
    data (points), the power-law fit (line) and gamma with its 95% interval in the title. Model
    curves: layer-mean attention fraction from the peak (:class:`ConsolidationWindow`), seeds
    averaged. Axes are not shared: the model's time is optimizer steps, the humans' their delays.

    Returns
    -------
    seaborn.FacetGrid
    """
    sns = _sns()
    df, fits = consolidation_frame(data, human=human, window=window)
    order = list(dict.fromkeys(df.source))
    grid = sns.FacetGrid(df, col="source", col_order=order, hue="kind",
                         hue_order=["model", "human"], col_wrap=min(4, len(order)), height=2.6,
                         sharex=False, sharey=False)
    grid.map_dataframe(sns.scatterplot, x="t", y="y", s=14)
    grid.map_dataframe(sns.lineplot, x="t", y="y_fit", color="black", lw=1.2)
    for ax, source in zip(grid.axes.flat, order):
        _loglog(ax)
        ax.set_title(f"{source}\n{_gamma_text(fits[source])}", fontsize=8)
    grid.set_axis_labels("time since start (steps / delay units)", "attention / retention")
    return grid


# ----------------------------------------------------------------------------- gamma

def gamma_frame(data: Any, window: ConsolidationWindow | Sequence[ConsolidationWindow] | None
                = None) -> pd.DataFrame:
    """Power-law gamma of every run's consolidation curve, for one fit window or several.

    Columns: variant, seed, window_start, window_stop (as given: "peak" or a step; stop -1 = the
    end), gamma, ci_low, ci_high, converged, message. A curve that cannot be fitted (e.g. the
    constant attention of a dense baseline) gets NaN and the reason in ``message``, never a
    number. Several windows give the sensitivity of gamma to the fit window.

    Examples
    --------
    >>> from cramcog.ablations import demo_run
    >>> run = demo_run({"rate": 0.1, "steps": 30, "seed": 0})
    >>> gamma_frame(run).columns.tolist()[:3]
    ['variant', 'seed', 'window_start']
    >>> len(gamma_frame(run, [ConsolidationWindow(), ConsolidationWindow(start=100)]))
    2
    """
    if window is None or isinstance(window, ConsolidationWindow):
        windows = [window or ConsolidationWindow()]
    else:
        windows = list(window)
        if not windows or not all(isinstance(w, ConsolidationWindow) for w in windows):
            raise TypeError("window must be a ConsolidationWindow or a non-empty list of them")
    rows = []
    for variant, seed, run in as_runs(data, what="gamma_frame"):
        for win in windows:
            row = {"variant": variant, "seed": seed, "window_start": str(win.start),
                   "window_stop": -1 if win.stop is None else int(win.stop), "gamma": np.nan,
                   "ci_low": np.nan, "ci_high": np.nan, "converged": False, "message": ""}
            try:
                fit = fit_power(*consolidation_curve(run, win))
            except ValueError as err:  # e.g. a constant attention curve: nothing to fit
                row["message"] = str(err)
            else:
                lo, hi = fit.ci["gamma"]
                row.update(gamma=float(fit.params["gamma"]), ci_low=float(lo),
                           ci_high=float(hi), converged=bool(getattr(fit, "converged", True)),
                           message=str(getattr(fit, "message", "")))
            rows.append(row)
    return pd.DataFrame(rows)


def plot_gamma_windows(data: Any, windows: Sequence[ConsolidationWindow]):
    """Sensitivity of gamma to the fit window: gamma (95% interval) per window start, per variant.

    Returns
    -------
    seaborn.FacetGrid
    """
    sns = _sns()
    g = gamma_frame(data, windows).dropna(subset=["gamma"])
    if g.empty:
        raise FigureError("plot_gamma_windows: no run has a fittable curve in these windows")
    g["window"] = [f"{a}..{'end' if b < 0 else b}" for a, b in zip(g.window_start,
                                                                     g.window_stop)]
    order = list(dict.fromkeys(f"{w.start}..{'end' if w.stop is None else w.stop}"
                               for w in windows))
    grid = sns.catplot(data=g, x="window", y="gamma", hue="variant", kind="point",
                       order=[o for o in order if o in set(g.window)], errorbar=("pi", 100),
                       dodge=0.3, height=3, aspect=1.4)
    mu, sd = PAPER_GAMMA
    for ax in grid.axes.flat:
        ax.axhspan(mu - sd, mu + sd, color="tab:orange", alpha=0.2)
    grid.set_axis_labels("fit window (steps)", "gamma (range over seeds)")
    return grid


def _forest(ax, labels, est, lo, hi, colors=None):
    y = np.arange(len(labels))[::-1]
    ax.errorbar(est, y, xerr=[np.asarray(est) - np.asarray(lo), np.asarray(hi) - np.asarray(est)],
                fmt="none", ecolor="0.3", capsize=2, lw=1)
    ax.scatter(est, y, c=colors or "tab:blue", zorder=3, s=22)
    ax.set_yticks(y, labels)
    return ax


def plot_gammas(data: Any, window: ConsolidationWindow | None = None):
    """gamma with its 95% interval for every run (variant, seed), against the paper's 0.43+-0.04.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _sns()
    plt = _plt()
    g = gamma_frame(data, window)
    if not g.gamma.notna().any():
        raise FigureError("plot_gammas: no run has a fittable consolidation curve ("
                          + "; ".join(sorted(set(g.message))) + ")")
    labels = [f"{v} / seed {s}" + ("" if np.isfinite(gm) else " (no fit)")
              for v, s, gm in zip(g.variant, g.seed, g.gamma)]
    fig, ax = plt.subplots(figsize=(5, 0.35 * len(g) + 1.2))
    _forest(ax, labels, g.gamma, g.ci_low, g.ci_high)
    mu, sd = PAPER_GAMMA
    ax.axvspan(mu - sd, mu + sd, color="tab:orange", alpha=0.2, label="paper 0.43 +- 0.04")
    ax.set_xlabel("gamma (power-law exponent of attention use)")
    ax.legend(loc="best", fontsize=7)
    fig.tight_layout()
    return fig


def comparison_frame(data: Any) -> pd.DataFrame:
    """A compare_gamma table from a DataFrame or a ``comparison`` record."""
    if isinstance(data, pd.DataFrame):
        df = data
    else:
        ds = _check_record(data, ("comparison",), "plot_gamma_comparison")
        df = ds.drop_attrs().to_dataframe().reset_index(drop="row" in ds.dims)
    needed = {"source", "series", "family", "gamma", "ci_low", "ci_high", "model_gamma",
              "model_ci_low", "model_ci_high", "verdict"}
    if not needed <= set(df.columns):
        raise FigureError(f"a gamma comparison table needs columns {sorted(needed)} (as "
                          f"cramcog.compare_gamma returns), got {sorted(df.columns)}")
    df = df.copy()
    df["series"] = df["series"].fillna("").astype(str).replace("nan", "")
    return df


def plot_gamma_comparison(data: Any):
    """Forest plots of human gammas against the model's, one panel per family.

    ``data``: the DataFrame from :func:`cramcog.compare_gamma` or its record
    (:func:`cramcog.compare.to_record`, kind "comparison"). Drawn by
    :func:`cramcog.compare.plot_gamma_comparison` (one implementation of the forest plot).

    Returns
    -------
    seaborn.FacetGrid

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import pandas as pd
    >>> t = pd.DataFrame({"source": ["a", "b"], "series": "", "family": "power",
    ...                   "gamma": [0.4, 0.5], "ci_low": [0.3, 0.45], "ci_high": [0.5, 0.55],
    ...                   "model_gamma": 0.43, "model_ci_low": 0.4, "model_ci_high": 0.46,
    ...                   "verdict": ["consistent", "different"]})
    >>> plot_gamma_comparison(t).axes.size
    1
    """
    _sns()
    from cramcog.compare import plot_gamma_comparison as _forest_grid

    return _forest_grid(comparison_frame(data))


# ----------------------------------------------------------------------------- transfer

def transfer_frame(ds: xr.Dataset, reference: str = "no_consolidation") -> pd.DataFrame:
    """Per (variant, seed, task): attention and its reduction against ``reference``.

    Transfer record schema (kind "transfer"): dims ``(variant, seed, task)``, variable
    ``attention_fraction`` (attention used on the transfer task after retraining the head), and
    optionally ``accuracy``; the ``variant`` coordinate includes ``reference`` (the model without
    consolidation). ``reduction = 1 - attention / attention[reference]`` for the same seed and
    task.
    """
    ds = _check_record(ds, ("transfer",), "plot_transfer")
    _need(ds, ["attention_fraction", "variant", "seed", "task"], "plot_transfer")
    variants = [str(v) for v in ds.variant.values]
    if reference not in variants:
        raise FigureError(f"plot_transfer: reference variant {reference!r} is not in the record "
                          f"(variants: {variants})")
    att = ds["attention_fraction"]
    ref = att.sel(variant=reference)
    red = 1 - att / ref
    df = xr.Dataset({"attention_fraction": att, "reduction": red}).to_dataframe().reset_index()
    if "accuracy" in ds:
        df["accuracy"] = ds["accuracy"].to_dataframe().reset_index()["accuracy"].values
    return df[["variant", "seed", "task", "attention_fraction", "reduction"]
              + (["accuracy"] if "accuracy" in ds else [])].dropna(subset=["reduction"])


def plot_transfer(ds: xr.Dataset, reference: str = "no_consolidation"):
    """Bars: attention reduction on each transfer task against the model without consolidation.

    Bars are means over seeds with 95% bootstrap intervals (seeded); the paper's 48-52% band is
    shaded.

    Returns
    -------
    matplotlib.figure.Figure
    """
    sns = _sns()
    plt = _plt()
    df = transfer_frame(ds, reference)
    df = df[df.variant != reference]
    if df.empty:
        raise FigureError("plot_transfer: no variant besides the reference to compare")
    fig, ax = plt.subplots(figsize=(1.2 * df.task.nunique() + 3, 3.2))
    sns.barplot(data=df, x="task", y="reduction", hue="variant", errorbar=("ci", 95), seed=0,
                ax=ax)
    lo, hi = PAPER_TRANSFER_REDUCTION
    ax.axhspan(lo, hi, color="tab:orange", alpha=0.2, label="paper 48-52%")
    ax.set_ylabel(f"attention reduction vs {reference}")
    ax.yaxis.set_major_formatter(_percent())
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _percent():
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0)


# ----------------------------------------------------------------------------- Theorem 1

def scaling_frame(ds: xr.Dataset) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Theorem 1 data and fitted log-log slopes.

    Scaling record schema (kind "scaling"): dims ``(router, frequency, seq_len)`` (optionally
    ``seed``), variable ``attention_tokens`` (tokens that executed attention per sequence).
    Returns ``(points, slopes)``: points columns router, frequency, seq_len, f_times_n,
    attention_tokens; slopes columns router, slope, slope_se, intercept (OLS of
    log attention_tokens on log(f x n)).
    """
    ds = _check_record(ds, ("scaling",), "plot_scaling")
    _need(ds, ["attention_tokens", "frequency", "seq_len", "router"], "plot_scaling")
    df = ds["attention_tokens"].to_dataframe().reset_index().dropna(subset=["attention_tokens"])
    df["f_times_n"] = df.frequency * df.seq_len
    rows = []
    for router, sub in df.groupby("router", sort=False):
        sub = sub[(sub.attention_tokens > 0) & (sub.f_times_n > 0)]
        if len(sub) < 3 or sub.f_times_n.nunique() < 2:
            rows.append({"router": router, "slope": np.nan, "slope_se": np.nan,
                         "intercept": np.nan})
            continue
        x, y = np.log(sub.f_times_n.values), np.log(sub.attention_tokens.values)
        (slope, icpt), cov = np.polyfit(x, y, 1, cov=True) if len(sub) > 3 else \
            (np.polyfit(x, y, 1), np.full((2, 2), np.nan))
        rows.append({"router": router, "slope": float(slope),
                     "slope_se": float(np.sqrt(cov[0, 0])), "intercept": float(icpt)})
    return df, pd.DataFrame(rows)


def plot_scaling(ds: xr.Dataset):
    """Theorem 1: attention tokens vs pattern frequency x sequence length, per router, log-log,
    with the fitted slope (a static router should scale with slope ~1, CRAM stay flat).

    Returns
    -------
    matplotlib.figure.Figure
    """
    sns = _sns()
    plt = _plt()
    df, slopes = scaling_frame(ds)
    fig, ax = plt.subplots(figsize=(4.8, 3.6))
    palette = dict(zip(slopes.router, sns.color_palette(n_colors=len(slopes))))
    sns.scatterplot(data=df, x="f_times_n", y="attention_tokens", hue="router", palette=palette,
                    ax=ax, s=25)
    xs = np.geomspace(df.f_times_n[df.f_times_n > 0].min(), df.f_times_n.max(), 50)
    for row in slopes.itertuples():
        if np.isfinite(row.slope):
            ax.plot(xs, np.exp(row.intercept) * xs ** row.slope, color=palette[row.router],
                    lw=1.2, label=f"{row.router}: slope {row.slope:.2f} +- {row.slope_se:.2f}")
    _loglog(ax)
    ax.set(xlabel="pattern frequency x sequence length (f n)",
           ylabel="tokens executing attention")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- ablation panels

def plot_ablation_panels(ds: xr.Dataset):
    """Ablation summary: final attention, fall ratio and accuracies against the varied setting.

    With a numeric swept parameter (``parameter_value`` coordinate, e.g. recurring fraction 0-0.9)
    the x axis is its value (points = seeds, line = mean); otherwise one category per variant.

    Returns
    -------
    seaborn.FacetGrid
    """
    sns = _sns()
    _check_record(ds, ("ablation",), "plot_ablation_panels")
    m = final_metrics(ds)
    metrics = ["final_attention", "fall_ratio"] + [f"accuracy_{k}" for k in QUERY_KINDS
                                                     if m[f"accuracy_{k}"].notna().any()]
    if "dynamics_mse" in m and m.dynamics_mse.notna().any():
        metrics.append("dynamics_mse")
    numeric = "parameter_value" in m
    x = "parameter_value" if numeric else "variant"
    long = m.melt(id_vars=[x] + ([] if x == "variant" else ["variant"]) + ["seed"],
                  value_vars=metrics, var_name="metric", value_name="value")
    if numeric:
        grid = sns.relplot(data=long, x=x, y="value", col="metric", col_wrap=3, kind="line",
                           marker="o", errorbar=("pi", 100), height=2.6,
                           facet_kws={"sharey": False})
        grid.set_axis_labels(str(ds.attrs.get("parameter", "parameter")), "")
    else:
        grid = sns.catplot(data=long, x="value", y=x, col="metric", col_wrap=3, kind="point",
                           linestyle="none", errorbar=("pi", 100), height=2.6,
                           sharex=False)
        grid.set_axis_labels("", "")
    grid.set_titles("{col_name}")
    from matplotlib.ticker import NullFormatter

    for ax in grid.axes.flat:
        metric = ax.get_title()
        if numeric:  # the seeds themselves, over the mean line
            sub = long[long.metric == metric]
            ax.scatter(sub[x], sub["value"], s=10, color="0.3", zorder=3)
        if metric in ("final_attention", "fall_ratio"):
            axis = ax.yaxis if numeric else ax.xaxis
            (ax.set_yscale if numeric else ax.set_xscale)("log")
            axis.set_minor_formatter(NullFormatter())  # minor log labels collide
    return grid


# ----------------------------------------------------------------------------- dispatch

def figures_for(records_: Sequence[xr.Dataset], names: Sequence[str] | None = None,
                human: str | Sequence[str] | None = "all") -> dict[str, Any]:
    """Every figure the records support: ``{file stem: figure}`` (dispatch on ``ds.cram.kind``).

    Raises FigureError for a record kind that has no figure (listing the kinds that do).
    """
    names = list(names) if names is not None else [f"record{i}" for i in range(len(records_))]
    if len(names) != len(records_):
        raise ValueError("names and records differ in length")
    out: dict[str, Any] = {}
    training = {}
    for name, ds in zip(names, records_):
        if not isinstance(ds, xr.Dataset):
            raise TypeError(f"{name}: a record is an xarray.Dataset, got {type(ds).__name__}")
        kind = ds.attrs.get("record_kind", "")
        if kind not in FIGURE_KINDS:
            raise FigureError(f"{name}: no figure draws {kind or 'non-cramcog'!r} records; "
                              f"figures exist for kinds {FIGURE_KINDS}")
        if kind == "training":
            training[name] = ds
            out[f"{name}_attention"] = plot_attention_over_training(ds)
            out[f"{name}_consolidation"] = plot_consolidation(ds, human=human)
        elif kind == "ablation":
            out[f"{name}_attention"] = plot_attention_over_training(ds)
            out[f"{name}_accuracy_vs_attention"] = plot_accuracy_vs_attention(ds)
            out[f"{name}_panels"] = plot_ablation_panels(ds)
            out[f"{name}_gamma"] = plot_gammas(ds)
        elif kind == "comparison":
            out[f"{name}_gamma_comparison"] = plot_gamma_comparison(ds)
        elif kind == "transfer":
            out[f"{name}_transfer"] = plot_transfer(ds)
        elif kind == "scaling":
            out[f"{name}_scaling"] = plot_scaling(ds)
    if len(training) > 1:
        out["training_accuracy_vs_attention"] = plot_accuracy_vs_attention(training)
    return out
