"""Memory dynamics: forgetting / consolidation curve families and their maximum-likelihood fits.

``fit_consolidation_curve(t, y, n=None, family="power", ci="profile")`` fits one family (a
:class:`FitResult`) or several (``family=[...]`` or ``"all"``: a :class:`FitSet` ranked by AICc,
with Akaike weights). With counts ``n`` the likelihood is binomial, without them least squares;
``y_kind`` says what ``y`` holds. Intervals are profile likelihood by default, bootstrap or Wald on
request, quasi-likelihood or cluster bootstrap for overdispersed counts. Any parameter can be
held fixed (``fixed=``, ``chance=``). Every result reports its goodness of fit (``report()``).
Curves along extra xarray dims (subjects, layers, seeds) and bootstrap replicates are all fitted
at once by a batched numpy Levenberg-Marquardt optimiser. This package imports numpy/scipy only
(never torch).

Modules, each importing only those listed before it: ``families`` (the curve families,
``FAMILIES``), ``kinds`` (``Y_KINDS``: no imports, for the command line), ``data`` (reading y,
input checks), ``optimizer`` (batched Levenberg-Marquardt), ``intervals`` (Wald / profile /
bootstrap, quasi), ``criteria`` (information criteria), ``report`` (text reports), ``export``
(records), ``plotting`` (labels, styles, Wilson bars, one panel per subject), ``result``
(``FitResult``), ``ranking`` (``FitSet``, Akaike weights), ``fit`` (one set of curves),
``mixed`` (the binomial nonlinear mixed model: every subject's counts at once),
``group`` (many subjects: per-subject fits and a group estimate, two-stage or mixed, and
differences between conditions; ``GroupFit``, ``GroupFitSet``), ``api`` (the entry point ``fit_consolidation_curve``, which hands ``by=`` to
``group``), ``toy_consolidation`` (the teaching toy). ``import cramcog.dynamics`` loads none of
them: each name below loads its module on first use. Curves cut
from training records (what a run means) live in :mod:`cramcog.analysis`, which imports this
package, never the other way round.

Examples
--------
>>> import numpy as np
>>> from cramcog.dynamics import fit_consolidation_curve, FAMILIES
>>> "shifted_power" in FAMILIES
True
>>> t = np.array([1, 2, 4, 8, 16, 32.0])
>>> fit = fit_consolidation_curve(t, [41, 33, 29, 23, 20, 17], n=50, y_kind="successes")
>>> fit.family, fit.converged
('power', True)
"""
from __future__ import annotations

import importlib

# public name -> (module, attribute), loaded on first use
_LAZY = {
    "FAMILIES": ("cramcog.dynamics.families", "FAMILIES"),
    "Family": ("cramcog.dynamics.families", "Family"),
    "make_actr_family": ("cramcog.dynamics.families", "make_actr_family"),
    "with_asymptote": ("cramcog.dynamics.families", "with_asymptote"),
    "Y_KINDS": ("cramcog.dynamics.kinds", "Y_KINDS"),
    "convert_y": ("cramcog.dynamics.data", "convert_y"),
    "FitResult": ("cramcog.dynamics.result", "FitResult"),
    "MissingParameterError": ("cramcog.dynamics.result", "MissingParameterError"),
    "FitSet": ("cramcog.dynamics.ranking", "FitSet"),
    "FitConfig": ("cramcog.dynamics.fit", "FitConfig"),
    "GroupFit": ("cramcog.dynamics.group", "GroupFit"),
    "GroupFitSet": ("cramcog.dynamics.group", "GroupFitSet"),
    "fit_consolidation_curve": ("cramcog.dynamics.api", "fit_consolidation_curve"),
    "ToyConsolidationConfig": ("cramcog.dynamics.toy_consolidation", "ToyConsolidationConfig"),
    "ToyConsolidationResult": ("cramcog.dynamics.toy_consolidation", "ToyConsolidationResult"),
    "simulate_consolidation": ("cramcog.dynamics.toy_consolidation", "simulate_consolidation"),
}

__all__ = ["FAMILIES", "Family", "FitConfig", "FitResult", "FitSet", "GroupFit", "GroupFitSet",
           "MissingParameterError", "Y_KINDS", "convert_y", "fit_consolidation_curve",
           "make_actr_family",
           "with_asymptote", "ToyConsolidationConfig", "ToyConsolidationResult",
           "simulate_consolidation"]


def __getattr__(name: str):
    """A public name (``_LAZY``) or a submodule (``cramcog.dynamics.fit``), imported now."""
    if name in _LAZY:
        module_name, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module_name), attribute)
    else:
        try:
            value = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
