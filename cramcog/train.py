"""Training CRAM (or the dense Transformer baseline) on SRCD, writing a record as it goes.

``train(config)`` runs the loop: a seeded SRCD batch per step, the CRAM objective
(:func:`cramcog.model.cram_objective`), AdamW, periodic evaluation on held-out validation
sequences, checkpoints, and a final evaluation on the test split. Each step's data and routing
noise come from seeds derived from (config.seed, step), and checkpoints hold the model, optimiser
and schedule state, so a run killed mid-way and resumed writes the same record as an
uninterrupted one.

The attention warm-up (docs/DESIGN.md, Attention warm-up): the router starts biased toward attention and pays no attention
cost until held-out novel-query accuracy passes ``warmup_novel_accuracy``; then a hinge cost
applies to each layer whose attention fraction exceeds ``budget_factor x floor``. The MoD-like
baseline gets the same warm-up (every token attends until then, then its fixed capacity).

Per-pattern probes (:mod:`cramcog.analysis.probes`, ``probe_per_pattern`` > 0): at every
evaluation a fixed set of validation queries (every recurring pattern at least
``probe_per_pattern`` times, plus novel queries) records per query and layer whether attention
executed and which route was taken, and whether the answer was right; the training loop counts
each pattern's exposures (training queries so far). At the end, the causal test
(:mod:`cramcog.analysis.causal`) runs on the test split.

Counters are honest about the dense path: when most tokens are routed, one dense attention runs
over every token, and ``attention_fraction``, ``attended_fraction`` and the FLOPs count every
token as having executed attention (the router's decisions stay in ``route_fraction``).

Examples
--------
>>> from cramcog.train import train
>>> rec = train("tiny", progress=False)                      # doctest: +SKIP
>>> rec["attention_fraction"].dims                           # doctest: +SKIP
('step', 'layer')
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from cramcog import records
from cramcog.analysis.causal import CAUSAL_VARIABLES
from cramcog.analysis.probes import count_exposures
from cramcog.configs import ATTENTION_WARMUP_KINDS, TrainConfig, named_config
from cramcog.device import autocast, describe, generator, model_device, resolve_device
from cramcog.tasks.batch import CATEGORY_NAMES as CATEGORIES

QUERY_KINDS = ("overall", "recurring", "novel")
RECORD_FILE, CHECKPOINT_FILE = "record.nc", "checkpoint.pt"
_TRAIN, _VAL, _TEST, _NOISE, _PROBE = 1, 2, 3, 4, 5   # seed streams


def resolve_config(config: TrainConfig | str | dict) -> TrainConfig:
    """A TrainConfig from a config object, a named config ("tiny", "small", "paper") or a dict."""
    if isinstance(config, TrainConfig):
        return config
    if isinstance(config, str):
        return named_config(config)
    if isinstance(config, dict):
        return TrainConfig.from_dict(config)
    raise TypeError(f"config must be a TrainConfig, a config name or a dict, got "
                    f"{type(config).__name__}")


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def make_task(cfg: TrainConfig):
    """The SRCD task of a config (``cfg.task`` are SRCDConfig arguments)."""
    from cramcog.tasks import SRCD, SRCDConfig
    return SRCD(SRCDConfig(**cfg.task))


def task_sizes(task) -> dict[str, int]:
    """obs_dim, n_keys, n_values of a task (what the embedding needs)."""
    c = task.config
    probe = task.sample(1, split="train", seed=0)
    return {"obs_dim": int(probe.obs.shape[-1]), "n_keys": int(c.n_keys),
            "n_values": int(c.n_values)}


# ----------------------------------------------------------------------------- statistics

def layer_stats(trace, category, n_categories: int = 4) -> dict[str, Any]:
    """Route fractions (overall and per category x tier), executed attention (overall and per
    category), FLOPs ratio, q and replay of a layer.

    ``fractions`` is (working, attention, semantic): the working and semantic shares are router
    decisions, the attention share counts tokens that EXECUTED attention (all of them on the
    dense path). ``route_fraction`` holds the decisions per category, ``attended_fraction`` the
    executed attention per category.
    """
    import torch
    route = trace.route
    executed = trace.executed                                                 # (B, N)
    onehot = torch.nn.functional.one_hot(route, 3).float()                 # (B, N, 3)
    per_cat = np.zeros((n_categories, 3))
    att_per_cat = np.full(n_categories, np.nan)
    for c in range(n_categories):
        sel = category == c
        if bool(sel.any()):
            per_cat[c] = onehot[sel].mean(0).cpu().numpy()
            att_per_cat[c] = float(executed[sel].float().mean())
    frac = onehot.mean((0, 1)).cpu().numpy()
    frac[1] = float(executed.float().mean())
    # q where attention ran and q_hat everywhere, per token category: shows WHICH retrievals
    # f_sem has learned to reproduce
    q_cat = np.full(n_categories, np.nan)
    q_hat_cat = np.full(n_categories, np.nan)
    att_cat = category[trace.attended]
    for c in range(n_categories):
        sel = att_cat == c
        if bool(sel.any()):
            q_cat[c] = float(trace.q[sel].mean())
        sel = category == c
        if bool(sel.any()):
            q_hat_cat[c] = float(trace.q_hat.detach()[sel].mean())
    return {
        "q_by_category": q_cat, "q_hat_by_category": q_hat_cat,
        "fractions": frac, "route_fraction": per_cat, "attended_fraction": att_per_cat,
        "flops_ratio": trace.attention_flops / trace.dense_flops,
        "replay_fraction": float(trace.replay.float().mean()),
        "q_mean": float(trace.q.mean()) if trace.q.numel() else math.nan,
        "q_hat_mean": float(trace.q_hat.detach().mean()),
    }


def accuracy(value_logits, batch) -> dict[str, float]:
    """Retrieval accuracy overall, on recurring and on novel queries (NaN where none)."""
    pred = value_logits.argmax(-1)
    qk = batch["query_kind"]
    out = {}
    for name, sel in (("overall", qk > 0), ("recurring", qk == 1), ("novel", qk == 2)):
        n = int(sel.sum())
        out[name] = float((pred[sel] == batch["target"][sel]).float().mean()) if n else math.nan
    return out


def evaluate(model, task, cfg: TrainConfig, split: str, n_batches: int, stream: int) -> dict:
    """Held-out evaluation with argmax routes and no replay (inference behaviour).

    Returns accuracy per query kind, Dynamics MSE, and per-layer route statistics, each pooled
    over ``n_batches`` batches of ``cfg.eval_batch_size`` sequences drawn with fixed seeds.
    """
    import torch
    from cramcog.model import task_losses
    device = model_device(model)              # batches follow the model
    model.eval()
    correct = {k: 0.0 for k in QUERY_KINDS}
    count = {k: 0 for k in QUERY_KINDS}
    sq_err = n_dyn = 0.0
    layer_acc: list[list[dict]] = []
    flops: list[np.ndarray] = []
    with torch.no_grad():
        for i in range(n_batches):
            batch = task.sample(cfg.eval_batch_size, split=split,
                                seed=_seed(cfg.seed, stream, i)).to_torch(device)
            with autocast(device, cfg.autocast):
                out = model(batch, sample=False)
            pred = out.value_logits.argmax(-1)
            qk = batch["query_kind"]
            for name, sel in (("overall", qk > 0), ("recurring", qk == 1), ("novel", qk == 2)):
                correct[name] += float((pred[sel] == batch["target"][sel]).sum())
                count[name] += int(sel.sum())
            losses = task_losses(out.value_logits, out.dyn_pred, batch)
            sq_err += float(losses["mse_token"].sum())
            n_dyn += float(batch["dyn_mask"].sum())
            layer_acc.append([layer_stats(t, batch["category"]) for t in out.layers])
            flops.append(flops_per_token(model, out, batch))
    model.train()
    result = {"accuracy": {k: correct[k] / count[k] if count[k] else math.nan
                           for k in QUERY_KINDS},
              "dynamics_mse": sq_err / max(n_dyn, 1.0)}
    if flops:
        result["executed_flops"] = np.mean(flops, 0)
    if layer_acc and layer_acc[0]:
        L = len(layer_acc[0])
        result["fractions"] = np.mean([[b[l]["fractions"] for l in range(L)] for b in layer_acc], 0)
        result["route_fraction"] = np.mean(
            [[b[l]["route_fraction"] for l in range(L)] for b in layer_acc], 0)
        result["attended_fraction"] = np.nanmean(
            [[b[l]["attended_fraction"] for l in range(L)] for b in layer_acc], 0)
        result["flops_ratio"] = np.mean([[b[l]["flops_ratio"] for l in range(L)]
                                         for b in layer_acc], 0)
    return result


# ----------------------------------------------------------------------------- the record

# Every list the training history keeps, per logged step or per evaluation (checkpoints hold it)
HISTORY_KEYS = (
    "step", "loss", "loss_retrieval", "loss_dynamics", "loss_consolidation", "loss_familiarity",
    "loss_router", "cost_on", "train_acc_recurring", "train_acc_novel", "fractions",
    "route_fraction", "flops_ratio", "replay_fraction", "q_mean", "q_hat_mean", "q_by_category",
    "q_hat_by_category", "executed_flops", "eval_step", "eval_accuracy", "eval_dynamics_mse",
    "eval_fractions", "eval_route_fraction", "eval_flops_ratio", "attended_fraction",
    "eval_attended_fraction", "probe_attended", "probe_route", "probe_correct",
    "pattern_exposures")
LOSS_KEYS = ("loss_retrieval", "loss_dynamics", "loss_consolidation", "loss_familiarity",
             "loss_router")
# per-layer statistics of a step (layer_stats), one list entry per layer
LAYER_KEYS = ("fractions", "route_fraction", "flops_ratio", "replay_fraction", "q_mean",
              "q_hat_mean", "q_by_category", "q_hat_by_category", "attended_fraction")


def _empty_history() -> dict[str, list]:
    return {k: [] for k in HISTORY_KEYS}


def flops_per_token(model, result, batch) -> np.ndarray:
    """Executed FLOPs per token of one forward pass, by component (``compute.COMPONENTS``): the
    CRAM model's from its layer traces, a dense Transformer's from its shape."""
    from cramcog.model.compute import COMPONENTS, executed_flops, transformer_flops_per_token
    B, N = batch["kind"].shape
    obs_dim, n_values = batch["obs"].shape[-1], result.value_logits.shape[-1] - 1
    if result.layers:
        flops = executed_flops(model.cfg, result.layers, B * N, obs_dim, n_values)
        return np.array([flops[c] for c in COMPONENTS]) / (B * N)
    flops = transformer_flops_per_token(model.cfg, N, obs_dim, n_values)
    return np.array([flops[c] for c in COMPONENTS])


def step_statistics(result, batch, n_layers: int) -> list[dict]:
    """Per-layer route statistics of a forward pass (:func:`layer_stats`); the dense baseline's
    every token attends with dense FLOPs."""
    if result.layers:
        return [layer_stats(t, batch["category"]) for t in result.layers]
    return [{"fractions": np.array([0.0, 1.0, 0.0]),
             "route_fraction": np.tile([0.0, 1.0, 0.0], (4, 1)), "flops_ratio": 1.0,
             "replay_fraction": 0.0, "q_mean": math.nan, "q_hat_mean": math.nan,
             "q_by_category": np.full(4, math.nan), "q_hat_by_category": np.full(4, math.nan),
             "attended_fraction": np.ones(4)}] * n_layers


def make_optimizer(model, cfg: TrainConfig):
    """AdamW with three parameter groups and the linear learning-rate warm-up schedule.

    Separate step sizes: the router (a noisy REINFORCE signal) and f_sem (consolidation: how fast
    the weights absorb the recurring bindings, measured slow at the base rate).
    """
    import torch
    router_params = [p for n, p in model.named_parameters() if ".router.proj." in n]
    semantic_params = [p for n, p in model.named_parameters() if ".semantic." in n]
    special = {id(p) for p in router_params + semantic_params}
    groups = [{"params": [p for p in model.parameters() if id(p) not in special]}]
    if router_params:
        groups.append({"params": router_params, "lr": cfg.lr * cfg.router_lr_scale})
    if semantic_params:
        groups.append({"params": semantic_params, "lr": cfg.lr * cfg.semantic_lr_scale})
    opt = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, cfg.lr_warmup_steps)))
    return opt, sched


def train_step(model, opt, sched, batch, cfg: TrainConfig, *, cost_on: bool, floor: float,
               generator=None, device=None):
    """One optimiser step: the sampled forward pass with routing noise, the CRAM objective,
    backward, gradient clip, AdamW and the schedule. What :func:`train`, the transfer experiment
    and ``benchmarks/bench_train.py`` run.

    Returns (loss, logs, result): the loss tensor (detached), its parts, the ModelOutput.
    """
    import torch
    from cramcog.model import cram_objective
    device = model_device(model) if device is None else device
    with autocast(device, cfg.autocast):
        result = model(batch, sample=True, generator=generator)
        loss, logs = cram_objective(result, batch, cfg, cost_on=cost_on, floor=floor)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    opt.step()
    sched.step()
    return loss.detach(), logs, result


def build_record(h: dict, cfg: TrainConfig, state: dict, floor: float, n_layers: int,
                 test: dict | None, extra_attrs: dict, probes=None, causal: dict | None = None,
                 dense_flops=None):
    """The training record (xarray.Dataset) from the history lists (and the probe set and causal
    test results, where the run has them). ``dense_flops``: the same-width dense Transformer's
    FLOPs per token by component (``compute.COMPONENTS``), the executed compute's yardstick."""
    from cramcog.model.compute import COMPONENTS
    steps = np.asarray(h["step"], dtype="int64")
    layers = np.array([f"L{i}" for i in range(n_layers)])
    S, L = len(steps), n_layers
    frac = np.asarray(h["fractions"], dtype=float).reshape(S, L, 3)
    route = np.asarray(h["route_fraction"], dtype=float).reshape(S, L, 4, 3)
    sl, ev = ("step", "layer"), ("eval_step", "layer")
    fr = lambda u, ln: {"units": u, "long_name": ln}  # noqa: E731
    data = {
        "attention_fraction": (sl, frac[:, :, 1], fr("fraction of tokens", "tokens that "
                                                      "executed attention (replay included; "
                                                      "every token on the dense path)")),
        "working_fraction": (sl, frac[:, :, 0], fr("fraction of tokens", "working-memory route")),
        "semantic_fraction": (sl, frac[:, :, 2], fr("fraction of tokens", "semantic route")),
        "route_fraction": (("step", "layer", "category", "tier"), route,
                           fr("fraction of the category's tokens",
                              "router decisions per token category")),
        "attention_flops_ratio": (sl, np.asarray(h["flops_ratio"], float).reshape(S, L),
                                  fr("1", "executed attention FLOPs / dense causal FLOPs")),
        "replay_fraction": (sl, np.asarray(h["replay_fraction"], float).reshape(S, L),
                            fr("fraction of tokens", "replay tokens forced to attention")),
        "q_mean": (sl, np.asarray(h["q_mean"], float).reshape(S, L),
                   fr("1", "mean consolidation quality q where attention ran")),
        "q_hat_mean": (sl, np.asarray(h["q_hat_mean"], float).reshape(S, L),
                       fr("1", "mean familiarity q_hat")),
        "q_by_category": (("step", "layer", "category"),
                          np.asarray(h["q_by_category"], float).reshape(S, L, 4),
                          fr("1", "mean q where attention ran, per token category")),
        "q_hat_by_category": (("step", "layer", "category"),
                              np.asarray(h["q_hat_by_category"], float).reshape(S, L, 4),
                              fr("1", "mean familiarity q_hat per token category")),
        "cost_on": (("step",), np.asarray(h["cost_on"], "int64"),
                    fr("1", "attention cost active (0 during the warm-up)")),
        "train_accuracy_recurring": (("step",), np.asarray(h["train_acc_recurring"], float),
                                     fr("1", "training-batch accuracy, recurring queries")),
        "train_accuracy_novel": (("step",), np.asarray(h["train_acc_novel"], float),
                                 fr("1", "training-batch accuracy, novel queries")),
    }
    for k in ("loss", "loss_retrieval", "loss_dynamics", "loss_consolidation",
              "loss_familiarity", "loss_router"):
        data[k] = (("step",), np.asarray(h[k], float), fr("nats or MSE", k.replace("_", " ")))
    if h["attended_fraction"]:
        data["attended_fraction"] = (
            ("step", "layer", "category"),
            np.asarray(h["attended_fraction"], float).reshape(S, L, 4),
            fr("fraction of the category's tokens", "tokens that executed attention, per "
               "category (every token on the dense path)"))
    if h["executed_flops"]:
        data["executed_flops_per_token"] = (
            ("step", "component"), np.asarray(h["executed_flops"], float).reshape(S, -1),
            fr("FLOPs per token", "executed forward FLOPs per token by component (training "
               "forward pass: its sampled routes, replay and consolidation teacher included)"))
    if dense_flops is not None:
        data["transformer_flops_per_token"] = (
            ("component",), np.asarray(dense_flops, float),
            fr("FLOPs per token", "the same-width dense Transformer's forward FLOPs per token"))
    E = len(h["eval_step"])
    if E:
        acc = np.array([[a[k] for k in QUERY_KINDS] for a in h["eval_accuracy"]], float)
        data["retrieval_accuracy"] = (("eval_step", "query_kind"), acc,
                                      fr("1", "held-out retrieval accuracy"))
        data["dynamics_mse"] = (("eval_step",), np.asarray(h["eval_dynamics_mse"], float),
                                fr("MSE", "held-out next-observation MSE"))
        if h["eval_fractions"]:
            ef = np.asarray(h["eval_fractions"], float).reshape(E, L, 3)
            data["eval_attention_fraction"] = (ev, ef[:, :, 1], fr("fraction of tokens",
                                                                   "held-out attention route"))
            data["eval_semantic_fraction"] = (ev, ef[:, :, 2], fr("fraction of tokens",
                                                                  "held-out semantic route"))
            data["eval_working_fraction"] = (ev, ef[:, :, 0], fr("fraction of tokens",
                                                                 "held-out working route"))
            data["eval_attention_flops_ratio"] = (
                ev, np.asarray(h["eval_flops_ratio"], float).reshape(E, L),
                fr("1", "held-out executed / dense attention FLOPs"))
            data["eval_route_fraction"] = (
                ("eval_step", "layer", "category", "tier"),
                np.asarray(h["eval_route_fraction"], float).reshape(E, L, 4, 3),
                fr("fraction of the category's tokens", "held-out router decisions per category"))
            data["eval_attended_fraction"] = (
                ("eval_step", "layer", "category"),
                np.asarray(h["eval_attended_fraction"], float).reshape(E, L, 4),
                fr("fraction of the category's tokens", "held-out executed attention per "
                   "category"))
    if test is not None:
        data["test_retrieval_accuracy"] = (("query_kind",), np.array(
            [test["accuracy"][k] for k in QUERY_KINDS], float), fr("1", "test-split accuracy"))
        data["test_dynamics_mse"] = ((), float(test["dynamics_mse"]),
                                     fr("MSE", "test-split next-observation MSE"))
        if "executed_flops" in test:
            data["test_executed_flops_per_token"] = (
                ("component",), np.asarray(test["executed_flops"], float),
                fr("FLOPs per token", "test-split executed forward FLOPs per token (inference "
                   "routes)"))
        if "fractions" in test:
            data["test_attention_fraction"] = (("layer",), test["fractions"][:, 1],
                                               fr("fraction of tokens", "test attention route"))
            data["test_semantic_fraction"] = (("layer",), test["fractions"][:, 2],
                                              fr("fraction of tokens", "test semantic route"))
            data["test_attention_flops_ratio"] = (("layer",), np.asarray(test["flops_ratio"]),
                                                  fr("1", "test executed / dense FLOPs"))
            data["test_route_fraction"] = (("layer", "category", "tier"), test["route_fraction"],
                                           fr("fraction of the category's tokens",
                                              "test router decisions per category"))
            data["test_attended_fraction"] = (("layer", "category"), test["attended_fraction"],
                                              fr("fraction of the category's tokens",
                                                 "test executed attention per category"))
    coords = {"step": ("step", steps, {"units": "optimizer steps", "long_name": "step"}),
              "layer": ("layer", layers), "category": ("category", np.array(CATEGORIES)),
              "tier": ("tier", np.array(["working", "episodic", "semantic"])),
              "query_kind": ("query_kind", np.array(QUERY_KINDS)),
              "component": ("component", np.array(COMPONENTS))}
    if E:
        coords["eval_step"] = ("eval_step", np.asarray(h["eval_step"], "int64"),
                               {"units": "optimizer steps", "long_name": "evaluation step"})
    if probes is not None and h.get("probe_attended"):
        pdata, pcoords = _probe_variables(h, probes, L)
        data.update(pdata)
        coords.update(pcoords)
    if causal:
        for k, v in causal.items():
            if k in CAUSAL_VARIABLES:
                data[k] = ((), float(v), fr("1", k.replace("_", " ")))
    attrs = {"attention_floor": float(floor), "model_kind": cfg.model_kind, "name": cfg.name,
             "steps_done": int(len(steps)), "warmup_end_step": int(state.get("cost_on_step", -1)),
             "consolidation": int(cfg.model.consolidation),
             "episodic_init_bias": float(cfg.model.episodic_init_bias),
             "attention_initialisation": (
                 f"router episodic bias {cfg.model.episodic_init_bias} (about "
                 f"{100 / (1 + 2 * math.exp(-cfg.model.episodic_init_bias)):.0f}% of tokens "
                 "routed to attention at step 0); no attention cost until held-out novel "
                 f"accuracy >= {cfg.warmup_novel_accuracy}")}
    if dense_flops is not None and h["executed_flops"]:
        # whole-run executed forward FLOPs and the Transformer's for the same steps and tokens
        from cramcog.tasks import SRCDConfig
        tokens = cfg.batch_size * SRCDConfig(**cfg.task).seq_len                # per step
        per_step = np.asarray(h["executed_flops"], float).sum(1)                 # (S,)
        attrs["run_flops_ratio"] = float(per_step.mean() / np.sum(dense_flops))
        attrs["run_executed_flops"] = float(per_step.sum() * tokens)
        attrs["run_transformer_flops"] = float(S * np.sum(dense_flops) * tokens)
    if causal:
        attrs["causal_chance"] = float(causal["causal_chance"])
        attrs["causal_retrieving_layer"] = int(causal["retrieving_layer"])
    attrs.update(extra_attrs)
    return records.new_record(data, coords=coords, kind="training", config=cfg.to_dict(),
                              seed=cfg.seed, attrs=attrs)


