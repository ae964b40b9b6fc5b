"""Selective SSM scan in Triton (forward and backward), mamba-ssm ``selective_scan_fn`` convention.

One program per (batch row, block of channels): the (channels x S) state stays in registers while
the program walks the L time steps; exp(delta_t A) is formed on the fly, never stored.
The kernel does the recurrence and the read-out y_t = C_t . h_t; delta_bias/softplus before it and
the D skip / silu(z) gate after it are elementwise torch ops shared with the reference, so autograd
covers them.

Backward choice: CHECKPOINT + RECOMPUTE. When a gradient is needed the forward stores only the
state entering each chunk of CHUNK steps (B, C, L/CHUNK, S); the backward walks the chunks from
the last, recomputes the chunk's CHUNK states into a small per-program scratch buffer, then walks
the chunk backwards. Memory is 1/CHUNK of storing every state, for one extra forward pass.
Running the recurrence backwards instead (h_{t-1} = (h_t - b_t) / exp(delta_t A)) would divide by
a tiny decay and blow up. Partial gradients of the shared Bm, Cm and of A are written per channel
block and summed by torch (no atomics, deterministic).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

from .alloc import empty
from .ops import interpreting
from .selective_scan_ref import _finish, check_selective_scan_inputs


def _configs():
    if interpreting():
        return [triton.Config({}, num_warps=1, num_stages=1)]
    return [triton.Config({}, num_warps=w, num_stages=1) for w in (1, 2, 4)]


@triton.autotune(configs=_configs(), key=["BLOCK_C", "BLOCK_S", "STORE_STATES"])
@triton.jit
def _ssm_fwd_kernel(U, DELTA, A, BM, CM, Y, CK, C, L, S, n_chunks,
                    STORE_STATES: tl.constexpr, CHUNK: tl.constexpr, BLOCK_C: tl.constexpr,
                    BLOCK_S: tl.constexpr):
    b = tl.program_id(0).to(tl.int64)              # int64 offsets: B*C*L*S may pass 2^31
    offs_c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    offs_s = tl.arange(0, BLOCK_S)
    mask_c = offs_c < C
    mask_s = offs_s < S
    mask_cs = mask_c[:, None] & mask_s[None, :]
    a = tl.load(A + offs_c[:, None] * S + offs_s[None, :], mask=mask_cs, other=0.0).to(tl.float32)
    h = tl.zeros([BLOCK_C, BLOCK_S], dtype=tl.float32)
    cl = b * C * L + offs_c * L                       # (B, C, L) rows of this block
    sl = b * S * L + offs_s * L                       # (B, S, L) rows
    ck_off = ((b * C + offs_c[:, None]) * n_chunks) * S + offs_s[None, :]  # (B, C, chunks, S)
    # software prefetch: step t+1's inputs load while step t computes
    u_nx = tl.load(U + cl, mask=mask_c, other=0.0)
    d_nx = tl.load(DELTA + cl, mask=mask_c, other=0.0)
    b_nx = tl.load(BM + sl, mask=mask_s, other=0.0)
    c_nx = tl.load(CM + sl, mask=mask_s, other=0.0)
    for t in range(L):
        if STORE_STATES:
            if t % CHUNK == 0:                         # checkpoint: the state entering chunk
                tl.store(CK + ck_off + (t // CHUNK) * S, h, mask=mask_cs)
        u, d = u_nx.to(tl.float32), d_nx.to(tl.float32)
        bt, ct = b_nx.to(tl.float32), c_nx.to(tl.float32)
        tn = tl.minimum(t + 1, L - 1)
        u_nx = tl.load(U + cl + tn, mask=mask_c, other=0.0)
        d_nx = tl.load(DELTA + cl + tn, mask=mask_c, other=0.0)
        b_nx = tl.load(BM + sl + tn, mask=mask_s, other=0.0)
        c_nx = tl.load(CM + sl + tn, mask=mask_s, other=0.0)
        h = tl.exp(d[:, None] * a) * h + (d * u)[:, None] * bt[None, :]
        tl.store(Y + cl + t, tl.sum(h * ct[None, :], axis=1), mask=mask_c)


@triton.autotune(configs=_configs(), key=["CHUNK", "BLOCK_C", "BLOCK_S"])
@triton.jit
def _ssm_bwd_kernel(U, DELTA, A, BM, CM, CK, SCRATCH, DY, DU, DDELTA, DA_PART, DB_PART, DC_PART,
                    C, L, S, n_chunks,
                    CHUNK: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr):
    b = tl.program_id(0).to(tl.int64)              # int64 offsets: B*C*L*S may pass 2^31
    cb = tl.program_id(1)
    n_cb = tl.num_programs(1)
    offs_c = cb * BLOCK_C + tl.arange(0, BLOCK_C)
    offs_s = tl.arange(0, BLOCK_S)
    mask_c = offs_c < C
    mask_s = offs_s < S
    mask_cs = mask_c[:, None] & mask_s[None, :]
    a = tl.load(A + offs_c[:, None] * S + offs_s[None, :], mask=mask_cs, other=0.0).to(tl.float32)
    cl = b * C * L + offs_c * L
    sl = b * S * L + offs_s * L
    part = ((b * n_cb + cb) * S + offs_s) * L           # (B, n_cb, S, L) partial dB, dC rows
    ck_off = ((b * C + offs_c[:, None]) * n_chunks) * S + offs_s[None, :]
    # this program's scratch (CHUNK, BLOCK_C, BLOCK_S): the recomputed states of one chunk
    scr_off = ((b * n_cb + cb) * CHUNK * BLOCK_C + tl.arange(0, BLOCK_C)[:, None]) * BLOCK_S \
        + offs_s[None, :]
    scr_step = BLOCK_C * BLOCK_S
    g = tl.zeros([BLOCK_C, BLOCK_S], dtype=tl.float32)  # dL/dh_t
    da_acc = tl.zeros([BLOCK_C, BLOCK_S], dtype=tl.float32)
    for jj in range(n_chunks):
        j = n_chunks - 1 - jj
        t0 = j * CHUNK
        n_t = tl.minimum(L - t0, CHUNK)
        h_start = tl.load(CK + ck_off + j * S, mask=mask_cs, other=0.0)
        h = h_start
        for i in range(n_t):                            # recompute the chunk's states
            t = t0 + i
            u = tl.load(U + cl + t, mask=mask_c, other=0.0).to(tl.float32)
            d = tl.load(DELTA + cl + t, mask=mask_c, other=0.0).to(tl.float32)
            bt = tl.load(BM + sl + t, mask=mask_s, other=0.0).to(tl.float32)
            h = tl.exp(d[:, None] * a) * h + (d * u)[:, None] * bt[None, :]
            tl.store(SCRATCH + scr_off + i * scr_step, h)
        tl.debug_barrier()                              # scratch writes visible to the block
        for i in range(n_t):                            # then walk the chunk backwards
            t = t0 + n_t - 1 - i
            u = tl.load(U + cl + t, mask=mask_c, other=0.0).to(tl.float32)
            d = tl.load(DELTA + cl + t, mask=mask_c, other=0.0).to(tl.float32)
            bt = tl.load(BM + sl + t, mask=mask_s, other=0.0).to(tl.float32)
            ct = tl.load(CM + sl + t, mask=mask_s, other=0.0).to(tl.float32)
            dy = tl.load(DY + cl + t, mask=mask_c, other=0.0).to(tl.float32)
            h = tl.load(SCRATCH + scr_off + (t - t0) * scr_step)
            h_prev = tl.load(SCRATCH + scr_off + tl.maximum(t - t0 - 1, 0) * scr_step)
            h_prev = tl.where(t > t0, h_prev, h_start)
            g += dy[:, None] * ct[None, :]
            tl.store(DC_PART + part + t, tl.sum(dy[:, None] * h, axis=0), mask=mask_s)
            decay = tl.exp(d[:, None] * a)
            gh = g * h_prev * decay                       # dL/d(delta_t A) per (c, s)
            gb = tl.sum(g * bt[None, :], axis=1)          # sum_s g B_t
            tl.store(DDELTA + cl + t, tl.sum(gh * a, axis=1) + gb * u, mask=mask_c)
            tl.store(DU + cl + t, gb * d, mask=mask_c)
            tl.store(DB_PART + part + t, tl.sum(g * (d * u)[:, None], axis=0), mask=mask_s)
            da_acc += gh * d[:, None]
            g = g * decay                                 # to dL/dh_{t-1}
        tl.debug_barrier()                              # before the next chunk reuses scratch
    tl.store(DA_PART + b * C * S + offs_c[:, None] * S + offs_s[None, :], da_acc, mask=mask_cs)


def _chunk():
    """Steps per checkpoint: memory B*C*S*(L/CHUNK) instead of B*C*L*S; each step is
    recomputed once in the backward."""
    return 4 if interpreting() else 64


def _blocks(C, S):
    block_s = max(2, triton.next_power_of_2(S))
    block_c = max(2, min(32 if not interpreting() else 8, triton.next_power_of_2(C),
                         max(2, 4096 // block_s)))
    return block_c, block_s


class _ScanCore(torch.autograd.Function):
    """y_t = C_t . h_t, h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t (delta already final)."""

    @staticmethod
    def forward(ctx, u, delta, A, Bm, Cm):
        Bsz, C, L = u.shape
        S = A.shape[1]
        u, delta, A, Bm, Cm = (t.contiguous() for t in (u, delta, A, Bm, Cm))
        block_c, block_s = _blocks(C, S)
        need_grad = any(ctx.needs_input_grad)
        y = empty((Bsz, C, L), torch.float32, u.device)
        chunk = _chunk()
        n_chunks = triton.cdiv(L, chunk)
        ck = empty((Bsz, C, n_chunks, S) if need_grad else (1,), torch.float32, u.device)
        grid = (Bsz, triton.cdiv(C, block_c))
        if Bsz * C * L > 0:
            _ssm_fwd_kernel[grid](u, delta, A, Bm, Cm, y, ck, C, L, S, n_chunks,
                                  STORE_STATES=need_grad, CHUNK=chunk, BLOCK_C=block_c,
                                  BLOCK_S=block_s)
        ctx.save_for_backward(u, delta, A, Bm, Cm, ck)
        ctx.blocks = (block_c, block_s)
        return y

    @staticmethod
    def backward(ctx, dy):
        u, delta, A, Bm, Cm, ck = ctx.saved_tensors
        block_c, block_s = ctx.blocks
        Bsz, C, L = u.shape
        S = A.shape[1]
        n_cb = triton.cdiv(C, block_c)
        dy = dy.contiguous()
        du = empty((Bsz, C, L), torch.float32, u.device)
        ddelta = empty((Bsz, C, L), torch.float32, u.device)
        da_part = empty((Bsz, C, S), torch.float32, u.device)
        db_part = empty((Bsz, n_cb, S, L), torch.float32, u.device)
        dc_part = empty((Bsz, n_cb, S, L), torch.float32, u.device)
        if Bsz * C * L > 0:
            chunk = _chunk()
            scratch = torch.empty((Bsz, n_cb, chunk, block_c, block_s), dtype=torch.float32,
                                  device=u.device)           # internal, always written first
            _ssm_bwd_kernel[(Bsz, n_cb)](u, delta, A, Bm, Cm, ck, scratch, dy, du, ddelta, da_part,
                                         db_part, dc_part, C, L, S, triton.cdiv(L, chunk),
                                         CHUNK=chunk, BLOCK_C=block_c, BLOCK_S=block_s)
        else:
            for t in (du, ddelta, da_part, db_part, dc_part):
                t.zero_()
        return (du.to(u.dtype), ddelta.to(delta.dtype), da_part.sum(0).to(A.dtype),
                db_part.sum(1).to(Bm.dtype), dc_part.sum(1).to(Cm.dtype))


def selective_scan_triton(u, delta, A, Bm, Cm, D=None, z=None, delta_bias=None,
                          delta_softplus=False):
    """Triton selective scan; same contract as :func:`cramcog.kernels.selective_scan`.

    Examples
    --------
    >>> import torch  # doctest: +SKIP
    >>> x = dict(u=torch.randn(1, 4, 10), delta=torch.rand(1, 4, 10), A=-torch.rand(4, 3),
    ...          Bm=torch.randn(1, 3, 10), Cm=torch.randn(1, 3, 10))  # doctest: +SKIP
    >>> selective_scan_triton(**{k: v.cuda() for k, v in x.items()}).shape  # doctest: +SKIP
    torch.Size([1, 4, 10])
    """
    check_selective_scan_inputs(u, delta, A, Bm, Cm, D, z, delta_bias)
    dtype_in = u.dtype
    delta = delta.float()
    if delta_bias is not None:
        delta = delta + delta_bias.float()[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    y = _ScanCore.apply(u, delta, A.float(), Bm, Cm)
    return _finish(y, u.float(), D, z).to(dtype_in)
