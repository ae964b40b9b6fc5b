"""Time-gap laws for irregularly sampled event sequences.

SRCD events arrive at irregular times; the gap ``dt`` between consecutive events is drawn i.i.d.
from one of these laws (the paper: Pareto). Each law knows how to sample, its CDF (for tests such
as a Kolmogorov-Smirnov check) and its mean (to size the precomputed trajectory banks).

=============  ========================================  ==========================================
law            gap ``dt``                                 ``shape`` / ``scale``
=============  ========================================  ==========================================
"pareto"       ``scale * U**(-1/shape)``, dt >= scale    tail index (> 1, finite mean) / minimum
"lomax"        ``scale * (U**(-1/shape) - 1)``, dt >= 0  tail index (> 1) / scale
"exponential"  ``scale * Exp(1)`` (Poisson events)       ignored / mean gap
"fixed"        ``scale`` (regular sampling)              ignored / the gap
=============  ========================================  ==========================================

Examples
--------
>>> import numpy as np
>>> from cramcog.tasks.gaps import sample_gaps, gap_mean
>>> g = sample_gaps(np.random.default_rng(0), (4, 100), "pareto", shape=2.5, scale=0.01)
>>> bool(g.min() >= 0.01), round(gap_mean("pareto", 2.5, 0.01), 4)
(True, 0.0167)
"""
from __future__ import annotations

import numpy as np

GAP_LAWS = ("pareto", "lomax", "exponential", "fixed")
HEAVY_TAILED = ("pareto", "lomax")  # the laws whose ``shape`` is a tail index


def check_gap_law(law: str, shape: float, scale: float, owner: str = "config") -> None:
    """Raise ValueError, naming the field, if ``(law, shape, scale)`` is not a usable gap law."""
    if law not in GAP_LAWS:
        raise ValueError(f"{owner}.gap_law = {law!r} is unknown; choose one of {GAP_LAWS}")
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"{owner}.gap_scale = {scale!r} must be a finite number > 0")
    if law in HEAVY_TAILED and not (np.isfinite(shape) and shape > 1.0):
        # shape <= 1 has an infinite mean: a sequence's duration would be unbounded
        raise ValueError(
            f"{owner}.gap_shape = {shape!r} must be a finite number > 1 for gap_law={law!r} "
            "(shape <= 1 gives an infinite mean gap, so sequence durations are unbounded)")


def sample_gaps(rng: np.random.Generator, size, law: str, shape: float, scale: float) -> np.ndarray:
    """Draw i.i.d. gaps (float64 array of ``size``) from a gap law.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness (seeded by the caller).
    size : int or tuple of int
        Output shape.
    law, shape, scale
        See the module table.

    Returns
    -------
    numpy.ndarray
        float64 gaps, all >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> sample_gaps(np.random.default_rng(0), 3, "fixed", 2.0, 0.5).tolist()
    [0.5, 0.5, 0.5]
    """
    check_gap_law(law, shape, scale, owner="sample_gaps")
    if law == "fixed":
        return np.full(size, float(scale))
    if law == "exponential":
        return scale * rng.standard_exponential(size)
    u = 1.0 - rng.random(size)  # in (0, 1]: avoids u == 0 -> infinite gap
    tail = u ** (-1.0 / shape)
    return scale * tail if law == "pareto" else scale * (tail - 1.0)


def gap_cdf(x, law: str, shape: float, scale: float) -> np.ndarray:
    """The cumulative distribution function of a gap law at ``x``.

    Examples
    --------
    >>> float(gap_cdf(0.02, "pareto", 2.0, 0.01))
    0.75
    """
    x = np.asarray(x, dtype=float)
    if law == "pareto":
        return np.where(x < scale, 0.0, 1.0 - (scale / np.maximum(x, scale)) ** shape)
    if law == "lomax":
        return np.where(x < 0, 0.0, 1.0 - (1.0 + np.maximum(x, 0) / scale) ** (-shape))
    if law == "exponential":
        return np.where(x < 0, 0.0, 1.0 - np.exp(-np.maximum(x, 0) / scale))
    if law == "fixed":
        return (x >= scale).astype(float)
    raise ValueError(f"gap law {law!r} is unknown; choose one of {GAP_LAWS}")


def gap_mean(law: str, shape: float, scale: float) -> float:
    """Mean gap of a law (finite for every law accepted by :func:`check_gap_law`).

    Examples
    --------
    >>> gap_mean("exponential", 0.0, 0.02)
    0.02
    """
    if law == "pareto":
        return scale * shape / (shape - 1.0)
    if law == "lomax":
        return scale / (shape - 1.0)
    if law in ("exponential", "fixed"):
        return float(scale)
    raise ValueError(f"gap law {law!r} is unknown; choose one of {GAP_LAWS}")
