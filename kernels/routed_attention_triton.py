"""Routed episodic attention in Triton: forward and backward, online softmax, only routed queries,
only their causal window of keys.

Work decomposition (no host synchronisation):
- queries are packed (M, H, Dh) and sorted by (batch, pos); each sequence's queries are cut into
  blocks of BLOCK_M, so a block never mixes sequences. Each program finds its (sequence, first
  query, end query) from the (B+1,) sequence offsets (one searchsorted) with a scalar loop over B;
  the grid is the host-known upper bound cdiv(M, BLOCK_M) + B and spare programs store nothing.
  Few launches matter: at 1.6% routing the whole forward is tens of microseconds;
- a query block reads keys from (min pos - window + 1) to its max pos only;
- with few query blocks (sparse routing) the key range is split over NUM_SPLITS programs
  (flash-decoding style); partial results carry their log-sum-exp and one merge kernel combines
  them;
- backward: dQ reuses the forward decomposition (split partials are summed); dK/dV run one program
  per (key block, head) over the contiguous range of queries that can see it (found by
  searchsorted on batch * N + pos), so no atomics and every key row is written, zeros included.
Scores are in base 2 (exp2) with the softmax scale folded into log2(e).
"""
from __future__ import annotations

import functools

import torch
import triton
import triton.language as tl

from .alloc import empty
from .ops import interpreting
from .routed_attention_ref import check_routed_inputs

LOG2E = 1.4426950408889634
# finite "minus infinity" for running maxima: exp2(NEG_BIG - NEG_BIG) = 1, not NaN
NEG_BIG = tl.constexpr(-1.0e30)


def _autotune_configs():
    if interpreting():  # the interpreter ignores warps/stages: one config keeps tests fast
        return [triton.Config({}, num_warps=4, num_stages=1)]
    return [triton.Config({}, num_warps=w, num_stages=s) for w in (4, 8) for s in (2, 3)]


@triton.jit
def _query_block(OFF, pid, B, BLOCK_M: tl.constexpr):
    """Program pid -> (sequence b, first query qs, end query qe) of its query block.

    OFF (B+1,) holds each sequence's first packed query; blocks never straddle sequences.
    Programs past the last block get qs == qe (nothing to do). A scalar loop over B: cheaper
    than building a table with several small torch launches per call.
    """
    zero = pid * 0
    b_sel, qs, qe, first = zero, zero, zero, zero
    for bb in range(0, B):
        o0 = tl.load(OFF + bb).to(tl.int32)
        o1 = tl.load(OFF + bb + 1).to(tl.int32)
        n_blk = (o1 - o0 + BLOCK_M - 1) // BLOCK_M
        inside = (pid >= first) & (pid < first + n_blk)
        start = o0 + (pid - first) * BLOCK_M
        b_sel = tl.where(inside, bb, b_sel)
        qs = tl.where(inside, start, qs)
        qe = tl.where(inside, tl.minimum(start + BLOCK_M, o1), qe)
        first += n_blk
    return b_sel, qs, qe


@triton.jit
def _merge_kernel(O_PART, LSE_PART, O, LSE, M, H, Dh, NUM_SPLITS,
                  BLOCK_S: tl.constexpr, BLOCK_D: tl.constexpr):
    """One (query, head) row: o = sum_s 2^(lse_s - lse) o_s, lse = log2 sum_s 2^lse_s."""
    row = tl.program_id(0) * H + tl.program_id(1)          # (M, H) row-major
    offs_s = tl.arange(0, BLOCK_S)
    offs_d = tl.arange(0, BLOCK_D)
    mask_s = offs_s < NUM_SPLITS
    lse_s = tl.load(LSE_PART + offs_s * M * H + row, mask=mask_s, other=float("-inf"))
    top = tl.max(lse_s, 0)
    w = tl.exp2(lse_s - top)                                # split without keys: lse -inf -> 0
    total = tl.sum(w, 0)
    o_s = tl.load(O_PART + (offs_s[:, None] * M * H + row) * Dh + offs_d[None, :],
                  mask=mask_s[:, None] & (offs_d[None, :] < Dh), other=0.0)
    out = tl.sum(w[:, None] * o_s, 0) / total
    tl.store(O + row * Dh + offs_d, out.to(O.dtype.element_ty), mask=offs_d < Dh)
    tl.store(LSE + row, top + tl.log2(total))


