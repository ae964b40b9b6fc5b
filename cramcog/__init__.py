"""cramcog: CRAM memory consolidation in neural networks, compared with human memory.

Two halves share one record format (an xarray Dataset, saved as netCDF):

- the CRAM model and its kernels (torch, triton): ``cramcog.model``, ``cramcog.train``;
- the memory-dynamics layer (numpy, scipy, statsmodels): ``fit_consolidation_curve``,
  ``compare_shape``, ``compare_gamma``, ``cramcog.psych``.

``import cramcog`` imports neither torch nor triton: heavy pieces load lazily on first use, so the
dynamics layer works on a laptop without them.

Examples
--------
>>> import cramcog as cc
>>> "ebbinghaus_1885" in cc.psych.list()
True
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> "module:attribute" (attribute None means the module itself)
_LAZY = {
    "records": ("cramcog.records", None),
    "psych": ("cramcog.psych", None),
    "dynamics": ("cramcog.dynamics", None),
    "tasks": ("cramcog.tasks", None),
    "model": ("cramcog.model", None),
    "ablations": ("cramcog.experiments.ablations", None),
    "figures": ("cramcog.figures", None),
    "redundancy": ("cramcog.redundancy", None),
    "fit_consolidation_curve": ("cramcog.dynamics", "fit_consolidation_curve"),
    "compare_gamma": ("cramcog.comparison", "compare_gamma"),
    "compare_shape": ("cramcog.comparison", "compare_shape"),
    "train": ("cramcog.train", "train"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'cramcog' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
