"""The kernel ops CRAM uses, imported once from :mod:`cramcog.kernels`.

Kept in one place so the model modules never pick an implementation themselves: the kernels
package dispatches (plain torch on CPU, Triton on CUDA).
"""
from __future__ import annotations

from cramcog.kernels import (  # noqa: F401 - re-exported
    attention_flops,
    ct_ode_scan,
    dense_causal_flops,
    routed_attention,
    selective_scan,
)
