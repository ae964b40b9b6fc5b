"""Theorem 1, empirically: attention a router spends on recurring patterns vs f x n.

The paper's Theorem 1: a static router needs Omega(f n) attention for a pattern that recurs with
frequency f in sequences of length n. Measured here on trained models: SRCD test sequences where the
recurring-query rate f and the length n vary while the NOVEL-query rate stays fixed (so the
attention that is really needed, the floor, is the same fraction everywhere). For each model we
count, per sequence, the recurring-query tokens that executed attention in at least one layer
(``attention_tokens``); a router that cannot consolidate attends them all (coefficient ~1 on f n),
one that has consolidated them does not (coefficient ~0). Counts come from the routes the model
really took (argmax routes, inference mode), never from a formula.

Command: ``cramcog experiment scaling NAME=RUN_DIR ... --out scaling.nc``.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import xarray as xr

from cramcog import records
from cramcog.tasks.batch import CATEGORY_NAMES

RECURRING = CATEGORY_NAMES.index("recurring_query")
NOVEL = CATEGORY_NAMES.index("novel_query")


@dataclass
class ScalingConfig:
    """The (f, n) grid of the Theorem-1 experiment.

    Examples
    --------
    >>> ScalingConfig().n_cells
    20
    >>> ScalingConfig(seq_lens=(0,))
    Traceback (most recent call last):
    ...
    ValueError: ScalingConfig.seq_lens must be positive ints, got (0,)
    """
    recurring_rates: tuple = (0.005, 0.01, 0.02, 0.035, 0.07)  # f: recurring queries per event
    seq_lens: tuple = (128, 256, 512, 1024)   # n: events per sequence
    novel_rate: float | None = None   # novel queries per event (None: the training task's)
    n_sequences: int = 8              # test sequences per (f, n) cell
    seed: int = 0                     # seeds the test sequences (paired across models)

    def __post_init__(self):
        self.recurring_rates = tuple(float(f) for f in self.recurring_rates)
        self.seq_lens = tuple(self.seq_lens)
        if not self.recurring_rates or not all(0 < f < 0.5 for f in self.recurring_rates):
            raise ValueError(f"ScalingConfig.recurring_rates must be rates in (0, 0.5), got "
                             f"{self.recurring_rates}")
        if not self.seq_lens or not all(isinstance(n, (int, np.integer)) and n > 0
                                        for n in self.seq_lens):
            raise ValueError(f"ScalingConfig.seq_lens must be positive ints, got {self.seq_lens}")
        if self.novel_rate is not None and not 0 < self.novel_rate < 0.5:
            raise ValueError(f"ScalingConfig.novel_rate must be in (0, 0.5) or None, got "
                             f"{self.novel_rate}")
        if not isinstance(self.n_sequences, int) or self.n_sequences < 1:
            raise ValueError(f"ScalingConfig.n_sequences must be a positive int, got "
                             f"{self.n_sequences!r}")

    @property
    def n_cells(self) -> int:
        return len(self.recurring_rates) * len(self.seq_lens)


def cell_task(base: dict, f: float, n: int, novel_rate: float) -> dict:
    """SRCD arguments for one cell: length n, recurring-query rate f, the novel rate kept.

    Examples
    --------
    >>> t = cell_task({"seq_len": 256, "n_patterns": 50}, 0.02, 512, 0.015)
    >>> t["seq_len"], round(t["query_rate"], 3), round(t["recurring_fraction"], 3)
    (512, 0.035, 0.571)
    """
    rate = f + novel_rate
    return {**base, "seq_len": int(n), "query_rate": rate, "recurring_fraction": f / rate,
            "distance_max": min(int(base.get("distance_max", 512)), max(1, int(n) - 1))}


def count_attention(model, batch) -> dict[str, float]:
    """Per-sequence means of the attention a model executed on one batch (argmax routes).

    Returns attention_tokens (recurring queries attended in any layer), novel_attention_tokens,
    recurring_queries, novel_queries, layer_attention_tokens (tokens x layers that attended),
    accuracy_recurring, accuracy_novel.
    """
    import torch

    from cramcog.device import model_device
    from cramcog.model.router import EPISODIC
    from cramcog.train import accuracy
    device = model_device(model)
    batch = {k: v.to(device) for k, v in batch.items()}
    with torch.no_grad():
        out = model(batch, sample=False)
    cat = batch["category"]                                                  # (B, N)
    if out.layers:
        attended = torch.stack([t.route == EPISODIC for t in out.layers])   # (L, B, N)
    else:                                                                    # dense baseline
        attended = torch.ones((1, *cat.shape), dtype=torch.bool, device=cat.device)
    any_layer = attended.any(0)                                              # (B, N)
    B = cat.shape[0]
    acc = accuracy(out.value_logits, batch)
    return {"attention_tokens": float((any_layer & (cat == RECURRING)).sum()) / B,
           "novel_attention_tokens": float((any_layer & (cat == NOVEL)).sum()) / B,
           "recurring_queries": float((cat == RECURRING).sum()) / B,
           "novel_queries": float((cat == NOVEL).sum()) / B,
           "layer_attention_tokens": float(attended.sum()) / B,
           "accuracy_recurring": acc["recurring"], "accuracy_novel": acc["novel"]}


def scaling_experiment(runs: Mapping[str, str | os.PathLike],
                       config: ScalingConfig | None = None, *,
                       device: str = "auto") -> xr.Dataset:
    """Attention on recurring patterns over an (f, n) grid, for each trained model.

    Parameters
    ----------
    runs
        ``{router name: run folder}`` of finished training runs (``record.nc`` + ``model.pt``),
        e.g. ``{"cram": "runs/small", "no_consolidation": "runs/small-nocons"}``.
    config
        The grid (:class:`ScalingConfig`).
    device
        Where the models run: "auto" (CUDA when present), "cpu", "cuda" or "cuda:N"; recorded
        in the ``device`` attr.

    Returns
    -------
    xarray.Dataset
        Record kind "scaling", dims (router, frequency, seq_len): attention_tokens and the other
        counts of :func:`count_attention`; :func:`cramcog.figures.scaling_frame` fits the slopes.

    Examples
    --------
    >>> ds = scaling_experiment({"cram": "runs/small"})                  # doctest: +SKIP
    """
    from cramcog.device import resolve_device
    from cramcog.tasks import SRCD, SRCDConfig
    from cramcog.train import _seed, load_model

    config = config or ScalingConfig()
    device = str(resolve_device(device))      # a bad or absent device fails before any work
    if not runs:
        raise ValueError("scaling_experiment needs at least one {name: run folder}")
    names = list(runs)
    fields = ("attention_tokens", "novel_attention_tokens", "recurring_queries", "novel_queries",
              "layer_attention_tokens", "accuracy_recurring", "accuracy_novel")
    shape = (len(names), len(config.recurring_rates), len(config.seq_lens))
    data = {k: np.full(shape, np.nan) for k in fields}
    sources = {}
    for r, name in enumerate(names):
        folder = Path(runs[name])
        if not (folder / "model.pt").exists():
            raise FileNotFoundError(f"{folder}/model.pt not found: give finished training run "
                                    f"folders (cramcog train --out DIR), got {name}={folder}")
        model = load_model(folder, device)
        base = records.open(folder / "record.nc").cram.config["task"]
        novel = config.novel_rate
        if novel is None:
            trained = SRCDConfig(**base)
            novel = trained.attention_floor
        sources[name] = str(folder)
        for i, f in enumerate(config.recurring_rates):
            for j, n in enumerate(config.seq_lens):
                task = SRCD(SRCDConfig(**cell_task(base, f, n, novel)))
                batch = task.sample(config.n_sequences, split="test",
                                    seed=_seed(config.seed, i, j)).to_torch()
                for k, v in count_attention(model, batch).items():
                    data[k][r, i, j] = v
    units = {"attention_tokens": "recurring-query tokens that executed attention (any layer) "
                                 "per sequence",
             "novel_attention_tokens": "novel-query tokens that executed attention per sequence",
             "layer_attention_tokens": "tokens x layers that executed attention per sequence"}
    variables = {k: (("router", "frequency", "seq_len"), v, {"long_name": units.get(k, k)})
                 for k, v in data.items()}
    return records.new_record(
        variables, kind="scaling", config=dataclasses.asdict(config), seed=config.seed,
        coords={"router": np.array(names), "frequency": np.array(config.recurring_rates),
                "seq_len": np.array(config.seq_lens, dtype=np.int64)},
        attrs={"runs_json": json.dumps(sources), "device": device,
               "frequency_meaning": "recurring-query events per event (f); novel rate fixed"})


def proportionality(ds: xr.Dataset, router: str | None = None):
    """Least-squares coefficient beta (and its standard error) of attention_tokens = beta f n.

    beta ~ 1: the router attends every recurring occurrence (Theorem 1's static bound);
    beta ~ 0: it has consolidated them.

    Examples
    --------
    >>> import numpy as np
    >>> f, n = np.array([0.01, 0.02]), np.array([100, 200])
    >>> att = np.stack([np.outer(f, n), 0 * np.outer(f, n)])
    >>> ds = xr.Dataset({"attention_tokens": (("router", "frequency", "seq_len"), att)},
    ...                 coords={"router": ["static", "cram"], "frequency": f, "seq_len": n})
    >>> {k: round(v[0], 3) for k, v in proportionality(ds).items()}
    {'static': 1.0, 'cram': 0.0}
    """
    out = {}
    for name in ([router] if router else [str(r) for r in ds.router.values]):
        att = ds["attention_tokens"].sel(router=name)
        x = (att.frequency * att.seq_len).values.ravel()
        y = att.values.ravel()
        ok = np.isfinite(y)
        x, y = x[ok], y[ok]
        beta = float(x @ y / (x @ x))
        resid = y - beta * x
        se = float(np.sqrt(resid @ resid / max(1, x.size - 1) / (x @ x)))
        out[name] = (beta, se)
    return out


__all__ = ["ScalingConfig", "scaling_experiment", "count_attention", "cell_task",
           "proportionality"]
