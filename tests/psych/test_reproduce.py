"""`cramcog reproduce` (the main job, for now: fit and compare the bundled human data)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cramcog import psych, records
from cramcog.cli import main
from cramcog.experiments.reproduce import ReproduceConfig, compare_with_model, default_run_dir


def test_reproduce_writes_a_run_folder_and_prints_it(tmp_path, capsys):
    out = tmp_path / "run"
    # Wald intervals keep the test quick; the default job uses profile intervals.
    assert main(["reproduce", "--out", str(out), "--ci", "wald", "--train", "none"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(out)
    names = {p.name for p in out.iterdir()}
    assert {"human_fits.nc", "human_fits.csv", "comparison.nc", "comparison.csv",
            "forgetting_curves.png", "gamma_forest.png", "summary.md",
            "summary.json"} <= names
    fits = records.open(out / "human_fits.nc")
    n_curves = len(psych.all_curves())  # every paradigm, each row labelled with its own
    assert fits.cram.kind == "fit" and fits.sizes["curve"] == n_curves
    assert fits.sizes["family"] >= 10
    power = fits["gamma"].sel(family="power")
    forgetting = [c.label for c in psych.all_curves("forgetting")]
    assert np.isfinite(power).all() and (power.sel(curve=forgetting) > 0).all()
    # the Remember share RISES with repetition: a negative "decay" exponent, reported as is
    assert float(power.sel(curve="reder_2000_remember_know_repetition_lag/repetition/high")) < 0
    comparison = records.open(out / "comparison.nc")
    assert comparison.cram.kind == "comparison"
    assert comparison.cram.config["ci"] == "wald"
    table = pd.read_csv(out / "comparison.csv")
    assert set(table.family) == {"power", "shifted_power"} and len(table) == 2 * n_curves
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best_family_by_aic"]["ebbinghaus_1885"]
    assert any("half-width" in a for a in summary["assumptions"])
    assert sum(summary["verdicts"]["power"].values()) == n_curves
    text = (out / "summary.md").read_text()
    assert "Assumptions" in text and "ebbinghaus_1885" in text
    assert "FSRS-6: w20 (default) = 0.1542" in text  # published exponents, for context
    assert [r["value"] for r in summary["published_exponents"]] == ["-1", "-0.5", "0.1542", "0.5"]
    for png in ("forgetting_curves.png", "gamma_forest.png"):
        assert (out / png).stat().st_size > 20_000


def test_a_model_fit_is_compared_in_its_own_family_only():
    from cramcog.dynamics import fit_consolidation_curve

    t = np.array([1, 2, 4, 8, 16, 32, 64.0])
    k = np.random.default_rng(0).binomial(4000, 0.9 * t ** -0.35)
    model = fit_consolidation_curve(t, k, n=4000, family="power", ci="wald", y_kind="successes")
    table = compare_with_model(model, ReproduceConfig(ci="wald"))
    assert set(table.family) == {"power"} and len(table) == len(psych.all_curves())
    assert table.model_gamma.iloc[0] == pytest.approx(model.params["gamma"])


def test_config_validates_and_run_dirs_are_unique(tmp_path):
    with pytest.raises(ValueError, match="level"):
        ReproduceConfig(level=1.5)
    with pytest.raises(ValueError, match="families"):
        ReproduceConfig(families="")
    with pytest.raises(ValueError, match="ci"):
        ReproduceConfig(ci="exact")
    assert ReproduceConfig(families="power, actr").families == ("power", "actr")
    first = default_run_dir(tmp_path)
    first.mkdir(parents=True)
    second = default_run_dir(tmp_path)
    assert second != first and second.name.startswith(first.name)
    assert first.name.endswith("-reproduce")


def test_reproduce_trains_measures_consolidation_and_compares(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["reproduce", "--out", str(out), "--ci", "wald", "--train", "tiny",
                 "--steps", "40"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"train", "training_summary.json", "comparison.csv", "summary.md", "consolidation.nc",
            "human_comparison.md", "human_shapes.csv",
            "cram_attention.png", "consolidation_curves.png", "consolidation_patterns.png",
            "consolidation_causal.png"} <= names
    assert records.open(out / "train" / "record.nc").cram.kind == "training"
    assert records.open(out / "consolidation.nc").attrs["study"] == "consolidation"
    headline = json.loads((out / "training_summary.json").read_text())
    for key in ("test_accuracy_novel", "test_attention_over_floor", "retrieving_layer",
                "recurring_attended_val_final", "switch_exposures_median", "family_verdict",
                "causal_swap_accuracy_recurring", "causal_skip_accuracy_novel", "model_interval"):
        assert key in headline, key
    assert "gamma" not in headline and "attention_fall_ratio" not in headline
    summary = json.loads((out / "summary.json").read_text())
    # one run has no seed-pooled interval: the paper's gamma is compared, and the summary says so
    assert summary["model"] == "CRAM paper (reported)"
    assert any("seed-pooled" in a for a in summary["assumptions"])
    text = (out / "summary.md").read_text()
    assert "## The CRAM run" in text and "model interval: seed-pooled" in text
    # in the order a reader asks: run, consolidation, causal tests, humans, forgetting, warnings
    order = ["## The CRAM run", "## Its consolidation curve", "## Causal tests",
             "## The consolidation curve against human", "## Forgetting curves and the paper's",
             "## Warnings raised during the job"]
    where = [text.index(h) for h in order]
    assert where == sorted(where), where
    # each warning once, with its count; the console only says how many
    listed = text[where[-1]:].splitlines()[2:]
    assert len(listed) == len(set(listed)) == len(summary["warnings"]) > 0
    err = capsys.readouterr().err
    assert "UserWarning" not in err and "distinct): listed at the end of" in err
