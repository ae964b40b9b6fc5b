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
from typing import Mapping, Sequence

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
    from cramcog.train import accuracy
    device = model_device(model)
    batch = {k: v.to(device) for k, v in batch.items()}
    with torch.no_grad():
        out = model(batch, sample=False)
    cat = batch["category"]                                                  # (B, N)
    if out.layers:
        # executed attention (every token on the dense path), not only the routing decision
        attended = torch.stack([t.executed for t in out.layers])               # (L, B, N)
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


def _run_folders(runs: Mapping[str, str | os.PathLike | Sequence[str | os.PathLike]]
                 ) -> dict[tuple[str, int], tuple[Path, dict]]:
    """``{(router, training seed): (folder, its training task)}`` from ``{router: folder or
    [folders]}``."""
    from cramcog.configs import TrainConfig

    found = {}
    for name, folders in runs.items():
        folders = [folders] if isinstance(folders, (str, os.PathLike)) else list(folders)
        if not folders:
            raise ValueError(f"scaling_experiment: router {name!r} has no run folder")
        for folder in map(Path, folders):
            if not (folder / "model.pt").exists():
                raise FileNotFoundError(f"{folder}/model.pt not found: give finished training "
                                        f"run folders (cramcog train --out DIR), got "
                                        f"{name}={folder}")
            cfg = TrainConfig.from_dict(records.open(folder / "record.nc").cram.config)
            if (name, cfg.seed) in found:
                raise ValueError(f"scaling_experiment: two runs of {name!r} have training seed "
                                 f"{cfg.seed} ({found[(name, cfg.seed)][0]} and {folder}); give "
                                 "one per seed")
            found[(name, cfg.seed)] = (folder, cfg.task)
    return found


def scaling_experiment(runs: Mapping[str, str | os.PathLike | Sequence[str | os.PathLike]],
                       config: ScalingConfig | None = None, *,
                       device: str = "auto") -> xr.Dataset:
    """Attention on recurring patterns over an (f, n) grid, for each trained model and seed.

    Parameters
    ----------
    runs
        ``{router name: run folder or [run folders, one per training seed]}`` of finished
        training runs (``record.nc`` + ``model.pt``), e.g. ``{"cram": ["runs/c1", "runs/c2"],
        "no_consolidation": ["runs/n1", "runs/n2"]}``. The seed coordinate is each run's
        training seed; a router without a run of some seed has NaN there.
    config
        The grid (:class:`ScalingConfig`). Test sequences depend on ``config.seed`` and the
        cell only, so every model sees the same sequences.
    device
        Where the models run: "auto" (CUDA when present), "cpu", "cuda" or "cuda:N"; recorded
        in the ``device`` attr.

    Returns
    -------
    xarray.Dataset
        Record kind "scaling", dims (router, seed, frequency, seq_len): attention_tokens and the
        other counts of :func:`count_attention`; :func:`proportionality` fits beta per seed,
        :func:`cramcog.figures.scaling_frame` the slopes.

    Examples
    --------
    >>> ds = scaling_experiment({"cram": ["runs/small"]})                # doctest: +SKIP
    """
    from cramcog.device import resolve_device
    from cramcog.tasks import SRCD, SRCDConfig
    from cramcog.train import _seed, load_model

    config = config or ScalingConfig()
    device = str(resolve_device(device))      # a bad or absent device fails before any work
    if not runs:
        raise ValueError("scaling_experiment needs at least one {name: run folder}")
    found = _run_folders(runs)
    names = list(runs)
    seeds = sorted({s for _, s in found})
    fields = ("attention_tokens", "novel_attention_tokens", "recurring_queries", "novel_queries",
              "layer_attention_tokens", "accuracy_recurring", "accuracy_novel")
    shape = (len(names), len(seeds), len(config.recurring_rates), len(config.seq_lens))
    data = {k: np.full(shape, np.nan) for k in fields}
    for (name, seed), (folder, base) in found.items():
        r, s = names.index(name), seeds.index(seed)
        model = load_model(folder, device)
        novel = config.novel_rate
        if novel is None:
            novel = SRCDConfig(**base).attention_floor
        for i, f in enumerate(config.recurring_rates):
            for j, n in enumerate(config.seq_lens):
                task = SRCD(SRCDConfig(**cell_task(base, f, n, novel)))
                batch = task.sample(config.n_sequences, split="test",
                                    seed=_seed(config.seed, i, j)).to_torch()
                for k, v in count_attention(model, batch).items():
                    data[k][r, s, i, j] = v
    units = {"attention_tokens": "recurring-query tokens that executed attention (any layer) "
                                 "per sequence",
             "novel_attention_tokens": "novel-query tokens that executed attention per sequence",
             "layer_attention_tokens": "tokens x layers that executed attention per sequence"}
    dims = ("router", "seed", "frequency", "seq_len")
    variables = {k: (dims, v, {"long_name": units.get(k, k)}) for k, v in data.items()}
    return records.new_record(
        variables, kind="scaling", config=dataclasses.asdict(config), seed=config.seed,
        coords={"router": np.array(names), "seed": np.array(seeds, dtype=np.int64),
                "frequency": np.array(config.recurring_rates),
                "seq_len": np.array(config.seq_lens, dtype=np.int64)},
        attrs={"runs_json": json.dumps({f"{k}/{s}": str(p) for (k, s), (p, _) in found.items()}),
               "device": device,
               "frequency_meaning": "recurring-query events per event (f); novel rate fixed"})


def _beta(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size == 0 or x @ x == 0:
        return np.nan, np.nan
    beta = float(x @ y / (x @ x))
    resid = y - beta * x
    return beta, float(np.sqrt(resid @ resid / max(1, x.size - 1) / (x @ x)))


def proportionality_by_seed(ds: xr.Dataset) -> "pd.DataFrame":
    """beta of attention_tokens = beta f n, per (router, seed), with its standard error.

    Examples
    --------
    >>> f, n = np.array([0.01, 0.02]), np.array([100, 200])
    >>> att = np.stack([[np.outer(f, n), 0.5 * np.outer(f, n)]])
    >>> ds = xr.Dataset({"attention_tokens": (("router", "seed", "frequency", "seq_len"), att)},
    ...                 coords={"router": ["static"], "seed": [1, 2], "frequency": f,
    ...                         "seq_len": n})
    >>> proportionality_by_seed(ds).beta.round(3).tolist()
    [1.0, 0.5]
    """
    import pandas as pd

    att = ds["attention_tokens"]
    if "seed" not in att.dims:
        att = att.expand_dims(seed=[int(ds.attrs.get("seed", -1))], axis=1)
    rows = []
    for router in att.router.values:
        for seed in att.seed.values:
            cell = att.sel(router=router, seed=seed)
            if not np.isfinite(cell.values).any():
                continue
            x = (cell.frequency * cell.seq_len).transpose(*cell.dims).values.ravel()
            beta, se = _beta(x, cell.values.ravel())
            rows.append({"router": str(router), "seed": int(seed), "beta": beta, "se": se})
    return pd.DataFrame(rows, columns=["router", "seed", "beta", "se"])


def proportionality(ds: xr.Dataset, router: str | None = None):
    """Least-squares coefficient beta (and its standard error) of attention_tokens = beta f n,
    per router, every seed's points pooled (:func:`proportionality_by_seed`: one per seed).

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
        x = (att.frequency * att.seq_len).broadcast_like(att).transpose(*att.dims).values
        out[name] = _beta(x.ravel(), att.values.ravel())
    return out


__all__ = ["ScalingConfig", "scaling_experiment", "count_attention", "cell_task",
           "proportionality", "proportionality_by_seed"]
