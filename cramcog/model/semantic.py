"""Semantic memory f_sem and the consolidation quality q.

f_sem is a low-rank MLP: W_in (d -> m), GELU, then an output map factorised through rank r
(m -> r -> d); the paper's rank is d/16. It learns to reproduce the episodic output r_E on tokens
where attention ran (the consolidation loss); once it does, those tokens can skip attention.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class SemanticMemory(nn.Module):
    """f_sem(h) = U V GELU(W_in h), with V (m -> r) and U (r -> d) the rank-r output map.

    Examples
    --------
    >>> import torch
    >>> from cramcog.configs import CRAMConfig
    >>> f = SemanticMemory(CRAMConfig(d_model=32, n_heads=2, semantic_hidden=16))
    >>> f(torch.randn(4, 32)).shape, f.rank
    (torch.Size([4, 32]), 2)
    """

    def __init__(self, cfg):
        super().__init__()
        self.rank = cfg.rank
        self.w_in = nn.Linear(cfg.d_model, cfg.semantic_hidden)
        self.v = nn.Linear(cfg.semantic_hidden, self.rank, bias=False)
        self.u = nn.Linear(self.rank, cfg.d_model)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.u(self.v(F.gelu(self.w_in(h))))


def consolidation_error(f_sem_out: torch.Tensor, r_e: torch.Tensor) -> torch.Tensor:
    """Per-token squared error mean_c (f_sem(h) - sg(r_E))^2, shape (M,); r_E is detached.

    The mean over channels (not the sum) keeps sigma independent of the width d.
    """
    return ((f_sem_out - r_e.detach()) ** 2).mean(-1)


def consolidation_quality(err: torch.Tensor, r_e: torch.Tensor, sigma: float) -> torch.Tensor:
    """q = exp(-err / (sigma^2 mean_c r_E^2)) in (0, 1]; q near 1: f_sem reproduces attention.

    The error is measured relative to the size of r_E (mean over channels of r_E^2), so sigma is
    a fraction of r_E's RMS and q does not drift as attention outputs grow or shrink in training.

    Examples
    --------
    >>> import torch
    >>> r = torch.ones(2, 4)
    >>> consolidation_quality(torch.tensor([0.0, 1.0]), r, sigma=1.0)
    tensor([1.0000, 0.3679])
    """
    scale = (r_e.detach() ** 2).mean(-1).clamp_min(1e-8)
    return torch.exp(-err / (sigma ** 2 * scale))
