"""Baselines of issue 4 section 1 that are not plain CRAM flags, built from CRAM's own modules.

Same embedding, working memory, episodic attention, heads, counters and training loop as CRAM, so
that a comparison changes one thing at a time:

=================  ================================================================================
``static_hybrid``   working memory everywhere, attention at EVERY token of fixed layers
                    (``attn_layer_idx`` as in mamba-ssm / Jamba; default: the odd layers 1, 3, ...)
``working_only``    working memory alone: no attention, no semantic memory
``seqboat_like``    SeqBoat-style learned sparse activation: the router picks working or episodic
                    per token (the semantic tier is masked out), no consolidation, no replay, no
                    epsilon exploration (CRAM's would draw the semantic tier too)
``mod_like``        Mixture-of-Depths-style FIXED capacity: per layer, a token attends when its
                    router score ranks in the top ``capacity`` of the last ``capacity_window``
                    scores (a causal top-k); the attention output is scaled by sigmoid(score) so
                    the router learns from the task loss, as in MoD. No consolidation, no replay.
                    The same attention warm-up as CRAM: every token attends (capacity 1) and
                    its attention output is added in full, not scaled by the router, until
                    held-out novel accuracy passes ``warmup_novel_accuracy``; then the fixed
                    capacity and the router weight apply (``MoDLike.attention_warmup``, set by
                    the training loop)
=================  ================================================================================

The dense Transformer (``cramcog.model.DenseTransformer``), "CRAM without consolidation"
(``CRAMConfig.consolidation=False``) and "CRAM without the attention cost"
(``TrainConfig.attention_cost=0``) need no code here.

Why a causal top-k for the MoD-like baseline: MoD's per-sequence top-k looks at future tokens'
scores, so a token's route (and output) would depend on the future; every model here is causal.
The trailing-window rank keeps the capacity fixed on average (exactly ``capacity`` for scores
that do not trend) while deciding from the past only.

Examples
--------
>>> import torch
>>> from cramcog.configs import CRAMConfig
>>> from cramcog.model.baselines import build_baseline
>>> cfg = CRAMConfig(d_model=16, n_heads=2, semantic_hidden=8)
>>> model = build_baseline("working_only", cfg, obs_dim=3, n_keys=10, n_values=6)
>>> B, N = 2, 12
>>> batch = {"kind": torch.zeros(B, N, dtype=torch.long), "obs": torch.randn(B, N, 3),
...          "key": torch.zeros(B, N, dtype=torch.long),
...          "value": torch.zeros(B, N, dtype=torch.long), "dt": torch.rand(B, N)}
>>> out = model(batch)
>>> [t.attention_flops for t in out.layers]
[0.0, 0.0]
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn as nn
import torch.nn.functional as F

from cramcog.model import _ops
from cramcog.model.cram import CRAM, CRAMLayer, LayerTrace
from cramcog.model.router import EPISODIC, SEMANTIC, WORKING, Router

BASELINE_KINDS = ("static_hybrid", "working_only", "seqboat_like", "mod_like")
MOD_CAPACITY = 0.05         # MoD-like: fraction of tokens that attend (the SRCD query rate)
MOD_CAPACITY_WINDOW = 128   # MoD-like: trailing window of the causal top-k, in tokens


class _FixedRoutes(CRAM):
    """CRAM whose routes are fixed per layer (the router is not consulted)."""

    def layer_tiers(self) -> list[int]:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, batch: dict, *, sample: bool | None = None,
                generator: torch.Generator | None = None, route_override=None, intervention=None):
        if route_override is None:
            B, N = batch["dt"].shape
            tiers = torch.tensor(self.layer_tiers(), dtype=torch.int64,
                                 device=batch["dt"].device)                        # (L,)
            route_override = tiers[:, None, None].expand(len(tiers), B, N)        # (L, B, N)
        return super().forward(batch, sample=sample, generator=generator,
                               route_override=route_override, intervention=intervention)


class StaticHybrid(_FixedRoutes):
    """Working memory everywhere plus attention at every token of the layers ``attn_layer_idx``.

    Args:
        cfg: :class:`cramcog.configs.CRAMConfig`.
        obs_dim, n_keys, n_values: the task's input sizes.
        attn_layer_idx: layers with attention (default: the odd layers; layer 0 if only one).
    """

    def __init__(self, cfg, obs_dim: int, n_keys: int, n_values: int,
                 attn_layer_idx: tuple[int, ...] | None = None):
        super().__init__(cfg, obs_dim, n_keys, n_values)
        L = cfg.n_layers
        idx = (tuple(range(1, L, 2)) or (0,)) if attn_layer_idx is None \
            else tuple(attn_layer_idx)
        bad = [i for i in idx if not (isinstance(i, int) and 0 <= i < L)]
        if bad or not idx:
            raise ValueError(f"attn_layer_idx must be layer indices in [0, {L}), got {idx!r}")
        self.attn_layer_idx = idx

    def layer_tiers(self) -> list[int]:
        return [EPISODIC if i in self.attn_layer_idx else WORKING
                for i in range(self.cfg.n_layers)]


class WorkingOnly(_FixedRoutes):
    """Working memory alone: every token of every layer takes the working route."""

    def layer_tiers(self) -> list[int]:
        return [WORKING] * self.cfg.n_layers


class TwoTierRouter(Router):
    """CRAM's router with the semantic tier masked out: working or episodic only."""

    def forward(self, z: torch.Tensor):
        logits, q_hat = super().forward(z)                                   # (B, N, 3), (B, N)
        masked = torch.full_like(logits[..., SEMANTIC:], -1e4)               # never sampled
        return torch.cat([logits[..., :SEMANTIC], masked], -1), q_hat


