"""FLOP counters for executed vs dense causal attention (what CRAM reports as attention cost).

One query-key pair costs ``4 * Dh`` FLOPs per head: ``2 * Dh`` for the score ``q . k`` and
``2 * Dh`` for accumulating ``p * v``. Softmax and the projections are not counted (they are the
same per token on every route, or negligible next to the two matmuls).
"""
from __future__ import annotations

import numpy as np


def _check_shape_args(H: int, Dh: int, window) -> None:
    if int(H) != H or H < 1 or int(Dh) != Dh or Dh < 1:
        raise ValueError(f"H and Dh must be positive integers, got H={H!r}, Dh={Dh!r}")
    if window is not None and (int(window) != window or window < 1):
        raise ValueError(f"window must be None (all past keys) or a positive integer, got {window!r}")


def attention_flops(pos, window, H: int, Dh: int) -> float:
    """FLOPs executed by routed attention for queries at positions ``pos``.

    Query at position ``p`` attends to ``min(p + 1, window)`` keys (all ``p + 1`` when ``window``
    is None), as in :func:`cramcog.kernels.routed_attention`.

    Parameters
    ----------
    pos : array-like of int, shape (M,)
        Positions of the routed queries (torch tensor, numpy array or list).
    window : int or None
        Key window (keys ``pos - window < j <= pos``); None means every past key.
    H, Dh : int
        Number of heads and head width.

    Returns
    -------
    float
        ``4 * H * Dh * sum_m min(pos_m + 1, window)``.

    Examples
    --------
    >>> attention_flops([0, 3], window=None, H=1, Dh=2)   # 1 + 4 keys, 8 FLOPs each
    40.0
    """
    _check_shape_args(H, Dh, window)
    if hasattr(pos, "detach"):  # torch tensor, without importing torch here
        pos = pos.detach().cpu().numpy()
    pos = np.asarray(pos, dtype=np.int64).reshape(-1)
    if pos.size and pos.min() < 0:
        raise ValueError("pos must be non-negative positions")
    keys = pos + 1
    if window is not None:
        keys = np.minimum(keys, int(window))
    return float(4.0 * H * Dh * keys.sum(dtype=np.float64))


def dense_causal_flops(N: int, window, H: int, Dh: int) -> float:
    """FLOPs of dense causal attention over ONE sequence of length ``N`` (multiply by batch).

    Equals :func:`attention_flops` with every position routed, so the ratio of the two is the
    executed fraction of dense attention.

    Parameters
    ----------
    N : int
        Sequence length (size of the key buffer).
    window : int or None
        Key window as in :func:`attention_flops`.
    H, Dh : int
        Number of heads and head width.

    Returns
    -------
    float

    Examples
    --------
    >>> dense_causal_flops(4, window=None, H=1, Dh=2)     # 1 + 2 + 3 + 4 keys
    80.0
    >>> dense_causal_flops(4, window=2, H=1, Dh=2)        # 1 + 2 + 2 + 2 keys
    56.0
    """
    _check_shape_args(H, Dh, window)
    if int(N) != N or N < 0:
        raise ValueError(f"N must be a non-negative integer, got {N!r}")
    N = int(N)
    if window is None or window >= N:
        pairs = N * (N + 1) // 2
    else:
        w = int(window)
        pairs = w * (w + 1) // 2 + (N - w) * w  # ramp-up, then a full window per position
    return float(4.0 * H * Dh * pairs)
