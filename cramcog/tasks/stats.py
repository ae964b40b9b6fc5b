"""Empirical statistics of a batch, and reference Dynamics-MSE levels to judge a model against.

Examples
--------
>>> from cramcog.tasks import SRCD, SRCDConfig
>>> from cramcog.tasks.stats import batch_statistics, reference_dynamics_mse
>>> batch = SRCD(SRCDConfig(seq_len=512, bank_size=4)).sample(8, "train", seed=0)
>>> s = batch_statistics(batch)
>>> round(s["query_rate"], 3), round(s["recurring_fraction"], 3)
(0.051, 0.692)
>>> ref = reference_dynamics_mse(batch)
>>> ref["noise_floor"] < ref["persistence"]
True
"""
from __future__ import annotations

import numpy as np

from cramcog.tasks.batch import KIND_BINDING, KIND_OBSERVATION, KIND_QUERY, SRCDBatch


def batch_statistics(batch: SRCDBatch) -> dict[str, float]:
    """Observed rates of a batch, to compare with its config.

    Returns
    -------
    dict
        ``query_rate``, ``binding_rate``, ``recurring_fraction`` (of queries),
        ``novel_query_rate`` (the empirical attention floor), ``mean_gap``, ``gap_ks_pvalue``
        (Kolmogorov-Smirnov test of the gaps against the config's law; NaN for MQAR),
        ``mean_distance`` (query - binding positions), ``obs_mean`` and ``obs_std``.

    Examples
    --------
    >>> from cramcog.tasks import MQAR, MQARConfig
    >>> batch_statistics(MQAR(MQARConfig(seq_len=64, n_pairs=8)).sample(2, seed=0))["query_rate"]
    0.125
    """
    if not isinstance(batch, SRCDBatch):
        raise TypeError(f"batch_statistics needs an SRCDBatch, got {type(batch).__name__}")
    from scipy import stats

    from cramcog.tasks.gaps import gap_cdf
    kind, qk = batch.kind, batch.query_kind
    n_q = max(int((kind == KIND_QUERY).sum()), 1)
    rows, qpos = np.nonzero(kind == KIND_QUERY)
    gaps = batch.dt[:, 1:].astype(np.float64).ravel()
    cfg = batch.config
    pvalue = float("nan")
    if cfg is not None and hasattr(cfg, "gap_law") and cfg.gap_law != "fixed":
        law = (cfg.gap_law, float(cfg.gap_shape), float(cfg.gap_scale))
        pvalue = float(stats.kstest(gaps, lambda x: gap_cdf(x, *law)).pvalue)
    obs = batch.obs[kind == KIND_OBSERVATION]
    return {
        "query_rate": float((kind == KIND_QUERY).mean()),
        "binding_rate": float((kind == KIND_BINDING).mean()),
        "recurring_fraction": float((qk == 1).sum() / n_q),
        "novel_query_rate": float((qk == 2).mean()),
        "mean_gap": float(gaps.mean()) if gaps.size else float("nan"),
        "gap_ks_pvalue": pvalue,
        "mean_distance": float((qpos - batch.pair_pos[rows, qpos]).mean()) if qpos.size
        else float("nan"),
        "obs_mean": float(obs.mean()) if obs.size else float("nan"),
        "obs_std": float(obs.std()) if obs.size else float("nan"),
    }


def reference_dynamics_mse(batch: SRCDBatch) -> dict[str, float]:
    """Dynamics MSE of simple predictors, in the model's units (mean over obs dims and targets).

    - ``noise_floor``: ``obs_noise**2``, what a perfect predictor of the clean state scores;
    - ``persistence``: predict the next observation = the current one;
    - ``linear_extrapolation``: continue the last observed velocity for ``next_dt``;
    - ``mean``: predict 0, the (standardised) mean; about 1 + noise variance.

    Examples
    --------
    >>> from cramcog.tasks import SRCD, SRCDConfig
    >>> b = SRCD(SRCDConfig(seq_len=256, bank_size=2, obs_noise=0.0)).sample(4, seed=0)
    >>> reference_dynamics_mse(b)["noise_floor"]
    0.0
    """
    if not isinstance(batch, SRCDBatch):
        raise TypeError(f"reference_dynamics_mse needs an SRCDBatch, got {type(batch).__name__}")
    mask = batch.dyn_mask
    target = batch.dyn_target[mask].astype(np.float64)                      # (M, P)
    current = batch.obs[mask].astype(np.float64)
    # previous observation and its time, for each position (carried forward over non-obs events)
    B, N = batch.kind.shape
    is_obs = batch.kind == KIND_OBSERVATION
    idx = np.where(is_obs, np.arange(N), -1)
    last = np.maximum.accumulate(idx, axis=1)                               # last obs at or before
    prev = np.concatenate([np.full((B, 1), -1), last[:, :-1]], axis=1)  # last obs before
    rows = np.broadcast_to(np.arange(B)[:, None], (B, N))
    has_prev = mask & (prev >= 0)
    p = np.maximum(prev, 0)
    dt_prev = (batch.time - batch.time[rows, p]).astype(np.float64)
    vel = np.where(has_prev[..., None],
                   (batch.obs - batch.obs[rows, p]) / np.maximum(dt_prev, 1e-12)[..., None], 0.0)
    linear = (batch.obs + vel * batch.next_dt[..., None])[mask].astype(np.float64)
    noise = getattr(batch.config, "obs_noise", 0.0) or 0.0
    mse = lambda pred: float(((pred - target) ** 2).mean()) if target.size else float("nan")
    return {"noise_floor": float(noise) ** 2, "persistence": mse(current),
            "linear_extrapolation": mse(linear), "mean": mse(np.zeros_like(target))}
