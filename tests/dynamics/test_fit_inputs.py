"""Issue 25, items 8 and 11: input that used to be fitted silently wrong now fails (or warns)
with a message saying what was wrong and what to do."""
import warnings

import numpy as np
import pytest

from cramcog.dynamics import fit_consolidation_curve
from cramcog.dynamics.data import as_curves

T = np.array([1.0, 2, 4, 8, 16, 32])
P = np.array([0.82, 0.66, 0.58, 0.46, 0.40, 0.34])


# --- item 8: y_kind="auto" without n checks y ---------------------------------------------

def test_auto_without_n_refuses_a_mistyped_proportion():
    # used to fit gamma 0.55 without a word
    y = [1.5, .66, .58, .46, .40, .34]
    with pytest.raises(ValueError, match=r"1\.5 \(point 0, t=1\).*y_kind="):
        fit_consolidation_curve(T, y, family="power", ci="none")


def test_auto_without_n_refuses_fractional_percent_like_values_with_a_percent_hint():
    with pytest.raises(ValueError, match=r"82\.5 \(point 0, t=1\).*y_kind='percent'"):
        as_curves(T, [82.5, 66, 58, 46, 40, 34])


def test_auto_without_n_refuses_values_that_are_neither_proportions_nor_percents():
    with pytest.raises(ValueError, match=r"-0\.2 \(point 5, t=32\).*y_kind='value'"):
        as_curves(T, [0.8, 0.6, 0.4, 0.2, 0.0, -0.2])
    with pytest.raises(ValueError, match=r"350\.5 \(point 0, t=1\).*y_kind='value'"):
        as_curves(T, [350.5, 300, 280, 260, 250, 240])


def test_auto_without_n_still_fits_proportions_silently_and_explicit_kinds_as_before():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        as_curves(T, P)
        assert as_curves(T, [350.5, 300, 280, 260, 250, 240], y_kind="value").y_kind == "value"
        assert as_curves(T, 100 * P, y_kind="percent").y_kind == "percent"


# --- item 11: types -------------------------------------------------------------------------

def test_timedelta_delays_are_seconds_and_say_so():
    import pandas as pd
    days = pd.to_timedelta(T, unit="D")
    c = as_curves(days, P)
    np.testing.assert_allclose(c.t[0], T * 86400.0)          # was nanoseconds
    assert c.time_attrs["units"] == "s"
    xr = pytest.importorskip("xarray")
    c = as_curves(None, xr.DataArray(P, dims="t", coords={"t": days.to_numpy()}))
    np.testing.assert_allclose(c.t[0], T * 86400.0)
    assert c.time_attrs["units"] == "s"


def test_datetimes_are_refused():
    import pandas as pd
    with pytest.raises(TypeError, match=r"t holds dates.*time since learning"):
        fit_consolidation_curve(pd.date_range("2020-01-01", periods=6), P, ci="none")


def test_series_are_aligned_by_index_or_refused():
    import pandas as pd
    t = pd.Series(T, index=list("abcdef"))
    y = pd.Series(P, index=list("abcdef"))[::-1]               # same labels, other order
    c = as_curves(t, y)
    np.testing.assert_allclose(c.y[0], P)                      # was fitted reversed
    with pytest.raises(ValueError, match=r"index.*differ"):
        as_curves(t, pd.Series(P, index=list("abcdeg")))


def test_boolean_trials_are_refused():
    with pytest.raises(TypeError, match=r"n is boolean"):
        as_curves(T, P, n=True)


def test_every_parameter_fixed_reports_the_fixed_fit():
    fit = fit_consolidation_curve(T, P, family="power", fixed={"a": 0.8, "gamma": 0.3})
    assert fit.params == {"a": 0.8, "gamma": 0.3}
    assert fit.ci["gamma"] == (0.3, 0.3)


def test_zero_length_input_and_negative_seed_are_clear():
    with pytest.raises(ValueError, match=r"no points"):
        fit_consolidation_curve([], [], family="power")
    with pytest.raises(ValueError, match=r"seed must be an integer >= 0; got -1"):
        fit_consolidation_curve(T, P, family="power", seed=-1)
