"""CT-ODE recurrence as a compiled C loop for CPU tensors (forward and backward), the default on
the CPU where a C compiler works (:mod:`cramcog.kernels.native`); :func:`ct_ode_scan_ref` stays
the oracle its tests compare with, outputs and gradients.

Same recurrence, same storage as the reference (every sub-step's input state and tanh kept for
the backward; nothing stored when no gradient is needed), computed in float32. Why it is faster:
the reference issues about eight torch ops per sub-step from Python (a few microseconds each),
this issues none; one (batch row, channel group) pair is one C loop over all N K sub-steps, its
W1 block in L1 cache. What differs from the reference, within float32 rounding: the order of the
sums in h @ W1 and in dW1, and tanh, a rational approximation (Eigen's, clamped at |x| = 7.9988,
x below |x| = 4e-4 and +-1 from |x| = 9; max error 3e-7 absolute, tested) that compilers
vectorise.

Examples
--------
>>> import torch
>>> from cramcog.kernels.ct_ode_ref import ct_ode_scan_ref
>>> g = torch.Generator().manual_seed(0)
>>> u, gate = torch.randn(2, 7, 8, generator=g), torch.rand(2, 7, 8, generator=g)
>>> w, h0 = 0.3 * torch.randn(2, 4, 4, generator=g), torch.randn(2, 8, generator=g)
>>> if available():
...     err = (ct_ode_scan_native(u, gate, w, h0, 2, 0.5) - ct_ode_scan_ref(u, gate, w, h0, 2, 0.5))
...     assert err.abs().max() < 1e-5
"""
from __future__ import annotations

import ctypes

import torch

from . import native
from .ct_ode_ref import check_ct_ode_inputs

