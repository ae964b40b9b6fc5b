"""Curve families: registry, analytic Jacobians, starting values, transforms."""
import numpy as np
import pytest

from cramcog.dynamics.families import (FAMILIES, Family, get_family, make_actr_family,
                                       with_asymptote)

def test_registry_has_every_required_family_and_asymptote_variant():
    for base in ("exponential", "power", "shifted_power", "hyperbolic", "exp_sqrt",
                 "logarithmic", "actr"):
        assert base in FAMILIES
    for base in ("exponential", "power", "shifted_power", "hyperbolic", "exp_sqrt"):
        assert FAMILIES[base + "+c"].param_names[-1] == "c"
    for fam in FAMILIES.values():
        assert fam.formula and fam.doc and fam.source
        assert len(fam.bounds) == fam.n_params


def test_power_law_exponent_is_called_gamma_everywhere():
    for name in ("power", "power+c", "shifted_power", "shifted_power+c", "actr"):
        assert "gamma" in FAMILIES[name].param_names, name
    for name in ("exponential", "hyperbolic", "exp_sqrt", "logarithmic"):
        assert "gamma" not in FAMILIES[name].param_names


@pytest.mark.parametrize("name", list(FAMILIES))
def test_jacobian_matches_central_differences(name, true_params):
    fam = FAMILIES[name]
    t = np.array([[0.5, 1.0, 3.0, 10.0, 40.0]])
    p = true_params(name)[None, :]
    jac = fam.jacobian(t, p)
    assert jac.shape == (1, t.shape[1], fam.n_params)
    for j in range(fam.n_params):
        h = 1e-6 * max(1.0, abs(p[0, j]))
        up, dn = p.copy(), p.copy()
        up[0, j] += h
        dn[0, j] -= h
        fd = (fam.mean(t, up) - fam.mean(t, dn)) / (2 * h)
        np.testing.assert_allclose(jac[..., j], fd, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_start_values_are_finite_and_near_the_truth_on_clean_curves(name, true_params):
    fam = FAMILIES[name]
    t = np.geomspace(1, 100, 12)[None, :]
    p = true_params(name)[None, :]
    y = fam.mean(t, p)
    p0 = fam.start(t, y)
    assert p0.shape == p.shape and np.isfinite(p0).all()
    sse0 = ((fam.mean(t, p0) - y) ** 2).sum()
    sse_flat = ((y - y.mean()) ** 2).sum()
    assert sse0 < 0.5 * sse_flat, "start values should explain most of the curve"


def test_transforms_round_trip_and_log_scaling():
    fam = FAMILIES["shifted_power"]
    p = np.array([[0.9, 2.0, -0.3]])
    np.testing.assert_allclose(fam.to_natural(fam.to_internal(p)), p)
    assert fam.log_scaled.tolist() == [True, True, False]
    np.testing.assert_allclose(fam.dnatural(fam.to_internal(p)), [[0.9, 2.0, 1.0]])


def test_family_validates_and_lookup_lists_names():
    with pytest.raises(ValueError, match="bounds"):
        Family("bad", "x", ("a",), ((1.0, 2.0),), lambda t, p: t, lambda t, p: t,
               lambda t, y: y)
    with pytest.raises(ValueError, match="valid names: .*power"):
        get_family("powr")
    with pytest.raises(TypeError):
        get_family(3)
    with pytest.raises(ValueError, match="noise"):
        make_actr_family(0.0)


def test_actr_is_logistic_in_log_time_and_asymptote_adds_c():
    fam = make_actr_family(0.5)
    t = np.array([[1.0, np.e]])
    y = fam.mean(t, np.array([[0.0, 0.5]]))
    # logit P = (b - gamma ln t) / s = 0 at t=1, -1 at t=e
    np.testing.assert_allclose(y, [[0.5, 1 / (1 + np.e)]])
    pc = with_asymptote(FAMILIES["power"])
    np.testing.assert_allclose(pc.mean(np.array([[4.0]]), np.array([[1.0, 0.5, 0.2]])), [[0.7]])


def test_every_family_declares_a_scale_free_shape_parameter_or_none():
    expected = {"power": "gamma", "shifted_power": "gamma", "actr": "gamma", "weibull": "k",
                "logistic": "slope", "exponential": None, "hyperbolic": None, "exp_sqrt": None,
                "logarithmic": None}
    for name, fam in FAMILIES.items():
        base = name.split("+")[0]
        assert fam.shape_param == expected[base], name
        assert fam.has_gamma == ("gamma" in fam.param_names), name
    with pytest.raises(ValueError, match="shape_param 'q'"):
        Family("bad", "x", ("a",), ((0.0, np.inf),), lambda t, p: t, lambda t, p: t,
               lambda t, y: y, shape_param="q")


@pytest.mark.parametrize("name, p", [("logistic", [0.9, 20.0, -4.0]),
                                     ("logistic", [0.97, 6.0, 3.0]),
                                     ("weibull", [0.9, 10.0, 0.6]),
                                     ("weibull", [0.98, 30.0, 2.0]),
                                     ("weibull", [0.9, 5.0, -1.5])])
def test_shape_parameter_does_not_depend_on_the_unit_of_t(name, p):
    # The same curve in exposures and in units 10x larger: the shape is the same number, only
    # the location/scale parameter moves with the unit.
    fam = FAMILIES[name]
    t = np.geomspace(1, 100, 9)[None, :]
    y = fam.mean(t, np.array([p]))
    y10 = fam.mean(t / 10, np.array([[p[0], p[1] / 10, p[2]]]))
    np.testing.assert_allclose(y10, y, rtol=1e-12)


def test_logistic_and_weibull_shapes_and_limits():
    t = np.array([[0.0, 1.0, 10.0, 20.0, 1e6]])
    lg = FAMILIES["logistic"].mean(t, np.array([[0.8, 10.0, 5.0]]))[0]
    assert lg[2] == pytest.approx(0.4)                         # half of a at t50
    assert lg[1] < lg[2] < lg[3] < lg[4] == pytest.approx(0.8)  # slope > 0 rises to a
    # 27%-73% of a between t50 (1 -+ 1/slope)
    mid = FAMILIES["logistic"].mean(np.array([[8.0, 12.0]]), np.array([[1.0, 10.0, 5.0]]))[0]
    np.testing.assert_allclose(mid, [1 / (1 + np.e), 1 / (1 + np.exp(-1))])
    wb = FAMILIES["weibull"]
    falling = wb.mean(t, np.array([[0.9, 10.0, 0.7]]))[0]
    assert falling[0] == 0.9 and np.all(np.diff(falling) < 0)
    rising = wb.mean(t, np.array([[0.9, 10.0, -2.0]]))[0]
    assert rising[0] == 0.0 and np.all(np.diff(rising) > 0) and rising[-1] < 0.9
    # k = 1 is the exponential, k = 1/2 exp_sqrt
    tt = np.geomspace(0.1, 50, 7)[None, :]
    np.testing.assert_allclose(wb.mean(tt, np.array([[0.9, 4.0, 1.0]])),
                               FAMILIES["exponential"].mean(tt, np.array([[0.9, 0.25]])))
    np.testing.assert_allclose(wb.mean(tt, np.array([[0.9, 4.0, 0.5]])),
                               FAMILIES["exp_sqrt"].mean(tt, np.array([[0.9, 0.5]])))
    # the Jacobian stays finite at t = 0 for either sign of k
    for k in (0.7, -2.0):
        assert np.isfinite(wb.jacobian(t, np.array([[0.9, 10.0, k]]))).all()
