"""Per-pattern probes: a fixed set of validation queries evaluated at every evaluation.

The probe set (:func:`build_probe_set`) is a seeded choice of validation sequences in which every
recurring pattern is queried at least ``per_pattern`` times, each time in a different sequence
(a fresh context: its own binding position, dynamics and neighbours), plus every novel query of
those sequences. :func:`evaluate_probes` runs a model on it as at inference (argmax routes, no
replay) and returns, per probe query and layer, whether the query executed attention and which
route it took, and whether it was answered correctly. Together with the per-pattern exposure
counts of training this gives consolidation per pattern against how often the pattern was seen.

The retrieving layer (:func:`retrieving_layer`) is defined for any depth: the layer in which the
novel queries attend most (they can only be answered from the episodic buffer).

torch is imported inside the functions that run a model; the rest is numpy.

Examples
--------
>>> import numpy as np
>>> retrieving_layer(np.array([0.1, 0.99, 0.4]))
1
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

QUERY_RECURRING, QUERY_NOVEL = 1, 2    # SRCD query kinds (cramcog.tasks.batch)
ROUTE_NONE = -1                         # probe route code where a model has no router


def retrieving_layer(novel_attended: Any) -> int:
    """The retrieving layer: the one whose attention the novel queries use most.

    Parameters
    ----------
    novel_attended
        (L,) share of novel queries that executed attention in each layer. Ties go to the lower
        layer; NaN layers are ignored.

    Returns
    -------
    int
        The layer index (0 when no layer has a finite share).

    Examples
    --------
    >>> retrieving_layer([0.02, 1.0])
    1
    >>> retrieving_layer([float("nan"), 0.5])
    1
    """
    share = np.asarray(novel_attended, dtype=float).ravel()
    if share.size == 0:
        raise ValueError("retrieving_layer: no layers given")
    if not np.isfinite(share).any():
        return 0
    return int(np.nanargmax(share))


@dataclasses.dataclass
class ProbeSet:
    """The fixed probe queries of a run.

    ``batches``: SRCD batches (validation sequences); ``pattern`` (Q,) recurring pattern of each
    probe query (-1 for a novel query); ``kind`` (Q,) 1 recurring / 2 novel; ``rows``/``positions``
    locate query q in ``batches[batch_of[q]]``. Queries are ordered batch by batch, row-major.
    """

    batches: list
    pattern: np.ndarray
    kind: np.ndarray
    batch_of: np.ndarray
    rows: np.ndarray
    positions: np.ndarray
    n_patterns: int
    per_pattern: int

    @property
    def n_probes(self) -> int:
        return int(self.pattern.size)

    def counts(self) -> np.ndarray:
        """(n_patterns,) probe queries per recurring pattern."""
        rec = self.pattern[self.kind == QUERY_RECURRING]
        return np.bincount(rec, minlength=self.n_patterns)


def build_probe_set(task, per_pattern: int, seed: int, batch_size: int = 32,
                    max_sequences: int = 20_000) -> ProbeSet:
    """Validation sequences in which every recurring pattern is queried >= ``per_pattern`` times.

    Candidate sequences are drawn from the validation split in seeded batches (sequence seeds
    derived from ``seed``) and kept, greedily, when one of their recurring queries uses a pattern
    that still has fewer than ``per_pattern`` probes. SRCD draws a sequence's recurring patterns
    without replacement (when there are more patterns than recurring queries), so each probe of a
    pattern sits in a different sequence.

    Parameters
    ----------
    task
        A :class:`cramcog.tasks.SRCD`.
    per_pattern
        Least number of probe queries per recurring pattern (>= 1).
    seed
        Seeds the candidate draws (the run's seed: the same run gets the same probes).
    batch_size
        Sequences per candidate draw and per probe batch.
    max_sequences
        Give up (ValueError) after drawing this many candidates.

    Examples
    --------
    >>> from cramcog.tasks import SRCD, SRCDConfig
    >>> task = SRCD(SRCDConfig(seq_len=128, n_patterns=10, bank_size=2))
    >>> probes = build_probe_set(task, per_pattern=3, seed=0)
    >>> int(probes.counts().min()) >= 3, bool((probes.kind == 2).any())
    (True, True)
    """
    if isinstance(per_pattern, bool) or not isinstance(per_pattern, int) or per_pattern < 1:
        raise ValueError(f"per_pattern must be a positive int, got {per_pattern!r}")
    cfg = task.config
    n_patterns = int(cfg.n_patterns)
    if cfg.n_recurring == 0:
        raise ValueError("this task has no recurring queries (recurring_fraction 0 or too few "
                         "queries per sequence): there is nothing to probe per pattern")
    counts = np.zeros(n_patterns, dtype=np.int64)
    kept = []
    drawn = 0
    draw = 0
    while counts.min() < per_pattern:
        if drawn >= max_sequences:
            raise ValueError(f"build_probe_set: {drawn} validation sequences did not query "
                             f"every one of the {n_patterns} patterns {per_pattern} times "
                             f"(least: {counts.min()}); is pattern_zipf very steep?")
        seq_seed = int(np.random.SeedSequence([int(seed), 7919, draw]).generate_state(1)[0])
        batch = task.sample(batch_size, split="val", seed=seq_seed)
        draw += 1
        drawn += batch_size
        keep = np.zeros(batch_size, dtype=bool)
        for r in range(batch_size):
            pats = batch.pattern[r][batch.query_kind[r] == QUERY_RECURRING]
            if (counts[pats] < per_pattern).any():
                keep[r] = True
                np.add.at(counts, pats, 1)
        if keep.any():
            kept.append(batch[keep])
    # regroup the kept sequences into batches of batch_size (fewer, fuller forward passes)
    rows_all = [(b, r) for b in kept for r in range(b.batch_size)]
    batches = []
    for start in range(0, len(rows_all), batch_size):
        chunk = rows_all[start:start + batch_size]
        arrays = {k: np.stack([b.to_numpy()[k][r] for b, r in chunk])
                  for k in kept[0].to_numpy()}
        batches.append(type(kept[0])(**arrays, config=kept[0].config,
                                     attention_floor=kept[0].attention_floor))
    pattern, kind, batch_of, rows, positions = [], [], [], [], []
    for i, b in enumerate(batches):
        r, p = np.nonzero(b.query_kind > 0)                     # row-major order
        pattern.append(b.pattern[r, p])
        kind.append(b.query_kind[r, p])
        batch_of.append(np.full(r.size, i))
        rows.append(r)
        positions.append(p)
    cat = lambda xs: np.concatenate(xs).astype(np.int64)  # noqa: E731
    return ProbeSet(batches=batches, pattern=cat(pattern), kind=cat(kind),
                    batch_of=cat(batch_of), rows=cat(rows), positions=cat(positions),
                    n_patterns=n_patterns, per_pattern=per_pattern)


def evaluate_probes(model, probes: ProbeSet, n_layers: int, autocast_mode: str = "off"
                    ) -> dict[str, np.ndarray]:
    """Run the model on the probe set as at inference; per probe query and layer what happened.

    The batches go to the model's device; ``autocast_mode`` is the run's
    (:func:`cramcog.device.autocast`).

    Returns
    -------
    dict
        ``attended`` (L, Q) int8: the query executed attention in that layer (every token does on
        the dense path, and in a dense Transformer); ``route`` (L, Q) int8: the tier the query
        took (0 working, 1 episodic, 2 semantic; -1 for a model without a router);
        ``correct`` (Q,) int8: the answer (argmax value) was right.
    """
    import torch

    from cramcog.device import autocast, model_device

    device = model_device(model)
    was_training = model.training
    model.eval()
    attended, route, correct = [], [], []
    with torch.no_grad():
        for i, batch in enumerate(probes.batches):
            sel = probes.batch_of == i
            r = torch.as_tensor(probes.rows[sel], device=device)
            p = torch.as_tensor(probes.positions[sel], device=device)
            tb = batch.to_torch(device)
            with autocast(device, autocast_mode):
                out = model(tb, sample=False)
            pred = out.value_logits.argmax(-1)[r, p]
            correct.append((pred == tb["target"][r, p]).cpu().numpy())
            if out.layers:
                attended.append(np.stack([t.executed[r, p].cpu().numpy()
                                          for t in out.layers]))
                route.append(np.stack([t.route[r, p].cpu().numpy() for t in out.layers]))
            else:   # dense Transformer: every token attends in every layer
                attended.append(np.ones((n_layers, int(sel.sum())), dtype=bool))
                route.append(np.full((n_layers, int(sel.sum())), ROUTE_NONE))
    if was_training:
        model.train()
    return {"attended": np.concatenate(attended, 1).astype(np.int8),
            "route": np.concatenate(route, 1).astype(np.int8),
            "correct": np.concatenate(correct).astype(np.int8)}


def count_exposures(exposures: np.ndarray, batch) -> None:
    """Add a training batch's recurring queries to ``exposures`` (n_patterns,), in place.

    An exposure is one training query of the pattern (its binding is shown earlier in the same
    sequence), so a pattern's exposure count is how many times the model has had to answer it.

    Examples
    --------
    >>> from cramcog.tasks import SRCD, SRCDConfig
    >>> task = SRCD(SRCDConfig(seq_len=128, n_patterns=10, bank_size=2))
    >>> e = np.zeros(10, dtype=np.int64)
    >>> count_exposures(e, task.sample(4, "train", seed=0))
    >>> int(e.sum()) == 4 * task.config.n_recurring
    True
    """
    pats = batch.pattern[batch.query_kind == QUERY_RECURRING]
    np.add.at(exposures, pats, 1)
