"""Input embedding and output heads shared by CRAM and the dense Transformer baseline.

An SRCD event is one token: its kind (observation / binding / query), the observed state of the
dynamical system, the key and value ids, and the time gap dtau_t since the previous event. The
heads read the final residual stream: a value classifier (answer at query tokens) and a linear
next-observation predictor (Dynamics MSE at observation tokens).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class EventEmbedding(nn.Module):
    """x_t = E_kind[kind] + W_obs obs + E_key[key] + E_val[value] + W_gap [log(1 + dtau_t),
    log(1 + next_dt_t)].

    ``next_dt`` (time to the next observation, the horizon of the dynamics target, known from the
    observation schedule) is optional; it is 0 when absent.

    Args:
        d_model: width d.
        obs_dim: P, size of an observation.
        n_keys, n_values: vocabulary sizes (ids 1..n; 0 means "none").

    Examples
    --------
    >>> import torch
    >>> emb = EventEmbedding(8, obs_dim=3, n_keys=5, n_values=4)
    >>> b = {"kind": torch.zeros(1, 6, dtype=torch.long), "obs": torch.zeros(1, 6, 3),
    ...      "key": torch.zeros(1, 6, dtype=torch.long), "value": torch.zeros(1, 6, dtype=torch.long),
    ...      "dt": torch.ones(1, 6)}
    >>> emb(b).shape
    torch.Size([1, 6, 8])
    """

    def __init__(self, d_model: int, obs_dim: int, n_keys: int, n_values: int):
        super().__init__()
        self.kind = nn.Embedding(3, d_model)
        self.obs = nn.Linear(obs_dim, d_model)
        self.key = nn.Embedding(n_keys + 1, d_model, padding_idx=0)
        self.value = nn.Embedding(n_values + 1, d_model, padding_idx=0)
        self.gap = nn.Linear(2, d_model)

    def forward(self, batch: dict) -> torch.Tensor:
        dt = batch["dt"]
        next_dt = batch.get("next_dt")
        next_dt = torch.zeros_like(dt) if next_dt is None else next_dt
        log_gap = torch.log1p(torch.stack([dt, next_dt], -1).clamp_min(0))   # (B, N, 2)
        return (self.kind(batch["kind"]) + self.obs(batch["obs"]) + self.key(batch["key"])
                + self.value(batch["value"]) + self.gap(log_gap))            # (B, N, d)


class TaskHeads(nn.Module):
    """Final RMS-norm, then value logits (B, N, n_values+1) and next observation (B, N, P)."""

    def __init__(self, d_model: int, obs_dim: int, n_values: int):
        super().__init__()
        self.norm = nn.RMSNorm(d_model)
        self.value = nn.Linear(d_model, n_values + 1)
        self.dynamics = nn.Linear(d_model, obs_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.norm(x)
        return self.value(z), self.dynamics(z)


def task_losses(value_logits, dyn_pred, batch) -> dict:
    """Per-token task losses and their means.

    Returns a dict with ``ce_token`` (B, N; 0 off queries), ``mse_token`` (B, N; 0 off dynamics
    targets), and scalar means ``retrieval`` (cross-entropy over queries) and ``dynamics`` (MSE
    over observation targets, averaged over the P channels).
    """
    target = batch["target"]                                             # (B, N), -100 off queries
    ce_token = F.cross_entropy(value_logits.transpose(1, 2), target, ignore_index=-100,
                               reduction="none")                         # (B, N)
    is_query = target != -100
    mask = batch["dyn_mask"]
    mse_token = ((dyn_pred - batch["dyn_target"]) ** 2).mean(-1) * mask   # (B, N)
    return {
        "ce_token": ce_token,
        "mse_token": mse_token,
        "retrieval": ce_token.sum() / is_query.sum().clamp_min(1),
        "dynamics": mse_token.sum() / mask.sum().clamp_min(1),
    }
