"""SRCD, "Sparse Retrieval in Continuous Dynamics": the CRAM paper's benchmark, made reproducible.

A sequence is ``seq_len`` events at irregular times (gaps drawn i.i.d. from ``gap_law``; the paper:
Pareto). Most events observe a continuous dynamical system (default Lorenz-63); a fraction
``query_rate`` are *queries* (a key is shown, its value must be answered) and as many are
*bindings* (a key and its value are shown), one binding per query, placed a uniform random
``distance_min .. distance_max`` positions before it. So every query can be answered by looking
back (attention), and the floor on useful attention is the novel-query rate. An episodic buffer
(attention window) of at least ``distance_max + 1`` events sees every binding.

- ``recurring_fraction`` of the queries use one of ``n_patterns`` *recurring* bindings, identical
  in every sequence of every split (a function of ``seed`` only; see
  :mod:`cramcog.tasks.bindings`): these can be consolidated into weights.
- the others use *novel* bindings, fresh random key -> value pairs per sequence, drawn so that the
  train / val / test splits never share one (``novel_split``). Novel and recurring keys are
  distinct sets, and keys are distinct within a sequence (one binding per key).

Counts are exact per sequence: ``n_queries = round(query_rate * seq_len)``, ``n_recurring =
round(recurring_fraction * n_queries)``; at the paper's defaults 102 queries (71 recurring, 31
novel) and 102 bindings in 2048 events, so the attention floor is 31 / 2048 = 1.51%.

Dynamics target: at an observation event the model predicts the NEXT observation (``dyn_target``,
``dyn_mask``). Its time is part of the observation schedule and is given as ``next_dt`` (time from
this event to the next observation); without it the target would mix the system's uncertainty
with the gap's, and with Pareto gaps the latter dominates. Models may use ``next_dt`` as an input.

Observations: states are standardised per component (statistics of the train split), projected
to ``obs_dim`` (identity when ``obs_dim`` equals the state dimension, else a fixed seeded random
projection re-standardised per output), then Gaussian noise of std ``obs_noise`` is added; so
observations have unit variance plus noise and ``obs_noise**2`` is the Dynamics-MSE floor.

Splits differ in everything random: layouts, gaps, novel bindings, and the dynamics (each split
has its own trajectory bank / system draws), so test dynamics are unseen trajectories too. A
nonlinear system's sequences are windows of the split's ``bank_size`` trajectories, each about
3x a sequence's time span long (random trajectory and offset per sequence); raise ``bank_size``
for more distinct training dynamics.

Randomness: a batch is a function of (task ``seed``, split, sequence ``seed``) only, drawn in a
fixed order (layout, keys, gaps, dynamics, noise). Two configs that differ only in a later stage
(e.g. a transfer variant with another system or gap law) get the same layouts and keys from the
same seeds, so such comparisons are paired.

Examples
--------
>>> from cramcog.tasks import SRCD, SRCDConfig
>>> task = SRCD(SRCDConfig(seq_len=256, bank_size=8, seed=0))
>>> batch = task.sample(4, split="train", seed=0)
>>> int((batch.kind == 2).sum(axis=1)[0]), task.config.n_queries
(13, 13)
>>> round(task.attention_floor, 4)
0.0156
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from cramcog.tasks import gaps as _gaps
from cramcog.tasks.batch import (IGNORE_INDEX, KIND_BINDING, KIND_OBSERVATION, KIND_QUERY,
                                 QUERY_NOVEL, QUERY_RECURRING, SRCDBatch)
from cramcog.tasks.bindings import NovelBindings, recurring_bindings, split_index
from cramcog.tasks.systems import make_system

_PROJECTION, _NORMALISE, _BANK = 201, 202, 203  # seed streams


def _check_int(owner: str, name: str, value, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}.{name} must be an int, got {type(value).__name__} {value!r}")
    if value < low or (high is not None and value > high):
        rng = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{owner}.{name} = {value!r} is out of range: must be {rng}")


def _check_float(owner: str, name: str, value, low: float, high: float,
                 low_open: bool = False, high_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{owner}.{name} must be a number, got {type(value).__name__} {value!r}")
    ok = np.isfinite(value) or (high == np.inf and value == np.inf)
    ok = ok and (value > low if low_open else value >= low)
    ok = ok and (value < high if high_open else value <= high)
    if not ok:
        lb, hb = ("(" if low_open else "["), (")" if high_open else "]")
        raise ValueError(f"{owner}.{name} = {value!r} is out of range: must be in "
                         f"{lb}{low}, {high}{hb}")


@dataclass(frozen=True)
class SRCDConfig:
    """Every free choice of the SRCD generator (defaults: the paper's facts where it states them).

    Examples
    --------
    >>> cfg = SRCDConfig(seq_len=512, n_patterns=2000)
    >>> cfg.n_queries, cfg.n_recurring, cfg.n_novel
    (26, 18, 8)
    >>> SRCDConfig(query_rate=0.6)
    Traceback (most recent call last):
    ...
    ValueError: SRCDConfig.query_rate = 0.6 is out of range: must be in [0, 0.25]
    """

    # --- layout
    seq_len: int = 2048               # N events per sequence (paper: 2048)
    query_rate: float = 0.05          # fraction of events that are queries (paper: 5%)
    recurring_fraction: float = 0.7   # fraction of queries using a recurring binding (paper: 70%)
    distance_min: int = 1             # binding placed distance_min..distance_max events before
    distance_max: int = 512           #   its query, uniformly (clipped at the sequence start)
    # --- bindings
    n_patterns: int = 100             # recurring bindings, same in every sequence (paper: 100)
    pattern_zipf: float = 0.0         # recurring pattern i drawn with weight (i+1)**-zipf
    recurring_overlap: float = 1.0    # share of the seed's base recurring set kept (transfer)
    n_keys: int = 4096                # key ids 1..n_keys (recurring and novel keys are disjoint)
    n_values: int = 256               # value ids 1..n_values
    novel_split: str = "pairs"        # "pairs": splits bind keys to disjoint value thirds;
                                      # "keys": splits use disjoint novel key pools
    novel_key_fractions: tuple = (0.8, 0.1, 0.1)  # train/val/test key shares ("keys" mode)
    # --- dynamics
    system: str = "lorenz"            # "lorenz", "vanderpol", "oscillators" or registered
    system_params: Mapping[str, float] = field(default_factory=dict)  # overrides of defaults
    obs_dim: int = 3                  # P, observation dimension
    obs_noise: float = 0.01           # std of Gaussian noise on standardised observations
    gap_law: str = "pareto"           # "pareto" (paper), "lomax", "exponential", "fixed"
    gap_shape: float = 2.5            # Pareto tail index (> 1: finite mean gap)
    gap_scale: float = 0.01           # Pareto minimum gap (time units; periods are ~1)
    integration_step: float = 0.01    # RK4 step / Hermite grid for nonlinear systems
    bank_size: int = 64               # trajectories integrated per split (nonlinear systems)
    # --- seed
    seed: int = 0                     # task seed: recurring bindings, splits, banks

    def __post_init__(self):
        o = "SRCDConfig"
        _check_int(o, "seq_len", self.seq_len, 2)
        _check_float(o, "query_rate", self.query_rate, 0, 0.25)  # <= 50% of events paired
        _check_float(o, "recurring_fraction", self.recurring_fraction, 0, 1)
        _check_int(o, "distance_min", self.distance_min, 1, self.seq_len - 1)
        _check_int(o, "distance_max", self.distance_max, self.distance_min)
        _check_int(o, "n_patterns", self.n_patterns, 1)
        _check_float(o, "pattern_zipf", self.pattern_zipf, 0, np.inf, high_open=True)
        _check_float(o, "recurring_overlap", self.recurring_overlap, 0, 1)
        _check_int(o, "n_values", self.n_values, 3 if self.novel_split == "pairs" else 2)
        _check_int(o, "n_keys", self.n_keys, 1)
        if self.novel_split not in ("pairs", "keys"):
            raise ValueError(f"{o}.novel_split = {self.novel_split!r} is unknown; choose "
                             "'pairs' or 'keys'")
        fr = tuple(float(f) for f in self.novel_key_fractions)
        if len(fr) != 3 or min(fr) <= 0 or abs(sum(fr) - 1) > 1e-9:
            raise ValueError(f"{o}.novel_key_fractions = {self.novel_key_fractions!r} must be "
                             "3 positive shares (train, val, test) summing to 1")
        object.__setattr__(self, "novel_key_fractions", fr)
        object.__setattr__(self, "system_params", dict(self.system_params or {}))
        make_system(self.system, self.system_params)  # validates name and parameters
        _check_int(o, "obs_dim", self.obs_dim, 1)
        _check_float(o, "obs_noise", self.obs_noise, 0, np.inf, high_open=True)
        _gaps.check_gap_law(self.gap_law, float(self.gap_shape), float(self.gap_scale), o)
        _check_float(o, "integration_step", self.integration_step, 0, np.inf, low_open=True,
                     high_open=True)
        _check_int(o, "bank_size", self.bank_size, 1)
        _check_int(o, "seed", self.seed, 0)
        # feasibility: one binding per query, both inside the sequence, queries after distance_min
        room = self.seq_len - self.distance_min
        if 2 * self.n_queries > room:
            raise ValueError(
                f"{o}.query_rate = {self.query_rate} needs {self.n_queries} queries + "
                f"{self.n_queries} bindings, more than the {room} positions available "
                f"(seq_len - distance_min); lower query_rate or raise seq_len")
        used = len(self.recurring_slots)
        need = int(self.recurring_slots.max()) + 1 + self.n_novel
        if self.n_keys < need:
            raise ValueError(
                f"{o}.n_keys = {self.n_keys} is too small: the recurring set uses key-order "
                f"slots up to {need - self.n_novel - 1} ({used} keys) and each sequence needs "
                f"{self.n_novel} more novel keys; use n_keys >= {need} (more leaves room for "
                "the novel pools of every split)")

    def __hash__(self) -> int:  # system_params is a dict, so hash the JSON form
        return hash(self.to_json())

    # ------------------------------------------------------------------ derived counts
    @property
    def n_queries(self) -> int:
        """Queries (= bindings) per sequence."""
        return int(round(self.query_rate * self.seq_len))

    @property
    def n_recurring(self) -> int:
        """Recurring queries per sequence."""
        return int(round(self.recurring_fraction * self.n_queries))

    @property
    def n_novel(self) -> int:
        """Novel queries per sequence."""
        return self.n_queries - self.n_recurring

    @property
    def attention_floor(self) -> float:
        """Fraction of events that are novel queries: the least attention that answers all."""
        return self.n_novel / self.seq_len

    @property
    def recurring_slots(self) -> np.ndarray:
        from cramcog.tasks.bindings import recurring_slots
        return recurring_slots(self.n_patterns, self.recurring_overlap)

    @property
    def mean_gap(self) -> float:
        return _gaps.gap_mean(self.gap_law, float(self.gap_shape), float(self.gap_scale))

    # ------------------------------------------------------------------ conversion
    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (JSON-serialisable)."""
        d = dataclasses.asdict(self)
        d["novel_key_fractions"] = list(d["novel_key_fractions"])
        return d

    def to_json(self) -> str:
        """The config as one JSON string (for a record's ``config_json``)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SRCDConfig":
        """Inverse of :meth:`to_dict`; unknown names raise ValueError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"SRCDConfig has no fields {unknown}; valid fields: {sorted(names)}")
        d = dict(d)
        if "novel_key_fractions" in d:
            d["novel_key_fractions"] = tuple(d["novel_key_fractions"])
        return cls(**d)

    def variant(self, **changes) -> "SRCDConfig":
        """A transfer variant: same seed, hence the same base recurring bindings, with changes.

        ``recurring_overlap`` < 1 keeps that share of the recurring bindings and replaces the
        rest with fresh ones; change dynamics (``system``), gap law, query rate freely. Keep
        ``n_keys`` / ``n_values`` so the bindings (and a model's vocabulary) stay compatible.

        Examples
        --------
        >>> v = SRCDConfig().variant(system="vanderpol", recurring_overlap=0.5)
        >>> v.system, v.seed, v.recurring_overlap
        ('vanderpol', 0, 0.5)
        """
        if "seed" in changes:
            raise ValueError("variant() keeps the task seed (it fixes the recurring bindings); "
                             "use dataclasses.replace(config, seed=...) for an unrelated task")
        if "system" in changes and changes["system"] != self.system \
                and "system_params" not in changes:
            changes["system_params"] = {}  # the old system's parameters do not apply
        return dataclasses.replace(self, **changes)


