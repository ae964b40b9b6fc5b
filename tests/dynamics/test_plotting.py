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
    assert len(grid.axes.flat) == 2 and "showing 2 of 3" in grid.figure._suptitle.get_text()


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
    assert "showing 3 of 4" in grid.figure._suptitle.get_text()
    assert axes[0].get_shared_x_axes().joined(axes[0], axes[2])
    assert axes[-1].get_xlabel() == "hours" and axes[0].get_ylabel() == "k (proportion)"


# ---- figures a journal accepts (issue 24, item 7) ------------------------------------------

def _group(n_subjects=5, t=T):
    rng = np.random.default_rng(1)
    df = pd.DataFrame([(s, tt, rng.binomial(40, min(0.95, 0.85 * tt ** -g)), 40)
                       for s, g in enumerate(np.linspace(0.2, 0.5, n_subjects)) for tt in t],
                      columns=["person", "hours", "k", "n"])
    return fit_consolidation_curve("hours", "k", "n", data=df, by="person", y_kind="successes",
                                   ci="wald")


def test_log_time_axis_by_default_when_delays_span_more_than_a_decade():
    assert fit_consolidation_curve(T, K, n=50, y_kind="successes", ci="wald").plot() \
        .get_xscale() == "log"                                           # 1 to 32
    short = np.array([1, 2, 3, 4, 6, 8.0])
    assert fit_consolidation_curve(short, K, n=50, y_kind="successes", ci="wald").plot() \
        .get_xscale() == "linear"
    fit = fit_consolidation_curve(T, K, n=50, y_kind="successes", ci="wald")
    assert plotting.plot_fits([fit], logx=False).get_xscale() == "linear"
    with_zero = np.array([0, 1, 4, 16, 64, 256.0])
    ax = fit_consolidation_curve(with_zero, K, n=50, y_kind="successes", ci="wald",
                                 family="exponential").plot()
    assert ax.get_xscale() == "symlog"                                   # the 0 is kept
    assert len(ax.containers[0].lines[0].get_xdata()) == 6
    grid = _group().plot()
    assert grid.axes.flat[0].get_xscale() == "log"


def test_non_converged_family_is_not_drawn():
    fits = fit_consolidation_curve(T, K, n=50, y_kind="successes", ci="wald",
                                   family=["power", "exponential"])
    fits["exponential"].converged_flags[:] = False
    ax = fits.plot()
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert "power" in labels and not any("exponential" in lab for lab in labels)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert not any("exponential" in lab for lab in legend)
    assert any("not converged, not drawn: exponential" in t.get_text() for t in ax.texts)
    y = np.stack([0.9 * T ** -g for g in (0.2, 0.4)]) + 0.01
    batched = fit_consolidation_curve(T, y, ci="wald", family=["power", "exponential"])
    batched["exponential"].converged_flags[1] = False
    axes = list(plotting.plot_panels(list(batched.values())).axes.flat)
    if True:
        assert "exponential" in [ln.get_label() for ln in axes[0].get_lines()]
        assert "exponential" not in [ln.get_label() for ln in axes[1].get_lines()]


def test_curves_and_bands_clipped_to_unit_interval_on_proportion_axes():
    k = np.array([50, 49, 45, 30, 10, 1])              # falls fast: a line would leave [0, 1]
    fits = fit_consolidation_curve(T, k, n=50, y_kind="successes", ci="wald",
                                   family=["exponential", "power", "logistic"])
    ax = fits.plot(band="all", logx=False)
    for line in ax.get_lines():
        y = np.asarray(line.get_ydata(), float)
        assert np.all((y >= 0) & (y <= 1)), line.get_label()
    for coll in ax.collections:
        for path in coll.get_paths():
            assert np.all((path.vertices[:, 1] >= -1e-12) & (path.vertices[:, 1] <= 1 + 1e-12))


