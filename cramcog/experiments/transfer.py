"""Transfer to unseen SRCD variants: semantic memory and router frozen, task head retrained.

The paper: with semantic memory and router frozen and the task head retrained, CRAM uses 48-52%
less attention on unseen tasks than a model without consolidation. Here: every trained run is
loaded, its semantic memory and router (and, by default, everything but the task head) are frozen,
the head is retrained for ``steps`` steps on each unseen variant of
:func:`cramcog.tasks.variants.transfer_variants` (other dynamics, gap laws, query rates, half the
recurring bindings new), and the attention the model then executes on the variant's test split is
counted (argmax routes, inference mode), with the retrieval accuracy the retrained head reaches.

A variant keeps the training task's recurring bindings (``bindings="same"``), so its recurring
queries are ones the model has already consolidated: that measures how robust consolidation is to
new dynamics, gaps or query rates, not transfer. ``bindings="disjoint"`` replaces every recurring
binding with one that never recurred in training (its keys were novel keys there): the paper's
question, whether what was learned about consolidating carries to new patterns. Both are run side
by side (``TransferConfig.bindings``).

With ``trainable="head"`` the routes cannot change during retraining (they are decided before the
head), so attention measures how the frozen router and semantic memory carry over; accuracy shows
whether the carried-over representation still answers. ``trainable="body"`` also retrains working
memory, attention and MLPs (everything but semantic memory and router), so routes may move.

Command: ``cramcog experiment transfer cram=RUN_DIR[,RUN_DIR...] no_consolidation=RUN_DIR ...``.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import xarray as xr

from cramcog import records
from cramcog.tasks.batch import CATEGORY_NAMES

RECURRING = CATEGORY_NAMES.index("recurring_query")
NOVEL = CATEGORY_NAMES.index("novel_query")

TRAINABLE = ("head", "body")
BINDINGS = ("same", "disjoint")   # the variant keeps the training bindings, or replaces them all
REFERENCE = "no_consolidation"    # attention_reduction is measured against this variant


def attention_reduction(attention: xr.DataArray, reference: str = REFERENCE) -> xr.DataArray:
    """1 - attention / attention of ``reference``, for the same seed, task (and bindings).

    The one definition the transfer record and its figure frame use.

    Examples
    --------
    >>> att = xr.DataArray([[0.01], [0.04]], dims=("variant", "seed"),
    ...                    coords={"variant": ["cram", "no_consolidation"], "seed": [1]})
    >>> attention_reduction(att).sel(seed=1).values.tolist()
    [0.75, 0.0]
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1 - attention / attention.sel(variant=reference)


