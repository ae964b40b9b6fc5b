"""Every model kind a config can name trains through cramcog.train.train and gives a record."""
import numpy as np
import pytest

from cramcog.configs import MODEL_KINDS, named_config
from cramcog.train import summarise, train


@pytest.mark.parametrize("kind", [k for k in MODEL_KINDS if k != "cram"])
def test_model_kind_trains_and_reports_attention(kind):
    record = train(named_config("tiny", steps=4, eval_every=4, model_kind=kind), progress=False)
    headline = summarise(record)
    assert record.attrs["model_kind"] == kind
    assert np.isfinite(headline["test_dynamics_mse"])
    if kind == "transformer":
        assert "test_attention_fraction" not in headline  # dense: attention everywhere
    else:
        att = headline["test_attention_fraction"]
        assert 0.0 <= att <= 1.0
        if kind == "working_only":
            assert att == 0.0 and headline["test_attention_flops_ratio"] == 0.0


def test_unknown_model_kind_is_a_clear_error():
    with pytest.raises(ValueError, match="model_kind"):
        named_config("tiny", model_kind="nonsense")
