"""The toy episodic/semantic consolidation model (cramcog.dynamics.toy_consolidation)."""
import doctest
import importlib
from dataclasses import fields

import numpy as np
import pytest

from cramcog.dynamics.toy_consolidation import (KINDS, ToyConsolidationConfig,
                                                ToyConsolidationResult, simulate_consolidation)

EPISODES = 120  # enough for the default settings to consolidate most of the pool


@pytest.fixture(scope="module")
def default_run() -> ToyConsolidationResult:
    return simulate_consolidation(n_episodes=EPISODES, seed=0)


def test_recurring_items_move_to_semantic_memory(default_run):
    share = default_run.episodic_share("recurring")
    assert share[0] == 1.0                      # nothing is consolidated before any replay
    assert share[-20:].mean() < 0.4             # most recurring lookups answered semantically
    assert share[-20:].mean() < share[:10].mean() - 0.5
    assert default_run.pool_consolidated[-1] > 0.5
    # what semantic memory answers, it answers right (the router does not see the answer)
    assert np.nanmean(default_run.semantic_accuracy("recurring")[-20:]) > 0.9


def test_novel_items_stay_episodic(default_run):
    novel = default_run.episodic_share("novel")
    assert novel.min() > 0.8
    assert novel[-20:].mean() > 0.95
    # a novel item answered semantically is a false memory: right only by luck (2**-8 chance)
    k = KINDS.index("novel")
    false_memories = (default_run.lookups[:, k] - default_run.episodic[:, k]).sum()
    assert default_run.semantic_correct[:, k].sum() <= max(1, 0.05 * false_memories)


def test_no_replay_no_consolidation():
    run = simulate_consolidation(n_episodes=40, replay_rate=0.0, seed=3)
    assert np.all(run.episodic == run.lookups)
    assert np.all(run.pool_consolidated == 0.0)
    with pytest.raises(ValueError, match="nothing consolidated"):
        run.onset()
    t, share, _ = run.curve(start=1)
    assert np.all(share == 1.0) and t[0] == 1.0


def test_more_replay_consolidates_faster():
    mean_share = [simulate_consolidation(n_episodes=60, replay_rate=rate, seed=1)
                  .episodic_share("recurring").mean() for rate in (0.5, 2.0, 6.0)]
    assert mean_share[0] > mean_share[1] > mean_share[2]


def test_small_semantic_capacity_consolidates_less():
    big = simulate_consolidation(n_episodes=EPISODES, seed=2)
    small = simulate_consolidation(n_episodes=EPISODES, semantic_rank=32, seed=2)
    assert small.pool_consolidated[-20:].mean() < big.pool_consolidated[-20:].mean() - 0.2


def test_counts_are_consistent(default_run):
    cfg = default_run.config
    assert default_run.lookups.shape == (EPISODES, 2)
    assert np.all(default_run.lookups[:, 0] == cfg.n_recurring_per_episode)
    assert np.all(default_run.lookups.sum(1) == cfg.items_per_episode)
    assert np.all(default_run.episodic <= default_run.lookups)
    assert np.all(default_run.semantic_correct <= default_run.lookups - default_run.episodic)
    assert default_run.episode.tolist() == list(range(1, EPISODES + 1))


def test_seeded_and_deterministic():
    a = simulate_consolidation(n_episodes=30, seed=7)
    b = simulate_consolidation(ToyConsolidationConfig(n_episodes=30, seed=7))
    c = simulate_consolidation(n_episodes=30, seed=8)
    for name in ("lookups", "episodic", "semantic_correct", "pool_consolidated"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.pool_consolidated, c.pool_consolidated)


def test_overrides_replace_config_fields():
    base = ToyConsolidationConfig(n_episodes=10, seed=4)
    run = simulate_consolidation(base, replay_rate=0.0)
    assert run.config.replay_rate == 0.0 and run.config.seed == 4
    assert base.replay_rate == ToyConsolidationConfig().replay_rate
    with pytest.raises(TypeError, match="ToyConsolidationConfig"):
        simulate_consolidation({"n_episodes": 3})


def test_all_recurring_or_all_novel():
    only_novel = simulate_consolidation(n_episodes=20, recurrence=0.0)
    assert np.all(np.isnan(only_novel.episodic_share("recurring")))
    with pytest.raises(ValueError, match="no recurring lookups"):
        only_novel.curve("recurring", start=1)
    only_recurring = simulate_consolidation(n_episodes=20, recurrence=1.0, n_recurring=40)
    assert np.all(np.isnan(only_recurring.episodic_share("novel")))
    assert only_recurring.summary(5)["episodic_share_recurring"] < 1.0