class SRCD:
    """The SRCD generator: holds the recurring bindings and samples seeded batches.

    Parameters
    ----------
    config : SRCDConfig

    Examples
    --------
    >>> task = SRCD(SRCDConfig(seq_len=128, bank_size=4))
    >>> a = task.sample(2, "test", seed=3); b = task.sample(2, "test", seed=3)
    >>> bool((a.obs == b.obs).all() and (a.key == b.key).all())
    True
    """

    def __init__(self, config: SRCDConfig | None = None):
        config = SRCDConfig() if config is None else config
        if not isinstance(config, SRCDConfig):
            raise TypeError(f"SRCD needs an SRCDConfig, got {type(config).__name__}")
        self.config = cfg = config
        self.system = make_system(cfg.system, cfg.system_params)
        self.recurring_keys, self.recurring_values = recurring_bindings(
            cfg.seed, cfg.n_patterns, cfg.n_keys, cfg.n_values, cfg.recurring_overlap)
        self.novel = NovelBindings(cfg.seed, cfg.n_keys, cfg.n_values, self.recurring_keys,
                                   cfg.novel_split, cfg.novel_key_fractions)
        for split in ("train", "val", "test"):
            if len(self.novel.pool(split)) < cfg.n_novel:
                raise ValueError(
                    f"SRCDConfig.n_keys = {cfg.n_keys} leaves split {split!r} only "
                    f"{len(self.novel.pool(split))} novel keys, but each sequence needs "
                    f"{cfg.n_novel}; raise n_keys or novel_key_fractions for that split")
        # recurring pattern popularity (Zipf; uniform at zipf = 0)
        w = (np.arange(cfg.n_patterns) + 1.0) ** -float(cfg.pattern_zipf)
        self.pattern_weights = w / w.sum()
        self._sources: dict[str, Any] = {}
        self._obs_map = None  # (mean (D,), std (D,), projection (P, D), out_std (P,))

    # ------------------------------------------------------------------ properties
    @property
    def attention_floor(self) -> float:
        """Fraction of events that are novel queries (see :attr:`SRCDConfig.attention_floor`)."""
        return self.config.attention_floor

    def summary(self) -> dict[str, Any]:
        """Flat facts about the task (str / int / float), e.g. for a record's attrs.

        Examples
        --------
        >>> s = SRCD(SRCDConfig()).summary()
        >>> s["n_queries"], s["n_novel"], s["state_dim"], round(s["attention_floor"], 4)
        (102, 31, 3, 0.0151)
        """
        cfg = self.config
        return {"task": "srcd", "system": cfg.system, "state_dim": self.system.state_dim,
                "obs_dim": cfg.obs_dim, "seq_len": cfg.seq_len, "n_queries": cfg.n_queries,
                "n_recurring": cfg.n_recurring, "n_novel": cfg.n_novel,
                "n_patterns": cfg.n_patterns, "attention_floor": float(self.attention_floor),
                "query_rate": float(cfg.n_queries / cfg.seq_len), "mean_gap": cfg.mean_gap,
                "gap_law": cfg.gap_law, "novel_split": cfg.novel_split, "seed": cfg.seed,
                "config_json": cfg.to_json()}

    @property
    def bank_duration(self) -> float:
        """Time span integrated per bank trajectory: 3x a sequence's expected span."""
        return max(1.0, 3.0 * self.config.seq_len * self.config.mean_gap)

    def _source(self, split: str):
        if split not in self._sources:
            cfg = self.config
            self._sources[split] = self.system.make_source(
                seed=int(np.random.SeedSequence([cfg.seed, _BANK, split_index(split)])
                         .generate_state(1)[0]),
                n_traj=cfg.bank_size, duration=self.bank_duration, step=cfg.integration_step)
        return self._sources[split]

    def _observation_map(self):
        """Standardisation + projection, from train-split statistics (computed once)."""
        if self._obs_map is None:
            cfg, dim = self.config, self.system.state_dim
            rng = np.random.default_rng([cfg.seed, _NORMALISE])
            ref = self._source("train").reference_states(rng, cfg.seq_len * cfg.mean_gap)  # (n, D)
            mean, std = ref.mean(0), ref.std(0) + 1e-12
            if cfg.obs_dim == dim:
                proj = np.eye(dim)
            else:
                proj = np.random.default_rng([cfg.seed, _PROJECTION]).normal(
                    size=(cfg.obs_dim, dim)) / np.sqrt(dim)
            out_std = (((ref - mean) / std) @ proj.T).std(0) + 1e-12
            self._obs_map = (mean, std, proj, out_std)
        return self._obs_map

    def observe(self, states: np.ndarray) -> np.ndarray:
        """Noise-free observations (..., P) of states (..., D): standardise, project, rescale."""
        mean, std, proj, out_std = self._observation_map()
        return (((states - mean) / std) @ proj.T) / out_std

    # ------------------------------------------------------------------ sampling
    def sample(self, batch_size: int, split: str = "train", *, seed: int) -> SRCDBatch:
        """Draw a batch of sequences.

        Parameters
        ----------
        batch_size : int
            B, number of sequences.
        split : {"train", "val", "test"}
            Splits never share novel bindings or dynamics trajectories.
        seed : int
            Sequence seed: the same (task seed, split, seed) gives an identical batch.

        Returns
        -------
        SRCDBatch

        Examples
        --------
        >>> b = SRCD(SRCDConfig(seq_len=200, bank_size=2)).sample(3, "val", seed=0)
        >>> b.obs.shape, int(b.category.max())
        ((3, 200, 3), 3)
        """
        _check_int("sample", "batch_size", batch_size, 1)
        _check_int("sample", "seed", seed, 0)
        s_idx = split_index(split)
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, s_idx, seed])
        B, N, nq = batch_size, cfg.seq_len, cfg.n_queries
        rows = np.arange(B)[:, None]

        qpos, bpos = place_pairs(rng, B, N, nq, cfg.distance_min, cfg.distance_max)  # (B, nq)
        # exactly n_recurring recurring queries per row, at random query slots
        is_rec = np.argsort(rng.random((B, nq)), axis=1) < cfg.n_recurring          # (B, nq)
        pattern = self._draw_patterns(rng, B)                                        # (B, n_rec)
        nov_keys, nov_vals = self.novel.draw(rng, split, B, cfg.n_novel)             # (B, n_nov)
        keys = np.empty((B, nq), np.int64)
        vals = np.empty((B, nq), np.int64)
        pat = np.full((B, nq), -1, np.int64)
        keys[is_rec], vals[is_rec] = (self.recurring_keys[pattern].ravel(),
                                      self.recurring_values[pattern].ravel())
        pat[is_rec] = pattern.ravel()
        keys[~is_rec], vals[~is_rec] = nov_keys.ravel(), nov_vals.ravel()

        kind = np.zeros((B, N), np.int64)
        kind[rows, qpos], kind[rows, bpos] = KIND_QUERY, KIND_BINDING
        key = np.zeros((B, N), np.int64)
        key[rows, qpos], key[rows, bpos] = keys, keys
        value = np.zeros((B, N), np.int64)
        value[rows, bpos] = vals
        target = np.full((B, N), IGNORE_INDEX, np.int64)
        target[rows, qpos] = vals
        qkind = np.where(is_rec, QUERY_RECURRING, QUERY_NOVEL)
        query_kind = np.zeros((B, N), np.int64)
        query_kind[rows, qpos] = qkind
        binding_kind = np.zeros((B, N), np.int64)
        binding_kind[rows, bpos] = qkind
        category = kind.copy()                      # 0 observation, 1 binding
        category[rows, qpos] = qkind + 1            # 2 recurring query, 3 novel query
        pattern_at = np.full((B, N), -1, np.int64)
        pattern_at[rows, qpos], pattern_at[rows, bpos] = pat, pat
        pair_pos = np.full((B, N), -1, np.int64)
        pair_pos[rows, qpos] = bpos

        # irregular event times and the observed dynamics
        gaps = _gaps.sample_gaps(rng, (B, N), cfg.gap_law, float(cfg.gap_shape),
                                 float(cfg.gap_scale))
        gaps[:, 0] = 0.0
        time = np.cumsum(gaps, axis=1)                                               # (B, N)
        states = self._source(split).states(rng, time)                               # (B, N, D)
        is_obs = kind == KIND_OBSERVATION
        obs = self.observe(states) + cfg.obs_noise * rng.standard_normal((B, N, cfg.obs_dim))
        obs = np.where(is_obs[..., None], obs, 0.0).astype(np.float32)

        # next observation event after each position (N = none)
        idx = np.where(is_obs, np.arange(N), N)
        after = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1]                 # j >= i
        nxt = np.concatenate([after[:, 1:], np.full((B, 1), N)], axis=1)             # j > i
        has_next = nxt < N
        nxt_c = np.minimum(nxt, N - 1)
        dyn_mask = is_obs & has_next
        dyn_target = np.where(dyn_mask[..., None], obs[rows, nxt_c], 0.0).astype(np.float32)
        next_dt = np.where(has_next, time[rows, nxt_c] - time, 0.0)

        return SRCDBatch(
            kind=kind, obs=obs, key=key, value=value, target=target, query_kind=query_kind,
            time=time.astype(np.float32), dt=gaps.astype(np.float32), dyn_target=dyn_target,
            dyn_mask=dyn_mask, category=category, next_dt=next_dt.astype(np.float32),
            pattern=pattern_at, pair_pos=pair_pos, binding_kind=binding_kind, config=cfg,
            attention_floor=self.attention_floor)

    def _draw_patterns(self, rng: np.random.Generator, batch: int) -> np.ndarray:
        """Recurring pattern indices (B, n_recurring): distinct per row when there are enough
        patterns (Gumbel top-k = weighted sampling without replacement), else with replacement."""
        k, n = self.config.n_recurring, self.config.n_patterns
        if k == 0:
            return np.zeros((batch, 0), np.int64)
        if k > n:
            return rng.choice(n, size=(batch, k), p=self.pattern_weights).astype(np.int64)
        scores = np.log(self.pattern_weights) + rng.gumbel(size=(batch, n))          # (B, n)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        # random order within the row, so pattern ids do not correlate with position
        return np.take_along_axis(top, np.argsort(rng.random((batch, k)), axis=1), axis=1)


