"""Kernels for CRAM, each beside a plain-torch reference (imported as ``cramcog.kernels``).

Ops (see ``kernels/README.md``):
- :func:`routed_attention` - causal attention for the routed (episodic) queries only;
- :func:`ct_ode_scan` - the CT-ODE working-memory recurrence fused over time;
- :func:`selective_scan` - the selective SSM scan (mamba-ssm convention);
- :func:`attention_flops`, :func:`dense_causal_flops` - FLOP counters.

The backend (plain torch on CPU, Triton on CUDA, mamba-ssm for the SSM when installed) is picked
once per op and device type; :func:`use_backend` or ``backend=`` overrides it. This module imports
torch but never triton: Triton loads on the first Triton call.

Examples
--------
>>> import torch
>>> from cramcog.kernels import routed_attention
>>> k = v = torch.randn(1, 4, 1, 2)
>>> routed_attention(torch.randn(1, 1, 2), k, v, torch.tensor([0]), torch.tensor([3])).shape
torch.Size([1, 1, 2])
"""
import sys

if __name__ == "kernels":
    # This folder was imported under the top-level name `kernels`: Python was started in the
    # repository root, so the root is on sys.path and this folder shadows the PyPI package
    # `kernels` (which transformers 5 imports). Load the installed PyPI package in its place;
    # cramcog's own kernels are always imported as cramcog.kernels.
    import importlib.machinery
    import importlib.util
    import os

    _root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    _elsewhere = [p for p in sys.path if os.path.abspath(p or os.curdir) != _root]
    _spec = importlib.machinery.PathFinder.find_spec("kernels", _elsewhere)
    if _spec is None:
        raise ModuleNotFoundError(
            "`import kernels` found cramcog's kernels/ folder (Python was started in the cramcog "
            "repository root) and no PyPI package `kernels` is installed. Import cramcog's kernels "
            "as `cramcog.kernels`; install the PyPI package `kernels` if you need that one.",
            name="kernels")
    _pypi = importlib.util.module_from_spec(_spec)
    sys.modules[__name__] = _pypi  # the import statement returns what sys.modules holds
    _spec.loader.exec_module(_pypi)
else:
    from .ct_ode_ref import ct_ode_scan_naive, ct_ode_scan_ref
    from .flops import attention_flops, dense_causal_flops
    from .ops import (ct_ode_scan, interpreting, resolve_backend, routed_attention, selective_scan,
                      triton_available, use_backend)
    from .routed_attention_ref import routed_attention_naive, routed_attention_ref
    from .selective_scan_ref import selective_scan_naive, selective_scan_ref

    __all__ = [
        "routed_attention", "ct_ode_scan", "selective_scan", "attention_flops", "dense_causal_flops",
        "use_backend", "resolve_backend", "triton_available", "interpreting",
        "routed_attention_ref", "routed_attention_naive", "ct_ode_scan_ref", "ct_ode_scan_naive",
        "selective_scan_ref", "selective_scan_naive",
    ]
