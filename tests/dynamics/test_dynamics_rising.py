"""Rising (learning / practice) curves, degenerate shapes and response times (issue 24 item 3).

The issue's example: accuracy rising over 8 practice blocks. ``exponential+c`` used to stop at
the iteration cap far from the optimum (``a exp(-b t) + c`` with ``a > 0`` can only fall towards
c; a rising curve is now fitted in the rising form ``c - a exp(-b t)``), and a Weibull with
k < 0 (singular at t = 0) won the ranking.
"""
import warnings

import numpy as np
import pytest
from scipy import optimize, stats

from cramcog.dynamics import fit_consolidation_curve
from cramcog.dynamics.families import FAMILIES, RISING, curve_direction, spearman_rho

BLOCKS = np.arange(1.0, 9.0)
ACCURACY = np.array([0, .53, .67, .80, .89, .92, .96, .95])


def fit_all(t, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)        # the weak-ranking note (8 points)
        return fit_consolidation_curve(t, y, family="all", **kw)


def test_direction_is_read_from_the_rank_correlation():
    assert curve_direction(BLOCKS, ACCURACY).tolist() == [1]
    assert curve_direction(BLOCKS, ACCURACY[::-1]).tolist() == [-1]
    bump = [0.2, 0.5, 0.8, 0.9, 0.8, 0.5, 0.3, 0.2]       # rises then falls: no direction
    assert curve_direction(BLOCKS, bump).tolist() == [0]
    # ties get average ranks, as in scipy
    y = np.array([[0.3, 0.3, 0.5, 0.4, 0.9, 0.9, 0.1, 0.6]])
    assert spearman_rho(BLOCKS, y)[0] == pytest.approx(stats.spearmanr(BLOCKS, y[0])[0])


def test_the_issues_rising_accuracy_curve():
    fits = fit_all(BLOCKS, ACCURACY)
    # exponential+c reaches the optimum scipy's curve_fit finds for c - a e^(-b t)
    popt, _ = optimize.curve_fit(lambda t, a, b, c: c - a * np.exp(-b * t), BLOCKS, ACCURACY,
                                 p0=[1.0, 0.5, 1.0])
    rss = ((ACCURACY - (popt[2] - popt[0] * np.exp(-popt[1] * BLOCKS))) ** 2).sum()
    loglik = -0.5 * 8 * (np.log(2 * np.pi * rss / 8) + 1)           # 17.29 (was 3.55)
    exp_c = fits["exponential+c"]
    assert exp_c.converged, exp_c.message
    assert exp_c.loglik >= loglik - 1e-6
    assert exp_c.formula == "c - a * exp(-b * t)"
    a, b, c = (exp_c.params[p] for p in ("a", "b", "c"))
    assert (a, b, c) == pytest.approx(tuple(popt), rel=1e-4)
    # the +c families are fitted in their rising form, c - a f(t) with a > 0
    for name in ("exponential+c", "power+c", "hyperbolic+c", "exp_sqrt+c"):
        assert fits[name].spec is RISING[name] and fits[name].formula.startswith("c - ")
        assert fits[name].converged and fits[name].params["a"] > 0, name
    # the Weibull with k <= 0 (singular at t = 0) is degenerate: left out, with the reason
    weib = fits["weibull"]
    assert weib.params["k"] <= 0 and not weib.converged
    assert weib.message.startswith("left out of the ranking: degenerate shape: shape k =")
    assert np.isnan(fits.weights["weibull"])
    # the hyperbolic can only fall: left out of a rising curve's ranking, its rising form named
    assert not fits["hyperbolic"].converged
    assert "can only fall but this curve rises" in fits["hyperbolic"].message
    assert "hyperbolic+c fits a rising curve as c - a / (1 + b * t)" in fits["hyperbolic"].message
    # no degenerate shape wins, and the winner rises to a plateau
    best = fits.best
    assert best.converged and not best.message.startswith("left out")
    assert best.family.endswith("+c") and best.spec.rising and best.params["a"] > 0
    assert fits.weights[best.family] < 0.9999
    assert "left out of the ranking" in fits.report()


