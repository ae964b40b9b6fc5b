"""The operating-point record: knob sweeps (ablation records) stacked, the reported value marked."""
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from cramcog import records
from cramcog.ablations import named_grid, run_grid
from cramcog.analysis.operating import operating_point_frame, operating_point_record
from cramcog.analysis.runs import AnalysisError

from .conftest import probe_run


def _synthetic(config):
    """A probe run whose recurring test queries keep attending in proportion to the cost knob
    (a known answer), and whose novel ones always do."""
    cost = float(config["compute_cost"])
    run = probe_run(np.full(10, 500.0), seed=int(config["seed"]), n_eval=8, every=100,
                    test_rec=min(1.0, cost))
    run.attrs["config_json"] = json.dumps(config)
    return run


def _sweep(tmp_path, name="compute_cost", variants=None, base="small"):
    grid = named_grid(name, base=base, seeds=(100, 101))
    if variants:
        grid.variants = {v: grid.variants[v] for v in variants}
    with ThreadPoolExecutor(2) as pool:
        return run_grid(grid, tmp_path / name, run_fn=_synthetic, executor=pool, progress=False)


def test_sweeps_stack_with_their_values_and_the_reported_one(tmp_path):
    ds = operating_point_record([_sweep(tmp_path)])
    assert ds.attrs["study"] == "operating_point"
    assert ds.test_recurring_attended.dims == ("seq_len", "knob", "level", "seed")
    assert ds.seq_len.values.tolist() == [256] and ds.knob.values.tolist() == ["compute_cost"]
    assert ds.value.sel(seq_len=256, knob="compute_cost").values.tolist() == [0.0, 0.1, 0.3, 1.0]
    assert float(ds.operating_value.sel(seq_len=256, knob="compute_cost")) == 0.3   # small's
    rec = ds.test_recurring_attended.sel(seq_len=256, knob="compute_cost").mean("seed")
    np.testing.assert_allclose(rec.values, [0.0, 0.1, 0.3, 1.0])   # the known answer, in order
    frame = operating_point_frame(ds)
    marked = frame[frame.operating & (frame.measure == "test_recurring_attended")]
    assert marked.value.unique().tolist() == [0.3] and len(marked) == 2   # two seeds


def test_a_shorter_sweep_leaves_its_missing_levels_empty(tmp_path):
    ds = operating_point_record([
        _sweep(tmp_path), _sweep(tmp_path, "router_q_gain", ["router_q_gain=0",
                                                             "router_q_gain=24"])])
    values = ds.value.sel(seq_len=256, knob="router_q_gain").values
    assert values[:2].tolist() == [0.0, 24.0] and np.isnan(values[2:]).all()
    assert float(ds.operating_value.sel(seq_len=256, knob="router_q_gain")) == 24.0
    frame = operating_point_frame(ds)
    assert sorted(frame[frame.knob == "router_q_gain"].value.unique()) == [0.0, 24.0]


def test_bad_input_is_refused(tmp_path):
    sweep = _sweep(tmp_path)
    with pytest.raises(AnalysisError, match="two sweeps"):
        operating_point_record([sweep, sweep])
    with pytest.raises(AnalysisError, match="ablation records"):
        operating_point_record([probe_run(np.full(10, 500.0))])
    with pytest.raises(AnalysisError, match="no sweeps"):
        operating_point_record([])


def test_command_writes_the_record_and_the_figure_draws_it(tmp_path, capsys):
    import matplotlib
    matplotlib.use("Agg")
    from cramcog.cli import main
    from cramcog.figures import figures_for

    sweep = tmp_path / "compute_cost" / "compute_cost.nc"
    _sweep(tmp_path)
    out = tmp_path / "op.nc"
    assert main(["operating-point", str(sweep), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "compute_cost" in printed and "wrote" in printed
    figs = figures_for([records.open(out)], names=["operating_point"])
    assert list(figs) == ["operating_point"]
