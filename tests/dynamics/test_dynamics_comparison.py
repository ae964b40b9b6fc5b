"""Honest model comparison: AICc by default, the k + 2 rule, Akaike weights, a weak-ranking
warning, held parameters and a chance floor, goodness of fit in every result, reports, and a
clear error for a parameter a family does not have."""
import warnings

import numpy as np
import pytest
from scipy import stats

from cramcog.dynamics import FAMILIES, fit_consolidation_curve
from cramcog.dynamics.result import MissingParameterError, information_criterion

T = np.geomspace(1, 100, 10)


def test_aicc_matches_a_hand_computation_binomial_and_least_squares():
    rng = np.random.default_rng(30)
    n = 60
    k = rng.binomial(n, 0.85 * T ** -0.35)
    fit = fit_consolidation_curve(T, k, n=n, y_kind="successes", family="shifted_power",
                                  ci="none")
    mu = fit.predict(T)
    loglik = stats.binom.logpmf(k, n, mu).sum()
    m, K = T.size, 3
    aic = -2 * loglik + 2 * K
    assert fit.loglik == pytest.approx(loglik, rel=1e-9)
    assert fit.aic == pytest.approx(aic, rel=1e-9)
    assert fit.aicc == pytest.approx(aic + 2 * K * (K + 1) / (m - K - 1), rel=1e-9)
    assert fit.bic == pytest.approx(-2 * loglik + K * np.log(m), rel=1e-9)
    assert fit.ic == fit.aicc and fit.criterion_name == "aicc"
    # least squares: the noise variance is a parameter (K = 3 for the power law)
    y = 0.8 * T ** -0.4 + rng.normal(0, 0.02, T.size)
    ls = fit_consolidation_curve(T, y, family="power", ci="none")
    rss = ((y - ls.predict(T)) ** 2).sum()
    loglik = stats.norm.logpdf(y, ls.predict(T), np.sqrt(rss / m)).sum()
    K = 3
    assert ls.loglik == pytest.approx(loglik, rel=1e-9)
    assert ls.aicc == pytest.approx(-2 * loglik + 2 * K + 2 * K * (K + 1) / (m - K - 1),
                                    rel=1e-9)
    assert information_criterion("aicc", -10.0, 4, 5) == np.inf   # m <= K + 1: undefined


def test_criterion_choice_changes_the_ranking_column_and_weights_sum_to_one():
    rng = np.random.default_rng(31)
    y = 0.9 * np.exp(-0.05 * T) + rng.normal(0, 0.01, T.size)
    for crit in ("aicc", "aic", "bic"):
        fits = fit_consolidation_curve(T, y, family=["exponential", "exponential+c", "power"],
                                       ci="none", criterion=crit)
        table = fits.table()
        ok = table[table.converged]
        assert fits.criterion == crit and ok[crit].is_monotonic_increasing
        delta = ok[crit] - ok[crit].min()
        np.testing.assert_allclose(ok[f"delta_{crit}"], delta)
        np.testing.assert_allclose(ok["akaike_weight"],
                                   np.exp(-delta / 2) / np.exp(-delta / 2).sum())
        assert sum(fits.weights.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="criterion='hqic'"):
        fit_consolidation_curve(T, y, criterion="hqic")


def test_k_plus_2_rule_and_force():
    # The case: 5 delays, no counts, "all" ranked shifted_power+c (5 estimates from 5
    # points) first. Now families need k + 2 points (k + 3 with the noise variance).
    t = np.array([1.0, 2, 4, 8, 16])
    y = np.array([0.80, 0.62, 0.55, 0.43, 0.39])
    with pytest.warns(UserWarning) as caught:
        fits = fit_consolidation_curve(t, y, family="all", ci="none")
    text = " ".join(str(w.message) for w in caught)
    assert "shifted_power+c" in fits.skipped and "power+c" in fits.skipped
    assert set(fits) == {"exponential", "power", "hyperbolic", "exp_sqrt", "logarithmic",
                         "actr"}
    assert "k + 2 points" in fits.skipped["power+c"]
    assert "only 5 points: the ranking is weak" in text
    with pytest.raises(ValueError, match="need at least 5; families need k \\+ 2 points"):
        fit_consolidation_curve(t[:4], y[:4], family="power")
    forced = fit_consolidation_curve(t[:4], y[:4], family="power", force=True, ci="none")
    assert forced.converged and forced.df_resid == 2
    # binomial: no noise variance, so 4 points carry a 2-parameter family
    fit_consolidation_curve(t[:4], np.round(y[:4] * 50), n=50, y_kind="successes",
                            family="power", ci="none")
    with pytest.raises(ValueError, match="need at least 5"):
        fit_consolidation_curve(t[:4], np.round(y[:4] * 50), n=50, y_kind="successes",
                                family="power+c")


