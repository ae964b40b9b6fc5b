"""Attention-use curves cut from training records in a stated window, and their power-law gamma.

This is the older, coarse curve (kept for the gamma study of records that have no per-pattern
probes): a training record logs ``attention_fraction(step, layer)``, the fraction of tokens
executing attention. The *attention-use curve* is the layer-mean attention fraction inside a
stated fit window, as a function of ``t = step - window start + dt`` (``dt``: the logging
interval, the median step spacing, so the first point sits one interval after the start and
``t > 0`` as power laws need). Every gamma cramcog reports names its window and its curve family.

Windows (:class:`ConsolidationWindow`, written ``START:STOP`` on the command line):

- START: ``peak`` (the smoothed attention peak,
  :func:`cramcog.analysis.phase.detect_phase_transition`;
  the raw maximum when attention never falls 2x), ``K*peak`` (K times the peak step, K > 0),
  ``transition`` (the step of the steepest fall of log attention after the peak; none when
  attention never falls 2x) or an integer optimizer step;
- STOP: ``end`` (the last logged step), ``F*end`` (a fraction 0 < F <= 1 of the logged span:
  ``first + F * (last - first)``) or an integer step.

It mixes every token category and both layers, so it says little about consolidation itself:
what consolidation moves is measured per pattern by :mod:`cramcog.analysis.consolidation`.

Examples
--------
>>> from cramcog.experiments.ablations import demo_run
>>> from cramcog.analysis.curves import ConsolidationWindow, consolidation_curve, fit_power
>>> t, y = consolidation_curve(demo_run({"rate": 0.1, "steps": 40, "seed": 0}),
...                            ConsolidationWindow.parse("0:end"))
>>> round(float(fit_power(t, y).params["gamma"]), 1)  # demo curve: (1 + 0.1 step)^-0.5 + floor
0.5
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Sequence

import numpy as np

from cramcog.analysis.phase import detect_phase_transition
from cramcog.analysis.runs import AnalysisError, _mean_attention, _need, as_runs

_K_PEAK = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*\*\s*peak\s*$")
_F_END = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*\*\s*end\s*$")
_WINDOW_HELP = ("START is 'peak', 'K*peak' (K > 0), 'transition' or an int step; STOP is 'end', "
                "'F*end' (0 < F <= 1, a fraction of the logged span) or an int step")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


@dataclasses.dataclass
class ConsolidationWindow:
    """How a consolidation curve is cut from a training run (stated with every gamma).

    Parameters
    ----------
    start
        ``"peak"`` (default), ``"K*peak"``, ``"transition"`` or an int optimizer step >= 0
        (see the module docstring).
    stop
        None or ``"end"`` (the last logged step), ``"F*end"`` or an int step.

    Time in the fit is ``t = step - start + dt`` with ``dt`` the logging interval.

    Examples
    --------
    >>> w = ConsolidationWindow.parse("2*peak:0.5*end")
    >>> w.start, w.stop, w.label
    ('2*peak', '0.5*end', '2*peak:0.5*end')
    >>> ConsolidationWindow().label
    'peak:end'
    """

    start: Any = "peak"        # "peak", "K*peak", "transition" or an int step where the curve begins
    stop: Any = None           # None/"end", "F*end" or an int step (the last step included)

    def __post_init__(self):
        if isinstance(self.start, str) and self.start.strip().isdigit():
            self.start = int(self.start)
        if _is_int(self.start):
            if self.start < 0:
                raise ValueError(f"window start must be a step >= 0, got {self.start}")
            self.start = int(self.start)
        elif isinstance(self.start, str) and self._peak_factor() is not None:
            self.start = f"{self._peak_factor():g}*peak"  # one spelling: "2 * peak" -> "2*peak"
        elif self.start not in ("peak", "transition"):
            raise ValueError(f"window start must be 'peak', 'K*peak', 'transition' or an int "
                             f"step, got {self.start!r} ({_WINDOW_HELP})")
        if isinstance(self.stop, str) and self.stop.strip().isdigit():
            self.stop = int(self.stop)
        if self.stop == "end":
            self.stop = None
        if _is_int(self.stop):
            self.stop = int(self.stop)
            if _is_int(self.start) and self.stop <= self.start:
                raise ValueError(f"window stop {self.stop} must come after its start "
                                 f"{self.start}")
        elif isinstance(self.stop, str) and self._end_fraction() is not None:
            self.stop = f"{self._end_fraction():g}*end"
        elif self.stop is not None:
            raise ValueError(f"window stop must be None, 'end', 'F*end' (0 < F <= 1) or an int "
                             f"step, got {self.stop!r} ({_WINDOW_HELP})")

    def _peak_factor(self) -> float | None:
        match = _K_PEAK.match(self.start) if isinstance(self.start, str) else None
        if match is None:
            return None
        k = float(match.group(1))
        if k <= 0:
            raise ValueError(f"window start {self.start!r}: K in 'K*peak' must be > 0")
        return k

    def _end_fraction(self) -> float | None:
        match = _F_END.match(self.stop) if isinstance(self.stop, str) else None
        if match is None:
            return None
        f = float(match.group(1))
        if not 0 < f <= 1:
            raise ValueError(f"window stop {self.stop!r}: F in 'F*end' must be in (0, 1]")
        return f

    @classmethod
    def parse(cls, text: str) -> "ConsolidationWindow":
        """A window from ``"START:STOP"`` (STOP may be empty for the end), e.g. ``"peak:end"``.

        Examples
        --------
        >>> ConsolidationWindow.parse("300:")
        ConsolidationWindow(start=300, stop=None)
        """
        if isinstance(text, cls):
            return text
        if not isinstance(text, str):
            raise TypeError(f"a window is a ConsolidationWindow or a 'START:STOP' string, got "
                            f"{type(text).__name__}")
        parts = text.split(":")
        if len(parts) != 2 or not parts[0].strip():
            raise ValueError(f"window {text!r} is not START:STOP ({_WINDOW_HELP}); e.g. "
                             "'peak:end', '2*peak:end', 'peak:0.5*end', '300:1200'")
        start, stop = parts[0].strip(), parts[1].strip() or None
        return cls(start=start, stop=stop)

    @property
    def label(self) -> str:
        """``"START:STOP"``, the window as written on the command line and in records."""
        return f"{self.start}:{'end' if self.stop is None else self.stop}"

    def resolve(self, step: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """``(start_step, stop_step)`` of this window on a curve (finite ``step``, ``y``: (n,)).

        Raises AnalysisError (a ValueError) when the window cannot be placed on this curve.
        """
        step = np.asarray(step, dtype=float)  # (n,)
        pt = detect_phase_transition(step, y)
        peak = float(pt.peak_step) if pt else float(step[int(np.argmax(y))])
        if self.start == "peak":
            start = peak
        elif self.start == "transition":
            if pt is None:
                raise AnalysisError("window start 'transition': attention never falls 2x from its "
                             "peak, so this run has no phase transition")
            start = float(pt.step)
        elif _is_int(self.start):
            start = float(self.start)
        else:
            start = self._peak_factor() * peak
        if self.stop is None:
            stop = float(step[-1])
        elif _is_int(self.stop):
            stop = float(self.stop)
        else:
            stop = float(step[0] + self._end_fraction() * (step[-1] - step[0]))
        return start, stop


def _as_window(window: Any) -> ConsolidationWindow:
    if window is None:
        return ConsolidationWindow()
    if isinstance(window, ConsolidationWindow):
        return window
    return ConsolidationWindow.parse(window)


@dataclasses.dataclass
class ConsolidationCurve:
    """A consolidation curve and where it was cut: ``t``, ``y`` (n,), the resolved window."""

    t: np.ndarray              # (n,) steps since the window start + one logging interval
    y: np.ndarray              # (n,) layer-mean attention fraction (> 0)
    start_step: float          # the window start on this run, in optimizer steps
    stop_step: float           # the window stop on this run
    dt: float                  # the logging interval (median step spacing)
    window: ConsolidationWindow


def cut_consolidation_curve(run, window: ConsolidationWindow | str | None = None
                            ) -> ConsolidationCurve:
    """The consolidation curve of one training run inside a window, with the resolved window.

    Parameters
    ----------
    run : xarray.Dataset
        A training record with ``attention_fraction(step[, layer])``.
    window : ConsolidationWindow or str, optional
        Default: ``peak:end``.

    Returns
    -------
    ConsolidationCurve

    Raises
    ------
    AnalysisError (a ValueError)
        Fewer than 3 logged steps, or fewer than 3 points with attention > 0 in the window.

    Examples
    --------
    >>> from cramcog.experiments.ablations import demo_run
    >>> c = cut_consolidation_curve(demo_run({"rate": 0.1, "steps": 30, "seed": 0}), "peak:0.5*end")
    >>> c.stop_step, c.dt
    (145.0, 10.0)
    """
    window = _as_window(window)
    _need(run, ["attention_fraction"], "consolidation_curve")
    mean = _mean_attention(run["attention_fraction"]).dropna("step")  # (step,)
    step = mean["step"].values.astype(float)
    y = mean.values.astype(float)
    if y.size < 3:
        raise AnalysisError(f"consolidation_curve: {y.size} logged steps; need at least 3")
    start, stop = window.resolve(step, y)
    keep = (step >= start) & (step <= stop) & (y > 0)
    if keep.sum() < 3:
        raise AnalysisError(f"consolidation window {window.label} = [{start:g}, {stop:g}] holds "
                     f"{keep.sum()} points with attention > 0; need at least 3 (widen the "
                     "window)")
    dt = float(np.median(np.diff(step)))
    return ConsolidationCurve(t=step[keep] - start + dt, y=y[keep], start_step=start,
                              stop_step=stop, dt=dt, window=window)


def consolidation_curve(run, window: ConsolidationWindow | str | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """``(t, y)``: the layer-mean attention fraction inside the window, t in steps since start.

    See :func:`cut_consolidation_curve` (which also returns where the window fell).

    Examples
    --------
    >>> from cramcog.experiments.ablations import demo_run
    >>> t, y = consolidation_curve(demo_run({"rate": 0.1, "steps": 30, "seed": 0}))
    >>> bool(t[0] > 0 and y.size == t.size)
    True
    """
    curve = cut_consolidation_curve(run, window)
    return curve.t, curve.y


def fit_power(t: np.ndarray, y: np.ndarray, n: np.ndarray | None = None, **kwargs):
    """The power-law fit ``y = a t^-gamma`` of a curve (least squares without ``n``).

    A thin wrapper of :func:`cramcog.dynamics.fit_consolidation_curve` with ``family="power"``;
    ``kwargs`` (``ci``, ``level``, ``seed``...) are passed on.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(1, 30.0)
    >>> round(float(fit_power(t, 0.8 * t ** -0.4).params["gamma"]), 3)
    0.4
    """
    from cramcog.dynamics.fit import fit_consolidation_curve

    return fit_consolidation_curve(t, y, n=n, family="power", **kwargs)


def _windows(window) -> list[ConsolidationWindow]:
    if window is None or isinstance(window, (ConsolidationWindow, str)):
        return [_as_window(window)]
    try:
        windows = [_as_window(w) for w in window]
    except TypeError:
        raise TypeError("window must be a ConsolidationWindow, a 'START:STOP' string or a "
                        "non-empty list of them") from None
    if not windows:
        raise TypeError("window must be a ConsolidationWindow or a non-empty list of them")
    return windows


def gamma_frame(data: Any, window: ConsolidationWindow | str | Sequence | None = None):
    """Power-law gamma of every run's consolidation curve, for one fit window or several.

    Columns: variant, seed, window ("START:STOP"), window_start (as given: "peak", "2*peak", a
    step...), window_stop ("end", "0.5*end" or a step), start_step and stop_step (where the window
    fell on this run), gamma, ci_low, ci_high (95% profile likelihood), converged, message. A
    curve that cannot be fitted (e.g. the constant attention of a dense baseline) gets NaN and the
    reason in ``message``, never a number. Several windows give the sensitivity of gamma to the
    fit window. For gamma pooled across seeds and compared with human data, see
    :func:`cramcog.experiments.gamma_study.gamma_study`.

    Examples
    --------
    >>> from cramcog.experiments.ablations import demo_run
    >>> run = demo_run({"rate": 0.1, "steps": 30, "seed": 0})
    >>> gamma_frame(run).columns.tolist()[:4]
    ['variant', 'seed', 'window', 'window_start']
    >>> len(gamma_frame(run, [ConsolidationWindow(), "100:end"]))
    2
    """
    import pandas as pd

    windows = _windows(window)
    rows = []
    for variant, seed, run in as_runs(data, what="gamma_frame"):
        for win in windows:
            row = {"variant": variant, "seed": seed, "window": win.label,
                   "window_start": str(win.start),
                   "window_stop": "end" if win.stop is None else str(win.stop),
                   "start_step": np.nan, "stop_step": np.nan, "gamma": np.nan,
                   "ci_low": np.nan, "ci_high": np.nan, "converged": False, "message": ""}
            try:
                curve = cut_consolidation_curve(run, win)
                row.update(start_step=curve.start_step, stop_step=curve.stop_step)
                fit = fit_power(curve.t, curve.y)
            except ValueError as err:  # e.g. a constant attention curve: nothing to fit
                row["message"] = str(err)
            else:
                lo, hi = fit.ci["gamma"]
                row.update(gamma=float(fit.params["gamma"]), ci_low=float(lo),
                           ci_high=float(hi), converged=bool(getattr(fit, "converged", True)),
                           message=str(getattr(fit, "message", "")))
            rows.append(row)
    return pd.DataFrame(rows)
