"""The consolidation record, its fits and the per-pattern check, on runs whose answer is known."""
import numpy as np
import pytest

from cramcog import analysis, records
from cramcog.analysis.consolidation import describe_fits, switch_exposures

from .conftest import probe_run


def _switches(P=40, seed=0):
    # per-pattern steps at normally spread exposures: the average is a sigmoid, not a power law
    return np.random.default_rng(seed).normal(1500, 350, P).clip(400)


def test_record_counts_the_retrieving_layer_per_pattern():
    switch = _switches()
    switch[0] = np.inf                                  # one pattern never stops attending
    run = probe_run(switch)
    ds = analysis.consolidation_record({"cram": run})
    cell = ds.sel(variant="cram", seed=0)
    assert int(cell.retrieving_layer) == 1              # where the novel probes attend
    expo = run.pattern_exposures.values
    warm = 4
    expected = (expo < switch[None, :]).mean(1)         # every pattern has 8 probes
    expected[:warm + 1] = 1.0
    np.testing.assert_allclose(cell.recurring_attended.values, expected)
    np.testing.assert_allclose(cell.recurring_attended_count.values, expected * 8 * 40)
    assert (cell.recurring_probe_count == 320).all() and (cell.novel_probe_count == 40).all()
    np.testing.assert_allclose(cell.novel_attended.values, 1.0)
    np.testing.assert_allclose(cell.exposures.values, expo.mean(1))
    # a pattern stops attending at the first evaluation whose exposures reach its switch
    first = np.array([expo[np.argmax(expo[:, p] >= s), p] if np.isfinite(s) and
                      (expo[:, p] >= s).any() else np.nan for p, s in enumerate(switch)])
    first = np.maximum(first, expo[warm, 0])            # not before the end of the warm-up
    np.testing.assert_allclose(cell.pattern_switch_exposures.values, first)
    assert np.isnan(cell.pattern_switch_exposures.values[0])
    assert float(cell.switch_exposures) == pytest.approx(np.median(np.where(
        np.isfinite(first), first, np.inf)))
    # final numbers: retrieving layer over the floor, the fall against its ceiling
    assert float(cell.retrieving_layer_attention_over_floor) == pytest.approx(0.02 / (4 / 256))
    assert float(cell.fall_from_warmup_end) == pytest.approx(13 / (9 * 0.1 + 4))
    assert ds.attrs["fall_ceiling"] == pytest.approx(13 / 4)
    assert float(cell.swap_accuracy_recurring) == pytest.approx(0.01)
    assert float(cell.test_recurring_attended) == pytest.approx(0.1)


def test_retrieving_layer_follows_the_novel_queries():
    run = probe_run(_switches(), retrieving=0)
    ds = analysis.consolidation_record([run])
    assert list(ds.variant.values) == ["cram"]        # named from the config
    assert int(ds.retrieving_layer.sel(variant="cram", seed=0)) == 0
    assert float(ds.recurring_attended.isel(eval_step=-1).squeeze()) < 0.1


def test_switch_exposures_need_the_share_to_stay_low():
    share = np.array([[1.0], [0.2], [0.9], [0.1], [0.0]])   # dips, comes back, then stops
    expo = np.arange(5.0)[:, None] * 10
    assert switch_exposures(share, expo).tolist() == [30.0]
    assert np.isnan(switch_exposures(share[:3], expo[:3])[0])
    assert switch_exposures(share, expo, start=4).tolist() == [40.0]


def test_fits_say_no_gamma_for_a_mixture_of_steps():
    # 2% of probe routes flip at random: without it the curve is exactly 1 then exactly 0,
    # where only a logistic-link family can be fitted by a binomial likelihood
    ds = analysis.consolidation_record({"cram": probe_run(_switches(P=100), slip=0.02)})
    fits = analysis.fit_consolidation(ds, ci="none")
    assert list(fits.seed) == [0]                            # one seed: nothing to pool
    row = fits.iloc[0]
    # from the first evaluation after the warm-up that is below the ceiling, to the last
    assert row.n_points == 35 and np.isnan(row.gamma)
    assert row.best.split("+")[0] in ("weibull", "logistic")
    assert not row.power_margin >= 0            # NaN (no power family converged) or losing
    assert "no gamma" in row.verdict and row.best in row.verdict
    with_fits = analysis.with_fits(ds, fits)
    assert str(with_fits.curve_fit_verdict.sel(variant="cram", fit_seed=0).values) == row.verdict
    check = analysis.step_mixture_check(ds, "cram", 0)
    assert check["step_curve_rmse"] < 0.03                   # the average IS the step mixture
    assert check["median_switch_width"] < 0.5 * check["switch_iqr"]
    # a run without consolidation never switches: nothing to check, not a perfect score
    never = analysis.consolidation_record({"cram": probe_run(np.full(100, np.inf))})
    assert np.isnan(analysis.step_mixture_check(never, "cram", 0)["step_curve_rmse"])


