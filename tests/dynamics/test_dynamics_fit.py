"""fit_consolidation_curve: parameter recovery, agreement with statsmodels/scipy, inputs, CIs."""
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from cramcog.dynamics import FAMILIES, FitResult, FitSet, fit_consolidation_curve

T = np.geomspace(1, 100, 10)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_recovers_exact_parameters_from_noise_free_curves(name, true_params):
    fam = FAMILIES[name]
    p = true_params(name)
    y = fam.mean(T[None, :], p[None, :])[0]
    fit = fit_consolidation_curve(T, y, family=name, ci="none")
    assert fit.converged, fit.message
    np.testing.assert_allclose([fit.params[k] for k in fam.param_names], p, rtol=1e-5)


@pytest.mark.parametrize("name", ["power", "exponential", "shifted_power", "hyperbolic",
                                  "exp_sqrt", "actr", "power+c"])
def test_recovers_parameters_from_noisy_binomial_data(name, true_params):
    fam = FAMILIES[name]
    p = true_params(name)
    rng = np.random.default_rng(7)
    n = np.full(T.size, 4000)
    k = rng.binomial(n, fam.mean(T[None, :], p[None, :])[0])
    fit = fit_consolidation_curve(T, k, n=n,
                                  y_kind="successes", family=name, ci="profile", level=0.99)
    assert fit.converged, fit.message
    assert fit.likelihood == "binomial"
    for j, pname in enumerate(fam.param_names):
        lo, hi = fit.ci[pname]
        assert lo <= p[j] <= hi, (pname, lo, p[j], hi)
        assert abs(fit.params[pname] - p[j]) <= 0.15 * abs(p[j]) + 0.02