SOURCE = r"""
#include <stdlib.h>
#include <string.h>

/* tanh in float32 without libm calls, so that the loops below vectorise: Eigen's rational
   approximation (odd degree-13 / even degree-6 polynomials) on |x| < 7.9988, clamped there, and
   exactly +-1 from |x| = 9 on, where float32 tanh is 1 (so that 1 - tanh^2, the backward's
   derivative, is 0 in saturation, as the reference's). */
static inline float tanh_f32(float a) {
    const float clamp = 7.99881172180175781f;
    float x = a > clamp ? clamp : (a < -clamp ? -clamp : a);
    float x2 = x * x;
    float p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
    p = x2 * p + -8.60467152213735e-11f;
    p = x2 * p + 5.12229709037114e-08f;
    p = x2 * p + 1.48572235717979e-05f;
    p = x2 * p + 6.37261928875436e-04f;
    p = x2 * p + 4.89352455891786e-03f;
    p = x * p;
    float q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
    q = x2 * q + 2.26843463243900e-03f;
    q = x2 * q + 4.89352518554385e-03f;
    float r = p / q;
    r = a >= 9.0f ? 1.0f : (a <= -9.0f ? -1.0f : r);
    return (a < 4e-4f && a > -4e-4f) ? a : r;
}

void cramcog_tanh(const float* x, float* y, long n) {
    for (long i = 0; i < n; i++) y[i] = tanh_f32(x[i]);
}

/* out = init + x @ M for one row x (n) and M (n, n) row-major; init and out may alias. Each
   out[j] sums in the order i = 0..n-1; 32 columns at a time stay in registers. */
static void row_matmul(const float* x, const float* M, const float* init, float* out, long n) {
    long j0 = 0;
    for (; j0 + 32 <= n; j0 += 32) {
        float acc[32];
        for (int j = 0; j < 32; j++) acc[j] = init[j0 + j];
        for (long i = 0; i < n; i++) {
            const float xi = x[i];
            const float* Mi = M + i * n + j0;
            for (int j = 0; j < 32; j++) acc[j] += xi * Mi[j];
        }
        for (int j = 0; j < 32; j++) out[j0 + j] = acc[j];
    }
    for (; j0 < n; j0++) {
        float acc = init[j0];
        for (long i = 0; i < n; i++) acc += x[i] * M[i * n + j0];
        out[j0] = acc;
    }
}

/* Units are (batch row b, channel group g) pairs, unit = b * G + g; this call runs units
   [u0, u1). u, gate, out: (B, N, C); w: (G, Cg, Cg), h @ w[g]; h0: (B, C).
   hin, th: (B * G, N * K, Cg) or NULL (no backward): input state and tanh of each sub-step. */
void ct_ode_forward(const float* u, const float* gate, const float* w, const float* h0,
                    float* out, float* hin, float* th, long B, long N, long C, long G, long K,
                    float dt, long u0, long u1) {
    const long Cg = C / G;
    float* h = (float*)malloc(sizeof(float) * 2 * Cg);
    float* a = h + Cg;
    for (long unit = u0; unit < u1; unit++) {
        const long b = unit / G, g = unit % G;
        const float* W = w + g * Cg * Cg;
        memcpy(h, h0 + b * C + g * Cg, sizeof(float) * Cg);
        for (long t = 0; t < N; t++) {
            const long off = (b * N + t) * C + g * Cg;
            const float* ut = u + off;
            const float* gt = gate + off;
            for (long k = 0; k < K; k++) {
                const long s = (unit * N + t) * K + k;             /* sub-step index */
                if (hin) memcpy(hin + s * Cg, h, sizeof(float) * Cg);
                row_matmul(h, W, ut, a, Cg);                      /* a = u_t + h @ W */
                float* ths = th ? th + s * Cg : a;
                for (long j = 0; j < Cg; j++) {
                    const float tj = tanh_f32(a[j]);
                    ths[j] = tj;
                    h[j] += (gt[j] * dt) * tj;                     /* h + dt gate_t tanh */
                }
            }
            memcpy(out + off, h, sizeof(float) * Cg);
        }
    }
    free(h);
}

/* Backward of ct_ode_forward for units [u0, u1). wT: (G, Cg, Cg) with wT[g] = w[g]^T.
   d_u, d_gate: (B, N, C); da: (B * G, N * K, Cg), dL/d(pre-activation) of every sub-step (the
   caller forms dW = sum h_in^T da with one matrix product); d_h0: (B, C). */
void ct_ode_backward(const float* grad_out, const float* gate, const float* wT,
                     const float* th, float* d_u, float* d_gate, float* da, float* d_h0,
                     long B, long N, long C, long G, long K, float dt, long u0, long u1) {
    const long Cg = C / G;
    float* gh = (float*)malloc(sizeof(float) * 3 * Cg);           /* dL/dh flowing back */
    float* du = gh + Cg;
    float* dc = du + Cg;
    for (long unit = u0; unit < u1; unit++) {
        const long b = unit / G, g = unit % G;
        const float* WT = wT + g * Cg * Cg;
        memset(gh, 0, sizeof(float) * Cg);
        for (long t = N - 1; t >= 0; t--) {
            const long off = (b * N + t) * C + g * Cg;
            const float* gt = gate + off;
            const float* go = grad_out + off;
            for (long j = 0; j < Cg; j++) { gh[j] += go[j]; du[j] = 0.0f; dc[j] = 0.0f; }
            for (long k = K - 1; k >= 0; k--) {
                const long s = (unit * N + t) * K + k;
                const float* ths = th + s * Cg;
                float* das = da + s * Cg;
                for (long j = 0; j < Cg; j++) {
                    const float tj = ths[j];
                    dc[j] += gh[j] * tj;
                    das[j] = gh[j] * ((gt[j] * dt) * (1.0f - tj * tj));
                    du[j] += das[j];
                }
                row_matmul(das, WT, gh, gh, Cg);                  /* gh += da @ W^T */
            }
            for (long j = 0; j < Cg; j++) { d_u[off + j] = du[j]; d_gate[off + j] = dc[j] * dt; }
        }
        memcpy(d_h0 + b * C + g * Cg, gh, sizeof(float) * Cg);
    }
    free(gh);
}
"""

_F = ctypes.POINTER(ctypes.c_float)
_L, _FL = ctypes.c_long, ctypes.c_float


def _lib():
    lib = native.load("cramcog_ct_ode", SOURCE)
    if lib is not None and not hasattr(lib, "_cramcog_typed"):
        lib.ct_ode_forward.argtypes = [_F] * 7 + [_L] * 5 + [_FL, _L, _L]
        lib.ct_ode_backward.argtypes = [_F] * 8 + [_L] * 5 + [_FL, _L, _L]
        lib.cramcog_tanh.argtypes = [_F, _F, _L]
        for f in (lib.ct_ode_forward, lib.ct_ode_backward, lib.cramcog_tanh):
            f.restype = None
        lib._cramcog_typed = True
    return lib