def test_a_clear_ranking_from_many_points_does_not_warn():
    rng = np.random.default_rng(32)
    t = np.geomspace(1, 100, 14)
    k = rng.binomial(400, 0.9 * t ** -0.4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fits = fit_consolidation_curve(t, k, n=400, y_kind="successes",
                                       family=["power", "exponential"], ci="none")
    assert fits.weak_ranking_note() == ""
    assert fits.weights["power"] > 0.99


def test_a_fixed_parameter_is_not_estimated_or_counted():
    rng = np.random.default_rng(33)
    y = 0.8 * T ** -0.5 + rng.normal(0, 0.02, T.size)
    fit = fit_consolidation_curve(T, y, family="power", fixed={"gamma": 0.5}, ci="wald")
    x = T ** -0.5                                      # a is linear given gamma: closed form
    a = (x * y).sum() / (x * x).sum()
    rss = ((y - a * x) ** 2).sum()
    se = np.sqrt(rss / (T.size - 1) / (x * x).sum())
    assert fit.params["a"] == pytest.approx(a, rel=1e-8)
    assert fit.se["a"] == pytest.approx(se, rel=1e-6) and fit.se["gamma"] == 0.0
    q = stats.t.ppf(0.975, T.size - 1)
    np.testing.assert_allclose(fit.ci["a"], (a - q * se, a + q * se), rtol=1e-6)
    assert fit.ci["gamma"] == (0.5, 0.5) and fit.fixed == {"gamma": 0.5}
    assert fit.n_params == 1 and fit.df_resid == T.size - 1
    prof = fit_consolidation_curve(T, y, family="power", fixed={"gamma": 0.5})
    assert prof.ci["a"][0] < a < prof.ci["a"][1] and prof.ci["gamma"] == (0.5, 0.5)
    assert prof.to_xarray()["fixed"].sel(family="power").values.tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="has no parameter \\['s'\\]"):
        fit_consolidation_curve(T, y, family="power", fixed={"s": 1.0})
    with pytest.raises(ValueError, match="must be > 0"):
        fit_consolidation_curve(T, y, family="power", fixed={"a": -1.0})


def test_a_chance_floor_for_4_choice_recognition():
    # Recognition falls towards chance (0.25), not 0: c is held at the floor.
    rng = np.random.default_rng(1)
    t = np.geomspace(1, 200, 12)
    mu = 0.25 + 0.7 * t ** -0.45
    k = rng.binomial(300, mu)
    fit = fit_consolidation_curve(t, k, n=300, y_kind="successes", family="power", chance=0.25)
    assert fit.family == "power+c" and fit.fixed == {"c": 0.25} and fit.n_params == 2
    lo, hi = fit.ci["gamma"]
    assert lo < 0.45 < hi and fit.ci["c"] == (0.25, 0.25)
    same = fit_consolidation_curve(t, k, n=300, y_kind="successes", family="power+c",
                                   fixed={"c": 0.25})
    assert same.params["gamma"] == fit.params["gamma"]
    # a free asymptote costs a parameter the floor does not
    free = fit_consolidation_curve(t, k, n=300, y_kind="successes", family="power+c")
    assert free.n_params == fit.n_params + 1
    with pytest.warns(UserWarning, match="skipped"):
        fits = fit_consolidation_curve(t, k, n=300, y_kind="successes", family="all",
                                       chance=0.25, ci="none")
    assert all("c" in FAMILIES[n].param_names for n in fits)
    assert "logarithmic" in fits.skipped and "actr" in fits.skipped
    assert fits.best.family in ("power+c", "shifted_power+c")
    with pytest.raises(ValueError, match="no asymptote"):
        fit_consolidation_curve(t, k, n=300, y_kind="successes", family="actr", chance=0.25)
    with pytest.raises(ValueError, match="chance must be a number in \\[0, 1\\)"):
        fit_consolidation_curve(t, k, n=300, y_kind="successes", chance=1.5)