def _probe_variables(h: dict, probes, n_layers: int) -> tuple[dict, dict]:
    """Record variables of the per-pattern probes: what each probe query did at each evaluation,
    and each pattern's exposures so far."""
    E, Q = len(h["probe_attended"]), probes.n_probes
    epl = ("eval_step", "layer", "probe")
    data = {
        "probe_attended": (epl, np.asarray(h["probe_attended"], "int8").reshape(E, n_layers, Q),
                           {"units": "1", "long_name": "probe query executed attention"}),
        "probe_route": (epl, np.asarray(h["probe_route"], "int8").reshape(E, n_layers, Q),
                        {"units": "tier (0 working, 1 episodic, 2 semantic, -1 none)",
                         "long_name": "route the probe query took"}),
        "probe_correct": (("eval_step", "probe"),
                          np.asarray(h["probe_correct"], "int8").reshape(E, Q),
                          {"units": "1", "long_name": "probe query answered correctly"}),
        "pattern_exposures": (("eval_step", "pattern"),
                              np.asarray(h["pattern_exposures"], "int64").reshape(E, -1),
                              {"units": "training queries",
                               "long_name": "training queries of the pattern so far"}),
    }
    coords = {"probe": ("probe", np.arange(Q, dtype="int64")),
              "probe_pattern": ("probe", probes.pattern.astype("int64"),
                                {"long_name": "recurring pattern of the probe (-1: novel)"}),
              "probe_kind": ("probe", np.where(probes.kind == 1, "recurring", "novel")),
              "pattern": ("pattern", np.arange(probes.n_patterns, dtype="int64"))}
    return data, coords


