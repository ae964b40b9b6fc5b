"""Item-specific consolidation: the slope of log(switch step) on log(exposure rate) tells a switch
after the pattern's own exposures (-1) from a switch at a shared training step (0)."""
import numpy as np
import pytest

from cramcog import analysis
from cramcog.analysis.items import item_specificity, item_specificity_summary, unequal_rates

from .conftest import probe_run

P = 30
RATES = np.geomspace(0.4, 4.0, P)          # exposures per step, a 10x range as with Zipf


def _record(switch_exposures, seeds=(1, 2, 3), rates=RATES, n_eval=80):
    runs = [probe_run(switch_exposures(np.random.default_rng(s)), per_step=rates, seed=s,
                      n_eval=n_eval, every=50, warm_eval=3) for s in seeds]
    return analysis.consolidation_record(runs)


def test_a_switch_after_the_patterns_own_exposures_has_slope_minus_one():
    ds = _record(lambda rng: rng.normal(1000, 150, P))        # each at ~1000 OWN exposures
    table = item_specificity(ds)
    assert (table.n_switched == P).all()
    assert np.allclose(table.slope, -1.0, atol=0.15), table.slope.tolist()
    assert (table.rho_exposures_rate.abs() < 0.6).all()
    summary = item_specificity_summary(table)
    assert summary.slope_high[0] < -0.8


def test_a_switch_at_a_shared_step_has_slope_zero():
    # every pattern leaves at about step 1500 whatever its frequency: total practice
    ds = _record(lambda rng: RATES * rng.normal(1500, 60, P))
    table = item_specificity(ds)
    assert np.allclose(table.slope, 0.0, atol=0.1), table.slope.tolist()
    assert (table.rho_exposures_rate > 0.9).all()
    assert item_specificity_summary(table).slope_low[0] > -0.2


def test_patterns_that_never_switch_count_at_the_last_evaluation():
    switch = np.full(P, 1200.0)                               # all at 1200 of their own exposures
    full = item_specificity(_record(lambda rng: switch, seeds=(1,))).iloc[0]
    # stopped at step 2000: the rarest patterns (< 0.6 exposures per step) have not switched yet
    short = item_specificity(_record(lambda rng: switch, seeds=(1,), n_eval=40)).iloc[0]
    assert full.n_switched == P and short.n_switched == int((RATES * 2000 >= 1200).sum()) < P
    assert full.slope < short.slope < -0.5                    # a bound, pulled toward 0


def test_equal_frequencies_cannot_separate_the_hypotheses():
    ds = _record(lambda rng: rng.normal(1200, 100, P), seeds=(1,), rates=np.full(P, 1.44))
    assert not unequal_rates(ds)
    with pytest.raises(analysis.AnalysisError, match="pattern_zipf"):
        item_specificity(ds)


def test_the_figure_draws_one_panel_per_seed():
    import matplotlib
    matplotlib.use("Agg")
    from cramcog.figures import figures_for, plot_item_specificity

    ds = _record(lambda rng: rng.normal(1200, 100, P), seeds=(1, 2))
    assert unequal_rates(ds)
    fig = plot_item_specificity(ds)
    assert len(fig.axes) == 2 and "slope" in fig.axes[0].get_title()
    assert "c_items" in figures_for([ds], names=["c"])


def test_the_command_prints_and_writes_the_slopes(tmp_path, capsys):
    from cramcog import records
    from cramcog.cli import main

    paths = []
    for seed in (1, 2):
        run = probe_run(np.random.default_rng(seed).normal(1000, 150, P), per_step=RATES,
                        seed=seed, n_eval=80, every=50, warm_eval=3)
        paths.append(str(tmp_path / f"c{seed}.nc"))
        records.save(run, paths[-1])
    assert main(["consolidation", *paths, "--out", str(tmp_path / "c.nc"), "--no-fit",
                 "--csv", str(tmp_path / "c")]) == 0
    printed = capsys.readouterr().out
    assert "item specificity" in printed and "cram: slope -1" in printed
    assert "clustered by participant group (2 df" in printed
    assert "cram vs people: item-practice index: model " in printed
    assert "TOST against ±0.2: p = " in printed
    assert len((tmp_path / "c_items.csv").read_text().splitlines()) == 3


def test_the_practice_index_tells_own_exposures_from_total_practice():
    from cramcog.analysis.items import item_practice_index

    own = item_practice_index(_record(lambda rng: rng.normal(1000, 150, P)))
    shared = item_practice_index(_record(lambda rng: RATES * rng.normal(1500, 60, P)))
    assert (own["index"] > 0.8).all(), own["index"].tolist()
    assert (shared["index"].abs() < 0.2).all(), shared["index"].tolist()
    assert (own.index_low <= own["index"]).all() and (own["index"] <= own.index_high).all()


def test_the_practice_index_needs_exposures_and_practice_to_vary_apart():
    from cramcog.analysis.items import practice_glm

    t = np.arange(1.0, 41.0)
    with pytest.raises(analysis.AnalysisError, match="cannot be told apart"):
        practice_glm(np.linspace(0.9, 0.1, 40), 3 * t, t)
    with pytest.raises(analysis.AnalysisError, match="\\[0, 1\\]"):
        practice_glm(np.linspace(1.5, 0.1, 40), t ** 2, t)


