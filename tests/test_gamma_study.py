"""The gamma study (cramcog.experiments.gamma_study, `cramcog gamma`) on synthetic training
records with a known power-law decay: recovery, pooling across seeds, NaN + reason, the CLI."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from cramcog import records
from cramcog.experiments.ablations import AblationGrid, combine_cells, demo_run
from cramcog.analysis.curves import ConsolidationWindow, cut_consolidation_curve
from cramcog.experiments.gamma_study import (DEFAULT_WINDOWS, NO_RUN, collect_runs, gamma_study,
                                             gamma_study_table, pooled_gamma)

EVERY = 10  # logging interval of the synthetic runs (optimizer steps)


def power_run(gamma: float, seed: int, name: str = "cram", steps: int = 60, noise: float = 0.05,
              amplitude: float = 0.8, constant: bool = False, ar: float = 0.0) -> xr.Dataset:
    """A training record whose attention is ``amplitude * (step + EVERY)^-gamma`` with
    multiplicative noise (AR(1) with coefficient ``ar`` along steps, as in real training
    curves): the window "0:end" gives t = step + EVERY, so gamma is the truth."""
    rng = np.random.default_rng(seed)
    step = np.arange(steps, dtype="int64") * EVERY
    clean = amplitude * (step[:, None] + EVERY) ** -gamma * np.ones((1, 2))  # (step, layer)
    eps = rng.normal(0, noise, clean.shape)                                  # (step, layer)
    for i in range(1, steps):
        eps[i] = ar * eps[i - 1] + np.sqrt(1 - ar ** 2) * eps[i]
    attn = np.ones_like(clean) if constant else clean * np.exp(eps)
    return records.new_record(
        {"attention_fraction": (("step", "layer"), attn)},
        coords={"step": ("step", step, {"units": "optimizer steps"}),
                "layer": ("layer", np.arange(2, dtype="int64"))},
        kind="training", config={"name": name, "seed": seed}, seed=seed)


def test_recovers_known_gamma_and_pools_across_seeds_with_a_t_interval():
    runs = [power_run(0.45, s) for s in (0, 1, 2)]
    ds = gamma_study(runs, windows=["0:end"], human=None)
    cell = ds.sel(variant="cram", window="0:end")
    g = cell.gamma.values                                                        # (seed,)
    assert np.all(np.abs(g - 0.45) < 0.03)
    assert np.all(cell.gamma_ci_low.values < g) and np.all(g < cell.gamma_ci_high.values)
    assert (ds.reason.values == "").all() and (ds.n_points.values == 60).all()
    assert np.all(np.abs(cell.residual_lag1.values) < 0.4)  # independent noise
    mean, sd = g.mean(), g.std(ddof=1)
    half = stats.t.ppf(0.975, 2) * sd / np.sqrt(3)
    pooled = ds.sel(variant="cram", window="0:end")
    assert float(pooled.pooled_gamma) == pytest.approx(mean)
    assert float(pooled.pooled_ci_low) == pytest.approx(mean - half)
    assert float(pooled.pooled_ci_high) == pytest.approx(mean + half)
    assert float(pooled.pooled_ci_low) < 0.45 < float(pooled.pooled_ci_high)
    assert str(pooled.pooled_method.values) == "t across 3 seeds" and int(pooled.n_seeds) == 3
    assert ds.attrs["caveat"] == "" and "profile" in ds.attrs["run_interval"]


def test_autocorrelated_curves_make_the_per_run_interval_too_narrow():
    """Why the study pools across seeds: with AR(1) noise the seeds' gammas scatter far more
    than each run's profile interval admits, and the residual autocorrelation shows it."""
    runs = [power_run(0.45, s, ar=0.9) for s in range(8)]
    ds = gamma_study(runs, windows=["0:end"], human=None).sel(variant="cram", window="0:end")
    assert float(ds.residual_lag1.mean()) > 0.5
    per_run_half = float(((ds.gamma_ci_high - ds.gamma_ci_low) / 2).mean())
    sd = float(ds.seed_sd)
    assert sd > 2 * per_run_half / 1.96  # the spread over seeds dwarfs the claimed se
    assert float(ds.pooled_ci_low) < 0.45 < float(ds.pooled_ci_high)


