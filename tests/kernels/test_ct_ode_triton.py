"""Triton CT-ODE scan vs the torch reference: forward and grads of u, gate, w_rec, h0."""
import pytest
import torch

from cramcog.kernels import ct_ode_scan, ct_ode_scan_ref
from kernels_testutil import DTYPES, TRITON_DEVICE, compare_with_reference, needs_triton

pytestmark = needs_triton


def _triton():
    from cramcog.kernels.ct_ode_triton import ct_ode_scan_triton
    return ct_ode_scan_triton


def _case(B, N, C, G, seed):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(B, N, C, generator=g)
    gate = torch.rand(B, N, C, generator=g)
    w = torch.randn(G, C // G, C // G, generator=g) / (C // G) ** 0.5
    h0 = 0.5 * torch.randn(B, C, generator=g)
    return [u, gate, w, h0], g


@pytest.mark.parametrize("B,N,C,G,K,dt", [
    (2, 7, 6, 1, 1, 0.5),      # C/G = 6: padded to the 16-wide block
    (3, 5, 8, 4, 3, 0.3),      # 4 groups, 3 sub-steps (recomputed in backward)
    (2, 1, 20, 1, 2, 1.0),     # a single token
])
def test_ct_ode_triton_fp32(B, N, C, G, K, dt):
    inputs, g = _case(B, N, C, G, seed=B + N + C)
    compare_with_reference(_triton(), ct_ode_scan_ref, inputs, torch.float32, g, n_substeps=K, dt=dt)


@pytest.mark.parametrize("dtype", DTYPES[1:])
def test_ct_ode_triton_half(dtype):
    inputs, g = _case(2, 6, 32, 2, seed=9)
    compare_with_reference(_triton(), ct_ode_scan_ref, inputs, dtype, g, n_substeps=2, dt=0.5)


def test_ct_ode_dispatch_and_size_limit():
    inputs, _ = _case(1, 3, 16, 1, seed=1)
    args = [t.to(TRITON_DEVICE) for t in inputs]
    out = ct_ode_scan(*args, 1, 0.5, backend="triton")
    assert torch.allclose(out.cpu(), ct_ode_scan_ref(*inputs, 1, 0.5), atol=1e-5)
    big = [torch.zeros(1, 1, 512), torch.zeros(1, 1, 512), torch.zeros(1, 512, 512),
           torch.zeros(1, 512)]
    with pytest.raises(ValueError, match="channel groups"):
        ct_ode_scan(*[t.to(TRITON_DEVICE) for t in big], 1, 0.5, backend="triton")
