"""Shared helpers for the dynamics tests."""
import numpy as np
import pytest

TRUE = {  # natural parameters used to generate curves, per base family
    "exponential": [0.9, 0.08], "power": [0.85, 0.43], "shifted_power": [0.9, 2.0, 0.7],
    "hyperbolic": [0.9, 0.3], "exp_sqrt": [0.9, 0.35], "logarithmic": [0.9, 0.15],
    "actr": [0.6, 0.3], "logistic": [0.9, 20.0, -4.0], "weibull": [0.9, 10.0, 0.6],
}


def _true_params(name):
    base = name.split("+")[0]
    return np.array(TRUE[base] + ([0.12] if name.endswith("+c") else []))



@pytest.fixture
def true_params():
    """name -> natural parameters used to generate test curves for that family."""
    return _true_params
