"""Information criteria: AIC, AICc and BIC (QAIC, QAICc, QBIC for quasi fits) and their labels.

The bottom of the fit layer's ranking: :class:`cramcog.dynamics.result.FitResult` computes its
criteria here, :class:`cramcog.dynamics.ranking.FitSet` ranks families by them and
:mod:`cramcog.dynamics.report` names them. numpy only.

Examples
--------
>>> round(float(information_criterion("aic", -10.0, 2, 10)), 4)
24.0
>>> CRITERION_LABELS["qaicc"]
'QAICc'
"""
from __future__ import annotations

import numpy as np

#: Display names of the criteria.
CRITERION_LABELS = {"aic": "AIC", "aicc": "AICc", "bic": "BIC", "qaic": "QAIC",
                    "qaicc": "QAICc", "qbic": "QBIC"}


def information_criterion(name: str, loglik, k, m: int, c_hat=None):
    """AIC, AICc or BIC (QAIC, QAICc, QBIC when ``c_hat`` is given) per curve.

    ``k`` counts the estimated parameters (least squares: plus the noise variance); ``m`` is
    the number of data points (not trials: the binomial's sample size for AICc and BIC is the
    number of points, as for a grouped binomial GLM). With ``c_hat`` the deviance is divided by
    it and one parameter is added for it (Burnham & Anderson 2002, sec. 2.5 and 6.2). AICc is
    ``inf`` when ``m <= K + 1`` (no correction defined).

    Examples
    --------
    >>> round(float(information_criterion("aicc", -10.0, 2, 10)), 4)   # 24 + 2*2*3/7
    25.7143
    >>> round(float(information_criterion("qaic", -10.0, 2, 10, c_hat=2.0)), 4)  # 10 + 2*3
    16.0
    """
    base = name[1:] if name.startswith("q") else name
    quasi = name.startswith("q")
    if quasi and c_hat is None:
        raise ValueError(f"{name} needs c_hat, the dispersion")
    kk = np.asarray(k, float) + (1 if quasi else 0)
    dev = -2.0 * np.asarray(loglik, float) / (np.asarray(c_hat, float) if quasi else 1.0)
    if base == "aic":
        return dev + 2 * kk
    if base == "aicc":
        spare = m - kk - 1
        corr = np.where(spare > 0, 2 * kk * (kk + 1) / np.where(spare > 0, spare, 1), np.inf)
        return dev + 2 * kk + corr
    if base == "bic":
        return dev + kk * np.log(m)
    raise ValueError(f"unknown criterion {name!r}; use aicc, aic or bic (q-prefixed with a "
                     "dispersion)")