@triton.jit
def _split_key_range(POS, qs, qe, split, WINDOW, NUM_SPLITS, HAS_WINDOW: tl.constexpr,
                     BLOCK_N: tl.constexpr):
    """Keys [start, stop) that split ``split`` of the query block [qs, qe) visits.

    The block may see keys [lo, hi): sorted positions give their min/max at the ends; lo is
    rounded down to a key block and the blocks are shared out evenly over NUM_SPLITS programs.
    The forward and the dQ pass call this one function so their key ranges always agree.
    """
    p_first = tl.load(POS + qs, mask=qs < qe, other=0).to(tl.int32)
    p_last = tl.load(POS + qe - 1, mask=qs < qe, other=-1).to(tl.int32)
    hi = p_last + 1
    lo = 0
    if HAS_WINDOW:
        lo = tl.maximum(p_first - WINDOW + 1, 0)
    lo = (lo // BLOCK_N) * BLOCK_N
    n_blocks = tl.maximum(tl.cdiv(hi - lo, BLOCK_N), 0)
    per_split = tl.cdiv(n_blocks, NUM_SPLITS)
    start = lo + split * per_split * BLOCK_N
    stop = tl.minimum(start + per_split * BLOCK_N, hi)
    return start, stop


@triton.jit
def _block_seen(pos, n0, WINDOW, BLOCK_N: tl.constexpr):
    """Does any query of the block see a key in [n0, n0 + BLOCK_N)? (padding rows: pos = -1)"""
    seen = (pos >= n0) & (pos - WINDOW < n0 + BLOCK_N)
    return tl.max(seen.to(tl.int32), 0) > 0


@triton.jit
def _fwd_key_block(q, K, V, kv_base, n0, stop, pos, m_i, l_i, acc, skn, offs_d, mask_d, WINDOW,
                   qk_scale, HAS_WINDOW: tl.constexpr, BLOCK_N: tl.constexpr, PREC: tl.constexpr):
    """Online-softmax update of (m_i, l_i, acc) with keys [n0, n0 + BLOCK_N) (< stop)."""
    offs_n = n0 + tl.arange(0, BLOCK_N)
    mask_n = offs_n < stop
    kv_off = kv_base + offs_n[:, None] * skn + offs_d[None, :]
    k = tl.load(K + kv_off, mask=mask_n[:, None] & mask_d[None, :], other=0.0)
    s = tl.dot(q, tl.trans(k), input_precision=PREC) * qk_scale  # (BM, BN), base 2
    valid = (offs_n[None, :] <= pos[:, None]) & mask_n[None, :]
    if HAS_WINDOW:
        valid = valid & (offs_n[None, :] > pos[:, None] - WINDOW)
    s = tl.where(valid, s, float("-inf"))
    m_new = tl.maximum(m_i, tl.max(s, 1))
    alpha = tl.exp2(m_i - m_new)
    p = tl.exp2(s - m_new[:, None])
    l_i = l_i * alpha + tl.sum(p, 1)
    v = tl.load(V + kv_off, mask=mask_n[:, None] & mask_d[None, :], other=0.0)
    acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PREC)
    return m_new, l_i, acc