def available() -> bool:
    """True when the C kernel is built (or can be) on this machine and not disabled."""
    return _lib() is not None


def _ptr(t: torch.Tensor | None):
    return ctypes.cast(t.data_ptr(), _F) if t is not None else None


def _f32(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(torch.float32).contiguous()


def tanh_approx(x: torch.Tensor) -> torch.Tensor:
    """The kernel's tanh on a float32 tensor (for tests of its accuracy)."""
    x = _f32(x)
    y = torch.empty_like(x)
    _lib().cramcog_tanh(_ptr(x), _ptr(y), x.numel())
    return y


class _CTODEScanNative(torch.autograd.Function):

    @staticmethod
    def forward(ctx, u, gate, w_rec, h0, n_substeps, dt):
        lib = _lib()
        B, N, C = u.shape
        G = w_rec.shape[0]
        Cg, K = C // G, n_substeps
        uf, gf, wf, hf = _f32(u), _f32(gate), _f32(w_rec), _f32(h0)
        out = torch.empty((B, N, C), dtype=torch.float32)
        grad = any(ctx.needs_input_grad[:4])      # False under no_grad / inference_mode
        hin = torch.empty((B * G, N * K, Cg), dtype=torch.float32) if grad else None
        th = torch.empty_like(hin) if grad else None
        native.run_rows(lambda a, b: lib.ct_ode_forward(
            _ptr(uf), _ptr(gf), _ptr(wf), _ptr(hf), _ptr(out), _ptr(hin), _ptr(th),
            B, N, C, G, K, dt, a, b), B * G, torch.get_num_threads())
        if grad:
            ctx.save_for_backward(gf, wf, hin, th)
        ctx.n_substeps, ctx.dt, ctx.in_dtype = K, dt, u.dtype
        return out.to(u.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        lib = _lib()
        gf, wf, hin, th = ctx.saved_tensors
        B, N, C = gf.shape
        G = wf.shape[0]
        Cg = C // G
        go = _f32(grad_out)
        wT = wf.transpose(1, 2).contiguous()
        d_u, d_gate = torch.empty_like(gf), torch.empty_like(gf)
        da = torch.empty_like(th)                                   # (B G, N K, Cg)
        d_h0 = torch.empty((B, C), dtype=torch.float32)
        native.run_rows(lambda a, b: lib.ct_ode_backward(
            _ptr(go), _ptr(gf), _ptr(wT), _ptr(th), _ptr(d_u), _ptr(d_gate), _ptr(da),
            _ptr(d_h0), B, N, C, G, ctx.n_substeps, ctx.dt, a, b), B * G,
            torch.get_num_threads())
        # dW[g] = sum over rows and sub-steps of h_in^T da: one batched matrix product
        NK = hin.shape[1]
        h_g = hin.view(B, G, NK, Cg).transpose(0, 1).reshape(G, B * NK, Cg)
        d_w = torch.bmm(h_g.transpose(1, 2), da.view(B, G, NK, Cg).transpose(0, 1)
                        .reshape(G, B * NK, Cg))
        dt_ = ctx.in_dtype
        return d_u.to(dt_), d_gate.to(dt_), d_w.to(dt_), d_h0.to(dt_), None, None


def ct_ode_scan_native(u, gate, w_rec, h0, n_substeps=1, dt=1.0):
    """CT-ODE working memory fused over time, a compiled C loop (CPU tensors only).

    Same arguments, result and gradients as :func:`cramcog.kernels.ct_ode_scan_ref` within
    float32 rounding; see the module docstring. Raises RuntimeError where the kernel cannot be
    built (check :func:`available`).
    """
    check_ct_ode_inputs(u, gate, w_rec, h0, n_substeps, dt)
    if u.device.type != "cpu":
        raise ValueError(f"the native CT-ODE kernel runs on CPU tensors, got {u.device}")
    if _lib() is None:
        raise RuntimeError("the native CT-ODE kernel is not available here (no working C "
                           "compiler, or CRAMCOG_NATIVE=0); use backend='torch'")
    return _CTODEScanNative.apply(u, gate, w_rec, h0, int(n_substeps), float(dt))


__all__ = ["ct_ode_scan_native", "available", "tanh_approx"]
