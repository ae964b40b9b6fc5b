"""Many subjects: per-subject fits, the random-effects group estimate, tables, records."""
import doctest
import warnings

import numpy as np
import pandas as pd
import pytest

import cramcog.dynamics.group as group_module
from cramcog import records
from cramcog.dynamics import fit_consolidation_curve
from cramcog.dynamics.group import GroupFit, GroupFitSet, random_effects

T = np.array([1, 2, 4, 8, 16, 32, 64, 128.0])


def simulate(n_subjects, gamma=0.35, sd=0.1, trials=60, a=0.8, seed=0, t=T):
    """Binomial power-law subjects: gamma_i ~ N(gamma, sd), a_i ~ a * LogNormal(0, 0.05)."""
    rng = np.random.default_rng(seed)
    g = rng.normal(gamma, sd, n_subjects)
    a_i = a * np.exp(rng.normal(0, 0.05, n_subjects))
    k = rng.binomial(trials, np.clip(a_i[:, None] * t[None, :] ** -g[:, None], 0, 1))
    df = pd.DataFrame([(f"s{s:02d}", tt, k[s, i], trials) for s in range(n_subjects)
                       for i, tt in enumerate(t)], columns=["subject", "day", "recalled", "n"])
    return df, g


def fit(df, **kwargs):
    kwargs.setdefault("ci", "wald")
    return fit_consolidation_curve("day", "recalled", "n", data=df, by="subject",
                                   y_kind="successes", **kwargs)


