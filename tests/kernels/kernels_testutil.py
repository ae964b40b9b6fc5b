"""Shared helpers for the kernel tests (unique module name: tests folders are not packages)."""
import importlib.util
import os

import pytest
import torch

HAS_CUDA = torch.cuda.is_available()
# Triton runs compiled on CUDA, or interpreted on CPU tensors when TRITON_INTERPRET=1
TRITON_DEVICE = "cuda" if HAS_CUDA else "cpu"
needs_triton = pytest.mark.skipif(
    importlib.util.find_spec("triton") is None
    or (not HAS_CUDA and os.environ.get("TRITON_INTERPRET", "0") in ("", "0")),
    reason="needs triton with CUDA or TRITON_INTERPRET=1")
# bf16 is wrong in the Triton interpreter: test it only on a GPU
DTYPES = [torch.float32, torch.float16] + ([torch.bfloat16] if HAS_CUDA else [])
TOL = {torch.float32: 2e-5, torch.float16: 2e-2, torch.bfloat16: 5e-2}


def rel_err(actual, expected):
    """||actual - expected|| / max(||expected||, 1e-6) in float64 (test values are O(1))."""
    a, e = actual.detach().double().cpu(), expected.detach().double().cpu()
    assert a.shape == e.shape, (a.shape, e.shape)
    assert torch.isfinite(a).all(), "non-finite values (unwritten NaN-poisoned memory?)"
    return ((a - e).norm() / e.norm().clamp_min(1e-6)).item()


def routed_indices(B, N, fraction, generator, force=()):
    """Sorted (batch_idx, pos) for a random subset of positions, ~fraction of each sequence.

    ``force`` lists (b, count) pairs that override the count of a sequence (0 = none routed).
    """
    counts = {b: int(round(fraction * N)) for b in range(B)}
    counts.update(dict(force))
    batch_idx, pos = [], []
    for b in range(B):
        chosen = torch.randperm(N, generator=generator)[:counts[b]].sort().values
        batch_idx.append(torch.full((len(chosen),), b, dtype=torch.int64))
        pos.append(chosen)
    return torch.cat(batch_idx), torch.cat(pos)


def leaf(x, dtype, device=TRITON_DEVICE):
    """A fresh leaf tensor requiring grad, cast to dtype on device."""
    return x.detach().to(device=device, dtype=dtype).requires_grad_()


def compare_with_reference(fn, ref, inputs, dtype, generator, tol=None, **kwargs):
    """Run ``fn`` on ``inputs`` (device, dtype) and ``ref`` on the same values in float64 on CPU;
    assert output and every gradient agree within ``tol`` (default TOL[dtype]) relative error."""
    dev_inputs = [leaf(t, dtype) if t.is_floating_point() else t.to(TRITON_DEVICE)
                  for t in inputs]
    ref_inputs = [leaf(t.to(dtype), torch.float64, "cpu") if t.is_floating_point() else t
                  for t in inputs]
    out = fn(*dev_inputs, **kwargs)
    expected = ref(*ref_inputs, **kwargs)
    assert out.dtype == dtype and out.shape == expected.shape
    tol = TOL[dtype] if tol is None else tol
    assert rel_err(out, expected) < tol, ("forward", rel_err(out, expected))
    cot = torch.randn(expected.shape, generator=generator, dtype=torch.float64)
    diff_dev = [t for t in dev_inputs if t.is_floating_point()]
    diff_ref = [t for t in ref_inputs if t.is_floating_point()]
    got = torch.autograd.grad(out, diff_dev, cot.to(TRITON_DEVICE, dtype))
    want = torch.autograd.grad(expected, diff_ref, cot)
    for i, (a, e) in enumerate(zip(got, want)):
        assert a.dtype == dtype
        assert rel_err(a, e) < tol, (f"grad of input {i}", rel_err(a, e))