def test_axis_labels_write_units_once():
    assert plotting.y_label("Retention (%)", "percent") == "Retention (proportion)"
    assert plotting.y_label("recall proportion", "proportion") == "recall proportion"
    assert plotting.y_label("recalled", "successes") == "recalled (proportion)"
    assert plotting.y_label("score", "value") == "score"
    assert plotting.axis_label("lag (s)", {"units": "s"}) == "lag (s)"
    assert plotting.axis_label("lag", {"units": "s"}) == "lag (s)"
    assert plotting.axis_label("days", {"units": "days"}) == "days"
    t = xr.DataArray(T, dims="lag", name="lag", attrs={"units": "s"})
    y = xr.DataArray(K * 2.0, dims="lag", name="Retention (%)")
    ax = fit_consolidation_curve(t, y, y_kind="percent", ci="wald").plot()
    assert ax.get_xlabel() == "lag (s)" and ax.get_ylabel() == "Retention (proportion)"


def test_facets_are_paged_or_say_how_many_are_shown():
    group = _group(n_subjects=7)
    pages = [group.plot(max_panels=3, page=p) for p in range(plotting.n_pages(7, 3))]
    titles = [ax.get_title() for g in pages for ax in g.axes.flat]
    assert titles == [f"person = {i}" for i in range(7)]                 # every subject, once
    assert "showing 3 of 7 persons" in pages[0].figure._suptitle.get_text()
    assert "page 3 of 3" in pages[-1].figure._suptitle.get_text()
    everyone = group.plot(max_panels=None)
    assert len(everyone.axes.flat) == 7 and "showing" not in everyone.figure._suptitle.get_text()
    with pytest.raises(ValueError, match="page"):
        group.plot(max_panels=3, page=3)
    y = np.stack([0.9 * T ** -g for g in (0.2, 0.3, 0.4, 0.5, 0.6)]) + 0.01
    fit = fit_consolidation_curve(T, y, ci="wald")
    last = plotting.plot_panels([fit], max_panels=2, page=-1)
    assert [ax.get_title() for ax in last.axes.flat] == ["curve=4"]
    assert "showing 1 of 5 curves" in last.figure._suptitle.get_text()


def _tick_labels_overlap(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            labels = [lab for lab in axis.get_majorticklabels() + axis.get_minorticklabels()
                      if lab.get_visible() and lab.get_text()]
            lo, hi = sorted(axis.get_view_interval())
            pos = [lab.get_position()[0 if axis.axis_name == "x" else 1] for lab in labels]
            boxes = [lab.get_window_extent(renderer) for lab, p in zip(labels, pos)
                     if lo <= p <= hi]
            if any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:]):
                return True
    return False


def test_no_overlapping_tick_labels():
    t = np.array([1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000.0])
    k = np.array([48, 45, 42, 38, 35, 30, 27, 22, 19, 15])
    ax = fit_consolidation_curve(t * 1000, k, n=50, y_kind="successes", ci="wald").plot(
        logx=False)
    assert not _tick_labels_overlap(ax.figure)
    ax = fit_consolidation_curve(t, k, n=50, y_kind="successes", ci="wald").plot(loglog=True)
    assert not _tick_labels_overlap(ax.figure)
    group = _group(n_subjects=6, t=np.array([1, 2, 4, 8, 16, 1000.0]))
    assert not _tick_labels_overlap(group.plot(height=1.2, logx=False).figure)
    fig, small = plt.subplots(figsize=(1.2, 1.2))
    small.set_xticks(range(0, 20000, 1000))
    assert _tick_labels_overlap(fig)
    plotting.declutter_ticks(fig)
    assert not _tick_labels_overlap(fig)


def test_residual_panel():
    fits = fit_consolidation_curve(T, K, n=50, y_kind="successes", ci="wald",
                                   family=["power", "exponential"])
    ax = fits.plot(residuals=True)
    res = ax.residual_ax
    assert res.get_ylabel() == "residual" and ax.get_xlabel() == "" and res.get_xlabel() == "t"
    lines = [ln for ln in res.get_lines() if len(ln.get_xdata()) == len(T)]
    assert len(lines) == 2
    power = fits["power"]
    expected = K / 50 - power.predict(T)
    assert any(np.allclose(ln.get_ydata(), np.ravel(expected)) for ln in lines)
    fig, own = plt.subplots()
    ax = plotting.plot_fits([power], ax=own, residuals=True)
    assert ax is own and ax.residual_ax in fig.axes
