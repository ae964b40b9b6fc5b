"""Switch synchrony: the jitter test finds bursts it should find and no others."""
import numpy as np
import pytest

from cramcog import analysis, records
from cramcog.analysis.runs import AnalysisError
from cramcog.analysis.synchrony import (coincidences, jitter_test, pattern_events,
                                        synchrony_record, synchrony_table)

from .conftest import probe_run


def _record(switch, every=10, n_eval=200, seed=0):
    run = probe_run(switch, every=every, n_eval=n_eval, warm_eval=4, per_step=1.0, seed=seed)
    return analysis.consolidation_record({"cram": run})


def _independent(P=60, seed=0):
    # each pattern at its own exposure count, spread smoothly: no shared evaluations beyond chance
    return np.random.default_rng(seed).uniform(300, 1500, P)


def _bursts(P=60, seed=0):
    # the same coarse time course, but every pattern leaves at one of 4 network-wide steps
    return np.random.default_rng(seed).choice([505.0, 805.0, 1105.0, 1405.0], P)


def test_independent_switches_are_not_called_synchronous():
    rec = synchrony_record(_record(_independent()), resamples=999)
    assert float(rec.switch_sync_p.sel(seed=0)) > 0.05
    assert int(rec.censored.sel(seed=0)) == 0
    assert int(rec.n_events.sel(seed=0, event="switch", window_steps=100)) == 60


def test_bursts_are_called_synchronous_with_their_size():
    rec = synchrony_record(_record(_bursts()), resamples=999)
    assert float(rec.switch_sync_p.sel(seed=0)) < 0.01
    cell = rec.sel(seed=0, event="switch", window_steps=100)
    assert float(cell.excess) > 3
    assert float(cell.top3_share) >= 0.7                         # 4 slots hold every switch
    # a per-pattern step is one evaluation wide, whatever the timing across patterns
    assert float(rec.median_width_steps.sel(seed=0)) == pytest.approx(10)
    assert float(rec.one_interval_share.sel(seed=0)) == pytest.approx(1.0)


def test_patterns_off_before_the_warmup_ends_are_censored_not_a_burst():
    # 20 patterns already off when counting starts (slot 2): their time is unknown, so they are
    # no events; had they counted, slot 2 would hold a burst of 20
    rng = np.random.default_rng(0)
    share = np.ones((60, 50))
    for p in range(50):
        share[int(rng.integers(3, 60)) if p >= 20 else 0:, p] = 0.0
    ev = pattern_events(share, start=2)
    assert ev["censored"].tolist() == list(range(20))
    assert ev["switch"].size == 30 and ev["switch"].min() > 2
    assert jitter_test(ev["switch"], 2, 60, 10, resamples=999)["p"] > 0.05


def test_jitter_keeps_each_event_in_its_window():
    slots = np.array([3, 3, 4, 12, 12, 12])
    res = jitter_test(slots, start=0, n_evals=21, window=10, resamples=500, seed=1)
    # windows [1, 11) and [11, 21): 3 and 3 events, each uniform over 10 slots
    assert res["null_mean"] == pytest.approx(2 * 3 / 10, abs=0.15)
    assert res["coincidences"] == coincidences(slots) == 4
    with pytest.raises(AnalysisError, match="cannot move"):
        jitter_test(slots, 0, 21, window=1)
    with pytest.raises(AnalysisError, match="after the warm-up"):
        jitter_test(np.array([0, 5]), 0, 21, window=10)


def test_events_and_the_window_check():
    share = np.array([[1.0], [0.0], [1.0], [0.0]])
    ev = pattern_events(share, start=0)
    assert ev["switch"].tolist() == [3] and ev["return"].tolist() == [2]
    coarse = _record(_independent(), every=50, n_eval=40)
    with pytest.raises(AnalysisError, match="eval_every"):
        synchrony_record(coarse, windows_steps=(50,), resamples=99)


def test_record_round_trips_and_prints(tmp_path):
    rec = synchrony_record(_record(_bursts()), resamples=99, source="x.nc")
    path = tmp_path / "sync.nc"
    records.save(rec, path)
    back = records.open(path)
    assert back.attrs["study"] == "switch_synchrony"
    np.testing.assert_allclose(back.p.values, rec.p.values)
    assert "| 0 | switch |" in synchrony_table(back)


def test_raster_frame_and_figure(tmp_path, capsys):
    from cramcog.cli import main
    from cramcog.figures.synchrony import plot_switch_raster, switch_raster_frame
    ds = _record(_bursts())
    frame = switch_raster_frame(ds, "cram", 0)
    events = frame.attrs["events"]
    assert events["switch"].sum() == 60 and events["return"].sum() == 0
    # rows sorted by final switch: the first row switches no later than the last
    first = frame[frame.order == 0].share.values
    last = frame[frame.order == 59].share.values
    assert np.argmax(first <= 0.5) <= np.argmax(last <= 0.5)
    plot_switch_raster(ds, "cram", 0)
    path = tmp_path / "cons.nc"
    records.save(ds, path)
    assert main(["synchrony", str(path), "--resamples", "99", "--out", str(tmp_path / "s.nc"),
                 "--figures", str(tmp_path)]) == 0
    assert (tmp_path / "switch_raster_cram_s0.png").exists()
    assert "| 0 | switch |" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="too few"):
        main(["synchrony", str(path), "--resamples", "5"])