# ----------------------------------------------------------------------------- checkpoints

def _atomic_torch_save(obj, path: Path) -> None:
    import torch
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        records.durable_replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _map_leaves(obj, leaf):
    """``obj`` with ``leaf`` applied to everything inside its dicts, lists and tuples."""
    if isinstance(obj, dict):
        return {k: _map_leaves(v, leaf) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_map_leaves(v, leaf) for v in obj)
    return leaf(obj)


def _arrays_to_tensors(obj):
    """numpy arrays (and scalars) inside dicts / lists as tensors (and Python numbers): what a
    checkpoint holds, so that ``torch.load(weights_only=True)`` reads it without unpickling."""
    import torch

    def leaf(o):
        if isinstance(o, np.ndarray):
            return torch.from_numpy(np.ascontiguousarray(o))
        return o.item() if isinstance(o, np.generic) else o

    return _map_leaves(obj, leaf)


def _tensors_to_arrays(obj):
    """The inverse of :func:`_arrays_to_tensors` (dtypes kept)."""
    import torch

    return _map_leaves(obj, lambda o: o.numpy() if isinstance(o, torch.Tensor) else o)


DIGEST_KEY = "sha256"   # a saved checkpoint / model's digest of everything else it holds


def content_digest(obj) -> str:
    """sha256 over a nested structure of tensors, numbers, strings, lists and dicts (keys in
    sorted order, every tensor's dtype, shape and bytes): what a saved checkpoint or model
    stores beside itself, so that a changed byte is found on loading.

    Examples
    --------
    >>> import torch
    >>> a = {"w": torch.ones(2), "step": 3}
    >>> content_digest(a) == content_digest({"step": 3, "w": torch.ones(2)})
    True
    >>> content_digest(a) == content_digest({"w": torch.tensor([1.0, 1.0001]), "step": 3})
    False
    """
    import hashlib

    import torch

    h = hashlib.sha256()

    def walk(o):
        if isinstance(o, torch.Tensor):
            t = o.detach().cpu().contiguous()
            h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(o, dict):
            h.update(b"{")
            for k in sorted(o, key=str):
                h.update(repr(k).encode())
                walk(o[k])
            h.update(b"}")
        elif isinstance(o, (list, tuple)):
            h.update(b"[")
            for v in o:
                walk(v)
            h.update(b"]")
        else:
            h.update(repr(o).encode())

    walk(obj)
    return h.hexdigest()