def test_curve_window_starts_at_onset(default_run):
    onset = default_run.onset()
    t, share, lookups = default_run.curve()
    assert t[0] == 1.0 and share[0] < 1.0
    assert len(t) == EPISODES - onset + 1
    np.testing.assert_array_equal(share, default_run.episodic_share()[onset - 1:])
    assert np.all(lookups == default_run.config.n_recurring_per_episode)
    t10, _, _ = default_run.curve(start=10)
    assert t10[0] == 1.0 and len(t10) == EPISODES - 9


def test_power_law_fit_of_the_curve(default_run):
    from cramcog.dynamics import fit_consolidation_curve

    t, share, _ = default_run.curve()
    fits = fit_consolidation_curve(t, share, family=["exponential", "power"], ci="wald")
    power = fits["power"]
    assert power.converged
    assert 0.05 < power.params["gamma"] < 1.5
    # a falling curve: the power law beats a plain exponential on these data
    assert fits["exponential"].aic > power.aic


def test_to_frame_and_summary(default_run):
    df = default_run.to_frame()
    assert list(df.columns) == ["episode", "kind", "lookups", "episodic", "episodic_share",
                                "semantic_correct", "semantic_accuracy"]
    assert len(df) == 2 * EPISODES
    summary = default_run.summary(10)
    assert set(summary) == {"episodic_share_recurring", "episodic_share_novel",
                            "semantic_accuracy_recurring", "semantic_accuracy_novel",
                            "pool_consolidated"}
    assert summary["episodic_share_novel"] > summary["episodic_share_recurring"]


@pytest.mark.parametrize("field, value, error, match", [
    ("n_episodes", 0, ValueError, "n_episodes must be >= 1"),
    ("n_episodes", 2.5, TypeError, "n_episodes must be an integer"),
    ("items_per_episode", True, TypeError, "items_per_episode must be an integer"),
    ("recurrence", -0.1, ValueError, r"recurrence must lie in \[0, 1\]"),
    ("recurrence", float("nan"), ValueError, "recurrence must lie in"),
    ("zipf_exponent", -1.0, ValueError, "zipf_exponent"),
    ("replay_rate", -1.0, ValueError, "replay_rate"),
    ("replay_rate", float("inf"), ValueError, "replay_rate"),
    ("replay_rate", "fast", TypeError, "replay_rate must be a number"),
    ("semantic_rank", 0, ValueError, "semantic_rank must be >= 1"),
    ("learning_rate", 0.0, ValueError, r"learning_rate must lie in \(0, 1\]"),
    ("learning_rate", 1.5, ValueError, "learning_rate"),
    ("semantic_decay", 1.0, ValueError, r"semantic_decay must lie in \[0, 1\)"),
    ("threshold", 0.0, ValueError, "threshold"),
    ("n_features", 0, ValueError, "n_features"),
    ("seed", -1, ValueError, "seed must be >= 0"),
])
def test_bad_settings_raise_clear_errors(field, value, error, match):
    with pytest.raises(error, match=match):
        ToyConsolidationConfig(**{field: value})


def test_pool_smaller_than_an_episode_draw_is_rejected():
    with pytest.raises(ValueError, match="enlarge the pool or lower recurrence"):
        ToyConsolidationConfig(n_recurring=5, items_per_episode=24, recurrence=0.5)


def test_bad_kind_and_start(default_run):
    with pytest.raises(ValueError, match="kind must be one of"):
        default_run.episodic_share("semantic")
    with pytest.raises(ValueError, match="start must be 'onset'"):
        default_run.curve(start="peak")
    with pytest.raises(ValueError, match="start must be >= 1"):
        default_run.curve(start=0)


def test_config_fields_have_defaults():
    cfg = ToyConsolidationConfig()
    assert all(getattr(cfg, f.name) is not None for f in fields(cfg))
    assert cfg.n_recurring_per_episode == 12


def test_docstring_examples():
    module = importlib.import_module("cramcog.dynamics.toy_consolidation")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# ----------------------------------------------------------------------------- per item

