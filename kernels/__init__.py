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
