"""Plots people read: labels from names and units, a style per family, Wilson error bars,
legends outside the data, bands only for the best few, one panel per subject."""
import doctest

import matplotlib
import numpy as np
import pandas as pd
import pytest
import xarray as xr

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402

import cramcog.dynamics.plotting as plotting  # noqa: E402
from cramcog.dynamics import FAMILIES, fit_consolidation_curve  # noqa: E402
from cramcog.dynamics.plotting import family_style, wilson_interval  # noqa: E402

T = np.array([1, 2, 4, 8, 16, 32.0])
K = np.array([41, 33, 29, 23, 20, 17])


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_docstring_examples():
    result = doctest.testmod(plotting, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_wilson_interval_matches_statsmodels():
    from statsmodels.stats.proportion import proportion_confint
    k, n = np.array([0, 3, 17, 20]), np.array([20, 20, 20, 20])
    lo, hi = wilson_interval(k, n, 0.9)
    ref_lo, ref_hi = proportion_confint(k, n, alpha=0.1, method="wilson")
    assert np.allclose(lo, ref_lo) and np.allclose(hi, ref_hi)
    with pytest.raises(ValueError, match="level"):
        wilson_interval(k, n, 1.5)


def test_every_family_has_its_own_style():
    styles = {name: family_style(name) for name in FAMILIES}
    keys = {(tuple(s["color"]), s["ls"]) for s in styles.values()}
    assert len(keys) == len(FAMILIES)
    assert family_style("power")["color"] == family_style("power+c")["color"]
    assert family_style("my_family")["ls"] == ":"


def test_labels_come_from_names_and_units():
    t = xr.DataArray(T, dims="delay", name="delay", attrs={"units": "days"})
    y = xr.DataArray(K, dims="delay", name="recalled")
    ax = fit_consolidation_curve(t, y, n=50, y_kind="successes").plot()
    assert ax.get_xlabel() == "delay (days)"
    assert ax.get_ylabel() == "recalled (proportion)"


def test_binomial_data_have_wilson_error_bars_and_least_squares_none():
    ax = fit_consolidation_curve(T, K, n=50, y_kind="successes", ci="wald").plot()
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 1
    segments = bars[0].lines[2][0].get_segments()
    lo, hi = wilson_interval(K, 50)
    assert np.allclose([s[0][1] for s in segments], lo)
    assert np.allclose([s[1][1] for s in segments], hi)
    ax = fit_consolidation_curve(T, K / 50, ci="wald").plot()
    assert not [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def test_legend_is_outside_the_axes():
    fits = fit_consolidation_curve(T, K, n=50, y_kind="successes", ci="wald",
                                   family=["power", "exponential", "hyperbolic"])
    ax = fits.plot(loglog=True)
    fig = ax.figure
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1


def test_bands_only_for_the_best_few():
    fits = fit_consolidation_curve(T, K, n=50, y_kind="successes", ci="wald",
                                   family=["power", "exponential", "hyperbolic", "exp_sqrt"])

    def bands(ax):
        return [c.get_label() for c in ax.collections if c.get_label().endswith("band")]

    assert bands(fits.plot()) == [f"{fits.best.family} 95% band"]
    assert len(bands(fits.plot(band=2))) == 2
    assert len(bands(fits.plot(band="all"))) == 4
    assert bands(fits.plot(band=False)) == []


def test_batched_fit_draws_one_panel_per_curve_on_shared_axes():
    y = np.stack([0.9 * T ** -g for g in (0.2, 0.4, 0.6)]) + 0.01
    grid = fit_consolidation_curve(T, y, ci="wald").plot()
    axes = grid.axes.flat
    assert len(axes) == 3
    assert axes[0].get_shared_y_axes().joined(axes[0], axes[2])
    assert [ax.get_title() for ax in axes] == ["curve=0", "curve=1", "curve=2"]
    grid = fit_consolidation_curve(T, y, ci="wald").plot(max_curves=2)
    assert len(grid.axes.flat) == 2 and "first 2 of 3" in grid.figure._suptitle.get_text()


def test_group_plot_panels_per_subject_with_group_curve():
    rng = np.random.default_rng(0)
    df = pd.DataFrame([(s, tt, rng.binomial(40, 0.85 * tt ** -g), 40)
                       for s, g in enumerate([0.3, 0.4, 0.5, 0.45]) for tt in T],
                      columns=["person", "hours", "k", "n"])
    group = fit_consolidation_curve("hours", "k", "n", data=df, by="person",
                                    y_kind="successes", ci="wald")
    grid = group.plot(max_panels=3)
    axes = list(grid.axes.flat)
    assert [ax.get_title() for ax in axes] == ["person = 0", "person = 1", "person = 2"]
    labels = [line.get_label() for line in axes[0].get_lines()]
    assert "group" in labels and "power fit" in labels
    group_line = [ln for ln in axes[0].get_lines() if ln.get_label() == "group"][0]
    assert np.allclose(group_line.get_ydata(), group.predict(group_line.get_xdata()))
    assert "first 3 of 4" in grid.figure._suptitle.get_text()
    assert axes[0].get_shared_x_axes().joined(axes[0], axes[2])
    assert axes[-1].get_xlabel() == "hours" and axes[0].get_ylabel() == "k (proportion)"
