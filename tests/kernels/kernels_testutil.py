"""Shared helpers for the kernel tests (unique module name: tests folders are not packages)."""
import importlib.util

import pytest
import torch

needs_triton = pytest.mark.skipif(importlib.util.find_spec("triton") is None,
                                  reason="triton not installed")


def rel_err(actual, expected):
    """||actual - expected|| / max(||expected||, 1e-6) (test values are O(1)), in float64."""
    a, e = actual.detach().double(), expected.detach().double()
    assert a.shape == e.shape, (a.shape, e.shape)
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


def grads(out, inputs, generator):
    """Gradients of <out, random cotangent> w.r.t. inputs (None for unused inputs)."""
    cot = torch.randn(out.shape, generator=generator, dtype=torch.float64).to(out.dtype)
    return torch.autograd.grad(out, inputs, cot, allow_unused=True)
