"""The CRAM model (torch): working, episodic and semantic memory per layer, and a router.

Import this module only where torch is wanted (``import cramcog`` does not import it).

Glossary (paper notation -> code)
---------------------------------
=====================  ==========================================================================
x_t                    ``EventEmbedding(batch)``: the event at position t (B, N, d)
dtau_t                 ``batch["dt"]``: time gap since the previous event
h (working memory)     ``CTODEMemory``: state of ``ct_ode_scan``; output W_out RMSNorm(h_t)
W1                     ``CTODEMemory.w_rec`` (G, C/G, C/G) block-diagonal recurrent matrix
W2                     ``CTODEMemory.w2``: input drive u_t = W2 x_t
W_tau, g_t             ``CTODEMemory.w_tau, b_tau``: g_t = W_tau log(1 + dtau_t) + b_tau
sigmoid(g_t)           the ``gate`` argument of ``ct_ode_scan``
K, dt                  ``CRAMConfig.n_substeps``, ``CRAMConfig.ode_dt``
z_t                    RMSNorm of the post-working-memory state: what the router sees
r_E                    ``EpisodicMemory`` output on routed tokens (attention over the KV buffer)
f_sem                  ``SemanticMemory``: low-rank MLP, rank ``CRAMConfig.rank`` (d/16 default)
q_t                    ``consolidation_quality``: exp(-mean_c (f_sem(z) - sg r_E)^2 / sigma^2)
sigma                  ``CRAMConfig.sigma``
q_hat_t                ``Router.familiarity``: predicts q_t from z_t, before attention runs
switch at q ~ 0.83     ``CRAMConfig.q_threshold``: q_hat above it raises the semantic logit
Gumbel router          ``Router`` + ``sample_routes``; tiers 0 working, 1 episodic, 2 semantic
L_cons                 ``cram_objective``: mean (f_sem(z) - sg r_E)^2 on tokens where attention ran
replay                 ``CRAMConfig.replay_rate``: counted tokens forced to attention in training
=====================  ==========================================================================

Examples
--------
>>> from cramcog.model import CRAM, DenseTransformer, GLOSSARY
>>> "r_E" in GLOSSARY
True
"""
from __future__ import annotations

from cramcog.configs import CRAMConfig
from cramcog.model.cram import CRAM, CRAMLayer, LayerTrace, ModelOutput
from cramcog.model.embedding import EventEmbedding, TaskHeads, task_losses
from cramcog.model.episodic import EpisodicMemory
from cramcog.model.objective import cram_objective
from cramcog.model.router import EPISODIC, SEMANTIC, TIERS, WORKING, Router
from cramcog.model.semantic import SemanticMemory, consolidation_quality
from cramcog.model.transformer import DenseTransformer
from cramcog.model.working import CTODEMemory, SelectiveSSMMemory

GLOSSARY = {
    "x_t": "EventEmbedding(batch)", "dtau_t": 'batch["dt"]', "h": "CTODEMemory state",
    "W1": "CTODEMemory.w_rec", "W2": "CTODEMemory.w2", "W_tau": "CTODEMemory.w_tau",
    "g_t": "w_tau * log1p(dt) + b_tau", "K": "CRAMConfig.n_substeps", "dt": "CRAMConfig.ode_dt",
    "r_E": "EpisodicMemory output", "f_sem": "SemanticMemory", "q_t": "consolidation_quality",
    "sigma": "CRAMConfig.sigma", "q_hat_t": "Router.familiarity",
    "q_threshold": "CRAMConfig.q_threshold", "router": "Router + sample_routes",
    "L_cons": "cram_objective consolidation term", "replay": "CRAMConfig.replay_rate",
}


def build_model(kind: str, cfg: CRAMConfig, obs_dim: int, n_keys: int, n_values: int):
    """CRAM (``kind="cram"``), the dense Transformer (``"transformer"``) or a baseline by name.

    Examples
    --------
    >>> type(build_model("transformer", CRAMConfig(d_model=8, n_heads=2), 2, 4, 4)).__name__
    'DenseTransformer'
    """
    if kind == "cram":
        return CRAM(cfg, obs_dim, n_keys, n_values)
    if kind == "transformer":
        return DenseTransformer(cfg, obs_dim, n_keys, n_values)
    from cramcog.model.baselines import BASELINE_KINDS, build_baseline

    if kind in BASELINE_KINDS:
        return build_baseline(kind, cfg, obs_dim, n_keys, n_values)
    raise ValueError(f"unknown model kind {kind!r}; use 'cram', 'transformer' or one of "
                     f"{BASELINE_KINDS}")


__all__ = [
    "CRAM", "CRAMConfig", "CRAMLayer", "CTODEMemory", "DenseTransformer", "EPISODIC",
    "EpisodicMemory", "EventEmbedding", "GLOSSARY", "LayerTrace", "ModelOutput", "Router",
    "SEMANTIC", "SelectiveSSMMemory", "SemanticMemory", "TIERS", "TaskHeads", "WORKING",
    "build_model", "consolidation_quality", "cram_objective", "task_losses",
]
