"""Binomial maxima on the edge of [0, 1]: a point observed at 100% (or 0%) that the curve can
pass only by leaving [0, 1]. The fit is the constrained maximum, held at exactly 1 (0) there,
converged, and agrees with a general-purpose constrained optimiser."""
import warnings

import numpy as np
import pytest
from scipy import optimize

from cramcog.dynamics import fit_consolidation_curve
from cramcog.dynamics.families import FAMILIES

T10 = np.arange(1.0, 11.0)
K_TOP = np.array([20, 17, 15, 14, 13, 12, 12, 11, 10, 10])   # 20/20 at t = 1


def constrained_mle(family, t, k, n, starts):
    """Binomial MLE with every mean in [0, 1], by SLSQP from several starts (natural params)."""
    fam = FAMILIES[family]

    def mean(p):
        return fam.mean(t[None, :], p[None, :])[0]

    def nll(p):
        mu = np.clip(mean(p), 1e-15, 1 - 1e-15)
        return -(k * np.log(mu) + (n - k) * np.log1p(-mu)).sum()

    cons = [{"type": "ineq", "fun": lambda p: 1.0 - mean(p)},
            {"type": "ineq", "fun": lambda p: mean(p)}]
    bounds = [(1e-9, None) if lg else (None, None) for lg in fam.log_scaled]
    best = None
    for s in starts:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = optimize.minimize(nll, np.asarray(s, float), method="SLSQP", bounds=bounds,
                                  constraints=cons, options={"ftol": 1e-14, "maxiter": 1000})
        if best is None or r.fun < best.fun:
            best = r
    return best.x, best.fun


def edge_mle(family, t, k, n, j, target, bracket):
    """Binomial MLE of a two-parameter amplitude family with its mean held at ``target`` at
    point ``j``: the amplitude solved from the other parameter, which is minimised over."""
    fam = FAMILIES[family]

    def params(q):
        f = fam.mean(t[None, j:j + 1], np.array([[1.0, q]]))[0, 0]
        g = fam.mean(t[None, j:j + 1], np.array([[0.0, q]]))[0, 0]
        return np.array([(target - g) / (f - g), q])

    def nll(q):
        mu = np.clip(fam.mean(t[None], params(q)[None])[0], 1e-15, 1 - 1e-15)
        return -(k * np.log(mu) + (n - k) * np.log1p(-mu)).sum()

    r = optimize.minimize_scalar(nll, bounds=bracket, method="bounded",
                                 options={"xatol": 1e-12})
    return params(r.x), r.fun


def nll_of(fit, t, k, n):
    mu = np.clip(fit.predict(t), 1e-15, 1 - 1e-15)
    return -(k * np.log(mu) + (n - k) * np.log1p(-mu)).sum()


def test_a_100_percent_first_point_gives_a_converged_edge_maximum():
    # The power law would need a > 1 at t = 1 to follow the later points: its maximum within
    # [0, 1] holds the mean at exactly 1 there. It used to be flagged "not converged".
    fits = fit_consolidation_curve(T10, K_TOP, n=20, y_kind="successes",
                                   family=["power", "logarithmic", "actr"])
    for name in ("power", "logarithmic"):
        fit = fits[name]
        assert fit.converged, fit.message
        assert fit.on_edge and "on the edge" in fit.message and "20/20 = 100%" in fit.message
        assert fit.predict(1.0) == pytest.approx(1.0, abs=1e-12)
        assert (fit.predict(T10) <= 1.0 + 1e-12).all()
        _, nll_slsqp = constrained_mle(name, T10, K_TOP, 20,
                                       [[0.9, 0.2], [0.99, 0.3], [0.7, 0.1]])
        p_ref, nll_ref = edge_mle(name, T10, K_TOP, 20, 0, 1.0, (0.0, 2.0))
        assert nll_of(fit, T10, K_TOP, 20) <= min(nll_ref, nll_slsqp) + 1e-9
        np.testing.assert_allclose(fit.estimates[0], p_ref, rtol=1e-5, atol=1e-9)
    assert fits["power"].params["a"] == pytest.approx(1.0, abs=1e-12)
    # Profile intervals respect the edge: the amplitude cannot pass 1, gamma is bounded.
    a_lo, a_hi = fits["power"].ci["a"]
    assert 0.8 < a_lo < 1.0 and a_hi == pytest.approx(1.0, abs=1e-6)
    g_lo, g_hi = fits["power"].ci["gamma"]
    assert g_lo < fits["power"].params["gamma"] < g_hi
    assert fits["actr"].converged and not fits["actr"].on_edge   # bounded family: interior


