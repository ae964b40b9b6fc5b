"""The CRAM layer and model: working memory, then a routed choice of episodic or semantic memory.

Per layer (pre-norm residual):

    h   = x + WM(RMSNorm(x), dtau)                       working memory (always runs)
    z   = RMSNorm(h)                                      what the router sees
    route_t ~ Gumbel-softmax(Router(z_t, q_hat_t))        decided BEFORE attention
    out = h + [route=episodic] r_E + [route=semantic] f_sem(z)
    out = out + MLP(RMSNorm(out))

Only routed tokens execute attention (plus, in training, a small counted replay sample forced to
attention to give the consolidation loss a teacher on tokens that have left it), except on the
dense path (most tokens routed, e.g. in the attention warm-up), where every token executes it and
is counted so (``LayerTrace.executed``). The consolidation loss trains f_sem toward sg(r_E) where
attention ran.

:class:`Intervention` edits a forward pass for the causal tests (cramcog.analysis): tokens that
skip attention, f_sem outputs swapped between tokens or zeroed, and one site's output (f_sem,
working memory, the MLP or the whole layer) patched from another token or mean-ablated, in every
layer or in one. Training never uses it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from cramcog.model import _ops
from cramcog.model.embedding import EventEmbedding, TaskHeads
from cramcog.model.episodic import EpisodicMemory
from cramcog.model.router import EPISODIC, SEMANTIC, WORKING, Router, sample_routes
from cramcog.model.semantic import SemanticMemory, consolidation_error, consolidation_quality
from cramcog.model.working import make_working_memory


@dataclass
class LayerTrace:
    """What one CRAM layer did in one forward pass (tensors keep their graph where noted)."""
    route: torch.Tensor           # (B, N) int64 tier actually run (replay included as episodic)
    logp: torch.Tensor            # (B, N) log-prob of the router's sampled tier (with graph)
    replay: torch.Tensor          # (B, N) bool: forced to attention for teacher signal
    q_hat: torch.Tensor           # (B, N) familiarity head output (with graph)
    q: torch.Tensor               # (M,) consolidation quality where attention ran (no graph)
    cons_err: torch.Tensor        # (M,) mean_c (f_sem - sg r_E)^2 (graph into f_sem only)
    attended: tuple               # (batch_idx, pos) of the M tokens where attention ran
    attention_flops: float        # executed attention FLOPs
    dense_flops: float            # dense causal attention FLOPs over the same buffer
    probe: torch.Tensor | None = None  # (B, N) bool: attention-routed tokens probed on f_sem
    executed: torch.Tensor | None = None  # (B, N) bool: tokens that executed attention (all of
    #                                       them on the dense path; default route == episodic)
    semantic_rows: int = -1       # f_sem evaluations run (semantic route + consolidation
    #                               teacher rows; default: the semantic-route tokens)

    def __post_init__(self):
        if self.executed is None:
            self.executed = self.route == EPISODIC
        if self.semantic_rows < 0:
            self.semantic_rows = int((self.route == SEMANTIC).sum())


# the sites an Intervention can patch or mean-ablate, where they enter a CRAM layer:
#   h = x + working(norm(x)); out = h + r_E + semantic(z); out += mlp(norm(out)); layer = out - x
SITES = ("semantic", "working", "mlp", "layer")


@dataclass
class Intervention:
    """Causal edits of a forward pass (the causal tests; never training). All None: no edit.

    skip_attention: (B, N) bool, tokens whose route is moved from episodic to working memory (they
        execute no attention; other tokens keep their routes).
    semantic_source: (B, N) int64, for a token on the semantic route the flat index ``b * N + n``
        of the token whose f_sem output it receives instead of its own (-1: its own).
    semantic_zero: (B, N) bool, tokens on the semantic route whose f_sem output is replaced by 0.
    layer: the one layer where every edit applies (None: every layer).
    site: the output that ``site_source`` / ``site_mean`` edit, one of :data:`SITES`: "semantic"
        (f_sem, on semantic-route tokens only), "working" (working memory's output, before the
        router sees it), "mlp" (the MLP's output) or "layer" (all the layer adds to the residual
        stream at the token: working memory, attention or f_sem, MLP).
    site_source: (B, N) int64, the flat index of the token whose site output a token receives
        instead of its own (-1: its own); the source's output comes from the same forward pass,
        so it is the clean one when a single layer is edited.
    site_mean: (B, N) bool, tokens whose site output is replaced by its mean over these tokens
        (for "semantic", over those of them on the semantic route).
    """
    skip_attention: torch.Tensor | None = None
    semantic_source: torch.Tensor | None = None
    semantic_zero: torch.Tensor | None = None
    layer: int | None = None
    site: str | None = None
    site_source: torch.Tensor | None = None
    site_mean: torch.Tensor | None = None

    def __post_init__(self):
        if self.site is not None and self.site not in SITES:
            raise ValueError(f"Intervention.site = {self.site!r} is unknown; choose from {SITES}")
        if self.site is None and (self.site_source is not None or self.site_mean is not None):
            raise ValueError("Intervention.site_source / site_mean need a site (one of "
                             f"{SITES})")

    def applies(self, layer: int) -> bool:
        """Whether the edits apply in layer ``layer``."""
        return self.layer is None or self.layer == layer

    def edits(self, site: str) -> bool:
        """Whether this intervention edits the output of ``site``."""
        return self.site == site and (self.site_source is not None or self.site_mean is not None)

    def dense(self, site: str, value: torch.Tensor) -> torch.Tensor:
        """A site's output at every token (B, N, d), edited if the intervention targets ``site``."""
        if not self.edits(site):
            return value
        if self.site_source is not None:
            src = self.site_source.to(value.device)                           # (B, N)
            flat = value.reshape(-1, value.shape[-1])                         # (B * N, d)
            patched = flat[src.clamp(min=0)].reshape(value.shape)             # (B, N, d)
            value = torch.where((src >= 0)[..., None], patched, value)
        if self.site_mean is not None:
            m = self.site_mean.to(value.device)                               # (B, N)
            if bool(m.any()):
                value = torch.where(m[..., None], value[m].mean(0), value)
        return value

    def semantic(self, layer, z: torch.Tensor, sb: torch.Tensor, sp: torch.Tensor):
        """f_sem outputs (S, d) for the semantic-route tokens (sb, sp) of z (B, N, d), edited."""
        out = layer.semantic(z[sb, sp])                                       # (S, d)
        source = self.semantic_source
        if source is None and self.site == "semantic":
            source = self.site_source
        if source is not None:
            src = source.to(z.device)[sb, sp]                                 # (S,)
            swap = src >= 0
            if bool(swap.any()):
                flat = z.reshape(-1, z.shape[-1])                             # (B * N, d)
                out = torch.where(swap[:, None], layer.semantic(flat[src.clamp(min=0)]), out)
        if self.semantic_zero is not None:
            out = out * (~self.semantic_zero.to(z.device)[sb, sp])[:, None]
        if self.site == "semantic" and self.site_mean is not None:
            m = self.site_mean.to(z.device)[sb, sp]                           # (S,)
            if bool(m.any()):
                out = torch.where(m[:, None], out[m].mean(0), out)
        return out


