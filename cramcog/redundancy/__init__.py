"""Attention redundancy: how much of what attention retrieves is already predictable, by a linear
probe, from the hidden state the attention reads with.

Modules (torch is imported only by those that need it, on first use):

- :mod:`~cramcog.redundancy.corpus`: the bundled public-domain corpus, byte tokens, splits;
- :mod:`~cramcog.redundancy.hooks`: capture attention inputs/outputs (per head) of any model;
- :mod:`~cramcog.redundancy.probes`: streaming ridge probes with exact k-fold CV;
- :mod:`~cramcog.redundancy.analysis`: ``measure_redundancy`` (a record), ``trend_test``;
- :mod:`~cramcog.redundancy.gpt2`, :mod:`~cramcog.redundancy.hf_io`: cramcog's GPT-2 and the
  Hugging Face folder layout; :mod:`~cramcog.redundancy.training`: train it with checkpoints;
- :mod:`~cramcog.redundancy.plots`: the redundancy-over-training figure;
- :mod:`~cramcog.redundancy.cram`: CRAM's episodic attention (executed vs counterfactual) and
  the dense Transformer baseline on SRCD.

Examples
--------
>>> import cramcog.redundancy as red
>>> red.RedundancyConfig().tau
0.5
"""
from __future__ import annotations

import importlib

_LAZY = {
    "RedundancyConfig": "cramcog.redundancy.analysis",
    "measure_redundancy": "cramcog.redundancy.analysis",
    "trend_test": "cramcog.redundancy.analysis",
    "fraction_within": "cramcog.redundancy.analysis",
    "find_attention_modules": "cramcog.redundancy.hooks",
    "AttentionCapture": "cramcog.redundancy.hooks",
    "RidgeStats": "cramcog.redundancy.probes",
    "fit_ridge_cv": "cramcog.redundancy.probes",
    "GPT2": "cramcog.redundancy.gpt2",
    "GPT2Config": "cramcog.redundancy.gpt2",
    "load_gpt2": "cramcog.redundancy.hf_io",
    "save_gpt2": "cramcog.redundancy.hf_io",
    "LMTrainConfig": "cramcog.redundancy.training",
    "train_and_measure": "cramcog.redundancy.training",
    "plot_redundancy": "cramcog.redundancy.plots",
    "measure_srcd_model": "cramcog.redundancy.cram",
    "compare_srcd_models": "cramcog.redundancy.cram",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'cramcog.redundancy' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
