"""Bad input raises a clear ValueError/TypeError; a fit that fails is flagged, never valid."""
import numpy as np
import pytest
import xarray as xr

from cramcog.dynamics import fit_consolidation_curve

T = np.array([1.0, 2, 4, 8, 16, 32])
Y = 0.9 * T ** -0.4


@pytest.mark.parametrize("t, y, kwargs, match", [
    (T, np.where(T == 4, np.nan, Y), {}, "y contains 1 NaN/inf"),
    (np.where(T == 4, np.inf, T), Y, {}, "t contains 1 NaN/inf"),
    (T, Y, {"n": np.where(T == 4, np.nan, 20)}, "n contains 1 NaN/inf"),
    (np.r_[0.0, T[1:]], Y, {"family": "power"}, "needs t > 0"),
    (np.r_[0.0, T[1:]], Y, {"family": ["exponential", "logarithmic"]}, "needs t > 0"),
    (np.r_[-1.0, T[1:]], Y, {"family": "exponential"}, "negative"),
    (T, Y * 2, {"n": 20, "y_kind": "proportion"}, r"proportions must lie in \[0, 1\]"),
    (T, -Y, {"n": 20}, "negative values: -0.9 \\(point 0, t=1\\)"),
    (T, np.array([25, 16, 12, 9, 7, 5]), {"n": 20, "y_kind": "successes"},
     r"successes exceed n at 1 point\(s\): 25 \(point 0, t=1\) > n"),
    (T[:3], Y[:3], {"family": "power+c"}, "only 3 points"),
    (T[:2], Y[:2], {"family": "power"}, "only 2 points"),
    (T, Y[:-1], {}, "t has 6 points but y has 5"),
    (T, np.full(6, 0.5), {}, "constant"),
    (T, np.full(6, 10), {"n": 20, "y_kind": "successes"}, "constant"),
    (T, Y, {"family": "powerlaw"}, "unknown family 'powerlaw'; valid names: .*exponential"),
    (T, Y, {"family": []}, "empty"),
    (T, Y, {"family": ["power", "power"]}, "duplicates"),
    (T, Y, {"ci": "jackknife"}, "ci='jackknife'"),
    (T, Y, {"level": 1.5}, "level must be"),
    (T, Y, {"n_boot": 5}, "n_boot"),
    (T, Y, {"bootstrap": "cases"}, "bootstrap='cases'"),
    (T, Y, {"n": 0}, "n must be positive"),
    (T, Y, {"n": 20.5}, "whole numbers"),
    (T, Y, {"y_kind": "percents"}, "y_kind"),
])
def test_bad_input_raises_value_error_saying_what_is_wrong(t, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_consolidation_curve(t, y, **kwargs)


def test_non_numeric_input_raises_type_error():
    with pytest.raises(TypeError, match="numeric"):
        fit_consolidation_curve(T, ["a", "b", "c", "d", "e", "f"])
    with pytest.raises(TypeError, match="family must be"):
        fit_consolidation_curve(T, Y, family=3)
    with pytest.raises(TypeError, match="Dataset"):
        fit_consolidation_curve(None, xr.Dataset({"y": ("t", Y)}))


def test_xarray_input_errors_name_the_dims():
    y = xr.DataArray(np.tile(Y, (2, 1)), dims=("subject", "lag"), coords={"lag": T})
    with pytest.raises(ValueError, match="pass dim="):
        fit_consolidation_curve(None, y)
    with pytest.raises(ValueError, match="not a dimension"):
        fit_consolidation_curve(None, y, dim="time")
    bad = y.copy()
    bad[1] = 0.3
    with pytest.raises(ValueError, match="constant in 1 curve"):
        fit_consolidation_curve(None, bad, dim="lag")


def test_a_fit_that_cannot_converge_is_flagged_with_nan_intervals():
    # A rising curve: the hyperbolic rate b must be > 0, so the optimum runs to the bound b -> 0.
    t = np.arange(1.0, 9.0)
    y = 0.2 + 0.05 * t
    fits = fit_consolidation_curve(t, y, family=["hyperbolic", "power"])
    bad = fits["hyperbolic"]
    assert bad.converged is False
    assert bad.message.startswith("not converged") and "bound" in bad.message
    assert all(np.isnan(v) for v in bad.ci["b"])
    # power fits a rising curve with gamma < 0 and converges; best never picks a failed fit
    assert fits["power"].converged and fits["power"].params["gamma"] < 0
    assert fits.best.family == "power"
    table = fits.table().set_index("family")
    assert not table.loc["hyperbolic", "converged"]
    assert np.isnan(table.loc["hyperbolic", "akaike_weight"])


def test_unidentifiable_family_is_flagged():
    # Pure power-law data: shifted_power+c has a flat direction (s -> 0 trades against a).
    t = np.geomspace(1, 100, 10)
    y = 0.8 * t ** -0.43 + np.random.default_rng(0).normal(0, 0.01, 10)
    fit = fit_consolidation_curve(t, y, family="shifted_power+c")
    assert fit.converged is False
    assert "not converged" in fit.message
    assert np.isnan(fit.ci["gamma"][0])


def test_predict_rejects_bad_times_and_band_level():
    fit = fit_consolidation_curve(T, Y + [0.01, -0.01, 0, 0.01, -0.01, 0], ci="wald")
    with pytest.raises(ValueError, match="NaN"):
        fit.predict([np.nan])
    with pytest.raises(ValueError, match="level"):
        fit.predict_band([1.0], level=2)


def test_binomial_fit_at_ceiling_is_an_edge_maximum_not_a_failure():
    # 20/20 at the first delay: the power law would need a > 1 there, so its binomial maximum
    # holds the mean at exactly 1 (see test_dynamics_edge.py); ACT-R (bounded by 1) is interior.
    t = np.arange(1.0, 11.0)
    k = np.array([20, 17, 15, 14, 13, 12, 12, 11, 10, 10])
    fits = fit_consolidation_curve(t, k, n=20, y_kind="successes", family=["power", "actr"])
    assert fits["power"].converged and fits["power"].on_edge
    assert "on the edge" in fits["power"].message and "100%" in fits["power"].message
    assert fits["actr"].converged and not fits["actr"].on_edge


def test_a_tail_of_zero_counts_is_not_an_edge():
    # Exponential forgetting down to 0/20: the fitted tail ~1e-12 where y = 0 is an ordinary
    # interior optimum, not the edge of [0, 1] (a regression: it used to be flagged).
    t = np.geomspace(0.5, 200, 12)
    k = np.array([19, 18, 17, 12, 13, 8, 1, 2, 0, 0, 0, 0])
    fit = fit_consolidation_curve(t, k, n=20, y_kind="successes", family="exponential")
    assert fit.converged, fit.message
    assert fit.predict(200.0) < 1e-9
    lo, hi = fit.ci["b"]
    assert lo < fit.params["b"] < hi
