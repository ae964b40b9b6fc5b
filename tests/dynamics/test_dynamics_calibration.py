"""Calibration: 95% profile intervals cover the true gamma in 93-97% of 500 simulated data sets."""
import numpy as np
import xarray as xr

from cramcog.dynamics import fit_consolidation_curve

GAMMA, A = 0.43, 0.8
T = np.geomspace(1, 100, 10)


def test_profile_intervals_cover_true_gamma_binomial():
    rng = np.random.default_rng(2024)
    counts = rng.binomial(40, A * T ** -GAMMA, size=(500, T.size))
    y = xr.DataArray(counts, dims=("dataset", "lag"), coords={"lag": T})
    fit = fit_consolidation_curve(None, y, n=40,
                                  y_kind="successes", dim="lag", family="power", ci="profile")
    assert np.all(fit.converged)
    lo, hi = fit.ci["gamma"]
    coverage = np.mean((lo < GAMMA) & (GAMMA < hi))
    assert 0.93 <= coverage <= 0.97, coverage


def test_profile_intervals_cover_true_gamma_least_squares():
    rng = np.random.default_rng(2025)
    y = A * T ** -GAMMA + rng.normal(0, 0.03, size=(500, T.size))
    fit = fit_consolidation_curve(T, y, family="power", ci="profile")
    assert np.all(fit.converged)
    lo, hi = fit.ci["gamma"]
    coverage = np.mean((lo < GAMMA) & (GAMMA < hi))
    assert 0.93 <= coverage <= 0.97, coverage


def test_parametric_bootstrap_intervals_are_roughly_calibrated():
    # Fewer sets and replicates than the profile test (bootstrap = sets x replicates fits), so
    # the band is wider: 300 sets give a binomial SE of 1.3 points around 95%.
    rng = np.random.default_rng(7)
    y = A * T ** -GAMMA + rng.normal(0, 0.03, size=(300, T.size))
    fit = fit_consolidation_curve(T, y, family="power", ci="bootstrap", n_boot=200, seed=3)
    lo, hi = fit.ci["gamma"]
    coverage = np.mean((lo < GAMMA) & (GAMMA < hi))
    assert 0.91 <= coverage <= 0.985, coverage
