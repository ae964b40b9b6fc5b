"""Key -> value bindings for SRCD: the fixed recurring set and the per-sequence novel ones.

Recurring bindings are the "patterns" a model can consolidate into its weights: the same
(key, value) pairs in every sequence of every split. Novel bindings are fresh per sequence and can
only be answered by looking back at the binding event (attention).

Both are functions of the task seed through one seeded *key order* (a permutation of the key ids
1..n_keys) and one seeded *value table* (a value for each slot of that order):

- the base recurring set is slots ``0 .. n_patterns-1`` of the key order with their table values,
  so it depends only on (seed, n_patterns, n_keys, n_values) and a task with more patterns
  contains every pattern of a task with fewer;
- a transfer variant with ``recurring_overlap = r`` keeps the first ``round(r * n_patterns)``
  base patterns and replaces the rest with slots ``n_patterns ..`` of the same order (fresh keys);
- novel keys are every key not in the task's recurring set, so recurring and novel keys never mix.

Splits never share a novel binding (:class:`NovelBindings`):

- ``novel_split="pairs"`` (default): every novel key is used in every split, but the (key, value)
  pairs are partitioned: each key has its own seeded random permutation of the value ids, and
  split s binds key k only to the values at permutation slots ``s, s+3, s+6, ...`` (a random
  third of the values, different for every key). Why random thirds rather than a simple rule such
  as ``v mod 3``: a simple rule is learnable, so a model would acquire a per-key prior from the
  training split that is always WRONG on the test split; a random subset per key is a table of
  n_keys x n_values bits, which no model memorises from the data;
- ``novel_split="keys"``: keys are partitioned between splits (``novel_key_fractions`` of the key
  ids each), so test sequences use keys never seen in training - a harder generalisation test.

Examples
--------
>>> import numpy as np
>>> from cramcog.tasks.bindings import recurring_bindings
>>> keys, values = recurring_bindings(seed=0, n_patterns=5, n_keys=50, n_values=10)
>>> keys.shape, bool(len(set(keys.tolist())) == 5), bool(values.min() >= 1)
((5,), True, True)
"""
from __future__ import annotations

import numpy as np

SPLITS = ("train", "val", "test")
_KEY_ORDER, _VALUE_TABLE, _VALUE_THIRDS, _KEY_SPLIT = 101, 102, 103, 104  # seed streams


def split_index(split: str) -> int:
    """0, 1, 2 for "train", "val", "test"; ValueError otherwise."""
    if split not in SPLITS:
        raise ValueError(f"split = {split!r} is unknown; choose one of {SPLITS}")
    return SPLITS.index(split)


def key_order(seed: int, n_keys: int) -> np.ndarray:
    """The seeded order of key ids 1..n_keys that defines the recurring sets (int64, (n_keys,))."""
    return np.random.default_rng([seed, _KEY_ORDER]).permutation(n_keys).astype(np.int64) + 1


def value_table(seed: int, n_keys: int, n_values: int) -> np.ndarray:
    """The recurring value bound to each slot of :func:`key_order` (ids 1..n_values)."""
    return np.random.default_rng([seed, _VALUE_TABLE]).integers(
        1, n_values + 1, size=n_keys).astype(np.int64)


def recurring_slots(n_patterns: int, overlap: float = 1.0) -> np.ndarray:
    """Slots of the key order used by the recurring set with a given overlap with the base set."""
    kept = int(round(overlap * n_patterns))
    return np.concatenate([np.arange(kept), n_patterns + np.arange(n_patterns - kept)])