def test_demo_run_gamma_near_its_exponent_and_windows_are_resolved_as_stated():
    runs = [demo_run({"name": "demo", "rate": 0.1, "steps": 40, "seed": s}) for s in (0, 1)]
    ds = gamma_study(runs, human=None)
    assert list(ds.window.values) == list(DEFAULT_WINDOWS)
    assert abs(float(ds.pooled_gamma.sel(variant="demo", window="peak:end")) - 0.5) < 0.1
    start = ds.start_step.sel(variant="demo", seed=0)
    assert float(start.sel(window="2*peak:end")) == 2 * float(start.sel(window="peak:end"))
    assert float(start.sel(window="4*peak:end")) == 4 * float(start.sel(window="peak:end"))
    half = ds.stop_step.sel(variant="demo", seed=0, window="peak:0.5*end")
    assert float(half) == pytest.approx(0.5 * 390)  # logged steps 0..390
    assert (ds.n_points.sel(window="peak:0.5*end") < ds.n_points.sel(window="peak:end")).all()


def test_variants_with_unequal_seeds_and_ablation_records():
    runs = [power_run(0.6, s, "fast") for s in (0, 1)] + [power_run(0.3, s, "slow")
                                                          for s in (0, 1, 2)]
    ds = gamma_study(runs, windows=["0:end"], human=None)
    assert list(ds.variant.values) == ["fast", "slow"] and list(ds.seed.values) == [0, 1, 2]
    assert str(ds.reason.sel(variant="fast", seed=2, window="0:end").values) == NO_RUN
    assert np.isnan(float(ds.gamma.sel(variant="fast", seed=2, window="0:end")))
    assert int(ds.n_runs.sel(variant="fast", window="0:end")) == 2
    p = ds.pooled_gamma.sel(window="0:end")
    assert abs(float(p.sel(variant="fast")) - 0.6) < 0.03
    assert abs(float(p.sel(variant="slow")) - 0.3) < 0.03
    rows = gamma_study_table(ds, "runs")
    assert len(rows) == 5 and NO_RUN not in set(rows.reason)

    grid = AblationGrid(name="rates", base={"rate": 0.1, "steps": 30, "seed": 0},
                        variants={"slow": {"rate": 0.05}, "fast": {"rate": 0.2}}, seeds=(0, 1))
    abl = combine_cells(grid, {c.key: demo_run(c.config) for c in grid.cells()}, {})
    ds = gamma_study(abl, windows=["peak:end"], human=None)
    assert set(ds.variant.values) == {"slow", "fast"} and ds.sizes["seed"] == 2
    assert (ds.n_seeds == 2).all()


def test_constant_curve_gets_nan_and_the_reason_never_a_number():
    runs = {"dense": power_run(0.4, 0, constant=True), "cram": power_run(0.4, 0)}
    ds = gamma_study(runs, windows=["0:end", "peak:end"], human="ebbinghaus_1885")
    dense = ds.sel(variant="dense")
    assert np.isnan(dense.gamma).all() and np.isnan(dense.pooled_gamma).all()
    assert all("constant" in str(r) for r in dense.reason.sel(seed=0).values)
    assert all(str(r).startswith("no seed could be fitted") for r in dense.pooled_reason.values)
    assert (dense.verdict == "no fit").all() and np.isnan(dense["diff"]).all()
    assert "not compared: dense [0:end]" in ds.attrs["comparison"]
    assert np.isfinite(ds.pooled_gamma.sel(variant="cram")).all()
    table = gamma_study_table(ds)
    assert table.set_index(["variant", "window"]).loc[("dense", "0:end"), "n_no_fit"] == 1


def test_one_seed_keeps_its_profile_interval_and_says_it_is_too_narrow():
    ds = gamma_study(power_run(0.45, 0, "solo"), windows=["0:end"], human=None)
    one = ds.sel(variant="solo", window="0:end")
    assert float(one.pooled_ci_low) == float(one.gamma_ci_low.sel(seed=0))
    assert float(one.pooled_ci_high) == float(one.gamma_ci_high.sel(seed=0))
    assert "too narrow" in str(one.pooled_method.values) and "solo" in ds.attrs["caveat"]
    assert pooled_gamma([np.nan, np.nan])["n_seeds"] == 0


