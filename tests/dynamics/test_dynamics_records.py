"""Records and plots: to_xarray round-trips through cramcog.records; plot returns Axes."""
import matplotlib

matplotlib.use("Agg")

import json

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from cramcog import records
from cramcog.dynamics import fit_consolidation_curve

T = np.geomspace(1, 64, 8)
K = np.array([44, 38, 33, 29, 26, 22, 19, 17])


def test_single_fit_record_round_trips(tmp_path):
    fit = fit_consolidation_curve(T, K, n=50, y_kind="successes", family="power")
    ds = fit.to_xarray()
    assert ds.attrs["record_kind"] == "fit"
    assert ds["estimate"].dims == ("family", "parameter")
    back = records.open(records.save(ds, tmp_path / "fit.nc"))
    est = back["estimate"].sel(family="power", parameter="gamma").item()
    assert est == pytest.approx(fit.params["gamma"], rel=1e-12)
    assert back["ci_low"].sel(family="power", parameter="gamma").item() == pytest.approx(
        fit.ci["gamma"][0], rel=1e-12)
    assert back.attrs["likelihood"] == "binomial" and back.attrs["ci_method"] == "profile"
    assert back.cram.config["families"] == ["power"]
    assert json.loads(back.attrs["config_json"])["seed"] == 0
    np.testing.assert_allclose(back["data_y"].values, K / 50)
    np.testing.assert_array_equal(back["data_n"].values, 50)
    assert back["point"].dtype == np.int64
    assert int(back["converged"].sel(family="power")) == 1


def test_fitset_record_keeps_union_of_parameters_and_batch_dims(tmp_path):
    rng = np.random.default_rng(1)
    y = xr.DataArray(rng.binomial(50, 0.9 * T[None, :] ** -np.array([[0.3], [0.5]])),
                     dims=("layer", "step"), coords={"layer": ["L0", "L1"], "step": T})
    fits = fit_consolidation_curve(None, y, n=50, y_kind="successes", dim="step",
                                   family=["power", "exponential", "shifted_power"], ci="wald")
    ds = fits.to_xarray()
    assert ds["estimate"].dims == ("family", "parameter", "layer")
    assert set(ds["parameter"].values) == {"a", "gamma", "b", "s"}
    back = records.open(records.save(ds, tmp_path / "fits.nc"))
    assert np.isnan(back["estimate"].sel(family="exponential", parameter="gamma")).all()
    np.testing.assert_allclose(back["estimate"].sel(family="power", parameter="gamma"),
                               fits["power"].params["gamma"])
    assert list(back["layer"].values) == ["L0", "L1"]
    assert back["aic"].dims == ("family", "layer")
    assert str(back["message"].sel(family="power", layer="L0").item()) == "converged"


def test_skipped_families_are_recorded(tmp_path):
    t = np.r_[0.0, T]
    y = 0.9 / (1 + 0.2 * t)
    with pytest.warns(UserWarning):
        fits = fit_consolidation_curve(t, y + 0.002 * np.sin(t), family="all", ci="none")
    back = records.open(records.save(fits.to_xarray(), tmp_path / "all.nc"))
    assert "power" in list(back.attrs["families_skipped"])


def test_plots_return_axes_on_agg():
    fit = fit_consolidation_curve(T, K, n=50, y_kind="successes", family="power", ci="wald")
    ax = fit.plot()
    assert isinstance(ax, matplotlib.axes.Axes)
    assert len(ax.lines) >= 1 and len(ax.collections) >= 2  # data + band
    ax2 = fit.plot(loglog=True)
    assert ax2.get_xscale() == "log" and ax2.get_yscale() == "log"
    fits = fit_consolidation_curve(T, K, n=50,
                                   y_kind="successes", family=["power", "exponential"], ci="wald")
    fig, ax3 = plt.subplots()
    assert fits.plot(ax=ax3) is ax3
    labels = [t.get_text() for t in ax3.get_legend().get_texts()]
    assert "power" in labels and "exponential" in labels
    batched = fit_consolidation_curve(T, np.stack([K, K - 3]), n=50, y_kind="successes", ci="none")
    assert len(batched.plot().axes.flat) == 2  # one panel per curve (a FacetGrid)
    ax4 = batched.plot(ax=plt.subplots()[1])  # or all curves on the given axes
    assert isinstance(ax4, matplotlib.axes.Axes)
    assert "power curve=1" in [t.get_text() for t in ax4.get_legend().get_texts()]
    plt.close("all")