@triton.jit
def _dq_key_block(q, do, K, V, kv_base, n0, stop, pos, mask_m, lse, delta, dq, skn, offs_d,
                  mask_d, WINDOW, qk_scale, HAS_WINDOW: tl.constexpr, BLOCK_N: tl.constexpr,
                  PREC: tl.constexpr):
    """dq += dS K over keys [n0, n0 + BLOCK_N) (< stop), P recomputed from the saved lse."""
    offs_n = n0 + tl.arange(0, BLOCK_N)
    mask_n = offs_n < stop
    kv_off = kv_base + offs_n[:, None] * skn + offs_d[None, :]
    k = tl.load(K + kv_off, mask=mask_n[:, None] & mask_d[None, :], other=0.0)
    v = tl.load(V + kv_off, mask=mask_n[:, None] & mask_d[None, :], other=0.0)
    s = tl.dot(q, tl.trans(k), input_precision=PREC) * qk_scale
    valid = (offs_n[None, :] <= pos[:, None]) & mask_n[None, :] & mask_m[:, None]
    if HAS_WINDOW:
        valid = valid & (offs_n[None, :] > pos[:, None] - WINDOW)
    p = tl.where(valid, tl.exp2(s - lse[:, None]), 0.0)
    dp = tl.dot(do, tl.trans(v), input_precision=PREC)
    ds = p * (dp - delta[:, None])
    return dq + tl.dot(ds.to(k.dtype), k, input_precision=PREC)


