"""The bundled human data sets: they load, keep their provenance, and reproduce published fits.

None of the bundled papers reports a power-law exponent for its own curve (see
published_constants: Wixted & Ebbesen's and Wixted & Carpenter's exponents were NOT OBTAINED), so
the "published fit" checks are against the forms the papers do report: Ebbinghaus's
b = 100k/((log10 t)^c + k) with k = 1.84, c = 1.25, and Rubin, Hinton & Wenzel's double
exponential with T2 = 28 items.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.stats import chi2

from cramcog import psych

CURVE_SETS = ["dooling_christiaansen_1977", "ebbinghaus_1885", "meeter_murre_janssen_2005",
              "murre_dros_2015", "rubin_hinton_wenzel_1999"]
GRIDS = ["reder_2000_remember_know_per_subject", "tenison_2016_pyramid_learning_phases",
         "zbrodoff_1995_alpha_arithmetic"]
TABLES = ["episodic_semantic_studies", "published_anchors_strategy_shift_rk",
          "published_constants", "reder_2000_remember_know_repetition_lag"]
NEW_SHARED = ["zbrodoff_1995_alpha_arithmetic", "reder_2000_remember_know_repetition_lag",
              "reder_2000_remember_know_per_subject", "tenison_2016_pyramid_learning_phases",
              "published_anchors_strategy_shift_rk"]


def test_list_names_every_bundled_data_set():
    assert psych.list() == sorted(CURVE_SETS + GRIDS + TABLES)
    assert psych.list("curve") == CURVE_SETS
    assert psych.list("grid") == GRIDS
    assert psych.list("table") == TABLES
    with pytest.raises(ValueError, match="kind must be"):
        psych.list("curves")


def test_every_data_set_has_a_paradigm_and_list_filters_by_it():
    for name in psych.list():
        meta = psych.metadata(name)
        assert meta["paradigm"] in psych.PARADIGMS + psych.TABLE_ROLES, name
        assert psych.load(name).attrs["paradigm"] == meta["paradigm"]
    assert psych.list(paradigm="forgetting") == ["ebbinghaus_1885", "meeter_murre_janssen_2005",
                                                 "murre_dros_2015", "rubin_hinton_wenzel_1999"]
    assert psych.list(paradigm="gist_detail") == ["dooling_christiaansen_1977"]
    assert psych.list(paradigm="strategy_shift") == ["tenison_2016_pyramid_learning_phases",
                                                     "zbrodoff_1995_alpha_arithmetic"]
    assert psych.list(paradigm="episodic_semantic") == sorted(
        psych.list(paradigm="strategy_shift") + psych.list(paradigm="remember_know"))
    assert psych.list(paradigm="anchors") == ["published_anchors_strategy_shift_rk"]
    assert psych.list("grid", paradigm="remember_know") == [
        "reder_2000_remember_know_per_subject"]
    assert psych.list(paradigm=["constants", "index"]) == ["episodic_semantic_studies",
                                                          "published_constants"]
    with pytest.raises(ValueError, match="unknown paradigm 'semantic'.*episodic_semantic"):
        psych.list(paradigm="semantic")


@pytest.mark.parametrize("name", NEW_SHARED)
def test_new_shared_files_are_bundled_verbatim_with_every_provenance_line(name):
    from pathlib import Path

    from cramcog.psych import _data_dir

    shared = Path("/work/shared/psych_data") / f"{name}.csv"
    bundled = (_data_dir() / f"{name}.csv").read_text(encoding="utf-8")
    lines = [line[1:].strip() for line in bundled.splitlines() if line.startswith("#")]
    meta = psych.metadata(name)
    assert meta["header"] == lines and len(lines) >= 4  # every '#' line kept, in order
    assert meta["citation"] and meta["source_read"] and meta["reliability"]
    assert meta["reliability_per_value"]  # how far to trust each kind of value
    if shared.exists():  # the shared folder is there on development machines, not in CI
        assert bundled == shared.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", CURVE_SETS + GRIDS + TABLES)
def test_each_data_set_loads_with_its_provenance(name):
    ds = psych.load(name)
    assert isinstance(ds, xr.Dataset)
    meta = psych.metadata(name)
    for key in ("citation", "source_read", "reliability", "how_obtained"):
        assert ds.attrs[key] and ds.attrs[key] == str(meta[key])
    # every original '#' provenance line of the shared source file survives in the metadata
    assert meta["header"] and all(isinstance(line, str) for line in meta["header"])
    if name in CURVE_SETS:
        assert "delay" in ds.dims and "y" in ds and "x" in ds.coords
        assert ds.x.attrs["units"] and ds.delay.attrs["units"]
        finite = ds.y.values[np.isfinite(ds.y.values)]
        assert finite.size and (finite >= 0).all() and (finite <= 1).all()  # proportions
    elif name in GRIDS:
        assert list(ds.dims) == meta["dims"]
        assert int(np.prod(list(ds.sizes.values()))) == len(psych.table(name))  # a full grid
    else:
        assert ds.sizes["entry"] == len(psych.table(name))


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(ValueError, match="ebbinghaus_1885.*load_csv"):
        psych.load("ebinghaus")
    with pytest.raises(TypeError):
        psych.load(3)


def test_values_are_the_transcribed_ones():
    ebb = psych.load("ebbinghaus_1885")
    np.testing.assert_allclose(ebb.y.values, [.582, .442, .358, .337, .278, .254, .211])
    np.testing.assert_allclose(ebb.x.values, [0.33, 1, 8.8, 24, 48, 144, 744])
    md = psych.load("murre_dros_2015")
    assert float(md.y.sel(series="Dros", delay=31.0)) == pytest.approx(0.041)
    mack = md.y.sel(series="Mack").sel(delay=1 / 72, method="nearest")
    assert float(mack) == pytest.approx(0.544)
    mmj = psych.load("meeter_murre_janssen_2005")
    assert int(mmj.n.sum()) == 242695  # all trials of Experiment 1
    assert mmj.x.dims == ("question_type", "delay")  # mean question age differs by type
    np.testing.assert_allclose((mmj.n_correct / mmj.n).values, mmj.y.values, atol=5e-5)
    rhw = psych.load("rubin_hinton_wenzel_1999")
    assert float(rhw.y.sel(condition="random", delay=99)) == pytest.approx(0.099)
    assert float(rhw.latency_error.sel(condition="matched", delay=0)) == 2345
    dc = psych.load("dooling_christiaansen_1977")
    assert float(dc.y.sel(foil_condition="Famous", thematic_level="high", delay=7)) == \
        pytest.approx(0.4003)


def test_curves_are_the_fittable_series():
    labels = [c.label for c in psych.all_curves("forgetting")]
    assert labels == [
        "ebbinghaus_1885", "meeter_murre_janssen_2005/4AFC", "meeter_murre_janssen_2005/open",
        "murre_dros_2015/Mack", "murre_dros_2015/Seitz", "murre_dros_2015/Dros",
        "rubin_hinton_wenzel_1999/matched", "rubin_hinton_wenzel_1999/white",
        "rubin_hinton_wenzel_1999/random"]
    # flagged rows only on request: the conflicting Ebbinghaus transcription, the derived mean
    assert "murre_dros_2015/Ebbinghaus_as_in_MD_Table3" in [
        c.label for c in psych.curves("murre_dros_2015", include_unreliable=True)]
    assert "rubin_hinton_wenzel_1999/all_3" in [
        c.label for c in psych.curves("rubin_hinton_wenzel_1999", include_derived=True)]
    assert psych.curves("dooling_christiaansen_1977") == []  # two delays: no exponent
    assert psych.curves("published_constants") == []
    label, t, y, n = psych.curves("meeter_murre_janssen_2005")[1]
    assert label.endswith("open") and np.all(np.diff(t) > 0) and n is not None
    assert psych.curves("ebbinghaus_1885")[0].n is None
    rubin = psych.curves("rubin_hinton_wenzel_1999")[0]
    assert rubin.t[0] == 0 and rubin.positive().t[0] == 1 and rubin.t_units == "items"


def test_ebbinghaus_formula_reproduces_his_calculated_column():
    # His constants k=1.84, c=1.25 give the column he printed (p.78) to within its 0.1 rounding.
    pub = psych.published_fit("ebbinghaus_1885")
    df = psych.table("ebbinghaus_1885")
    assert pub.params == {"k": 1.84, "c": 1.25}
    pred = pub.predict(df["formula_t_minutes"])
    assert np.max(np.abs(pred - df["ebbinghaus_fit_pct"])) < 0.1
    # and the published constants agree with the published_constants table
    const = psych.table("published_constants")
    ebb = const[const.model_or_study == "Ebbinghaus 1885"].set_index("parameter")["value"]
    assert float(ebb["k"]) == 1.84 and float(ebb["c"]) == 1.25


def test_refitting_ebbinghaus_form_recovers_his_constants():
    # Ebbinghaus chose k, c by hand. Tolerance: his (k, c) must lie inside the 95% joint
    # confidence region of the weighted least-squares refit (SE = probable error / 0.6745), i.e.
    # raise chi^2 by less than chi2(2).ppf(0.95) = 5.99, and inside each 95% Wald interval.
    out = psych.refit_published("ebbinghaus_1885")
    assert out["chi2_published"] - out["chi2"] < chi2.ppf(0.95, 2)
    for key, value in {"k": 1.84, "c": 1.25}.items():
        low, high = out["ci"][key]
        assert low < value < high
        assert out["params"][key] == pytest.approx(value, abs=0.05)


@pytest.mark.parametrize("condition", ["matched", "white", "random", "all_3"])
def test_refitting_rubin_double_exponential_recovers_t2_28(condition):
    # The abstract reports T2 = 28 items for the recall conditions (tau1 fixed at 1.15). Fixing
    # T2 = 28 must cost less than chi2(1).ppf(0.95) = 3.84 (a likelihood-ratio test on the
    # transcription's standard errors), and the free estimate must be within 15% of 28.
    out = psych.refit_published("rubin_hinton_wenzel_1999", condition)
    assert out["chi2_published"] - out["chi2"] < chi2.ppf(0.95, 1)
    assert out["params"]["T2"] == pytest.approx(28.0, rel=0.15)
    low, high = out["ci"]["T2"]
    assert low < 28.0 < high


def test_published_fit_is_none_where_no_paper_reports_one():
    assert psych.published_fit("meeter_murre_janssen_2005") is None
    with pytest.raises(ValueError, match="no published fit"):
        psych.refit_published("murre_dros_2015")
    assert json.loads(psych.load("murre_dros_2015").attrs["published_fit_json"]) is None


def test_load_csv_reads_a_user_curve_like_the_bundled_ones(tmp_path):
    path = tmp_path / "mine.csv"
    pd.DataFrame({"subject": ["a"] * 3 + ["b"] * 3, "days": [1, 2, 4] * 2,
                  "correct": [16, 14, 12, 18, 15, 11], "trials": [20] * 6}).to_csv(path,
                                                                                 index=False)
    ds = psych.load_csv(path, t="days", y="correct", n="trials", series="subject",
                        t_units="days")
    assert dict(ds.sizes) == {"subject": 2, "delay": 3}
    np.testing.assert_allclose(ds.y.sel(subject="a").values, [0.8, 0.7, 0.6])
    label, t, y, n = psych.curves(ds)[1]
    assert label == "mine/b" and n.tolist() == [20, 20, 20]


def test_load_csv_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="no CSV file"):
        psych.load_csv(tmp_path / "nope.csv")
    path = tmp_path / "c.csv"
    path.write_text("delay,recall\n1,0.5\n2,0.4\n")
    missing = r"'t' \(--t\), 'y' \(--y\) not found.*\['delay', 'recall'\]"
    with pytest.raises(ValueError, match=missing):
        psych.load_csv(path)
    path.write_text("t,y\n1,high\n2,low\n")
    with pytest.raises(ValueError, match="'y' must be numeric"):
        psych.load_csv(path)
    path.write_text("t,y\n1,0.5\n1,0.4\n")
    with pytest.raises(ValueError, match="duplicate"):
        psych.load_csv(path)
    with pytest.raises(TypeError):
        psych.curves(42)


# ----------------------------------------------------------------------------- episodic-semantic

def test_new_data_sets_hold_the_transcribed_values():
    zb = psych.load("zbrodoff_1995_alpha_arithmetic")
    assert float(zb.mean_correct_rt_s.sel(condition="standard", block=1, addend=4)) == 3.55
    assert zb.mean_correct_rt_s.attrs["units"] == "s"
    assert float(zb.block_addend_slope_s_per_letter.sel(condition="control", block=3,
                                                        addend=2)) == 0.015
    tn = psych.load("tenison_2016_pyramid_learning_phases")
    solve = tn.mean_duration_s.sel(cognitive_stage="solve")
    # the Solve stage collapses once the answer is retrieved (phases 2-3): 1.2-6.2 s -> < 0.11 s
    assert float(solve.sel(learning_phase="1_compute").min()) > 1.2
    assert float(solve.sel(learning_phase=["2_retrieve", "3_automatic"]).max()) < 0.11
    rk = psych.table("reder_2000_remember_know_repetition_lag")
    ps = psych.load("reder_2000_remember_know_per_subject")
    assert ps.sizes["subject"] == 22
    # the aggregate file's by-presentation rows are the column sums of the per-subject file
    agg = rk[rk.analysis == "old_by_presentation_number"].copy()
    agg["presentation_number"] = agg["presentation_number"].astype(int)
    agg = agg.set_index(["word_frequency", "presentation_number"])
    summed = ps[["n_trials", "n_remember", "n_know", "n_new"]].sum("subject").to_dataframe()
    for col in ("n_trials", "n_remember", "n_know", "n_new"):
        joined = agg[col].astype(int).sort_index()
        assert (summed[col].astype(int).sort_index() == joined).all(), col
    # and the Know share falls 0.53 -> 0.17 for high-frequency words, as the README says
    assert float(agg.loc[("high", 2), "know_share_of_old_responses"]) == pytest.approx(0.53,
                                                                                         abs=0.01)


def test_episodic_semantic_curves_are_derived_with_their_assumption_stated():
    labels = [c.label for c in psych.all_curves("episodic_semantic")]
    assert labels == ["reder_2000_remember_know_repetition_lag/repetition/high",
                      "reder_2000_remember_know_repetition_lag/repetition/low",
                      "reder_2000_remember_know_repetition_lag/lag/high",
                      "reder_2000_remember_know_repetition_lag/lag/low",
                      "zbrodoff_1995_alpha_arithmetic/counting_share"]
    for c in psych.all_curves("episodic_semantic"):
        assert c.paradigm in ("strategy_shift", "remember_know")
        assert c.analog == "episodic" and c.assumption and c.averaging_note
        assert (c.y >= 0).all() and (c.y <= 1).all() and np.all(np.diff(c.t) >= 0)
    rep = psych.curves("reder_2000_remember_know_repetition_lag")[0]
    # Remember share of old responses from the counts (binomial n = R + K), x = prior showings
    assert rep.t.tolist() == list(range(1, 10)) and rep.x_kind == "exposures"
    assert rep.n[0] == 135 + 154 and rep.y[0] == pytest.approx(135 / 289)
    assert rep.y[-1] > rep.y[0] + 0.3  # repetition RAISES the recollective share
    lag = psych.curves("reder_2000_remember_know_repetition_lag")[2]
    assert lag.x_kind == "delay" and lag.y[-1] < lag.y[0] - 0.2  # delay lowers it
    zb = psych.curves("zbrodoff_1995_alpha_arithmetic")[0]
    assert zb.n is None and zb.averaging == "by_time" and "mixture" in zb.assumption
    assert (zb.x_low <= zb.t).all() and (zb.t <= zb.x_high).all()
    assert psych.curves("tenison_2016_pyramid_learning_phases") == []  # phases, not practice
    assert psych.curves("published_anchors_strategy_shift_rk") == []
    subjects = psych.curves("reder_2000_remember_know_per_subject")
    assert len(subjects) == 44 and subjects[0].label.endswith("repetition/1/high")
    assert "reder_2000_remember_know_per_subject" not in {c.source for c in psych.all_curves()}


def test_zbrodoff_counting_share_follows_the_mixture_formula():
    df = psych.zbrodoff_counting_share()
    r = 0.87
    c = {2: 2.25, 3: 2.90, 4: 3.55}  # the line through the two least-practised cells
    expected = np.clip((df.mean_correct_rt_s - r) / (df.addend.map(c) - r), 0, 1)
    np.testing.assert_allclose(df.counting_share, expected, atol=1e-9)
    # the share follows ITEM-specific practice: the most practised problems count the least
    last = df[df.block == 3].set_index(["condition", "addend"]).counting_share
    assert last[("reverse", 4)] < last[("reverse", 2)] and last[("standard", 2)] < \
        last[("standard", 4)]
    custom = psych.zbrodoff_counting_share(retrieval_rt=0.5, counting_rt=[2.5, 3.0, 3.5])
    assert custom.counting_share.min() > 0.1  # a faster retrieval RT: no cell is pure retrieval
    with pytest.raises(ValueError, match="three values"):
        psych.zbrodoff_counting_share(counting_rt=[2.0, 3.0])
    with pytest.raises(ValueError, match="must exceed"):
        psych.zbrodoff_counting_share(retrieval_rt=5.0)
