"""Selective SSM scan (mamba-ssm ``selective_scan_fn`` convention): plain-torch reference built on
a linear-recurrence op with a hand-written backward, and a naive autograd loop used by tests.

Glossary (Mamba paper -> code): x = ``u`` (B,C,L); Delta = ``delta`` (B,C,L); A (C,S) (real,
negative for a stable state); B_t = ``Bm`` (B,S,L); C_t = ``Cm`` (B,S,L); D skip (C,);
z gate (B,C,L): y <- y * silu(z). Discretisation (zero-order hold for A, Euler for B):
  h_t = exp(Delta_t A) h_{t-1} + Delta_t B_t x_t,   y_t = C_t . h_t + D x_t.
cramcog's time-gap-aware SSM multiplies Delta by the observed gap before calling the scan.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def check_selective_scan_inputs(u, delta, A, Bm, Cm, D, z, delta_bias):
    """Validate selective_scan arguments; returns (B, C, L, S)."""
    for name, t in (("u", u), ("delta", delta), ("A", A), ("Bm", Bm), ("Cm", Cm)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if u.dim() != 3 or delta.shape != u.shape:
        raise ValueError(f"u and delta must both be (B,C,L); got {tuple(u.shape)}, "
                         f"{tuple(delta.shape)}")
    Bsz, C, L = u.shape
    if A.dim() != 2 or A.shape[0] != C:
        raise ValueError(f"A must be (C,S) with C={C}; got {tuple(A.shape)}")
    S = A.shape[1]
    for name, t in (("Bm", Bm), ("Cm", Cm)):
        if t.shape != (Bsz, S, L):
            raise ValueError(f"{name} must be (B,S,L) = ({Bsz},{S},{L}); got {tuple(t.shape)} "
                             "(variable groups (B,G,S,L) are not supported)")
    for name, t, shape in (("D", D, (C,)), ("z", z, (Bsz, C, L)), ("delta_bias", delta_bias, (C,))):
        if t is None:
            continue
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor or None, got {type(t).__name__}")
        if t.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {tuple(t.shape)}")
    tensors = [t for t in (u, delta, A, Bm, Cm, D, z, delta_bias) if t is not None]
    if any(not t.is_floating_point() or t.is_complex() for t in tensors):
        raise TypeError("selective_scan takes real floating tensors (complex A is not supported)")
    if len({t.device for t in tensors}) != 1:
        raise ValueError("all selective_scan tensors must be on one device")
    return Bsz, C, L, S


def linear_scan_loop(a, b, reverse=False, use_native=True):
    """h_t = a_t * h_{t-1} + b_t along dim 0 of time-major (L, ...) tensors (no autograd).

    With ``reverse`` it runs from the end: h_t = a_t * h_{t+1} + b_t. Each step is one
    multiply-add (``torch.addcmul``) written in place into a contiguous slice of the output. On
    float32 CPU tensors the same operations run as a compiled C loop where one can be built
    (:mod:`cramcog.kernels.linear_scan_native`: the same bits, tested); ``use_native=False``
    forces the torch loop.
    """
    if use_native:
        from .linear_scan_native import linear_scan
        hs = linear_scan(a, b, reverse)
        if hs is not None:
            return hs
    hs = torch.empty_like(b)
    steps = range(b.shape[0] - 1, -1, -1) if reverse else range(b.shape[0])
    h = None
    for t in steps:
        if h is None:
            hs[t].copy_(b[t])                                  # h_{-1} = 0
        else:
            torch.addcmul(b[t], a[t], h, out=hs[t])
        h = hs[t]
    return hs


class _LinearScan(torch.autograd.Function):
    """h_t = a_t h_{t-1} + b_t over dim 0, h_{-1} = 0. Backward: g_t = dh_t + a_{t+1} g_{t+1}
    (the same scan run in reverse), da_t = g_t h_{t-1}, db_t = g_t."""

    @staticmethod
    def forward(ctx, a, b):                                    # (L, ...) each, contiguous
        hs = linear_scan_loop(a, b)
        ctx.save_for_backward(a, hs)
        return hs

    @staticmethod
    def backward(ctx, grad_hs):
        a, hs = ctx.saved_tensors
        a_next = torch.zeros_like(a)
        a_next[:-1] = a[1:]                                    # a_{t+1}, 0 past the end
        g = linear_scan_loop(a_next, grad_hs.contiguous(), reverse=True)
        da = torch.zeros_like(hs)
        torch.mul(g[1:], hs[:-1], out=da[1:])                  # g_t * h_{t-1}; h_{-1} = 0
        return da, g


def selective_scan_ref(u, delta, A, Bm, Cm, D=None, z=None, delta_bias=None,
                       delta_softplus=False):
    """Selective scan in plain torch (fp32 internally, output in ``u``'s dtype).

    Parameters
    ----------
    u, delta : Tensor (B, C, L)
        Input and discretisation step (before ``delta_bias`` / softplus).
    A : Tensor (C, S)
        State matrix (diagonal per channel), negative for a decaying state.
    Bm, Cm : Tensor (B, S, L)
        Input-dependent input and output projections.
    D : Tensor (C,), optional
        Skip connection.
    z : Tensor (B, C, L), optional
        Output gate: ``y * silu(z)``.
    delta_bias : Tensor (C,), optional
        Added to delta before the softplus.
    delta_softplus : bool
        Apply softplus to delta.

    Returns
    -------
    Tensor (B, C, L)

    Examples
    --------
    >>> import torch
    >>> u, delta = torch.randn(1, 3, 6), torch.rand(1, 3, 6)
    >>> A = -torch.rand(3, 4)
    >>> Bm, Cm = torch.randn(1, 4, 6), torch.randn(1, 4, 6)
    >>> selective_scan_ref(u, delta, A, Bm, Cm, D=torch.ones(3)).shape
    torch.Size([1, 3, 6])
    """
    check_selective_scan_inputs(u, delta, A, Bm, Cm, D, z, delta_bias)
    dtype_in = u.dtype
    u, delta = u.float(), delta.float()
    if delta_bias is not None:
        delta = delta + delta_bias.float()[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    # time-major (L, B, C, S): every step of the scan touches one contiguous slice
    delta_t = delta.permute(2, 0, 1)                                       # (L, B, C)
    dA = torch.exp(delta_t[..., None] * A.float())                         # (L, B, C, S)
    dBu = (delta_t * u.permute(2, 0, 1))[..., None] * Bm.float().permute(2, 0, 1)[:, :, None]
    hs = _LinearScan.apply(dA, dBu)                                        # (L, B, C, S)
    y = torch.einsum("lbcs,bsl->bcl", hs, Cm.float())
    return _finish(y, u, D, z).to(dtype_in)


def _finish(y, u, D, z):
    """Skip connection and output gate, shared by every backend."""
    if D is not None:
        y = y + D.float()[:, None] * u
    if z is not None:
        y = y * F.silu(z.float())
    return y


def selective_scan_naive(u, delta, A, Bm, Cm, D=None, z=None, delta_bias=None,
                         delta_softplus=False):
    """Test oracle: the step-by-step recurrence on a (B, C, S) state, differentiated by autograd.

    Examples
    --------
    >>> import torch
    >>> y = selective_scan_naive(torch.ones(1, 1, 2), torch.ones(1, 1, 2), -torch.ones(1, 1),
    ...                          torch.ones(1, 1, 2), torch.ones(1, 1, 2))
    >>> round(y[0, 0, 1].item(), 4)  # exp(-1) * 1 + 1
    1.3679
    """
    check_selective_scan_inputs(u, delta, A, Bm, Cm, D, z, delta_bias)
    dtype_in = u.dtype
    u, delta = u.float(), delta.float()
    if delta_bias is not None:
        delta = delta + delta_bias.float()[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    h = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])                    # (B, C, S)
    ys = []
    for t in range(u.shape[2]):
        h = torch.exp(delta[:, :, t, None] * A) * h \
            + (delta[:, :, t] * u[:, :, t])[..., None] * Bm[:, None, :, t].float()
        ys.append((h * Cm[:, None, :, t].float()).sum(-1))
    return _finish(torch.stack(ys, -1), u, D, z).to(dtype_in)
