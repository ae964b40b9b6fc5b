"""SRCD generator: statistics match the parameters, every query answerable, splits disjoint."""
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from cramcog.tasks import SRCD, SRCDConfig
from cramcog.tasks.gaps import gap_cdf

SMALL = dict(seq_len=256, bank_size=4, query_rate=0.1, distance_max=64)


@pytest.fixture(scope="module")
def task():
    return SRCD(SRCDConfig(**SMALL, seed=3))


@pytest.fixture(scope="module")
def batch(task):
    return task.sample(16, "train", seed=0)


def test_counts_match_parameters(task, batch):
    cfg = task.config
    assert cfg.n_queries == round(0.1 * 256) == 26
    assert cfg.n_recurring == round(0.7 * 26) and cfg.n_novel == 26 - cfg.n_recurring
    np.testing.assert_array_equal((batch.kind == 2).sum(1), cfg.n_queries)
    np.testing.assert_array_equal((batch.kind == 1).sum(1), cfg.n_queries)
    np.testing.assert_array_equal((batch.query_kind == 1).sum(1), cfg.n_recurring)
    np.testing.assert_array_equal((batch.query_kind == 2).sum(1), cfg.n_novel)
    assert batch.attention_floor == pytest.approx(cfg.n_novel / 256)
    # category is consistent with kind and query_kind
    np.testing.assert_array_equal(batch.category == 0, batch.kind == 0)
    np.testing.assert_array_equal(batch.category == 1, batch.kind == 1)
    np.testing.assert_array_equal(batch.category == 2, batch.query_kind == 1)
    np.testing.assert_array_equal(batch.category == 3, batch.query_kind == 2)


def test_paper_defaults():
    cfg = SRCDConfig()
    assert (cfg.seq_len, cfg.n_patterns, cfg.query_rate, cfg.recurring_fraction) == \
        (2048, 100, 0.05, 0.7)
    assert cfg.gap_law == "pareto"
    assert cfg.attention_floor == pytest.approx(31 / 2048)  # ~ 0.05 x 0.30 = 1.5%


def test_every_query_binding_appears_earlier(task, batch):
    cfg = task.config
    b_idx, q_idx = np.nonzero(batch.kind == 2)
    p = batch.pair_pos[b_idx, q_idx]
    assert (p >= 0).all() and (p < q_idx).all()
    dist = q_idx - p
    assert dist.min() >= cfg.distance_min and dist.max() <= cfg.distance_max
    assert (batch.kind[b_idx, p] == 1).all()
    np.testing.assert_array_equal(batch.key[b_idx, p], batch.key[b_idx, q_idx])
    np.testing.assert_array_equal(batch.value[b_idx, p], batch.target[b_idx, q_idx])
    np.testing.assert_array_equal(batch.binding_kind[b_idx, p], batch.query_kind[b_idx, q_idx])
    # keys are unique per sequence among bindings, so the answer is unambiguous
    for row in range(batch.batch_size):
        keys = batch.key[row][batch.kind[row] == 1]
        assert len(np.unique(keys)) == len(keys)
    # fields are empty where they should be
    assert (batch.target[batch.kind != 2] == -100).all()
    assert (batch.key[batch.kind == 0] == 0).all() and (batch.value[batch.kind != 1] == 0).all()
    assert (batch.obs[batch.kind != 0] == 0).all()


def test_distance_is_uniform_in_range():
    cfg = SRCDConfig(seq_len=2048, bank_size=2, distance_min=10, distance_max=100)
    batch = SRCD(cfg).sample(8, "train", seed=1)
    b_idx, q_idx = np.nonzero(batch.kind == 2)
    dist = q_idx - batch.pair_pos[b_idx, q_idx]
    # collisions are redrawn, which barely bends the uniform law at 10% occupancy
    p = stats.kstest(dist, stats.randint(10, 101).cdf).pvalue
    assert dist.min() >= 10 and dist.max() <= 100 and p > 1e-3


def test_recurring_bindings_identical_across_sequences_and_splits(task):
    table = dict(zip(task.recurring_keys.tolist(), task.recurring_values.tolist()))
    assert len(table) == task.config.n_patterns
    seen = set()
    for split in ("train", "val", "test"):
        for seed in (0, 1):
            b = task.sample(8, split, seed=seed)
            rec = b.query_kind == 1
            for k, v, pat in zip(b.key[rec], b.target[rec], b.pattern[rec]):
                assert table[int(k)] == int(v)
                assert task.recurring_keys[pat] == k
                seen.add(int(k))
            assert (b.pattern[b.query_kind == 2] == -1).all()
    assert len(seen) > task.config.n_patterns // 2
    # a fresh task object with the same config has the same recurring set
    other = SRCD(SRCDConfig(**SMALL, seed=3))
    np.testing.assert_array_equal(other.recurring_keys, task.recurring_keys)
    np.testing.assert_array_equal(other.recurring_values, task.recurring_values)
    # ... and the set does not depend on dynamics, gaps or query rate, only on the seed
    moved = SRCD(SRCDConfig(**{**SMALL, "query_rate": 0.05}, seed=3, system="vanderpol",
                            gap_law="exponential"))
    np.testing.assert_array_equal(moved.recurring_keys, task.recurring_keys)
    different = SRCD(SRCDConfig(**SMALL, seed=4))
    assert not np.array_equal(different.recurring_keys, task.recurring_keys)