def test_fits_report_gamma_where_a_power_law_wins():
    from cramcog.dynamics import fit_consolidation_curve

    t = np.geomspace(1, 2000, 20)
    n = np.full(t.size, 4000)
    k = np.random.default_rng(1).binomial(n, 0.9 * t ** -0.45)
    d = describe_fits(fit_consolidation_curve(t, k, n=n, family="all", ci="none",
                                              y_kind="successes", force=True))
    assert d["power_margin"] >= 10 and d["gamma"] == pytest.approx(0.45, abs=0.03)
    assert "a power law describes the curve" in d["verdict"]
    k = np.random.default_rng(1).binomial(n, 0.9 * np.exp(-t / 300))
    d = describe_fits(fit_consolidation_curve(t, k, n=n, family="all", ci="none",
                                              y_kind="successes", force=True))
    assert np.isnan(d["gamma"]) and not d["best"].startswith("power")


def test_command_writes_the_record(tmp_path, capsys):
    from cramcog.cli import main

    for seed in (1, 2):
        records.save(probe_run(_switches(P=20, seed=seed), seed=seed, n_eval=16, every=100,
                               slip=0.02), tmp_path / f"c{seed}.nc")
    records.save(probe_run(np.full(20, np.inf), seed=1, consolidation=False, test_rec=1.0,
                           n_eval=16, every=100), tmp_path / "n1.nc")
    out = tmp_path / "consolidation.nc"
    assert main(["consolidation", str(tmp_path / "c1.nc"), str(tmp_path / "c2.nc"),
                 str(tmp_path / "n1.nc"), "--out", str(out), "--no-fit"]) == 0
    printed = capsys.readouterr().out
    ds = records.open(out)
    assert list(ds.variant.values) == ["cram", "cram_no_consolidation"]
    assert ds.recurring_attended.dims == ("variant", "seed", "eval_step")
    for name in ("recurring_attended", "novel_attended", "accuracy_recurring", "accuracy_novel",
                 "exposures", "retrieving_layer_attention_over_floor", "fall_from_warmup_end",
                 "swap_accuracy_recurring", "switch_exposures", "recurring_attended_count",
                 "recurring_probe_count", "novel_attended_count", "novel_probe_count",
                 "pattern_attended", "pattern_probes", "pattern_exposures",
                 "pattern_switch_exposures"):
        assert name in ds, name
    assert ds.pattern_attended.dims == ("variant", "seed", "eval_step", "pattern")
    assert ds.pattern_switch_exposures.dims == ("variant", "seed", "pattern")
    never = ds.sel(variant="cram_no_consolidation", seed=1)
    assert np.isnan(never.pattern_switch_exposures.values).all()
    assert float(never.recurring_attended.isel(eval_step=-1)) == 1.0
    assert "fall_ceiling" in ds.attrs and "retrieving_layer" in ds.attrs
    assert "warmup_end" in ds.attrs
    assert "curve_fit_verdict" not in ds and "wrote" in printed


def test_a_run_without_probes_is_refused():
    run = probe_run(_switches()).drop_vars(["probe_attended"])
    with pytest.raises(ValueError, match="probe_per_pattern"):
        analysis.consolidation_record([run])