def place_pairs(rng: np.random.Generator, batch: int, seq_len: int, n_pairs: int,
                distance_min: int, distance_max: int, max_rounds: int = 200):
    """Positions of ``n_pairs`` (query, binding) pairs per sequence, all 2 x n_pairs distinct.

    Each pair draws its query uniformly from ``[distance_min, seq_len)`` and its binding a uniform
    ``distance_min .. min(distance_max, query)`` positions before it. A pair that would land on
    a position already used is redrawn whole (vectorised rejection; placed pairs stay), so no two
    events share a position and, at low occupancy, the layout is close to uniform.

    Returns
    -------
    qpos, bpos : numpy.ndarray
        int64 (batch, n_pairs), sorted by query position along each row.

    Examples
    --------
    >>> import numpy as np
    >>> q, b = place_pairs(np.random.default_rng(0), 2, 100, 10, 1, 20)
    >>> bool((b < q).all() and (q - b <= 20).all())
    True
    """
    qpos = np.zeros((batch, n_pairs), np.int64)
    bpos = np.zeros((batch, n_pairs), np.int64)
    if n_pairs == 0:
        return qpos, bpos
    rows = np.arange(batch)[:, None]
    offset = np.arange(batch)[:, None] * seq_len          # flatten (row, pos) for bincount
    size = batch * seq_len
    todo = np.ones((batch, n_pairs), bool)                 # pairs still to place
    for _ in range(max_rounds):
        q_new = rng.integers(distance_min, seq_len, size=(batch, n_pairs))
        hi = np.minimum(distance_max, q_new)                                   # max distance
        d = distance_min + np.floor(rng.random((batch, n_pairs)) * (hi - distance_min + 1))
        b_new = q_new - d.astype(np.int64)
        # placed pairs keep their positions; a new pair is accepted if both of its positions are
        # free and not wanted by another new pair (so the number to place only shrinks)
        placed = np.concatenate([qpos[~todo] + np.broadcast_to(offset, todo.shape)[~todo],
                                 bpos[~todo] + np.broadcast_to(offset, todo.shape)[~todo]])
        taken = np.bincount(placed, minlength=size).reshape(batch, seq_len)
        wanted = np.bincount(np.concatenate([(q_new + offset)[todo], (b_new + offset)[todo]]),
                             minlength=size).reshape(batch, seq_len)
        ok = todo & (taken[rows, q_new] == 0) & (taken[rows, b_new] == 0) \
            & (wanted[rows, q_new] == 1) & (wanted[rows, b_new] == 1)
        qpos, bpos = np.where(ok, q_new, qpos), np.where(ok, b_new, bpos)
        todo &= ~ok
        if not todo.any():
            order = np.argsort(qpos, axis=1)
            return (np.take_along_axis(qpos, order, axis=1),
                    np.take_along_axis(bpos, order, axis=1))
    raise ValueError(
        f"could not place {n_pairs} query/binding pairs without overlap in {seq_len} events "
        f"(distance {distance_min}..{distance_max}) after {max_rounds} rounds; lower query_rate "
        "or widen distance_min..distance_max")