def test_agrees_with_statsmodels_binomial_glm_log_link():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(3)
    n = np.full(T.size, 60)
    k = rng.binomial(n, 0.8 * T ** -0.43)
    fit = fit_consolidation_curve(T, k, n=n, y_kind="successes", family="power", ci="wald")
    X = np.column_stack([np.ones(T.size), np.log(T)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels warns that log is not the canonical link
        glm = sm.GLM(np.column_stack([k, n - k]), X,
                     family=sm.families.Binomial(link=sm.families.links.Log())).fit(tol=1e-12)
    gamma_sm = -glm.params[1]
    assert abs(fit.params["gamma"] - gamma_sm) <= 1e-3 * abs(gamma_sm)
    assert fit.params["a"] == pytest.approx(np.exp(glm.params[0]), rel=1e-3)
    assert fit.se["gamma"] == pytest.approx(glm.bse[1], rel=1e-3)
    assert fit.loglik == pytest.approx(glm.llf, rel=1e-6)


def test_agrees_with_scipy_curve_fit_least_squares():
    from scipy.optimize import curve_fit
    rng = np.random.default_rng(4)
    y = 0.8 * T ** -0.43 + rng.normal(0, 0.02, T.size)
    fit = fit_consolidation_curve(T, y, family="power", ci="wald")
    popt, pcov = curve_fit(lambda t, a, g: a * t ** -g, T, y, p0=[1.0, 0.5])
    assert abs(fit.params["gamma"] - popt[1]) <= 1e-3 * abs(popt[1])
    assert fit.se["gamma"] == pytest.approx(np.sqrt(pcov[1, 1]), rel=1e-3)
    # and for a 3-parameter family
    fit3 = fit_consolidation_curve(T, y + 0.05, family="shifted_power", ci="none")
    popt3, _ = curve_fit(lambda t, a, s, g: a * (1 + t / s) ** -g, T, y + 0.05,
                         p0=[fit3.params["a"] * 1.1, fit3.params["s"] * 0.9, 0.5], maxfev=20000)
    assert fit3.params["gamma"] == pytest.approx(popt3[2], rel=1e-3)


def test_fitset_ranks_by_aicc_and_picks_the_generating_family():
    rng = np.random.default_rng(5)
    n = np.full(T.size, 200)
    k = rng.binomial(n, 0.9 * np.exp(-0.05 * T))
    fits = fit_consolidation_curve(T, k, n=n, y_kind="successes", family="all", ci="wald")
    assert isinstance(fits, FitSet) and set(fits) == set(FAMILIES)
    table = fits.table()
    ok = table[table["converged"]]
    assert ok.index.tolist() == list(range(len(ok))), "converged fits are ranked first"
    assert table.attrs["criterion"] == "aicc" and fits.criterion == "aicc"
    assert ok["aicc"].is_monotonic_increasing
    assert table[~table["converged"]]["aicc"].is_monotonic_increasing
    assert table[~table["converged"]][["delta_aicc", "delta_aic"]].isna().all().all()
    assert table.loc[0, "delta_aicc"] == 0.0
    assert table["akaike_weight"].sum() == pytest.approx(1.0)
    assert fits.best.family in ("exponential", "exponential+c")
    assert np.isnan(table.set_index("family").loc["exponential", "gamma"])
    assert not np.isnan(table.set_index("family").loc["power", "gamma_low"])
    assert isinstance(fits["power"], FitResult)
    with pytest.raises(KeyError, match="fitted families"):
        fits["nope"]


def test_all_skips_families_that_need_positive_t_with_a_warning():
    t = np.array([0.0, 1, 2, 4, 8, 16])
    y = 0.9 / (1 + 0.3 * t)
    with pytest.warns(UserWarning, match="skipped"):
        fits = fit_consolidation_curve(t, y, family="all", ci="none")
    assert "power" in fits.skipped and "power" not in fits
    assert "hyperbolic" in fits and fits.best.family.startswith("hyperbolic")


def test_batched_xarray_fits_every_curve_and_keeps_the_dim():
    rng = np.random.default_rng(6)
    gammas = np.array([0.2, 0.35, 0.5, 0.65])
    mean = 0.9 * T[None, :] ** -gammas[:, None]
    y = xr.DataArray(rng.binomial(300, mean), dims=("subject", "lag"),
                     coords={"subject": ["s1", "s2", "s3", "s4"], "lag": T})
    fit = fit_consolidation_curve(None, y, n=300, y_kind="successes", dim="lag")
    assert fit.batch_dims == ("subject",)
    assert fit.params["gamma"].shape == (4,)
    assert np.all(fit.converged)
    lo, hi = fit.ci["gamma"]
    assert np.all((lo < gammas) & (gammas < hi))
    # Each curve's estimate equals the single-curve fit of that curve.
    one = fit_consolidation_curve(T, y.sel(subject="s3").values, n=300, y_kind="successes")
    assert fit.params["gamma"][2] == pytest.approx(one.params["gamma"], rel=1e-8)
    assert fit.ci["gamma"][0][2] == pytest.approx(one.ci["gamma"][0], rel=1e-5)
    assert fit.predict([1.0, 2.0]).shape == (4, 2)
    ds = fit.to_xarray()
    assert ds["estimate"].dims == ("family", "parameter", "subject")
    assert list(ds["subject"].values) == ["s1", "s2", "s3", "s4"]


def test_two_batch_dims_and_t_varying_per_curve():
    rng = np.random.default_rng(8)
    tt = xr.DataArray(np.stack([T, 2 * T]), dims=("layer", "step"))
    mean = 0.9 * tt ** -0.4
    y = mean.expand_dims(seed=[0, 1, 2]) + xr.DataArray(rng.normal(0, 0.005, (3, 2, 10)),
                                                        dims=("seed", "layer", "step"))
    fit = fit_consolidation_curve(tt, y, dim="step", ci="wald")
    assert fit.batch_dims == ("seed", "layer")
    assert fit.params["gamma"].shape == (3, 2)
    np.testing.assert_allclose(fit.params["gamma"], 0.4, atol=0.03)


def test_pandas_and_data_keyword_inputs_agree_with_numpy():
    rng = np.random.default_rng(9)
    k = rng.binomial(50, 0.8 * T ** -0.3)
    df = pd.DataFrame({"delay": T, "recalled": k, "trials": 50})
    a = fit_consolidation_curve(T, k, n=50, y_kind="successes", ci="none")
    b = fit_consolidation_curve(df["delay"], df["recalled"], n=df["trials"],
                                y_kind="successes", ci="none")
    c = fit_consolidation_curve("delay", "recalled", n="trials",
                                y_kind="successes", data=df, ci="none")
    assert a.params["gamma"] == b.params["gamma"] == c.params["gamma"]
    assert c.curves.time_name == "delay"


def test_two_d_numpy_and_multi_column_dataframe_are_batches():
    y = np.stack([0.9 * T ** -0.3, 0.7 * T ** -0.5])
    fit = fit_consolidation_curve(T, y, ci="none")
    np.testing.assert_allclose(fit.params["gamma"], [0.3, 0.5], rtol=1e-6)
    fit2 = fit_consolidation_curve(T, pd.DataFrame(y.T, columns=["x", "z"]), ci="none")
    np.testing.assert_allclose(fit2.params["gamma"], [0.3, 0.5], rtol=1e-6)
    assert list(fit2.batch_coords["curve"]) == ["x", "z"]


def test_proportions_and_successes_give_the_same_fit():
    k = np.array([40, 33, 29, 25, 22, 20, 17, 15, 14, 12])
    a = fit_consolidation_curve(T, k, n=50, y_kind="successes", ci="none")
    b = fit_consolidation_curve(T, k / 50, n=50, ci="none")
    c = fit_consolidation_curve(T, k / 50, n=50, ci="none", y_kind="proportion")
    assert a.params["gamma"] == pytest.approx(b.params["gamma"], rel=1e-12)
    assert c.params["gamma"] == pytest.approx(b.params["gamma"], rel=1e-12)


def test_interval_methods_agree_roughly_and_bootstrap_is_seeded():
    rng = np.random.default_rng(10)
    k = rng.binomial(100, 0.85 * T ** -0.4)
    fits = {ci: fit_consolidation_curve(T, k, n=100, y_kind="successes", ci=ci, n_boot=400, seed=1)
            for ci in ("profile", "wald", "bootstrap")}
    widths = {ci: np.subtract(*f.ci["gamma"][::-1]) for ci, f in fits.items()}
    for ci, f in fits.items():
        lo, hi = f.ci["gamma"]
        assert lo < f.params["gamma"] < hi, ci
        assert f.ci_method == ci and f.level == 0.95
    assert widths["bootstrap"] == pytest.approx(widths["wald"], rel=0.25)
    assert widths["profile"] == pytest.approx(widths["wald"], rel=0.1)
    again = fit_consolidation_curve(T, k, n=100,
                                    y_kind="successes", ci="bootstrap", n_boot=400, seed=1)
    assert again.ci["gamma"] == fits["bootstrap"].ci["gamma"]
    other = fit_consolidation_curve(T, k, n=100,
                                    y_kind="successes", ci="bootstrap", n_boot=400, seed=2)
    assert other.ci["gamma"] != fits["bootstrap"].ci["gamma"]
    npb = fit_consolidation_curve(T, k, n=100, y_kind="successes", ci="bootstrap", n_boot=400,
                                  bootstrap="nonparametric")
    assert npb.ci["gamma"][0] < npb.params["gamma"] < npb.ci["gamma"][1]


def test_profile_interval_is_asymmetric_for_a_positive_parameter_and_level_matters():
    rng = np.random.default_rng(11)
    y = 0.8 * np.exp(-0.1 * T) + rng.normal(0, 0.03, T.size)
    f95 = fit_consolidation_curve(T, y, family="exponential")
    f80 = fit_consolidation_curve(T, y, family="exponential", level=0.8)
    lo95, hi95 = f95.ci["b"]
    lo80, hi80 = f80.ci["b"]
    assert lo95 < lo80 < f95.params["b"] < hi80 < hi95
    assert (hi95 - f95.params["b"]) != pytest.approx(f95.params["b"] - lo95, rel=1e-3)


def test_predict_and_band():
    rng = np.random.default_rng(12)
    k = rng.binomial(80, 0.85 * T ** -0.4)
    fit = fit_consolidation_curve(T, k, n=80, y_kind="successes", ci="wald")
    grid = np.geomspace(1, 100, 7)
    mu = fit.predict(grid)
    lo, hi = fit.predict_band(grid)
    assert mu.shape == lo.shape == (7,)
    assert np.all((lo < mu) & (mu < hi)) and np.all((lo >= 0) & (hi <= 1))
    lo99, hi99 = fit.predict_band(grid, level=0.99)
    assert np.all(hi99 - lo99 > hi - lo)
    assert np.ndim(fit.predict(5.0)) == 0
    boot = fit_consolidation_curve(T, k, n=80, y_kind="successes", ci="bootstrap", n_boot=300)
    blo, bhi = boot.predict_band(grid)
    assert np.all((blo < mu) & (mu < bhi))
    with pytest.raises(ValueError, match="t > 0"):
        fit.predict([0.0, 1.0])


def test_batched_fitset_table_ranks_within_each_curve():
    rng = np.random.default_rng(13)
    gammas = np.array([[0.3], [0.5], [0.1]])
    y = xr.DataArray(rng.binomial(200, 0.9 * T[None, :] ** -gammas), dims=("subject", "t"),
                     coords={"subject": ["a", "b", "c"], "t": T})
    fits = fit_consolidation_curve(None, y, n=200, y_kind="successes", dim="t",
                                   family=["power", "exponential", "hyperbolic"], ci="wald")
    table = fits.table()
    assert len(table) == 9 and list(table.columns[:2]) == ["subject", "family"]
    for _, rows in table.groupby("subject"):
        assert rows["aic"].is_monotonic_increasing
        assert rows["delta_aic"].iloc[0] == 0.0
        assert rows["akaike_weight"].sum() == pytest.approx(1.0)
    assert fits.best.family == "power"
    g = table[table.family == "power"].set_index("subject")["gamma"]
    np.testing.assert_allclose(g.loc[["a", "b", "c"]], fits["power"].params["gamma"])


def test_sel_returns_one_curve_of_a_batched_fit():
    rng = np.random.default_rng(14)
    y = xr.DataArray(rng.binomial(100, 0.9 * T[None, :] ** -np.array([[0.3], [0.5]])),
                     dims=("layer", "step"), coords={"layer": ["L0", "L1"], "step": T})
    fit = fit_consolidation_curve(None, y, n=100,
                                  y_kind="successes", dim="step", ci="bootstrap", n_boot=200)
    one = fit.sel(layer="L1")
    assert isinstance(one.params["gamma"], float) and isinstance(one.converged, bool)
    assert one.params["gamma"] == fit.params["gamma"][1]
    assert one.ci["gamma"] == (fit.ci["gamma"][0][1], fit.ci["gamma"][1][1])
    np.testing.assert_allclose(one.predict_band([2.0])[0], fit.predict_band([2.0])[0][1])
    np.testing.assert_allclose(one.y, y.sel(layer="L1").values / 100)
    assert one.to_xarray()["estimate"].dims == ("family", "parameter")
    with pytest.raises(ValueError, match="not one of"):
        fit.sel(layer="L9")
    with pytest.raises(ValueError, match="one value per batch dim"):
        fit.sel(step=1)
    with pytest.raises(ValueError, match="one curve"):
        one.sel(layer="L1")


def test_a_custom_family_object_can_be_fitted():
    from cramcog.dynamics import make_actr_family
    fam = make_actr_family(noise=0.5)
    y = fam.mean(T[None, :], np.array([[0.4, 0.35]]))[0]
    fit = fit_consolidation_curve(T, y, family=fam, ci="none")
    assert fit.family == "actr" and "0.5" in fit.formula
    assert fit.params["gamma"] == pytest.approx(0.35, rel=1e-6)


def test_profiling_detects_and_repairs_a_false_optimum():
    from cramcog.dynamics.fit import FitConfig, _covariances, _refit_from_profile
    from cramcog.dynamics.intervals import profile_intervals
    from cramcog.dynamics.optimizer import Problem, levenberg_marquardt
    fam = FAMILIES["power"]
    rng = np.random.default_rng(15)
    prob = Problem(T[None, :], rng.binomial(100, 0.8 * T ** -0.4)[None, :] / 100,
                   np.full((1, T.size), 100))
    good = levenberg_marquardt(fam, prob, fam.to_internal(fam.start(T[None, :], prob.y)))
    # Pretend the optimiser stopped at a wrong point: gamma off by 0.05.
    wrong = levenberg_marquardt(fam, prob, good.theta + [[0.0, 0.05]], max_iter=0)
    cov_wrong = _covariances(fam, prob, wrong)[0]
    prof = profile_intervals(fam, prob, wrong.theta, wrong.obj, cov_wrong, 0.95)
    assert prof.better_optimum[0]
    res, _, _, est, prof2 = _refit_from_profile(fam, prob, FitConfig(), wrong, np.array([0]),
                                                prof)
    assert est[0, 1] == pytest.approx(fam.to_natural(good.theta)[0, 1], rel=1e-6)
    assert not prof2.better_optimum[0]
    assert prof2.low[0, 1] < est[0, 1] < prof2.high[0, 1]


SIGMOID_CASES = [
    # (family, true params, times): falling consolidation shares against exposures (from 0) and
    # rising strategy-shift curves against practice blocks, binomial counts, near 0 and 1. (A
    # rising Weibull is weibull+c's rising form; k < 0 is degenerate: test_dynamics_rising.)
    ("logistic", [0.98, 30.0, -5.0], np.linspace(0, 100, 12)),
    ("logistic", [0.97, 6.0, 3.0], np.arange(1.0, 17.0)),
    ("logistic+c", [0.7, 8.0, 4.0, 0.25], np.arange(1.0, 17.0)),
    ("weibull", [0.98, 30.0, 2.0], np.linspace(0, 100, 12)),
    ("weibull", [0.95, 20.0, 0.6], np.geomspace(1, 200, 10)),
    ("weibull+c", [0.7, 15.0, 1.5, 0.1], np.linspace(0, 60, 12)),
]


@pytest.mark.parametrize("name, p, t", SIGMOID_CASES)
def test_sigmoid_families_recover_rising_and_falling_binomial_curves(name, p, t):
    fam = FAMILIES[name]
    p = np.array(p)
    rng = np.random.default_rng(21)
    n = np.full(t.size, 400)
    mu = fam.mean(t[None, :], p[None, :])[0]
    assert mu.min() >= 0 and mu.max() <= 1
    fit = fit_consolidation_curve(t, rng.binomial(n, mu), n=n, family=name, y_kind="successes",
                                  level=0.99)
    assert fit.converged, fit.message
    for j, pname in enumerate(fam.param_names):
        lo, hi = fit.ci[pname]
        assert lo <= p[j] <= hi, (pname, lo, p[j], hi)
    shape = fam.shape_param
    assert fit.params[shape] == pytest.approx(p[fam.param_names.index(shape)], rel=0.3)


def test_a_sigmoid_consolidation_curve_is_not_ranked_a_power_law():
    # Share of queries still attending against exposures: a logistic step from ~1 to ~0. Every
    # power-law family must rank below the logistic, by a wide margin, with counts and without.
    t = np.arange(1.0, 41.0, 3.0)
    mu = FAMILIES["logistic"].mean(t[None, :], np.array([[0.97, 18.0, -6.0]]))[0]
    rng = np.random.default_rng(22)
    k = rng.binomial(100, mu)
    for kwargs in ({"n": 100, "y_kind": "successes"}, {}):
        y = k if kwargs else k / 100
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits = fit_consolidation_curve(t, y, family="all", ci="none", **kwargs)
        assert "logistic" in fits and "weibull" in fits
        assert fits.best.spec.shape_param in ("slope", "k"), fits.best.family
        table = fits.table().set_index("family")
        ok = table[table["converged"]]
        power_like = [f for f in ok.index if FAMILIES[f].has_gamma]
        assert ok.loc[power_like, "aic"].min() - ok.loc["logistic", "aic"] > 10
