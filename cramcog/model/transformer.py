"""The same-width dense Transformer baseline: the same event embedding and heads as CRAM, with
pre-norm causal multi-head attention (rotary positions) and an MLP in every layer.

Used for the Dynamics MSE comparison and the inference-speed benchmark.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from cramcog.model.cram import MLP, ModelOutput
from cramcog.model.embedding import EventEmbedding, TaskHeads
from cramcog.model.episodic import causal_window_mask


def rotary(x: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Rotary position embedding on (B, H, N, Dh) (Dh even), positions 0..N-1."""
    B, H, N, Dh = x.shape
    half = Dh // 2
    freq = base ** (-torch.arange(half, device=x.device, dtype=x.dtype) / half)   # (Dh/2,)
    ang = torch.arange(N, device=x.device, dtype=x.dtype)[:, None] * freq         # (N, Dh/2)
    cos, sin = ang.cos(), ang.sin()
    x1, x2 = x[..., :half], x[..., half:2 * half]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos, x[..., 2 * half:]], -1)


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg.d_model
        self.cfg = cfg
        self.norm1, self.norm2 = nn.RMSNorm(d), nn.RMSNorm(d)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.o = nn.Linear(d, d, bias=False)
        self.mlp = MLP(d, 4 * d)

    def forward(self, x):
        B, N, d = x.shape
        H, Dh = self.cfg.n_heads, self.cfg.head_dim
        q, k, v = self.qkv(self.norm1(x)).view(B, N, 3, H, Dh).permute(2, 0, 3, 1, 4)  # (B,H,N,Dh)
        mask = causal_window_mask(N, self.cfg.window, x.device)
        att = F.scaled_dot_product_attention(rotary(q), rotary(k), v, attn_mask=mask,
                                             is_causal=mask is None)          # (B, H, N, Dh)
        x = x + self.o(att.transpose(1, 2).reshape(B, N, d))
        return x + self.mlp(self.norm2(x))


class DenseTransformer(nn.Module):
    """Dense causal Transformer with CRAM's width, depth, heads, KV window, embedding and heads.

    Examples
    --------
    >>> import torch
    >>> from cramcog.configs import CRAMConfig
    >>> model = DenseTransformer(CRAMConfig(d_model=16, n_heads=2), 3, 10, 6)
    >>> batch = {"kind": torch.zeros(1, 5, dtype=torch.long), "obs": torch.randn(1, 5, 3),
    ...          "key": torch.zeros(1, 5, dtype=torch.long),
    ...          "value": torch.zeros(1, 5, dtype=torch.long), "dt": torch.rand(1, 5)}
    >>> model(batch).value_logits.shape
    torch.Size([1, 5, 7])
    """

    def __init__(self, cfg, obs_dim: int, n_keys: int, n_values: int):
        super().__init__()
        self.cfg = cfg
        self.embed = EventEmbedding(cfg.d_model, obs_dim, n_keys, n_values)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.heads = TaskHeads(cfg.d_model, obs_dim, n_values)

    def forward(self, batch: dict, **_ignored) -> ModelOutput:
        x = self.embed(batch)
        for block in self.blocks:
            x = block(x)
        value_logits, dyn_pred = self.heads(x)
        return ModelOutput(value_logits, dyn_pred, [])
