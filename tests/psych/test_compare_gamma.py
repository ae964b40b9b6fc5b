"""compare_gamma: model gamma vs human gamma with intervals, on synthetic fits of known gamma."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cramcog import psych, records
from cramcog.comparison import (COLUMNS, VERDICTS, ReportedGamma, compare_gamma,
                                mover_interval, summarize, to_record, verdict)
from cramcog.figures.forest import forest_grid as plot_gamma_comparison
from cramcog.figures.forest import forest_plot

T = np.array([1, 2, 4, 8, 16, 32, 64, 128.0])


def power_counts(gamma: float, n: int, seed: int, a: float = 0.9):
    """Binomial successes from a power law a t^-gamma, n trials per point (seeded)."""
    rng = np.random.default_rng(seed)
    return rng.binomial(n, a * T ** -gamma).astype(float)


def human_curve(gamma: float, n: int, seed: int, label: str = "synthetic") -> psych.Curve:
    k = power_counts(gamma, n, seed)
    return psych.Curve(label=label, t=T, y=k / n, n=np.full(T.shape, float(n)), source=label,
                       series="", t_units="days", measure="recall", reliability="synthetic")


def model_fit(gamma: float, n: int = 20000, seed: int = 1):
    from cramcog.dynamics import fit_consolidation_curve

    return fit_consolidation_curve(T, power_counts(gamma, n, seed), n=n, family="power",
                                   y_kind="successes")


def test_mover_reduces_to_the_root_sum_of_squares_for_symmetric_intervals():
    diff, low, high = mover_interval(0.5, 0.4, 0.6, 0.3, 0.27, 0.33)
    half = math.hypot(0.1, 0.03)
    assert diff == pytest.approx(0.2)
    assert (low, high) == pytest.approx((0.2 - half, 0.2 + half))
    # asymmetric intervals keep their asymmetry: the upper side uses the model's upper arm
    _, low, high = mover_interval(0.5, 0.45, 0.7, 0.3, 0.25, 0.32)
    assert high - 0.2 == pytest.approx(math.hypot(0.2, 0.05))
    assert 0.2 - low == pytest.approx(math.hypot(0.05, 0.02))


def test_verdict_rules():
    assert verdict(-0.05, 0.05, 0.1) == "consistent"
    assert verdict(-0.1, 0.1, 0.1) == "consistent"  # the margin is inclusive
    assert verdict(-0.15, 0.05, 0.1) == "inconclusive"  # contains 0, too wide
    assert verdict(0.01, 0.3, 0.1) == "different"
    assert verdict(-0.3, -0.001, 0.1) == "different"
    assert verdict(float("nan"), 0.1, 0.1) == "no fit"


def test_same_gamma_with_precise_data_is_consistent():
    fit = model_fit(0.3)
    table = compare_gamma(fit, human=human_curve(0.3, n=20000, seed=2))
    row = table.iloc[0]
    assert list(table.columns) == COLUMNS
    assert row["family"] == "power" and row["likelihood"] == "binomial"
    assert row["model_gamma"] == pytest.approx(fit.params["gamma"])
    assert row["gamma"] == pytest.approx(0.3, abs=0.02)
    assert row["diff_ci_low"] < 0 < row["diff_ci_high"]
    assert row["diff_ci_high"] - row["diff_ci_low"] < 0.2
    assert row["verdict"] == "consistent"


def test_different_gamma_is_different():
    table = compare_gamma(model_fit(0.3), human=human_curve(0.6, n=5000, seed=3))
    row = table.iloc[0]
    assert row["diff"] == pytest.approx(-0.3, abs=0.05)
    assert row["diff_ci_high"] < 0 and row["verdict"] == "different"


def test_same_gamma_with_noisy_data_is_inconclusive_not_consistent():
    # 15 trials per point: the human gamma is too uncertain to claim agreement
    table = compare_gamma(model_fit(0.3), human=human_curve(0.3, n=15, seed=4))
    row = table.iloc[0]
    assert row["diff_ci_low"] < 0 < row["diff_ci_high"]
    assert row["diff_ci_high"] - row["diff_ci_low"] > 0.2
    assert row["verdict"] == "inconclusive"


def test_margin_controls_what_consistent_means():
    curve = human_curve(0.3, n=300, seed=5)
    wide = compare_gamma(model_fit(0.3), human=curve, margin=1.0).iloc[0]
    tight = compare_gamma(model_fit(0.3), human=curve, margin=0.01).iloc[0]
    assert wide["verdict"] == "consistent" and tight["verdict"] == "inconclusive"
    with pytest.raises(ValueError, match="margin"):
        compare_gamma(model_fit(0.3), human=curve, margin=0)


def test_model_side_is_checked():
    from cramcog.dynamics import fit_consolidation_curve

    curve = human_curve(0.3, n=200, seed=6)
    with pytest.raises(ValueError, match="same form only"):
        compare_gamma(model_fit(0.3), human=curve, family="shifted_power")
    exp_fit = fit_consolidation_curve(T, power_counts(0.3, 2000, 7), n=2000, family="exponential",
                                      y_kind="successes")
    with pytest.raises(ValueError, match="has no gamma"):
        compare_gamma(exp_fit, human=curve)
    with pytest.raises(ValueError, match="level"):
        compare_gamma(model_fit(0.3), human=curve, level=0.9)
    with pytest.raises(ValueError, match="family is unknown"):
        compare_gamma(ReportedGamma(0.3, (0.2, 0.4)), human=curve)
    with pytest.raises(TypeError, match="fit result"):
        compare_gamma(0.43, human=curve)
    ebb = psych.curves("ebbinghaus_1885")[0]
    failed = fit_consolidation_curve(ebb.t, ebb.y, family="shifted_power", ci="wald")
    assert not failed.converged  # s runs to its bound: the data favour the pure power law
    with pytest.raises(ValueError, match="did not converge"):
        compare_gamma(failed, human=curve)
    batch = fit_consolidation_curve(T, np.stack([power_counts(0.3, 500, 12),
                                                 power_counts(0.4, 500, 13)]), n=500,
                                    family="power", ci="wald", y_kind="successes")
    with pytest.raises(ValueError, match="batched fit"):
        compare_gamma(batch, human=curve, level=0.95)
    with pytest.raises(ValueError, match="contain gamma"):
        ReportedGamma(0.5, (0.1, 0.2), family="power")


def test_a_fit_set_compares_its_best_or_named_families():
    from cramcog.dynamics import fit_consolidation_curve

    n = 20000
    fits = fit_consolidation_curve(T, power_counts(0.3, n, 8), n=n, y_kind="successes",
                                   family=["power", "shifted_power", "exponential"])
    curve = human_curve(0.3, n=n, seed=9)
    both = compare_gamma(fits, human=curve, family=["power", "shifted_power"])
    assert list(both["family"]) == ["power", "shifted_power"]
    assert both.loc[0, "model_gamma"] == pytest.approx(fits["power"].params["gamma"])


def test_reported_gamma_against_every_bundled_curve():
    paper = ReportedGamma(0.43, (0.39, 0.47), family="power", label="paper")
    table = compare_gamma(paper, human="all")
    assert [f"{s}/{r}" if r else s for s, r in zip(table.source, table.series)] == \
        [c.label for c in psych.all_curves()]
    assert set(table.verdict) <= set(VERDICTS)
    fitted = table[table.verdict != "no fit"]
    assert len(fitted) >= 7
    assert ((fitted.ci_low <= fitted.gamma) & (fitted.gamma <= fitted.ci_high)).all()
    assert (fitted.n_points >= 3).all() and (table.attrs["window"] == "t > 0")
    # savings curves have small plain-power exponents (the shared README warns of this)
    ebb = table[table.source == "ebbinghaus_1885"].iloc[0]
    assert 0.05 < ebb.gamma < 0.2 and ebb.verdict == "different"
    meeter = table[table.source == "meeter_murre_janssen_2005"]
    assert meeter.note.str.contains("cluster").all() and (meeter.likelihood == "binomial").all()
    spread = summarize(table)
    assert spread.loc["power", "n_curves"] == len(table)


def test_record_and_figures(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    table = compare_gamma(model_fit(0.3), human=[human_curve(0.3, 2000, 10, "a"),
                                                 human_curve(0.5, 2000, 11, "b")])
    path = records.save(to_record(table), tmp_path / "comparison.nc")
    back = records.open(path)
    assert back.cram.kind == "comparison" and back.sizes["row"] == 2
    np.testing.assert_allclose(back["gamma"].values, table["gamma"].values)
    assert back["verdict"].values.tolist() == table["verdict"].tolist()
    ax = forest_plot(table)
    assert len(ax.get_yticklabels()) == 2
    grid = plot_gamma_comparison(table)
    grid.figure.savefig(tmp_path / "forest.png")
    assert (tmp_path / "forest.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="lacks columns"):
        forest_plot(pd.DataFrame({"x": [1]}))


def test_bootstrap_intervals_are_seeded():
    paper = ReportedGamma(0.43, (0.39, 0.47), family="power")
    runs = [compare_gamma(paper, human="ebbinghaus_1885", ci="bootstrap", seed=s)
            for s in (3, 3, 4)]
    cols = ["ci_low", "ci_high"]
    pd.testing.assert_frame_equal(runs[0][cols], runs[1][cols])
    assert not runs[0][cols].equals(runs[2][cols])
    assert runs[0].attrs["seed"] == 3


def test_clustered_human_counts_get_quasi_intervals_by_default():
    # Meeter et al.'s trials cluster by session: Pearson dispersion 4.3 (4AFC) and 6.9 (open),
    # so the default quasi-binomial intervals are ~sqrt(dispersion) wider than plain binomial
    paper = ReportedGamma(0.43, (0.39, 0.47), family="power")
    quasi = compare_gamma(paper, human="meeter_murre_janssen_2005", ci="wald")
    plain = compare_gamma(paper, human="meeter_murre_janssen_2005", ci="wald",
                          overdispersion=None)
    ratio = (quasi.ci_high - quasi.ci_low) / (plain.ci_high - plain.ci_low)
    assert ratio.iloc[0] == pytest.approx(4.32 ** 0.5, rel=0.1)
    assert ratio.iloc[1] == pytest.approx(6.91 ** 0.5, rel=0.1)
    np.testing.assert_allclose(quasi.gamma, plain.gamma)
    assert quasi.attrs["human_overdispersion"] == "quasi"