def _hand_made(item_seen, item_episodic):
    """A result whose per-item history is written by hand (one pool item per column)."""
    seen = np.array(item_seen, dtype=bool)
    episodes, pool = seen.shape
    cfg = ToyConsolidationConfig(n_episodes=episodes, n_recurring=max(pool, 12))
    pad = cfg.n_recurring - pool
    seen = np.pad(seen, ((0, 0), (0, pad)))
    epi = np.pad(np.array(item_episodic, dtype=bool), ((0, 0), (0, pad))) & seen
    zeros = np.zeros((episodes, 2), dtype=np.int64)
    return ToyConsolidationResult(config=cfg, episode=np.arange(1, episodes + 1), lookups=zeros,
                                  episodic=zeros, semantic_correct=zeros,
                                  pool_consolidated=np.zeros(episodes), item_seen=seen,
                                  item_episodic=epi)


def test_switch_point_is_the_first_exposure_answered_semantically_for_good():
    #        item:  0  1  2  3  4
    seen = [[1, 1, 1, 1, 0],
            [1, 0, 1, 1, 0],
            [1, 1, 1, 0, 0],
            [1, 1, 1, 1, 0]]
    episodic = [[1, 1, 1, 1, 0],
                [0, 0, 0, 1, 0],   # item 2 answers semantically at its 2nd exposure ...
                [1, 1, 1, 0, 0],   # ... but falls back to episodic at its 3rd
                [0, 0, 0, 1, 0]]   # item 3 still episodic at its last lookup: never switched
    r = _hand_made(seen, episodic)
    sw = r.switch_exposures()
    assert sw[0] == 4 and sw[1] == 3 and sw[2] == 4   # after its LAST episodic answer
    assert np.isnan(sw[3]) and np.isnan(sw[4])        # never switched / never seen
    np.testing.assert_array_equal(r.item_exposures()[:, 1], [1, 1, 2, 3])


def test_per_item_history_matches_the_aggregate_counts(default_run):
    k = KINDS.index("recurring")
    np.testing.assert_array_equal(default_run.item_seen.sum(1), default_run.lookups[:, k])
    np.testing.assert_array_equal(default_run.item_episodic.sum(1), default_run.episodic[:, k])
    assert not (default_run.item_episodic & ~default_run.item_seen).any()
    sw = default_run.switch_exposures()
    # frequent items (low pool index, Zipf) switch; most of the pool does within 120 episodes
    assert np.isfinite(sw[:4]).all() and np.isfinite(sw).mean() > 0.5
    assert np.nanmin(sw) > 1  # semantic memory has learned nothing at an item's first exposure


def test_consolidation_record_has_the_cram_layout(tmp_path):
    from cramcog import records
    from cramcog.dynamics.toy_consolidation import consolidation_record

    runs = [simulate_consolidation(n_episodes=40, seed=s) for s in (0, 1, 2)]
    ds = consolidation_record(runs, variant="toy")
    assert dict(ds.sizes) == {"variant": 1, "seed": 3, "eval_step": 40, "pattern": 32}
    one = ds.sel(variant="toy", seed=1)
    np.testing.assert_allclose(one.recurring_attended, runs[1].episodic_share("recurring"))
    np.testing.assert_array_equal(one.recurring_probe_count, 12)
    np.testing.assert_allclose(one.exposures, runs[1].item_exposures().mean(1))
    # per item: lookups answered episodically out of the item's lookups (CRAM's convention)
    pa, pp = one.pattern_attended.values, one.pattern_probes.values
    np.testing.assert_array_equal(pp, runs[1].item_seen)
    assert ((pa <= pp) & (pa >= 0)).all()
    np.testing.assert_array_equal(pa.sum(1), runs[1].episodic[:, 0])
    np.testing.assert_array_equal(one.pattern_switch_exposures, runs[1].switch_exposures())
    assert float(one.switch_exposures) == pytest.approx(np.nanmedian(runs[1].switch_exposures()))
    back = records.open(records.save(ds, tmp_path / "toy.nc"))
    np.testing.assert_array_equal(back.pattern_attended.values, ds.pattern_attended.values)
    assert back.attrs["record_role"] == "consolidation"
    with pytest.raises(ValueError, match="differ in more than the seed"):
        consolidation_record([runs[0], simulate_consolidation(n_episodes=40, replay_rate=1.0)])
    with pytest.raises(ValueError, match="duplicate seeds"):
        consolidation_record([runs[0], runs[0]])
    with pytest.raises(TypeError, match="ToyConsolidationResult"):
        consolidation_record([ds])
