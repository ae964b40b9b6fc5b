"""Triton routed attention vs the torch reference: forward and dq, dk, dv, odd shapes, splits."""
import functools

import pytest
import torch

from cramcog.kernels import routed_attention, routed_attention_ref, use_backend
from cramcog.kernels.alloc import empty
from kernels_testutil import (DTYPES, TRITON_DEVICE, compare_with_reference, needs_triton,
                              rel_err, routed_indices)

pytestmark = needs_triton


def _triton(**options):
    from cramcog.kernels.routed_attention_triton import routed_attention_triton
    return functools.partial(routed_attention_triton, **options)


def _case(B, N, H, Dh, fraction, seed, force=()):
    g = torch.Generator().manual_seed(seed)
    batch_idx, pos = routed_indices(B, N, fraction, g, force)
    q = torch.randn(len(pos), H, Dh, generator=g)
    k = torch.randn(B, N, H, Dh, generator=g)
    v = torch.randn(B, N, H, Dh, generator=g)
    return [q, k, v, batch_idx, pos], g


@pytest.mark.parametrize("B,N,H,Dh,fraction,window,force,splits", [
    (2, 37, 2, 8, 0.3, None, ((1, 0),), 1),   # N, Dh not block multiples; a sequence unrouted
    (2, 37, 2, 8, 0.3, 5, (), 3),             # window < N, key range split over 3 programs
    (1, 40, 1, 16, 1.0, None, (), 1),         # every token routed, through the kernel itself
    (3, 19, 1, 16, 0.5, 2, ((0, 19),), 2),    # window 2; one sequence fully routed
    (2, 23, 2, 4, 0.1, 100, (), 4),           # window > N; more splits than key blocks
    (1, 90, 1, 16, 0.05, 3, (), 1),           # sparse queries, short window: unseen key blocks
])
def test_routed_attention_triton_fp32(B, N, H, Dh, fraction, window, force, splits):
    inputs, g = _case(B, N, H, Dh, fraction, seed=N + splits, force=force)
    compare_with_reference(_triton(num_splits=splits, dense_fast_path=False),
                           routed_attention_ref, inputs, torch.float32, g, window=window)


@pytest.mark.parametrize("dtype", DTYPES[1:])
def test_routed_attention_triton_half(dtype):
    inputs, g = _case(2, 33, 2, 16, 0.25, seed=3)
    compare_with_reference(_triton(num_splits=2), routed_attention_ref, inputs, dtype, g, window=7)


def test_dense_fast_path_when_everything_is_routed():
    inputs, g = _case(2, 20, 1, 16, 1.0, seed=4)
    compare_with_reference(_triton(), routed_attention_ref, inputs, torch.float32, g)


def test_zero_routed_queries_through_dispatch():
    (q, k, v, batch_idx, pos), _ = _case(2, 9, 1, 16, 0.0, seed=5)
    k, v = (t.to(TRITON_DEVICE).requires_grad_() for t in (k, v))
    with use_backend("triton"):
        out = routed_attention(q.to(TRITON_DEVICE), k, v, batch_idx.to(TRITON_DEVICE),
                               pos.to(TRITON_DEVICE))
    assert out.shape == (0, 1, 16)
    dk, dv = torch.autograd.grad(out.sum(), (k, v))
    assert dk.abs().max() == 0 and dv.abs().max() == 0


def test_dispatch_reaches_the_triton_kernel(monkeypatch):
    import cramcog.kernels.routed_attention_triton as module
    calls = []
    original = module.routed_attention_triton
    monkeypatch.setattr(module, "routed_attention_triton",
                        lambda *a, **kw: calls.append(1) or original(*a, **kw))
    (q, k, v, batch_idx, pos), _ = _case(1, 17, 1, 16, 0.3, seed=6)
    args = [t.to(TRITON_DEVICE) for t in (q, k, v, batch_idx, pos)]
    out = routed_attention(*args, backend="triton")
    assert calls == [1]
    assert rel_err(out, routed_attention_ref(*args)) < 2e-5


def test_triton_on_cpu_needs_the_interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    (q, k, v, batch_idx, pos), _ = _case(1, 5, 1, 4, 0.4, seed=7)
    with pytest.raises(ValueError, match="TRITON_INTERPRET"):
        routed_attention(q, k, v, batch_idx, pos, backend="triton")


def test_poisoned_allocations_are_on():
    # the autouse fixture must make kernel buffers NaN, or the poison checks prove nothing
    assert empty((3,), torch.float32, "cpu").isnan().all()


def test_strided_key_value_views_need_no_copy():
    # the model makes k, v as kv.view(B, N, 2, H, Dh).unbind(2): strided views of one tensor
    (q, _, _, batch_idx, pos), g = _case(2, 21, 2, 16, 0.3, seed=8)
    kv = torch.randn(2, 21, 2, 2, 16, generator=g).to(TRITON_DEVICE).requires_grad_()
    k, v = kv.unbind(2)
    assert not k.is_contiguous()
    args = (q.to(TRITON_DEVICE).requires_grad_(), k, v, batch_idx.to(TRITON_DEVICE),
            pos.to(TRITON_DEVICE))
    out = _triton(num_splits=2)(*args, window=9)
    ref_args = [t.detach().cpu().double().requires_grad_() for t in (args[0], kv)]
    expected = routed_attention_ref(ref_args[0], *ref_args[1].unbind(2), batch_idx, pos, 9)
    assert rel_err(out, expected) < 2e-5
    cot = torch.randn(out.shape, generator=g)
    for a, e in zip(torch.autograd.grad(out, (args[0], kv), cot.to(TRITON_DEVICE)),
                    torch.autograd.grad(expected, ref_args, cot.double())):
        assert rel_err(a, e) < 2e-5