@dataclass
class ModelOutput:
    value_logits: torch.Tensor    # (B, N, n_values + 1)
    dyn_pred: torch.Tensor        # (B, N, P)
    layers: list = field(default_factory=list)   # LayerTrace per layer (CRAM only)


class MLP(nn.Module):
    def __init__(self, d: int, hidden: int):
        super().__init__()
        self.up, self.down = nn.Linear(d, hidden), nn.Linear(hidden, d)

    def forward(self, x):
        return self.down(F.gelu(self.up(x)))


class CRAMLayer(nn.Module):
    """One CRAM layer (see the module docstring)."""

    def __init__(self, cfg):
        super().__init__()
        d = cfg.d_model
        self.cfg = cfg
        self.norm_wm = nn.RMSNorm(d)
        self.working = make_working_memory(cfg)
        self.norm_route = nn.RMSNorm(d)
        self.router = Router(cfg)
        self.episodic = EpisodicMemory(cfg)
        self.semantic = SemanticMemory(cfg)
        self.mlp = MLP(d, cfg.mlp_ratio * d) if cfg.mlp_ratio else None
        self.norm_mlp = nn.RMSNorm(d) if cfg.mlp_ratio else None

    def before_attention(self, x, dtau, intervention: Intervention | None = None):
        """Working memory, then the router's view and decision logits: all a route may depend
        on (honest routing: nothing here has seen attention). Baselines reuse it unchanged.
        ``intervention`` may edit the working-memory output (site "working").

        Returns h (B, N, d), z = RMSNorm(h) (B, N, d), logits (B, N, 3), q_hat (B, N).
        """
        wm = self.working(self.norm_wm(x), dtau)                              # (B, N, d)
        if intervention is not None:
            wm = intervention.dense("working", wm)
        h = x + wm                                                            # (B, N, d)
        z = self.norm_route(h)                                                # (B, N, d)
        logits, q_hat = self.router(z)                                        # (B, N, 3), (B, N)
        return h, z, logits, q_hat

    def finish(self, x, out, intervention: Intervention | None = None):
        """out + MLP(RMSNorm(out)) (B, N, d), with the intervention's "mlp" / "layer" site edits
        (the layer's contribution is out - x). Baselines reuse it."""
        if self.mlp is not None:
            m = self.mlp(self.norm_mlp(out))                                  # (B, N, d)
            out = out + (m if intervention is None else intervention.dense("mlp", m))
        if intervention is not None and intervention.edits("layer"):
            out = x + intervention.dense("layer", out - x)
        return out

    def forward(self, x, dtau, *, sample: bool, generator=None, route_override=None,
                intervention: Intervention | None = None):
        cfg = self.cfg
        B, N, d = x.shape
        h, z, logits, q_hat = self.before_attention(x, dtau, intervention)
        route, logp = sample_routes(logits, cfg.router_temperature, generator, sample)
        logp_all = torch.log_softmax(logits / cfg.router_temperature, -1)       # (B, N, 3)
        replay = torch.zeros_like(route, dtype=torch.bool)
        probe = torch.zeros_like(route, dtype=torch.bool)
        if route_override is not None:
            route = route_override.to(route.device, torch.int64)
        elif sample:
            draw = torch.rand((2, *route.shape), generator=generator, device=route.device)
            if cfg.explore_rate > 0:
                # epsilon exploration: a uniformly drawn tier, so that every tier keeps being
                # tried on every kind of token (its reward reaches the router: on-policy enough)
                tier = torch.randint(0, 3, route.shape, generator=generator, device=route.device)
                explore = draw[0] < cfg.explore_rate
                route = torch.where(explore, tier, route)
                logp = torch.where(explore, logp_all.gather(-1, route[..., None]).squeeze(-1),
                                   logp)
            if cfg.probe_rate > 0:
                # counterfactual probes: a few tokens the policy sent to attention try the semantic
                # route instead. Without them every recurring query of a batch takes the same
                # route, the per-category REINFORCE baseline cancels the attention cost and the
                # router never learns that f_sem would have answered. Probed whatever the router's
                # current odds (they can fall far below e^-30 in the warm-up), except where a
                # router masks the tier out (logit -1e4 or less, the two-tier baselines)
                can = (route == EPISODIC) & (logits[..., SEMANTIC].detach() > -1e3)      # (B, N)
                probe = can & (torch.rand(route.shape, generator=generator,
                                          device=route.device) < cfg.probe_rate)
                route = torch.where(probe, torch.full_like(route, SEMANTIC), route)
                logp = torch.where(probe, logp_all[..., SEMANTIC], logp)
            if cfg.replay_rate > 0:
                replay = (draw[1] < cfg.replay_rate) & (route != EPISODIC)
                route = torch.where(replay, torch.full_like(route, EPISODIC), route)
        if intervention is not None and intervention.skip_attention is not None:
            skip = intervention.skip_attention.to(route.device) & (route == EPISODIC)
            route = torch.where(skip, torch.full_like(route, WORKING), route)
        routed = route == EPISODIC
        epi_out, (bi, pos), r_e, flops = self.episodic(z, routed)
        sb, sp = (route == SEMANTIC).nonzero(as_tuple=True)                   # (S,) each
        out = h + epi_out
        if sb.numel():
            sem = self.semantic(z[sb, sp]) if intervention is None \
                else intervention.semantic(self, z, sb, sp)
            out = out.index_put((sb, sp), sem.to(out.dtype), accumulate=True)  # autocast
        # consolidation teacher: f_sem (its own weights only: z detached) vs sg(r_E)
        cons_err = consolidation_error(self.semantic(z[bi, pos].detach()), r_e)  # (M,)
        q = consolidation_quality(cons_err.detach(), r_e, cfg.sigma, cfg.q_reference)
        out = self.finish(x, out, intervention)
        trace = LayerTrace(route=route, logp=logp, replay=replay, probe=probe, q_hat=q_hat, q=q,
                           cons_err=cons_err, attended=(bi, pos), attention_flops=flops,
                           dense_flops=B * _ops.dense_causal_flops(N, cfg.window, cfg.n_heads,
                                                                   cfg.head_dim),
                           executed=self.episodic.executed(routed, bi.numel()),
                           semantic_rows=sb.numel() + bi.numel())
        return out, trace


