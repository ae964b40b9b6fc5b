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
    """Forward keeps only the per-token states (the output); backward recomputes the K
    sub-step states of each token from the previous token's state, so memory is O(B N C)."""

    @staticmethod
    def forward(ctx, u, gate, w_rec, h0, n_substeps, dt):
        B, N, C = u.shape
        G = w_rec.shape[0]
        Cg = C // G
        w = w_rec.float()                                      # (G, Cg, Cg)
        us = _to_steps(u, G)                                   # (N, G, B, Cg)
        cs = _to_steps(gate, G).mul_(dt)                       # (N, G, B, Cg) dt * gate
        h = h0.float().reshape(B, G, Cg).transpose(0, 1).contiguous()  # (G, B, Cg)
        hs = us.new_empty(N, G, B, Cg)
        for t in range(N):
            for _ in range(n_substeps):
                a = torch.baddbmm(us[t], h, w)                 # (G, B, Cg) h @ W1 + u_t
                h = torch.addcmul(h, cs[t], a.tanh_())
            hs[t] = h
        ctx.save_for_backward(us, cs, w, h0, hs)
        ctx.n_substeps, ctx.dt, ctx.in_dtype = n_substeps, dt, u.dtype
        return hs.permute(2, 0, 1, 3).reshape(B, N, C).to(u.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        us, cs, w, h0, hs = ctx.saved_tensors
        K, dt = ctx.n_substeps, ctx.dt
        N, G, B, Cg = us.shape
        gs = _to_steps(grad_out, G)                            # (N, G, B, Cg)
        wT = w.transpose(1, 2)
        h_sub = us.new_empty(N, K, G, B, Cg)                   # sub-step inputs h^(k)
        da_all = us.new_empty(N, K, G, B, Cg)                  # grads of pre-activations
        dgate = us.new_empty(N, G, B, Cg)
        g = torch.zeros_like(us[0])                            # (G, B, Cg) dL/dh_t from later
        h_init = h0.float().reshape(B, G, Cg).transpose(0, 1)
        for t in range(N - 1, -1, -1):
            h = hs[t - 1] if t > 0 else h_init
            tanhs = []
            for k in range(K):                                 # recompute the sub-steps
                h_sub[t, k] = h
                s = torch.baddbmm(us[t], h, w).tanh_()
                tanhs.append(s)
                h = torch.addcmul(h, cs[t], s)
            g = g + gs[t]
            acc = torch.zeros_like(g)
            for k in range(K - 1, -1, -1):
                s = tanhs[k]
                acc.addcmul_(g, s)                             # d/d(dt*gate) sums over sub-steps
                da = g * cs[t] * (1 - s * s)                   # (G, B, Cg)
                da_all[t, k] = da
                g = torch.baddbmm(g, da, wT)                   # dh^(k) = dh^(k+1) + da W^T
            dgate[t] = acc.mul_(dt)
        d_u = d_gate = d_w = d_h0 = None
        B_, N_, C = grad_out.shape
        if ctx.needs_input_grad[0]:
            d_u = da_all.sum(1).permute(2, 0, 1, 3).reshape(B, N, C).to(ctx.in_dtype)
        if ctx.needs_input_grad[1]:
            d_gate = dgate.permute(2, 0, 1, 3).reshape(B, N, C).to(ctx.in_dtype)
        if ctx.needs_input_grad[2]:
            # dW[g] = sum over (t, k, b) of h^(k)^T da: one batched matmul over groups
            hk = h_sub.permute(2, 0, 1, 3, 4).reshape(G, N * K * B, Cg)
            dak = da_all.permute(2, 0, 1, 3, 4).reshape(G, N * K * B, Cg)
            d_w = torch.bmm(hk.transpose(1, 2), dak).to(ctx.in_dtype)
        if ctx.needs_input_grad[3]:
            d_h0 = g.transpose(0, 1).reshape(B, C).to(ctx.in_dtype)
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
