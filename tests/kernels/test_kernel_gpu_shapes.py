"""Realistic shapes on a GPU (skipped elsewhere): the compiled kernels with the block sizes,
key-range splits and checkpoint chunks they use in training, vs the references in fp32."""
import pytest
import torch

from cramcog.kernels import (ct_ode_scan, ct_ode_scan_ref, routed_attention_ref, selective_scan,
                             selective_scan_ref)
from kernels_testutil import HAS_CUDA, rel_err, routed_indices

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")]


def _check(out, ref_out, inputs, ref_inputs, tol):
    assert rel_err(out, ref_out) < tol
    g = torch.Generator().manual_seed(1)
    cot = torch.randn(ref_out.shape, generator=g).to(ref_out.device)
    got = torch.autograd.grad(out, inputs, cot.to(out.dtype))
    want = torch.autograd.grad(ref_out, ref_inputs, cot)
    for a, e in zip(got, want):
        assert rel_err(a, e) < tol


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("N,fraction,window", [(4096, 1.0, None),   # 128-row query tiles
                                               (8192, 0.016, None),  # sparse: key-range splits
                                               (4096, 0.05, 300)])   # window: skipped blocks
def test_routed_attention_training_shapes(dtype, N, fraction, window):
    from cramcog.kernels.routed_attention_triton import routed_attention_triton
    g = torch.Generator().manual_seed(N)
    batch_idx, pos = routed_indices(2, N, fraction, g)
    H, Dh = 4, 64
    q32 = torch.randn(len(pos), H, Dh, generator=g).cuda()
    k32, v32 = (torch.randn(2, N, H, Dh, generator=g).cuda() for _ in range(2))
    inputs = [t.to(dtype).requires_grad_() for t in (q32, k32, v32)]
    ref_inputs = [t.to(dtype).float().requires_grad_() for t in (q32, k32, v32)]
    bi, p = batch_idx.cuda(), pos.cuda()
    out = routed_attention_triton(*inputs, bi, p, window, dense_fast_path=False)
    ref_out = routed_attention_ref(*ref_inputs, bi, p, window)
    _check(out, ref_out, inputs, ref_inputs, 2e-5 if dtype == torch.float32 else 3e-2)


@pytest.mark.parametrize("G", [1, 4])
def test_ct_ode_training_shapes(G):
    g = torch.Generator().manual_seed(G)
    B, N, C = 8, 512, 64
    raw = [torch.randn(B, N, C, generator=g), torch.rand(B, N, C, generator=g),
           torch.randn(G, C // G, C // G, generator=g) / (C // G) ** 0.5,
           torch.randn(B, C, generator=g)]
    inputs = [t.cuda().requires_grad_() for t in raw]
    ref_inputs = [t.cuda().requires_grad_() for t in raw]
    out = ct_ode_scan(*inputs, 2, 0.5, backend="triton")
    ref_out = ct_ode_scan_ref(*ref_inputs, 2, 0.5)
    _check(out, ref_out, inputs, ref_inputs, 1e-4)


def test_selective_scan_many_chunks():
    g = torch.Generator().manual_seed(0)
    B, C, L, S = 2, 96, 300, 16                       # 300 = 4 full chunks of 64 + 44
    raw = [torch.randn(B, C, L, generator=g), 0.3 * torch.rand(B, C, L, generator=g),
           -torch.rand(C, S, generator=g) * 3, torch.randn(B, S, L, generator=g),
           torch.randn(B, S, L, generator=g)]
    inputs = [t.cuda().requires_grad_() for t in raw]
    ref_inputs = [t.cuda().requires_grad_() for t in raw]
    out = selective_scan(*inputs, backend="triton")
    ref_out = selective_scan_ref(*ref_inputs)
    _check(out, ref_out, inputs, ref_inputs, 1e-4)
