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

Modules: ``families`` (the curve families, ``FAMILIES``), ``data`` (reading y, input checks),
``optimizer`` (batched Levenberg-Marquardt), ``intervals`` (Wald / profile / bootstrap, quasi),
``fit`` (the entry point), ``result`` (``FitResult``), ``ranking`` (``FitSet``, information
criteria, Akaike weights), ``report`` (text reports), ``export`` (records), ``group`` (many
subjects, ``by=``: per-subject fits and a random-effects group estimate, ``GroupFit``,
``GroupFitSet``), ``plotting`` (labels, styles, Wilson bars, one panel per subject),
``consolidation`` (consolidation curves cut from training records in a stated window, and their
gamma: ``ConsolidationWindow``, ``consolidation_curve``, ``fit_power``, ``gamma_frame``).

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
from cramcog.dynamics.consolidation import (ConsolidationCurve, ConsolidationWindow,
                                            consolidation_curve, cut_consolidation_curve,
                                            fit_power, gamma_frame)
from cramcog.dynamics.data import Y_KINDS, convert_y
from cramcog.dynamics.families import FAMILIES, Family, make_actr_family, with_asymptote
from cramcog.dynamics.fit import FitConfig, fit_consolidation_curve
from cramcog.dynamics.group import GroupFit, GroupFitSet
from cramcog.dynamics.result import FitResult, FitSet, MissingParameterError
from cramcog.dynamics.toy_consolidation import (ToyConsolidationConfig, ToyConsolidationResult,
                                                simulate_consolidation)

__all__ = ["FAMILIES", "ConsolidationCurve", "ConsolidationWindow", "Family", "FitConfig",
           "GroupFit", "GroupFitSet",
           "FitResult", "FitSet", "MissingParameterError", "Y_KINDS", "consolidation_curve",
           "convert_y", "cut_consolidation_curve",
           "fit_consolidation_curve", "fit_power", "gamma_frame", "make_actr_family",
           "with_asymptote", "ToyConsolidationConfig", "ToyConsolidationResult",
           "simulate_consolidation"]
