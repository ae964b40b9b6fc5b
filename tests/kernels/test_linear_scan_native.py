"""The selective scan's linear recurrence as a compiled C loop: the same bits as the torch loop
(forward and reverse, odd shapes), so the SSM reference computes what it did."""
import pytest
import torch

from cramcog.kernels import selective_scan_naive, selective_scan_ref
from cramcog.kernels.linear_scan_native import linear_scan
from cramcog.kernels.selective_scan_ref import linear_scan_loop
from kernels_testutil import rel_err

needs_native = pytest.mark.skipif(linear_scan(torch.ones(1, 1), torch.ones(1, 1)) is None,
                                  reason="no working C compiler (the torch loop is used)")


@needs_native
@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (50, 3, 4), (33, 1, 17, 5), (600, 2, 64, 8)])
@pytest.mark.parametrize("reverse", [False, True])
def test_native_scan_is_bitwise_the_torch_loop(shape, reverse):
    g = torch.Generator().manual_seed(len(shape))
    a, b = torch.rand(*shape, generator=g), torch.randn(*shape, generator=g)
    assert torch.equal(linear_scan(a, b, reverse), linear_scan_loop(a, b, reverse,
                                                                     use_native=False))


def test_scan_falls_back_where_the_loop_does_not_apply():
    a, b = torch.rand(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    assert linear_scan(a, b) is None                       # float64: the torch loop
    assert torch.equal(linear_scan_loop(a, b), linear_scan_loop(a, b, use_native=False))


@needs_native
def test_native_scan_takes_strided_inputs():
    # the reference's (L, B, C, S) factors come out of broadcasts with permuted strides
    g = torch.Generator().manual_seed(3)
    a = torch.rand(4, 6, 40, generator=g).permute(2, 0, 1)        # (40, 4, 6), not contiguous
    b = torch.randn(4, 6, 40, generator=g).permute(2, 0, 1)
    hs, loop = linear_scan(a, b), linear_scan_loop(a, b, use_native=False)
    assert torch.equal(hs, loop) and hs.stride() == loop.stride()


def test_selective_scan_ref_still_matches_its_oracle():
    g = torch.Generator().manual_seed(0)
    B, C, L, S = 2, 6, 70, 4
    raw = [torch.randn(B, C, L, generator=g), 0.5 * torch.rand(B, C, L, generator=g),
           -torch.rand(C, S, generator=g), torch.randn(B, S, L, generator=g),
           torch.randn(B, S, L, generator=g)]
    x = [t.clone().requires_grad_() for t in raw]
    y = [t.double().requires_grad_() for t in raw]
    out, ref = selective_scan_ref(*x), selective_scan_naive(*y)
    assert rel_err(out, ref) < 1e-5
    cot = torch.randn(out.shape, generator=g)
    for a, e in zip(torch.autograd.grad(out, x, cot), torch.autograd.grad(ref, y, cot.double())):
        assert rel_err(a, e) < 1e-4


@needs_native
def test_selective_scan_ref_gives_the_same_bits_with_and_without_the_c_loop(monkeypatch):
    from cramcog.kernels import linear_scan_native
    g = torch.Generator().manual_seed(1)
    raw = [torch.randn(2, 16, 90, generator=g), 0.5 * torch.rand(2, 16, 90, generator=g),
           -torch.rand(16, 8, generator=g), torch.randn(2, 8, 90, generator=g),
           torch.randn(2, 8, 90, generator=g), torch.randn(16, generator=g)]

    def run():
        x = [t.clone().requires_grad_() for t in raw]
        out = selective_scan_ref(*x[:5], D=x[5])
        return [out] + list(torch.autograd.grad(out.square().sum(), x))
    native = run()
    monkeypatch.setattr(linear_scan_native, "linear_scan", lambda a, b, reverse=False: None)
    loop = run()
    assert all(torch.equal(a, b) for a, b in zip(native, loop))
