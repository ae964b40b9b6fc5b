"""Tests of cramcog.figures and `cramcog figures`: every figure renders from synthetic records,
foreign or incomplete records give clear errors."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402

from cramcog import figures, records  # noqa: E402
from cramcog.experiments.ablations import AblationGrid, combine_cells, demo_run  # noqa: E402


def _has_fitting() -> bool:
    try:
        from cramcog.dynamics import fit_consolidation_curve  # noqa: F401
    except ImportError:
        return False
    return True


needs_fit = pytest.mark.skipif(not _has_fitting(), reason="cramcog.dynamics not available yet")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def training(rate=0.05, seed=0, steps=40):
    return demo_run({"rate": rate, "steps": steps, "seed": seed})


def ablation(parameter=True):
    grid = AblationGrid(name="rates", base={"rate": 0.1, "steps": 30, "seed": 0},
                        variants={"rate=0.02": {"rate": 0.02}, "rate=0.2": {"rate": 0.2},
                                  "rate=0.5": {"rate": 0.5}}, seeds=(0, 1),
                        parameter="rate" if parameter else "")
    cells = grid.cells()
    results = {c.key: demo_run(c.config) for c in cells if c.key != ("rate=0.5", 1)}
    return combine_cells(grid, results, {("rate=0.5", 1): "RuntimeError: boom"})


def transfer_record():
    rng = np.random.default_rng(0)
    variants, seeds, tasks = ["cram", "no_consolidation"], [0, 1, 2], ["gap_law", "dynamics"]
    att = np.empty((2, 3, 2))
    att[1] = 0.05 + rng.normal(0, 0.002, (3, 2))
    att[0] = att[1] * (0.5 + rng.normal(0, 0.02, (3, 2)))
    return records.new_record(
        {"attention_fraction": (("variant", "seed", "task"), att)},
        coords={"variant": variants, "seed": np.array(seeds, dtype="int64"), "task": tasks},
        kind="transfer", seed=None)


def scaling_record():
    freq = np.array([0.01, 0.02, 0.05, 0.1])
    n = np.array([512, 1024, 2048], dtype="int64")
    fn = freq[:, None] * n[None, :]
    static = 1.0 * fn                                   # grows as f x n
    cram = np.full_like(fn, 6.0) + 0.01 * fn ** 0.5     # stays nearly flat
    return records.new_record(
        {"attention_tokens": (("router", "frequency", "seq_len"), np.stack([static, cram]))},
        coords={"router": ["static", "cram"], "frequency": freq, "seq_len": n},
        kind="scaling", seed=None)


def comparison_table():
    return pd.DataFrame({"source": ["a", "b", "c"], "series": ["x", "", "y"], "family": "power",
                         "gamma": [0.40, 0.55, 0.3], "ci_low": [0.35, 0.5, 0.1],
                         "ci_high": [0.45, 0.6, 0.5], "model_gamma": 0.43,
                         "model_ci_low": 0.41, "model_ci_high": 0.45,
                         "verdict": ["consistent", "different", "inconclusive"]})


# ----------------------------------------------------------------------------- tidy frames

def test_phase_transition_found_and_absent():
    s = np.arange(0, 5000, 25)
    log_a = np.log(0.5) - np.log(30) / (1 + np.exp(-(s - 2500) / 150))  # steepest at 2500
    pt = figures.detect_phase_transition(s, np.exp(log_a))
    assert abs(pt.step - 2500) <= 50 and pt.slope < 0
    assert pt.fall_ratio == pytest.approx(30, rel=0.1)
    assert figures.detect_phase_transition(s, np.linspace(0.1, 0.5, s.size)) is None
    noisy_flat = 0.9 * np.exp(np.random.default_rng(0).normal(0, 0.05, s.size))
    assert figures.detect_phase_transition(s, noisy_flat) is None  # noise is no transition
    with pytest.raises(ValueError, match="min_fall"):
        figures.detect_phase_transition(s, np.exp(log_a), min_fall=0.5)
    with pytest.raises(ValueError, match="same length"):
        figures.detect_phase_transition(s, s[:-1])


def test_final_metrics_and_frames():
    m = figures.final_metrics(ablation())
    assert len(m) == 5  # the failed cell is left out
    assert set(m.variant) == {"rate=0.02", "rate=0.2", "rate=0.5"}
    # faster consolidation -> lower final attention (demo curves, noise is small)
    by = m.groupby("parameter_value").final_attention.mean()
    assert by.is_monotonic_decreasing
    assert m.accuracy_recurring.between(0, 1).all()
    # demo records have no per-category routes: the retrieving layer is the one attending most
    assert (m.retrieving_layer == 1).all()
    assert (m.attention_sum_over_floor > m.attention_over_floor).all()
    assert "fall_ratio" not in m  # a fall from a forced warm-up peak measures nothing
    df = figures.attention_frame(training())
    assert df.columns.tolist() == ["variant", "seed", "step", "layer", "attention_fraction"]
    assert len(df) == 40 * 2


def test_accuracy_of_accepts_both_layouts():
    run = training()
    acc = figures.accuracy_of(run, "novel")
    split = run.drop_vars("retrieval_accuracy").assign(
        retrieval_accuracy_novel=acc.drop_vars("query_kind"))
    np.testing.assert_allclose(figures.accuracy_of(split, "novel"), acc)
    assert figures.accuracy_of(split, "recurring") is None


# ----------------------------------------------------------------------------- figures render

def test_attention_over_training_renders(tmp_path):
    g = figures.plot_attention_over_training(ablation())
    assert len(g.axes.flat) == 3 and g.axes.flat[0].get_xscale() == "log"
    # the floor line is drawn (demo runs have no warm-up end to mark)
    assert any(line.get_linestyle() == "--" for line in g.axes.flat[0].get_lines())
    path = figures.save_figure(g, tmp_path / "a.png")
    assert path.stat().st_size > 5000


def test_accuracy_vs_attention_and_panels_render(tmp_path):
    g = figures.plot_accuracy_vs_attention({"fast": training(0.5), "slow": training(0.01)})
    assert [ax.get_title() for ax in g.axes.flat] == [
        "overall queries", "recurring queries", "novel queries"]
    figures.save_figure(g, tmp_path / "b.png")
    panels = figures.plot_ablation_panels(ablation())
    titles = [ax.get_title() for ax in panels.axes.flat]
    assert "attention (test, retrieving layer)" in titles
    assert not any("layer mean" in t or "peak" in t for t in titles)
    figures.save_figure(panels, tmp_path / "c.png")
    cat = figures.plot_ablation_panels(ablation(parameter=False))  # categorical variants
    figures.save_figure(cat, tmp_path / "d.png")


def test_gamma_comparison_transfer_scaling_render(tmp_path):
    fig = figures.plot_gamma_comparison(comparison_table())
    assert "a/x" in " ".join(t.get_text() for t in fig.axes.flat[0].get_yticklabels())
    figures.save_figure(fig, tmp_path / "g.png")
    from cramcog.comparison import COLUMNS, to_record

    table = comparison_table().reindex(columns=COLUMNS)
    for col in ("t_units", "measure", "reliability", "likelihood", "note"):
        table[col] = ""
    fig = figures.plot_gamma_comparison(to_record(table.fillna(0.0)))  # the record form
    figures.save_figure(fig, tmp_path / "g2.png")
    fig = figures.plot_transfer(transfer_record())
    figures.save_figure(fig, tmp_path / "t.png")
    red = figures.transfer_frame(transfer_record())
    assert red[red.variant == "cram"].reduction.mean() == pytest.approx(0.5, abs=0.05)
    points, slopes = figures.scaling_frame(scaling_record())
    s = slopes.set_index("router").slope
    assert s["static"] == pytest.approx(1.0, abs=1e-6) and abs(s["cram"]) < 0.2
    b = slopes.set_index("router").beta
    assert b["static"] == pytest.approx(1.0, abs=1e-9) and b["cram"] < b["static"]
    figures.save_figure(figures.plot_scaling(scaling_record()), tmp_path / "s.png")


@needs_fit
def test_consolidation_and_gamma_figures(tmp_path):
    t, y = figures.consolidation_curve(training(0.1))
    assert t[0] > 0 and np.all(np.diff(t) > 0)
    g = figures.plot_consolidation(training(0.1), human=None)
    assert "gamma=" in g.axes.flat[0].get_title()
    figures.save_figure(g, tmp_path / "c.png")
    gf = figures.gamma_frame(ablation())
    assert len(gf) == 5 and (gf.ci_low <= gf.gamma).all() and (gf.gamma <= gf.ci_high).all()
    figures.save_figure(figures.plot_gammas(ablation()), tmp_path / "g.png")


@needs_fit
def test_consolidation_with_human_curves():
    pytest.importorskip("cramcog.psych")
    df, fits = figures.consolidation_frame(training(0.1), human="all")
    assert (df.kind == "human").any() and len(fits) >= 2


# ----------------------------------------------------------------------------- errors

def test_foreign_and_bad_records_give_clear_errors():
    fit_record = records.new_record({"y": ("t", np.ones(3))}, kind="fit")
    with pytest.raises(figures.FigureError, match="draws training or ablation records, got a 'fit'"):
        figures.plot_attention_over_training(fit_record)
    with pytest.raises(figures.FigureError, match="not a cramcog record"):
        figures.plot_attention_over_training(xr.Dataset({"x": ("step", [1.0, 2.0])}))
    with pytest.raises(TypeError, match="record, a list of records"):
        figures.plot_attention_over_training(42)
    no_attention = training().drop_vars("attention_fraction")
    with pytest.raises(figures.FigureError, match=r"has no \['attention_fraction'\]"):
        figures.final_metrics(no_attention)
    with pytest.raises(figures.FigureError, match="reference variant 'nope'"):
        figures.plot_transfer(transfer_record(), reference="nope")
    with pytest.raises(figures.FigureError, match="needs columns"):
        figures.plot_gamma_comparison(pd.DataFrame({"source": ["a"]}))
    with pytest.raises(figures.FigureError, match="no figure draws 'fit'"):
        figures.figures_for([fit_record], names=["f"])
    all_failed = ablation().assign(status=lambda d: xr.full_like(d.status, "failed"))
    with pytest.raises(figures.FigureError, match="no finished runs"):
        figures.final_metrics(all_failed)


# ----------------------------------------------------------------------------- CLI

def test_cli_figures_writes_pngs(tmp_path, capsys):
    from cramcog.cli import main

    paths = []
    for name, ds in [("abl", ablation()), ("tr", transfer_record()), ("sc", scaling_record())]:
        paths.append(str(records.save(ds, tmp_path / f"{name}.nc")))
    if not _has_fitting():  # ablation figures include per-run gamma fits
        paths = paths[1:]
    out = tmp_path / "figs"
    assert main(["figures", *paths, "--out", str(out), "--human", "none"]) == 0
    written = sorted(p.name for p in out.glob("*.png"))
    assert "tr_transfer.png" in written and "sc_scaling.png" in written
    if _has_fitting():
        assert {"abl_attention.png", "abl_panels.png", "abl_gamma.png",
                "abl_accuracy_vs_attention.png"} <= set(written)
        summary = pd.read_csv(out / "abl_summary.csv")
        assert summary.variant.tolist() == ["rate=0.02", "rate=0.2", "rate=0.5"]
        assert summary.n_seeds.tolist() == [2, 2, 1]  # the failed cell is not a seed
        runs = pd.read_csv(out / "abl_metrics.csv")
        means = runs.groupby("variant", sort=False).final_attention.mean()
        np.testing.assert_allclose(summary.final_attention, means, rtol=1e-5)
        ok = summary.final_attention_high.notna()
        assert (summary.final_attention_low[ok] <= summary.final_attention[ok]).all()
        assert summary.final_attention_low.isna().tolist() == [False, False, True]
    assert str(out) in capsys.readouterr().out


def test_cli_figures_errors(tmp_path, capsys):
    from cramcog.cli import main

    fit_path = records.save(records.new_record({"y": ("t", np.ones(3))}, kind="fit"),
                            tmp_path / "fit.nc")
    assert main(["figures", str(fit_path), "--out", str(tmp_path)]) == 2
    assert "no figure draws 'fit'" in capsys.readouterr().err
    assert main(["figures", str(fit_path), "--skip-unsupported", "--out", str(tmp_path)]) == 2
    assert "none of the records has a figure" in capsys.readouterr().err
    sc = records.save(scaling_record(), tmp_path / "sc.nc")
    assert main(["figures", str(fit_path), str(sc), "--skip-unsupported", "--out",
                 str(tmp_path / "f")]) == 0
    assert "skipped" in capsys.readouterr().err and (tmp_path / "f" / "sc_scaling.png").is_file()
    assert main(["figures", str(tmp_path / "missing.nc")]) == 2
    assert "no record at" in capsys.readouterr().err
    junk = tmp_path / "junk.nc"
    junk.write_text("not netcdf")
    assert main(["figures", str(junk)]) == 2
    assert "not a readable netCDF record" in capsys.readouterr().err


@needs_fit
def test_constant_attention_is_not_fitted():
    dense = training()
    dense["attention_fraction"] = xr.ones_like(dense.attention_fraction)
    g = figures.gamma_frame({"dense": dense, "cram": training(0.1)})
    row = g.set_index("variant").loc["dense"]
    assert np.isnan(row.gamma) and not row.converged and "constant" in row.message
    assert np.isfinite(g.set_index("variant").loc["cram"].gamma)
    with pytest.raises(figures.FigureError, match="no run has a fittable"):
        figures.plot_gammas(dense)


def test_final_metrics_prefers_held_out_test_results():
    run = training()
    run["test_retrieval_accuracy"] = ("query_kind", np.array([0.5, 0.6, 0.4]))
    run["test_attention_fraction"] = ("layer", np.array([0.02, 0.04]))
    run["test_dynamics_mse"] = ((), 0.25)
    m = figures.final_metrics(run).iloc[0]
    assert m.accuracy_recurring == 0.6 and m.accuracy_novel == 0.4
    # the retrieving layer's test attention (layer 1 attends most), never the layer mean 0.03
    assert m.final_attention == pytest.approx(0.04) and m.dynamics_mse == 0.25
    assert m.final_attention_total == pytest.approx(0.06)
    assert m.attention_over_floor == pytest.approx(0.04 / run.attrs["attention_floor"])


def test_final_metrics_query_routes_in_the_retrieving_layer():
    run = training()
    assert np.isnan(figures.final_metrics(run).recurring_attended.iloc[0])
    # (layer, category, tier): novel queries attend in layer 1 only; 30% of recurring ones too
    routes = np.zeros((2, 4, 3))
    routes[:, :, 0] = 1.0
    routes[1, 3] = [0.0, 1.0, 0.0]
    routes[1, 2] = [0.0, 0.3, 0.7]
    routes[0, 2] = [0.0, 0.9, 0.1]  # an early layer attending more does not count
    run["test_route_fraction"] = (("layer", "category", "tier"), routes)
    run = run.assign_coords(category=["observation", "binding", "recurring_query", "novel_query"],
                            tier=["working", "episodic", "semantic"])
    m = figures.final_metrics(run).iloc[0]
    assert m.retrieving_layer == 1
    assert m.recurring_attended == pytest.approx(0.3)
    assert m.novel_attended == pytest.approx(1.0)
    # executed attention, where recorded, wins over the router's decisions: on the dense path
    # every token of layer 1 executed attention
    run["test_attended_fraction"] = (("layer", "category"), np.array([[0.9] * 4, [1.0] * 4]))
    assert figures.final_metrics(run).recurring_attended.iloc[0] == pytest.approx(1.0)
    run = run.drop_vars("test_attended_fraction")
    routes[:, 2] = 0.0  # no recurring queries at all (recurring fraction 0): NaN, not "0%"
    run["test_route_fraction"] = (("layer", "category", "tier"), routes)
    assert np.isnan(figures.final_metrics(run).recurring_attended.iloc[0])


def test_variant_summary_intervals():
    m = pd.DataFrame({"variant": ["a"] * 3, "seed": [0, 1, 2], "accuracy_novel": [1.0, 0.99, 1.0],
                      "dynamics_mse": [0.01, 0.03, 0.02]})
    s = figures.variant_summary(m).iloc[0]
    assert s.accuracy_novel_high == 1.0 and s.accuracy_novel_low < s.accuracy_novel  # clipped
    assert s.dynamics_mse == pytest.approx(0.02)
    assert s.dynamics_mse_high - 0.02 == pytest.approx(4.303 * 0.01 / np.sqrt(3), rel=1e-3)
    with pytest.raises(ValueError, match="level"):
        figures.variant_summary(m, level=1.5)


def test_zero_attention_stays_on_log_axes():
    none = training()
    none["attention_fraction"] = none.attention_fraction * 0.0  # a model without attention
    grid = figures.plot_accuracy_vs_attention({"some": training(), "none": none})
    ax = grid.axes.flat[0]
    assert ax.get_xscale() == "symlog" and ax.get_xlim()[0] < 0 < ax.get_xlim()[1]
    assert figures.plot_accuracy_vs_attention(training()).axes.flat[0].get_xscale() == "log"
    panels = figures.plot_attention_over_training({"some": training(), "none": none})
    assert [ax.get_title() for ax in panels.axes.flat] == ["some"]


def test_ablation_cells_become_run_records(tmp_path):
    runs = figures.as_runs(ablation())
    variant, seed, run = runs[0]
    assert run.cram.kind == "training" and run.attrs["seed"] == seed
    assert run.cram.config["seed"] == seed and run.attrs["ablation_variant"] == variant
    again = records.open(records.save(run, tmp_path / "cell.nc"))
    assert figures.final_metrics(again).variant.iloc[0] == variant


@needs_fit
def test_gamma_window_sensitivity(tmp_path):
    windows = [figures.ConsolidationWindow(), figures.ConsolidationWindow(start=50),
               figures.ConsolidationWindow(start=100, stop=250)]
    g = figures.gamma_frame(ablation(), windows)
    assert len(g) == 5 * 3 and set(g.window_start) == {"peak", "50", "100"}
    assert g.gamma.notna().all()
    figures.save_figure(figures.plot_gamma_windows(ablation(), windows), tmp_path / "w.png")
    with pytest.raises(ValueError, match="window start"):
        figures.ConsolidationWindow(start="middle")
    with pytest.raises(figures.FigureError, match="widen the window"):
        figures.consolidation_curve(training(), figures.ConsolidationWindow(start=10_000))


@needs_fit
def test_ablation_without_fittable_curves_still_draws():
    flat = ablation()
    flat["attention_fraction"] = xr.ones_like(flat.attention_fraction)
    with pytest.warns(UserWarning, match="no gamma figure"):
        made = figures.figures_for([flat], names=["dense"])
    assert "dense_gamma" not in made and "dense_panels" in made


def test_executed_flops_figure_draws_each_variant_beside_the_transformer():
    from cramcog.analysis import consolidation_record
    from cramcog.configs import named_config
    from cramcog.figures import plot_executed_flops
    from cramcog.train import train
    ds = consolidation_record({"cram": train(named_config("tiny", steps=6), progress=False)})
    ax = plot_executed_flops(ds).axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert "cram" in labels and "dense Transformer" in labels
    dense = [line for line in ax.get_lines() if line.get_label() == "dense Transformer"][0]
    assert dense.get_ydata()[0] == pytest.approx(
        float(ds.transformer_flops_per_token.sum()) / 1e3)