def _with_digest(obj: dict) -> dict:
    return {**obj, DIGEST_KEY: content_digest(obj)}


def _check_digest(obj: dict, path: Path) -> dict:
    """``obj`` without its digest, after checking it (ValueError naming the file on a mismatch;
    a file written before cramcog stored digests has none and is taken as it is)."""
    if not isinstance(obj, dict) or DIGEST_KEY not in obj:
        return obj
    body = {k: v for k, v in obj.items() if k != DIGEST_KEY}
    if content_digest(body) != obj[DIGEST_KEY]:
        raise ValueError(f"{path} does not match the checksum stored in it: the file was changed "
                         "or damaged after it was written. It is not used; start over with "
                         "--no-resume (resume=False) or another --out")
    return body


def load_checkpoint(path: Path) -> dict:
    """A training checkpoint, read with ``torch.load(weights_only=True)``: tensors, numbers,
    strings, lists and dicts only, so a crafted file can never run code (a pickle that holds
    anything else is refused, not unpickled). History and state come back as numpy arrays.

    Raises
    ------
    ValueError
        The file holds other objects (written by a cramcog before 0.1's safe checkpoints, or not
        by cramcog) or is not a checkpoint: it says to start over (``--no-resume``).
    """
    import pickle

    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
        raise ValueError(
            f"{path} is not a checkpoint cramcog can load safely ({type(err).__name__}: it holds "
            "objects other than tensors, numbers and strings, or is damaged); it was NOT "
            "unpickled, since that could run code. Start over with --no-resume (resume=False) "
            "or another --out") from None
    ckpt = _check_digest(ckpt, path)
    if not isinstance(ckpt, dict) or not {"config", "model", "history", "state"} <= set(ckpt):
        raise ValueError(f"{path} is not a cramcog training checkpoint (no config / model / "
                         "history / state); use --no-resume or another --out")
    ckpt["history"] = _tensors_to_arrays(ckpt["history"])
    ckpt["state"] = _tensors_to_arrays(ckpt["state"])
    return ckpt


