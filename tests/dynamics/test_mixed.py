"""The binomial mixed model (group_model="mixed") and differences between conditions."""
import doctest
import warnings

import numpy as np
import pandas as pd
import pytest

import cramcog.dynamics.mixed as mixed_module
from cramcog.dynamics import fit_consolidation_curve
from cramcog.dynamics.families import FAMILIES
from cramcog.dynamics.group import Difference, random_effects
from cramcog.dynamics.mixed import _Model, _pack, cell_loglik, fit_mixed

T = np.array([1, 2, 4, 8, 16, 32, 64, 128.0])


def counts(n_subjects, seed, a=0.95, gamma=0.35, sd_gamma=0.1, sd_a=0.1, trials=20, t=T):
    """Power-law subjects with a ceiling: about half have a cell at 100% when a = 0.95."""
    rng = np.random.default_rng(seed)
    g = rng.normal(gamma, sd_gamma, n_subjects)
    a_i = a * np.exp(rng.normal(0, sd_a, n_subjects))
    return rng.binomial(trials, np.minimum(a_i[:, None] * t[None, :] ** -g[:, None], 1.0))


def long_table(k, trials=20, t=T, **extra):
    s, m = k.shape
    return pd.DataFrame({"subject": np.repeat([f"s{i:02d}" for i in range(s)], m),
                         "day": np.tile(t, s), "k": k.ravel(), "n": trials, **extra})


def group(df, model, by="subject", **kwargs):
    kwargs.setdefault("family", "power")
    return fit_consolidation_curve("day", "k", "n", data=df, by=by, y_kind="successes",
                                   ci="wald", group_model=model, **kwargs)


