"""A toy complementary-learning-systems model: a fast episodic store and a slow semantic learner.

Built for teaching (``notebooks/teaching_consolidation.py``); numpy only. The simulation runs in
episodes (think "days"). In every episode:

1. **Study.** ``items_per_episode`` items are experienced. A share ``recurrence`` of them comes
   from a fixed *recurring pool* (the same items come back across episodes; pool item ``i`` is
   drawn with weight ``(i + 1) ** -zipf_exponent``, so some recur often and some rarely); the
   rest are *novel* (never seen before, never seen again). Each item is a random code (a vector
   of ``semantic_rank`` numbers, what the semantic learner sees) and ``n_features`` binary
   features to be recalled. The **episodic store** (hippocampus) writes every item down at once:
   an exact lookup table, cleared at the end of the episode.
2. **Recall.** Every studied item is then looked up. The **semantic memory** (neocortex) is a
   linear associative memory ``W``: from an item's code it predicts the features and a
   *familiarity* channel (trained towards 1 for every item it has learned). Semantic memory
   answers when the familiarity reaches ``threshold``; otherwise the episodic store must answer
   (always correctly: the item was seen in this episode). The router never looks at the answer,
   so a confidently wrong semantic answer (a false memory) is possible and is counted.
3. **Replay.** ``replay_rate`` x ``items_per_episode`` items are replayed from the episodic store
   (chosen at random) and each trains ``W`` by one delta-rule (LMS) step of ``learning_rate``.
   Then ``W`` shrinks by ``semantic_decay``: slow forgetting, which only repeated replay beats.

Recurring items are replayed again and again, so their familiarity crosses the threshold and the
episodic store stops having to answer for them: that is *consolidation*. Every pool item's own
history is kept (when it was studied, and which memory answered it), so consolidation can be read
per item: its *switch point* (:meth:`ToyConsolidationResult.switch_exposures`) is the number of
exposures after which the episodic store never had to answer it again, and
:func:`consolidation_record` writes several seeds in the same layout as a trained CRAM's
per-pattern consolidation record, so both go through the same comparison with human data
(:func:`cramcog.comparison.compare_shape`). A novel item is replayed
after the only episode it appears in, which cannot help it: its episodic share stays near 1. With
``replay_rate=0`` the semantic memory never learns and nothing is consolidated. A linear memory
over ``semantic_rank`` dims stores about ``semantic_rank`` items without interference: make it
smaller than the recurring pool and consolidation degrades and false memories appear.

Examples
--------
>>> from cramcog.dynamics.toy_consolidation import ToyConsolidationConfig, simulate_consolidation
>>> result = simulate_consolidation(ToyConsolidationConfig(n_episodes=30, seed=0))
>>> share = result.episodic_share("recurring")
>>> bool(share[0] == 1.0 and share[-5:].mean() < 0.5)   # recurring items moved to semantic
True
>>> bool(result.episodic_share("novel")[-5:].mean() > 0.9)  # novel items cannot
True
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

KINDS = ("recurring", "novel")


def _check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} ({value!r})")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")


def _check_real(name: str, value, low: float, high: float = math.inf, *,
                low_open: bool = False, high_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} ({value!r})")
    value = float(value)
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if not math.isfinite(value) or too_low or too_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open or high == math.inf else "]"
        raise ValueError(f"{name} must lie in {lo}{low:g}, {high:g}{hi}, got {value!r}")


@dataclass(frozen=True)
class ToyConsolidationConfig:
    """Settings of :func:`simulate_consolidation` (every field validated on construction).

    Parameters
    ----------
    n_episodes : int
        Episodes to simulate (the time axis of the consolidation curve).
    items_per_episode : int
        Items studied, then recalled, in each episode.
    recurrence : float
        Share of an episode's items drawn from the recurring pool, in [0, 1]; the rest are novel.
    n_recurring : int
        Size of the recurring pool; must hold ``round(recurrence * items_per_episode)`` items.
    zipf_exponent : float
        Pool item ``i`` recurs with weight ``(i + 1) ** -zipf_exponent``; 0 = all equally often.
    replay_rate : float
        Replays per studied item after each episode (0 switches consolidation off).
    semantic_rank : int
        Dimension of the item codes the semantic memory learns from: its capacity (a linear map
        stores about this many items without interference).
    learning_rate : float
        Delta-rule step per replay, in (0, 1]: the share of the error corrected per replay.
    semantic_decay : float
        Share of the semantic weights lost at the end of every episode, in [0, 1).
    threshold : float
        Familiarity at or above which semantic memory answers instead of the episodic store.
    n_features : int
        Binary features recalled per item (a semantic answer is correct only if all match).
    seed : int
        Seed of every random draw: equal seeds give equal results.

    Examples
    --------
    >>> ToyConsolidationConfig(replay_rate=0.0).replay_rate
    0.0
    >>> ToyConsolidationConfig(recurrence=1.5)
    Traceback (most recent call last):
    ...
    ValueError: recurrence must lie in [0, 1], got 1.5
    """

    n_episodes: int = 200           # long enough for rarely recurring items to consolidate
    items_per_episode: int = 24     # studied and recalled per episode
    recurrence: float = 0.5         # the paper's SRCD uses 70% recurring queries
    n_recurring: int = 32           # pool of items that come back across episodes
    zipf_exponent: float = 1.0      # word-frequency-like skew: a few items recur often
    replay_rate: float = 2.0        # replays per studied item per episode ("sleep")
    semantic_rank: int = 1024       # capacity of the slow learner (see the module docstring)
    learning_rate: float = 0.1      # slow learning: ~15 replays to reach the threshold
    semantic_decay: float = 0.005   # 0.5% of semantic weight lost per episode
    threshold: float = 0.83         # the paper's reported switch point of q_t
    n_features: int = 8             # 2**-8 chance of a lucky all-correct guess
    seed: int = 0                   # every run is seeded

    def __post_init__(self):
        _check_int("n_episodes", self.n_episodes, 1)
        _check_int("items_per_episode", self.items_per_episode, 1)
        _check_real("recurrence", self.recurrence, 0.0, 1.0)
        _check_int("n_recurring", self.n_recurring, 1)
        _check_real("zipf_exponent", self.zipf_exponent, 0.0)
        _check_real("replay_rate", self.replay_rate, 0.0)
        _check_int("semantic_rank", self.semantic_rank, 1)
        _check_real("learning_rate", self.learning_rate, 0.0, 1.0, low_open=True)
        _check_real("semantic_decay", self.semantic_decay, 0.0, 1.0, high_open=True)
        _check_real("threshold", self.threshold, 0.0, 1.0, low_open=True)
        _check_int("n_features", self.n_features, 1)
        _check_int("seed", self.seed, 0)
        if self.n_recurring_per_episode > self.n_recurring:
            raise ValueError(
                f"each episode draws {self.n_recurring_per_episode} distinct recurring items "
                f"(recurrence={self.recurrence} x items_per_episode={self.items_per_episode}) but "
                f"the pool has only n_recurring={self.n_recurring}: enlarge the pool or lower "
                "recurrence")

    @property
    def n_recurring_per_episode(self) -> int:
        """Recurring items in each episode: ``round(recurrence * items_per_episode)``."""
        return int(round(self.recurrence * self.items_per_episode))


@dataclass(frozen=True)
class ToyConsolidationResult:
    """Per-episode counts of one simulation; ``kind`` axis = ``KINDS`` (recurring, novel).

    Attributes
    ----------
    config : ToyConsolidationConfig
    episode : numpy.ndarray, shape (episodes,)
        1, 2, ..., n_episodes (the time axis; starts at 1 so power laws can be fitted).
    lookups : numpy.ndarray, shape (episodes, 2)
        Items of each kind recalled in each episode.
    episodic : numpy.ndarray, shape (episodes, 2)
        Of those, the ones the episodic store had to answer.
    semantic_correct : numpy.ndarray, shape (episodes, 2)
        Semantic answers with every feature right (the rest of the semantic answers are false
        memories).
    pool_consolidated : numpy.ndarray, shape (episodes,)
        Share of the whole recurring pool whose familiarity is at or above the threshold after
        the episode's replay (including items not seen in that episode).
    item_seen : numpy.ndarray of bool, shape (episodes, n_recurring)
        Pool item i was studied (and looked up) in the episode.
    item_episodic : numpy.ndarray of bool, shape (episodes, n_recurring)
        ... and the episodic store had to answer it (False where not seen).
    """

    config: ToyConsolidationConfig
    episode: np.ndarray
    lookups: np.ndarray
    episodic: np.ndarray
    semantic_correct: np.ndarray
    pool_consolidated: np.ndarray
    item_seen: np.ndarray
    item_episodic: np.ndarray

    def _kind(self, kind: str) -> int:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        return KINDS.index(kind)

    def episodic_share(self, kind: str = "recurring") -> np.ndarray:
        """Share of lookups of ``kind`` the episodic store answered, per episode (NaN if none).

        Examples
        --------
        >>> r = simulate_consolidation(ToyConsolidationConfig(n_episodes=3))
        >>> r.episodic_share("novel").shape
        (3,)
        """
        k = self._kind(kind)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.lookups[:, k] > 0,
                            self.episodic[:, k] / np.maximum(self.lookups[:, k], 1), np.nan)

    def semantic_accuracy(self, kind: str = "recurring") -> np.ndarray:
        """Share of semantic answers of ``kind`` that were right, per episode (NaN if none).

        Examples
        --------
        >>> r = simulate_consolidation(ToyConsolidationConfig(n_episodes=40))
        >>> bool(r.semantic_accuracy("recurring")[-1] > 0.9)
        True
        """
        k = self._kind(kind)
        answered = self.lookups[:, k] - self.episodic[:, k]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(answered > 0, self.semantic_correct[:, k] / np.maximum(answered, 1),
                            np.nan)

    def onset(self) -> int:
        """The first episode in which semantic memory answered a recurring item.

        Consolidation starts there: before it the recurring curve sits at 1 (nothing learned
        yet), a flat stretch no forgetting-curve family describes. It is the default start of
        the fit window in :meth:`curve`.

        Raises
        ------
        ValueError
            Nothing was ever consolidated (e.g. ``replay_rate=0``).

        Examples
        --------
        >>> simulate_consolidation(n_episodes=40).onset() > 1
        True
        """
        share = self.episodic_share("recurring")
        below = np.flatnonzero(share < 1.0)
        if below.size == 0:
            raise ValueError("no recurring item was ever answered by semantic memory (nothing "
                             f"consolidated; replay_rate={self.config.replay_rate}): there is no "
                             "consolidation curve to fit; pass start=1 to get the flat curve")
        return int(self.episode[below[0]])

    def curve(self, kind: str = "recurring", start="onset"):
        """The consolidation curve ``(t, share, lookups)`` of a fit window, ready to fit.

        Parameters
        ----------
        kind
            "recurring" or "novel".
        start
            First episode of the window: "onset" (:meth:`onset`, the first semantic answer of a
            recurring item) or an episode number. Time restarts there: ``t = episode - start +
            1``, so the window's first point is at ``t = 1`` (as the CRAM pipeline's
            ``ConsolidationWindow`` does with training steps). Episodes without a lookup of
            ``kind`` are dropped.

        Returns
        -------
        t, share, lookups : numpy.ndarray, shape (points,)
            Time in episodes since ``start``, the episodic share, and the lookups behind each
            share: ``fit_consolidation_curve(t, share)`` fits by least squares,
            ``fit_consolidation_curve(t, share, n=lookups)`` with a binomial likelihood.

        Examples
        --------
        >>> r = simulate_consolidation(n_episodes=5)
        >>> t, share, lookups = r.curve("recurring", start=1)
        >>> t.tolist(), int(lookups[0]), float(share[0])
        ([1.0, 2.0, 3.0, 4.0, 5.0], 12, 1.0)
        """
        k = self._kind(kind)
        if isinstance(start, str):
            if start != "onset":
                raise ValueError(f"start must be 'onset' or an episode number, got {start!r}")
            start = self.onset()
        _check_int("start", start, 1)
        keep = (self.episode >= start) & (self.lookups[:, k] > 0)
        if keep.sum() == 0:
            raise ValueError(f"no {kind} lookups at episodes >= {start} (recurrence="
                             f"{self.config.recurrence}, n_episodes={self.config.n_episodes})")
        return ((self.episode[keep] - start + 1).astype(float), self.episodic_share(kind)[keep],
                self.lookups[keep, k].astype(float))

    def item_exposures(self) -> np.ndarray:
        """Exposures of every pool item so far, (episodes, n_recurring), counting the episode's
        own study (an item's first lookup happens at 1 exposure).

        Examples
        --------
        >>> r = simulate_consolidation(n_episodes=10, seed=0)
        >>> bool((r.item_exposures()[-1] == r.item_seen.sum(0)).all())
        True
        """
        return np.cumsum(self.item_seen, axis=0)

    def switch_exposures(self) -> np.ndarray:
        """Each pool item's switch point, (n_recurring,): the exposure count of its first lookup
        from which on semantic memory answered it every time (episodic never again).

        NaN for items that never switched: never seen, or still answered episodically at their
        last lookup. A step per item (the episodic store answers up to the switch, semantic
        memory after) is what Rickard's CMPL says of the human strategy shift; an item whose
        familiarity hovers around the threshold switches back and forth, and its switch point is
        its LAST episodic answer plus one exposure.

        Examples
        --------
        >>> r = simulate_consolidation(n_episodes=120, seed=0)
        >>> sw = r.switch_exposures()
        >>> sw.shape, bool(np.nanmin(sw) > 1)    # nothing is consolidated at the first exposure
        ((32,), True)
        """
        expo = self.item_exposures()
        out = np.full(self.config.n_recurring, np.nan)
        for i in range(self.config.n_recurring):
            seen = np.flatnonzero(self.item_seen[:, i])
            if seen.size == 0 or self.item_episodic[seen[-1], i]:
                continue
            episodic = seen[self.item_episodic[seen, i]]
            first_semantic = seen[0] if episodic.size == 0 else seen[seen > episodic[-1]][0]
            out[i] = expo[first_semantic, i]
        return out

    def to_frame(self):
        """A tidy pandas DataFrame: one row per (episode, kind), for seaborn.

        Columns: episode, kind, lookups, episodic, episodic_share, semantic_correct,
        semantic_accuracy.

        Examples
        --------
        >>> df = simulate_consolidation(ToyConsolidationConfig(n_episodes=4)).to_frame()
        >>> df.shape, sorted(df["kind"].unique())
        ((8, 7), ['novel', 'recurring'])
        """
        import pandas as pd

        frames = []
        for kind in KINDS:
            k = self._kind(kind)
            frames.append(pd.DataFrame({
                "episode": self.episode, "kind": kind, "lookups": self.lookups[:, k],
                "episodic": self.episodic[:, k], "episodic_share": self.episodic_share(kind),
                "semantic_correct": self.semantic_correct[:, k],
                "semantic_accuracy": self.semantic_accuracy(kind)}))
        return pd.concat(frames, ignore_index=True)

    def summary(self, last: int = 10) -> dict:
        """Headline numbers over the last ``last`` episodes (means; NaN where undefined).

        Examples
        --------
        >>> s = simulate_consolidation(ToyConsolidationConfig(n_episodes=20)).summary(5)
        >>> sorted(s)[:2]
        ['episodic_share_novel', 'episodic_share_recurring']
        """
        _check_int("last", last, 1)
        out = {}
        with np.errstate(invalid="ignore"), _quiet_nanmean():
            for kind in KINDS:
                out[f"episodic_share_{kind}"] = float(np.nanmean(self.episodic_share(kind)[-last:]))
                out[f"semantic_accuracy_{kind}"] = float(
                    np.nanmean(self.semantic_accuracy(kind)[-last:]))
            out["pool_consolidated"] = float(np.mean(self.pool_consolidated[-last:]))
        return out

    def config_dict(self) -> dict:
        """The configuration as a plain dict (for tables and records)."""
        return asdict(self.config)


class _quiet_nanmean:
    """Silence numpy's 'Mean of empty slice' warning (an all-NaN window means 'undefined')."""

    def __enter__(self):
        import warnings
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def _codes(rng: np.random.Generator, count: int, rank: int) -> np.ndarray:
    """Random item codes, (count, rank), each of unit length (so an LMS step of 1 is exact)."""
    x = rng.standard_normal((count, rank))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _features(rng: np.random.Generator, count: int, n_features: int) -> np.ndarray:
    """Random +-1 features to recall, (count, n_features)."""
    return rng.choice(np.array([-1.0, 1.0]), size=(count, n_features))


def simulate_consolidation(config: ToyConsolidationConfig | None = None, **overrides
                           ) -> ToyConsolidationResult:
    """Run the toy episodic/semantic consolidation model (see the module docstring).

    Parameters
    ----------
    config
        The settings (defaults if None).
    **overrides
        Fields to replace in ``config``, e.g. ``replay_rate=0.0``.

    Returns
    -------
    ToyConsolidationResult

    Raises
    ------
    TypeError, ValueError
        A bad setting (the message names it and the valid range).

    Examples
    --------
    >>> r = simulate_consolidation(n_episodes=30, replay_rate=0.0)
    >>> float(r.episodic_share("recurring").min())   # no replay, no consolidation
    1.0
    """
    if config is None:
        config = ToyConsolidationConfig(**overrides)
    elif not isinstance(config, ToyConsolidationConfig):
        raise TypeError(f"config must be a ToyConsolidationConfig, got {type(config).__name__}")
    elif overrides:
        config = ToyConsolidationConfig(**{**asdict(config), **overrides})
    cfg = config
    rng = np.random.default_rng(cfg.seed)
    r, f = cfg.semantic_rank, cfg.n_features
    pool_codes = _codes(rng, cfg.n_recurring, r)                    # (pool, r)
    pool_feats = _features(rng, cfg.n_recurring, f)                 # (pool, f)
    weights = (np.arange(cfg.n_recurring) + 1.0) ** -cfg.zipf_exponent
    weights /= weights.sum()
    n_rec = cfg.n_recurring_per_episode
    n_nov = cfg.items_per_episode - n_rec
    # Semantic memory: rows 0..f-1 predict the features, row f is the familiarity channel.
    w = np.zeros((f + 1, r))                                        # (f + 1, r)
    e = cfg.n_episodes
    lookups = np.zeros((e, 2), dtype=np.int64)
    episodic = np.zeros((e, 2), dtype=np.int64)
    correct = np.zeros((e, 2), dtype=np.int64)
    pool_consolidated = np.zeros(e)
    item_seen = np.zeros((e, cfg.n_recurring), dtype=bool)
    item_episodic = np.zeros((e, cfg.n_recurring), dtype=bool)
    replays_per_episode = cfg.replay_rate * cfg.items_per_episode
    for ep in range(e):
        # 1. study: the episodic store holds exactly this episode's items
        idx = rng.choice(cfg.n_recurring, size=n_rec, replace=False, p=weights)
        codes = np.concatenate([pool_codes[idx], _codes(rng, n_nov, r)])     # (items, r)
        feats = np.concatenate([pool_feats[idx], _features(rng, n_nov, f)])  # (items, f)
        is_novel = np.arange(cfg.items_per_episode) >= n_rec                 # (items,)
        # 2. recall: semantic memory answers when familiar enough, else the episodic store
        out = codes @ w.T                                                    # (items, f + 1)
        semantic = out[:, f] >= cfg.threshold                                # (items,)
        right = np.all(np.sign(out[:, :f]) == feats, axis=1)                 # (items,)
        for k, mask in enumerate((~is_novel, is_novel)):
            lookups[ep, k] = mask.sum()
            episodic[ep, k] = (mask & ~semantic).sum()
            correct[ep, k] = (mask & semantic & right).sum()
        item_seen[ep, idx] = True
        item_episodic[ep, idx] = ~semantic[:n_rec]
        # 3. replay from the episodic store into semantic memory (delta rule), then forget a bit
        n_replay = int(replays_per_episode)
        n_replay += int(rng.random() < replays_per_episode - n_replay)  # unbiased rounding
        targets = np.concatenate([feats, np.ones((len(feats), 1))], axis=1)  # (items, f + 1)
        for j in rng.integers(0, cfg.items_per_episode, size=n_replay):
            x = codes[j]                                                     # (r,)
            w += cfg.learning_rate * np.outer(targets[j] - w @ x, x)
        w *= 1.0 - cfg.semantic_decay
        pool_consolidated[ep] = np.mean(pool_codes @ w[f] >= cfg.threshold)
    return ToyConsolidationResult(config=cfg, episode=np.arange(1, e + 1),
                                  lookups=lookups, episodic=episodic, semantic_correct=correct,
                                  pool_consolidated=pool_consolidated, item_seen=item_seen,
                                  item_episodic=item_episodic)


def consolidation_record(results, variant: str = "toy"):
    """Toy runs (one per seed) as a per-pattern consolidation record, CRAM's layout.

    The same variables as the record ``cramcog consolidation`` writes for trained CRAM runs, so
    the toy and CRAM go through the same comparison with human data. An episode plays the part
    of an evaluation step, a pool item that of a recurring pattern, "attended" means "answered
    by the episodic store".

    Parameters
    ----------
    results
        :class:`ToyConsolidationResult` objects with the same config except the seed (the seeds
        become the ``seed`` dim), or one result.
    variant
        Label of the ``variant`` dim (length 1).

    Returns
    -------
    xarray.Dataset
        A record (kind "evaluation", ``record_role = "consolidation"``) with dims (variant,
        seed, eval_step, pattern): ``recurring_attended`` (share of recurring lookups answered
        episodically), ``recurring_attended_count``, ``recurring_probe_count`` and
        ``exposures`` (mean exposures per pool item) over (variant, seed, eval_step);
        ``pattern_attended`` (lookups of the item answered by the episodic store: 0 or 1),
        ``pattern_probes`` (lookups of the item: 0 where it was not studied), and
        ``pattern_exposures`` over (variant, seed, eval_step, pattern);
        ``pattern_switch_exposures`` (variant, seed, pattern; NaN = never switched) and
        ``switch_exposures`` (variant, seed; the median over the items that switched).

    Examples
    --------
    >>> runs = [simulate_consolidation(n_episodes=30, seed=s) for s in (0, 1)]
    >>> ds = consolidation_record(runs)
    >>> dict(ds.sizes)
    {'variant': 1, 'seed': 2, 'eval_step': 30, 'pattern': 32}
    >>> float(ds.recurring_attended.isel(eval_step=0).min())
    1.0
    """
    from cramcog import records

    results = [results] if isinstance(results, ToyConsolidationResult) else list(results)
    if not results or not all(isinstance(r, ToyConsolidationResult) for r in results):
        raise TypeError("consolidation_record takes ToyConsolidationResult objects (one per seed)")
    base = {**asdict(results[0].config), "seed": 0}
    for r in results[1:]:
        if {**asdict(r.config), "seed": 0} != base:
            raise ValueError("the runs differ in more than the seed: put different settings in "
                             "different records (variants)")
    seeds = [r.config.seed for r in results]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"duplicate seeds {seeds}: one run per seed")
    k = KINDS.index("recurring")
    count = np.stack([r.episodic[:, k] for r in results])                   # (seed, episode)
    probes = np.stack([r.lookups[:, k] for r in results])                   # (seed, episode)
    expo = np.stack([r.item_exposures() for r in results])                  # (seed, ep, pattern)
    seen = np.stack([r.item_seen for r in results])
    attended = np.stack([r.item_episodic for r in results]) & seen          # counts, as CRAM
    switch = np.stack([r.switch_exposures() for r in results])              # (seed, pattern)
    with np.errstate(invalid="ignore", divide="ignore"), _quiet_nanmean():
        share = np.where(probes > 0, count / np.maximum(probes, 1), np.nan)
        median_switch = np.nanmedian(switch, axis=1)

    def v(*arrays):  # add the variant dim
        return [a[None] for a in arrays]

    sv, ev, pv = ("variant", "seed"), ("variant", "seed", "eval_step"), \
        ("variant", "seed", "eval_step", "pattern")
    (share, count, probes, mean_expo, attended, seen, expo, switch, median_switch) = v(
        share, count, probes, expo.mean(-1), attended, seen, expo, switch, median_switch)
    data = {
        "recurring_attended": (ev, share, {"units": "share", "long_name": "share of recurring "
                                           "lookups answered by the episodic store"}),
        "recurring_attended_count": (ev, count.astype("int64"), {"units": "lookups"}),
        "recurring_probe_count": (ev, probes.astype("int64"), {"units": "lookups"}),
        "exposures": (ev, mean_expo, {"units": "exposures",
                                      "long_name": "mean exposures per recurring item"}),
        "pattern_attended": (pv, attended.astype("int64"), {
            "units": "lookups", "long_name": "the item's lookups answered by the episodic store"}),
        "pattern_probes": (pv, seen.astype("int64"), {"units": "lookups"}),
        "pattern_exposures": (pv, expo.astype("int64"), {"units": "exposures"}),
        "pattern_switch_exposures": (sv + ("pattern",), switch, {
            "units": "exposures", "long_name": "exposures from which on the item was always "
                                               "answered semantically (NaN: never)"}),
        "switch_exposures": (sv, median_switch, {"units": "exposures",
                                                 "long_name": "median switch point"}),
    }
    coords = {"variant": ("variant", np.array([variant])),
              "seed": ("seed", np.array(seeds, dtype="int64")),
              "eval_step": ("eval_step", results[0].episode.astype("int64"),
                            {"units": "episodes"}),
              "pattern": ("pattern", np.arange(results[0].config.n_recurring, dtype="int64"))}
    return records.new_record(data, coords=coords, kind="evaluation", config=base,
                              attrs={"record_role": "consolidation", "model": "toy "
                                     "complementary-learning-systems model (cramcog.dynamics."
                                     "toy_consolidation)"})
