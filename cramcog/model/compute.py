"""Executed compute: FLOPs per component of a CRAM forward pass, of the dense Transformer, and the
per-tier cost the router pays.

Counting rule (the one ``torch.utils.flop_counter.FlopCounterMode`` uses, so the two can be
compared): 2 FLOPs per multiply-add of a matrix product; element-wise work (norms, gates,
softmax, GELU) and embedding look-ups are not counted. One query-key pair of attention costs
4 * head_dim per head (score and value accumulation, :func:`cramcog.kernels.attention_flops`).

Per CRAM layer and token (d = d_model, m = semantic_hidden, r = rank, K = CT-ODE sub-steps,
G = its groups):

==============  =================================================  ============================
component       FLOPs                                              runs on
==============  =================================================  ============================
working         W2 2d^2 + W1 K 2d^2/G + W_out 2d^2 (CT-ODE)        every token
router          W_r 2*3d + familiarity 2d^2 + 2d                   every token
attention       K,V 4d^2 (the buffer) + Q,O 4d^2 + 4 d keys        K,V every token; the rest
                                                                   where attention executed
semantic        2dm + 2mr + 2rd                                    semantic route + teacher rows
mlp             4 d (mlp_ratio d)                                  every token
==============  =================================================  ============================

plus the embedding (obs and gap projections) and the task heads once per token. The dense
Transformer of the same width (``DenseTransformer``) runs QKV 6d^2, O 2d^2, causal attention and an
MLP of hidden 4d in every layer.

Examples
--------
>>> from cramcog.configs import CRAMConfig
>>> cfg = CRAMConfig(d_model=64, n_heads=2, semantic_hidden=128, semantic_rank=16)
>>> {tier: round(cost, 3) for tier, cost in tier_costs(cfg, seq_len=256).items()}
{'working': 0.0, 'episodic': 0.376, 'semantic': 0.172}
"""
from __future__ import annotations

import numpy as np

from cramcog.kernels.flops import dense_causal_flops

COMPONENTS = ("embedding", "working", "router", "attention", "semantic", "mlp", "heads")


def _linear(n_in: int, n_out: int) -> float:
    return 2.0 * n_in * n_out


def working_flops(cfg) -> float:
    """Working-memory FLOPs per token (runs on every token)."""
    d = cfg.d_model
    if cfg.working_memory == "ct_ode":
        return 2 * _linear(d, d) + cfg.n_substeps * _linear(d // cfg.wm_groups, d)
    # selective SSM: input, delta, (B, C) and output projections, plus the state's contraction
    # with C (its update is element-wise, uncounted by the rule above)
    return 3 * _linear(d, d) + _linear(d, 2 * cfg.ssm_state) + 2.0 * d * cfg.ssm_state


def router_flops(cfg) -> float:
    """Router FLOPs per token: tier logits and the familiarity head q_hat."""
    d = cfg.d_model
    return _linear(d, 3) + _linear(d, d) + _linear(d, 1)


def semantic_flops(cfg) -> float:
    """FLOPs of one f_sem evaluation (d -> m -> r -> d)."""
    return _linear(cfg.d_model, cfg.semantic_hidden) + _linear(cfg.semantic_hidden, cfg.rank) \
        + _linear(cfg.rank, cfg.d_model)


def mlp_flops(cfg) -> float:
    """The per-layer channel MLP's FLOPs per token (0 without one)."""
    return 2 * _linear(cfg.d_model, cfg.mlp_ratio * cfg.d_model)


def io_flops(d: int, obs_dim: int, n_values: int) -> dict[str, float]:
    """Embedding and task-head FLOPs per token (shared by CRAM and the Transformer)."""
    return {"embedding": _linear(obs_dim, d) + _linear(2, d),
            "heads": _linear(d, n_values + 1) + _linear(d, obs_dim)}


def transformer_layer_flops(cfg, seq_len: int) -> dict[str, float]:
    """One dense Transformer layer's FLOPs per token: attention (QKV, O and causal attention
    averaged over the positions of a sequence of ``seq_len``) and its 4d MLP."""
    d = cfg.d_model
    causal = dense_causal_flops(seq_len, cfg.window, cfg.n_heads, cfg.head_dim) / seq_len
    return {"attention": _linear(d, 3 * d) + _linear(d, d) + causal,
            "mlp": 2 * _linear(d, 4 * d)}


def transformer_flops_per_token(cfg, seq_len: int, obs_dim: int, n_values: int) -> dict:
    """FLOPs per token of the dense Transformer of the same width and depth, by component.

    Attention is averaged over the positions of a sequence of ``seq_len`` (causal, ``cfg.window``).

    Examples
    --------
    >>> from cramcog.configs import CRAMConfig
    >>> f = transformer_flops_per_token(CRAMConfig(d_model=8, n_heads=2, n_layers=1), 4, 3, 5)
    >>> f["attention"], f["mlp"]
    (592.0, 1024.0)
    """
    out = {c: 0.0 for c in COMPONENTS}
    out.update(io_flops(cfg.d_model, obs_dim, n_values))
    for c, v in transformer_layer_flops(cfg, seq_len).items():
        out[c] = cfg.n_layers * v
    return out


def tier_costs(cfg, seq_len: int, positions=None) -> dict:
    """What each route adds to a layer's compute for one token, as a share of a dense Transformer
    layer's FLOPs per token (mean over a sequence of ``seq_len``): the router's cost unit.

    working: 0 (working memory runs on every token whatever the route); episodic: the query and
    output projections plus attention over the token's keys; semantic: one f_sem evaluation.
    ``positions`` (array of int): per-token episodic costs at those positions instead of the
    sequence mean.
    """
    d = cfg.d_model
    unit = sum(transformer_layer_flops(cfg, seq_len).values())
    if positions is None:
        keys = dense_causal_flops(seq_len, cfg.window, cfg.n_heads, cfg.head_dim) / seq_len
    else:
        keys = 4.0 * d * (np.asarray(positions) + 1)
        if cfg.window is not None:
            keys = np.minimum(keys, 4.0 * d * cfg.window)
    return {"working": 0.0, "episodic": (2 * _linear(d, d) + keys) / unit,
            "semantic": semantic_flops(cfg) / unit}


def executed_flops(cfg, traces, n_tokens: int, obs_dim: int, n_values: int) -> dict:
    """FLOPs a CRAM forward pass executed, by component, from its layer traces.

    Args:
        cfg: the model's :class:`cramcog.configs.CRAMConfig`.
        traces: the ``LayerTrace`` list of the forward pass.
        n_tokens: B * N tokens in the batch.

    Returns:
        {component: FLOPs} summed over layers and tokens (divide by ``n_tokens`` for per token).
    """
    d = cfg.d_model
    out = {c: 0.0 for c in COMPONENTS}
    out.update({k: v * n_tokens for k, v in io_flops(d, obs_dim, n_values).items()})
    for t in traces:
        n_exec = float(t.executed.sum())
        out["working"] += working_flops(cfg) * n_tokens
        out["router"] += router_flops(cfg) * n_tokens
        out["attention"] += (_linear(d, 2 * d) * n_tokens + 2 * _linear(d, d) * n_exec
                             + t.attention_flops)
        out["semantic"] += semantic_flops(cfg) * t.semantic_rows
        out["mlp"] += mlp_flops(cfg) * n_tokens
    return out
