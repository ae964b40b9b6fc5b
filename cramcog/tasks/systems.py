"""Continuous dynamical systems observed by SRCD, and fast ways to evaluate them at irregular times.

Why two evaluation paths: SRCD needs a batch of 8 x 2048 observations in well under 100 ms on a
CPU, but a Python-level RK4 loop over a whole sequence takes far longer than that.

- Nonlinear systems (Lorenz-63, Van der Pol) are integrated ONCE per split into a
  :class:`TrajectoryBank`: ``bank_size`` independent trajectories (random initial states, random
  per-trajectory parameters where the system has them), fixed-step RK4 on a fine grid, vectorised
  over trajectories. A sequence is a window of one bank trajectory starting at a random offset;
  its states at the irregular event times come from cubic Hermite interpolation with the exact
  vector field at the grid nodes (4th-order accurate, like the RK4 grid itself).
- Linear systems (coupled damped oscillators) are solved in closed form at every event time, with
  fresh parameters and initial state per sequence (:class:`ExactSource`).

Time units: every system's default parameters put its characteristic period near 1 time unit
(Lorenz-63 lobe oscillations ~0.7, Van der Pol with ``omega=8`` ~0.8, oscillators 0.5-1.6), so
one gap law gives comparable difficulty across systems.

Add your own system with :func:`register_system`: subclass :class:`DynamicalSystem`, define
``defaults``, ``state_dim``, ``rhs``, ``initial_state`` (and ``sample_params`` if the parameters
vary per trajectory).

Examples
--------
>>> import numpy as np
>>> from cramcog.tasks.systems import make_system
>>> lorenz = make_system("lorenz")
>>> src = lorenz.make_source(seed=0, n_traj=4, duration=2.0, step=0.01)
>>> times = np.cumsum(np.full((2, 50), 0.013), axis=1)
>>> src.states(np.random.default_rng(1), times).shape
(2, 50, 3)
"""
from __future__ import annotations

from typing import Mapping

import numpy as np


