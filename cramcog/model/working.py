"""Working memory: the paper's CT-ODE and a time-gap-aware selective SSM (one per CRAM layer).

Both read the time gap dtau_t between events, so they handle irregular sampling; both end in an
RMS-norm of the state (docs/DESIGN.md, RMS-norm: without it the slow channels grew with t, swamped the key
identity, and training diverged).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from cramcog.model import _ops


class CTODEMemory(nn.Module):
    """h(k+1) = h(k) + dt * sigmoid(g_t) * tanh(W1 h(k) + W2 x_t), g_t = W_tau log(1 + dtau_t).

    The K sub-steps over all tokens run fused in :func:`cramcog.kernels.ct_ode_scan`. Output:
    W_out RMSNorm(h_t).

    Examples
    --------
    >>> import torch
    >>> from cramcog.configs import CRAMConfig
    >>> wm = CTODEMemory(CRAMConfig(d_model=8, n_heads=2))
    >>> wm(torch.randn(2, 5, 8), torch.rand(2, 5)).shape
    torch.Size([2, 5, 8])
    """

    def __init__(self, cfg):
        super().__init__()
        d, G = cfg.d_model, cfg.wm_groups
        self.cfg = cfg
        self.w2 = nn.Linear(d, d)                                 # W2: input drive u_t
        self.w_tau = nn.Parameter(torch.ones(d))                  # W_tau (diagonal), per channel
        self.b_tau = nn.Parameter(torch.zeros(d))
        # W1 as G diagonal blocks; start near -I so the state leaks toward the drive (stable)
        cg = d // G
        self.w_rec = nn.Parameter(-torch.eye(cg).repeat(G, 1, 1) + 0.1 * torch.randn(G, cg, cg)
                                  / math.sqrt(cg))
        self.norm = nn.RMSNorm(d)
        self.out = nn.Linear(d, d)

    def forward(self, x: torch.Tensor, dtau: torch.Tensor) -> torch.Tensor:
        B, N, d = x.shape
        # the recurrence runs in float32 even under autocast (W1 near -I: bf16 would round away
        # its off-identity part); .float() is a no-op without autocast
        u = self.w2(x).float()                                                # (B, N, d)
        g = self.w_tau * torch.log1p(dtau.clamp_min(0))[..., None] + self.b_tau  # (B, N, d)
        h0 = x.new_zeros(B, d)
        h = _ops.ct_ode_scan(u, torch.sigmoid(g), self.w_rec, h0, self.cfg.n_substeps,
                             float(self.cfg.ode_dt))                          # (B, N, d)
        return self.out(self.norm(h))


class SelectiveSSMMemory(nn.Module):
    """A Mamba-style selective SSM whose step is scaled by the observed gap: delta_t * dtau_t.

    Discretisation exp(delta_t dtau_t A) makes the state decay over real elapsed time, so long
    gaps forget more. Runs :func:`cramcog.kernels.selective_scan` (mamba-ssm convention).

    Examples
    --------
    >>> import torch
    >>> from cramcog.configs import CRAMConfig
    >>> wm = SelectiveSSMMemory(CRAMConfig(d_model=8, n_heads=2, working_memory="ssm"))
    >>> wm(torch.randn(2, 5, 8), torch.rand(2, 5)).shape
    torch.Size([2, 5, 8])
    """

    def __init__(self, cfg):
        super().__init__()
        d, S = cfg.d_model, cfg.ssm_state
        self.inp = nn.Linear(d, d)
        self.delta = nn.Linear(d, d)
        self.bc = nn.Linear(d, 2 * S, bias=False)
        self.a_log = nn.Parameter(torch.log(torch.arange(1, S + 1).float()).repeat(d, 1))  # (d, S)
        self.d_skip = nn.Parameter(torch.ones(d))
        self.norm = nn.RMSNorm(d)
        self.out = nn.Linear(d, d)
        self.S = S

    def forward(self, x: torch.Tensor, dtau: torch.Tensor) -> torch.Tensor:
        # float32 scan even under autocast (.float() is a no-op without it)
        u = self.inp(x).float()                                               # (B, N, d)
        delta = F.softplus(self.delta(x).float()) * dtau.clamp_min(0)[..., None]  # (B, N, d)
        bm, cm = self.bc(x).float().split(self.S, dim=-1)                     # (B, N, S) each
        y = _ops.selective_scan(u.transpose(1, 2).contiguous(), delta.transpose(1, 2).contiguous(),
                                -torch.exp(self.a_log), bm.transpose(1, 2).contiguous(),
                                cm.transpose(1, 2).contiguous(), self.d_skip)  # (B, d, N)
        return self.out(self.norm(y.transpose(1, 2)))


def make_working_memory(cfg) -> nn.Module:
    """The working-memory module named by ``cfg.working_memory``."""
    return CTODEMemory(cfg) if cfg.working_memory == "ct_ode" else SelectiveSSMMemory(cfg)