def test_docstring_examples():
    result = doctest.testmod(group_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_recovers_known_group_gamma_and_between_subject_sd():
    df, true_g = simulate(40, gamma=0.35, sd=0.1, seed=3)
    group = fit(df, family="power")
    assert isinstance(group, GroupFit) and group.n_subjects == 40
    gamma, (lo, hi) = group.params["gamma"], group.ci["gamma"]
    assert abs(gamma - 0.35) < 0.04 and lo < 0.35 < hi
    assert abs(gamma - true_g.mean()) < 0.02
    sd, (sd_lo, sd_hi) = group.sd["gamma"], group.sd_ci["gamma"]
    assert 0.07 < sd < 0.13 and sd_lo < 0.1 < sd_hi
    # the plain SD of the per-subject estimates includes their noise: larger than the REML SD
    row = group.group_table().set_index("parameter").loc["gamma"]
    assert row["raw_sd"] > sd
    # a is combined on the log scale: the group a is the median subject's, near 0.8
    assert group.scale == {"a": "log", "gamma": "linear"}
    assert abs(group.params["a"] - 0.8) < 0.05


def test_no_between_subject_spread_gives_sd_near_zero():
    df, _ = simulate(30, gamma=0.4, sd=0.0, seed=5)
    group = fit(df, family="power")
    assert group.sd["gamma"] < 0.03 and group.sd_ci["gamma"][0] == 0.0
    assert group.ci["gamma"][0] < 0.4 < group.ci["gamma"][1]


def test_random_effects_intervals_are_calibrated():
    """HKSJ interval of mu and Q-profile interval of tau cover at ~95% (heteroscedastic SEs)."""
    rng = np.random.default_rng(0)
    reps, s, mu, tau = 400, 12, 0.3, 0.15
    hit_mu = hit_tau = 0
    for _ in range(reps):
        se = rng.uniform(0.05, 0.25, s)
        est = mu + rng.normal(0, tau, s) + rng.normal(0, se)
        re = random_effects(est, se)
        hit_mu += re.mu_low < mu < re.mu_high
        hit_tau += re.tau_low <= tau <= re.tau_high
    assert 0.92 <= hit_mu / reps <= 0.99
    assert 0.91 <= hit_tau / reps <= 0.99


def test_random_effects_edge_cases():
    re = random_effects([0.3], [0.1])
    assert re.n_used == 1 and np.isnan(re.mu)
    re = random_effects([0.3, 0.5, np.nan, 0.4], [0.1, 0.1, 0.1, np.inf])
    assert re.n_used == 2 and np.isnan(re.shrunk[2]) and np.isnan(re.shrunk[3])
    # shrinkage pulls noisy subjects toward the mean more than precise ones
    re = random_effects([0.1, 0.5, 0.3, 0.35, 0.25], [0.3, 0.3, 0.02, 0.02, 0.02])
    assert abs(re.shrunk[0] - re.mu) < abs(0.1 - re.mu)
    assert abs(re.shrunk[2] - 0.3) < abs(re.shrunk[0] - 0.1)


def test_reference_standard_errors_remove_the_weighting_bias():
    """Own Wald SEs correlate with the estimate (binomial) and bias the weighted mean down;
    the group estimate evaluates SEs at the group value instead."""
    df, true_g = simulate(600, gamma=0.35, sd=0.05, trials=15, seed=11)
    group = group_module.fit_group("day", "recalled", "n", data=df, by="subject",
                                   y_kind="successes", ci="wald", pooled=False)
    ok = group._fits.conv & ~group._fits.edge      # edge maxima are left out (see group.py)
    target = true_g[ok].mean()
    assert abs(group.params["gamma"] - target) < 0.006
    # one design for all: equal reference SEs, so the group value is the plain mean
    assert group.params["gamma"] == pytest.approx(group._fits.est[ok, 1].mean(), abs=1e-6)
    est, se = group._internal()
    naive = random_effects(est[ok, 1], se[ok, 1]).mu        # own-SE weights: biased
    assert target - naive > 0.006


def test_averaging_artefact_is_measured():
    """Exponential subjects with different rates: the pooled curve prefers a power-like family,
    the per-subject fits prefer the exponential."""
    rng = np.random.default_rng(2)
    t = np.geomspace(1, 64, 8)
    rates = np.exp(rng.normal(np.log(0.08), 0.9, 30))
    k = rng.binomial(100, 0.9 * np.exp(-rates[:, None] * t[None, :]))
    df = pd.DataFrame([(s, tt, k[s, i], 100) for s in range(30) for i, tt in enumerate(t)],
                      columns=["subject", "day", "recalled", "n"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")              # shifted_power fails on exponential subjects
        fits = fit(df, family=["exponential", "power", "shifted_power", "hyperbolic"])
    assert isinstance(fits, GroupFitSet) and fits.best.family == "exponential"
    cmp = fits.compare(gamma_family="power").set_index(["approach", "family"])
    assert cmp.loc[("per-subject", "exponential"), "delta_aicc"] == 0
    assert cmp.loc[("per-subject", "exponential"), "share_best"] > 0.7
    # the averaged curve: a mixture of exponentials is a shifted power law, not an exponential
    assert cmp.loc[("pooled", "shifted_power"), "delta_aicc"] == 0
    assert cmp.loc[("pooled", "exponential"), "delta_aicc"] > 10
    assert cmp.loc[("pooled", "exponential"), "n_ranked"] == 30
    assert np.isfinite(cmp.loc[("group", "power"), "gamma"])


def test_input_forms_agree():
    df, _ = simulate(6, seed=1)
    a = fit(df, family="power")
    # xarray (subject, day) with the subject dim named by by=
    ds = df.set_index(["subject", "day"]).to_xarray()
    b = fit_consolidation_curve(None, ds["recalled"], ds["n"], by="subject", dim="day",
                                y_kind="successes", ci="wald", family="power")
    # plain long arrays with the subject label of each row
    c = fit_consolidation_curve(df["day"].to_numpy(), df["recalled"].to_numpy(),
                                df["n"].to_numpy(), by=df["subject"].to_numpy(),
                                y_kind="successes", ci="wald", family="power")
    for other in (b, c):
        assert other.params["gamma"] == pytest.approx(a.params["gamma"], rel=1e-9)
        assert other.sd["gamma"] == pytest.approx(a.sd["gamma"], rel=1e-6, abs=1e-9)
    assert b._long.time_name == "day" and c.subject == "subject"


def test_ragged_subjects_missing_cells_and_exclusions():
    df, _ = simulate(8, seed=4)
    df = df.drop(index=[3, 17]).reset_index(drop=True)          # two subjects miss one delay
    constant = pd.DataFrame({"subject": "flat", "day": T, "recalled": 30, "n": 60})
    short = pd.DataFrame({"subject": "short", "day": [1, 2.0], "recalled": [40, 30], "n": 60})
    df = pd.concat([df, constant, short], ignore_index=True)
    group = fit(df, family="power")
    assert group.n_subjects == 8
    reasons = dict(zip(group.excluded["subject"], group.excluded["reason"]))
    assert "constant" in reasons["flat"] and "fewer than 3" in reasons["short"]
    table = group.table().set_index("subject")
    assert table.loc["s00", "n_points"] == 7 and table.loc["s01", "n_points"] == 8
    assert np.isnan(table.loc["flat", "gamma"])


def test_conditions_get_their_own_group_estimate():
    rows = []
    for cond, gamma in (("easy", 0.25), ("hard", 0.55)):
        df, _ = simulate(15, gamma=gamma, sd=0.05, seed=7 if cond == "easy" else 8)
        rows.append(df.assign(condition=cond))
    df = pd.concat(rows, ignore_index=True)
    group = fit_consolidation_curve("day", "recalled", "n", data=df,
                                    by=["condition", "subject"], y_kind="successes",
                                    ci="wald", family="power")
    assert group.groups["condition"].tolist() == ["easy", "hard"]
    g_easy, g_hard = group.params["gamma"]
    assert abs(g_easy - 0.25) < 0.05 and abs(g_hard - 0.55) < 0.05
    assert group.subject_fit("s03", condition="hard").params["gamma"] > 0.3
    with pytest.raises(ValueError, match="name the condition"):
        group.subject_fit("s03")


def test_pooled_values_stay_with_their_condition_when_a_first_curve_is_excluded():
    """The pooled curves follow the first FITTED curve of each condition: with s0/A excluded,
    B's pooled curve comes first; compare() and the record must still put A's on A."""
    rng = np.random.default_rng(0)
    t = np.array([1, 2, 4, 8, 16, 32.0])
    rows = []
    for s in range(8):
        for cond, g in (("A", 0.2), ("B", 0.8)):
            tt = t[:2] if (s == 0 and cond == "A") else t     # s0/A: too few delays
            rows += [(s, cond, x, rng.binomial(60, 0.9 * x ** -g), 60) for x in tt]
    df = pd.DataFrame(rows, columns=["subject", "cond", "day", "k", "n"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gs = fit_consolidation_curve("day", "k", "n", data=df, by=["cond", "subject"],
                                     y_kind="successes", family=["power", "exponential"],
                                     ci="wald")
    g = gs["power"]
    want = {c: g.pooled_fit(cond=c).params["gamma"] for c in ("A", "B")}
    assert want["A"] < 0.5 < want["B"]
    cmp = gs.compare("power")
    pooled = cmp[(cmp.approach == "pooled") & (cmp.family == "power")].set_index("cond")
    assert pooled.loc["A", "gamma"] == pytest.approx(want["A"])
    assert pooled.loc["B", "gamma"] == pytest.approx(want["B"])
    ds = gs.to_xarray()
    got = ds["pooled_estimate"].sel(family="power", parameter="gamma").values
    assert list(ds["group_cond"].values) == ["A", "B"]
    np.testing.assert_allclose(got, [want["A"], want["B"]])


def test_subject_fit_matches_a_fit_of_that_subject_alone():
    df, _ = simulate(5, seed=9)
    group = fit(df, family="power", ci="profile")
    one = df[df["subject"] == "s02"]
    alone = fit_consolidation_curve(one["day"].to_numpy(), one["recalled"].to_numpy(),
                                    one["n"].to_numpy(), y_kind="successes", family="power")
    sub = group.subject_fit("s02")
    assert sub.params["gamma"] == pytest.approx(alone.params["gamma"], rel=1e-6)
    assert sub.ci["gamma"][1] == pytest.approx(alone.ci["gamma"][1], rel=1e-4)


def test_tidy_table_is_one_csv_for_all_subjects(tmp_path):
    df, _ = simulate(5, seed=2)
    fits = fit(df, family=["power", "exponential"])
    table = fits.table()
    assert len(table) == 5 * 2
    path = tmp_path / "subjects.csv"
    table.to_csv(path, index=False)
    back = pd.read_csv(path)
    for col in ("subject", "family", "aicc", "delta_aicc", "akaike_weight", "gamma",
                "gamma_low", "gamma_high", "gamma_shrunk", "b", "converged"):
        assert col in back
    weights = back.groupby("subject")["akaike_weight"].sum()
    assert np.allclose(weights, 1.0)
    assert (back.groupby("subject")["delta_aicc"].min() == 0).all()
    assert back.loc[back["family"] == "exponential", "gamma"].isna().all()
    assert set(fits.group_table()["family"]) == {"power", "exponential"}


def test_record_round_trip(tmp_path):
    df, _ = simulate(4, seed=6)
    fits = fit(df, family=["power", "exponential"])
    ds = fits.to_xarray()
    path = tmp_path / "group.nc"
    records.save(ds, path)
    back = records.open(path)
    assert back.cram.kind == "fit"
    assert back["estimate"].dims == ("family", "parameter", "curve")
    assert back["group_estimate"].sel(family="power", parameter="gamma").item() == \
        pytest.approx(fits["power"].params["gamma"])
    assert back["curve_subject"].values.tolist() == ["s00", "s01", "s02", "s03"]
    assert back["data_t"].attrs["long_name"] == "day"


def test_percentages_read_once_in_group_fits():
    df, _ = simulate(5, seed=12)
    pct = df.assign(recalled=100 * df["recalled"] / df["n"])
    a = fit(df, family="power")
    b = fit_consolidation_curve("day", "recalled", "n", data=pct, by="subject",
                                y_kind="percent", ci="wald", family="power")
    assert b.params["gamma"] == pytest.approx(a.params["gamma"], rel=1e-9)
    assert b.params["a"] == pytest.approx(a.params["a"], rel=1e-9)


def test_clear_errors():
    df, _ = simulate(3, seed=0)
    with pytest.raises(ValueError, match="not found in data.*columns"):
        fit_consolidation_curve("day", "recalled", "n", data=df, by="participant",
                                y_kind="successes")
    with pytest.raises(ValueError, match="plain array"):
        fit_consolidation_curve(df["day"], df["recalled"], df["n"], by="subject")
    with pytest.raises(ValueError, match="at least 2 fitted subjects"):
        fit(df[df["subject"] == "s00"], family="power")
    ds = df.set_index(["subject", "day"]).to_xarray()
    with pytest.raises(ValueError, match="no dim"):
        fit_consolidation_curve(None, ds["recalled"], ds["n"], by="person", dim="day")


def test_all_families_leave_out_only_the_subjects_that_cannot_support_them():
    df, _ = simulate(6, seed=1)
    short, _ = simulate(3, seed=2, t=T[[0, 3, 6]])             # 3 delays: too few for 4 params
    df = pd.concat([df, short.assign(subject=short["subject"] + "_short")], ignore_index=True)
    with pytest.warns(UserWarning, match="left out.*shifted_power\\+c"):
        fits = fit(df, family="all")
    assert "shifted_power+c" in fits                 # fitted on the subjects with 8 delays
    table = fits.table().set_index(["subject", "family"])
    assert table.loc[("s00_short", "shifted_power+c"), "message"].startswith("not fitted")
    assert not table.loc[("s00_short", "shifted_power+c"), "converged"]
    assert fits["shifted_power+c"].n_subjects <= 6


def test_fit_options_pass_through_chance_criterion_and_clear_missing_gamma():
    rng = np.random.default_rng(8)
    rows = [(s, tt, rng.binomial(40, 0.25 + 0.6 * tt ** -g), 40)
            for s, g in enumerate(rng.normal(0.5, 0.1, 8)) for tt in T]
    df = pd.DataFrame(rows, columns=["subject", "day", "recalled", "n"])
    group = fit(df, family="power", chance=0.25)               # 4-choice recognition floor
    assert group.family == "power+c"
    assert group.params["c"] == pytest.approx(0.25) and group.sd["c"] == 0.0
    assert abs(group.params["gamma"] - 0.5) < 0.15
    # same design for everyone: SEs at the group values are equal, so the weights are too
    table = group.table()
    assert group.params["gamma"] == pytest.approx(table.loc[table["converged"], "gamma"].mean(),
                                                  abs=1e-6)
    fits = fit(df, family=["power", "exponential"], criterion="bic")
    assert fits.criterion == "bic"
    assert {"bic", "delta_bic"} <= set(fits.table().columns)
    assert "summed_bic" in fits.ranking().columns
    assert fits.report().startswith("families ranked by BIC summed over subjects")
    ds = fits.to_xarray()
    assert ds.attrs["criterion"] == "bic" and "aicc" not in ds and "pooled_aicc" not in ds
    assert "(bic)" in ds["ic"].attrs["long_name"] and "(bic)" in ds["pooled_ic"].attrs["long_name"]
    s0 = fits["power"].subject_fit(0)
    assert ds["ic"].sel(family="power").values[0] == pytest.approx(s0.bic)
    assert s0.bic != pytest.approx(s0.aicc)
    with pytest.raises(KeyError, match="has no parameter 'gamma'"):
        fits["exponential"].params["gamma"]
    assert fits["exponential"].params.get("gamma") is None


def test_every_dropped_row_is_listed_and_mixed_conditions_are_named():
    df, _ = simulate(6, seed=5)
    df = df.astype({"subject": object})
    df.loc[4, "subject"] = None                      # a row without its subject label
    df.loc[9, "recalled"] = np.nan                   # a row without its y
    with pytest.warns(UserWarning, match="listed in .excluded"):
        group = fit(df, family="power")
    rows = group.excluded.dropna(subset=["row"]).set_index("row").reason
    assert rows.loc[4] == "no subject label" and rows.loc[9] == "missing t, y or n"
    assert "(row 4)" in group.report() or "(row 9)" in group.report()
    # one subject id in two groups, delays not colliding: named, not silently pooled
    a, _ = simulate(4, seed=6)
    b = a.assign(day=a.day + 0.5, group="late")
    mixed = pd.concat([a.assign(group="early"), b], ignore_index=True)
    with pytest.warns(UserWarning, match=r"column 'group' takes 2 values within one curve"):
        fit(mixed, family="power")
