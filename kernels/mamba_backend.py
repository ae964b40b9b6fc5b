"""mamba-ssm's CUDA ``selective_scan_fn`` as an optional selective_scan backend (GPU extra).

mamba-ssm is imported lazily, on first use: its released wheels cannot even be imported without
CUDA, so nothing else in cramcog depends on it. Install with ``pip install 'cramcog[gpu]'``.
"""
from __future__ import annotations

import importlib

from .selective_scan_ref import check_selective_scan_inputs


def load_selective_scan_fn():
    """Import mamba-ssm's ``selective_scan_fn``; raise a helpful ImportError when unavailable.

    Examples
    --------
    >>> try:
    ...     fn = load_selective_scan_fn()
    ... except ImportError as err:
    ...     print("not installed" if "cramcog[gpu]" in str(err) else err)
    not installed
    """
    try:
        module = importlib.import_module("mamba_ssm.ops.selective_scan_interface")
    except Exception as err:  # mamba-ssm raises more than ImportError without CUDA
        raise ImportError("the mamba backend needs mamba-ssm with CUDA: pip install 'cramcog[gpu]' "
                          f"on a CUDA machine ({type(err).__name__}: {err})") from err
    return module.selective_scan_fn


def selective_scan_mamba(u, delta, A, Bm, Cm, D=None, z=None, delta_bias=None,
                         delta_softplus=False):
    """mamba-ssm ``selective_scan_fn`` with cramcog's argument checks (CUDA tensors only).

    Same contract as :func:`cramcog.kernels.selective_scan`.
    """
    check_selective_scan_inputs(u, delta, A, Bm, Cm, D, z, delta_bias)
    if not u.is_cuda:
        raise ValueError("the mamba backend needs CUDA tensors; use backend='torch' on CPU")
    fn = load_selective_scan_fn()
    return fn(u, delta, A, Bm, Cm, D=D, z=z, delta_bias=delta_bias,
              delta_softplus=bool(delta_softplus))
