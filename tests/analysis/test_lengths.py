"""The length comparison: per-run measures the consolidation record keeps, and the table."""
import json

import numpy as np
import pytest

from cramcog import analysis, records
from cramcog.analysis.lengths import length_comparison, length_table
from cramcog.analysis.runs import AnalysisError

from .conftest import probe_run


def _run(seed=1, seq_len=256, consolidation=True, dyn=0.01, wall=100.0, **kw):
    switch = np.random.default_rng(seed).normal(1500, 350, 20).clip(400)
    if not consolidation:
        switch[:] = np.inf
    run = probe_run(switch, seed=seed, consolidation=consolidation, n_eval=16, every=100,
                    test_rec=0.0 if consolidation else 1.0, **kw)
    cfg = json.loads(run.attrs["config_json"])
    cfg["task"]["seq_len"] = seq_len
    run.attrs["config_json"] = json.dumps(cfg)
    run["test_dynamics_mse"] = ((), dyn)
    run.attrs["wall_seconds"] = wall
    return run


def _record(seq_len, dyn_cram=(0.02, 0.03), dyn_tr=(0.01, 0.01), transformer=True):
    runs = {"cram": [_run(s, seq_len, dyn=d, wall=100.0) for s, d in zip((1, 2), dyn_cram)],
            "cram_no_consolidation": [_run(s, seq_len, consolidation=False) for s in (1, 2)]}
    if transformer:
        runs["transformer"] = [_run(s, seq_len, dyn=d, wall=250.0) for s, d in
                               zip((1, 2), dyn_tr)]
    for name, seeds in runs.items():      # named as the command line's NAME= would
        for run in seeds:
            run.attrs["ablation_variant"] = name
    return analysis.consolidation_record([run for seeds in runs.values() for run in seeds])


def test_record_keeps_length_falls_transition_mse_and_wall_time():
    ds = _record(2048)
    assert ds.attrs["seq_len"] == 2048
    cell = ds.sel(variant="cram", seed=1)
    # a flat training trace (0.05 in both layers) does not fall, whatever the test split says
    assert float(cell.attention_fall_from_peak) == pytest.approx(1.0)
    assert float(cell.test_dynamics_mse) == 0.02 and float(cell.wall_seconds) == 100.0
    # the transition is an evaluation step after the warm-up end, NaN where nothing switched
    assert float(cell.transition_step) >= float(cell.warmup_end_step)
    assert np.isnan(float(ds.sel(variant="cram_no_consolidation", seed=1).transition_step))
    assert float(cell.half_off_step) <= float(cell.transition_step)   # counted from step 0


def test_a_record_refuses_runs_of_different_lengths():
    with pytest.raises(AnalysisError, match="different sequence lengths"):
        analysis.consolidation_record([_run(1, 256), _run(2, 2048)])


def test_table_pairs_the_transformer_by_seed_and_counts_selectivity():
    frame = length_comparison([_record(256), _record(2048, dyn_cram=(0.04, 0.01),
                                                      dyn_tr=(0.01, 0.02))])
    cell = frame.set_index(["measure", "column"])
    # per seed: 0.04 / 0.01 = 4, 0.01 / 0.02 = 0.5 -> mean 2.25 (a ratio of means would be 5/3)
    ratio = cell.loc[("Dynamics MSE, CRAM / Transformer", "N=2048")]
    assert ratio["mean"] == pytest.approx(2.25) and ratio["low"] == pytest.approx(0.5)
    assert cell.loc[("training wall time, CRAM / Transformer", "N=256"), "mean"] == 0.4
    assert cell.loc[("selective, CRAM", "N=256"), "text"] == "2 / 2"
    assert cell.loc[("selective, no consolidation", "N=256"), "text"] == "0 / 2"
    assert cell.loc[("selective, MoD-like", "N=256"), "text"] == "-"   # not in the record
    table = length_table(frame)
    assert table.splitlines()[0] == "| measure | N=256 | N=2048 |"
    assert "| Dynamics MSE, CRAM / Transformer | 2.50 [2.00, 3.00] | 2.25 [0.50, 4.00] |" in table


def test_table_without_a_transformer_shows_dashes_not_numbers():
    frame = length_comparison([_record(256, transformer=False)])
    assert (frame.set_index("measure").loc["Dynamics MSE, CRAM / Transformer", "text"] == "-")


