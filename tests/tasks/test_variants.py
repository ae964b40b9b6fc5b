"""Transfer variants keep (a share of) the recurring bindings and change what is unseen."""
import numpy as np
import pytest

from cramcog.tasks import SRCD, SRCDConfig, shared_recurring_fraction, transfer_variants

BASE = SRCDConfig(seq_len=256, bank_size=2, query_rate=0.1, distance_max=64, seed=2)


def test_variants_change_one_thing_and_keep_vocabulary():
    variants = transfer_variants(BASE)
    assert {"system_vanderpol", "system_oscillators", "gaps_exponential", "gaps_heavy_tail",
            "gaps_regular", "query_rate_double", "query_rate_half", "bindings_half_new"} \
        == set(variants)
    for name, cfg in variants.items():
        assert (cfg.seed, cfg.n_keys, cfg.n_values, cfg.obs_dim, cfg.n_patterns) == \
            (BASE.seed, BASE.n_keys, BASE.n_values, BASE.obs_dim, BASE.n_patterns), name
        assert cfg != BASE
        expected = 0.5 if name == "bindings_half_new" else 1.0
        assert shared_recurring_fraction(BASE, cfg) == pytest.approx(expected)
    for name in ("gaps_exponential", "gaps_heavy_tail", "gaps_regular"):
        assert variants[name].mean_gap == pytest.approx(BASE.mean_gap)
    assert variants["query_rate_double"].query_rate == pytest.approx(0.2)
    assert variants["system_vanderpol"].system == "vanderpol"


def test_overlap_keeps_identical_bindings_and_adds_fresh_ones():
    base, half = SRCD(BASE), SRCD(BASE.variant(recurring_overlap=0.5, system="oscillators"))
    n = BASE.n_patterns
    np.testing.assert_array_equal(half.recurring_keys[: n // 2], base.recurring_keys[: n // 2])
    np.testing.assert_array_equal(half.recurring_values[: n // 2],
                                  base.recurring_values[: n // 2])
    assert not set(half.recurring_keys[n // 2:].tolist()) & set(base.recurring_keys.tolist())
    assert len(set(half.recurring_keys.tolist())) == n
    # sampled recurring queries of the variant answer with the variant's table
    b = half.sample(8, "train", seed=0)
    rec = b.query_kind == 1
    np.testing.assert_array_equal(b.target[rec], half.recurring_values[b.pattern[rec]])
    # a variant's transfer sets stay consistent: none of its recurring keys is novel there
    assert not set(half.recurring_keys.tolist()) & set(half.novel.pool("train").tolist())


def test_recurring_set_is_nested_in_n_patterns_and_independent_of_other_fields():
    small, big = SRCD(BASE), SRCD(BASE.variant(n_patterns=200))
    np.testing.assert_array_equal(big.recurring_keys[:100], small.recurring_keys)
    np.testing.assert_array_equal(big.recurring_values[:100], small.recurring_values)
    assert shared_recurring_fraction(BASE, BASE.variant(n_patterns=200)) == 1.0


def test_variant_tasks_sample():
    for name, cfg in transfer_variants(BASE, recurring_overlap=0.5).items():
        b = SRCD(cfg).sample(2, "test", seed=0)
        assert np.isfinite(b.obs).all() and (b.kind == 2).sum() == 2 * cfg.n_queries, name


def test_bad_variant_input():
    with pytest.raises(TypeError, match="SRCDConfig"):
        transfer_variants({"seq_len": 10})
    with pytest.raises(ValueError, match="recurring_overlap"):
        transfer_variants(BASE, recurring_overlap=2.0)
