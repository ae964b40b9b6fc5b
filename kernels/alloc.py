"""Output allocation for the Triton launchers, with a NaN-poison switch for tests.

Kernels must write every element they return. With poisoning on, buffers start as NaN instead of
uninitialised memory, so an element a kernel forgot to write fails the tests reliably.
"""
from __future__ import annotations

import contextlib

import torch

_poison = [False]


@contextlib.contextmanager
def poison_allocations(enabled: bool = True):
    """Fill every kernel-allocated buffer with NaN inside the block (tests only).

    Examples
    --------
    >>> with poison_allocations():
    ...     empty((2,), torch.float32, "cpu").isnan().all().item()
    True
    """
    previous = _poison[0]
    _poison[0] = bool(enabled)
    try:
        yield
    finally:
        _poison[0] = previous


def empty(shape, dtype, device, strides=None):
    """torch.empty (torch.empty_strided when ``strides`` is given), NaN-filled (integers: -1)
    while :func:`poison_allocations` is on."""
    if strides is None:
        out = torch.empty(shape, dtype=dtype, device=device)
    else:
        out = torch.empty_strided(shape, strides, dtype=dtype, device=device)
    if _poison[0]:
        out.fill_(float("nan") if dtype.is_floating_point else -1)
    return out
