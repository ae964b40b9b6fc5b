"""Batch statistics, reference Dynamics MSEs, xarray export and the speed helper."""
import numpy as np
import pytest

from cramcog.tasks import SRCD, SRCDConfig
from cramcog.tasks.bench import time_sampling
from cramcog.tasks.stats import batch_statistics, reference_dynamics_mse


@pytest.fixture(scope="module")
def batch():
    return SRCD(SRCDConfig(seq_len=1024, bank_size=4, seed=1)).sample(8, "val", seed=2)


def test_statistics_match_config(batch):
    cfg, s = batch.config, batch_statistics(batch)
    assert s["query_rate"] == pytest.approx(cfg.n_queries / 1024)
    assert s["recurring_fraction"] == pytest.approx(cfg.n_recurring / cfg.n_queries)
    assert s["novel_query_rate"] == pytest.approx(batch.attention_floor)
    assert s["mean_gap"] == pytest.approx(cfg.mean_gap, rel=0.1)
    assert s["gap_ks_pvalue"] > 1e-3
    assert 1 <= s["mean_distance"] <= cfg.distance_max
    assert abs(s["obs_mean"]) < 0.3 and 0.7 < s["obs_std"] < 1.3


def test_reference_mse_levels(batch):
    ref = reference_dynamics_mse(batch)
    assert ref["noise_floor"] == pytest.approx(1e-4)
    # a trajectory, not noise: persistence beats the mean, extrapolation beats persistence
    assert ref["noise_floor"] < ref["linear_extrapolation"] < ref["persistence"] < 0.2
    assert 0.7 < ref["mean"] < 1.3


def test_persistence_matches_hand_computation(batch):
    m = batch.dyn_mask
    expected = np.mean((batch.dyn_target[m].astype(float) - batch.obs[m]) ** 2)
    assert reference_dynamics_mse(batch)["persistence"] == pytest.approx(expected)


def test_to_xarray(batch):
    ds = batch.to_xarray()
    assert ds.sizes == {"sequence": 8, "event": 1024, "obs_dim": 3}
    np.testing.assert_array_equal(ds["key"].values, batch.key)
    assert SRCDConfig.from_dict(__import__("json").loads(ds.attrs["config_json"])) == batch.config


def test_time_sampling_reports_positive_times():
    row = time_sampling("vanderpol", batch_size=2, seq_len=256, repeats=2, bank_size=2)
    assert row["setup_s"] > 0 and 0 < row["batch_median_ms"] <= row["batch_max_ms"]


def test_type_errors():
    with pytest.raises(TypeError, match="SRCDBatch"):
        batch_statistics({"kind": np.zeros((1, 2))})
    with pytest.raises(TypeError, match="SRCDBatch"):
        reference_dynamics_mse(None)
