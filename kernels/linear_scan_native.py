"""The linear recurrence under the selective-scan reference, h_t = a_t h_{t-1} + b_t, as a
compiled C loop (:mod:`cramcog.kernels.native`): the same float32 operation as the torch loop it
replaces (one fused multiply-add per element, as ``torch.addcmul`` computes on CPUs with FMA), so
the same bits (tested), without a Python-level op per time step.

Examples
--------
>>> import torch
>>> from cramcog.kernels.selective_scan_ref import linear_scan_loop
>>> a, b = torch.rand(50, 3, 4), torch.randn(50, 3, 4)
>>> hs = linear_scan(a, b)
>>> hs is None or torch.equal(hs, linear_scan_loop(a, b, use_native=False))
True
"""
from __future__ import annotations

import ctypes

import torch

from . import native

SOURCE = r"""
#include <math.h>
#include <string.h>

/* hs_t = a_t * hs_{t-1} + b_t over t (t from the end when reverse), hs_{-1} = 0; (L, R) each,
   contiguous; rows r are independent lanes. One fused multiply-add, as torch.addcmul. */
void linear_scan(const float* a, const float* b, float* hs, long L, long R, int reverse) {
    if (L <= 0) return;
    const long first = reverse ? L - 1 : 0, step = reverse ? -1 : 1;
    memcpy(hs + first * R, b + first * R, sizeof(float) * R);
    for (long n = 1; n < L; n++) {
        const long t = first + step * n;
        const float* at = a + t * R;
        const float* bt = b + t * R;
        const float* hp = hs + (t - step) * R;
        float* ht = hs + t * R;
        for (long r = 0; r < R; r++) ht[r] = fmaf(at[r], hp[r], bt[r]);
    }
}
"""

_F = ctypes.POINTER(ctypes.c_float)


def _lib():
    lib = native.load("cramcog_linear_scan", SOURCE)
    if lib is not None and not hasattr(lib, "_cramcog_typed"):
        lib.linear_scan.argtypes = [_F, _F, _F, ctypes.c_long, ctypes.c_long, ctypes.c_int]
        lib.linear_scan.restype = None
        lib._cramcog_typed = True
    return lib


def linear_scan(a: torch.Tensor, b: torch.Tensor, reverse: bool = False):
    """hs (L, ...) of the recurrence along dim 0 (laid out as ``b``), or None where the C loop does not
    apply (not float32 CPU tensors of one shape, no compiler, ``CRAMCOG_NATIVE=0``): the caller
    then runs its torch loop."""
    if not (a.dtype == b.dtype == torch.float32 and a.device.type == b.device.type == "cpu"
            and a.shape == b.shape and a.dim() >= 1):
        return None
    lib = _lib()
    if lib is None:
        return None
    out = torch.empty_like(b)          # b's memory layout, as the torch loop returns
    a, b = a.contiguous(), b.contiguous()
    hs = out if out.is_contiguous() else torch.empty(b.shape, dtype=b.dtype)
    L = b.shape[0]
    R = b.numel() // L if L else 0
    f = lambda t: ctypes.cast(t.data_ptr(), _F)  # noqa: E731
    lib.linear_scan(f(a), f(b), f(hs), L, R, int(reverse))
    return hs if hs is out else out.copy_(hs)


__all__ = ["linear_scan"]