def _same_run(saved_config_json: str, cfg: TrainConfig) -> bool:
    """Whether a checkpoint's config trains the same run as ``cfg`` (the device may differ;
    fields added to TrainConfig since the checkpoint was written take their defaults)."""
    try:
        saved = TrainConfig.from_dict(json.loads(saved_config_json))
    except (TypeError, ValueError):
        return False
    return saved.identity_json() == cfg.identity_json()


# ----------------------------------------------------------------------------- probes, causal test

def _probe_set(task, cfg: TrainConfig):
    """The run's fixed probe set (None when ``probe_per_pattern`` is 0 or no recurring queries)."""
    from cramcog.analysis.probes import build_probe_set
    if not cfg.probe_per_pattern or task.config.n_recurring == 0:
        return None
    return build_probe_set(task, cfg.probe_per_pattern, _seed(cfg.seed, _PROBE))


def _record_probes(model, probes, history: dict, state: dict, n_layers: int,
                   autocast_mode: str = "off") -> None:
    """Evaluate the probe set and store it, with each pattern's exposures so far."""
    from cramcog.analysis.probes import evaluate_probes
    if probes is None:
        return
    res = evaluate_probes(model, probes, n_layers, autocast_mode)
    for key in ("attended", "route", "correct"):
        history[f"probe_{key}"].append(res[key])
    history["pattern_exposures"].append(state["exposures"].copy())


