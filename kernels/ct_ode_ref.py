"""CT-ODE working-memory recurrence: plain-torch reference (hand-written backward) and a naive
per-step autograd loop used by tests.

Paper: h(k+1) = h(k) + dt * sigmoid(g_t) * tanh(W1 h(k) + W2 x_t), K Euler sub-steps per token,
g_t = W_tau log(1 + dtau_t). Code: ``u`` = W2 x_t (B,N,C), ``gate`` = sigmoid(g_t) (B,N,C),
``w_rec`` = W1 as G diagonal blocks (G, C/G, C/G), row-vector convention ``h @ w_rec[g]``.
Output h_t is the state after the K sub-steps of token t.
"""
from __future__ import annotations

import math

import torch


def check_ct_ode_inputs(u, gate, w_rec, h0, n_substeps, dt):
    """Validate ct_ode_scan arguments; returns (B, N, C, G, Cg)."""
    for name, t in (("u", u), ("gate", gate), ("w_rec", w_rec), ("h0", h0)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if u.dim() != 3 or gate.shape != u.shape:
        raise ValueError(f"u and gate must both be (B,N,C); got {tuple(u.shape)} and "
                         f"{tuple(gate.shape)}")
    B, N, C = u.shape
    if w_rec.dim() != 3 or w_rec.shape[1] != w_rec.shape[2] or w_rec.shape[0] * w_rec.shape[1] != C:
        raise ValueError(f"w_rec must be (G, C/G, C/G) with G*(C/G) = C = {C}; got "
                         f"{tuple(w_rec.shape)}")
    if h0.shape != (B, C):
        raise ValueError(f"h0 must be (B,C) = ({B},{C}); got {tuple(h0.shape)}")
    if not (u.dtype == gate.dtype == w_rec.dtype == h0.dtype) or not u.is_floating_point():
        raise TypeError("u, gate, w_rec, h0 must share one floating dtype; got "
                        f"{u.dtype}, {gate.dtype}, {w_rec.dtype}, {h0.dtype}")
    if len({t.device for t in (u, gate, w_rec, h0)}) != 1:
        raise ValueError("u, gate, w_rec, h0 must be on one device")
    if isinstance(n_substeps, bool) or int(n_substeps) != n_substeps or n_substeps < 1:
        raise ValueError(f"n_substeps must be a positive int (K Euler sub-steps), got {n_substeps!r}")
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive finite float (Euler step), got {dt!r}")
    G = w_rec.shape[0]
    return B, N, C, G, C // G


def _to_steps(x, G):
    """(B, N, C) -> (N, G, B, Cg) fp32 COPY (callers modify it in place): one slice per step,
    groups as the bmm batch."""
    B, N, C = x.shape
    return x.float().reshape(B, N, G, C // G).permute(1, 2, 0, 3).clone(
        memory_format=torch.contiguous_format)


class _CTODEScan(torch.autograd.Function):
    """CPU-oriented: per-op overhead, not arithmetic, bounds a loop of tiny (B, C/G) ops, so the
    forward keeps every sub-step state and tanh (2 K B N C floats) and the backward runs only
    two ops per sub-step; everything else (dU, dgate, dW) is a vectorised op after the loop.
    (The Triton kernel makes the opposite choice: it recomputes, because there memory traffic is
    the bound.)

    Layout: sub-step i = t * K + k of token t; ``hs_all[i]`` is its input state (hs_all[0] = h0,
    hs_all[(t + 1) K] = output h_t), ``tanh_all[i]`` its tanh(h @ W1 + u_t). Groups are the bmm
    batch: (steps, G, B, C/G).
    """

    @staticmethod
    def forward(ctx, u, gate, w_rec, h0, n_substeps, dt):
        B, N, C = u.shape
        G = w_rec.shape[0]
        Cg = C // G
        K = n_substeps
        w = w_rec.float()                                      # (G, Cg, Cg)
        us = _to_steps(u, G)                                   # (N, G, B, Cg)
        cs = _to_steps(gate, G).mul_(dt)                       # (N, G, B, Cg) dt * gate
        hs_all = us.new_empty(N * K + 1, G, B, Cg)
        hs_all[0] = h0.float().reshape(B, G, Cg).transpose(0, 1)
        tanh_all = us.new_empty(N * K, G, B, Cg)
        for i in range(N * K):
            t = i // K
            torch.baddbmm(us[t], hs_all[i], w, out=tanh_all[i])   # h @ W1 + u_t
            tanh_all[i].tanh_()
            torch.addcmul(hs_all[i], cs[t], tanh_all[i], out=hs_all[i + 1])
        ctx.save_for_backward(cs, w, hs_all, tanh_all)
        ctx.n_substeps, ctx.dt, ctx.in_dtype = K, dt, u.dtype
        out = hs_all[K::K]                                     # (N, G, B, Cg)
        return out.permute(2, 0, 1, 3).reshape(B, N, C).to(u.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        cs, w, hs_all, tanh_all = ctx.saved_tensors
        K, dt = ctx.n_substeps, ctx.dt
        N, G, B, Cg = cs.shape
        C = G * Cg
        gs = _to_steps(grad_out, G)                            # (N, G, B, Cg)
        wT = w.transpose(1, 2).contiguous()
        # d(h_next)/d(pre-activation) = dt * gate_t * (1 - tanh^2), for all sub-steps at once
        dfac = (1 - tanh_all * tanh_all).view(N, K, G, B, Cg).mul_(cs[:, None]).view(N * K, G, B, Cg)
        g_in = torch.empty_like(tanh_all)                      # dL/d(output of sub-step i)
        da = torch.empty_like(tanh_all)                        # dL/d(pre-activation of i)
        carry = torch.zeros_like(cs[0])                        # dL/dh_t from later tokens
        for t in range(N - 1, -1, -1):
            i = t * K + K - 1
            torch.add(carry, gs[t], out=g_in[i])
            for k in range(K - 1, -1, -1):
                i = t * K + k
                torch.mul(g_in[i], dfac[i], out=da[i])
                # dL/d(input of sub-step i) = g + da W1^T: the previous sub-step's output
                torch.baddbmm(g_in[i], da[i], wT, out=g_in[i - 1] if k > 0 else carry)
        d_u = d_gate = d_w = d_h0 = None
        if ctx.needs_input_grad[0]:
            d_u = da.view(N, K, G, B, Cg).sum(1).permute(2, 0, 1, 3).reshape(B, N, C)
            d_u = d_u.to(ctx.in_dtype)
        if ctx.needs_input_grad[1]:
            d_c = (g_in * tanh_all).view(N, K, G, B, Cg).sum(1).mul_(dt)
            d_gate = d_c.permute(2, 0, 1, 3).reshape(B, N, C).to(ctx.in_dtype)
        if ctx.needs_input_grad[2]:
            # dW[g] = sum over sub-steps and rows of h_in^T da: one batched matmul over groups
            h_in = hs_all[:-1].permute(1, 0, 2, 3).reshape(G, N * K * B, Cg)
            d_w = torch.bmm(h_in.transpose(1, 2), da.permute(1, 0, 2, 3).reshape(G, N * K * B, Cg))
            d_w = d_w.to(ctx.in_dtype)
        if ctx.needs_input_grad[3]:
            d_h0 = carry.transpose(0, 1).reshape(B, C).to(ctx.in_dtype)
        return d_u, d_gate, d_w, d_h0, None, None


def ct_ode_scan_ref(u, gate, w_rec, h0, n_substeps=1, dt=1.0):
    """CT-ODE working memory fused over time, plain torch with a hand-written backward.

    For each token t: ``h <- h + dt * gate_t * tanh(h @ W1 + u_t)``, repeated ``n_substeps``
    times; the state after the sub-steps is output t. Computed in float32, returned in the
    input dtype.

    Parameters
    ----------
    u : Tensor (B, N, C)
        Input drive W2 x_t.
    gate : Tensor (B, N, C)
        Time-gap gate sigmoid(g_t) in [0, 1].
    w_rec : Tensor (G, C/G, C/G)
        Block-diagonal recurrent matrix W1 (G = 1: dense).
    h0 : Tensor (B, C)
        Initial state.
    n_substeps : int
        K Euler sub-steps per token.
    dt : float
        Euler step size.

    Returns
    -------
    Tensor (B, N, C)
        States h_t.

    Examples
    --------
    >>> import torch
    >>> u, gate = torch.randn(2, 5, 4), torch.rand(2, 5, 4)
    >>> h = ct_ode_scan_ref(u, gate, 0.1 * torch.randn(2, 2, 2), torch.zeros(2, 4), 2, 0.5)
    >>> h.shape
    torch.Size([2, 5, 4])
    """
    check_ct_ode_inputs(u, gate, w_rec, h0, n_substeps, dt)
    return _CTODEScan.apply(u, gate, w_rec, h0, int(n_substeps), float(dt))


def ct_ode_scan_naive(u, gate, w_rec, h0, n_substeps=1, dt=1.0):
    """Test oracle: the per-step Python loop, differentiated by autograd.

    Examples
    --------
    >>> import torch
    >>> ct_ode_scan_naive(torch.zeros(1, 2, 2), torch.ones(1, 2, 2), torch.eye(2)[None],
    ...                   torch.zeros(1, 2)).abs().max().item()
    0.0
    """
    B, N, C, G, Cg = check_ct_ode_inputs(u, gate, w_rec, h0, n_substeps, dt)
    h = h0
    outs = []
    for t in range(N):
        for _ in range(n_substeps):
            rec = torch.einsum("bgi,gij->bgj", h.reshape(B, G, Cg), w_rec).reshape(B, C)
            h = h + dt * gate[:, t] * torch.tanh(rec + u[:, t])
        outs.append(h)
    return torch.stack(outs, 1)