def test_every_result_carries_its_goodness_of_fit():
    rng = np.random.default_rng(35)
    n = 50
    k = rng.binomial(n, 0.85 * T ** -0.35, size=(400, T.size))
    fit = fit_consolidation_curve(T, k, n=n, y_kind="successes", family="power", ci="none")
    mu = fit.predict(T)
    p = k / n
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = 2 * n * (np.where(p > 0, p * np.log(p / mu), 0)
                       + np.where(p < 1, (1 - p) * np.log((1 - p) / (1 - mu)), 0)).sum(-1)
    np.testing.assert_allclose(fit.deviance, dev, rtol=1e-8)
    pearson = (n * (p - mu) ** 2 / (mu * (1 - mu))).sum(-1)
    np.testing.assert_allclose(fit.pearson_chi2, pearson, rtol=1e-8)
    assert fit.df_resid == T.size - 2
    # binomial data a family describes: dispersion about 1, lack-of-fit p about uniform
    assert np.mean(fit.dispersion) == pytest.approx(1.0, abs=0.08)
    assert 0.02 < np.mean(fit.gof_p < 0.05) < 0.09
    ls = fit_consolidation_curve(T, p[0], family="power", ci="none")
    assert ls.dispersion == pytest.approx(ls.deviance / (T.size - 2))
    assert np.isnan(ls.gof_p)
    one = k[int(np.argmax(fit.gof_p))]                     # a curve that fits well
    table = fit_consolidation_curve(T, one, n=n, y_kind="successes",
                                    family=["power", "exponential"], ci="none").table()
    assert {"deviance", "pearson_chi2", "df_resid", "dispersion"} <= set(table.columns)
    ds = fit_consolidation_curve(T, one, n=n, y_kind="successes").to_xarray()
    for var in ("aicc", "deviance", "pearson_chi2", "dispersion", "df_resid", "ic"):
        assert var in ds
    assert ds.attrs["criterion"] == "aicc"


def test_reports_say_what_was_fitted_and_how_well():
    rng = np.random.default_rng(36)
    t = np.geomspace(1, 200, 12)
    k = rng.binomial(300, 0.25 + 0.7 * t ** -0.45)
    fit = fit_consolidation_curve(t, k, n=300, y_kind="successes", family="power", chance=0.25)
    text = fit.report()
    for part in ("[[Fit]] power+c: a * t**(-gamma) + c", "binomial (y read as successes)",
                 "12 points, 2 estimated parameters, 1 held", "held        c = 0.25",
                 "[[Goodness of fit]]", "dispersion", "lack-of-fit p", "AICc", "(ranking: AICc)",
                 "profile 95% intervals", "c       = 0.25 (fixed)", "shape parameter",
                 "C(a, gamma)"):
        assert part in text, part
    fits = fit_consolidation_curve(t, k, n=300, y_kind="successes",
                                   family=["power", "exponential", "logistic"], chance=0.25)
    text = fits.report()
    assert text.startswith("[[Model comparison]]  ranked by AICc; 12 points, binomial")
    lines = text.splitlines()
    assert "weight" in lines[1] and "dAICc" in lines[1]
    assert lines[2].split()[:2] == ["1", fits.best.family]
    assert f"best: {fits.best.family} (Akaike weight" in text
    assert text.count("[[Fit]]") == 1
    batched = fit_consolidation_curve(t, np.stack([k, k]), n=300, y_kind="successes",
                                      family="power+c", chance=0.25, ci="none")
    assert "2 over ('curve',)" in batched.report() and "gamma" in batched.report()


def test_asking_a_family_without_gamma_for_gamma_is_a_clear_error():
    rng = np.random.default_rng(37)
    t = np.arange(1.0, 13.0)
    k = rng.binomial(200, 0.9 * np.exp(-0.25 * t))
    fits = fit_consolidation_curve(t, k, n=200, y_kind="successes",
                                   family=["exponential", "power", "weibull"], ci="wald")
    best = fits.best
    assert best.family in ("exponential", "weibull") and not best.has_gamma
    with pytest.raises(KeyError) as info:
        best.params["gamma"]
    assert isinstance(info.value, MissingParameterError)
    msg = str(info.value)
    assert msg.startswith(f"family {best.family!r}") and "has no parameter 'gamma'" in msg
    assert "fits.best_with('gamma')" in msg and "fit.params.get('gamma')" in msg
    assert best.params.get("gamma") is None and "gamma" not in best.params
    with pytest.raises(MissingParameterError, match="'k'"):
        best.ci["gamma"] if best.family == "weibull" else fits["weibull"].ci["gamma"]
    assert fits.best_with("gamma").family == "power" and fits["power"].has_gamma
    assert fits.best_with("k").family == "weibull"
    with pytest.raises(ValueError, match="no converged fit has a parameter 'slope'"):
        fits.best_with("slope")
