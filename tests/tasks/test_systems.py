"""Dynamical systems: the bank's Hermite states match a fine integration; exact linear solution."""
import numpy as np
import pytest

from cramcog.tasks.systems import TrajectoryBank, make_system


def _fine_rk4(system, x, params, duration, h=1e-4):
    n = int(round(duration / h))
    h = duration / n
    for _ in range(n):
        k1 = system.rhs(x, params)
        k2 = system.rhs(x + 0.5 * h * k1, params)
        k3 = system.rhs(x + 0.5 * h * k2, params)
        k4 = system.rhs(x + h * k3, params)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


@pytest.mark.parametrize("name", ["lorenz", "vanderpol"])
def test_bank_interpolation_matches_fine_integration(name):
    system = make_system(name)
    bank = TrajectoryBank(system, seed=0, n_traj=3, duration=3.0, step=0.01)
    traj, node, tau = np.array([0, 1, 2]), np.array([17, 123, 250]), np.array([0.0037, 0.0081,
                                                                                0.0152])
    params = {k: v[traj] for k, v in bank.params.items()}
    # integrate finely from the grid node to the off-grid time, compare with the bank's value
    truth = np.stack([_fine_rk4(system, bank.grid[t, i][None], {k: v[j:j + 1] for k, v in
                                                              params.items()}, d)[0]
                      for j, (t, i, d) in enumerate(zip(traj, node, tau))])
    got = bank.evaluate(traj, (node * 0.01 + tau)[:, None])[:, 0]
    scale = np.abs(bank.grid).max()
    assert np.abs(got - truth).max() < 1e-4 * scale
    # the grid itself is an accurate solution: one coarse step vs a fine integration
    step = np.stack([_fine_rk4(system, bank.grid[t, i][None], {k: v[j:j + 1] for k, v in
                                                             params.items()}, 0.01)[0]
                     for j, (t, i) in enumerate(zip(traj, node))])
    assert np.abs(step - bank.grid[traj, node + 1]).max() < 1e-5 * scale


def test_bank_extension_is_deterministic():
    system = make_system("lorenz")
    short = TrajectoryBank(system, seed=1, n_traj=2, duration=1.0, step=0.01)
    long = TrajectoryBank(system, seed=1, n_traj=2, duration=2.0, step=0.01)
    short.extend_to(2.0)
    np.testing.assert_array_equal(short.grid, long.grid)
    # a window longer than the bank is served (by extending) and stays finite
    times = np.cumsum(np.full((2, 300), 0.01), axis=1)
    fresh = TrajectoryBank(system, seed=1, n_traj=2, duration=1.0, step=0.01)
    out = fresh.states(np.random.default_rng(0), times)
    assert np.isfinite(out).all() and fresh.span >= 2.99


def test_oscillators_solve_a_linear_ode():
    system = make_system("oscillators", {"n_osc": 2})
    t = np.linspace(0.0, 5.0, 400)[None]
    eps = 1e-5
    x = {s: system.solve(np.random.default_rng(3), t + s * eps) for s in (-1, 0, 1)}
    n = 2
    pos, vel = x[0][0, :, :n], x[0][0, :, n:]
    dpos = (x[1][0, :, :n] - x[-1][0, :, :n]) / (2 * eps)
    acc = (x[1][0, :, n:] - x[-1][0, :, n:]) / (2 * eps)
    np.testing.assert_allclose(dpos, vel, atol=1e-5 * np.abs(vel).max())
    # acceleration is one fixed linear map of the state at every time: x'' = -K x - 2 gamma x'
    state = x[0][0]
    coef, *_ = np.linalg.lstsq(state, acc, rcond=None)
    assert np.abs(state @ coef - acc).max() < 1e-4 * np.abs(acc).max()


@pytest.mark.parametrize("name,params,match", [
    ("vanderpol", {"mu_min": 3.0, "mu_max": 1.0}, "mu_min"),
    ("lorenz", {"sigma": -1.0}, "sigma"),
    ("oscillators", {"n_osc": 1.5}, "n_osc"),
    ("oscillators", {"damping_max": 10.0}, "damping_max"),
])
def test_bad_system_params(name, params, match):
    with pytest.raises(ValueError, match=match):
        make_system(name, params)