@dataclass
class TransferConfig:
    """How each model is retrained and measured on the unseen variants.

    Examples
    --------
    >>> TransferConfig().trainable
    'head'
    >>> TransferConfig(trainable="all")
    Traceback (most recent call last):
    ...
    ValueError: TransferConfig.trainable must be one of ('head', 'body'), got 'all'
    """
    steps: int = 150                  # retraining steps per (run, variant)
    batch_size: int = 16              # sequences per retraining step
    lr: float = 3e-3                  # Adam learning rate of the retrained part
    trainable: str = "head"           # "head" (the paper's) or "body" (all but f_sem and router)
    test_batches: int = 2             # test-split batches per (run, variant)
    test_batch_size: int = 16         # sequences per test batch
    tasks: tuple = ()                 # variant names to run (empty: all of transfer_variants)
    bindings: tuple = ("same",)       # "same": the training task's recurring bindings;
    #                                   "disjoint": every recurring binding new (overlap 0)
    seed: int = 0                     # seeds retraining batches (paired across models)

    def __post_init__(self):
        for name in ("steps", "batch_size", "test_batches", "test_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TransferConfig.{name} must be a positive int, got {value!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"TransferConfig.lr must be > 0, got {self.lr!r}")
        if self.trainable not in TRAINABLE:
            raise ValueError(f"TransferConfig.trainable must be one of {TRAINABLE}, got "
                             f"{self.trainable!r}")
        self.tasks = tuple(self.tasks)
        self.bindings = tuple(self.bindings)
        if not self.bindings or not set(self.bindings) <= set(BINDINGS) \
                or len(set(self.bindings)) != len(self.bindings):
            raise ValueError(f"TransferConfig.bindings must be distinct values of {BINDINGS}, got "
                             f"{self.bindings!r}")


def freeze_for_transfer(model, trainable: str = "head") -> list:
    """Freeze ``model`` for transfer; return the parameters left trainable.

    Semantic memory and router are always frozen; ``"head"`` also freezes everything but the task
    heads, ``"body"`` leaves working memory, attention, MLPs, embedding and heads trainable.

    Examples
    --------
    >>> from cramcog.configs import CRAMConfig
    >>> from cramcog.model import build_model
    >>> m = build_model("cram", CRAMConfig(d_model=16, n_heads=2, semantic_hidden=8), 3, 10, 6)
    >>> params = freeze_for_transfer(m, "head")
    >>> sum(p.numel() for p in params) == sum(p.numel() for p in m.heads.parameters())
    True
    """
    if trainable not in TRAINABLE:
        raise ValueError(f"trainable must be one of {TRAINABLE}, got {trainable!r}")
    keep = []
    for name, p in model.named_parameters():
        frozen = ".semantic." in name or ".router." in name
        if trainable == "head":
            frozen = frozen or not name.startswith("heads.")
        p.requires_grad_(not frozen)
        if not frozen:
            keep.append(p)
    return keep


def retrain_and_measure(run_dir, variant_task, config: TransferConfig,
                        stream: int = 0, device: str = "auto") -> dict[str, float]:
    """Retrain one run on one variant; its test attention fraction, FLOPs ratio, accuracy and
    Dynamics MSE, measured by :func:`cramcog.train.evaluate` (argmax routes, no replay).
    ``device``: where to run ("auto", "cpu", "cuda", "cuda:N"), wherever the run was trained."""
    import torch

    from cramcog.configs import TrainConfig
    from cramcog.device import model_device
    from cramcog.model import task_losses
    from cramcog.tasks import SRCD, SRCDConfig
    from cramcog.train import _seed, evaluate, load_model

    model = load_model(run_dir, device)
    on = model_device(model)
    params = freeze_for_transfer(model, config.trainable)
    task = SRCD(variant_task if isinstance(variant_task, SRCDConfig)
                else SRCDConfig(**variant_task))
    opt = torch.optim.Adam(params, lr=config.lr)
    # routes come from the frozen router in inference mode (argmax, no replay): the same routes
    # the measurement below sees
    model.eval()
    for step in range(config.steps):
        batch = task.sample(config.batch_size, split="train",
                            seed=_seed(config.seed, stream, step)).to_torch(on)
        out = model(batch, sample=False)
        parts = task_losses(out.value_logits, out.dyn_pred, batch)
        loss = parts["retrieval"] + parts["dynamics"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    # evaluate() reads only the test batch size and the seed from a TrainConfig
    test_cfg = TrainConfig(eval_batch_size=config.test_batch_size, seed=config.seed)
    ev = evaluate(model, task, test_cfg, "test", config.test_batches, 10_000 + stream)
    attended = ev["attended_fraction"]                                  # (layer, category)
    layer = int(np.nanargmax(attended[:, NOVEL]))      # the retrieving layer: novel queries attend
    return {"attention_fraction": float(ev["fractions"][:, 1].mean()),
            "recurring_attended": float(attended[layer, RECURRING]),
            "novel_attended": float(attended[layer, NOVEL]),
            "attention_flops_ratio": float(np.mean(ev["flops_ratio"])),
            "accuracy_recurring": ev["accuracy"]["recurring"],
            "accuracy_novel": ev["accuracy"]["novel"],
            "dynamics_mse": ev["dynamics_mse"],
            "attention_floor": task.attention_floor}


def transfer_experiment(runs: Mapping[str, Sequence[str | os.PathLike]],
                        config: TransferConfig | None = None, *,
                        device: str = "auto") -> xr.Dataset:
    """Attention and accuracy of every run on every unseen variant after head retraining.

    Parameters
    ----------
    runs
        ``{variant name: [run folder, ...]}``, one folder per seed, e.g.
        ``{"cram": ["runs/s0", "runs/s1"], "no_consolidation": ["runs/n0", "runs/n1"]}``. The
        seed coordinate is each run's training seed. Every run must share the training task.
    config
        :class:`TransferConfig`.
    device
        Where models are retrained and measured: "auto" (CUDA when present), "cpu", "cuda" or
        "cuda:N"; recorded in the ``device`` attr.

    Returns
    -------
    xarray.Dataset
        Record kind "transfer", dims (variant, seed, task, bindings): attention_fraction (all
        tokens, mean over layers), recurring_attended and novel_attended (share of those queries
        attending in the retrieving layer), attention_flops_ratio, accuracy_recurring,
        accuracy_novel, dynamics_mse; ``accuracy`` is the mean of the two accuracies; with a
        ``no_consolidation`` variant, ``attention_reduction`` against it (same seed, task and
        bindings).

    Examples
    --------
    >>> ds = transfer_experiment({"cram": ["runs/small"]})             # doctest: +SKIP
    """
    from cramcog.configs import TrainConfig
    from cramcog.device import resolve_device
    from cramcog.tasks import SRCDConfig
    from cramcog.tasks.variants import transfer_variants

    config = config or TransferConfig()
    device = str(resolve_device(device))      # a bad or absent device fails before any work
    if not runs or not all(runs.values()):
        raise ValueError("transfer_experiment needs {variant: [run folder, ...]} with at least "
                         "one folder per variant")
    found, base = {}, None
    for variant, folders in runs.items():
        for folder in folders:
            folder = Path(folder)
            if not (folder / "model.pt").exists():
                raise FileNotFoundError(f"{folder}/model.pt not found: give finished training "
                                        f"run folders (cramcog train --out DIR)")
            cfg = TrainConfig.from_dict(records.open(folder / "record.nc").cram.config)
            if base is None:
                base = cfg.task
            elif cfg.task != base:
                raise ValueError(f"{folder} was trained on another task than the first run; "
                                 "transfer compares runs of one training task")
            if (variant, cfg.seed) in found:
                raise ValueError(f"two runs of variant {variant!r} have seed {cfg.seed}")
            found[(variant, cfg.seed)] = folder
    variants = transfer_variants(SRCDConfig(**base))
    names = list(config.tasks) or sorted(variants)
    unknown = sorted(set(names) - set(variants))
    if unknown:
        raise ValueError(f"unknown transfer tasks {unknown}; known: {sorted(variants)}")
    model_names = list(runs)
    seeds = sorted({s for _, s in found})
    fields = ("attention_fraction", "recurring_attended", "novel_attended",
              "attention_flops_ratio", "accuracy_recurring", "accuracy_novel", "dynamics_mse",
              "attention_floor")
    shape = (len(model_names), len(seeds), len(names), len(config.bindings))
    data = {k: np.full(shape, np.nan) for k in fields}
    for (variant, seed), folder in found.items():
        a, b = model_names.index(variant), seeds.index(seed)
        for c, name in enumerate(names):
            for d, bindings in enumerate(config.bindings):
                task = variants[name]
                if bindings == "disjoint":
                    task = task.variant(recurring_overlap=0.0)
                # the stream pairs retraining batches across models and binding kinds
                res = retrain_and_measure(folder, task, config, stream=c, device=device)
                for k in fields:
                    data[k][a, b, c, d] = res[k]
    dims = ("variant", "seed", "task", "bindings")
    variables = {k: (dims, v) for k, v in data.items()}
    variables["accuracy"] = (dims, (data["accuracy_recurring"] + data["accuracy_novel"]) / 2)
    if REFERENCE in model_names:
        att = xr.DataArray(data["attention_fraction"], dims=dims,
                           coords={"variant": model_names})
        variables["attention_reduction"] = (
            dims, attention_reduction(att).values,
            {"long_name": f"1 - attention_fraction / attention_fraction of {REFERENCE} "
                          "(same seed, task and bindings)"})
    return records.new_record(
        variables, kind="transfer", config=dataclasses.asdict(config), seed=config.seed,
        coords={"variant": np.array(model_names), "seed": np.array(seeds, dtype=np.int64),
                "task": np.array(names), "bindings": np.array(config.bindings)},
        attrs={"runs_json": json.dumps({f"{v}/{s}": str(p) for (v, s), p in found.items()}),
               "device": device,
               "bindings_meaning": "same: the training task's recurring bindings; disjoint: "
                                   "every recurring binding replaced by one never recurring in "
                                   "training (recurring_overlap = 0)",
               "frozen": "semantic memory + router" + (
                   " + everything but the task head" if config.trainable == "head" else "")})


__all__ = ["BINDINGS", "REFERENCE", "TransferConfig", "attention_reduction",
           "freeze_for_transfer", "retrain_and_measure", "transfer_experiment"]