def _no_replay(cfg):
    """A copy of cfg for a baseline that does not consolidate: no replay, no consolidation, and
    no epsilon exploration and no semantic probes (CRAM's explore the semantic tier; these
    baselines explore through their sampled routes only)."""
    changes = {"replay_rate": 0.0, "consolidation": False, "explore_rate": 0.0, "probe_rate": 0.0}
    return dataclasses.replace(cfg, **changes)


class SeqBoatLike(CRAM):
    """Learned sparse activation of attention (SeqBoat-like): a two-way Gumbel router over
    {working, episodic}, trained by the same router objective as CRAM; no semantic memory, no
    consolidation, no replay."""

    def __init__(self, cfg, obs_dim: int, n_keys: int, n_values: int):
        super().__init__(_no_replay(cfg), obs_dim, n_keys, n_values)
        for layer in self.layers:
            layer.router = TwoTierRouter(self.cfg)


def causal_topk_mask(score: torch.Tensor, capacity: float, window: int) -> torch.Tensor:
    """Tokens whose score ranks in the top ``ceil(capacity * w_t)`` of their trailing window,
    where ``w_t = min(t + 1, window)`` tokens compete (so the first tokens of a sequence are not
    all selected just because they have few rivals).

    Args:
        score: (B, N) router scores.
        capacity: fraction of tokens to select, in (0, 1].
        window: trailing window length W (token t competes with t-W+1..t).

    Returns:
        (B, N) bool. Ties go to the earlier token, so equal scores do not select everything.

    Examples
    --------
    >>> import torch
    >>> s = torch.tensor([[0.0, 5.0, 1.0, 9.0, 2.0, 3.0]])
    >>> causal_topk_mask(s, capacity=0.5, window=2).int().tolist()
    [[1, 1, 0, 1, 0, 1]]
    >>> causal_topk_mask(torch.randn(4, 2048, generator=torch.Generator().manual_seed(0)),
    ...                  capacity=0.05, window=128).float().mean().item() < 0.06
    True
    """
    if not 0 < capacity <= 1:
        raise ValueError(f"capacity must be in (0, 1], got {capacity}")
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    B, N = score.shape
    rivals = torch.arange(1, N + 1, device=score.device).clamp(max=window)     # (N,) w_t
    k = torch.ceil(capacity * rivals.to(score.dtype)).clamp(min=1)            # (N,)
    s = score.detach()
    padded = F.pad(s, (window - 1, 0), value=float("-inf"))                  # (B, N + W - 1)
    win = padded.unfold(-1, window, 1)                                       # (B, N, W)
    me = s[..., None]                                                        # (B, N, 1)
    earlier = torch.arange(window, device=s.device) < window - 1             # (W,) j < t
    rank = (win > me).sum(-1) + ((win == me) & earlier).sum(-1)              # (B, N)
    return rank < k


