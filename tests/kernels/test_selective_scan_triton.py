"""Triton selective scan vs the torch reference: forward and every gradient; mamba-ssm parity."""
import functools

import pytest
import torch

from cramcog.kernels import selective_scan, selective_scan_ref
from kernels_testutil import (DTYPES, HAS_CUDA, TRITON_DEVICE, compare_with_reference,
                              needs_triton, rel_err)


def _case(B, C, L, S, seed, extras):
    g = torch.Generator().manual_seed(seed)
    inputs = [torch.randn(B, C, L, generator=g), 0.5 * torch.rand(B, C, L, generator=g),
              -2 * torch.rand(C, S, generator=g), torch.randn(B, S, L, generator=g),
              torch.randn(B, S, L, generator=g)]
    if extras:  # D, z, delta_bias
        inputs += [torch.randn(C, generator=g), torch.randn(B, C, L, generator=g),
                   0.3 * torch.randn(C, generator=g)]
    return inputs, g


def _call(fn, extras):
    """Positional (u, delta, A, Bm, Cm[, D, z, delta_bias]) -> fn with softplus when extras."""
    def run(*args):
        return fn(*args, delta_softplus=extras)
    return run


def _triton():
    from cramcog.kernels.selective_scan_triton import selective_scan_triton
    return selective_scan_triton


@needs_triton
@pytest.mark.parametrize("B,C,L,S,extras", [(2, 3, 9, 4, False), (2, 11, 7, 5, True)])
def test_selective_scan_triton_fp32(B, C, L, S, extras):
    inputs, g = _case(B, C, L, S, seed=C + L, extras=extras)
    compare_with_reference(_call(_triton(), extras), _call(selective_scan_ref, extras),
                           inputs, torch.float32, g)


@needs_triton
@pytest.mark.parametrize("dtype", DTYPES[1:])
def test_selective_scan_triton_half(dtype):
    inputs, g = _case(1, 6, 8, 4, seed=2, extras=True)
    compare_with_reference(_call(_triton(), True), _call(selective_scan_ref, True),
                           inputs, dtype, g)


@needs_triton
def test_selective_scan_triton_inference_keeps_no_states():
    inputs, _ = _case(1, 4, 6, 3, seed=3, extras=False)
    with torch.no_grad():
        out = selective_scan(*[t.to(TRITON_DEVICE) for t in inputs], backend="triton")
    assert rel_err(out, selective_scan_ref(*inputs)) < 2e-5


def _mamba_selective_scan_fn():
    if not HAS_CUDA:
        pytest.skip("mamba-ssm parity needs CUDA")
    from cramcog.kernels.mamba_backend import load_selective_scan_fn
    try:
        return load_selective_scan_fn()
    except ImportError as err:
        pytest.skip(f"mamba-ssm not importable: {err}")


@pytest.mark.gpu
@pytest.mark.parametrize("extras", [False, True])
def test_mamba_backend_parity(extras):
    _mamba_selective_scan_fn()
    inputs, g = _case(2, 16, 64, 8, seed=4, extras=extras)
    # mamba-ssm's CUDA kernel sums in its own order (chunked scan): allow 1e-4
    compare_with_reference(_call(functools.partial(selective_scan, backend="mamba"), extras),
                           _call(selective_scan_ref, extras), inputs, torch.float32, g, tol=1e-4)
