"""The three-way Gumbel router and the familiarity head q_hat.

Honest routing: the router sees only what exists BEFORE attention runs, the working-memory
state z_t and a familiarity estimate q_hat_t (a prediction of the consolidation quality q_t, which
itself needs r_E and so cannot be an input). Tiers: 0 working (nothing added), 1 episodic
(attention), 2 semantic (f_sem).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

WORKING, EPISODIC, SEMANTIC = 0, 1, 2
TIERS = ("working", "episodic", "semantic")


class Router(nn.Module):
    """Logits over the three tiers from z_t, moved by familiarity q_hat.

    logits = W_r z + b;  lift = gain * max(0, q_hat - q_threshold) / (1 - q_thr.), and
    logits[semantic] += lift (``familiarity_lift="semantic"``) or logits[episodic] -= lift
    (``"attention"``: familiarity moves mass off attention only, not off the working route);
    q_hat = sigmoid(MLP(z)). The lift is one-sided: familiarity above the threshold favours the
    semantic route (``"semantic"``) or disfavours attention (``"attention"``), but low
    familiarity never forbids a route (that would stop the router from ever trying f_sem on a
    retrieval it has learned since). The episodic bias starts at ``episodic_init_bias`` (the attention
    warm-up: attention must learn retrieval before anything can be consolidated).

    Examples
    --------
    >>> import torch
    >>> from cramcog.configs import CRAMConfig
    >>> r = Router(CRAMConfig(d_model=8, n_heads=2))
    >>> logits, q_hat = r(torch.randn(2, 5, 8))
    >>> logits.shape, q_hat.shape
    (torch.Size([2, 5, 3]), torch.Size([2, 5]))
    """

    def __init__(self, cfg):
        super().__init__()
        d = cfg.d_model
        self.cfg = cfg
        self.proj = nn.Linear(d, 3)
        nn.init.zeros_(self.proj.weight)
        with torch.no_grad():
            self.proj.bias.copy_(torch.tensor([0.0, cfg.episodic_init_bias, 0.0]))
        self.familiarity = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, 1))

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q_hat = torch.sigmoid(self.familiarity(z).squeeze(-1))                # (B, N)
        lift = self.cfg.router_q_gain * torch.relu(q_hat.detach() - self.cfg.q_threshold) / (
            1.0 - self.cfg.q_threshold)
        if self.cfg.familiarity_lift == "attention":   # lower attention only: working vs
            logits = self.proj(z) - F.pad(lift[..., None], (EPISODIC, 1))       # semantic free
        else:                                           # raise f_sem over both other tiers
            logits = self.proj(z) + F.pad(lift[..., None], (SEMANTIC, 0))     # (B, N, 3)
        return logits, q_hat


def sample_routes(logits: torch.Tensor, temperature: float, generator: torch.Generator | None,
                  sample: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Routes (B, N) int64 and their log-probabilities (B, N).

    ``sample=True`` draws by the Gumbel-max trick, argmax(logits/tau + G), i.e. from
    softmax(logits/tau); ``sample=False`` takes the argmax (evaluation / inference).
    """
    scaled = logits / temperature
    logp = F.log_softmax(scaled, -1)                                          # (B, N, 3)
    if sample:
        u = torch.rand(scaled.shape, generator=generator, device=scaled.device)
        gumbel = -torch.log(-torch.log(u.clamp(1e-20, 1.0 - 1e-7)))
        route = (scaled.detach() + gumbel).argmax(-1)
    else:
        route = scaled.detach().argmax(-1)
    return route, logp.gather(-1, route[..., None]).squeeze(-1)
