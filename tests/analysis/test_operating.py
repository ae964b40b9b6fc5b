"""The operating-point record: knob sweeps (ablation records) stacked, the reported value marked."""
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from cramcog import records
from cramcog.experiments.ablations import named_grid, run_grid
from cramcog.analysis.operating import operating_point_frame, operating_point_record
from cramcog.analysis.runs import AnalysisError

from .conftest import probe_run


def _synthetic(config):
    """A probe run whose recurring test queries keep attending in proportion to the cost knob
    (a known answer), and whose novel ones always do; cost 0.1 with seed 101 fails."""
    cost = float(config["compute_cost"])
    if cost == 0.1 and int(config["seed"]) == 101:
        raise RuntimeError("this cell fails")
    run = probe_run(np.full(10, 500.0), seed=int(config["seed"]), n_eval=8, every=100,
                    test_rec=min(1.0, cost))
    run.attrs["config_json"] = json.dumps(config)
    return run


def _sweep(tmp_path, name="compute_cost", variants=None, base="small", seeds=(100, 101)):
    grid = named_grid(name, base=base, seeds=seeds)
    if variants:
        grid.variants = {v: grid.variants[v] for v in variants}   # in the order given
    with ThreadPoolExecutor(2) as pool:
        return run_grid(grid, tmp_path / name, run_fn=_synthetic, executor=pool, progress=False)


def test_sweeps_stack_with_their_values_and_the_reported_one(tmp_path):
    ds = operating_point_record([_sweep(tmp_path)])
    assert ds.attrs["study"] == "operating_point"
    assert ds.test_recurring_attended.dims == ("seq_len", "knob", "level", "seed")
    assert ds.seq_len.values.tolist() == [256] and ds.knob.values.tolist() == ["compute_cost"]
    assert ds.value.sel(seq_len=256, knob="compute_cost").values.tolist() == [0.0, 0.1, 0.3, 1.0]
    assert float(ds.operating_value.sel(seq_len=256, knob="compute_cost")) == 0.3   # small's
    rec = ds.test_recurring_attended.sel(seq_len=256, knob="compute_cost")
    np.testing.assert_allclose(rec.sel(seed=100).values, [0.0, 0.1, 0.3, 1.0])  # known, in order
    assert np.isnan(float(rec.sel(seed=101).isel(level=1)))      # the failed cell stays empty
    frame = operating_point_frame(ds)
    marked = frame[frame.operating & (frame.measure == "test_recurring_attended")]
    assert marked.value.unique().tolist() == [0.3] and len(marked) == 2   # two seeds


def test_an_unsorted_sweep_is_put_in_order_with_its_numbers(tmp_path):
    sweep = _sweep(tmp_path, variants=["compute_cost=1", "compute_cost=0", "compute_cost=0.3",
                                       "compute_cost=0.1"])
    ds = operating_point_record([sweep])
    cell = ds.sel(seq_len=256, knob="compute_cost", seed=100)
    assert cell.value.values.tolist() == [0.0, 0.1, 0.3, 1.0]
    np.testing.assert_allclose(cell.test_recurring_attended.values, [0.0, 0.1, 0.3, 1.0])


def test_the_operating_value_is_the_base_the_sweep_ran_from(tmp_path):
    grid = named_grid("compute_cost", base="small", seeds=(100,))
    grid.variants = {v: grid.variants[v] for v in ["compute_cost=0", "compute_cost=1"]}
    grid.base = {**__import__("cramcog.experiments.ablations", fromlist=["base_config_dict"]).base_config_dict(
        "small"), "compute_cost": 1.0}                                # as --set compute_cost=1
    with ThreadPoolExecutor(1) as pool:
        sweep = run_grid(grid, tmp_path / "g", run_fn=_synthetic, executor=pool, progress=False)
    ds = operating_point_record([sweep])
    assert float(ds.operating_value.sel(seq_len=256, knob="compute_cost")) == 1.0
    grid.base["compute_cost"] = 0.5                                   # a value not swept: said
    with ThreadPoolExecutor(1) as pool:
        other = run_grid(grid, tmp_path / "h", run_fn=_synthetic, executor=pool, progress=False)
    with pytest.warns(UserWarning, match="no level is marked"):
        operating_point_record([other])


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
    failed = _sweep(tmp_path / "f", variants=["compute_cost=0.1"], seeds=(101,))
    with pytest.raises(AnalysisError, match="no cell of sweep 'compute_cost' finished"):
        operating_point_record([failed])


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
