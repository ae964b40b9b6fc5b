"""`cramcog redundancy ...`: train over checkpoints, measure saved folders, SRCD runs, errors."""
import numpy as np
import pytest

from cramcog import records
from cramcog.cli import main
from cramcog.configs import named_config

SMALL = ["--steps", "6", "--checkpoints", "4", "--max-sequences", "40", "--seq-len", "32",
         "--batch-size", "4", "--folds", "3"]


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setenv("CRAMCOG_TINY", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def test_train_then_measure_the_saved_checkpoints(tmp_path, tiny, capsys):
    out = tmp_path / "run"
    assert main(["redundancy", "train", *SMALL, "--save-checkpoints", "--out", str(out)]) == 0
    ds = records.open(out / "redundancy.nc")
    assert ds.cram.kind == "redundancy"
    assert ds.step.values.tolist() == [0, 1, 2, 6]
    assert set(ds.r2_heldout.dims) == {"checkpoint", "layer", "head"}
    assert ds.attrs["trend_headline_fraction_verdict"] in (
        "increases", "decreases", "no significant trend")
    assert (out / "redundancy.png").stat().st_size > 10_000
    assert "of attention operations are predictable" in capsys.readouterr().out
    # the same numbers again from the Hugging Face-layout checkpoints on disk
    folders = sorted(str(p) for p in (out / "checkpoints").iterdir())
    assert main(["redundancy", "measure", *folders, "--seq-len", "32", "--max-sequences", "40",
                 "--folds", "3", "--out", str(tmp_path / "again")]) == 0
    again = records.open(tmp_path / "again" / "redundancy.nc")
    np.testing.assert_allclose(again.headline_fraction.values, ds.headline_fraction.values)
    np.testing.assert_allclose(again.r2_heldout.values, ds.r2_heldout.values, rtol=1e-6)


def test_srcd_runs(tmp_path, tiny, capsys):
    from cramcog.train import train
    train("tiny", out_dir=tmp_path / "cram", progress=False)
    train({**named_config("tiny").to_dict(), "model_kind": "transformer"},
          out_dir=tmp_path / "tf", progress=False)
    assert main(["redundancy", "srcd", f"cram={tmp_path / 'cram'}", f"tf={tmp_path / 'tf'}",
                 "--folds", "3", "--out", str(tmp_path / "srcd")]) == 0
    ds = records.open(tmp_path / "srcd" / "redundancy_srcd.nc")
    assert ds.model.values.tolist() == ["cram:executed", "cram:counterfactual", "tf"]
    assert "redundant/token" in capsys.readouterr().out


def test_user_errors_are_one_clear_line(tmp_path, tiny, capsys):
    assert main(["redundancy", "measure", str(tmp_path / "missing")]) == 2
    assert "not a folder" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert main(["redundancy", "train", *SMALL, "--text", str(empty),
                 "--out", str(tmp_path / "x")]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["redundancy", "srcd", str(tmp_path)]) == 2
    assert "model.pt" in capsys.readouterr().err