def test_docstring_examples():
    result = doctest.testmod(mixed_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_cell_loglik_is_the_binomial_inside_and_a_ceiling_outside():
    mu = np.array([0.3, 0.7, 1.3, 1.3])
    y, n = np.array([0.25, 0.9, 1.0, 0.9]), np.array([20.0, 20, 20, 20])
    ll, d, _ = cell_loglik(mu, y, n)
    exact = n * (y * np.log(mu[:2].tolist() + [1, 1]) + (1 - y) * np.log1p(
        -np.minimum(mu, 0.999)))
    np.testing.assert_allclose(ll[:2], exact[:2])
    assert ll[2] == pytest.approx(0.0, abs=2e-3) and d[2] == 0.0   # 100% above 1: certain
    assert ll[3] < -1e9                                            # failures above 1: impossible
    h = 1e-7
    num = (cell_loglik(mu + h, y, n)[0] - cell_loglik(mu - h, y, n)[0]) / (2 * h)
    np.testing.assert_allclose(d, num, rtol=1e-5)


def _brute_force(spec, t, y, n, phi, half_width=0.5, m=401):
    """Log marginal likelihood of each subject by a dense 2-D grid over (log a, gamma)."""
    g = np.linspace(-half_width, half_width, m)
    b1, b2 = np.meshgrid(g, g, indexing="ij")
    b = np.stack([b1.ravel(), b2.ravel()], -1)
    tau = np.exp(phi[2:])
    theta = phi[:2] + b
    prior = -0.5 * np.sum((b / tau) ** 2, -1) - np.log(tau).sum() - np.log(2 * np.pi)
    out = []
    for s in range(t.shape[0]):
        mu = spec.mean(np.repeat(t[s:s + 1], len(theta), 0), spec.to_natural(theta))
        a = cell_loglik(mu, y[s], n[s])[0].sum(-1) + prior
        top = a.max()
        out.append(top + np.log(np.exp(a - top).sum() * (g[1] - g[0]) ** 2))
    return np.array(out)


@pytest.mark.parametrize("a, tol", [(0.7, 1e-4), (0.95, 0.05)])
def test_quadrature_matches_brute_force_integration(a, tol):
    """Adaptive Gauss-Hermite agrees with a dense grid: to 1e-4 inside [0, 1], and within 0.05
    per subject (converging with more nodes) where the ceiling cuts the integrand."""
    k = counts(8, seed=1, a=a)
    spec = FAMILIES["power"]
    t, y, n = _pack([T] * 8, list(k / 20), [np.full(8, 20.0)] * 8)
    phi = np.array([np.log(a), 0.35, np.log(0.1), np.log(0.1)])
    exact = _brute_force(spec, t, y, n, phi)
    errors = []
    for nodes in (3, 15):
        model = _Model(spec, t, y, n, np.ones(2, bool), np.ones(2, bool), np.zeros(2), nodes)
        at = model.adapt(phi, np.zeros((8, 2)))
        errors.append(np.abs(model.marginal(phi, at)[0] - exact).max())
    assert errors[1] < tol and errors[1] <= errors[0]
    assert (k == 20).any() == (a > 0.9)


def test_without_random_effects_it_is_the_binomial_glm_with_a_log_link():
    """log p = log a - b t: statsmodels' binomial GLM (log link) on the pooled counts."""
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(5)
    t = np.array([0.5, 1, 2, 4, 8, 16, 32, 64.0])
    k = rng.binomial(20, np.broadcast_to(0.8 * np.exp(-0.05 * t), (30, 8)))
    fit = fit_mixed(FAMILIES["exponential"], [t] * 30, list(k / 20), [np.full(8, 20.0)] * 30,
                    random=[])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # the log link's domain warning
        glm = sm.GLM(np.c_[k.ravel(), 20 - k.ravel()], sm.add_constant(np.tile(t, 30)),
                     family=sm.families.Binomial(link=sm.families.links.Log())).fit()
    assert fit.converged and fit.sd == {"a": 0.0, "b": 0.0}
    np.testing.assert_allclose(fit.beta, [glm.params[0], -glm.params[1]], atol=1e-7)
    np.testing.assert_allclose(fit.se_internal(), glm.bse, rtol=0.01)


def test_actr_agrees_with_statsmodels_logistic_mixed_model():
    """actr is a logistic GLMM (random intercept and slope on log t): fixed effects within a
    fraction of a standard error of statsmodels' BinomialBayesMixedGLM (variational Bayes)."""
    bayes = pytest.importorskip("statsmodels.genmod.bayes_mixed_glm")
    rng = np.random.default_rng(5)
    s, noise = 40, 0.25
    b, g = rng.normal(0.5, 0.3, s), rng.normal(0.3, 0.06, s)
    k = rng.binomial(20, 1 / (1 + np.exp((g[:, None] * np.log(T) - b[:, None]) / noise)))
    fit = fit_mixed(FAMILIES["actr"], [T] * s, list(k / 20), [np.full(8, 20.0)] * s)
    rows = [(i, np.log(t), y) for i in range(s) for j, t in enumerate(T)
            for y in [1] * k[i, j] + [0] * (20 - k[i, j])]
    d = pd.DataFrame(rows, columns=["s", "lt", "y"])
    vb = bayes.BinomialBayesMixedGLM.from_formula(
        "y ~ lt", {"s": "0 + C(s)", "slope": "0 + C(s):lt"}, d).fit_vb()
    theirs = np.array([vb.fe_mean[0], -vb.fe_mean[1]]) * noise
    assert fit.converged
    assert (np.abs(fit.beta - theirs) < 0.5 * fit.se_internal()).all()
    np.testing.assert_allclose(fit.tau, np.exp(vb.vcp_mean) * noise, rtol=0.25)


def test_every_subject_is_kept_and_the_ceiling_no_longer_biases_the_group():
    """Half the subjects have a cell at 100%: the two-stage estimate leaves them out (the best
    rememberers) and its group a falls; the mixed model keeps everyone."""
    k = counts(40, seed=1)
    df = long_table(k)
    assert 0.3 < (k == 20).any(1).mean() < 0.6
    with pytest.warns(UserWarning, match="converged on the edge of \\[0, 1\\]") as caught:
        two = group(df, "two-stage")
    assert not any("not fitted or not converged" in str(w.message) for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # nothing to warn about
        mix = group(df, "mixed")
    assert two.n_subjects < 30 and mix.n_subjects == 40 and mix.excluded.empty
    assert mix.group_model == "mixed" and "nonlinear mixed model" in mix.report()
    lo, hi = mix.ci["gamma"]
    assert lo < 0.35 < hi and mix.ci["a"][0] < 0.95 < mix.ci["a"][1]
    assert two.ci["a"][1] < 0.95                  # the old estimate misses the truth
    assert 0.05 < mix.sd["gamma"] < 0.15 and mix.sd_ci["gamma"][0] < 0.1 < mix.sd_ci["gamma"][1]
    # the shrunken per-subject estimates and the record come from the mixed model
    assert np.isfinite(mix.shrunk["gamma"]).all()
    assert "mixed model" in mix.to_xarray().attrs["group_model"]


def test_mixed_model_is_unbiased_and_its_intervals_cover():
    """A small deterministic coverage study (the full one: benchmarks/bench_mixed.py)."""
    reps, hits, est = 30, 0, []
    for r in range(reps):
        k = counts(30, seed=100 + r)
        fit = fit_mixed(FAMILIES["power"], [T] * 30, list(k / 20), [np.full(8, 20.0)] * 30)
        lo, hi = fit.ci["gamma"]
        hits += lo < 0.35 < hi
        est.append(fit.params["gamma"])
    assert abs(np.mean(est) - 0.35) < 0.01
    assert hits / reps >= 0.85


def test_curves_too_short_for_their_own_fit_still_count():
    k = counts(12, seed=2)
    df = long_table(k)
    all_at_ceiling = pd.DataFrame({"subject": "top", "day": T, "k": 20, "n": 20})
    two_points = pd.DataFrame({"subject": "short", "day": [1.0, 8.0], "k": [18, 10], "n": 20})
    df = pd.concat([df, all_at_ceiling, two_points], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        two = group(df, "two-stage")
        mix = group(df, "mixed")
    assert {"top", "short"} <= set(two.excluded["subject"])
    assert mix.n_subjects == 14 and mix.excluded.empty
    # the subject at 100% everywhere is shrunk towards the group, above it
    shrunk = dict(zip(mix.curves["subject"], mix.shrunk["a"]))
    assert shrunk["top"] > mix.params["a"]


def test_random_and_settings_are_checked():
    df = long_table(counts(10, seed=3))
    g = group(df, "mixed", random=["gamma"])
    assert g.sd["a"] == 0.0 and g.sd["gamma"] > 0
    assert "on gamma" in g.report()
    with pytest.raises(ValueError, match="no fitted family has parameter"):
        group(df, "mixed", random=["k"])
    with pytest.raises(ValueError, match="pass group_model='mixed'"):
        group(df, "two-stage", random=["gamma"])
    with pytest.raises(ValueError, match="group_model must be one of"):
        group(df, "glmm")
    with pytest.raises(ValueError, match="name the subjects with by="):
        fit_consolidation_curve(T, np.linspace(0.9, 0.3, 8), group_model="mixed")
    with pytest.raises(ValueError, match="needs trials"):
        fit_consolidation_curve("day", "k", data=df.assign(k=df.k / 20), by="subject",
                                y_kind="value", family="power", group_model="mixed")
    with pytest.raises(ValueError, match="at least 2 subjects"):
        fit_mixed(FAMILIES["power"], [T], [np.full(8, 0.5)], [np.full(8, 20.0)])


# ----------------------------------------------------------------------------- conditions

def conditions_table(within, delta=-0.15, n_subjects=20, seed=4):
    """Retrieval practice slows forgetting by ``delta`` in gamma; within subjects each has both
    conditions (and keeps its own gamma), between subjects the ids differ."""
    rng = np.random.default_rng(seed)
    g = rng.normal(0.4, 0.1, n_subjects)
    frames = []
    for cond, d in (("restudy", 0.0), ("retrieval", delta)):
        gamma = g + d + rng.normal(0, 0.03, n_subjects)
        k = rng.binomial(40, np.minimum(0.9 * T[None, :] ** -gamma[:, None], 1.0))
        df = long_table(k, trials=40, practice=cond)
        if not within and cond == "retrieval":
            df["subject"] = df["subject"] + "b"
        frames.append(df.assign(n=40))
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("model", ["two-stage", "mixed"])
@pytest.mark.parametrize("within", [True, False])
def test_difference_between_conditions(model, within):
    df = conditions_table(within)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = group(df, model, by=["practice", "subject"])
    d = g.difference("gamma", "retrieval", "restudy")
    assert isinstance(d, Difference)
    assert d.design == ("within-subject" if within else "between-subject")
    assert abs(d.estimate + 0.15) < 0.04 and d.p < (1e-3 if within else 0.01)
    assert d.scale == "difference"
    assert d.ci_low < d.estimate < d.ci_high < 0
    assert d.n_paired == (20 if within else 0) and d.model == model
    # the reverse comparison is the mirror image; a (log scale) compares as a ratio
    back = g.difference("gamma", "restudy", "retrieval")
    assert back.estimate == pytest.approx(-d.estimate) and back.p == pytest.approx(d.p)
    ratio = g.difference("a", {"practice": "retrieval"}, 0)
    assert ratio.scale == "ratio" and ratio.ci_low < 1 < ratio.ci_high
    # report() and differences() show each condition against the first
    text = g.report()
    assert "differences between conditions (each against practice=restudy)" in text
    assert "gamma: [practice=retrieval] - [practice=restudy]" in text
    table = g.differences()
    assert list(table["parameter"]) == ["a", "gamma"] and (table["design"] == d.design).all()
    # a within-subject design is more precise than the same data read as between
    if within:
        as_between = group(df.assign(subject=df["subject"] + df["practice"]), model,
                           by=["practice", "subject"]).difference("gamma", "retrieval",
                                                                  "restudy")
        assert as_between.design == "between-subject"
        assert d.ci_high - d.ci_low < as_between.ci_high - as_between.ci_low


def test_paired_two_stage_difference_is_the_random_effects_model_of_own_differences():
    df = conditions_table(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = group(df, "two-stage", by=["practice", "subject"])
    d = g.difference("gamma", "retrieval", "restudy")
    est, _ = g._internal()
    by_key = {(r.practice, r.subject): i for i, r in g.curves.iterrows()}
    shared = [s for s in g.curves["subject"].unique()
              if all(g._usable[by_key[(c, s)]] for c in ("retrieval", "restudy"))]
    ia = [by_key[("retrieval", s)] for s in shared]
    ib = [by_key[("restudy", s)] for s in shared]
    re = random_effects(est[ia, 1] - est[ib, 1],
                        np.hypot(g._se_used[ia, 1], g._se_used[ib, 1]))
    assert d.estimate == pytest.approx(re.mu) and d.ci_low == pytest.approx(re.mu_low)
    assert d.n_used == len(shared)


def test_difference_errors_are_clear():
    df = conditions_table(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = group(df, "mixed", by=["practice", "subject"])
        plain = group(long_table(counts(6, seed=5)), "two-stage")
    with pytest.raises(ValueError, match="no conditions to compare"):
        plain.difference("gamma", 0, 1)
    with pytest.raises(ValueError, match="no group"):
        g.difference("gamma", "sleep", "restudy")
    with pytest.raises(ValueError, match="the same group"):
        g.difference("gamma", "restudy", "restudy")
    with pytest.raises(ValueError, match="has no parameter 'b'"):
        g.difference("b", "retrieval", "restudy")