def _set_attention_warmup(model, state: dict) -> None:
    """Models with a fixed attention capacity (MoD-like) attend everywhere during the warm-up."""
    if hasattr(model, "attention_warmup"):
        model.attention_warmup = not state["cost_on"]


def _causal_test(model, task, cfg: TrainConfig, history: dict, probes) -> dict | None:
    """The causal test on the test split (the final test's sequences), in the retrieving layer
    of the final probe evaluation."""
    from cramcog.analysis.causal import causal_test
    from cramcog.analysis.probes import QUERY_NOVEL, retrieving_layer
    if probes is None or not history.get("probe_attended") or not cfg.test_batches \
            or cfg.model_kind == "transformer":
        return None
    final = np.asarray(history["probe_attended"][-1], dtype=float)        # (L, Q)
    layer = retrieving_layer(final[:, probes.kind == QUERY_NOVEL].mean(1))
    result = causal_test(model, heldout_batches(task, cfg), layer, task.config.n_values,
                         cfg.autocast)
    result["retrieving_layer"] = layer
    return result


def heldout_batches(task, cfg: TrainConfig) -> list:
    """The run's held-out test-split batches: those of its final test and causal test (seeded
    by the run's seed), so that a later analysis of the trained model sees the same sequences."""
    return [task.sample(cfg.eval_batch_size, split="test", seed=_seed(cfg.seed, _TEST, i))
            for i in range(cfg.test_batches)]


# ----------------------------------------------------------------------------- the loop

LOCK_FILE = "run.lock"


@contextlib.contextmanager
def run_lock(out: Path):
    """Hold ``out/run.lock`` (this process's pid and host) while a run writes to ``out``.

    Two runs started into the same folder would overwrite each other's checkpoint and record;
    the second is refused instead. A lock left by a process that no longer runs on this host
    (a killed run) is taken over; one from another host is refused (delete it by hand if that
    run is dead).

    Raises
    ------
    ValueError
        Another live run holds the folder.
    """
    path = out / LOCK_FILE
    host = socket.gethostname()
    mine = f"{os.getpid()} {host}"
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = path.read_text(errors="replace").split() if path.exists() else []
            pid = int(holder[0]) if holder and holder[0].isdigit() else -1
            where = holder[1] if len(holder) > 1 else host
            if where != host:
                raise ValueError(f"{out} is locked by a run on host {where} (pid {pid}); choose "
                                 f"another --out, or delete {path} if that run is dead") from None
            if pid > 0 and _alive(pid):
                raise ValueError(f"{out} is being written by another cramcog run (pid {pid}); "
                                 "wait for it to finish or choose another --out") from None
            path.unlink(missing_ok=True)        # stale: its run died without removing it
            continue
        with os.fdopen(fd, "w") as f:
            f.write(mine)
        break
    else:
        raise ValueError(f"could not lock {out} (another run keeps taking it); choose another "
                         "--out")
    try:
        yield path
    finally:
        try:
            if path.read_text() == mine:
                path.unlink()
        except FileNotFoundError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:     # alive, another user's
        return True
    return True


def train(config: TrainConfig | str | dict = "small", *, out_dir: str | os.PathLike | None = None,
          resume: bool = True, progress: bool = True, stop_after: int | None = None):
    """Train CRAM (or the dense baseline) on SRCD and return the training record.

    Parameters
    ----------
    config
        A :class:`cramcog.configs.TrainConfig`, a named config ("tiny", "small", "paper") or a
        dict of TrainConfig fields.
    out_dir
        Folder for ``record.nc`` (rewritten atomically at every evaluation) and
        ``checkpoint.pt``, locked while the run writes (:func:`run_lock`: a second run into it
        is refused). None: keep everything in memory.
    resume
        Continue from ``out_dir/checkpoint.pt`` when it exists (its config must match).
    progress
        Show a tqdm progress bar.
    stop_after
        Stop after this many steps in total, as an interruption would (checkpoint written, no
        final test); a later call with ``resume=True`` finishes the run.

    Returns
    -------
    xarray.Dataset
        The training record: ``attention_fraction(step, layer)``, ``semantic_fraction``,
        ``working_fraction``, ``attention_flops_ratio``, ``route_fraction(step, layer, category,
        tier)``, ``loss(step)`` and its parts, ``retrieval_accuracy(eval_step, query_kind)``,
        ``dynamics_mse(eval_step)``, ``executed_flops_per_token(step, component)`` beside
        ``transformer_flops_per_token(component)``, the ``test_*`` results; attrs
        ``attention_floor``, ``run_flops_ratio``, ``warmup_end_step`` and the warm-up
        description.

    Examples
    --------
    >>> from cramcog.configs import named_config
    >>> rec = train(named_config("tiny", steps=2, eval_every=2), progress=False)
    >>> rec["attention_fraction"].dims, rec.attrs["attention_floor"] > 0
    (('step', 'layer'), True)
    """
    cfg = resolve_config(config)
    if stop_after is not None and (not isinstance(stop_after, int) or stop_after < 1):
        raise ValueError(f"stop_after must be a positive int or None, got {stop_after!r}")
    if out_dir is None:
        return _train(cfg, None, resume, progress, stop_after)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with run_lock(out):      # a second run into the same folder is refused, not interleaved
        # what a killed run's atomic writes left behind (the renamed files are whole)
        records.remove_orphans(out, (RECORD_FILE, CHECKPOINT_FILE, "model.pt"))
        return _train(cfg, out, resume, progress, stop_after)


