"""`cramcog fit FILE.csv`: table on stdout, a record and a figure per curve, clear errors."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from cramcog import records
from cramcog.cli import main

T = np.array([1, 2, 4, 8, 16, 32.0])


@pytest.fixture
def counts_csv(tmp_path):
    # successes out of 50 from a power law 0.82 t^-0.26 (seeded)
    rng = np.random.default_rng(0)
    k = rng.binomial(50, 0.82 * T ** -0.26)
    path = tmp_path / "recall.csv"
    pd.DataFrame({"days": T, "recalled": k, "trials": 50}).to_csv(path, index=False)
    return path


def test_fit_all_families_prints_table_and_writes_record_and_figure(counts_csv, tmp_path,
                                                                    capsys):
    out = tmp_path / "out"
    assert main(["fit", str(counts_csv), "--family", "power,exponential,shifted_power",
                 "--t", "days", "--y", "recalled", "--n", "trials", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "binomial" in text and "power" in text and "exponential" in text
    assert text.index(" power ") < text.index(" exponential ")  # ranked by AIC
    record = records.open(out / "recall_fit.nc")
    assert record.cram.kind == "fit"
    assert record.attrs["curve"] == "recall"
    assert (out / "recall_fit.png").stat().st_size > 5000
    assert "family" in record.dims


def test_fit_one_family_reports_gamma_interval(counts_csv, tmp_path, capsys):
    assert main(["fit", str(counts_csv), "--family", "power", "--t", "days", "--y", "recalled",
                 "--n", "trials", "--ci", "wald", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    header, row = [line.split() for line in text.splitlines()[1:3]]
    gamma = float(row[header.index("gamma")])
    low, high = float(row[header.index("gamma_low")]), float(row[header.index("gamma_high")])
    assert low < gamma < high and 0.1 < gamma < 0.45


def test_fit_series_column_fits_each_curve(tmp_path, capsys):
    rng = np.random.default_rng(1)
    rows = [{"subject": s, "t": t, "y": min(1.0, 0.9 * t ** -g + rng.normal(0, 0.01))}
            for s, g in (("a", 0.2), ("b", 0.5)) for t in T]
    path = tmp_path / "subjects.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    assert main(["fit", str(path), "--family", "power", "--series", "subject", "--ci", "wald",
                 "--out", str(tmp_path / "o")]) == 0
    text = capsys.readouterr().out
    assert "subjects/a" in text and "subjects/b" in text and "least squares" in text
    assert (tmp_path / "o" / "subjects_a_fit.nc").exists()
    assert (tmp_path / "o" / "subjects_b_fit.png").exists()


def test_fit_errors_are_one_clear_line(counts_csv, tmp_path, capsys):
    assert main(["fit", str(tmp_path / "missing.csv")]) == 2
    assert "no CSV file" in capsys.readouterr().err
    assert main(["fit", str(counts_csv)]) == 2  # default columns t, y do not exist
    err = capsys.readouterr().err
    assert "'t' (--t)" in err and "['days', 'recalled', 'trials']" in err
    assert main(["fit", str(counts_csv), "--t", "days", "--y", "recalled", "--n", "nope"]) == 2
    assert "'nope' (--n) not found" in capsys.readouterr().err
    assert main(["fit", str(counts_csv), "--t", "days", "--y", "recalled", "--family",
                 "powr"]) == 2
    assert "unknown family 'powr'" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("t,y\n1,0.5\n2,0.4\n")
    assert main(["fit", str(bad), "--out", str(tmp_path)]) == 2
    assert "at least 3" in capsys.readouterr().err


def test_one_family_failing_numerically_does_not_lose_the_others(monkeypatch):
    import cramcog.dynamics as dynamics
    from cramcog.commands.fit import fit_families

    real = dynamics.fit_consolidation_curve

    def flaky(t, y, n=None, family="power", **kwargs):
        if family in ("all", "power+c") or (isinstance(family, list) and "power+c" in family):
            raise np.linalg.LinAlgError("Singular matrix")
        return real(t, y, n=n, family=family, **kwargs)

    monkeypatch.setattr(dynamics, "fit_consolidation_curve", flaky)
    y = 0.8 * T ** -0.3
    fits, failed = fit_families(T, y + np.array([.01, -.01, .005, 0, -.005, .01]), None, "all",
                                ci="wald")
    numerical = {k: v for k, v in failed.items() if not v.startswith("skipped")}
    assert list(numerical) == ["power+c"] and "Singular" in failed["power+c"]
    assert "power" in fits and "exponential" in fits and fits.best.family != "power+c"
    fits, failed = fit_families(T, y + 0.01, None, ["power", "power+c"], ci="wald")
    assert list(fits) == ["power"] and list(failed) == ["power+c"]
    with pytest.raises(ValueError, match="failed numerically"):
        fit_families(T, y, None, "power+c", ci="wald")


# ----------------------------------------------------------------------------- input you can trust

def _fit_text(capsys, *argv):
    assert main(["fit", *map(str, argv)]) == 0, capsys.readouterr().err
    return capsys.readouterr()


def test_percentages_through_the_cli_are_read_once(tmp_path, capsys):
    """A percent CSV with n = 20: no double division by n (a came back as 0.205 before)."""
    rng = np.random.default_rng(3)
    k = rng.binomial(20, 0.8 * T ** -0.3)
    path = tmp_path / "pct.csv"
    pd.DataFrame({"t": T, "y": 100 * k / 20, "n": 20}).to_csv(path, index=False)
    assert main(["fit", str(path), "--family", "power", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--y-kind percent" in err and "y_kind" not in err   # said in command-line words
    _fit_text(capsys, path, "--family", "power", "--ci", "wald", "--y-kind", "percent",
              "--out", tmp_path)
    from cramcog.dynamics import fit_consolidation_curve
    expected = fit_consolidation_curve(T, k, n=20, y_kind="successes", family="power")
    record = records.open(tmp_path / "pct_fit.nc")
    a = float(record["estimate"].sel(family="power", parameter="a"))
    assert a == pytest.approx(expected.params["a"], rel=1e-9) and abs(a - 0.8) < 0.15
    assert record.attrs["y_kind"] == "percent" and record.attrs["n_column"] == "n"
    # --y-scale 0.01 (proportions) gives the same fit
    _fit_text(capsys, path, "--family", "power", "--ci", "wald", "--y-scale", "0.01",
              "--out", tmp_path / "scaled")
    scaled = records.open(tmp_path / "scaled" / "pct_fit.nc")
    assert float(scaled["estimate"].sel(family="power", parameter="a")) == pytest.approx(a)


def test_successes_with_n_are_divided_once(counts_csv, tmp_path, capsys):
    from cramcog.dynamics import fit_consolidation_curve
    _fit_text(capsys, counts_csv, "--family", "power", "--t", "days", "--y", "recalled", "--n",
              "trials", "--y-kind", "successes", "--ci", "wald", "--out", tmp_path)
    df = pd.read_csv(counts_csv)
    expected = fit_consolidation_curve(df["days"], df["recalled"], df["trials"],
                                       y_kind="successes", family="power")
    record = records.open(tmp_path / "recall_fit.nc")
    assert float(record["estimate"].sel(family="power", parameter="a")) == \
        pytest.approx(expected.params["a"], rel=1e-9)
    np.testing.assert_allclose(record["data_y"].values, df["recalled"] / df["trials"])


def test_a_column_named_n_is_the_trials_by_convention(tmp_path, capsys):
    rng = np.random.default_rng(4)
    path = tmp_path / "conv.csv"
    pd.DataFrame({"t": T, "y": rng.binomial(30, 0.8 * T ** -0.3), "n": 30}).to_csv(path,
                                                                                index=False)
    out = _fit_text(capsys, path, "--family", "power", "--ci", "wald", "--y-kind", "successes",
                    "--out", tmp_path)
    assert "column 'n'" in out.out and "binomial" in out.out
    assert records.open(tmp_path / "conv_fit.nc").attrs["likelihood"] == "binomial"
    path2 = tmp_path / "props.csv"
    pd.DataFrame({"t": T, "y": 0.8 * T ** -0.3 + 0.01, "n": 30}).to_csv(path2, index=False)
    out = _fit_text(capsys, path2, "--family", "power", "--ci", "wald", "--n", "none",
                    "--out", tmp_path)
    assert "least squares" in out.out
    assert records.open(tmp_path / "props_fit.nc").attrs["likelihood"] == "least_squares"


def test_column_names_and_units_reach_record_and_figure(tmp_path, capsys, monkeypatch):
    import cramcog.commands.fit as fit_command

    drawn = {}
    real_write = fit_command._write

    def spy(out, name, record, plot, title):
        drawn["axes"] = plot
        real_write(out, name, record, plot, title)

    monkeypatch.setattr(fit_command, "_write", spy)
    path = tmp_path / "units.csv"
    pd.DataFrame({"delay": T, "recall": 0.8 * T ** -0.3 + 0.01}).to_csv(path, index=False)
    _fit_text(capsys, path, "--family", "power", "--t", "delay", "--y", "recall", "--t-units",
              "hours", "--ci", "wald", "--out", tmp_path)
    record = records.open(tmp_path / "units_fit.nc")
    assert record.attrs["t_units"] == "hours" and record.attrs["t_column"] == "delay"
    assert record["data_t"].attrs == {"long_name": "delay", "units": "hours"}
    assert record["data_y"].attrs["long_name"] == "recall"
    assert drawn["axes"].get_xlabel() == "delay (hours)"
    assert drawn["axes"].get_ylabel() == "recall"


def test_text_delays_spaces_and_delimiters(tmp_path, capsys):
    path = tmp_path / "ebb.csv"       # semicolons, decimal commas, spaces around the names
    path.write_text("# savings, Ebbinghaus-style\n delay ; savings \n20min;58,2\n1h;44,2\n"
                    "9h;35,8\n1d;33,7\n2 days;27,8\n6d;25,4\n31d;21,1\n")
    _fit_text(capsys, path, "--t", "delay", "--y", "savings", "--y-kind", "percent",
              "--family", "power", "--ci", "wald", "--out", tmp_path)
    record = records.open(tmp_path / "ebb_fit.nc")
    np.testing.assert_allclose(record["data_t"].values,
                               [20 / 1440, 1 / 24, 9 / 24, 1, 2, 6, 31])
    assert record.attrs["t_units"] == "days"
    np.testing.assert_allclose(record["data_y"].values[:2], [0.582, 0.442])
    _fit_text(capsys, path, "--t", "delay", "--y", "savings", "--y-kind", "percent",
              "--t-units", "h", "--family", "power", "--ci", "wald", "--out", tmp_path / "h")
    hours = records.open(tmp_path / "h" / "ebb_fit.nc")
    assert hours.attrs["t_units"] == "hours" and hours["data_t"].values[-1] == 31 * 24
    tabbed = tmp_path / "tab.csv"
    tabbed.write_text("t\ty\n1\t0.8\n2\t0.66\n4\t0.55\n8\t0.46\n16\t0.4\n32\t0.33\n")
    _fit_text(capsys, tabbed, "--family", "power", "--ci", "wald", "--out", tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("t,y\n1h,0.8\nsoon,0.6\n3d,0.5\n")
    assert main(["fit", str(bad), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "'soon'" in err and "min, h, d" in err
    bad.write_text("t,y\n5m,0.8\n1h,0.6\n3d,0.5\n")
    assert main(["fit", str(bad), "--out", str(tmp_path)]) == 2
    assert "ambiguous" in capsys.readouterr().err


def _long_csv(tmp_path, n_subjects=6):
    rng = np.random.default_rng(5)
    rows = [(f"p{s}", t, rng.binomial(40, 0.85 * t ** -g), 40)
            for s, g in enumerate(rng.normal(0.4, 0.08, n_subjects)) for t in T]
    path = tmp_path / "long.csv"
    pd.DataFrame(rows, columns=["subject", "days", "recalled", "n"]).to_csv(path, index=False)
    return path


def test_long_data_without_series_says_which_column_to_name(tmp_path, capsys):
    path = _long_csv(tmp_path)
    assert main(["fit", str(path), "--t", "days", "--y", "recalled", "--out",
                 str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "duplicate delays" in err and "--by" in err and "['subject']" in err


def test_by_subject_writes_group_estimate_tables_record_and_figure(tmp_path, capsys):
    path = _long_csv(tmp_path)
    out = tmp_path / "out"
    text = _fit_text(capsys, path, "--t", "days", "--y", "recalled", "--y-kind", "successes",
                     "--by", "subject", "--family", "power,exponential", "--ci", "wald",
                     "--out", out).out
    assert "gamma =" in text and "between-subject SD" in text and "pooled" in text
    subjects = pd.read_csv(out / "long_subjects.csv")
    assert len(subjects) == 6 * 2 and set(subjects["subject"]) == {f"p{i}" for i in range(6)}
    group = pd.read_csv(out / "long_group.csv")
    gamma = group[(group["family"] == "power") & (group["parameter"] == "gamma")].iloc[0]
    assert gamma["ci_low"] < 0.4 < gamma["ci_high"] and gamma["n_subjects"] == 6
    assert set(pd.read_csv(out / "long_compare.csv")["approach"]) == {"pooled", "per-subject",
                                                                        "group"}
    record = records.open(out / "long_group_fit.nc")
    assert record.attrs["subject"] == "subject" and record.attrs["t_column"] == "days"
    assert (out / "long_group_fit.png").stat().st_size > 5000


def test_load_csv_reading_helpers_doctests():
    import doctest

    from cramcog import psych

    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for obj in (psych.parse_delays, psych.read_user_csv, psych.load_csv):
        for test in finder.find(obj, globs={"psych": psych}):
            runner.run(test)
    assert runner.summarize(verbose=False).failed == 0 and runner.tries >= 5


def test_parse_delays_units_and_errors():
    from cramcog.psych import parse_delays

    days, units = parse_delays(["12h", "1 day", "1.5d", "1w", "2 weeks"])
    assert units == "weeks" and days.tolist() == pytest.approx([1 / 14, 1 / 7, 1.5 / 7, 1, 2])
    hours, units = parse_delays(["30 min", "1h30min", "2hrs"], t_units="hours")
    assert units == "hours" and hours.tolist() == pytest.approx([0.5, 1.5, 2.0])
    with pytest.raises(ValueError, match="mixes delays with units and bare numbers"):
        parse_delays(["1h", "2"])
    with pytest.raises(ValueError, match="not a time unit"):
        parse_delays(["1h", "2h"], t_units="items")
    assert parse_delays(["1", "2", "5"], t_units="items") == (pytest.approx([1, 2, 5]), "items")


def test_by_with_series_gives_a_group_estimate_per_condition(tmp_path, capsys):
    rng = np.random.default_rng(6)
    rows = [(f"p{s}", cond, t, rng.binomial(40, 0.85 * t ** -(g + shift)), 40)
            for s, g in enumerate(rng.normal(0.3, 0.05, 6))
            for cond, shift in (("easy", 0.0), ("hard", 0.3)) for t in T]
    path = tmp_path / "cond.csv"
    pd.DataFrame(rows, columns=["subject", "condition", "days", "recalled", "n"]).to_csv(
        path, index=False)
    out = tmp_path / "out"
    _fit_text(capsys, path, "--t", "days", "--y", "recalled", "--y-kind", "successes", "--by",
              "subject", "--series", "condition", "--family", "power", "--ci", "wald",
              "--out", out)
    group = pd.read_csv(out / "cond_group.csv")
    gamma = group[group["parameter"] == "gamma"].set_index("condition")["estimate"]
    assert abs(gamma["easy"] - 0.3) < 0.1 and abs(gamma["hard"] - 0.6) < 0.1
    assert len(pd.read_csv(out / "cond_subjects.csv")) == 12


def test_by_with_series_prints_and_writes_differences_with_either_group_model(tmp_path, capsys):
    rng = np.random.default_rng(7)
    rows = [(f"p{s}", cond, t, rng.binomial(40, min(1.0, 0.97 * t ** -(g + shift))), 40)
            for s, g in enumerate(rng.normal(0.3, 0.05, 8))
            for cond, shift in (("restudy", 0.0), ("retrieval", -0.15)) for t in T]
    path = tmp_path / "practice.csv"
    pd.DataFrame(rows, columns=["subject", "practice", "days", "recalled", "n"]).to_csv(
        path, index=False)
    for model in ("two-stage", "mixed"):
        out = tmp_path / model
        text = _fit_text(capsys, path, "--t", "days", "--y", "recalled", "--y-kind",
                         "successes", "--by", "subject", "--series", "practice", "--family",
                         "power", "--ci", "wald", "--group-model", model, "--out", out).out
        assert "differences between conditions (each against practice=restudy)" in text
        assert "gamma: [practice=retrieval] - [practice=restudy]" in text
        assert "within-subject" in text
        diff = pd.read_csv(out / "practice_differences.csv").set_index("parameter")
        assert diff.loc["gamma", "model"] == model
        group = pd.read_csv(out / "practice_group.csv")
        if model == "mixed":     # every subject, 100% cells included: a clear difference
            assert (group["n_subjects"] == 8).all() and diff.loc["gamma", "n_used"] == 8
            assert diff.loc["gamma", "ci_high"] < 0 and diff.loc["gamma", "p"] < 1e-3
        else:                    # the pairs without an edge fit in either condition only
            assert diff.loc["gamma", "n_used"] < 8
    assert main(["fit", str(path), "--t", "days", "--y", "recalled", "--group-model", "mixed",
                 "--series", "practice", "--out", str(tmp_path)]) == 2
    assert "add --by" in capsys.readouterr().err


def test_all_family_table_fits_a_terminal_and_warnings_are_one_line(counts_csv, tmp_path,
                                                                    capsys):
    out = _fit_text(capsys, counts_csv, "--t", "days", "--y", "recalled", "--n", "trials",
                    "--y-kind", "successes", "--ci", "wald", "--out", tmp_path)
    table = out.out.split("notes:")[0].splitlines()[1:]
    assert len(table) >= 10 and max(map(len, table)) <= 120
    assert "aicc" in table[0] and "weight" in table[0] and "shape [CI]" in table[0]
    assert "gamma " in out.out                     # the shape parameter, named, with its CI
    assert "cramcog fit: warning: only 6 points" in out.err and "UserWarning" not in out.err


def test_cli_y_kinds_are_the_fitters_and_load_no_fitting_stack():
    """The CLI offers the fitter's y kinds without importing the fitter (or numpy, scipy)."""
    code = ("from cramcog.commands import fit as fit_command\n"
            "from cramcog.dynamics.data import Y_KINDS\n"
            "assert fit_command.Y_KINDS is Y_KINDS\n")
    light = ("import sys\nimport cramcog.cli, cramcog.commands.fit\n"
             "heavy = [m for m in ('numpy', 'scipy', 'cramcog.dynamics.fit') if m in sys.modules]\n"
             "assert not heavy, heavy\n")
    for source in (code, light):
        subprocess.run([sys.executable, "-c", source], check=True)