def test_table_needs_the_length_and_distinct_lengths():
    ds = _record(256)
    with pytest.raises(AnalysisError, match="same length"):
        length_comparison([ds, ds])
    with pytest.raises(AnalysisError, match="seq_len"):
        length_comparison([ds.assign_attrs(seq_len=-1)])


def test_command_prints_the_table_and_refuses_other_records(tmp_path, capsys):
    from cramcog.cli import main

    records.save(_record(256), tmp_path / "a.nc")
    records.save(_record(2048), tmp_path / "b.nc")
    assert main(["lengths", str(tmp_path / "a.nc"), str(tmp_path / "b.nc"),
                 "--csv", str(tmp_path / "t.csv")]) == 0
    out = capsys.readouterr().out
    assert "| measure | N=256 | N=2048 |" in out and (tmp_path / "t.csv").is_file()
    records.save(_run(1), tmp_path / "run.nc")
    with pytest.raises(SystemExit, match="not a consolidation record"):
        main(["lengths", str(tmp_path / "run.nc")])


def test_a_real_transformer_run_is_a_variant_of_the_record():
    from cramcog.configs import named_config
    from cramcog.train import train
    run = train(named_config("tiny", steps=4, model_kind="transformer"), progress=False)
    ds = analysis.consolidation_record({"transformer": run})
    cell = ds.sel(variant="transformer", seed=0)
    assert float(cell.run_flops_ratio) == pytest.approx(1.0)
    assert float(cell.attention_fall_from_peak) == pytest.approx(1.0)   # always attends
    assert np.isfinite(float(cell.test_dynamics_mse)) and float(cell.wall_seconds) > 0


def test_half_off_counts_a_switch_inside_the_warm_up():
    # probes attend through evaluation 5 (step 500) and never after; the warm-up is said to end
    # at step 1000: after-the-warm-up can only report 1000, counted from 0 it is step 700 (the
    # first evaluation whose running median of 3 is <= 0.5)
    run = probe_run(np.full(10, 1.0), n_eval=16, every=100)
    run.attrs["warmup_end_step"] = 1000
    assert analysis.transition_step(run) == 1000.0
    assert analysis.transition_step(run, after_warmup=False) == 700.0


def test_peak_fall_compares_training_with_training_and_states_its_ceiling():
    run = probe_run(np.full(10, 1.0), n_eval=160, every=10)
    # peak and end are means over 50 steps (the default window): both on a flat part
    trace = np.r_[np.full(60, 0.9), np.linspace(0.9, 0.05, 40), np.full(60, 0.05)]
    run["attention_fraction"] = (("step", "layer"), np.c_[trace, trace / 2])
    fall, ceiling = analysis.attention_fall_from_peak(run)
    assert fall == pytest.approx(0.675 / 0.0375)           # layer means: peak 0.675, end 0.0375
    assert ceiling == pytest.approx(0.675 * 2 / (4 / 256))  # peak x layers / floor
    cell = analysis.consolidation_record({"cram": run}).sel(variant="cram", seed=0)
    assert float(cell.attention_fall_from_peak) == pytest.approx(fall)
    assert float(cell.attention_fall_from_peak_ceiling) == pytest.approx(ceiling)


def test_half_off_needs_a_fall_from_above_half():
    run = probe_run(np.full(10, 1.0), n_eval=16, every=100, warm_eval=-1)
    run.attrs["warmup_end_step"] = 0
    # the probes never attend (no warm-up forcing them): nothing fell, no transition
    assert np.isnan(analysis.transition_step(run, after_warmup=False))


def test_a_cell_with_fewer_seeds_says_how_many():
    ds = _record(256)
    ds["test_dynamics_mse"].loc[{"variant": "transformer", "seed": 2}] = np.nan
    t = length_comparison([ds]).set_index("measure")
    assert t.loc["Dynamics MSE, CRAM / Transformer", "text"] == "2.00 (n=1)"
    assert t.loc["Dynamics MSE, CRAM", "text"] == "0.0250 [0.0200, 0.0300]"


def test_the_record_keeps_the_configs_of_the_runs_it_summarises():
    import json as _json
    ds = _record(256)
    configs = _json.loads(ds.attrs["source_configs_json"])
    assert set(configs) == {f"{v}/seed {s}" for v in ("cram", "cram_no_consolidation",
                                                      "transformer") for s in (1, 2)}
    assert configs["cram/seed 1"]["task"]["seq_len"] == 256
