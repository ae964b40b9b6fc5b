"""MQAR: multi-query associative recall (Zoology style), in SRCD's batch format.

A sanity check for the retrieval machinery with nothing to consolidate: every binding is novel.
Each sequence opens with ``n_pairs`` binding events (distinct random keys, random values), then
queries every one of those keys exactly once, in random order, at positions after the bindings
whose distance from the end of the binding block follows Zoology's power law
(weight ``gap ** (power_a - 1)``, so short gaps are more likely). All other events are blank
filler (``kind`` 0, zero observation, no dynamics target). Time is regular (``dt`` = 1).

Accuracy is averaged over query positions, as in Zoology. Splits never share a binding (the same
value-third partition as SRCD's ``novel_split="pairs"``).

Differences from Zoology's generator: one event shows a key AND its value (Zoology uses two
tokens), and filler events are blank rather than random vocabulary tokens.

Examples
--------
>>> from cramcog.tasks.mqar import MQAR, MQARConfig
>>> batch = MQAR(MQARConfig(seq_len=64, n_pairs=8)).sample(2, "train", seed=0)
>>> batch.kind[0, :8].tolist(), int((batch.kind == 2).sum())
([1, 1, 1, 1, 1, 1, 1, 1], 16)
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import numpy as np

from cramcog.tasks.batch import (IGNORE_INDEX, KIND_BINDING, KIND_QUERY, QUERY_NOVEL,
                                 SRCDBatch)
from cramcog.tasks.bindings import NovelBindings, split_index
from cramcog.tasks.srcd import _check_float, _check_int


@dataclass(frozen=True)
class MQARConfig:
    """Multi-query associative recall settings.

    Examples
    --------
    >>> MQARConfig(seq_len=16, n_pairs=10)
    Traceback (most recent call last):
    ...
    ValueError: MQARConfig.n_pairs = 10 needs 2 x n_pairs <= seq_len (16): lower n_pairs
    """

    seq_len: int = 256       # events per sequence
    n_pairs: int = 16        # key-value bindings per sequence, each queried once (Zoology: 4-64)
    n_keys: int = 256        # key ids 1..n_keys
    n_values: int = 256      # value ids 1..n_values
    power_a: float = 0.01    # query-gap law: weight gap**(power_a - 1) (Zoology's default 0.01)
    obs_dim: int = 1         # width of the (all-zero) observation field, for model compatibility
    seed: int = 0            # task seed (the split partition of bindings)

    def __post_init__(self):
        o = "MQARConfig"
        _check_int(o, "seq_len", self.seq_len, 2)
        _check_int(o, "n_pairs", self.n_pairs, 1)
        if 2 * self.n_pairs > self.seq_len:
            raise ValueError(f"{o}.n_pairs = {self.n_pairs} needs 2 x n_pairs <= seq_len "
                             f"({self.seq_len}): lower n_pairs")
        _check_int(o, "n_keys", self.n_keys, self.n_pairs)
        _check_int(o, "n_values", self.n_values, 3)
        _check_float(o, "power_a", self.power_a, 0.0, 1.0, low_open=True)
        _check_int(o, "obs_dim", self.obs_dim, 1)
        _check_int(o, "seed", self.seed, 0)

    @property
    def attention_floor(self) -> float:
        """Fraction of events that are queries (all of them need attention)."""
        return self.n_pairs / self.seq_len

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


class MQAR:
    """The MQAR generator.

    Examples
    --------
    >>> b = MQAR(MQARConfig(seq_len=32, n_pairs=4)).sample(3, "test", seed=1)
    >>> r, q = (b.kind == 2).nonzero()
    >>> bool((b.value[r, b.pair_pos[r, q]] == b.target[r, q]).all())
    True
    """

    def __init__(self, config: MQARConfig | None = None):
        config = MQARConfig() if config is None else config
        if not isinstance(config, MQARConfig):
            raise TypeError(f"MQAR needs an MQARConfig, got {type(config).__name__}")
        self.config = cfg = config
        self.novel = NovelBindings(cfg.seed, cfg.n_keys, cfg.n_values,
                                   recurring_keys=np.zeros(0, np.int64), mode="pairs")
        gaps = np.arange(1, cfg.seq_len - cfg.n_pairs + 1, dtype=float)
        self._log_w = (cfg.power_a - 1.0) * np.log(gaps)   # query slot weights, slot n_pairs + i

    @property
    def attention_floor(self) -> float:
        return self.config.attention_floor

    def sample(self, batch_size: int, split: str = "train", *, seed: int) -> SRCDBatch:
        """Draw a batch (same fields as :class:`~cramcog.tasks.SRCDBatch`).

        Examples
        --------
        >>> b = MQAR(MQARConfig(seq_len=40, n_pairs=5)).sample(2, "val", seed=0)
        >>> b.obs.shape, int(b.dyn_mask.sum())
        ((2, 40, 1), 0)
        """
        _check_int("sample", "batch_size", batch_size, 1)
        _check_int("sample", "seed", seed, 0)
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, split_index(split), seed, 1])
        B, N, n = batch_size, cfg.seq_len, cfg.n_pairs
        rows = np.arange(B)[:, None]
        keys, vals = self.novel.draw(rng, split, B, n)                            # (B, n)
        # query positions: n distinct slots after the bindings, power-law in the gap (Gumbel top-k)
        scores = self._log_w + rng.gumbel(size=(B, N - n))
        qpos = np.argpartition(-scores, n - 1, axis=1)[:, :n] + n                 # (B, n)
        order = np.argsort(rng.random((B, n)), axis=1)                           # random key order
        bpos = np.broadcast_to(np.arange(n), (B, n))

        kind = np.zeros((B, N), np.int64)
        kind[:, :n], kind[rows, qpos] = KIND_BINDING, KIND_QUERY
        key = np.zeros((B, N), np.int64)
        key[:, :n] = keys
        key[rows, qpos] = np.take_along_axis(keys, order, axis=1)
        value = np.zeros((B, N), np.int64)
        value[:, :n] = vals
        target = np.full((B, N), IGNORE_INDEX, np.int64)
        target[rows, qpos] = np.take_along_axis(vals, order, axis=1)
        query_kind = np.where(kind == KIND_QUERY, QUERY_NOVEL, 0)
        pair_pos = np.full((B, N), -1, np.int64)
        pair_pos[rows, qpos] = np.take_along_axis(bpos, order, axis=1)
        binding_kind = np.where(kind == KIND_BINDING, QUERY_NOVEL, 0)
        category = np.where(kind == KIND_QUERY, 3, kind)
        dt = np.ones((B, N), np.float32)
        dt[:, 0] = 0.0
        zeros_p = np.zeros((B, N, cfg.obs_dim), np.float32)
        return SRCDBatch(
            kind=kind, obs=zeros_p, key=key, value=value, target=target, query_kind=query_kind,
            time=np.cumsum(dt, axis=1), dt=dt, dyn_target=zeros_p.copy(),
            dyn_mask=np.zeros((B, N), bool), category=category,
            next_dt=np.zeros((B, N), np.float32), pattern=np.full((B, N), -1, np.int64),
            pair_pos=pair_pos, binding_kind=binding_kind, config=cfg,
            attention_floor=self.attention_floor)
