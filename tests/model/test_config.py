"""CRAMConfig / TrainConfig validation and named configs."""
import pytest

from cramcog.configs import CRAMConfig, TrainConfig, named_config


@pytest.mark.parametrize("kwargs, match", [
    ({"d_model": 30, "n_heads": 4}, "divisible by n_heads"),
    ({"working_memory": "lstm"}, "working_memory must be one of"),
    ({"q_threshold": 1.0}, "q_threshold"),
    ({"replay_rate": -0.1}, "replay_rate"),
    ({"probe_rate": 1.0}, "probe_rate"),
    ({"window": 0}, "window"),
    ({"sigma": 0}, "sigma"),
    ({"semantic_rank": 999}, "semantic_rank"),
])
def test_cram_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CRAMConfig(**kwargs)


def test_cram_config_type_errors():
    with pytest.raises(TypeError, match="d_model must be an int"):
        CRAMConfig(d_model=64.0)


def test_rank_defaults_to_d_over_16():
    assert CRAMConfig(d_model=128, n_heads=4).rank == 8
    assert CRAMConfig(d_model=64, semantic_rank=16).rank == 16


def test_train_config_validation_and_round_trip():
    with pytest.raises(ValueError, match="model_kind"):
        TrainConfig(model_kind="rnn")
    with pytest.raises(ValueError, match="unknown TrainConfig fields"):
        TrainConfig.from_dict({"stepz": 3})
    cfg = named_config("small", steps=7, model={"consolidation": False})
    again = TrainConfig.from_dict(cfg.to_dict())
    assert again == cfg and again.model.consolidation is False and again.steps == 7
    with pytest.raises(ValueError, match="unknown config"):
        named_config("huge")


def test_paper_config_has_paper_task_facts():
    cfg = named_config("paper")
    assert cfg.task["seq_len"] == 2048 and cfg.task["n_patterns"] == 100