def test_first_off_and_returns_count_flicker():
    from cramcog.analysis.consolidation import first_off_and_returns

    share = np.array([[1.0, 1.0], [0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    expo = np.arange(6.0)[:, None] * np.ones(2) * 5
    first, back = first_off_and_returns(share, expo)
    assert first.tolist() == [5.0, 5.0] and back.tolist() == [2, 0]
    assert switch_exposures(share, expo).tolist() == [25.0, 5.0]
    ds = analysis.consolidation_record({"cram": probe_run(_switches())})
    cell = ds.sel(variant="cram", seed=0)
    # clean steps: never back, first off == switch
    assert (cell.pattern_returns == 0).all()
    np.testing.assert_allclose(cell.pattern_first_off_exposures, cell.pattern_switch_exposures)


def test_actr_is_not_counted_as_a_power_law():
    # ACT-R's gamma is the decay of an activation inside a logistic link: a curve from it is a
    # sigmoid in log t, and a win of ACT-R must not be reported as "a power law describes it"
    from cramcog.dynamics import FAMILIES, fit_consolidation_curve

    t = np.geomspace(10, 3000, 25)
    n = np.full(t.size, 3000)
    actr = FAMILIES["actr"]                                   # 1 / (1 + exp((g ln t - b) / s))
    p = actr.mean(t[None, :], np.array([[1.0, 0.3]]))[0]
    k = np.random.default_rng(2).binomial(n, p)
    d = describe_fits(fit_consolidation_curve(t, k, n=n, family="all", ci="none",
                                              y_kind="successes", force=True))
    # ACT-R ranks first, > 50 AIC ahead of every family that is not a power law of t...
    assert d["best"] == "actr" and "weibull+c" in d["ranking"]
    # ...but it is not one: the power laws proper (shifted power first) lose to it
    assert np.isnan(d["gamma"]) and d["power_margin"] < 0
    assert "power law describes" not in d["verdict"] and "sigmoid in log t" in d["verdict"]


def test_an_ablation_record_of_probe_runs_stacks_and_splits_back():
    """Each seed probes its patterns in its own order: the probe coords differ by seed, so they
    stack as variables over (variant, seed) and are coords of each run again after as_runs."""
    from cramcog.experiments.ablations import AblationGrid, combine_cells
    from cramcog.analysis.runs import as_runs

    runs = {}
    for seed in (1, 2):
        run = probe_run(_switches(P=20, seed=seed), seed=seed, n_eval=16, every=100)
        order = np.random.default_rng(seed).permutation(run.sizes["probe"])
        runs[("cram", seed)] = run.isel(probe=order).assign_coords(probe=np.arange(order.size))
    assert not np.array_equal(runs[("cram", 1)].probe_pattern, runs[("cram", 2)].probe_pattern)
    grid = AblationGrid(name="g", base={"steps": 5, "seed": 0}, variants={"cram": {}},
                        seeds=(1, 2))
    stacked = combine_cells(grid, runs)
    assert stacked.probe_pattern.dims == ("variant", "seed", "probe")
    for _, seed, run in as_runs(stacked):
        assert "probe_pattern" in run.coords and "probe_kind" in run.coords
        np.testing.assert_array_equal(run.probe_pattern, runs[("cram", seed)].probe_pattern)
    from_grid = analysis.consolidation_record(stacked)
    from_runs = analysis.consolidation_record(list(runs.values()))
    np.testing.assert_allclose(from_grid.recurring_attended, from_runs.recurring_attended)
    np.testing.assert_allclose(from_grid.pattern_switch_exposures,
                               from_runs.pattern_switch_exposures)


def test_seeds_with_different_probe_counts_stack_and_split_back():
    """Each seed draws its own probe set, of its own size: the smaller one is padded (kind "",
    NaN routes) in the ablation record, and the padding must not hide its evaluations."""
    from cramcog.experiments.ablations import AblationGrid, combine_cells

    runs = {("cram", 1): probe_run(_switches(P=20, seed=1), seed=1, n_eval=16, every=100,
                                   n_novel=30),
            ("cram", 2): probe_run(_switches(P=20, seed=2), seed=2, n_eval=16, every=100)}
    for (_, seed), run in runs.items():
        run.attrs["run_flops_ratio"] = 0.5 + seed / 10      # a run attr: a cell variable once
    grid = AblationGrid(name="g", base={"steps": 5, "seed": 0}, variants={"cram": {}},
                        seeds=(1, 2))
    stacked = combine_cells(grid, runs)
    from_grid = analysis.consolidation_record(stacked)
    from_runs = analysis.consolidation_record(list(runs.values()))
    assert np.isfinite(from_grid.recurring_attended).all()
    assert from_grid.run_flops_ratio.sel(variant="cram").values.tolist() == [0.6, 0.7]
    np.testing.assert_allclose(from_grid.recurring_attended, from_runs.recurring_attended)
    np.testing.assert_allclose(from_grid.novel_probe_count, from_runs.novel_probe_count)


def test_selective_consolidation_needs_every_part_of_the_conjunction():
    from cramcog.analysis.consolidation import selective_consolidation
    assert selective_consolidation(0.0, 1.0, 1.0, 0.99) == 1.0
    assert selective_consolidation(0.06, 1.0, 1.0, 0.99) == 0.0   # recurring still attending
    assert selective_consolidation(0.0, 0.5, 1.0, 0.99) == 0.0    # novel queries evicted (MoD)
    assert selective_consolidation(0.0, 1.0, 0.9, 0.99) == 0.0    # recurring answered wrong
    assert selective_consolidation(0.0, 1.0, 1.0, 0.5) == 0.0     # novel answered wrong
    assert np.isnan(selective_consolidation(0.0, np.nan, 1.0, 1.0))


def test_record_keeps_routes_executed_compute_and_selectivity_of_real_runs():
    from cramcog.configs import named_config
    from cramcog.train import train
    runs = {"cram": train(named_config("tiny", steps=6), progress=False),
            "no_consolidation": train(named_config("tiny", steps=6,
                                                   model={"consolidation": False}),
                                      progress=False)}
    ds = analysis.consolidation_record(runs)
    assert ds.test_route_fraction.dims == ("variant", "seed", "layer", "category", "tier")
    np.testing.assert_allclose(ds.test_route_fraction.sum("tier"), 1.0)
    assert ds.test_executed_flops_per_token.dims == ("variant", "seed", "component")
    for variant, run in runs.items():
        cell = ds.sel(variant=variant, seed=0)
        assert float(cell.run_flops_ratio) == pytest.approx(run.attrs["run_flops_ratio"])
        assert float(cell.test_flops_ratio) == pytest.approx(
            float(run.test_executed_flops_per_token.sum() / run.transformer_flops_per_token.sum()))
        steps = run.executed_flops_per_token.sum("component")
        first = float(cell.training_flops_per_token.sel(eval_step=3))
        assert first == pytest.approx(float(steps.sel(step=[1, 2, 3]).mean()))
        expected = analysis.consolidation.selective_consolidation(
            float(cell.test_recurring_attended), float(cell.test_novel_attended),
            float(cell.test_accuracy_recurring), float(cell.test_accuracy_novel))
        assert float(cell.selective_consolidation) == expected


def test_an_unfinished_run_is_said_to_be_unfinished(tmp_path, capsys):
    from cramcog.cli import main
    from cramcog.configs import named_config
    from cramcog.train import train

    train(named_config("tiny", steps=6, eval_every=2), out_dir=tmp_path / "run", progress=False,
          stop_after=4)
    assert main(["consolidation", str(tmp_path / "run"), "--out", str(tmp_path / "c.nc"),
                 "--no-fit"]) == 2
    err = capsys.readouterr().err
    assert "unfinished (step 4 of 6" in err and "resume it" in err


def test_names_given_on_the_command_line_are_kept(tmp_path):
    # NAME=PATH names the variant; before, a training run's config label replaced it, so two
    # names over runs of one config collided (and "no_consolidation=" became its label)
    from cramcog.experiments.consolidation import consolidation_study as consolidation
    for name in ("a", "b"):
        records.save(probe_run(_switches()), tmp_path / name / "record.nc")
    ds, _, _ = consolidation([f"first={tmp_path / 'a'}", f"second={tmp_path / 'b'}"],
                             tmp_path / "c.nc", fit=False)
    assert sorted(ds.variant.values.tolist()) == ["first", "second"]
    unnamed, _, _ = consolidation([str(tmp_path / "a")], tmp_path / "d.nc", fit=False)
    assert unnamed.variant.values.tolist() == ["cram"]


def test_refit_keeps_the_record_and_redoes_only_the_fits(tmp_path, capsys):
    from cramcog.cli import main
    from cramcog.experiments.consolidation import consolidation_study as consolidation
    records.save(probe_run(_switches()), tmp_path / "a" / "record.nc")
    ds, _, _ = consolidation([f"cram={tmp_path / 'a'}"], tmp_path / "c.nc", ci="none")
    assert main(["consolidation", str(tmp_path / "c.nc"), "--refit", "--ci", "none",
                 "--out", str(tmp_path / "r.nc")]) == 0
    again = records.open(tmp_path / "r.nc")
    assert "--refit" in again.attrs["curve_fit_refit"]
    for name in ("recurring_attended", "pattern_switch_exposures", "curve_fit_best"):
        np.testing.assert_array_equal(again[name].values, ds[name].values)
    assert main(["consolidation", str(tmp_path / "c.nc"), str(tmp_path / "c.nc"), "--refit",
                 "--out", str(tmp_path / "x.nc")]) != 0
    assert "one consolidation record" in capsys.readouterr().err
