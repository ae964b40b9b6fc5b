"""Episodic memory: causal attention over the bounded key-value buffer, for routed tokens only.

Keys and values are written for every token (the buffer); queries exist only for the tokens the
router sends here. Sparse path: gather the routed queries, attend with
:func:`cramcog.kernels.routed_attention`, scatter back. Dense path (only when more than
``dense_threshold`` of the tokens are routed, e.g. during the attention warm-up): one causal SDPA
over all positions. The dense path computes attention for EVERY token, routed or not (the
unrouted ones' outputs are discarded), so it is counted as every token executing attention:
:meth:`EpisodicMemory.executed` says which tokens did, and its FLOPs are the dense FLOPs.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from cramcog.model import _ops


def causal_window_mask(N: int, window: int | None, device) -> torch.Tensor | None:
    """Boolean (N, N) mask allowing keys ``i - window < j <= i``; None when window covers N."""
    if window is None or window >= N:
        return None
    i = torch.arange(N, device=device)
    return (i[None, :] <= i[:, None]) & (i[None, :] > i[:, None] - window)


class EpisodicMemory(nn.Module):
    """Multi-head attention r_E over the KV buffer for the routed tokens.

    Examples
    --------
    >>> import torch
    >>> from cramcog.configs import CRAMConfig
    >>> m = EpisodicMemory(CRAMConfig(d_model=8, n_heads=2))
    >>> routed = torch.zeros(1, 6, dtype=torch.bool); routed[0, 4] = True
    >>> out, (b, p), r_e, flops = m(torch.randn(1, 6, 8), routed)
    >>> out.shape, r_e.shape, p.tolist(), out[0, :4].abs().sum().item()
    (torch.Size([1, 6, 8]), torch.Size([1, 8]), [4], 0.0)
    """

    def __init__(self, cfg):
        super().__init__()
        d = cfg.d_model
        self.cfg = cfg
        self.q = nn.Linear(d, d, bias=False)
        self.kv = nn.Linear(d, 2 * d, bias=False)
        self.o = nn.Linear(d, d, bias=False)
        if cfg.tied_qk_init:
            # W_q = W_k at initialisation: q_t . k_j starts as a similarity of z_t and z_j, so a
            # query already leans toward the binding that shows its key (shortens the plateau
            # before retrieval is learned); they are trained independently afterwards
            with torch.no_grad():
                self.kv.weight[:d].copy_(self.q.weight.mul_(cfg.qk_init_gain))

    def uses_dense(self, n_routed: int, n_tokens: int) -> bool:
        """True when routing ``n_routed`` of ``n_tokens`` takes the dense path (more than
        ``dense_threshold`` of them routed). Counts, not the mask: callers already have them
        (a count read from a GPU tensor is a host sync)."""
        return n_routed > self.cfg.dense_threshold * n_tokens

    def executed(self, routed: torch.Tensor, n_routed: int | None = None) -> torch.Tensor:
        """(B, N) bool: the tokens that execute attention under this routing. All of them on the
        dense path (one SDPA over every position), else exactly the routed ones. ``n_routed``:
        ``routed.sum()`` if the caller has it.

        Examples
        --------
        >>> import torch
        >>> from cramcog.configs import CRAMConfig
        >>> m = EpisodicMemory(CRAMConfig(d_model=8, n_heads=2, dense_threshold=0.5))
        >>> m.executed(torch.tensor([[True, False, False, False]])).tolist()
        [[True, False, False, False]]
        >>> m.executed(torch.tensor([[True, True, True, False]])).tolist()
        [[True, True, True, True]]
        """
        m = int(routed.sum()) if n_routed is None else int(n_routed)
        return torch.ones_like(routed) if self.uses_dense(m, routed.numel()) else routed

    def forward(self, z: torch.Tensor, routed: torch.Tensor):
        """Args: z (B, N, d) layer input; routed (B, N) bool.

        Returns: out (B, N, d) with r_E at routed tokens and 0 elsewhere; (batch_idx, pos) (M,)
        of the routed tokens in (batch, position) order; r_E (M, d); executed attention FLOPs.
        """
        cfg = self.cfg
        B, N, d = z.shape
        H, Dh = cfg.n_heads, cfg.head_dim
        k, v = self.kv(z).view(B, N, 2, H, Dh).unbind(2)                       # (B, N, H, Dh) each
        batch_idx, pos = routed.nonzero(as_tuple=True)                          # (M,), row-major
        M = batch_idx.numel()
        if self.uses_dense(M, B * N):
            q = self.q(z).view(B, N, H, Dh).transpose(1, 2)                      # (B, H, N, Dh)
            mask = causal_window_mask(N, cfg.window, z.device)
            att = F.scaled_dot_product_attention(
                q, k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask,
                is_causal=mask is None)                                          # (B, H, N, Dh)
            r_all = self.o(att.transpose(1, 2).reshape(B, N, d))                 # (B, N, d)
            r_e = r_all[batch_idx, pos]                                          # (M, d)
            out = r_all * routed[..., None]
            flops = B * _ops.dense_causal_flops(N, cfg.window, H, Dh)
        else:
            q = self.q(z[batch_idx, pos]).view(M, H, Dh)                         # (M, H, Dh)
            att = _ops.routed_attention(q, k, v, batch_idx, pos, window=cfg.window)  # (M, H, Dh)
            r_e = self.o(att.reshape(M, d))                                      # (M, d)
            out = z.new_zeros(B, N, d).index_put((batch_idx, pos), r_e.to(z.dtype))  # autocast
            flops = _ops.attention_flops(pos, cfg.window, H, Dh) if M else 0.0
        return out, (batch_idx, pos), r_e, float(flops)