class DynamicalSystem:
    """Base class: an autonomous ODE ``dx/dt = rhs(x, params)`` with a fixed state dimension.

    Parameters
    ----------
    **params
        Overrides of :attr:`defaults` (unknown names raise ValueError).
    """

    name = "base"
    defaults: Mapping[str, float] = {}
    burn_in = 0.0  # time integrated before recording, so banks start on the attractor
    linear = False

    def __init__(self, **params):
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise ValueError(f"system_params {unknown} are not parameters of system "
                             f"{self.name!r}; valid names: {sorted(self.defaults)}")
        self.params = {**self.defaults, **{k: float(v) for k, v in params.items()}}
        self.check()

    def check(self) -> None:
        """Validate ``self.params`` (override to add range checks)."""
        for name, value in self.params.items():
            if not np.isfinite(value):
                raise ValueError(f"system_params[{name!r}] = {value!r} must be finite")

    def _positive(self, *names: str) -> None:
        for name in names:
            if not self.params[name] > 0:
                raise ValueError(f"system_params[{name!r}] = {self.params[name]!r} for system "
                                 f"{self.name!r} must be > 0")

    @property
    def state_dim(self) -> int:
        raise NotImplementedError

    def sample_params(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        """Per-trajectory parameters, each an array of shape (n, 1) (broadcasts over state)."""
        return {k: np.full((n, 1), v) for k, v in self.params.items()}

    def initial_state(self, rng: np.random.Generator, n: int) -> np.ndarray:
        raise NotImplementedError

    def rhs(self, x: np.ndarray, p: Mapping[str, np.ndarray]) -> np.ndarray:
        """Vector field; x (n, D), each p[k] (n, 1) -> (n, D)."""
        raise NotImplementedError

    def make_source(self, seed: int, n_traj: int, duration: float, step: float):
        """A state source for one split: a :class:`TrajectoryBank` (or exact solver if linear)."""
        return TrajectoryBank(self, seed=seed, n_traj=n_traj, duration=duration, step=step)


# ----------------------------------------------------------------------------- nonlinear systems

class Lorenz63(DynamicalSystem):
    """Lorenz-63, the classic chaotic system: ``x' = s*sigma*(y-x)``, ``y' = s*(x*(rho-z)-y)``,
    ``z' = s*(x*y - beta*z)`` with time speed-up ``s = speed``. Lyapunov time ~1.1 / speed."""

    name = "lorenz"
    defaults = {"sigma": 10.0, "rho": 28.0, "beta": 8.0 / 3.0, "speed": 1.0}
    burn_in = 3.0  # volume contracts by e^-13.7 per time unit: on the attractor quickly

    def check(self):
        super().check()
        self._positive("sigma", "beta", "speed")

    @property
    def state_dim(self):
        return 3

    def initial_state(self, rng, n):
        return rng.normal(size=(n, 3)) * 5.0 + np.array([0.0, 0.0, 25.0])

    def rhs(self, x, p):
        a, b, c = x[..., 0], x[..., 1], x[..., 2]
        s = p["speed"][..., 0]
        return np.stack([s * p["sigma"][..., 0] * (b - a),
                         s * (a * (p["rho"][..., 0] - c) - b),
                         s * (a * b - p["beta"][..., 0] * c)], axis=-1)


class VanDerPol(DynamicalSystem):
    """Van der Pol relaxation oscillator, ``x' = omega*y``, ``y' = omega*(mu*(1-x^2)*y - x)``;
    ``mu`` is drawn per trajectory, uniform in ``[mu_min, mu_max]`` (period ~(6.3..7.6)/omega)."""

    name = "vanderpol"
    defaults = {"mu_min": 0.5, "mu_max": 2.5, "omega": 8.0}
    burn_in = 1.0

    def check(self):
        super().check()
        self._positive("omega")
        if not 0 <= self.params["mu_min"] <= self.params["mu_max"]:
            raise ValueError(f"system_params mu_min={self.params['mu_min']} and mu_max="
                             f"{self.params['mu_max']} must satisfy 0 <= mu_min <= mu_max")

    @property
    def state_dim(self):
        return 2

    def sample_params(self, rng, n):
        mu = rng.uniform(self.params["mu_min"], self.params["mu_max"], size=(n, 1))
        return {"mu": mu, "omega": np.full((n, 1), self.params["omega"])}

    def initial_state(self, rng, n):
        return rng.uniform(-3.0, 3.0, size=(n, 2))

    def rhs(self, x, p):
        a, b = x[..., 0], x[..., 1]
        w, mu = p["omega"][..., 0], p["mu"][..., 0]
        return np.stack([w * b, w * (mu * (1.0 - a * a) * b - a)], axis=-1)


# ----------------------------------------------------------------------------- linear system

class CoupledOscillators(DynamicalSystem):
    """``n_osc`` weakly damped, linearly coupled oscillators ``x'' = -K x - 2*gamma*x'``.

    ``K = Q diag(omega^2) Q^T`` with a random rotation Q (the coupling) and mode frequencies
    uniform in ``[omega_min, omega_max]``; damping rate ``gamma`` uniform in ``[0, damping_max]``;
    all drawn per sequence. State = (positions, velocities), so ``state_dim = 2 * n_osc``. Solved
    exactly in modal coordinates, so there is no integration error at any gap.
    """

    name = "oscillators"
    defaults = {"n_osc": 2.0, "omega_min": 4.0, "omega_max": 12.0, "damping_max": 0.03}
    linear = True

    def check(self):
        super().check()
        n = self.params["n_osc"]
        if n != int(n) or n < 1:
            raise ValueError(f"system_params['n_osc'] = {n!r} must be a positive integer")
        if not 0 < self.params["omega_min"] <= self.params["omega_max"]:
            raise ValueError("system_params must satisfy 0 < omega_min <= omega_max, got "
                             f"{self.params['omega_min']}, {self.params['omega_max']}")
        if not 0 <= self.params["damping_max"] < self.params["omega_min"]:
            raise ValueError(f"system_params['damping_max'] = {self.params['damping_max']!r} "
                             "must be in [0, omega_min) (under-damped modes)")

    @property
    def state_dim(self):
        return 2 * int(self.params["n_osc"])

    def make_source(self, seed, n_traj, duration, step):
        return ExactSource(self)

    def solve(self, rng: np.random.Generator, times: np.ndarray) -> np.ndarray:
        """Exact states at ``times`` (B, N) for B fresh random systems -> (B, N, 2*n_osc)."""
        b, n_osc = times.shape[0], int(self.params["n_osc"])
        p = self.params
        omega = rng.uniform(p["omega_min"], p["omega_max"], size=(b, n_osc))      # (B, n)
        gamma = rng.uniform(0.0, p["damping_max"], size=(b, 1))                  # (B, 1)
        q_rot, _ = np.linalg.qr(rng.normal(size=(b, n_osc, n_osc)))              # (B, n, n)
        amp_c, amp_s = rng.normal(size=(2, b, n_osc))                            # modal init
        wd = np.sqrt(omega ** 2 - gamma ** 2)                                    # damped freq
        t = times[:, :, None]                                                    # (B, N, 1)
        decay = np.exp(-gamma[:, None, :] * t)                                   # (B, N, 1)
        cos, sin = np.cos(wd[:, None, :] * t), np.sin(wd[:, None, :] * t)        # (B, N, n)
        c, s = amp_c[:, None, :], amp_s[:, None, :]
        q = decay * (c * cos + s * sin)                                          # modal pos
        dq = decay * ((s * wd[:, None] - gamma[:, None] * c) * cos
                      - (c * wd[:, None] + gamma[:, None] * s) * sin)            # modal vel
        x = np.einsum("bij,bnj->bni", q_rot, q)                                  # (B, N, n)
        v = np.einsum("bij,bnj->bni", q_rot, dq)
        return np.concatenate([x, v], axis=-1)


class ExactSource:
    """State source for a linear system: exact solution, fresh system per sequence."""

    def __init__(self, system: CoupledOscillators):
        self.system = system

    def states(self, rng: np.random.Generator, times: np.ndarray) -> np.ndarray:
        """States (B, N, D) at ``times`` (B, N), measured from each sequence's start."""
        return self.system.solve(rng, times - times[:, :1])

    def reference_states(self, rng: np.random.Generator, duration: float) -> np.ndarray:
        """A sample of states (n, D) for normalisation statistics."""
        # many systems, few times each: the spread across systems dominates the statistics
        times = np.sort(rng.uniform(0, duration, size=(1024, 32)), axis=1)
        return self.states(rng, times).reshape(-1, self.system.state_dim)


# ----------------------------------------------------------------------------- trajectory bank

class TrajectoryBank:
    """``n_traj`` RK4 trajectories on a fixed grid; states at any time by cubic Hermite.

    Parameters
    ----------
    system : DynamicalSystem
    seed : int
        Seeds initial states and per-trajectory parameters.
    n_traj : int
        Number of independent trajectories.
    duration : float
        Recorded time span per trajectory (after ``system.burn_in``).
    step : float
        RK4 step and interpolation grid spacing.
    """

    def __init__(self, system: DynamicalSystem, seed: int, n_traj: int, duration: float,
                 step: float):
        if n_traj < 1 or not duration > 0 or not step > 0:
            raise ValueError(f"TrajectoryBank needs n_traj >= 1, duration > 0, step > 0; got "
                             f"{n_traj}, {duration}, {step}")
        rng = np.random.default_rng(seed)
        self.system, self.step, self.duration = system, float(step), float(duration)
        self.params = system.sample_params(rng, n_traj)          # each (M, 1)
        x = system.initial_state(rng, n_traj)                     # (M, D)
        x = self._integrate(x, int(np.ceil(system.burn_in / step)))[-1]
        self.grid = np.ascontiguousarray(
            self._integrate(x, int(np.ceil(duration / step))).transpose(1, 0, 2))  # (M, S+1, D)

    def _integrate(self, x: np.ndarray, n_steps: int) -> np.ndarray:
        """Fixed-step RK4 from x (M, D); returns the n_steps+1 states (S+1, M, D)."""
        f, p, h = self.system.rhs, self.params, self.step
        out = np.empty((n_steps + 1,) + x.shape)
        out[0] = x
        for i in range(n_steps):
            k1 = f(x, p)
            k2 = f(x + 0.5 * h * k1, p)
            k3 = f(x + 0.5 * h * k2, p)
            k4 = f(x + h * k3, p)
            x = x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
            if not np.all(np.isfinite(x)):
                raise ValueError(f"system {self.system.name!r} diverged during RK4 at step "
                                 f"{self.step}; lower integration_step")
            out[i + 1] = x
        return out

    @property
    def span(self) -> float:
        """Time covered by each trajectory."""
        return (self.grid.shape[1] - 1) * self.step

    def extend_to(self, span: float) -> None:
        """Integrate further so each trajectory covers at least ``span`` (deterministic)."""
        missing = int(np.ceil((span - self.span) / self.step))
        if missing > 0:
            more = self._integrate(self.grid[:, -1], missing)[1:].transpose(1, 0, 2)
            self.grid = np.ascontiguousarray(np.concatenate([self.grid, more], axis=1))

    def evaluate(self, traj: np.ndarray, times: np.ndarray) -> np.ndarray:
        """States of trajectories ``traj`` (B,) at ``times`` (B, N) (0<=t<=span) -> (B, N, D)."""
        u = times / self.step
        i = np.minimum(np.floor(u).astype(np.int64), self.grid.shape[1] - 2)    # (B, N)
        s = (u - i)[..., None]                                                   # (B, N, 1)
        rows = traj[:, None]
        x0, x1 = self.grid[rows, i], self.grid[rows, i + 1]                      # (B, N, D)
        p = {k: v[traj][:, None, :] for k, v in self.params.items()}             # (B, 1, 1)
        f0, f1 = self.system.rhs(x0, p), self.system.rhs(x1, p)
        s2, s3 = s * s, s * s * s
        return ((2 * s3 - 3 * s2 + 1) * x0 + (s3 - 2 * s2 + s) * self.step * f0
                + (3 * s2 - 2 * s3) * x1 + (s3 - s2) * self.step * f1)

    def states(self, rng: np.random.Generator, times: np.ndarray) -> np.ndarray:
        """States (B, N, D) of random windows: random trajectory, random start offset.

        The offset is ``U * max(0, duration - T)`` with T the sequence's time span, computed from
        the bank's ORIGINAL duration, so a rare extension never changes other draws.
        """
        b = times.shape[0]
        rel = times - times[:, :1]                                               # (B, N)
        total = rel[:, -1]
        traj = rng.integers(0, self.grid.shape[0], size=b)
        offset = rng.random(b) * np.maximum(0.0, self.duration - total)
        need = float((offset + total).max())
        if need > self.span:
            self.extend_to(need + self.step)
        return self.evaluate(traj, rel + offset[:, None])

    def reference_states(self, rng: np.random.Generator, duration: float) -> np.ndarray:
        """All grid states (n, D), for normalisation statistics."""
        return self.grid.reshape(-1, self.grid.shape[-1])


SYSTEMS: dict[str, type[DynamicalSystem]] = {
    "lorenz": Lorenz63, "vanderpol": VanDerPol, "oscillators": CoupledOscillators}


def register_system(name: str, cls: type[DynamicalSystem]) -> None:
    """Make a new system available to ``SRCDConfig(system=name)``.

    Examples
    --------
    >>> import numpy as np
    >>> class Decay(DynamicalSystem):
    ...     name, defaults = "decay", {"rate": 1.0}
    ...     state_dim = 1
    ...     def initial_state(self, rng, n): return rng.normal(size=(n, 1)) + 2.0
    ...     def rhs(self, x, p): return -p["rate"] * x
    >>> register_system("decay", Decay)
    >>> make_system("decay", {"rate": 2.0}).params["rate"]
    2.0
    """
    if not (isinstance(cls, type) and issubclass(cls, DynamicalSystem)):
        raise TypeError(f"register_system needs a DynamicalSystem subclass, got {cls!r}")
    SYSTEMS[name] = cls


def make_system(name: str, params: Mapping[str, float] | None = None) -> DynamicalSystem:
    """Instantiate a registered system by name with parameter overrides.

    Examples
    --------
    >>> make_system("vanderpol").state_dim
    2
    """
    if name not in SYSTEMS:
        raise ValueError(f"system = {name!r} is unknown; choose one of {sorted(SYSTEMS)} "
                         "or add one with cramcog.tasks.systems.register_system")
    return SYSTEMS[name](**dict(params or {}))
