"""Train cramcog's small GPT-2 on the offline corpus and measure redundancy at checkpoints.

The question tested: does attention redundancy (share of predictable attention operations, and
the probes' R^2) fall during ordinary language-model training? Checkpoints are log-spaced (step 0
= initialisation, then about evenly per decade of steps) and the trend is the slope of
redundancy against log10(step) with a bootstrap interval (:func:`analysis.trend_test`).

Data: the language model trains on random windows from the first ``1 - val_fraction`` of the
corpus bytes; the rest gives a validation loss. Redundancy is measured on all non-overlapping
sequences of the corpus, with the probe's own held-out split by sequence (the probe never sees
the sequences it is scored on; the LM's exposure to the text is the same for every probe group).

Examples
--------
>>> from cramcog.redundancy.gpt2 import GPT2Config
>>> from cramcog.redundancy.training import LMTrainConfig, checkpoint_steps
>>> checkpoint_steps(1000, 5)
[0, 1, 10, 100, 1000]
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from cramcog.redundancy.analysis import RedundancyConfig


def _default_model():
    from cramcog.redundancy.gpt2 import GPT2Config
    return GPT2Config()


@dataclass
class LMTrainConfig:
    """Language-model training settings (validated on creation)."""

    steps: int = 1000               # optimiser steps
    batch_size: int = 12            # sequences per step
    seq_len: int = 128              # tokens per sequence (<= model.n_positions)
    lr: float = 3e-3                # AdamW peak learning rate
    warmup_steps: int = 50          # linear warm-up, then cosine decay to lr / 10
    weight_decay: float = 0.01
    n_checkpoints: int = 8          # log-spaced checkpoints, including step 0 and the last step
    val_fraction: float = 0.05      # tail of the corpus kept out of LM training (val loss)
    max_sequences: int | None = 400  # analysed sequences per checkpoint (None: whole corpus)
    seed: int = 0
    model: object = field(default_factory=_default_model)  # a GPT2Config

    def __post_init__(self):
        from cramcog.redundancy.gpt2 import GPT2Config
        if isinstance(self.model, dict):
            self.model = GPT2Config(**self.model)
        if not isinstance(self.model, GPT2Config):
            raise TypeError(f"model must be a GPT2Config, got {type(self.model).__name__}")
        for name in ("steps", "batch_size", "seq_len", "n_checkpoints"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"LMTrainConfig.{name} must be a positive int, got {value!r}")
        if self.seq_len > self.model.n_positions:
            raise ValueError(f"seq_len={self.seq_len} exceeds the model context "
                             f"n_positions={self.model.n_positions}")
        if self.n_checkpoints < 2:
            raise ValueError("n_checkpoints must be >= 2 (the initial and the final model)")
        if not 0.0 < self.val_fraction < 0.5:
            raise ValueError(f"val_fraction must be in (0, 0.5), got {self.val_fraction}")
        if self.lr <= 0 or self.weight_decay < 0 or self.warmup_steps < 0:
            raise ValueError("lr must be > 0, weight_decay and warmup_steps >= 0")


def checkpoint_steps(steps: int, n: int) -> list[int]:
    """``n`` checkpoint steps: 0, then log-spaced from 1 to ``steps`` (duplicates merged).

    Examples
    --------
    >>> from cramcog.redundancy.training import checkpoint_steps
    >>> checkpoint_steps(300, 4)
    [0, 1, 17, 300]
    """
    if steps < 1 or n < 2:
        raise ValueError(f"need steps >= 1 and n >= 2, got {steps}, {n}")
    logs = np.unique(np.round(np.logspace(0, math.log10(steps), n - 1)).astype(int))
    return [0] + [int(s) for s in logs]


def _lr_at(step: int, cfg: LMTrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def train_and_measure(train: LMTrainConfig | None = None, redundancy: RedundancyConfig | None = None,
                      text: str | None = None, checkpoint_dir: str | Path | None = None,
                      progress: Callable[[str], None] | None = None):
    """Train the small GPT-2 and measure redundancy at each checkpoint.

    Parameters
    ----------
    train : LMTrainConfig, optional
    redundancy : RedundancyConfig, optional
    text : str, optional
        Training / analysis text (default: the bundled public-domain corpus).
    checkpoint_dir : path, optional
        If given, every checkpoint is saved there as ``step_000123/`` in the Hugging Face layout
        (re-measure later with ``cramcog redundancy measure``).
    progress : callable, optional
        Receives one status line per checkpoint.

    Returns
    -------
    xarray.Dataset
        A "redundancy" record with dims (checkpoint, layer, head); ``step(checkpoint)``,
        ``train_loss`` and ``val_loss`` per checkpoint; trend tests in attrs.

    Examples
    --------
    >>> from cramcog.redundancy.gpt2 import GPT2Config
    >>> from cramcog.redundancy.training import LMTrainConfig, train_and_measure
    >>> cfg = LMTrainConfig(steps=4, n_checkpoints=3, seq_len=32, batch_size=4, max_sequences=60,
    ...                   model=GPT2Config(n_positions=32, n_embd=16, n_layer=1, n_head=2))
    >>> ds = train_and_measure(cfg)
    >>> ds.step.values.tolist()
    [0, 1, 4]
    """
    import torch

    from cramcog.redundancy.analysis import measure_redundancy
    from cramcog.redundancy.corpus import bundled_text, encode_bytes, make_sequences
    from cramcog.redundancy.gpt2 import GPT2
    from cramcog.redundancy.hf_io import save_gpt2

    train = train or LMTrainConfig()
    redundancy = redundancy or RedundancyConfig(seed=train.seed)
    if train.model.vocab_size < 256:
        raise ValueError("byte-level training needs model.vocab_size >= 256")
    tokens = encode_bytes(bundled_text() if text is None else text)
    n_val = int(len(tokens) * train.val_fraction)
    lm_train, lm_val = tokens[:-n_val], tokens[-n_val:]
    if len(lm_train) <= train.seq_len + 1 or len(lm_val) <= train.seq_len + 1:
        raise ValueError(f"the text ({len(tokens)} bytes) is too short for seq_len={train.seq_len}"
                         " with a validation tail: give more text or shorten seq_len")
    analysed = make_sequences(tokens, train.seq_len, train.max_sequences)
    val_seqs = torch.as_tensor(make_sequences(lm_val, train.seq_len + 1)[:64])

    torch.manual_seed(train.seed)
    rng = np.random.default_rng(train.seed)
    model = GPT2(train.model)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": train.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=train.lr,
                            betas=(0.9, 0.95))
    marks = checkpoint_steps(train.steps, train.n_checkpoints)
    per_ckpt, losses, val_losses, seconds = [], [], [], []
    recent: list[float] = []
    t0 = time.perf_counter()

    def checkpoint(step: int):
        model.eval()
        with torch.no_grad():
            val = float(model.loss(val_seqs))
        ds = measure_redundancy(model, analysed, redundancy)
        model.train()
        per_ckpt.append(ds)
        losses.append(float(np.mean(recent)) if recent else float("nan"))
        val_losses.append(val)
        seconds.append(time.perf_counter() - t0)
        if checkpoint_dir is not None:
            save_gpt2(model, Path(checkpoint_dir) / f"step_{step:06d}")
        if progress:
            progress(f"step {step:>6}: val loss {val:.3f} nats/byte, predictable ops "
                     f"{ds.attrs['headline_fraction']:.3f} (mean-only baseline "
                     f"{ds.attrs['baseline_headline_fraction']:.3f}), mean head R^2 "
                     f"{ds.attrs['mean_r2_heldout']:.3f}")

    model.train()
    checkpoint(0)
    for step in range(1, train.steps + 1):
        starts = rng.integers(0, len(lm_train) - train.seq_len - 1, size=train.batch_size)
        batch = torch.as_tensor(np.stack([lm_train[s:s + train.seq_len + 1] for s in starts]))
        for group in opt.param_groups:
            group["lr"] = _lr_at(step - 1, train)
        loss = model.loss(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        recent = (recent + [loss.item()])[-20:]
        if step in marks:
            checkpoint(step)

    extra = {
        "train_loss": (np.asarray(losses), {
            "units": "nats/byte", "long_name": "mean training loss over the last 20 steps"}),
        "val_loss": (np.asarray(val_losses), {
            "units": "nats/byte", "long_name": "loss on the corpus tail kept out of training"}),
        "elapsed_s": (np.asarray(seconds), {"units": "s"}),
    }
    attrs = {"corpus": "bundled rst_spec.txt (Docutils reST spec, public domain)"
             if text is None else "user text", "corpus_bytes": int(len(tokens))}
    config = {"train": asdict(train), "redundancy": asdict(redundancy)}
    return combine_checkpoints(per_ckpt, marks, config=config, seed=train.seed, extra=extra,
                               attrs=attrs)


def combine_checkpoints(per_checkpoint: list, steps, *, config=None, seed: int = 0,
                        extra: dict | None = None, attrs: dict | None = None):
    """Stack per-checkpoint redundancy records along ``checkpoint`` and add trend tests.

    Parameters
    ----------
    per_checkpoint : list of xarray.Dataset
        Records from :func:`measure_redundancy`, same model shape.
    steps : sequence of int
        Training step of each (coordinate ``step``).
    extra : dict, optional
        ``name -> (values per checkpoint, attrs)`` extra variables (e.g. losses).

    Returns
    -------
    xarray.Dataset
        dims (checkpoint, layer, head); headline values per checkpoint; ``trend_*`` attrs.
    """
    import xarray as xr

    from cramcog import records
    from cramcog.redundancy.analysis import trend_test

    if len(per_checkpoint) != len(steps) or not per_checkpoint:
        raise ValueError(f"{len(per_checkpoint)} records for {len(steps)} steps")
    bare = []
    for ds in per_checkpoint:
        ds = ds.copy()
        ds.attrs = {}  # dataset attrs differ per checkpoint; variable attrs are kept
        bare.append(ds)
    combined = xr.concat(bare, dim="checkpoint", coords="minimal", compat="override",
                         combine_attrs="drop")
    steps = np.asarray(steps, dtype="int64")
    per_step = {name: np.asarray([ds.attrs[name] for ds in per_checkpoint], float) for name in (
        "headline_fraction", "baseline_headline_fraction", "layer_headline_fraction",
        "mean_r2_heldout", "mean_layer_r2_heldout")}
    data = {name: (var.dims, var.values, var.attrs) for name, var in combined.data_vars.items()}
    for name, values in per_step.items():
        data[name] = (("checkpoint",), values, {"units": "1"})
    for name, (values, var_attrs) in (extra or {}).items():
        data[name] = (("checkpoint",), np.asarray(values), var_attrs)
    coords = {name: (c.dims, c.values, c.attrs) for name, c in combined.coords.items()
              if name != "checkpoint"}
    coords["checkpoint"] = ("checkpoint", np.arange(len(steps), dtype="int64"))
    coords["step"] = ("checkpoint", steps, {"units": "optimizer steps"})
    last = per_checkpoint[-1].attrs
    out_attrs = {k: last[k] for k in (
        "headline_definition", "layer_headline_definition", "tau", "n_sequences",
        "n_heldout_sequences", "n_train_tokens", "n_heldout_tokens", "probe_statistics_mb",
        "sites_json")}
    out_attrs["peak_rss_mb"] = max(ds.attrs["peak_rss_mb"] for ds in per_checkpoint)
    out_attrs.update(attrs or {})
    if int((steps > 0).sum()) >= 3:
        for name in ("headline_fraction", "mean_r2_heldout", "layer_headline_fraction",
                     "baseline_headline_fraction"):
            trend = trend_test(steps, per_step[name], seed=seed)
            for key in ("slope", "ci_low", "ci_high", "verdict"):
                out_attrs[f"trend_{name}_{key}"] = trend[key]
        out_attrs["trend_method"] = (
            "OLS slope of the value vs log10(step) over checkpoints with step > 0; 95% "
            "pairs-bootstrap interval (2000 resamples of checkpoints)")
    return records.new_record(data, coords=coords, kind="redundancy", config=config, seed=seed,
                              attrs=out_attrs)
