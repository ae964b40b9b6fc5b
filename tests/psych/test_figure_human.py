"""cramcog.figures.human: model and human curves on shared axes, with bands."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from cramcog.dynamics.toy_consolidation import (consolidation_record,  # noqa: E402
                                                simulate_consolidation)
from cramcog.comparison.frames import human_comparison_frame, midpoint  # noqa: E402
from cramcog.dynamics.plotting import wilson_interval as wilson  # noqa: E402
from cramcog.figures.human import plot_human_comparison  # noqa: E402
from cramcog.figures.style import save_figure  # noqa: E402


@pytest.fixture(scope="module")
def toy():
    return consolidation_record([simulate_consolidation(n_episodes=100, seed=s)
                                 for s in (0, 1, 2)])


def test_frame_normalises_each_curve_at_its_midpoint_and_bands_the_model_over_seeds(toy):
    df = human_comparison_frame({"toy": toy}, families=["exponential", "power"])
    human = df[(df.side == "human") & (df.element == "data")]
    for source, sub in human.groupby("source"):
        # x / x50: each curve passes its halfway point at x_norm = 1
        assert midpoint(sub.x_norm.to_numpy(), sub.y.to_numpy()) == pytest.approx(1.0)
    rep = human[human.source.str.endswith("repetition/high")]
    lo, hi = wilson(rep.y * 0 + 1, rep.y * 0 + 1)  # sanity of the helper on k = n
    assert (hi <= 1 + 1e-12).all()
    assert ((rep.y_low < rep.y) & (rep.y < rep.y_high)).all()  # Wilson intervals on counts
    zb = human[human.source.str.contains("zbrodoff")]
    assert zb.y_low.isna().all()  # no counts: no per-point interval, the fit's band instead
    model = df[df.side == "model"]
    assert set(model.source) == {"toy (by time)", "toy (by exposure)"}
    assert set(model[model.source == "toy (by time)"].paradigm) == {"strategy_shift"}
    assert set(model[model.source == "toy (by exposure)"].paradigm) == {"remember_know"}
    assert ((model.y_low <= model.y) & (model.y <= model.y_high)).all()
    assert (model.y_high - model.y_low).max() > 0  # a band from the 3 seeds
    fit = df[(df.side == "human") & (df.element == "fit")]
    assert set(fit.family) <= {"exponential", "power"}
    rising = fit[fit.source.str.endswith("repetition/high")]
    assert rising.y.iloc[-1] > rising.y.iloc[0]  # drawn as measured (rising), fitted falling


def test_plot_draws_one_panel_per_paradigm(toy, tmp_path):
    grid = plot_human_comparison({"toy": toy}, families=["exponential"])
    axes = list(grid.axes.flat)
    assert [a.get_title() for a in axes] == ["strategy shift", "remember / know"]
    assert all(a.get_xscale() == "log" for a in axes)
    labels = [t.get_text() for t in axes[1].get_legend().get_texts()]
    assert any(lbl.startswith("model: toy") for lbl in labels)
    assert any("best: exponential" in lbl for lbl in labels)
    path = save_figure(grid, tmp_path / "human.png")
    assert path.stat().st_size > 20_000


def test_midpoint_and_wilson():
    assert midpoint(np.array([1, 2, 4, 8.0]), np.array([1, 1, 0, 0.0])) == pytest.approx(
        2 * 2 ** 0.5)
    assert np.isnan(midpoint(np.array([1, 2.0]), np.array([0.5, 0.5])))
    lo, hi = wilson(np.array([0.0]), np.array([20.0]))
    assert lo[0] == pytest.approx(0.0, abs=1e-12) and 0.1 < hi[0] < 0.2
    with pytest.raises(ValueError, match="no human curve"):
        human_comparison_frame(human="published_anchors_strategy_shift_rk")