def _novel_pairs(task, split, seeds=(0, 1, 2)):
    pairs = set()
    for seed in seeds:
        b = task.sample(16, split, seed=seed)
        nov = b.query_kind == 2
        pairs |= set(zip(b.key[nov].tolist(), b.target[nov].tolist()))
    return pairs


@pytest.mark.parametrize("mode", ["pairs", "keys"])
def test_novel_bindings_disjoint_across_splits(mode):
    task = SRCD(SRCDConfig(**SMALL, n_keys=400, n_values=16, novel_split=mode, seed=5))
    pairs = {s: _novel_pairs(task, s) for s in ("train", "val", "test")}
    assert all(len(p) > 100 for p in pairs.values())
    assert not pairs["train"] & pairs["val"]
    assert not pairs["train"] & pairs["test"]
    assert not pairs["val"] & pairs["test"]
    keys = {s: {k for k, _ in p} for s, p in pairs.items()}
    assert not set(task.recurring_keys.tolist()) & set().union(*keys.values())
    if mode == "keys":
        assert not keys["train"] & keys["test"] and not keys["train"] & keys["val"]
    else:  # every novel key may appear in every split, only the pairs differ
        assert keys["train"] & keys["test"]
    # values of novel bindings stay spread over the whole vocabulary (not answerable by weights)
    vals = np.array([v for _, v in pairs["test"]])
    assert len(np.unique(vals)) == 16


def test_novel_bindings_fresh_per_sequence(task):
    b = task.sample(16, "train", seed=7)
    rows = [set(zip(b.key[i][b.query_kind[i] == 2].tolist(),
                    b.target[i][b.query_kind[i] == 2].tolist())) for i in range(16)]
    shared = sum(len(rows[i] & rows[j]) for i in range(16) for j in range(i + 1, 16))
    assert shared <= 2  # only chance coincidences out of ~120 x 8 pairs per pair of rows


@pytest.mark.parametrize("law,shape,scale", [("pareto", 2.5, 0.01), ("pareto", 1.5, 0.02),
                                             ("lomax", 3.0, 0.05), ("exponential", 0.0, 0.02)])
def test_gaps_follow_the_law(law, shape, scale):
    cfg = SRCDConfig(**SMALL, gap_law=law, gap_shape=shape, gap_scale=scale)
    b = SRCD(cfg).sample(8, "train", seed=0)
    gaps = b.dt[:, 1:].astype(np.float64).ravel()
    assert (b.dt[:, 0] == 0).all() and (b.time[:, 0] == 0).all()
    np.testing.assert_allclose(np.diff(b.time, axis=1), b.dt[:, 1:], rtol=1e-3, atol=1e-5)
    p = stats.kstest(gaps, lambda x: gap_cdf(x, law, shape, scale)).pvalue
    assert p > 1e-3, p
    # a wrong shape is rejected by the same test, so the test has power
    if law == "pareto":
        assert stats.kstest(gaps, lambda x: gap_cdf(x, law, shape * 1.3, scale)).pvalue < 1e-3


def test_dynamics_target_is_next_observation(batch):
    for row in range(batch.batch_size):
        obs_idx = np.flatnonzero(batch.kind[row] == 0)
        assert batch.dyn_mask[row, obs_idx[:-1]].all() and not batch.dyn_mask[row, obs_idx[-1]]
        assert batch.dyn_mask[row].sum() == len(obs_idx) - 1
        np.testing.assert_array_equal(batch.dyn_target[row, obs_idx[:-1]],
                                      batch.obs[row, obs_idx[1:]])
        np.testing.assert_allclose(batch.next_dt[row, obs_idx[:-1]],
                                   batch.time[row, obs_idx[1:]] - batch.time[row, obs_idx[:-1]],
                                   rtol=1e-4, atol=1e-5)
    assert (batch.dyn_target[~batch.dyn_mask] == 0).all()


def test_observations_standardised_and_smooth():
    task = SRCD(SRCDConfig(seq_len=1024, bank_size=8, obs_noise=0.0))
    b = task.sample(8, "train", seed=0)
    x = b.obs[b.kind == 0]
    np.testing.assert_allclose(x.std(0), 1.0, atol=0.25)
    np.testing.assert_allclose(x.mean(0), 0.0, atol=0.3)
    # the next observation is close to the current one at these small gaps: a real trajectory
    d = (b.dyn_target - b.obs)[b.dyn_mask]
    assert (d ** 2).mean() < 0.1


