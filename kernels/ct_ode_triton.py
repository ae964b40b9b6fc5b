"""CT-ODE working-memory recurrence fused over time in Triton (forward and backward).

One program per (batch row, channel group): the group's state h (C/G floats) and its block of W1
stay in registers for all N tokens and K Euler sub-steps; only u_t, gate_t and h_t touch memory.

Backward choice: RECOMPUTE the sub-steps, store only per-token states. The forward already writes
h_t for every token (it is the output, kept in fp32), so backward, running t = N-1 .. 0, restarts
from h_{t-1} and recomputes the K sub-step states in registers (K(K+1)/2 mat-vecs instead of K;
K is small, typically 1-4). Storing the sub-step states instead would cost K x B x N x C extra
memory traffic, which is what bounds this sequential kernel, and buys nothing for K = 1.
dW is accumulated per program in registers and the B partials are summed by torch (no atomics,
deterministic).
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from .alloc import empty
from .ct_ode_ref import check_ct_ode_inputs
from .ops import interpreting


def _configs():
    if interpreting():
        return [triton.Config({}, num_warps=1, num_stages=1)]
    # 16 warps: a 256-wide W1 block (C/G = 256) spills registers at 8 warps (ptxas, sm_90)
    return [triton.Config({}, num_warps=w, num_stages=1) for w in (1, 2, 4, 8, 16)]


@triton.jit
def _tanh(x):
    return 2.0 * tl.sigmoid(2.0 * x) - 1.0      # saturates cleanly: no exp overflow to inf/inf


@triton.jit
def _substep(h, w, u, c):
    """One Euler sub-step h + c * tanh(h @ W + u); h (BLOCK,), w (BLOCK, BLOCK)."""
    a = tl.sum(h[:, None] * w, axis=0) + u
    return h + c * _tanh(a)


@triton.autotune(configs=_configs(), key=["BLOCK", "K"])
@triton.jit
def _ct_ode_fwd_kernel(U, GATE, W, H0, OUT, N, C, Cg, dt,
                       K: tl.constexpr, BLOCK: tl.constexpr):
    b = tl.program_id(0).to(tl.int64)              # int64 offsets: B*N*C may pass 2^31
    grp = tl.program_id(1)
    offs = tl.arange(0, BLOCK)
    mask = offs < Cg
    w = tl.load(W + grp * Cg * Cg + offs[:, None] * Cg + offs[None, :],
                mask=mask[:, None] & mask[None, :], other=0.0).to(tl.float32)
    h = tl.load(H0 + b * C + grp * Cg + offs, mask=mask, other=0.0).to(tl.float32)
    base = b * N * C + grp * Cg + offs                # (B, N, C) contiguous
    # software prefetch: token t+1's inputs load while token t's sub-steps compute
    u_next = tl.load(U + base, mask=mask, other=0.0)
    gate_next = tl.load(GATE + base, mask=mask, other=0.0)
    for t in range(N):
        u = u_next.to(tl.float32)
        c = dt * gate_next.to(tl.float32)
        t_next = tl.minimum(t + 1, N - 1)
        u_next = tl.load(U + base + t_next * C, mask=mask, other=0.0)
        gate_next = tl.load(GATE + base + t_next * C, mask=mask, other=0.0)
        for _k in tl.static_range(K):
            h = _substep(h, w, u, c)
        tl.store(OUT + base + t * C, h, mask=mask)


@triton.autotune(configs=_configs(), key=["BLOCK", "K"])
@triton.jit
def _ct_ode_bwd_kernel(U, GATE, W, H0, HS, DOUT, DU, DGATE, DW_PART, DH0, N, C, Cg, dt,
                       K: tl.constexpr, BLOCK: tl.constexpr):
    b = tl.program_id(0).to(tl.int64)              # int64 offsets: B*N*C may pass 2^31
    grp = tl.program_id(1)
    n_groups = tl.num_programs(1)
    offs = tl.arange(0, BLOCK)
    mask = offs < Cg
    mask2 = mask[:, None] & mask[None, :]
    w_off = offs[:, None] * Cg + offs[None, :]
    w = tl.load(W + grp * Cg * Cg + w_off, mask=mask2, other=0.0).to(tl.float32)
    h_init = tl.load(H0 + b * C + grp * Cg + offs, mask=mask, other=0.0).to(tl.float32)
    base = b * N * C + grp * Cg + offs
    g = tl.zeros([BLOCK], dtype=tl.float32)            # dL/dh_t flowing back from later tokens
    dw = tl.zeros([BLOCK, BLOCK], dtype=tl.float32)
    # software prefetch of token t-1's inputs while token t is processed
    t0 = N - 1
    prev_next = tl.load(HS + base + tl.maximum(t0 - 1, 0) * C, mask=mask, other=0.0)
    u_next = tl.load(U + base + t0 * C, mask=mask, other=0.0)
    gate_next = tl.load(GATE + base + t0 * C, mask=mask, other=0.0)
    dout_next = tl.load(DOUT + base + t0 * C, mask=mask, other=0.0)
    for i in range(N):
        t = N - 1 - i
        h_prev = tl.where(t > 0, prev_next, h_init)
        u = u_next.to(tl.float32)
        c = dt * gate_next.to(tl.float32)
        g += dout_next.to(tl.float32)
        t_next = tl.maximum(t - 1, 0)
        prev_next = tl.load(HS + base + tl.maximum(t_next - 1, 0) * C, mask=mask, other=0.0)
        u_next = tl.load(U + base + t_next * C, mask=mask, other=0.0)
        gate_next = tl.load(GATE + base + t_next * C, mask=mask, other=0.0)
        dout_next = tl.load(DOUT + base + t_next * C, mask=mask, other=0.0)
        du = tl.zeros([BLOCK], dtype=tl.float32)
        dc = tl.zeros([BLOCK], dtype=tl.float32)
        for kk in tl.static_range(K):
            hk = h_prev                                  # recompute sub-step state h^(K-1-kk)
            for _j in tl.static_range(K - 1 - kk):
                hk = _substep(hk, w, u, c)
            s = _tanh(tl.sum(hk[:, None] * w, axis=0) + u)
            dc += g * s
            da = g * c * (1.0 - s * s)
            du += da
            dw += hk[:, None] * da[None, :]
            g = g + tl.sum(w * da[None, :], axis=1)      # dh^(k) = dh^(k+1) + W da
        tl.store(DU + base + t * C, du, mask=mask)
        tl.store(DGATE + base + t * C, dc * dt, mask=mask)
    tl.store(DH0 + b * C + grp * Cg + offs, g, mask=mask)
    tl.store(DW_PART + (b * n_groups + grp) * Cg * Cg + w_off, dw, mask=mask2)


class _CTODEScanTriton(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, gate, w_rec, h0, n_substeps, dt):
        B, N, C = u.shape
        G, Cg = w_rec.shape[0], w_rec.shape[1]
        u, gate, w_rec, h0 = (t.contiguous() for t in (u, gate, w_rec, h0))
        hs = empty((B, N, C), torch.float32, u.device)   # fp32 states: exact restart points
        block = max(16, triton.next_power_of_2(Cg))
        if B * N > 0:
            _ct_ode_fwd_kernel[(B, G)](u, gate, w_rec, h0, hs, N, C, Cg, float(dt),
                                       K=n_substeps, BLOCK=block)
        ctx.save_for_backward(u, gate, w_rec, h0, hs)
        ctx.cfg = (n_substeps, float(dt), block)
        return hs.to(u.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        u, gate, w_rec, h0, hs = ctx.saved_tensors
        K, dt, block = ctx.cfg
        B, N, C = u.shape
        G, Cg = w_rec.shape[0], w_rec.shape[1]
        dout = grad_out.contiguous()
        du = empty((B, N, C), torch.float32, u.device)
        dgate = empty((B, N, C), torch.float32, u.device)
        dw_part = empty((B, G, Cg, Cg), torch.float32, u.device)
        dh0 = empty((B, C), torch.float32, u.device)
        if B > 0:
            _ct_ode_bwd_kernel[(B, G)](u, gate, w_rec, h0, hs, dout, du, dgate, dw_part, dh0,
                                       N, C, Cg, dt, K=K, BLOCK=block)
        else:
            dw_part = torch.zeros((1, G, Cg, Cg), dtype=torch.float32, device=u.device)
        dt_ = u.dtype
        return du.to(dt_), dgate.to(dt_), dw_part.sum(0).to(dt_), dh0.to(dt_), None, None


def ct_ode_scan_triton(u, gate, w_rec, h0, n_substeps=1, dt=1.0):
    """Triton CT-ODE scan; same contract as :func:`cramcog.kernels.ct_ode_scan`.

    Examples
    --------
    >>> import torch  # doctest: +SKIP
    >>> dev = "cuda"  # doctest: +SKIP
    >>> h = ct_ode_scan_triton(torch.randn(2, 9, 8, device=dev), torch.rand(2, 9, 8, device=dev),
    ...                        torch.randn(2, 4, 4, device=dev) * 0.1, torch.zeros(2, 8, device=dev),
    ...                        2, 0.5)  # doctest: +SKIP
    >>> h.shape  # doctest: +SKIP
    torch.Size([2, 9, 8])
    """
    B, N, C, G, Cg = check_ct_ode_inputs(u, gate, w_rec, h0, n_substeps, dt)
    if Cg > 256:
        raise ValueError(f"the fused CT-ODE kernel keeps a (C/G)^2 block of W1 in registers; "
                         f"C/G = {Cg} > 256 is too large: use more channel groups or backend='torch'")
    return _CTODEScanTriton.apply(u, gate, w_rec, h0, int(n_substeps), float(dt))