class FixedCapacityLayer(CRAMLayer):
    """A CRAM layer whose attention runs on a fixed-capacity causal top-k of router scores."""

    def __init__(self, cfg, capacity: float, window: int):
        super().__init__(cfg)
        self.capacity, self.window = capacity, window
        self.attention_warmup = False   # True: every token attends (the attention warm-up)
        # symmetric zero init would tie every score: start from small random projections
        nn.init.normal_(self.router.proj.weight, std=0.02)

    def forward(self, x, dtau, *, sample: bool, generator=None, route_override=None,
                intervention=None):
        cfg = self.cfg
        B, N, d = x.shape
        h, z, logits, q_hat = self.before_attention(x, dtau, intervention)
        score = logits[..., EPISODIC] - logits[..., WORKING]                  # (B, N)
        if route_override is not None:
            routed = route_override.to(score.device) == EPISODIC
        elif self.attention_warmup:
            routed = torch.ones_like(score, dtype=torch.bool)                 # capacity 1
        else:
            routed = causal_topk_mask(score, self.capacity, self.window)      # (B, N)
        if intervention is not None and intervention.skip_attention is not None:
            routed = routed & ~intervention.skip_attention.to(routed.device)
        route = torch.where(routed, EPISODIC, WORKING)                        # (B, N) int64
        # Bernoulli log-prob of the decision: the REINFORCE term of the shared objective
        logp = torch.where(routed, F.logsigmoid(score), F.logsigmoid(-score))
        epi_out, (bi, pos), r_e, flops = self.episodic(z, routed)
        # MoD's router weight; in the warm-up the output is added in full, as in CRAM, whose
        # router decides a route but never scales what attention returns. (Gated from step 0,
        # the weight at the queries fell to ~0.4 before attention had learned anything, and
        # novel retrieval was still at chance after 600 steps, while CRAM learns it by ~300.)
        gate = 1.0 if self.attention_warmup else torch.sigmoid(score)[..., None]
        out = self.finish(x, h + epi_out * gate, intervention)
        # no semantic memory is used: its quality is 0 wherever attention ran (M,), no teacher
        none = r_e.new_zeros(bi.numel())
        trace = LayerTrace(route=route, logp=logp, replay=torch.zeros_like(routed), q_hat=q_hat,
                           q=none, cons_err=none, attended=(bi, pos), attention_flops=flops,
                           dense_flops=B * _ops.dense_causal_flops(N, cfg.window, cfg.n_heads,
                                                                   cfg.head_dim),
                           executed=self.episodic.executed(routed, bi.numel()))
        return out, trace


class MoDLike(CRAM):
    """Mixture-of-Depths-like fixed-capacity routing of attention (see the module docstring).

    Args:
        cfg: :class:`cramcog.configs.CRAMConfig`.
        obs_dim, n_keys, n_values: the task's input sizes.
        capacity: fraction of tokens that attend per layer (default :data:`MOD_CAPACITY`).
        capacity_window: trailing window of the causal top-k (default
            :data:`MOD_CAPACITY_WINDOW`).
    """

    def __init__(self, cfg, obs_dim: int, n_keys: int, n_values: int,
                 capacity: float = MOD_CAPACITY, capacity_window: int = MOD_CAPACITY_WINDOW):
        super().__init__(_no_replay(cfg), obs_dim, n_keys, n_values)
        if not 0 < capacity <= 1:
            raise ValueError(f"capacity must be in (0, 1], got {capacity}")
        if not isinstance(capacity_window, int) or capacity_window < 1:
            raise ValueError(f"capacity_window must be a positive int, got {capacity_window!r}")
        self.capacity, self.capacity_window = capacity, capacity_window
        self.layers = nn.ModuleList(FixedCapacityLayer(self.cfg, capacity, capacity_window)
                                    for _ in range(self.cfg.n_layers))

    @property
    def attention_warmup(self) -> bool:
        """True while every token attends (the attention warm-up CRAM also gets); the training
        loop sets it from its warm-up state, and ``cramcog.train.load_model`` as the run ended
        (True only for a run whose warm-up never ended)."""
        return all(layer.attention_warmup for layer in self.layers)

    @attention_warmup.setter
    def attention_warmup(self, on: bool) -> None:
        for layer in self.layers:
            layer.attention_warmup = bool(on)


_BUILDERS = {"static_hybrid": StaticHybrid, "working_only": WorkingOnly,
             "seqboat_like": SeqBoatLike, "mod_like": MoDLike}


def build_baseline(kind: str, cfg, obs_dim: int, n_keys: int, n_values: int, **options):
    """A baseline model by name (:data:`BASELINE_KINDS`); ``options`` go to its constructor.

    Examples
    --------
    >>> from cramcog.configs import CRAMConfig
    >>> m = build_baseline("static_hybrid", CRAMConfig(d_model=8, n_heads=2, n_layers=4), 2, 4, 4)
    >>> m.attn_layer_idx
    (1, 3)
    """
    if kind not in _BUILDERS:
        raise ValueError(f"unknown baseline {kind!r}; choose one of {BASELINE_KINDS}")
    return _BUILDERS[kind](cfg, obs_dim, n_keys, n_values, **options)