@pytest.mark.parametrize("system,params", [("vanderpol", {}), ("oscillators", {"n_osc": 3})])
def test_other_systems(system, params):
    task = SRCD(SRCDConfig(**SMALL, system=system, system_params=params, obs_dim=4))
    b = task.sample(4, "val", seed=0)
    assert b.obs.shape == (4, 256, 4) and np.isfinite(b.obs).all()
    x = b.obs[b.kind == 0]
    assert 0.3 < x.std() < 2.0


def test_determinism():
    cfg = SRCDConfig(**SMALL, seed=11)
    a = SRCD(cfg).sample(4, "train", seed=5)
    b = SRCD(cfg).sample(4, "train", seed=5)
    for name, arr in a.to_numpy().items():
        np.testing.assert_array_equal(arr, getattr(b, name), err_msg=name)
    c = SRCD(cfg).sample(4, "train", seed=6)
    assert not np.array_equal(a.kind, c.kind) and not np.array_equal(a.obs, c.obs)
    d = SRCD(cfg).sample(4, "test", seed=5)
    assert not np.array_equal(a.obs, d.obs)


def test_many_patterns_scale_and_few_patterns_repeat():
    big = SRCD(SRCDConfig(seq_len=512, n_patterns=2000, bank_size=2))
    b = big.sample(4, "train", seed=0)
    assert len(set(big.recurring_keys.tolist())) == 2000
    assert b.pattern.max() < 2000
    few = SRCD(SRCDConfig(**SMALL, n_patterns=3))
    b = few.sample(4, "train", seed=0)
    rec = b.query_kind == 1
    assert set(b.pattern[rec].tolist()) == {0, 1, 2}  # repeats, still consistent values
    np.testing.assert_array_equal(b.target[rec], few.recurring_values[b.pattern[rec]])


def test_zipf_popularity():
    task = SRCD(SRCDConfig(**SMALL, n_patterns=50, pattern_zipf=1.5))
    pats = task.sample(64, "train", seed=0).pattern
    counts = np.bincount(pats[pats >= 0], minlength=50)
    assert counts[0] > 3 * counts[25:].mean()


def test_to_torch_shapes_and_dtypes(batch):
    torch = pytest.importorskip("torch")
    t = batch.to_torch()
    assert set(t) == set(batch.to_numpy())
    B, N = batch.kind.shape
    for name in ("kind", "key", "value", "target", "query_kind", "category", "pattern",
                 "pair_pos", "binding_kind"):
        assert t[name].dtype == torch.int64 and tuple(t[name].shape) == (B, N)
    for name in ("time", "dt", "next_dt"):
        assert t[name].dtype == torch.float32 and tuple(t[name].shape) == (B, N)
    for name in ("obs", "dyn_target"):
        assert t[name].dtype == torch.float32 and tuple(t[name].shape) == (B, N, 3)
    assert t["dyn_mask"].dtype == torch.bool
    sub = batch[1]
    assert sub.kind.shape == (1, N) and np.array_equal(sub.obs[0], batch.obs[1])


@pytest.mark.parametrize("field,value,match", [
    ("query_rate", 0.3, "query_rate"),
    ("query_rate", -0.1, "query_rate"),
    ("recurring_fraction", 1.5, "recurring_fraction"),
    ("seq_len", 1, "seq_len"),
    ("n_patterns", 0, "n_patterns"),
    ("n_keys", 50, "n_keys"),
    ("n_values", 2, "n_values"),
    ("distance_min", 0, "distance_min"),
    ("distance_max", 0, "distance_max"),
    ("gap_shape", 1.0, "gap_shape"),
    ("gap_scale", 0.0, "gap_scale"),
    ("gap_law", "weibull", "gap_law"),
    ("system", "rossler", "system"),
    ("system_params", {"rhoo": 1.0}, "rhoo"),
    ("obs_noise", -1.0, "obs_noise"),
    ("obs_dim", 0, "obs_dim"),
    ("novel_split", "both", "novel_split"),
    ("novel_key_fractions", (0.5, 0.5), "novel_key_fractions"),
    ("recurring_overlap", 1.2, "recurring_overlap"),
    ("integration_step", 0.0, "integration_step"),
    ("seed", -1, "seed"),
])
def test_bad_parameters_raise(field, value, match):
    with pytest.raises(ValueError, match=match):
        SRCDConfig(**{"seq_len": 256, field: value})


