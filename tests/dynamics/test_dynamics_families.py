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
