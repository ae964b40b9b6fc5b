"""Routed episodic attention: the plain-torch reference (what CRAM trains with on CPU) and a naive
dense twin used only by tests.

Glossary (paper -> code): the routed tokens are the ones the router sends to episodic memory; their
queries are packed into ``q`` (M, H, Dh), sorted by (batch, position). The bounded key-value buffer
of sequence b is ``k[b], v[b]`` (N, H, Dh); query m sees keys ``pos[m] - window < j <= pos[m]``.
The output is r_E for the routed tokens only: an unrouted token executes no attention.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def check_routed_inputs(q, k, v, batch_idx, pos, window, scale, check_order: bool = True):
    """Validate routed-attention arguments; returns the softmax scale to use.

    ``check_order`` also verifies (on the host) that queries are sorted by (batch, pos) without
    duplicates and that indices are in range; it is skipped for CUDA tensors because it would
    synchronise the device.
    """
    for name, t in (("q", q), ("k", k), ("v", v), ("batch_idx", batch_idx), ("pos", pos)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if q.dim() != 3 or k.dim() != 4 or v.shape != k.shape:
        raise ValueError(
            f"expected q (M,H,Dh) and k, v (B,N,H,Dh) of equal shape; got q {tuple(q.shape)}, "
            f"k {tuple(k.shape)}, v {tuple(v.shape)}")
    M, H, Dh = q.shape
    B, N, Hk, Dk = k.shape
    if (Hk, Dk) != (H, Dh):
        raise ValueError(f"q has (H,Dh)=({H},{Dh}) but k, v have ({Hk},{Dk})")
    if batch_idx.shape != (M,) or pos.shape != (M,):
        raise ValueError(f"batch_idx and pos must have shape (M,)=({M},), got "
                         f"{tuple(batch_idx.shape)} and {tuple(pos.shape)}")
    if batch_idx.dtype != torch.int64 or pos.dtype != torch.int64:
        raise TypeError("batch_idx and pos must be int64 tensors (use .long())")
    if not (q.dtype == k.dtype == v.dtype) or not q.is_floating_point():
        raise TypeError(f"q, k, v must share one floating dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    devices = {t.device for t in (q, k, v, batch_idx, pos)}
    if len(devices) != 1:
        raise ValueError(f"all tensors must be on one device, got {sorted(map(str, devices))}")
    if window is not None and (isinstance(window, bool) or int(window) != window or window < 1):
        raise ValueError(f"window must be None (all past keys) or a positive int, got {window!r}")
    if scale is None:
        scale = 1.0 / math.sqrt(Dh)
    elif not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive finite float or None, got {scale!r}")
    if check_order and M > 0 and not q.is_cuda:
        if int(batch_idx.min()) < 0 or int(batch_idx.max()) >= B:
            raise ValueError(f"batch_idx must lie in [0, {B}); got values outside")
        if int(pos.min()) < 0 or int(pos.max()) >= N:
            raise ValueError(f"pos must lie in [0, {N}); got values outside")
        key = batch_idx * N + pos
        if M > 1 and not bool((key[1:] > key[:-1]).all()):
            raise ValueError("routed queries must be sorted by (batch_idx, pos) without duplicates; "
                             "sort with key = batch_idx * N + pos")
    return float(scale)


def routed_attention_ref(q, k, v, batch_idx, pos, window=None, scale=None):
    """Routed causal attention in plain torch, computing scores only for routed queries.

    Queries are scattered into a padded (B, m_max) grid, one masked SDPA call attends them over
    the keys up to the largest routed position, and the result is gathered back. Cost is
    O(M_max_per_seq * N) per sequence, never O(N^2) unless every token is routed (then the dense
    ``is_causal`` kernel is used, which is faster than a mask).

    Parameters
    ----------
    q : Tensor (M, H, Dh)
        Packed routed queries, sorted by (batch_idx, pos), no duplicates.
    k, v : Tensor (B, N, H, Dh)
        Keys and values of every position.
    batch_idx, pos : LongTensor (M,)
        Sequence and position of each routed query.
    window : int or None
        Query at p sees keys ``p - window < j <= p``; None means every past key.
    scale : float or None
        Softmax scale, ``1/sqrt(Dh)`` by default.

    Returns
    -------
    Tensor (M, H, Dh)

    Examples
    --------
    >>> import torch
    >>> k = v = torch.randn(2, 5, 1, 4)
    >>> q = torch.randn(3, 1, 4)
    >>> out = routed_attention_ref(q, k, v, torch.tensor([0, 1, 1]), torch.tensor([4, 0, 2]))
    >>> out.shape
    torch.Size([3, 1, 4])
    >>> torch.allclose(out[1], v[1, 0])  # position 0 sees only itself
    True
    """
    scale = check_routed_inputs(q, k, v, batch_idx, pos, window, scale)
    M, H, Dh = q.shape
    B, N = k.shape[:2]
    if M == 0:
        # keep the graph connected so backward gives zero grads for k and v
        return q * 0.0 + 0.0 * (k.sum() + v.sum())
    if M == B * N and (window is None or window >= N):
        # Every position routed (sorted, unique): dense causal attention is exactly the same.
        out = F.scaled_dot_product_attention(
            q.view(B, N, H, Dh).transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
            is_causal=True, scale=scale)                       # (B, H, N, Dh)
        return out.transpose(1, 2).reshape(M, H, Dh)
    counts = torch.bincount(batch_idx, minlength=B)            # (B,) routed tokens per sequence
    offsets = torch.cumsum(counts, 0) - counts                 # (B,) first packed index
    slot = torch.arange(M, device=q.device) - offsets[batch_idx]  # (M,) index within sequence
    m_max = int(counts.max())
    n_keys = int(pos.max()) + 1                                # keys beyond the last query unused
    lo = 0 if window is None else max(0, int(pos.min()) - int(window) + 1)
    q_pad = q.new_zeros(B, m_max, H, Dh)
    q_pad[batch_idx, slot] = q
    pos_pad = torch.zeros(B, m_max, dtype=torch.int64, device=q.device)  # padding attends key 0
    pos_pad[batch_idx, slot] = pos
    j = torch.arange(lo, n_keys, device=q.device)              # (Nk,) key positions
    mask = j[None, None, :] <= pos_pad[:, :, None]             # (B, m_max, Nk) causal
    if window is not None:
        mask &= j[None, None, :] > pos_pad[:, :, None] - window
        mask |= (pos_pad[:, :, None] < lo) & (j[None, None, :] == lo)  # padding rows never empty
    out = F.scaled_dot_product_attention(
        q_pad.transpose(1, 2), k[:, lo:n_keys].transpose(1, 2), v[:, lo:n_keys].transpose(1, 2),
        attn_mask=mask[:, None], scale=scale)                  # (B, H, m_max, Dh)
    return out.transpose(1, 2)[batch_idx, slot]                # (M, H, Dh)


def routed_attention_naive(q, k, v, batch_idx, pos, window=None, scale=None):
    """Test oracle: full dense causal attention for EVERY position, then rows picked out.

    Replaces the query rows at routed positions, runs dense masked attention over all N x N
    pairs in float64-friendly plain ops, and gathers the routed rows. Slow; tests only.

    Examples
    --------
    >>> import torch
    >>> k = v = torch.randn(1, 3, 1, 2)
    >>> q = torch.randn(1, 1, 2)
    >>> routed_attention_naive(q, k, v, torch.tensor([0]), torch.tensor([0])).shape
    torch.Size([1, 1, 2])
    """
    scale = check_routed_inputs(q, k, v, batch_idx, pos, window, scale)
    B, N, H, Dh = k.shape
    q_full = torch.zeros_like(k).index_put((batch_idx, pos), q)          # (B, N, H, Dh)
    scores = torch.einsum("bihd,bjhd->bhij", q_full, k) * scale          # (B, H, N, N)
    i = torch.arange(N, device=k.device)
    allowed = i[None, :] <= i[:, None]
    if window is not None:
        allowed &= i[None, :] > i[:, None] - window
    scores = scores.masked_fill(~allowed, float("-inf"))
    out = torch.einsum("bhij,bjhd->bihd", scores.softmax(-1), v)         # (B, N, H, Dh)
    return out[batch_idx, pos]
