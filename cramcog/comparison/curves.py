"""Both sides of a comparison as curves: the model's per-seed consolidation curves and the
bundled (or your own) human curves, each read in its falling orientation.

The bottom of :mod:`cramcog.comparison`: :class:`ModelCurves` (:func:`model_curves`) cuts one
curve per seed from a per-pattern consolidation record, averaged the way a human curve was
(``by_time`` or ``by_exposure``), its exposures counted from the first (``origin``, as people's
practice is counted) or from the warm-up end; :func:`human_curves` reads human data sets,
paradigms, Curves or Datasets; :func:`orient` turns a rising curve into a falling one (1 - y), so
that shape parameters mean the same on both sides; :func:`comparability` says which human curves
a shape verdict may be given for (practice on x, running the model's way).

Examples
--------
>>> import numpy as np
>>> y, how = orient(np.array([1, 2, 4.0]), np.array([0.2, 0.5, 0.7]), None)
>>> how, y.round(2).tolist()
('complement (1 - y)', [0.8, 0.5, 0.3])
>>> [c.paradigm for c in human_curves("ebbinghaus_1885")]
['forgetting']
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

AVERAGINGS = ("by_time", "by_exposure")
MODEL_INTERVAL = ("seed-pooled: a fit per seed (independent run), then the mean over seeds and "
                  "its Student-t interval (cramcog.dynamics.intervals.seed_interval); never an "
                  "interval from one run's autocorrelated steps")
_RECORD_VARS = ("recurring_attended", "recurring_probe_count", "exposures")


# ----------------------------------------------------------------------------- the model side

@dataclass
class ModelCurves:
    """A model's consolidation curves, one per seed, plus its per-pattern history.

    Build it with :func:`model_curves` (from a consolidation record of CRAM runs, or of toy runs
    via :func:`cramcog.dynamics.toy_consolidation.consolidation_record`).

    Attributes
    ----------
    label : str
        Name shown in tables and figures.
    record : xarray.Dataset
        One variant's record: dims (seed, eval_step[, pattern]).
    window : str
        Where each seed's curve starts: ``"auto"`` (the end of the attention warm-up where the
        record has ``warmup_end_step``, as CRAM records do; else the peak), ``"warmup"``,
        ``"peak"`` (its highest share of recurring probes attending: consolidation can only
        start once attention serves the queries) or ``"all"``.
    origin : str
        Where x = 0 is (``ORIGINS``): ``"first_exposure"`` (default: exposures counted from the
        first one, evaluation 0, as people's presentations and repetitions are counted from the
        first) or ``"warmup_end"`` (exposures counted from the last evaluation before the
        window, i.e. the warm-up end for ``window="auto"``, as ``cramcog consolidation`` fits
        its curve: :func:`cramcog.analysis.curve_points`). The window is the same under both:
        only x moves. Shape parameters depend on it (a Weibull k, a power-law gamma):
        :func:`cramcog.comparison.origin_sensitivity` fits both.
    """

    label: str
    record: Any
    window: str = "auto"
    origin: str = "first_exposure"
    notes: list = field(default_factory=list)

    @property
    def seeds(self) -> np.ndarray:
        return np.asarray(self.record["seed"].values)

    @property
    def has_items(self) -> bool:
        return all(v in self.record for v in ("pattern_attended", "pattern_probes",
                                              "pattern_exposures"))

    def _start(self, seed_index: int) -> int:
        """Index of the first evaluation step of the window for one seed."""
        share = self.record["recurring_attended"].isel(seed=seed_index).values.astype(float)
        if self.window == "all" or not np.isfinite(share).any():
            return 0
        if self.window in ("auto", "warmup") and "warmup_end_step" in self.record:
            warm = float(self.record["warmup_end_step"].isel(seed=seed_index))
            if warm >= 0:
                steps = np.asarray(self.record["eval_step"].values, dtype=float)
                return int(np.searchsorted(steps, warm, side="right"))  # after the warm-up
        if self.window == "warmup":
            raise ValueError(f"{self.label}: window 'warmup' needs warmup_end_step >= 0 in the "
                             "record (the attention warm-up never ended, or the record lacks it)")
        return int(np.nanargmax(share))

    def curves(self, averaging: str = "by_time", n_bins: int = 12
               ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """Per seed ``(t, y, n)``: the share still attending against exposures.

        Parameters
        ----------
        averaging
            ``"by_time"``: at each evaluation, the share over all recurring probes against the
            mean exposures per recurring pattern (``recurring_attended`` vs ``exposures``).
            ``"by_exposure"``: every (evaluation, pattern) cell pooled at equal exposures of
            THAT pattern (probe-weighted), on at most ``n_bins`` bins of exposures (each
            distinct count when there are fewer; log-spaced bins otherwise).
        n_bins
            Bins of ``by_exposure``.

        Returns
        -------
        list of (t, y, n), one per seed
            ``n`` holds the probes behind each share (binomial likelihood).

        Examples
        --------
        >>> from cramcog.dynamics.toy_consolidation import (simulate_consolidation,
        ...                                                 consolidation_record)
        >>> m = model_curves(consolidation_record(simulate_consolidation(n_episodes=40)))
        >>> t, y, n = m.curves("by_exposure")[0]
        >>> bool(y[0] == 1.0 and t[0] == 1.0)      # nothing answered semantically at 1 exposure
        True
        """
        if averaging not in AVERAGINGS:
            raise ValueError(f"averaging must be one of {AVERAGINGS}, got {averaging!r}")
        out = []
        for i in range(len(self.seeds)):
            one = self.record.isel(seed=i)
            start = self._start(i)
            if averaging == "by_time":
                t = one["exposures"].values[start:].astype(float)
                if self.origin == "warmup_end" and start > 0:
                    t = t - float(one["exposures"].values[start - 1])
                n = one["recurring_probe_count"].values[start:].astype(float)
                y = one["recurring_attended"].values[start:].astype(float)
                keep = np.isfinite(t) & np.isfinite(y) & (t > 0) & (n > 0)
                out.append((t[keep], y[keep], np.round(n[keep])))
                continue
            _, expo, att, probes = self.cells(i)
            keep = probes > 0
            out.append(_pool_by_exposure(expo[keep], att[keep], probes[keep], n_bins))
        return out

    def cells(self, seed_index: int):
        """One seed's (evaluation, pattern) cells in the window, flattened, where exposures > 0:
        ``(step, exposures, attended, probes)``; ``attended`` counts the pattern's probes that
        attended (the record's convention), ``probes`` how many there were (0: not probed).
        Exposures are counted from :attr:`origin` (``"warmup_end"``: each pattern's own
        exposures since the last evaluation before the window)."""
        if not self.has_items:
            raise ValueError(f"{self.label}: per-pattern analyses need the variables "
                             "pattern_attended, pattern_probes, pattern_exposures")
        one = self.record.isel(seed=seed_index)
        start = self._start(seed_index)

        def grid(name):
            return one[name].transpose("eval_step", "pattern").values[start:].astype(float)
        att, probes, expo = grid("pattern_attended"), grid("pattern_probes"), \
            grid("pattern_exposures")
        if self.origin == "warmup_end" and start > 0:
            expo = expo - one["pattern_exposures"].transpose(
                "eval_step", "pattern").values[start - 1].astype(float)
        step = np.broadcast_to(one["eval_step"].values[start:, None].astype(float), att.shape)
        keep = (expo > 0) & np.isfinite(expo) & np.isfinite(probes)
        att = np.where(np.isfinite(att), att, 0.0)
        return step[keep], expo[keep], att[keep], np.where(keep, probes, 0)[keep]

    def switch_points(self) -> np.ndarray:
        """``pattern_switch_exposures`` as (seed, pattern); NaN where a pattern never switched."""
        if "pattern_switch_exposures" not in self.record:
            raise ValueError(f"{self.label}: the record has no pattern_switch_exposures")
        return self.record["pattern_switch_exposures"].transpose("seed", ...).values.astype(float)


def _pool_by_exposure(expo, successes, probes, n_bins):
    """Probe-weighted share per bin of exposures: (t, y, n), t the probe-weighted mean exposure."""
    values = np.unique(expo)
    if values.size <= n_bins:
        index = np.searchsorted(values, expo)
        n_groups = values.size
    else:
        edges = np.unique(np.geomspace(expo.min(), expo.max() * (1 + 1e-9), n_bins + 1))
        index = np.clip(np.searchsorted(edges, expo, side="right") - 1, 0, edges.size - 2)
        n_groups = edges.size - 1
    k = np.bincount(index, successes, n_groups)
    n = np.bincount(index, probes, n_groups)
    t = np.bincount(index, expo * probes, n_groups)
    keep = n > 0
    return t[keep] / n[keep], k[keep] / n[keep], np.round(n[keep])


WINDOWS = ("auto", "warmup", "peak", "all")
#: Where the model's x = 0 is (:class:`ModelCurves`); the first matches how people's practice is
#: counted (presentations / repetitions from the first).
ORIGINS = ("first_exposure", "warmup_end")


def model_curves(model, variant: str | None = None, *, label: str | None = None,
                 window: str = "auto", origin: str | None = None) -> ModelCurves:
    """The model side of a comparison, from a per-pattern consolidation record.

    Parameters
    ----------
    model
        A consolidation record (``cramcog consolidation RUNS --out FILE.nc`` for CRAM;
        :func:`cramcog.dynamics.toy_consolidation.consolidation_record` for the toy model) with
        ``recurring_attended``, ``recurring_probe_count`` and ``exposures`` over (variant, seed,
        eval_step) and, for per-item comparisons, ``pattern_*`` variables; a path to one; toy
        results (one per seed); or a :class:`ModelCurves` (returned as is).
    variant
        Which variant of the record (needed when it has several).
    label
        Name in tables (default: the variant, prefixed with the model).
    window
        Where each seed's curve starts (see :class:`ModelCurves`): ``"auto"`` (default: after
        the attention warm-up where the record says when it ended, else from the peak),
        ``"warmup"``, ``"peak"`` or ``"all"``.
    origin
        Where x = 0 is (see :class:`ModelCurves`): ``"first_exposure"`` (as people's practice
        is counted) or ``"warmup_end"``. None (default): ``"first_exposure"``, or the origin of
        a :class:`ModelCurves` given as ``model``.

    Returns
    -------
    ModelCurves

    Examples
    --------
    >>> from cramcog.dynamics.toy_consolidation import (simulate_consolidation,
    ...                                                 consolidation_record)
    >>> m = model_curves([simulate_consolidation(n_episodes=30, seed=s) for s in (0, 1, 2)])
    >>> m.label, m.seeds.tolist(), m.origin
    ('toy model', [0, 1, 2], 'first_exposure')
    """
    import xarray as xr

    from cramcog.dynamics.toy_consolidation import ToyConsolidationResult, consolidation_record

    if origin is not None and origin not in ORIGINS:
        raise ValueError(f"origin must be one of {ORIGINS}, got {origin!r}")
    if isinstance(model, ModelCurves):
        return model if origin in (None, model.origin) else replace(model, origin=origin)
    origin = origin or "first_exposure"
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {WINDOWS}, got {window!r}")
    if isinstance(model, ToyConsolidationResult) or (
            isinstance(model, (list, tuple)) and model
            and all(isinstance(r, ToyConsolidationResult) for r in model)):
        model = consolidation_record(model)
    elif isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        from cramcog import records
        model = records.open(model)
    if not isinstance(model, xr.Dataset):
        raise TypeError("the model side is a consolidation record (xarray.Dataset with "
                        f"{list(_RECORD_VARS)} over (variant, seed, eval_step)), a path to one, "
                        f"toy results, or ModelCurves; got {type(model).__name__}")
    missing = [v for v in _RECORD_VARS if v not in model]
    if missing:
        raise ValueError(f"the record lacks {missing}: a per-pattern consolidation record is "
                         "written by `cramcog consolidation RUNS --out FILE.nc` (CRAM) or "
                         "cramcog.dynamics.toy_consolidation.consolidation_record (toy)")
    if "seed" not in model.dims:
        model = model.expand_dims(seed=[int(model.attrs.get("seed", 0))])
    if "variant" in model.dims:
        variants = [str(v) for v in model["variant"].values]
        if variant is None:
            if len(variants) != 1:
                raise ValueError(f"the record has variants {variants}: pass variant=...")
            variant = variants[0]
        if variant not in variants:
            raise ValueError(f"variant {variant!r} is not in the record; it has {variants}")
        model = model.sel(variant=variant)
    is_toy = "toy" in str(model.attrs.get("model", "")).lower()
    name = label or ("toy model" if is_toy else f"CRAM ({variant})" if variant else "model")
    notes = []
    if model.sizes["seed"] < 2:
        notes.append("one seed: no seed-pooled interval can be computed (intervals are NaN); "
                     "run >= 3 seeds")
    return ModelCurves(label=name, record=model, window=window, origin=origin, notes=notes)


def is_model_side(obj) -> bool:
    """True for what :func:`model_curves` takes: a consolidation record, ModelCurves, toy runs.

    Examples
    --------
    >>> from cramcog.dynamics.toy_consolidation import simulate_consolidation
    >>> is_model_side(simulate_consolidation(n_episodes=3)), is_model_side(0.43)
    (True, False)
    """
    import xarray as xr

    from cramcog.dynamics.toy_consolidation import ToyConsolidationResult

    if isinstance(obj, (ModelCurves, ToyConsolidationResult)):
        return True
    if isinstance(obj, xr.Dataset):
        return all(v in obj for v in _RECORD_VARS)
    return isinstance(obj, (list, tuple)) and bool(obj) and all(
        isinstance(r, ToyConsolidationResult) for r in obj)


# ----------------------------------------------------------------------------- the human side

def human_curves(human, include_unreliable: bool = False):
    """Human curves from a name, paradigm, group, Curve, Dataset or a list of those."""
    from cramcog import psych

    if isinstance(human, psych.Curve):
        return [human]
    if isinstance(human, str):
        if human == "all":
            return psych.all_curves(include_unreliable=include_unreliable)
        valid = (*psych.PARADIGMS, *psych.PARADIGM_GROUPS)
        if human in valid:
            return psych.all_curves(human, include_unreliable=include_unreliable)
        return psych.curves(human, include_unreliable=include_unreliable)
    if isinstance(human, (list, tuple)):
        return [c for item in human for c in human_curves(item, include_unreliable)]
    return psych.curves(human, include_unreliable=include_unreliable)  # a Dataset


def human_axis(curve) -> str:
    """What a human curve's x counts: ``"practice"`` (presentations or repetitions of the item,
    as the model's exposures), ``"lag"`` or ``"delay"``; from its metadata (``Curve.axis``),
    else from ``Curve.x_kind``.

    Examples
    --------
    >>> [human_axis(c) for c in human_curves("reder_2000_remember_know_repetition_lag")]
    ['practice', 'practice', 'lag', 'lag']
    """
    return curve.axis or ("practice" if curve.x_kind == "exposures" else "delay")


def human_direction(curve) -> str:
    """Which way a human curve goes as x grows, ``"falls"`` or ``"rises"``: as its metadata
    states (``Curve.direction``), else measured (:func:`curve_direction`)."""
    return curve.direction or curve_direction(curve.t, curve.y)


def comparability(curve, model_direction: str) -> str:
    """"" where a human curve's shape may be compared with the model's, else why not.

    A shape verdict needs the same kind of x and the same direction: the model's x is
    exposures (practice), so the human x must count practice too (presentations, repetitions),
    not a lag or a delay; and the human curve must run the model's way as measured, not only
    after being turned over (1 - y: Reder's Remember share RISES with repetition while the
    model's share still attending falls). Every other curve is context.

    Returns
    -------
    str
        ``""``, ``"not compared (axis: lag)"`` (or ``delay``), or ``"not compared (direction
        flipped)"``.

    Examples
    --------
    >>> [comparability(c, "falls") for c in human_curves("episodic_semantic")]
    ... # doctest: +NORMALIZE_WHITESPACE
    ['not compared (direction flipped)', 'not compared (direction flipped)',
     'not compared (axis: lag)', 'not compared (axis: lag)', '']
    """
    axis = human_axis(curve)
    if axis != "practice":
        return f"not compared (axis: {axis})"
    if model_direction and human_direction(curve) != model_direction:
        return "not compared (direction flipped)"
    return ""


# ----------------------------------------------------------------------------- orientation

def curve_direction(t: np.ndarray, y: np.ndarray) -> str:
    """"falls" or "rises": the sign of the least-squares slope of y on log t."""
    slope = np.polyfit(np.log(np.maximum(t, 1e-300)), y, 1)[0] if len(t) > 1 else 0.0
    return "rises" if slope > 0 else "falls"


def orient(t, y, n):
    """The falling orientation of a curve (a rising one as 1 - y) and what was done."""
    if curve_direction(t, y) == "rises":
        return 1.0 - y, "complement (1 - y)"
    return y, "as measured"