def test_a_rising_weibull_is_weibull_plus_c_and_k_below_zero_is_degenerate():
    t = np.geomspace(1, 100, 10)
    n = np.full(t.size, 400)
    rng = np.random.default_rng(21)
    # data from a exp(-(t/s)^k) with k = -1.5: a Weibull fit finds k < 0 and is left out
    mu = FAMILIES["weibull"].mean(t[None], np.array([[0.9, 5.0, -1.5]]))[0]
    fit = fit_consolidation_curve(t, rng.binomial(n, mu), n=n, family="weibull",
                                  y_kind="successes")
    assert fit.params["k"] < 0 and not fit.converged
    assert "degenerate shape" in fit.message and np.isnan(fit.ci["k"][0])
    # ... while a rising Weibull curve c - a exp(-(t/s)^k), k > 0, is weibull+c's rising form
    true = np.array([0.8, 5.0, 1.2, 0.9])
    mu = RISING["weibull+c"].mean(t[None], true[None])[0]
    fit = fit_consolidation_curve(t, rng.binomial(n, mu), n=n, family="weibull+c",
                                  y_kind="successes", level=0.99)
    assert fit.converged, fit.message
    assert fit.formula == "c - a * exp(-(t / s)**k)"
    for j, name in enumerate(fit.spec.param_names):
        lo, hi = fit.ci[name]
        assert lo <= true[j] <= hi, name


def test_falling_curves_keep_the_falling_form():
    t = np.geomspace(1, 100, 10)
    y = 0.7 * t ** -0.5 + 0.2 + 0.005 * np.sin(3 * t)
    fits = fit_all(t, y, ci="none")
    for name in ("exponential+c", "power+c", "hyperbolic+c"):
        assert fits[name].spec is FAMILIES[name] and fits[name].converged, name
    assert fits["hyperbolic"].converged          # a falling curve: hyperbolic is not left out
    # a batch follows most of its curves: two falling and one rising curve are fitted falling
    batch = np.stack([y, y + 0.01 * np.cos(t), y[::-1]])
    fit = fit_consolidation_curve(t, batch, family="hyperbolic+c", ci="none")
    assert fit.spec is FAMILIES["hyperbolic+c"]
    assert fit.converged.tolist()[:2] == [True, True] and not fit.converged[2]
    assert "most curves of this batch fall" in fit.message[2]


# ----------------------------------------------------------------------------- response times

PRACTICE = np.arange(1.0, 13.0)
#: 400 + 800 t^-0.6 ms with log-normal noise (sd 0.03 on the log scale), rounded to 1 ms
RT = np.array([1276.0, 859, 824, 736, 695, 669, 611, 625, 598, 664, 594, 574])


def test_power_law_of_practice_for_response_times_has_a_lognormal_likelihood():
    fits = fit_consolidation_curve(PRACTICE, RT, family=["power+c", "exponential+c", "power"],
                                   y_kind="rt")
    best = fits.best
    assert best.family == "power+c" and best.likelihood == "lognormal"
    # the log-likelihood is that of a log-normal with median mu(t) and sigma^2 = RSS_log / m
    mu = best.predict(PRACTICE)
    sigma = np.sqrt(np.mean((np.log(RT) - np.log(mu)) ** 2))
    assert best.loglik == pytest.approx(stats.lognorm.logpdf(RT, s=sigma, scale=mu).sum())
    # ... maximised: scipy finds no better one
    def nll(p):
        m = FAMILIES["power+c"].mean(PRACTICE[None], p[None])[0]
        return 0.5 * ((np.log(RT) - np.log(m)) ** 2).sum() if (m > 0).all() else 1e9
    ref = optimize.minimize(nll, [700.0, 0.8, 500.0], method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 20000})
    assert nll(np.array(list(best.params.values()))) <= ref.fun + 1e-10
    for p, true in (("a", 800.0), ("gamma", 0.6), ("c", 400.0)):   # profile intervals cover
        lo, hi = best.ci[p]
        assert lo < true < hi, p
    assert best.n_params == 3 and "noise variance" in best.report()


def test_rt_input_is_checked():
    with pytest.raises(ValueError, match="must be > 0"):
        fit_consolidation_curve(PRACTICE, np.r_[0.0, RT[1:]], family="power+c", y_kind="rt")
    with pytest.raises(ValueError, match="drop n"):
        fit_consolidation_curve(PRACTICE, RT, n=20, family="power+c", y_kind="rt")
    with pytest.raises(ValueError, match="not available for group fits"):
        fit_consolidation_curve(PRACTICE, RT, family="power+c", y_kind="rt", by="subject")
    fit = fit_consolidation_curve(PRACTICE, RT, family="power+c", y_kind="rt", ci="bootstrap",
                                  n_boot=100)
    lo, hi = fit.ci["gamma"]
    assert fit.converged and lo < fit.params["gamma"] < hi