def test_infeasible_layout_and_types_raise():
    with pytest.raises(ValueError, match="query_rate .*positions"):
        SRCDConfig(seq_len=100, query_rate=0.25, distance_min=60)
    with pytest.raises(TypeError, match="seq_len"):
        SRCDConfig(seq_len=256.0)
    with pytest.raises(ValueError, match="split"):
        SRCD(SRCDConfig(**SMALL)).sample(2, "dev", seed=0)
    with pytest.raises(ValueError, match="batch_size"):
        SRCD(SRCDConfig(**SMALL)).sample(0, "train", seed=0)
    with pytest.raises(ValueError, match="novel keys"):
        SRCD(SRCDConfig(**SMALL, n_keys=120, novel_split="keys"))


def test_config_round_trip_and_variant():
    cfg = SRCDConfig(**SMALL, system_params={"rho": 30.0})
    assert SRCDConfig.from_dict(cfg.to_dict()) == cfg
    assert hash(SRCDConfig.from_dict(cfg.to_dict())) == hash(cfg)
    import json
    assert json.loads(cfg.to_json())["system_params"] == {"rho": 30.0}
    v = cfg.variant(system="vanderpol")
    assert v.system_params == {} and v.seed == cfg.seed
    with pytest.raises(ValueError, match="seed"):
        cfg.variant(seed=1)
    with pytest.raises(ValueError, match="no fields"):
        SRCDConfig.from_dict({"sequence_length": 3})


def test_import_does_not_pull_torch():
    code = "import cramcog.tasks, sys; cramcog.tasks.SRCD; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_pair_partition_has_no_simple_rule():
    """Split membership of a pair is a random third per key: no per-key prior to learn."""
    task = SRCD(SRCDConfig(**SMALL, n_keys=300, n_values=30, seed=8))
    b = task.sample(64, "train", seed=0)
    nov = b.query_kind == 2
    keys, vals = b.key[nov], b.target[nov]
    assert task.novel.allowed("train", keys, vals).all()
    assert not task.novel.allowed("val", keys, vals).any()
    assert not task.novel.allowed("test", keys, vals).any()
    # value residues are balanced in the training split (a "v mod 3" rule would put all in one)
    share = np.bincount((vals - 1) % 3, minlength=3) / len(vals)
    np.testing.assert_allclose(share, 1 / 3, atol=0.05)
    # for one key, each split owns 10 of the 30 values, and they interleave irregularly
    k = int(keys[0])
    owners = [[task.novel.allowed(s, np.array([k]), np.array([v]))[0]
               for s in ("train", "val", "test")].index(True) for v in range(1, 31)]
    assert np.bincount(owners, minlength=3).tolist() == [10, 10, 10]
    assert len({tuple(np.diff(np.flatnonzero(np.array(owners) == s))) for s in range(3)}) > 1


@pytest.mark.parametrize("kw", [{"query_rate": 0.0}, {"recurring_fraction": 0.0},
                                {"recurring_fraction": 1.0},
                                {"seq_len": 3, "query_rate": 0.25, "distance_max": 1}])
def test_edge_configurations(kw):
    cfg = SRCDConfig(**{**SMALL, **kw})
    b = SRCD(cfg).sample(3, "train", seed=0)
    assert ((b.kind == 2).sum(1) == cfg.n_queries).all()
    assert ((b.query_kind == 1).sum(1) == cfg.n_recurring).all()
    q_rows, q_pos = np.nonzero(b.kind == 2)
    assert (b.pair_pos[q_rows, q_pos] < q_pos).all()


def test_summary_is_flat():
    s = SRCD(SRCDConfig(**SMALL)).summary()
    assert all(isinstance(v, (str, int, float)) for v in s.values())
    assert s["attention_floor"] == pytest.approx(s["n_novel"] / s["seq_len"])


def test_interface_fields_and_dtypes(batch):
    """The agreed interface (interfaces.md): names, numpy dtypes, shapes."""
    B, N = batch.kind.shape
    spec = {"kind": np.int64, "key": np.int64, "value": np.int64, "target": np.int64,
            "query_kind": np.int64, "category": np.int64, "time": np.float32,
            "dt": np.float32, "dyn_mask": np.bool_}
    for name, dtype in spec.items():
        arr = getattr(batch, name)
        assert arr.dtype == dtype and arr.shape == (B, N), name
    for name in ("obs", "dyn_target"):
        assert getattr(batch, name).dtype == np.float32
        assert getattr(batch, name).shape == (B, N, batch.config.obs_dim)
    cfg = batch.config
    assert batch.key.max() <= cfg.n_keys and batch.value.max() <= cfg.n_values
    assert batch.target[batch.kind == 2].min() >= 1


def test_task_pickles_for_process_pools(task):
    import pickle
    clone = pickle.loads(pickle.dumps(task))
    a, b = task.sample(2, "val", seed=9), clone.sample(2, "val", seed=9)
    np.testing.assert_array_equal(a.obs, b.obs)
    np.testing.assert_array_equal(a.key, b.key)
