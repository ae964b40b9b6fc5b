"""Phase detection: where a curve (attention use, or the share of queries attending) falls fastest.

Examples
--------
>>> import numpy as np
>>> s = np.arange(0, 4000, 20)
>>> pt = detect_phase_transition(s, 0.02 + 0.5 / (1 + np.exp((s - 3000) / 100)))
>>> abs(pt.step - 3000) <= 200
True
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np


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