def _train(cfg: TrainConfig, out: Path | None, resume: bool, progress: bool,
           stop_after: int | None):
    """The body of :func:`train` (``out`` made and locked by it)."""
    import torch
    from tqdm.auto import tqdm

    from cramcog.model import build_model
    from cramcog.model.compute import COMPONENTS, transformer_flops_per_token

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    task = make_task(cfg)
    floor = float(task.attention_floor)
    sizes = task_sizes(task)
    torch.manual_seed(_seed(cfg.seed, 0))
    # initialised on the CPU whatever the device: the same seed gives the same initial weights
    model = build_model(cfg.model_kind, cfg.model, **sizes).to(device)
    opt, sched = make_optimizer(model, cfg)
    history = _empty_history()
    state = {"step": 0, "cost_on": cfg.model_kind not in ATTENTION_WARMUP_KINDS,
             "cost_on_step": -1, "cost_on_eval": -1, "wall_seconds": 0.0, "devices": [],
             "exposures": np.zeros(task.config.n_patterns, dtype=np.int64)}

    ckpt_path = out / CHECKPOINT_FILE if out is not None else None
    if resume and ckpt_path is not None and ckpt_path.exists():
        # loaded onto the CPU, so that a checkpoint written on a GPU resumes anywhere; the
        # load_state_dict calls copy weights and optimiser moments onto the run's device (and
        # keep AdamW's step counts on the CPU, where torch wants them)
        ckpt = load_checkpoint(ckpt_path)
        if not _same_run(ckpt["config"], cfg):
            raise ValueError(f"{ckpt_path} was written by a different config; use another "
                             "out_dir or resume=False to start over")
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        history, state = ckpt["history"], ckpt["state"]
        missing = sorted(set(_empty_history()) - set(history)) + \
            ([] if "exposures" in state else ["exposures"])
        if missing:   # written by an older cramcog (no probes, counters or executed FLOPs)
            raise ValueError(f"{ckpt_path} was written by an older cramcog (it lacks "
                             f"{missing}): this run cannot be continued; use another out_dir "
                             "or resume=False to start over")
    here = describe(device, cfg.autocast)
    state.setdefault("devices", [])
    if not state["devices"] or state["devices"][-1] != here["device"]:
        state["devices"].append(here["device"])
    probes = _probe_set(task, cfg)

    n_params = sum(p.numel() for p in model.parameters())
    L = cfg.model.n_layers
    # where it ran ("cuda:0 -> cpu" when resumed on another device) and in which dtype
    extra = {"n_parameters": int(n_params), **here}

    dense = transformer_flops_per_token(cfg.model, task.config.seq_len, sizes["obs_dim"],
                                        sizes["n_values"])
    dense_flops = np.array([dense[c] for c in COMPONENTS])

    def write_record(test=None, causal=None):
        rec = build_record(history, cfg, state, floor, L, test,
                           {**extra, "device": " -> ".join(state["devices"]),
                            "wall_seconds": float(state["wall_seconds"])},
                           probes=probes, causal=causal, dense_flops=dense_flops)
        if out is not None:
            records.save(rec, out / RECORD_FILE)
        return rec

    def save_checkpoint():
        if ckpt_path is not None:
            _atomic_torch_save(_with_digest({
                "config": cfg.to_json(), "model": model.state_dict(),
                "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "history": _arrays_to_tensors(history), "state": _arrays_to_tensors(state)}),
                ckpt_path)

    end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    bar = tqdm(total=cfg.steps, initial=state["step"], disable=not progress, desc=cfg.name,
               dynamic_ncols=True)
    model.train()
    while state["step"] < end:
        step = state["step"]
        t0 = time.perf_counter()
        batch = task.sample(cfg.batch_size, split="train", seed=_seed(cfg.seed, _TRAIN, step))
        count_exposures(state["exposures"], batch)
        _set_attention_warmup(model, state)
        batch = batch.to_torch(device)
        gen = generator(device, _seed(cfg.seed, _NOISE, step))      # routing noise
        loss, logs, result = train_step(model, opt, sched, batch, cfg, cost_on=state["cost_on"],
                                        floor=floor, generator=gen, device=device)

        acc = accuracy(result.value_logits.detach(), batch)
        history["step"].append(step + 1)
        history["loss"].append(float(loss))
        for k in LOSS_KEYS:
            history[k].append(logs.get(k, 0.0))
        history["cost_on"].append(int(state["cost_on"]))
        history["train_acc_recurring"].append(acc["recurring"])
        history["train_acc_novel"].append(acc["novel"])
        history["executed_flops"].append(flops_per_token(model, result, batch))
        st = step_statistics(result, batch, L)
        for k in LAYER_KEYS:
            history[k].append([s[k] for s in st])
        state["step"] = step + 1
        state["wall_seconds"] += time.perf_counter() - t0
        att = float(np.mean([s["fractions"][1] for s in st]))
        bar.update(1)
        bar.set_postfix(loss=f"{float(loss):.3f}", att=f"{att:.3f}",
                        rec=f"{acc['recurring']:.2f}", nov=f"{acc['novel']:.2f}", refresh=False)

        done = state["step"]
        if done % cfg.eval_every == 0 or done == cfg.steps:
            ev = evaluate(model, task, cfg, "val", cfg.eval_batches, _VAL)
            history["eval_step"].append(done)
            history["eval_accuracy"].append(ev["accuracy"])
            history["eval_dynamics_mse"].append(ev["dynamics_mse"])
            if "fractions" in ev:
                history["eval_fractions"].append(ev["fractions"])
                history["eval_route_fraction"].append(ev["route_fraction"])
                history["eval_flops_ratio"].append(ev["flops_ratio"])
                history["eval_attended_fraction"].append(ev["attended_fraction"])
            _record_probes(model, probes, history, state, L, cfg.autocast)
            if not state["cost_on"] and ev["accuracy"]["novel"] >= cfg.warmup_novel_accuracy:
                # retrieval is learned: end the attention warm-up, switch the hinge cost on
                state.update(cost_on=True, cost_on_step=done,
                             cost_on_eval=len(history["eval_step"]) - 1)
                _set_attention_warmup(model, state)
            bar.write(f"[{cfg.name}] step {done}: val acc recurring "
                      f"{ev['accuracy']['recurring']:.3f} novel {ev['accuracy']['novel']:.3f}, "
                      f"dyn MSE {ev['dynamics_mse']:.4f}" + (
                          f", attention {ev['fractions'][:, 1].round(4).tolist()}"
                          if "fractions" in ev else "")) if progress else None
            write_record()
        if done % cfg.checkpoint_every == 0 or done == end:
            save_checkpoint()
    bar.close()

    if state["step"] < cfg.steps:          # interrupted on purpose (stop_after)
        return write_record()
    test = evaluate(model, task, cfg, "test", cfg.test_batches, _TEST) \
        if cfg.test_batches else None
    causal = _causal_test(model, task, cfg, history, probes)
    rec = write_record(test, causal)
    if out is not None:
        _atomic_torch_save(_with_digest({"model": model.state_dict()}), out / "model.pt")
    return rec


def load_model(run_dir: str | os.PathLike, device: str = "cpu"):
    """The trained model of a run folder (its record's config and ``model.pt``), in eval mode
    on ``device`` ("auto", "cpu", "cuda" or "cuda:N"), wherever it was trained.

    Examples
    --------
    >>> model = load_model("runs/small", device="auto")     # doctest: +SKIP
    """
    import torch
    from cramcog.model import build_model
    run_dir = Path(run_dir)
    target = resolve_device(device)
    rec = records.open(run_dir / RECORD_FILE)
    cfg = TrainConfig.from_dict(rec.cram.config)
    model = build_model(cfg.model_kind, cfg.model, **task_sizes(make_task(cfg)))
    saved = _check_digest(torch.load(run_dir / "model.pt", map_location="cpu",
                                     weights_only=True), run_dir / "model.pt")
    # {"model": state dict} since models carry a checksum; a bare state dict before
    model.load_state_dict(saved["model"] if set(saved) == {"model"} else saved)
    if "warmup_end_step" in rec.attrs:   # a run whose warm-up never ended was tested with it on
        _set_attention_warmup(model, {"cost_on": int(rec.attrs["warmup_end_step"]) >= 0})
    return model.to(target).eval()


__all__ = ["train", "evaluate", "build_record", "load_model", "resolve_config", "make_task", "summarise",
           "QUERY_KINDS", "CATEGORIES"]


def summarise(record) -> dict[str, float]:
    """Headline numbers of a finished training record (test split), as a flat dict.

    Attention is judged in the retrieving layer (the one the novel queries attend in;
    :func:`cramcog.analysis.final_metrics`) and summed over layers, never as a layer mean; each
    layer's value is also given. Consolidation: the share of recurring / novel test queries
    executing attention in the retrieving layer, and the fall of its query attention from the
    end of the warm-up against the ceiling consolidation can reach. The causal test where run.

    Examples
    --------
    >>> summarise(train("tiny", progress=False))["test_accuracy_novel"] >= 0   # doctest: +SKIP
    True
    """
    from cramcog.analysis import final_metrics

    if "test_retrieval_accuracy" not in record:
        raise ValueError("record has no test results: the run did not finish (resume it)")
    acc = record["test_retrieval_accuracy"]
    out = {f"test_accuracy_{k}": float(acc.sel(query_kind=k)) for k in QUERY_KINDS}
    out["test_dynamics_mse"] = float(record["test_dynamics_mse"])
    out["attention_floor"] = float(record.attrs["attention_floor"])
    if "test_attention_fraction" in record:
        m = final_metrics(record).iloc[0]
        out["retrieving_layer"] = int(m.retrieving_layer)
        out["test_attention_fraction"] = float(m.final_attention)
        out["test_attention_total"] = float(m.final_attention_total)
        out["test_attention_over_floor"] = float(m.attention_over_floor)
        out["test_attention_sum_over_floor"] = float(m.attention_sum_over_floor)
        out["test_attention_flops_ratio"] = float(record["test_attention_flops_ratio"].mean())
        for i, a in enumerate(record["test_attention_fraction"].values):
            out[f"test_attention_fraction_L{i}"] = float(a)
        for key in ("recurring_attended", "novel_attended", "fall_from_warmup_end",
                    "fall_ceiling", "swap_accuracy_recurring", "zero_accuracy_recurring",
                    "swap_partner_share", "semantic_recurring_queries", "skip_accuracy_novel"):
            out[("test_" if key.endswith("attended") else "") + key] = float(m[key])
    out["warmup_end_step"] = float(record.attrs.get("warmup_end_step", -1))
    from cramcog.analysis.metrics import flops_ratio_on_test
    if "test_executed_flops_per_token" in record:
        out["test_flops_ratio"] = flops_ratio_on_test(record)
    if "run_flops_ratio" in record.attrs:
        out["run_flops_ratio"] = float(record.attrs["run_flops_ratio"])
    return out


class _CallableModule(type(sys.modules[__name__])):
    """``cramcog.train`` names both this module and :func:`train` (the public API says
    ``cc.train(config)``). Python binds the submodule to the package attribute as soon as anything
    imports it, so the module itself must be callable for ``cc.train(...)`` to work either way."""

    def __call__(self, *args, **kwargs):
        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