def test_comparison_uses_compare_gamma_on_the_pooled_gamma():
    from cramcog.comparison import ReportedGamma, compare_gamma

    runs = [power_run(0.2, s) for s in (0, 1, 2)]
    ds = gamma_study(runs, windows=["0:end"], human="ebbinghaus_1885")
    row = ds.sel(variant="cram", window="0:end", human="ebbinghaus_1885")
    model = ReportedGamma(float(row.pooled_gamma), (float(row.pooled_ci_low),
                                                    float(row.pooled_ci_high)), family="power")
    direct = compare_gamma(model, human="ebbinghaus_1885", family="power").iloc[0]
    assert float(row.human_gamma) == pytest.approx(direct["gamma"])
    assert float(row["diff"]) == pytest.approx(float(row.pooled_gamma - row.human_gamma))
    assert float(row.diff_ci_low) == pytest.approx(direct["diff_ci_low"])
    assert str(row.verdict.values) == direct["verdict"]
    table = gamma_study_table(ds, "comparison")
    assert list(table.human) == ["ebbinghaus_1885"] and table.verdict.iloc[0] == direct["verdict"]
    assert gamma_study_table(ds).n_different.sum() + gamma_study_table(ds).n_consistent.sum() \
        + gamma_study_table(ds).n_inconclusive.sum() == 1


def test_a_window_that_cannot_be_placed_gives_nan_and_why():
    flat = power_run(0.05, 0, steps=20)  # falls < 2x: no phase transition
    ds = gamma_study(flat, windows=["transition:end", "0:end", "5000:end"], human=None)
    reasons = dict(zip(ds.window.values, ds.reason.sel(variant="cram", seed=0).values))
    assert "no phase transition" in reasons["transition:end"]
    assert reasons["0:end"] == "" and "widen the window" in reasons["5000:end"]


@pytest.mark.parametrize("window, message", [
    ("bad", "START:STOP"), ("middle:end", "window start"), ("peak:2*end", r"\(0, 1\]"),
    ("300:100", "must come after"), ("peak:soon", "window stop"), ("-5:end", "window start"),
])
def test_bad_windows_give_clear_errors(window, message):
    with pytest.raises(ValueError, match=message):
        gamma_study(power_run(0.4, 0), windows=[window], human=None)


def test_bad_inputs_give_clear_errors():
    run = power_run(0.4, 0)
    with pytest.raises(ValueError, match="no exponent gamma"):
        gamma_study(run, family="exponential", human=None)
    with pytest.raises(ValueError, match="two runs are both variant 'cram', seed 0"):
        gamma_study([run, power_run(0.5, 0)], human=None)
    with pytest.raises(TypeError, match="record .* or a path"):
        gamma_study([42], human=None)
    with pytest.raises(ValueError, match="level"):
        gamma_study(run, level=1.5, human=None)
    with pytest.raises(ValueError, match="windows repeat"):
        gamma_study(run, windows=["peak:end", "peak:"], human=None)
    with pytest.raises(TypeError, match="non-empty list"):
        gamma_study(run, windows=[], human=None)
    with pytest.raises(ValueError, match="not a gamma_study record"):
        gamma_study_table(run)
    with pytest.raises(ValueError, match="part must be"):
        gamma_study_table(gamma_study(run, windows=["0:end"], human=None), "everything")
    with pytest.raises(ValueError, match="no comparison"):
        gamma_study_table(gamma_study(run, windows=["0:end"], human=None), "comparison")


def test_window_spelling_and_the_moved_names():
    from cramcog import analysis
    from cramcog.figures import gamma as figure_gamma

    w = ConsolidationWindow.parse(" 2 * peak : 0.50*end ")
    assert (w.start, w.stop, w.label) == ("2*peak", "0.5*end", "2*peak:0.5*end")
    assert ConsolidationWindow.parse("300:").label == "300:end"
    assert figure_gamma.consolidation_curve is analysis.consolidation_curve
    assert figure_gamma.ConsolidationWindow is analysis.ConsolidationWindow
    curve = cut_consolidation_curve(power_run(0.4, 0), "0:end")
    assert curve.t[0] == EVERY and curve.start_step == 0 and curve.dt == EVERY


