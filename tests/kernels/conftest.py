"""Kernel tests run the Triton kernels under the interpreter on CPU tensors, or compiled on CUDA
tensors when a GPU is present (then the same tests check the real kernels).

TRITON_INTERPRET must be set before any @triton.jit kernel is defined, i.e. before the
cramcog.kernels.*_triton modules are imported; cramcog.kernels itself never imports triton.
"""
import os
import sys

import torch

# the shared helpers (kernels_testutil) import in any pytest import mode, rootdir or importlib
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402

from cramcog.kernels.alloc import poison_allocations  # noqa: E402


@pytest.fixture(autouse=True)
def _poisoned_kernel_buffers():
    """Every buffer a Triton launcher allocates starts as NaN during kernel tests."""
    with poison_allocations():
        yield
