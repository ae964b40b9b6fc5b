"""Per-pattern probes and the causal test, checked against models whose behaviour is known."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cramcog.analysis.causal import causal_test, swap_partners
from cramcog.analysis.probes import (build_probe_set, count_exposures, evaluate_probes,
                                     retrieving_layer)
from cramcog.model.cram import ModelOutput
from cramcog.model.router import EPISODIC, SEMANTIC, WORKING
from cramcog.tasks import SRCD, SRCDConfig

TASK = SRCD(SRCDConfig(seq_len=128, n_patterns=12, bank_size=2, n_values=64))


def test_probe_set_covers_every_pattern_in_fresh_validation_contexts():
    probes = build_probe_set(TASK, per_pattern=5, seed=3)
    assert probes.counts().min() >= 5 and probes.counts().size == 12
    for i, b in enumerate(probes.batches):
        sel = probes.batch_of == i
        # the probe bookkeeping points at the batch's queries, in row-major order
        assert (b.query_kind[probes.rows[sel], probes.positions[sel]] == probes.kind[sel]).all()
        assert (b.pattern[probes.rows[sel], probes.positions[sel]] == probes.pattern[sel]).all()
        # validation split: every novel binding is one the val split may use
        nov = b.query_kind == 2
        assert TASK.novel.allowed("val", b.key[nov], b.target[nov]).all()
        # fresh contexts: a pattern is queried at most once per sequence
        for r in range(b.batch_size):
            pats = b.pattern[r][b.query_kind[r] == 1]
            assert len(set(pats.tolist())) == pats.size
    assert (probes.kind == 2).sum() > 0
    again = build_probe_set(TASK, per_pattern=5, seed=3)
    assert np.array_equal(again.pattern, probes.pattern)        # seeded: the same every time
    with pytest.raises(ValueError, match="positive int"):
        build_probe_set(TASK, per_pattern=0, seed=0)


class _Scripted(torch.nn.Module):
    """Attends in layer 1 on even patterns and novel queries; answers right at even positions."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, batch, sample=False, intervention=None):
        B, N = batch["kind"].shape
        pos = torch.arange(N).expand(B, N)
        pred = torch.where(pos % 2 == 0, batch["target"].clamp(min=0), 0)
        logits = torch.nn.functional.one_hot(pred, 65).float()
        att1 = (batch["query_kind"] == 2) | ((batch["query_kind"] == 1)
                                             & (batch["pattern"] % 2 == 0))
        layers = [SimpleNamespace(route=torch.full((B, N), WORKING), executed=torch.zeros(
            B, N, dtype=torch.bool)),
                  SimpleNamespace(route=torch.where(att1, EPISODIC, SEMANTIC), executed=att1)]
        return ModelOutput(logits, torch.zeros(B, N, 3), layers)


def test_evaluate_probes_records_each_query_in_each_layer():
    probes = build_probe_set(TASK, per_pattern=3, seed=0)
    res = evaluate_probes(_Scripted(), probes, n_layers=2)
    rec = probes.kind == 1
    assert (res["attended"][0] == 0).all()
    expect = np.where(rec, probes.pattern % 2 == 0, True)
    assert np.array_equal(res["attended"][1].astype(bool), expect)
    assert np.array_equal(res["route"][1], np.where(expect, EPISODIC, SEMANTIC))
    assert np.array_equal(res["correct"].astype(bool), probes.positions % 2 == 0)
    novel_share = res["attended"][:, probes.kind == 2].mean(1)
    assert retrieving_layer(novel_share) == 1


def test_count_exposures_counts_training_queries_per_pattern():
    batch = TASK.sample(6, "train", seed=1)
    e = np.zeros(12, dtype=np.int64)
    count_exposures(e, batch)
    count_exposures(e, batch)
    rec = batch.query_kind == 1
    assert np.array_equal(e, 2 * np.bincount(batch.pattern[rec], minlength=12))


def test_swap_partners_pick_another_pattern():
    pattern = np.where(TASK.sample(4, "test", seed=0).query_kind == 1,
                       TASK.sample(4, "test", seed=0).pattern, -1)
    src = swap_partners(pattern)
    flat = pattern.ravel()
    rec = np.flatnonzero(flat >= 0)
    assert (src.ravel()[flat < 0] == -1).all()
    assert (flat[src.ravel()[rec]] != flat[rec]).all()
    assert sorted(src.ravel()[rec]) == sorted(rec)            # a permutation of the queries
    with pytest.raises(ValueError, match="at most half"):
        swap_partners(np.array([[1, 1, 2]]))


class _Binding(torch.nn.Module):
    """Recurring queries take the semantic route in layer 0 and are answered by what f_sem
    gives them (if ``carried``) or by other weights (otherwise); novel ones need attention."""

    def __init__(self, carried: bool):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.carried = carried

    def forward(self, batch, sample=False, intervention=None):
        qk, target = batch["query_kind"], batch["target"].clamp(min=0)
        B, N = qk.shape
        pred = target.clone()
        if intervention is not None and self.carried:
            if intervention.semantic_source is not None:
                src = intervention.semantic_source
                swapped = target.reshape(-1)[src.clamp(min=0)].reshape(B, N)
                pred = torch.where((qk == 1) & (src >= 0), swapped, pred)
            if intervention.semantic_zero is not None:
                pred = torch.where(intervention.semantic_zero & (qk == 1), 0, pred)
        if intervention is not None and intervention.skip_attention is not None:
            pred = torch.where(intervention.skip_attention, 0, pred)
        route = torch.where(qk == 1, SEMANTIC, torch.where(qk == 2, EPISODIC, WORKING))
        layers = [SimpleNamespace(route=route, executed=route == EPISODIC)]
        return ModelOutput(torch.nn.functional.one_hot(pred, 65).float(),
                           torch.zeros(B, N, 3), layers)


def test_causal_test_collapses_only_where_f_sem_carries_the_binding():
    batches = [TASK.sample(8, "test", seed=s) for s in range(2)]
    carried = causal_test(_Binding(True), batches, retrieving=0, n_values=64)
    n_rec = sum(int((b.query_kind == 1).sum()) for b in batches)
    assert carried["causal_recurring_semantic_queries"] == n_rec
    assert carried["causal_recurring_accuracy_clean"] == 1.0
    # under the swap the model answers the partner's value (equal values by chance count right)
    same = []
    for b in batches:
        pattern = np.where(b.query_kind == 1, b.pattern, -1)
        src = swap_partners(pattern).ravel()
        rec = np.flatnonzero(pattern.ravel() >= 0)
        same.append(b.target.ravel()[src[rec]] == b.target.ravel()[rec])
    assert carried["causal_recurring_accuracy_swap"] == pytest.approx(np.concatenate(same).mean())
    assert carried["causal_recurring_swap_partner_share"] == 1.0
    assert carried["causal_recurring_accuracy_zero"] == 0.0
    assert carried["causal_novel_accuracy_clean"] == 1.0
    assert carried["causal_novel_accuracy_skip"] == 0.0
    assert carried["causal_chance"] == pytest.approx(1 / 64)
    # a model that answers recurring queries from other weights passes the swap unharmed
    other = causal_test(_Binding(False), batches, retrieving=0, n_values=64)
    assert other["causal_recurring_accuracy_swap"] == 1.0
    assert other["causal_recurring_accuracy_zero"] == 1.0
