"""The CRAM training objective: task losses + consolidation + familiarity + router auxiliary.

Router signal (docs/DESIGN.md, Router signal: plain straight-through Gumbel with a linear cost failed): a
REINFORCE-style auxiliary. For layer l and token t,

    R_lt = -(token task loss_t) - c_l * [route_lt = episodic] - lambda * cost(route_lt, t)
    A_lt = R_lt - mean of R over the tokens of the same category in the batch (the baseline)
    L_router = sum over categories of mean_t( -A_lt * log pi(route_lt) )

where c_l is ``attention_cost`` only while the cost is switched on (after the attention warm-up)
AND layer l's attention fraction in the batch exceeds the hinge target (budget_factor x floor),
and lambda is ``compute_cost`` (also only after the warm-up): every tier pays what it executes,
cost(tier, t) = its FLOPs at position t / a dense Transformer layer's FLOPs per token
(:func:`cramcog.model.compute.tier_costs`: working 0, episodic grows with the position, semantic
by f_sem's shape). So a token takes f_sem (or attention) only where that lowers its task loss by
more than it costs.
Replay tokens are forced, not sampled, so they are left out of L_router. With
``router_loss_in_warmup=False`` L_router is 0 until the warm-up ends (the routes keep their
initial attention bias while attention learns retrieval). Categories are the SRCD
token categories (observation, binding, recurring query, novel query): a baseline only, never an
input of the model.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from cramcog.model.compute import tier_costs
from cramcog.model.embedding import task_losses
from cramcog.model.router import EPISODIC

N_CATEGORIES = 4


def _bce(p: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of q_hat in float32 with autocast off (CUDA autocast refuses it:
    unsafe in half precision); unchanged numbers without autocast."""
    with torch.autocast(p.device.type, enabled=False):
        return F.binary_cross_entropy(p.float().clamp(1e-6, 1 - 1e-6), target.float())


def router_loss(trace, reward_base: torch.Tensor, category: torch.Tensor, cost):
    """REINFORCE loss for one layer; reward_base (B, N) = -token loss (no graph); cost: a float
    charged to the episodic route, or a (B, N) tensor charged to each token as routed."""
    policy = ~trace.replay                                                  # (B, N)
    if isinstance(cost, torch.Tensor):
        reward = reward_base - cost
    else:
        reward = reward_base - cost * ((trace.route == EPISODIC) & policy).float()  # (B, N)
    loss = reward.new_zeros(())
    for c in range(N_CATEGORIES):
        sel = policy & (category == c)
        if bool(sel.any()):
            adv = reward[sel] - reward[sel].mean()
            loss = loss - (adv * trace.logp[sel]).mean()
    return loss


def compute_cost_table(cfg, seq_len: int, device) -> torch.Tensor:
    """(N, 3) cost of each tier at each position (:func:`cramcog.model.compute.tier_costs`)."""
    costs = tier_costs(cfg, seq_len, positions=np.arange(seq_len))
    table = np.stack([np.full(seq_len, costs["working"]), costs["episodic"],
                      np.full(seq_len, costs["semantic"])], -1)
    return torch.as_tensor(table, dtype=torch.float32, device=device)


def cram_objective(out, batch: dict, tcfg, *, cost_on: bool, floor: float) -> tuple:
    """Total loss and a dict of its (detached, float) parts.

    Args:
        out: :class:`cramcog.model.cram.ModelOutput` of a sampled (training) forward pass.
        batch: SRCD tensors, including target, dyn_target, dyn_mask and category.
        tcfg: :class:`cramcog.configs.TrainConfig` (loss weights, cost, hinge target).
        cost_on: False during the attention warm-up.
        floor: the task's attention floor (novel-query fraction of tokens).
    """
    parts = task_losses(out.value_logits, out.dyn_pred, batch)
    total = parts["retrieval"] + tcfg.dynamics_weight * parts["dynamics"]
    logs = {"loss_retrieval": float(parts["retrieval"].detach()), "loss_dynamics": float(parts["dynamics"].detach())}
    if not out.layers:
        return total, logs
    token_loss = (parts["ce_token"] + tcfg.dynamics_weight * parts["mse_token"]).detach()
    target = tcfg.budget_factor * floor
    cons = fam = rout = total.new_zeros(())
    probe_target = getattr(tcfg, "familiarity_target", "distance") == "probe"
    compute = cost_on and tcfg.compute_cost > 0
    if compute:
        N = token_loss.shape[1]
        table = tcfg.compute_cost * compute_cost_table(tcfg.model, N, token_loss.device)  # (N, 3)
        positions = torch.arange(N, device=token_loss.device).expand_as(token_loss)
    for trace in out.layers:
        if trace.cons_err.numel():
            cons = cons + trace.cons_err.mean()
            if not probe_target:
                q_hat = trace.q_hat[trace.attended]
                fam = fam + _bce(q_hat, trace.q)
        if probe_target and trace.probe is not None and bool(trace.probe.any()):
            # did f_sem's answer work where it was tried: exp(-task loss) of the probed tokens
            q_hat = trace.q_hat[trace.probe]
            fam = fam + _bce(q_hat, torch.exp(-token_loss[trace.probe]))
        frac = float((trace.route == EPISODIC).float().mean())
        cost = tcfg.attention_cost if (cost_on and frac > target) else 0.0
        if compute:   # every tier its FLOPs, plus the attention hinge where it applies
            cost = table[positions, trace.route] + cost * (trace.route == EPISODIC).float()
        if cost_on or tcfg.router_loss_in_warmup:
            rout = rout + router_loss(trace, -token_loss, batch["category"], cost)
    L = len(out.layers)
    # the "without consolidation" model: f_sem learns only from the task loss when routed to
    cons_w = tcfg.consolidation_weight if tcfg.model.consolidation else 0.0
    total = total + (cons_w * cons + tcfg.familiarity_weight * fam + tcfg.router_weight * rout) / L
    logs.update(loss_consolidation=float(cons.detach()) / L, loss_familiarity=float(fam.detach()) / L,
                loss_router=float(rout.detach()) / L, loss_total=float(total.detach()))
    return total, logs