@triton.autotune(configs=_autotune_configs(), key=["BLOCK_M", "BLOCK_N", "BLOCK_D", "HAS_WINDOW"])
@triton.jit
def _fwd_kernel(Q, K, V, POS, OFF, B, O, LSE,
                sqm, sqh, skb, skn, skh, som_split, som, soh, sl_split, slm,
                N, Dh, WINDOW, qk_scale, NUM_SPLITS,
                HAS_WINDOW: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                BLOCK_D: tl.constexpr, PREC: tl.constexpr):
    pid = tl.program_id(0)
    head = tl.program_id(1)
    split = tl.program_id(2)
    b, qs, qe = _query_block(OFF, pid, B, BLOCK_M)  # qs == qe: spare program, nothing to do
    offs_m = qs + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    mask_m = offs_m < qe
    mask_d = offs_d < Dh
    pos = tl.load(POS + offs_m, mask=mask_m, other=-1).to(tl.int32)
    q = tl.load(Q + offs_m[:, None] * sqm + head * sqh + offs_d[None, :],
                mask=mask_m[:, None] & mask_d[None, :], other=0.0)
    start, stop = _split_key_range(POS, qs, qe, split, WINDOW, NUM_SPLITS, HAS_WINDOW, BLOCK_N)

    m_i = tl.full([BLOCK_M], NEG_BIG, dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    kv_base = b.to(tl.int64) * skb + head * skh     # int64: B*N*H*Dh may pass 2^31
    for n0 in range(start, stop, BLOCK_N):
        if HAS_WINDOW:
            # sparse queries with a short window leave most key blocks unseen: skip those
            if _block_seen(pos, n0, WINDOW, BLOCK_N):
                m_i, l_i, acc = _fwd_key_block(q, K, V, kv_base, n0, stop, pos, m_i, l_i, acc,
                                               skn, offs_d, mask_d, WINDOW, qk_scale,
                                               HAS_WINDOW, BLOCK_N, PREC)
        else:
            m_i, l_i, acc = _fwd_key_block(q, K, V, kv_base, n0, stop, pos, m_i, l_i, acc,
                                           skn, offs_d, mask_d, WINDOW, qk_scale,
                                           HAS_WINDOW, BLOCK_N, PREC)
    safe_l = tl.where(l_i > 0, l_i, 1.0)
    out = acc / safe_l[:, None]
    lse = tl.where(l_i > 0, m_i + tl.log2(safe_l), float("-inf"))  # -inf: no key in this split
    o_ptr = O + split * som_split + offs_m[:, None] * som + head * soh + offs_d[None, :]
    tl.store(o_ptr, out.to(O.dtype.element_ty), mask=mask_m[:, None] & mask_d[None, :])
    tl.store(LSE + split * sl_split + offs_m * slm + head, lse, mask=mask_m)


@triton.autotune(configs=_autotune_configs(), key=["BLOCK_M", "BLOCK_N", "BLOCK_D", "HAS_WINDOW"])
@triton.jit
def _bwd_dq_kernel(Q, K, V, DO, POS, LSE, DELTA, OFF, B, DQ,
                   sqm, sqh, skb, skn, skh, sdq_split, slm,
                   N, Dh, WINDOW, qk_scale, sm_scale, NUM_SPLITS,
                   HAS_WINDOW: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                   BLOCK_D: tl.constexpr, PREC: tl.constexpr):
    pid = tl.program_id(0)
    head = tl.program_id(1)
    split = tl.program_id(2)
    b, qs, qe = _query_block(OFF, pid, B, BLOCK_M)
    offs_m = qs + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    mask_m = offs_m < qe
    mask_d = offs_d < Dh
    md = mask_m[:, None] & mask_d[None, :]
    pos = tl.load(POS + offs_m, mask=mask_m, other=-1).to(tl.int32)
    q_off = offs_m[:, None] * sqm + head * sqh + offs_d[None, :]   # q, do, dq share a layout
    q = tl.load(Q + q_off, mask=md, other=0.0)
    do = tl.load(DO + q_off, mask=md, other=0.0)
    lse = tl.load(LSE + offs_m * slm + head, mask=mask_m, other=0.0)
    delta = tl.load(DELTA + offs_m * slm + head, mask=mask_m, other=0.0)
    start, stop = _split_key_range(POS, qs, qe, split, WINDOW, NUM_SPLITS, HAS_WINDOW, BLOCK_N)

    dq = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    kv_base = b.to(tl.int64) * skb + head * skh     # int64: B*N*H*Dh may pass 2^31
    for n0 in range(start, stop, BLOCK_N):
        if HAS_WINDOW:
            if _block_seen(pos, n0, WINDOW, BLOCK_N):
                dq = _dq_key_block(q, do, K, V, kv_base, n0, stop, pos, mask_m, lse, delta, dq,
                                   skn, offs_d, mask_d, WINDOW, qk_scale, HAS_WINDOW, BLOCK_N,
                                   PREC)
        else:
            dq = _dq_key_block(q, do, K, V, kv_base, n0, stop, pos, mask_m, lse, delta, dq,
                               skn, offs_d, mask_d, WINDOW, qk_scale, HAS_WINDOW, BLOCK_N, PREC)
    tl.store(DQ + split * sdq_split + q_off, (dq * sm_scale).to(DQ.dtype.element_ty), mask=md)


@triton.autotune(configs=_autotune_configs(), key=["BLOCK_M", "BLOCK_N", "BLOCK_D", "HAS_WINDOW"])
@triton.jit
def _bwd_dkdv_kernel(Q, K, V, DO, POS, LSE, DELTA, QLO, QHI, DK, DV,
                     sqm, sqh, skb, skn, skh, slm,
                     N, Dh, WINDOW, qk_scale, sm_scale, n_key_blocks,
                     HAS_WINDOW: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                     BLOCK_D: tl.constexpr, PREC: tl.constexpr):
    pid = tl.program_id(0)                          # b * n_key_blocks + key block
    head = tl.program_id(1)
    b = pid // n_key_blocks
    offs_n = (pid % n_key_blocks) * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    mask_n = offs_n < N
    mask_d = offs_d < Dh
    nd = mask_n[:, None] & mask_d[None, :]
    kv_off = b.to(tl.int64) * skb + head * skh + offs_n[:, None] * skn + offs_d[None, :]
    k = tl.load(K + kv_off, mask=nd, other=0.0)
    v = tl.load(V + kv_off, mask=nd, other=0.0)
    q_lo = tl.load(QLO + pid)                       # queries of sequence b that see this block
    q_hi = tl.load(QHI + pid)
    dk = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    dv = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    for m0 in range(q_lo, q_hi, BLOCK_M):
        offs_m = m0 + tl.arange(0, BLOCK_M)
        mask_m = offs_m < q_hi
        md = mask_m[:, None] & mask_d[None, :]
        q_off = offs_m[:, None] * sqm + head * sqh + offs_d[None, :]
        q = tl.load(Q + q_off, mask=md, other=0.0)
        do = tl.load(DO + q_off, mask=md, other=0.0)
        pos = tl.load(POS + offs_m, mask=mask_m, other=-1).to(tl.int32)
        lse = tl.load(LSE + offs_m * slm + head, mask=mask_m, other=0.0)
        delta = tl.load(DELTA + offs_m * slm + head, mask=mask_m, other=0.0)
        s = tl.dot(q, tl.trans(k), input_precision=PREC) * qk_scale  # (BM, BN)
        valid = (offs_n[None, :] <= pos[:, None]) & mask_n[None, :] & mask_m[:, None]
        if HAS_WINDOW:
            valid = valid & (offs_n[None, :] > pos[:, None] - WINDOW)
        p = tl.where(valid, tl.exp2(s - lse[:, None]), 0.0)
        dv += tl.dot(tl.trans(p).to(do.dtype), do, input_precision=PREC)
        dp = tl.dot(do, tl.trans(v), input_precision=PREC)
        ds = p * (dp - delta[:, None])
        dk += tl.dot(tl.trans(ds).to(q.dtype), q, input_precision=PREC)
    tl.store(DK + kv_off, (dk * sm_scale).to(DK.dtype.element_ty), mask=nd)
    tl.store(DV + kv_off, dv.to(DV.dtype.element_ty), mask=nd)


def _precision(dtype):
    """fp32 inputs get exact (IEEE) dot products, matching the reference; half types use tensor
    cores natively."""
    return "ieee" if dtype == torch.float32 else "tf32"


def _block_sizes(M, B, Dh):
    """(BLOCK_M, BLOCK_N, BLOCK_D). tl.dot needs every block dim >= 16."""
    block_d = max(16, triton.next_power_of_2(Dh))
    if interpreting():
        return 16, 16, block_d
    per_seq = max(1, M // max(B, 1))
    # A block computes all its rows against keys up to its LAST query's position, and a
    # sequence's last block is partly padding: with sparse routing short blocks waste less
    # (131 queries over 8k keys: 64-row blocks do ~2.4x the needed work, 32-row ~1.4x);
    # with dense routing tall blocks use the tensor cores better.
    if per_seq <= 16:
        block_m = 16
    elif per_seq <= 512:
        block_m = 32
    elif per_seq < 2048 or block_d > 64:
        block_m = 64
    else:
        block_m = 128  # ptxas, sm_90: 8 warps, no spills
    block_n = 64 if block_d <= 64 else 32
    return block_m, block_n, block_d


def _dkdv_query_tile(block_m, block_d):
    """Query tile of the dK/dV loop (independent of the forward's query blocks): 32 rows for
    Dh > 64 or 64 otherwise, so the dK, dV accumulators and the recomputed tiles fit registers."""
    if interpreting():
        return 16
    return 32 if block_d > 64 else min(block_m, 64)


@functools.lru_cache(maxsize=64)
def _sequence_ids(B, device):
    return torch.arange(B + 1, device=device)                       # cached: one launch fewer


def _sequence_offsets(batch_idx, B):
    """(B+1,) first packed query of each sequence (batch_idx sorted): one launch, no sync."""
    return torch.searchsorted(batch_idx, _sequence_ids(B, batch_idx.device))


def _n_query_programs(M, B, block_m):
    """Host-known upper bound on the number of per-sequence query blocks."""
    return triton.cdiv(M, block_m) + B


def _key_block_query_ranges(batch_idx, pos, B, N, block_n, window):
    """For each (sequence, key block): the packed query range [lo, hi) that can see its keys."""
    dev = pos.device
    key = batch_idx * N + pos                                          # (M,) sorted
    n_kb = triton.cdiv(N, block_n)
    b = torch.arange(B, device=dev).repeat_interleave(n_kb)            # (B * n_kb,)
    ks = torch.arange(n_kb, device=dev).repeat(B) * block_n            # first key of the block
    lo = torch.searchsorted(key, b * N + ks)                           # first query with pos >= ks
    if window is None:
        bound = torch.full_like(ks, N)
    else:
        ke = torch.clamp(ks + block_n, max=N)                          # last key is ke - 1
        bound = torch.clamp(ke - 1 + window, max=N)                    # pos - window < ke - 1
    hi = torch.searchsorted(key, b * N + bound)
    return lo.to(torch.int32), torch.maximum(lo, hi).to(torch.int32), n_kb


@functools.lru_cache(maxsize=None)
def _sm_count(device_index):
    return torch.cuda.get_device_properties(device_index).multi_processor_count


def _num_splits(n_programs, N, block_n, device):
    """Split the key range when query blocks alone cannot fill the GPU."""
    if device.type != "cuda":
        return 1
    sms = _sm_count(device.index if device.index is not None else torch.cuda.current_device())
    want = triton.cdiv(4 * sms, max(n_programs, 1))  # a few resident programs per SM
    return int(max(1, min(want, N // (4 * block_n), 16)))


def _merge_splits(o_parts, lse_parts, dtype):
    """Merge split partials (S, M, H, Dh), (S, M, H) into out (M, H, Dh) and lse (M, H)."""
    S, M, H, Dh = o_parts.shape
    out = empty((M, H, Dh), dtype, o_parts.device)
    lse = empty((M, H), torch.float32, o_parts.device)
    _merge_kernel[(M, H)](o_parts, lse_parts, out, lse, M, H, Dh, S,
                          BLOCK_S=max(2, triton.next_power_of_2(S)),
                          BLOCK_D=max(16, triton.next_power_of_2(Dh)))
    return out, lse


class _RoutedAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, batch_idx, pos, window, scale, num_splits):
        M, H, Dh = q.shape
        B, N = k.shape[:2]
        q = q.contiguous()
        if k.stride(-1) != 1 or v.stride() != k.stride():
            # one set of strides serves k, v, dk, dv; views such as kv.unbind(2) need no copy
            k, v = k.contiguous(), v.contiguous()
        block_m, block_n, block_d = _block_sizes(M, B, Dh)
        offsets = _sequence_offsets(batch_idx, B)                       # (B+1,)
        n_prog = _n_query_programs(M, B, block_m)
        splits = num_splits or _num_splits(n_prog * H, N, block_n, q.device)
        if splits == 1:
            o = empty((1, M, H, Dh), q.dtype, q.device)
        else:
            o = empty((splits, M, H, Dh), torch.float32, q.device)
        lse = empty((splits, M, H), torch.float32, q.device)
        has_window = window is not None
        _fwd_kernel[(n_prog, H, splits)](
            q, k, v, pos, offsets, B, o, lse,
            q.stride(0), q.stride(1), k.stride(0), k.stride(1), k.stride(2),
            o.stride(0), o.stride(1), o.stride(2), lse.stride(0), lse.stride(1),
            N, Dh, window if has_window else 1, scale * LOG2E, splits,
            HAS_WINDOW=has_window, BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_D=block_d,
            PREC=_precision(q.dtype))
        if splits == 1:
            out, lse = o[0], lse[0]
        else:
            out, lse = _merge_splits(o, lse, q.dtype)
        ctx.save_for_backward(q, k, v, batch_idx, pos, out, lse, offsets)
        ctx.cfg = (window, scale, splits, block_m, block_n, block_d)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, batch_idx, pos, out, lse, offsets = ctx.saved_tensors
        window, scale, splits, block_m, block_n, block_d = ctx.cfg
        M, H, Dh = q.shape
        B, N = k.shape[:2]
        do = grad_out.contiguous()
        delta = (do.float() * out.float()).sum(-1).contiguous()          # (M, H) rowsum(dO * O)
        has_window = window is not None
        w = window if has_window else 1
        n_prog = _n_query_programs(M, B, block_m)
        dq_buf = empty((splits, M, H, Dh), q.dtype if splits == 1 else torch.float32, q.device)
        _bwd_dq_kernel[(n_prog, H, splits)](
            q, k, v, do, pos, lse, delta, offsets, B, dq_buf,
            q.stride(0), q.stride(1), k.stride(0), k.stride(1), k.stride(2),
            dq_buf.stride(0), lse.stride(0),
            N, Dh, w, scale * LOG2E, scale, splits,
            HAS_WINDOW=has_window, BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_D=block_d,
            PREC=_precision(q.dtype))
        dq = dq_buf[0] if splits == 1 else dq_buf.sum(0).to(q.dtype)
        q_lo, q_hi, n_kb = _key_block_query_ranges(batch_idx, pos, B, N, block_n, window)
        dk = empty(k.shape, k.dtype, k.device, strides=k.stride())    # same layout as k
        dv = empty(v.shape, v.dtype, v.device, strides=k.stride())
        _bwd_dkdv_kernel[(B * n_kb, H)](
            q, k, v, do, pos, lse, delta, q_lo, q_hi, dk, dv,
            q.stride(0), q.stride(1), k.stride(0), k.stride(1), k.stride(2), lse.stride(0),
            N, Dh, w, scale * LOG2E, scale, n_kb,
            HAS_WINDOW=has_window, BLOCK_M=_dkdv_query_tile(block_m, block_d), BLOCK_N=block_n,
            BLOCK_D=block_d, PREC=_precision(q.dtype))
        return dq, dk, dv, None, None, None, None, None


def routed_attention_triton(q, k, v, batch_idx, pos, window=None, scale=None, *,
                            num_splits=None, dense_fast_path=True):
    """Triton routed attention; same contract as :func:`cramcog.kernels.routed_attention`.

    ``num_splits`` forces the number of key-range splits (default: chosen from the GPU size);
    ``dense_fast_path`` sends the all-routed case (M == B * N, no effective window) to
    ``scaled_dot_product_attention(is_causal=True)``, which is then exactly equivalent.

    Examples
    --------
    >>> import torch  # doctest: +SKIP
    >>> k = v = torch.randn(1, 64, 2, 32, device="cuda", dtype=torch.float16)  # doctest: +SKIP
    >>> q = torch.randn(2, 2, 32, device="cuda", dtype=torch.float16)  # doctest: +SKIP
    >>> routed_attention_triton(q, k, v, torch.tensor([0, 0], device="cuda"),
    ...                         torch.tensor([5, 60], device="cuda")).shape  # doctest: +SKIP
    torch.Size([2, 2, 32])
    """
    scale = check_routed_inputs(q, k, v, batch_idx, pos, window, scale)
    window = None if window is None else int(window)   # numpy ints are not kernel arguments
    M, H, Dh = q.shape
    B, N = k.shape[:2]
    if num_splits is not None and (int(num_splits) != num_splits or num_splits < 1):
        raise ValueError(f"num_splits must be a positive int or None, got {num_splits!r}")
    if dense_fast_path and M == B * N and M > 0 and (window is None or window >= N):
        out = torch.nn.functional.scaled_dot_product_attention(
            q.view(B, N, H, Dh).transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
            is_causal=True, scale=scale)                                 # (B, H, N, Dh)
        return out.transpose(1, 2).reshape(M, H, Dh)
    if M == 0 or B == 0:
        return q * 0.0 + 0.0 * (k.sum() + v.sum())
    return _RoutedAttention.apply(q, k, v, batch_idx, pos, window, scale, num_splits)