def recurring_bindings(seed: int, n_patterns: int, n_keys: int, n_values: int,
                       overlap: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The recurring (keys, values), each int64 (n_patterns,), of a task.

    Parameters
    ----------
    seed : int
        The task (pattern) seed.
    n_patterns : int
        Number of recurring bindings.
    n_keys, n_values : int
        Vocabulary sizes (ids start at 1).
    overlap : float
        Fraction of the base set (overlap=1) kept; the rest are fresh bindings.

    Examples
    --------
    >>> a = recurring_bindings(0, 10, 100, 20)
    >>> b = recurring_bindings(0, 10, 100, 20, overlap=0.5)
    >>> int((a[0] == b[0]).sum())
    5
    """
    slots = recurring_slots(n_patterns, overlap)
    return key_order(seed, n_keys)[slots], value_table(seed, n_keys, n_values)[slots]


class NovelBindings:
    """Draws novel bindings for a split: distinct keys per sequence, split-disjoint pairs.

    Parameters
    ----------
    seed : int
        Task seed (fixes the pair partition / key partition).
    n_keys, n_values : int
        Vocabulary sizes.
    recurring_keys : numpy.ndarray
        Keys reserved for recurring bindings (never drawn as novel).
    mode : {"pairs", "keys"}
        How splits are kept disjoint (module docstring).
    key_fractions : tuple of 3 floats
        Share of key ids per split in ``mode="keys"``.
    """

    def __init__(self, seed: int, n_keys: int, n_values: int, recurring_keys: np.ndarray,
                 mode: str = "pairs", key_fractions=(0.8, 0.1, 0.1)):
        self.n_values, self.mode = n_values, mode
        eligible = np.ones(n_keys + 1, dtype=bool)
        eligible[0] = False
        eligible[np.asarray(recurring_keys, dtype=np.int64)] = False
        # value_order[k]: a random permutation of value indices 0..n_values-1 for key k; split s
        # owns the slots s, s+3, ...; slot_of[k, v0] is the inverse (the slot of value v0)
        if mode == "pairs":
            rng = np.random.default_rng([seed, _VALUE_THIRDS])
            order = np.broadcast_to(np.arange(n_values, dtype=np.int32), (n_keys + 1, n_values))
            self.value_order = rng.permuted(order, axis=1)                 # (n_keys+1, n_values)
            self.slot_of = np.argsort(self.value_order, axis=1).astype(np.int32)
        if mode == "pairs":
            pool = np.flatnonzero(eligible)
            self.pools = (pool, pool, pool)
        elif mode == "keys":
            order = np.random.default_rng([seed, _KEY_SPLIT]).permutation(n_keys) + 1
            bounds = np.round(np.cumsum([0.0, *key_fractions]) * n_keys).astype(int)
            self.pools = tuple(np.sort(order[lo:hi][eligible[order[lo:hi]]])
                               for lo, hi in zip(bounds[:-1], bounds[1:]))
        else:
            raise ValueError(f"novel_split = {mode!r} is unknown; choose 'pairs' or 'keys'")

    def pool(self, split: str) -> np.ndarray:
        """The novel key ids available to ``split`` (sorted int64)."""
        return self.pools[split_index(split)]

    def allowed(self, split: str, keys: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Bool mask: may ``split`` bind ``keys`` to ``values``? (both same shape)."""
        s = split_index(split)
        if self.mode == "keys":
            return np.isin(keys, self.pools[s])
        return (self.slot_of[keys, values - 1] % 3 == s) & np.isin(keys, self.pools[s])

    def draw(self, rng: np.random.Generator, split: str, batch: int, count: int):
        """``count`` novel bindings for each of ``batch`` sequences.

        Returns
        -------
        keys, values : numpy.ndarray
            int64 (batch, count); keys distinct within a row.
        """
        pool = self.pool(split)
        if count > len(pool):
            raise ValueError(f"split {split!r} has {len(pool)} novel keys but a sequence needs "
                             f"{count}; raise n_keys or lower query_rate / recurring_fraction")
        if count == 0:
            empty = np.zeros((batch, 0), dtype=np.int64)
            return empty, empty.copy()
        # distinct keys per row: the `count` smallest of uniform scores (vectorised shuffle)
        pick = np.argpartition(rng.random((batch, len(pool))), count - 1, axis=1)[:, :count]
        keys = pool[pick]                                                       # (B, count)
        if self.mode == "keys":
            values = rng.integers(1, self.n_values + 1, size=keys.shape)
        else:
            # a uniform slot among s, s+3, ... < n_values, then that key's value at the slot
            s = split_index(split)
            n_allowed = (self.n_values - s + 2) // 3
            slot = 3 * np.floor(rng.random(keys.shape) * n_allowed).astype(np.int64) + s
            values = self.value_order[keys, slot].astype(np.int64) + 1
        return keys, values.astype(np.int64)