def test_a_rising_curve_reaching_100_percent_is_held_at_its_last_point():
    # Reder et al. (2000) subject 5, high-frequency words: remember responses rise with
    # repetitions and reach 8/8 at the last one (power law with a negative gamma).
    t = np.arange(2.0, 11.0)
    k = np.array([6, 12, 6, 11, 8, 6, 8, 7, 8])
    n = np.array([16, 16, 12, 12, 8, 8, 8, 8, 8])
    fit = fit_consolidation_curve(t, k, n, family="power", y_kind="successes")
    assert fit.converged and fit.on_edge, fit.message
    assert "t = 10" in fit.message and fit.predict(10.0) == pytest.approx(1.0, abs=1e-12)
    _, nll_slsqp = constrained_mle("power", t, k, n, [[0.4, -0.4], [0.5, -0.2]])
    p_ref, nll_ref = edge_mle("power", t, k, n, 8, 1.0, (-2.0, 0.0))
    assert nll_of(fit, t, k, n) <= min(nll_ref, nll_slsqp) + 1e-9
    np.testing.assert_allclose(fit.estimates[0], p_ref, rtol=1e-5)
    lo, hi = fit.ci["gamma"]
    assert lo < fit.params["gamma"] < hi


def test_a_0_percent_point_holds_a_curve_that_would_cross_zero():
    # An asymptote family falling to 0/30 at the last delays: the best unconstrained curve
    # would go below 0 there; the fit holds it at 0 at one of them instead.
    t = np.array([1.0, 2, 4, 8, 16, 32, 64, 128])
    k = np.array([27, 22, 18, 12, 8, 4, 0, 0])
    fit = fit_consolidation_curve(t, k, 30, family="logarithmic", y_kind="successes")
    assert fit.converged and fit.on_edge, fit.message
    assert "0/30 = 0%" in fit.message
    mu = fit.predict(t)
    assert mu.min() == pytest.approx(0.0, abs=1e-12) and (mu >= -1e-12).all()
    _, nll_slsqp = constrained_mle("logarithmic", t, k, 30, [[0.9, 0.15], [0.8, 0.2]])
    j = int(np.argmin(mu))
    p_ref, nll_ref = edge_mle("logarithmic", t, k, 30, j, 0.0, (0.01, 1.0))
    assert nll_of(fit, t, k, 30) <= min(nll_ref, nll_slsqp) + 1e-9
    np.testing.assert_allclose(fit.estimates[0], p_ref, rtol=1e-5)


def test_an_interior_maximum_next_to_a_100_percent_point_stays_interior():
    # 20/20 at t = 1 but the exponential's best curve passes just below 1 there: no edge, and
    # the profile of a stops where a larger a would push the mean at t = 1 above 1.
    fit = fit_consolidation_curve(T10, K_TOP, n=20, y_kind="successes", family="exponential")
    assert fit.converged and not fit.on_edge, fit.message
    assert fit.predict(1.0) < 1.0
    p_ref, nll_ref = constrained_mle("exponential", T10, K_TOP, 20, [[1.0, 0.1], [0.9, 0.05]])
    np.testing.assert_allclose(fit.estimates[0], p_ref, rtol=1e-4)
    # the upper endpoint of a: its constrained profile statistic is the chi2 critical value
    a_hi = fit.ci["a"][1]
    fam = FAMILIES["exponential"]

    def nll_b(b):
        mu = np.clip(fam.mean(T10[None], np.array([[a_hi, b]]))[0], 1e-15, 1 - 1e-15)
        return -(K_TOP * np.log(mu) + (20 - K_TOP) * np.log1p(-mu)).sum()
    b_min = np.log(a_hi)                       # a exp(-b) <= 1 at t = 1
    prof = optimize.minimize_scalar(nll_b, bounds=(b_min, 2.0), method="bounded",
                                    options={"xatol": 1e-12}).fun
    assert 2 * (prof - nll_ref) == pytest.approx(3.8415, abs=2e-3)


def test_most_subjects_with_a_100_percent_point_now_converge():
    # Power-law subjects with a = 0.9 and 20 trials: ~12% have 20/20 at t = 1. Every fit
    # converges; those on the edge match the constrained optimum.
    rng = np.random.default_rng(4)
    t = np.array([1.0, 2, 4, 8, 16, 32])
    gam = rng.normal(0.35, 0.08, 120)
    k = rng.binomial(20, 0.9 * t[None, :] ** -gam[:, None])
    fit = fit_consolidation_curve(t, k, 20, family="power", y_kind="successes", ci="wald")
    edge = np.atleast_1d(fit.on_edge)
    assert np.atleast_1d(fit.converged).all()
    assert 5 <= edge.sum() <= 30 and (k[edge, 0] == 20).all()
    for b in np.flatnonzero(edge)[:4]:
        one = fit.sel(curve=int(b))
        _, nll_ref = constrained_mle("power", t, k[b], 20, [[0.95, 0.3], [0.99, 0.4]])
        assert nll_of(one, t, k[b], 20) <= nll_ref + 1e-7


def test_a_held_amplitude_cannot_rest_on_the_edge_and_says_what_to_do():
    # fixed={"a": 1.2} leaves nothing to hold the mean at 1: the fit is flagged, with advice.
    fit = fit_consolidation_curve(T10, K_TOP, n=20, y_kind="successes", family="power",
                                  fixed={"a": 1.2})
    assert not fit.converged
    assert "reached 0 or 1" in fit.message and "do not hold the amplitude fixed" in fit.message
