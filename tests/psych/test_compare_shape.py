"""compare_shape / compare_items / seed_pooled_gamma: shape first, per item, intervals from seeds.

Synthetic consolidation records (the layout of `cramcog consolidation` records) with a KNOWN shape
stand in for CRAM; the toy model goes through the same functions.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from cramcog import psych, records
from cramcog.comparison import (compare_gamma, compare_items, compare_shape, compare_with_humans,
                                model_curves, seed_pooled_gamma, shape_summary, transition_ratio)
from cramcog.dynamics import fit_consolidation_curve
from cramcog.dynamics.intervals import seed_interval

X = np.geomspace(2, 200, 24)          # exposures at the evaluation steps


def logistic(x, slope, x50=30.0):
    """A falling logistic in x: 1 at first, 0.5 at x50 (the fit layer's slope is -slope)."""
    return 1.0 / (1.0 + np.exp(slope * (x / x50 - 1.0)))


def record(curves, probes=200, rng_seed=0, items=None, exposures=X):
    """A consolidation record (variant, seed, eval_step[, pattern]) from per-seed share curves."""
    rng = np.random.default_rng(rng_seed)
    shares = np.stack(curves)                                          # (seed, step)
    count = rng.binomial(probes, np.clip(shares, 0, 1))
    ev = ("variant", "seed", "eval_step")
    data = {"recurring_attended": (ev, (count / probes)[None]),
            "recurring_attended_count": (ev, count[None]),
            "recurring_probe_count": (ev, np.full(count.shape, probes)[None]),
            "exposures": (ev, np.broadcast_to(exposures, shares.shape)[None])}
    if items is not None:
        data.update(items)
    coords = {"variant": ["cram"], "seed": np.arange(shares.shape[0]),
              "eval_step": np.arange(shares.shape[1]) * 10}
    return records.new_record(data, coords=coords, kind="evaluation")


def human_logistic(slope=4.0, n=400, seed=1, label="synthetic sigmoid") -> psych.Curve:
    k = np.random.default_rng(seed).binomial(n, logistic(X, slope))
    return psych.Curve(label=label, t=X, y=k / n, n=np.full(X.shape, float(n)), source=label,
                       paradigm="strategy_shift", x_kind="exposures", analog="episodic",
                       averaging="by_time")


SIGMOID_MODEL = record([logistic(X, s) for s in (3.5, 4.0, 4.5, 5.0)])


def test_a_sigmoid_is_never_reported_as_a_power_law():
    # the calibration the issue asks for: a power law must not win where a logistic fits far
    # better, on either side, and gamma must not be reported as if the power law described it
    table = compare_shape(SIGMOID_MODEL, human=human_logistic(),
                          families=["power", "logistic", "exponential", "weibull"], ci="wald")
    summary = shape_summary(table).iloc[0]
    assert summary.human_best == "logistic" and summary.model_best == "logistic"
    assert summary.same_best and summary.direction_agrees
    power = table.set_index("family").loc["power"]
    assert power.human_delta_aicc > 10 and power.model_summed_delta_aicc > 10
    # the logistic's slope, side by side: truths -4 (human) and -4.25 (mean of the seeds; the
    # fit layer's slope is negative for a falling curve)
    lg = table.set_index("family").loc["logistic"]
    assert lg.shape_param == "slope" and lg.orientation == "as measured"
    assert lg.human_shape_low < -4.0 < lg.human_shape_high
    assert lg.model_shape_low < -4.25 < lg.model_shape_high
    # a fit set of the same sigmoid: compare_gamma says the best family has no gamma
    c = human_logistic()
    fits = fit_consolidation_curve(c.t, c.y, n=c.n, family=["power", "logistic"], ci="wald")
    assert fits["logistic"].aic < fits["power"].aic - 10
    with pytest.warns(UserWarning, match="best family, 'logistic', has no gamma"):
        gamma_table = compare_gamma(fits, human=human_logistic(seed=2), level=0.95)
    assert (gamma_table.family == "power").all()
    assert gamma_table.note.str.contains("has no gamma").all()
    out = compare_with_humans(SIGMOID_MODEL, human=human_logistic(),
                              families=["power", "logistic"], ci="wald")
    assert "best family on the model side: no" in out.gamma_note


def test_compare_gamma_errors_clearly_without_a_family_with_gamma():
    c = human_logistic()
    fits = fit_consolidation_curve(c.t, c.y, n=c.n, family=["logistic", "exponential"],
                                   ci="wald")
    with pytest.raises(ValueError, match="no converged fit has a parameter 'gamma'.*"
                                         "compare_shape"):
        compare_gamma(fits, human=c)
    with pytest.raises(ValueError, match="'logistic' has no gamma \\(its shape parameter is "
                                         "'slope'\\)"):
        compare_gamma(fits["logistic"], human=c)


def test_model_intervals_come_from_seeds_not_from_steps():
    ks = [0.8, 1.0, 1.3]

    def weibull(k, x):
        return np.exp(-(x / 30.0) ** k)
    rec = record([weibull(k, X) for k in ks], probes=5000)
    table = compare_shape(rec, human=human_logistic(), families=["weibull"], ci="wald")
    row = table.iloc[0]
    per_seed = [fit_consolidation_curve(t, y, family="weibull", ci="none").params["k"]
                for t, y, _ in model_curves(rec).curves("by_time")]
    mean, low, high, _, k = seed_interval(per_seed)
    assert row.model_seeds == 3 and row.model_seeds_converged == 3
    assert (row.model_shape, row.model_shape_low, row.model_shape_high) == pytest.approx(
        (mean, low, high))
    assert low < np.mean(ks) < high and high - low > 0.3  # the spread of the seeds, not of steps
    assert table.attrs["model_interval"].startswith("seed-pooled")
    # one seed: no interval at all (NaN), never one from the run's own steps
    one = compare_shape(record([weibull(1.0, X)]), human=human_logistic(), families=["weibull"],
                        ci="wald").iloc[0]
    assert np.isnan(one.model_shape_low) and np.isnan(one.model_shape_high)
    assert "one seed" in " ".join(compare_shape(record([weibull(1.0, X)]), human=human_logistic(),
                                                families=["weibull"], ci="wald")
                                  .attrs["model_notes"])
    pooled = seed_pooled_gamma(record([X ** -g for g in (0.3, 0.4, 0.5)], probes=100000))
    assert pooled.gamma == pytest.approx(0.4, abs=0.02)
    assert pooled.interval[0] < 0.4 < pooled.interval[1] and "3 seeds" in pooled.method
    with pytest.raises(ValueError, match="at least 2"):
        seed_pooled_gamma(record([X ** -0.3]))
    with pytest.raises(ValueError, match="has no gamma"):
        seed_pooled_gamma(rec, family="weibull")


def test_directions_and_orientation_with_remember_know():
    table = compare_shape(SIGMOID_MODEL, human="reder_2000_remember_know_repetition_lag",
                          families=["exponential", "power"], ci="wald")
    rep = table[table.human.str.contains("/repetition/")]
    lag = table[table.human.str.contains("/lag/")]
    # repetition RAISES the Remember share: opposite to a model whose episodic share falls
    assert (rep.human_direction == "rises").all() and (~rep.direction_agrees).all()
    assert (rep.orientation == "complement (1 - y)").all()
    assert (lag.human_direction == "falls").all() and lag.direction_agrees.all()
    assert (lag.note.str.contains("delay")).all()
    assert set(table.paradigm) == {"remember_know"}


def test_by_exposure_pools_every_pattern_at_its_own_exposures():
    # two seeds x 3 eval steps x 2 patterns; pattern 1 is seen twice as often
    pv = ("variant", "seed", "eval_step", "pattern")
    expo = np.array([[1, 2], [2, 4], [3, 6]], float)
    attended = np.array([[1, 1], [1, 0], [0, 0]], float)
    probes = np.array([[2, 2], [2, 2], [2, 2]], float)
    items = {"pattern_attended": (pv, np.stack([attended, attended])[None] * 2),  # counts
             "pattern_probes": (pv, np.stack([probes, probes])[None]),
             "pattern_exposures": (pv, np.stack([expo, expo])[None])}
    rec = record([np.ones(3), np.ones(3)], items=items, exposures=expo.mean(1))
    t, y, n = model_curves(rec, window="all").curves("by_exposure")[0]
    # exposures 1..6 pooled over patterns and steps: at 2 both cells attend, at 3/4/6 none do
    assert t.tolist() == [1, 2, 3, 4, 6] and y.tolist() == [1, 1, 0, 0, 0]
    assert n.tolist() == [2, 4, 2, 2, 2]
    with pytest.raises(ValueError, match="averaging must be"):
        model_curves(rec).curves("by_subject")


def test_the_toy_model_goes_through_the_same_comparison():
    from cramcog.dynamics.toy_consolidation import simulate_consolidation

    toy = [simulate_consolidation(n_episodes=120, seed=s) for s in (0, 1, 2)]
    table = compare_shape(toy, families=["exponential", "power", "weibull"], ci="wald")
    assert set(table.human) == {c.label for c in psych.all_curves("episodic_semantic")}
    # Reder was pooled at exact exposure counts, Zbrodoff in blocks: the model is averaged alike
    assert set(table[table.human.str.contains("/repetition/")].averaging) == {"by_exposure"}
    assert set(table[table.human.str.contains("zbrodoff")].averaging) == {"by_time"}
    assert (table.model_seeds == 3).all() and table.attrs["model_label"] == "toy model"
    items = compare_items(toy).set_index(["side", "quantity"])
    # the toy consolidates an item by replaying IT: its shift follows the item's own exposures
    assert items.loc[("model", "item_specific_dAICc"), "low"] > 0
    assert items.loc[("human", "item_specific_dAICc"), "value"] > 0   # so does Zbrodoff's
    assert 0 <= items.loc[("model", "never_switched"), "value"] < 1
    assert items.loc[("model", "switch_spread"), "value"] > 1


def test_item_specificity_tells_item_practice_from_total_practice():
    # a model whose patterns switch at a fixed TRAINING STEP, whatever their exposures, is not
    # item-specific; one whose patterns switch at fixed EXPOSURES is
    rng = np.random.default_rng(0)
    steps, patterns = 40, 30
    rate = rng.uniform(0.5, 4.0, patterns)                        # exposures per step, per pattern
    expo = np.ceil(np.arange(1, steps + 1)[:, None] * rate[None])  # (step, pattern)
    pv = ("variant", "seed", "eval_step", "pattern")

    def rec(attended):
        items = {"pattern_attended": (pv, np.stack([attended] * 3)[None].astype(float)),
                 "pattern_probes": (pv, np.ones((1, 3, steps, patterns))),
                 "pattern_exposures": (pv, np.stack([expo] * 3)[None])}
        share = attended.mean(1)
        return record([share] * 3, items=items, exposures=expo.mean(1))
    by_item = rec(expo < 25 + rng.normal(0, 2, (steps, patterns)))
    by_time = rec(np.arange(1, steps + 1)[:, None] < 15 + rng.normal(0, 2, (steps, patterns)))
    item = compare_items(by_item).set_index(["side", "quantity"]).loc[("model",
                                                                       "item_specific_dAICc")]
    time = compare_items(by_time).set_index(["side", "quantity"]).loc[("model",
                                                                       "item_specific_dAICc")]
    assert item.value > 50 and time.value < -50


def test_transition_ratio():
    t = np.array([1, 2, 4, 8, 16, 32.0])
    # 90% of the shift left between t = 2 and 4 (a fifth of the way on log t), 10% between 4 and
    # 8 (four fifths of the way)
    assert transition_ratio(t, np.array([1, 1, 0.5, 0, 0, 0])) == pytest.approx(
        (4 * 2 ** 0.8) / (2 * 2 ** 0.2))
    assert np.isnan(transition_ratio(t, np.ones(6)))


def test_compare_gamma_takes_paradigms_and_records():
    from cramcog.comparison import ReportedGamma

    paper = ReportedGamma(0.43, (0.39, 0.47), family="power", label="paper")
    es = compare_gamma(paper, human="episodic_semantic", ci="wald")
    assert set(es.paradigm) == {"strategy_shift", "remember_know"} and len(es) == 5
    assert set(es.orientation) == {"as measured", "complement (1 - y)"}
    forgetting = compare_gamma(paper, human="forgetting", ci="wald")
    assert set(forgetting.paradigm) == {"forgetting"} and len(forgetting) == 9
    both = compare_gamma(paper, human=["strategy_shift", "ebbinghaus_1885"], ci="wald")
    assert both.source.tolist() == ["zbrodoff_1995_alpha_arithmetic", "ebbinghaus_1885"]
    rec = record([X ** -g for g in (0.3, 0.35, 0.4)], probes=20000)
    table = compare_gamma(rec, human="strategy_shift", ci="wald")
    assert table.attrs["model_interval"].startswith("seed-pooled over 3 seeds")
    assert table.model_gamma.iloc[0] == pytest.approx(0.35, abs=0.02)


def test_model_side_errors_are_clear():
    with pytest.raises(TypeError, match="consolidation record"):
        model_curves(42)
    with pytest.raises(ValueError, match="lacks"):
        model_curves(SIGMOID_MODEL.drop_vars("exposures"))
    two = SIGMOID_MODEL.assign_coords(variant=["a"]).pipe(
        lambda d: __import__("xarray").concat([d, d.assign_coords(variant=["b"])], "variant"))
    with pytest.raises(ValueError, match="pass variant"):
        model_curves(two)
    assert model_curves(two, "b").label == "CRAM (b)"
    with pytest.raises(ValueError, match="no human curve"):
        compare_shape(SIGMOID_MODEL, human="tenison_2016_pyramid_learning_phases")
    with pytest.raises(ValueError, match="model_likelihood"):
        compare_shape(SIGMOID_MODEL, human=human_logistic(), model_likelihood="poisson")


def test_report_markdown_names_the_interval():
    out = compare_with_humans(SIGMOID_MODEL, human=human_logistic(), families=["logistic"],
                              ci="wald")
    text = out.to_markdown()
    assert "model interval: seed-pooled" in text and "synthetic sigmoid" in text
    assert isinstance(out.summary, pd.DataFrame) and out.items.empty
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no stray warnings from the comparison itself
        compare_shape(SIGMOID_MODEL, human=human_logistic(), families=["logistic"], ci="wald")


def test_window_starts_after_the_warm_up_where_the_record_says_so():
    # a warm-up: attention rises 0.2 -> 1 over the first 6 evaluations, then consolidation
    curve = np.concatenate([np.linspace(0.2, 1.0, 6), logistic(X[6:], 4.0)])
    rec = record([curve, curve])
    peak = model_curves(rec).curves("by_time")[0][0]
    assert peak[0] == pytest.approx(X[np.argmax(record([curve]).recurring_attended.values[0, 0])])
    warm = rec.assign(warmup_end_step=(("variant", "seed"), np.array([[80.0, -1.0]])))
    t0 = model_curves(warm).curves("by_time")
    # eval steps are 0, 10, 20...: the warm-up ends at step 80, the curve starts after it (90)
    assert t0[0][0][0] == pytest.approx(X[9])
    assert t0[1][0][0] == peak[0]                  # -1: the warm-up never ended -> the peak
    with pytest.raises(ValueError, match="needs warmup_end_step"):
        model_curves(warm, window="warmup").curves("by_time")
    assert model_curves(rec, window="all").curves("by_time")[0][0][0] == pytest.approx(X[0])
    with pytest.raises(ValueError, match="window must be one of"):
        model_curves(rec, window="transition")