class CRAM(nn.Module):
    """The CRAM network on SRCD events.

    Args:
        cfg: :class:`cramcog.configs.CRAMConfig`.
        obs_dim, n_keys, n_values: the task's input sizes.

    Examples
    --------
    >>> import torch
    >>> from cramcog.configs import CRAMConfig
    >>> model = CRAM(CRAMConfig(d_model=16, n_heads=2, semantic_hidden=8), 3, 10, 6)
    >>> B, N = 2, 12
    >>> batch = {"kind": torch.zeros(B, N, dtype=torch.long), "obs": torch.randn(B, N, 3),
    ...          "key": torch.zeros(B, N, dtype=torch.long),
    ...          "value": torch.zeros(B, N, dtype=torch.long), "dt": torch.rand(B, N)}
    >>> out = model(batch)
    >>> out.value_logits.shape, out.dyn_pred.shape, len(out.layers)
    (torch.Size([2, 12, 7]), torch.Size([2, 12, 3]), 2)
    """

    def __init__(self, cfg, obs_dim: int, n_keys: int, n_values: int):
        super().__init__()
        self.cfg = cfg
        self.embed = EventEmbedding(cfg.d_model, obs_dim, n_keys, n_values)
        self.layers = nn.ModuleList(CRAMLayer(cfg) for _ in range(cfg.n_layers))
        self.heads = TaskHeads(cfg.d_model, obs_dim, n_values)

    def forward(self, batch: dict, *, sample: bool | None = None,
                generator: torch.Generator | None = None, route_override=None,
                intervention: Intervention | None = None) -> ModelOutput:
        """Run the model.

        Args:
            batch: SRCD tensors (kind, obs, key, value, dt; (B, N[, P])).
            sample: draw routes (Gumbel) and replay tokens; defaults to ``self.training``.
                False takes the argmax route and draws no replay (inference).
            generator: torch.Generator for the routing noise (seeded runs).
            route_override: optional (L, B, N) tiers to force (tests and benchmarks).
            intervention: optional :class:`Intervention` (causal tests), applied in every layer
                or in its ``layer``.
        """
        sample = self.training if sample is None else sample
        x = self.embed(batch)
        traces = []
        for i, layer in enumerate(self.layers):
            ov = None if route_override is None else route_override[i]
            iv = intervention if intervention is not None and intervention.applies(i) else None
            x, trace = layer(x, batch["dt"], sample=sample, generator=generator, route_override=ov,
                             intervention=iv)
            traces.append(trace)
        value_logits, dyn_pred = self.heads(x)
        return ModelOutput(value_logits, dyn_pred, traces)