def test_light_imports_do_not_pull_torch():
    code = ("import sys, cramcog.dynamics, cramcog.experiments, cramcog.experiments.gamma_study,"
            " cramcog.commands.gamma; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
    light = subprocess.run([sys.executable, "-c", "import sys, cramcog.dynamics; "
                            "print('xarray' in sys.modules, 'matplotlib' in sys.modules, "
                            "'cramcog.figures' in sys.modules, 'cramcog.analysis' in sys.modules)"],
                           check=True, capture_output=True, text=True)
    # the dynamics layer imports nothing above it (analysis, figures)
    assert light.stdout.split() == ["False", "False", "False", "False"]


@pytest.mark.parametrize("name", ["cramcog.analysis.curves",
                                  "cramcog.experiments.gamma_study", "cramcog.commands.gamma"])
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name),
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# ----------------------------------------------------------------------------- CLI

def test_cli_writes_a_valid_record_and_prints_the_command(tmp_path, capsys):
    from cramcog.cli import main

    for s in (0, 1, 2):
        records.save(power_run(0.45, s), tmp_path / f"seed{s}" / "train" / "record.nc")
    records.save(records.new_record({"y": ("t", np.ones(3))}, kind="fit"),
                 tmp_path / "seed0" / "fit.nc")  # not a run: skipped inside a folder
    out = tmp_path / "g.nc"
    argv = ["gamma", *(str(tmp_path / f"seed{s}") for s in (0, 1, 2)), "--out", str(out),
            "--window", "0:end", "--window", "peak:0.5*end", "--human", "none"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    ds = records.open(out)
    assert ds.cram.kind == "fit" and ds.attrs["study"] == "gamma_study"
    assert int(ds.n_seeds.sel(variant="cram", window="0:end")) == 3
    assert f"wrote {out}" in printed and "command: cramcog gamma" in printed
    assert ds.attrs["command"] in printed and "t across 3 seeds" in printed
    assert gamma_study_table(ds).shape[0] == 2


def test_cli_names_clashing_runs_by_folder_and_reports_errors(tmp_path, capsys):
    from cramcog.cli import main

    records.save(power_run(0.4, 0), tmp_path / "cons" / "record.nc")
    records.save(power_run(0.6, 0), tmp_path / "nocons" / "record.nc")  # same name and seed
    runs = collect_runs([tmp_path / "cons", tmp_path / "nocons" / "record.nc"])
    ds = gamma_study(runs, windows=["0:end"], human=None)
    assert list(ds.variant.values) == ["cons", "nocons"]
    out = str(tmp_path / "g.nc")
    assert main(["gamma", str(tmp_path / "cons"), "--out", out, "--window", "bad"]) == 2
    assert "START:STOP" in capsys.readouterr().err
    assert main(["gamma", str(tmp_path / "missing"), "--out", out]) == 2
    assert "no record or run folder" in capsys.readouterr().err
    fit = records.save(records.new_record({"y": ("t", np.ones(3))}, kind="fit"),
                       tmp_path / "f.nc")
    assert main(["gamma", str(fit), "--out", out]) == 2
    assert "reads training or ablation records" in capsys.readouterr().err


def test_named_runs_pool_their_seeds(tmp_path):
    # two configs trained under the same name: NAME=PATH,PATH gives each its own variant
    for seed in (0, 1):
        records.save(power_run(0.4, seed), tmp_path / f"c{seed}" / "record.nc")
        records.save(power_run(0.6, seed), tmp_path / f"n{seed}" / "record.nc")
    runs = collect_runs([f"cram={tmp_path / 'c0'},{tmp_path / 'c1'}",
                         f"nocons={tmp_path / 'n0'},{tmp_path / 'n1'}"])
    ds = gamma_study(runs, windows=["0:end"], human=None)
    assert sorted(ds.variant.values) == ["cram", "nocons"]
    assert int(ds.n_seeds.sel(variant="cram", window="0:end")) == 2
    assert float(ds.pooled_gamma.sel(variant="nocons", window="0:end")) > \
        float(ds.pooled_gamma.sel(variant="cram", window="0:end"))
    with pytest.raises(ValueError, match="NAME=DIR"):
        collect_runs(["cram="])