def test_people_in_zbrodoff_1995_shift_mostly_with_their_own_item_practice():
    from cramcog.analysis.items import zbrodoff_practice_index

    out = zbrodoff_practice_index()
    assert out["b_item"] < 0 and out["index_low"] > 0.5      # item practice dominates
    assert out["n_points"] == 27


def test_runs_in_which_no_pattern_switched_are_reported_not_crashed(tmp_path, capsys):
    import matplotlib
    matplotlib.use("Agg")
    from cramcog import records
    from cramcog.cli import main
    from cramcog.figures import figures_for

    run = probe_run(np.full(P, np.inf), per_step=RATES, seed=1, n_eval=40, every=50,
                    warm_eval=3)
    records.save(run, tmp_path / "c1.nc")
    assert main(["consolidation", str(tmp_path / "c1.nc"), "--out", str(tmp_path / "c.nc"),
                 "--no-fit"]) == 0
    assert "item specificity" not in capsys.readouterr().out
    with pytest.warns(UserWarning, match="no item-specificity figure"):
        figs = figures_for([records.open(tmp_path / "c.nc")], names=["c"])
    assert "c_items" not in figs and "c_curves" in figs


def _people(index=(0.75,), se=0.02, df=20):
    """A human side of item_practice_equivalence: one row per derivation, the first the default."""
    import pandas as pd

    return pd.DataFrame({"choice": [f"d{i}" for i in range(len(index))],
                         "default": [i == 0 for i in range(len(index))], "index": list(index),
                         "se": se, "df": df})


def test_equivalence_is_a_tost_not_an_overlap_of_intervals():
    from cramcog.analysis.items import ITEM_PRACTICE_MARGIN, item_practice_equivalence

    assert ITEM_PRACTICE_MARGIN == 0.2
    close = item_practice_equivalence([0.72, 0.76, 0.74, 0.78, 0.73], _people())
    assert close["verdict"] == "equivalent within ±0.2" and close["tost_p"] < 0.05
    assert -0.2 < close["difference_low"] < close["difference_high"] < 0.2
    assert close["interval_level"] == pytest.approx(0.9)
    far = item_practice_equivalence([0.12, 0.16, 0.14, 0.18, 0.13], _people())
    assert far["verdict"] == "different" and far["difference_high"] < 0
    # the committed docs' case: model 0.71 [0.33, 1.10] over 5 seeds, people 0.77 [0.57, 0.98]:
    # the intervals overlap, which was read as "in the range of people"; it is no equivalence
    seeds = [1.237, 0.658, 0.526, 0.450, 0.690]
    wide = item_practice_equivalence(seeds, _people(se=0.103, df=24))
    assert wide["verdict"] == "not shown equivalent" and wide["tost_p"] > 0.05
    with pytest.raises(analysis.AnalysisError, match="at least 2"):
        item_practice_equivalence([0.7], _people())


def test_the_derivation_of_the_human_index_enters_as_an_envelope():
    from cramcog.analysis.items import item_practice_equivalence

    model = [0.72, 0.76, 0.74, 0.78, 0.73]
    assert item_practice_equivalence(model, _people((0.75,)))["verdict"] == \
        "equivalent within ±0.2"
    # a second reasonable derivation 0.3 lower: equivalence must hold for both, and does not
    both = item_practice_equivalence(model, _people((0.75, 0.45)))
    assert both["verdict"] == "not shown equivalent"
    assert both["difference"] == pytest.approx(0.746 - 0.75)      # the default derivation
    assert both["difference_max"] == pytest.approx(0.746 - 0.45)
    per = both["per_derivation"]
    assert both["difference_low"] == per.low.min() and both["difference_high"] == per.high.max()
    assert both["tost_p"] == per.tost_p.max()


def test_the_human_standard_error_is_clustered_by_participant_group():
    from cramcog.analysis.items import zbrodoff_index_derivations, zbrodoff_practice_index

    table = zbrodoff_index_derivations()
    assert len(table) == 6 and table["default"].tolist() == [True] + [False] * 5
    assert table["index"][0] == zbrodoff_practice_index()["index"]
    assert (table.df == 2).all()                       # 3 participant groups
    left_out = table[["index_without_control", "index_without_standard",
                      "index_without_reverse"]].to_numpy()
    jackknife = np.sqrt(2 / 3 * ((left_out - left_out.mean(1, keepdims=True)) ** 2).sum(1))
    assert np.allclose(table.se, jackknife)
    # the reference cells move the index by more than 0.1: the derivation is not a detail
    assert table["index"].max() - table["index"].min() > 0.1


def test_the_committed_zipf_record_is_not_shown_equivalent_to_people():
    from pathlib import Path

    from cramcog import records
    from cramcog.analysis.items import item_practice_equivalence

    path = Path(__file__).resolve().parents[2] / "paper" / "records" / "consolidation_zipf.nc"
    result = item_practice_equivalence(records.open(path))
    assert result["n_seeds"] == 5 and result["n_derivations"] == 6
    assert result["verdict"] == "not shown equivalent"
