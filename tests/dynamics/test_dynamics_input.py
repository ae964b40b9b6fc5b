"""Input you can trust: y is read as proportions, successes, percentages or values in ONE place
(``convert_y``), only as the user says, and anything ambiguous fails or warns naming the values."""
import warnings

import numpy as np
import pytest

from cramcog.dynamics import fit_consolidation_curve
from cramcog.dynamics.data import Y_KINDS, as_curves, convert_y

T = np.array([1.0, 2, 4, 8, 16, 32])
P = 0.8 * T ** -0.3                     # true proportions, a = 0.8


def test_percentages_with_trial_counts_are_read_only_when_asked_and_recover_a():
    # The case: percentages (0-100) with trial counts used to be read as successes
    # (a = 0.986 with n = 80, 0.41 with n = 200). Asked for as percentages, a is recovered.
    pct = np.round(100 * P, 1)                               # 80.0, 65.0, 52.8, ...
    assert not np.allclose(pct, np.round(pct))
    for n in (80, 200):
        with pytest.raises(ValueError, match=r"some are fractional: 52\.8 \(point 2, t=4\).*"
                                             r"y_kind='percent'"):
            fit_consolidation_curve(T, pct, n=n, ci="none")
        fit = fit_consolidation_curve(T, pct, n=n, y_kind="percent", ci="none")
        assert fit.curves.y_kind == "percent" and fit.likelihood == "binomial"
        assert fit.params["a"] == pytest.approx(0.8, abs=0.01)
        np.testing.assert_allclose(fit.y, pct / 100)


def test_whole_percentages_in_auto_mode_warn_that_they_were_read_as_counts():
    pct = np.round(100 * P)                                  # 80, 65, 53, ... all whole
    with pytest.warns(UserWarning, match=r"read as counts of successes .*y_kind='percent'"):
        c = as_curves(T, pct, n=200)
    assert c.y_kind == "successes"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert as_curves(T, pct, n=200, y_kind="successes").y_kind == "successes"
    with pytest.raises(ValueError, match=r"exceed n: 80 \(point 0, t=1\).*y_kind='percent'"):
        as_curves(T, pct, n=20)


def test_one_mistyped_proportion_is_an_error_naming_it():
    # 1.5 among proportions used to switch auto mode to counts (a = 0.013, converged=True).
    y = P.copy()
    y[2] = 1.5
    with pytest.raises(ValueError, match=r"values above 1 \(1\.5 \(point 2, t=4\)\) with "
                                         r"fractional values \(0\.8 \(point 0, t=1\)"):
        fit_consolidation_curve(T, y, n=40)
    with pytest.raises(ValueError, match=r"proportions must lie in \[0, 1\]; got 1\.5 \(point "
                                         r"2, t=4\)\. A typo\?"):
        fit_consolidation_curve(T, y, n=40, y_kind="proportion")


def test_fractional_successes_and_counts_without_n():
    k = np.array([32.0, 26.5, 21, 17, 14, 11])
    with pytest.raises(ValueError, match=r"some are fractional: 26\.5 \(point 1, t=2\)"):
        fit_consolidation_curve(T, k, n=40)
    with pytest.raises(ValueError, match=r"whole numbers >= 0; got 26\.5 \(point 1, t=2\)"):
        fit_consolidation_curve(T, k, n=40, y_kind="successes")
    with pytest.raises(ValueError, match="needs n"):
        fit_consolidation_curve(T, np.round(k), y_kind="successes")
    with pytest.warns(UserWarning, match="n \\(trials per point\\) was not given"):
        fit = fit_consolidation_curve(T, np.round(k), ci="none")
    assert fit.likelihood == "least_squares"
    with warnings.catch_warnings():   # said to be a measurement: no warning
        warnings.simplefilter("error")
        fit_consolidation_curve(T, np.round(k), ci="none", y_kind="value")
    with pytest.raises(ValueError, match="y_kind='value' means a measurement"):
        fit_consolidation_curve(T, np.round(k), n=40, y_kind="value")


def test_successes_proportions_and_percentages_give_one_fit():
    n = 60
    k = np.round(P * n)
    fits = [fit_consolidation_curve(T, y, n=n, y_kind=kind, ci="none")
            for y, kind in ((k, "successes"), (k / n, "proportion"), (100 * k / n, "percent"))]
    for f in fits[1:]:
        assert f.params["gamma"] == pytest.approx(fits[0].params["gamma"], rel=1e-10)
    # without n, percentages become proportions fitted by least squares
    ls = fit_consolidation_curve(T, 100 * P, y_kind="percent", ci="none")
    assert ls.params["a"] == pytest.approx(0.8, rel=1e-6) and ls.likelihood == "least_squares"


def test_other_ambiguous_inputs_warn_or_fail():
    with pytest.warns(UserWarning, match="only 0s and 1s with n > 1"):
        as_curves(T, [1, 1, 0, 1, 0, 0], n=10)
    with pytest.warns(UserWarning, match="look like proportions"):
        as_curves(T, P, n=10, y_kind="percent")
    with pytest.raises(ValueError, match=r"percentages must lie in \[0, 100\]; got 120"):
        as_curves(T, [120, 80, 60, 50, 40, 30], y_kind="percent")
    with pytest.raises(ValueError, match=r"n must be whole numbers .* got 20\.5 \(point 1"):
        as_curves(T, P, n=[20, 20.5, 20, 20, 20, 20])
    with pytest.raises(ValueError, match="y_kind="):
        convert_y(P, y_kind="counts")
    assert Y_KINDS == ("auto", "proportion", "successes", "percent", "value", "rt")


def test_messages_name_the_curve_in_a_batch_and_say_how_many_more():
    y = np.tile(P, (3, 1))
    y[2, :] = 2.5
    with pytest.raises(ValueError, match=r"2\.5 \(curve 2, point 0, t=1\).* and 1 more"):
        convert_y(y, n=10, y_kind="proportion", t=T)


def test_repeated_times_warn_that_rows_are_pooled_unless_a_cluster_is_given():
    t = np.repeat(T, 3)
    y = np.repeat(P, 3) + np.tile([-0.02, 0.0, 0.02], T.size)
    with pytest.warns(UserWarning, match=r"t repeats values \(t=1 x3.*cluster="):
        as_curves(t, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = as_curves(t, y, cluster=np.tile(["s1", "s2", "s3"], T.size))
    assert c.cluster.shape == (18,)
    with pytest.raises(ValueError, match="one label per point"):
        as_curves(t, y, cluster=["s1", "s2"])
    with pytest.raises(ValueError, match="at least 2 clusters"):
        as_curves(t, y, cluster=np.full(18, "s1"))


def test_the_record_says_how_y_was_read():
    fit = fit_consolidation_curve(T, 100 * P, n=50, y_kind="percent", ci="none")
    ds = fit.to_xarray()
    assert ds.attrs["y_kind"] == "percent" and ds.attrs["likelihood"] == "binomial"
