"""MQAR generator: every key queried once after its binding, power-law gaps, disjoint splits."""
import numpy as np
import pytest

from cramcog.tasks import MQAR, MQARConfig


@pytest.fixture(scope="module")
def batch():
    return MQAR(MQARConfig(seq_len=128, n_pairs=16, seed=1)).sample(32, "train", seed=0)


def test_layout(batch):
    assert (batch.kind[:, :16] == 1).all()
    assert ((batch.kind == 2).sum(1) == 16).all() and ((batch.kind == 1).sum(1) == 16).all()
    for row in range(batch.batch_size):
        bind_keys = batch.key[row, :16]
        q = np.flatnonzero(batch.kind[row] == 2)
        assert len(np.unique(bind_keys)) == 16
        assert sorted(batch.key[row, q].tolist()) == sorted(bind_keys.tolist())  # each once
        p = batch.pair_pos[row, q]
        np.testing.assert_array_equal(batch.key[row, p], batch.key[row, q])
        np.testing.assert_array_equal(batch.value[row, p], batch.target[row, q])
    assert (batch.query_kind[batch.kind == 2] == 2).all() and (batch.category.max() == 3)
    assert batch.attention_floor == pytest.approx(16 / 128)
    assert not batch.dyn_mask.any() and (batch.obs == 0).all()


def test_query_gaps_favour_short_distances(batch):
    gaps = np.nonzero(batch.kind == 2)[1] - 16 + 1
    assert np.mean(gaps <= 28) > 0.5  # uniform would put 25% of queries in the first quarter


def test_splits_disjoint_and_determinism():
    task = MQAR(MQARConfig(seq_len=64, n_pairs=8, n_keys=32, n_values=12))
    pairs = {}
    for split in ("train", "val", "test"):
        b = task.sample(64, split, seed=0)
        pairs[split] = set(zip(b.key[b.kind == 1].tolist(), b.value[b.kind == 1].tolist()))
    assert not pairs["train"] & pairs["test"] and not pairs["train"] & pairs["val"]
    assert not pairs["val"] & pairs["test"]
    a, b = task.sample(4, "train", seed=3), task.sample(4, "train", seed=3)
    for name, arr in a.to_numpy().items():
        np.testing.assert_array_equal(arr, getattr(b, name))


@pytest.mark.parametrize("kw,match", [({"n_pairs": 200}, "n_pairs"), ({"power_a": 0.0}, "power_a"),
                                      ({"n_keys": 4}, "n_keys"), ({"seq_len": 1}, "seq_len")])
def test_bad_parameters(kw, match):
    with pytest.raises(ValueError, match=match):
        MQARConfig(**kw)
