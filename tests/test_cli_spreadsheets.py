"""Issue 24 items 5 and 6: real spreadsheets in `cramcog fit` and the API (wide layouts, decimal
commas, "58%" cells, percent hints, unitless delays, dropped cells reported), and the fitting
options of the API on the command line."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from cramcog import psych
from cramcog.cli import main
from cramcog.dynamics import fit_consolidation_curve

T = np.array([1, 2, 4, 8, 16, 32.0])
WIDE = ("participant;1 h;0,5 d;1 day;2 days;4 d;8 d\n"
        "p1;90%;70%;60%;50%;45%;38%\n"
        "p2;85%;;55%;50%;40%;33%\n"
        "p3;95%;80%;70%;62%;55%;50%\n")


@pytest.fixture
def wide_csv(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(WIDE)
    return path


# --- item 5: wide layouts ---------------------------------------------------------------------

def test_wide_csv_is_read_with_delays_from_headers_and_empty_cells_reported(wide_csv):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = psych.load_csv(wide_csv, wide=True)
    said = " | ".join(str(w.message) for w in caught)
    assert "1 empty cell(s) left out: line 3 (participant p2, delay '0,5 d')" in said
    assert "percent" in said
    assert ds["y"].attrs["y_kind"] == "percent" and ds["x"].attrs["units"] == "days"
    assert sorted(ds["participant"].values.tolist()) == ["p1", "p2", "p3"]
    p2 = ds["y"].sel(participant="p2").dropna("delay")
    assert p2.size == 5 and float(ds["y"].sel(participant="p1").max()) == pytest.approx(0.9)
    assert np.allclose(np.unique(ds["x"].values), [1 / 24, 0.5, 1, 2, 4, 8])


def test_wide_layout_is_detected_on_the_command_line_and_said(wide_csv, tmp_path, capsys):
    assert main(["fit", str(wide_csv), "--family", "power", "--ci", "wald", "--by",
                 "participant", "--out", str(tmp_path / "o")]) == 0
    captured = capsys.readouterr()
    assert "reading a wide layout" in captured.out and "'participant'" in captured.out
    assert "delays converted to days" in captured.out
    assert "line 3 (participant p2, delay '0,5 d')" in captured.err
    assert "3 curves of participant" in captured.out
    assert (tmp_path / "o" / "wide_subjects.csv").exists()


def test_wide_flag_fits_a_curve_per_row_with_trials_per_cell(tmp_path, capsys):
    rng = np.random.default_rng(3)
    rows = [[s] + [int(k) for k in rng.binomial(40, 0.9 * T ** -g)]
            for s, g in (("a", 0.2), ("b", 0.4))]
    rows[1][3] = ""                                         # an empty cell
    path = tmp_path / "counts.csv"
    path.write_text("subject," + ",".join(f"{t:g}" for t in T) + "\n"
                    + "".join(",".join(map(str, r)) + "\n" for r in rows))
    assert main(["fit", str(path), "--wide", "--n", "40", "--y-kind", "successes", "--family",
                 "power", "--ci", "wald", "--out", str(tmp_path / "o")]) == 0
    captured = capsys.readouterr()
    assert "== counts/a: 6 points, binomial" in captured.out
    assert "== counts/b: 5 points, binomial" in captured.out
    assert "line 3 (subject b, delay '4')" in captured.err


def test_wide_to_long_takes_a_dataframe_or_an_array_with_nan_cells():
    wide = np.array([[.9, .7, .6, .5, .45, np.nan], [.85, .66, .55, .5, .4, .33]])
    with pytest.warns(UserWarning, match=r"1 empty cell\(s\) left out: row 1 \(participant 0, "
                                         r"delay '32'\)"):
        long = psych.wide_to_long(wide, t=T)
    assert len(long) == 11 and long.attrs["t_units"] == ""
    fits = fit_consolidation_curve("delay", "y", data=long, by="participant", family="power",
                                   ci="wald")
    assert len(fits.curves) == 2
    frame = pd.DataFrame(wide, columns=[f"{t:g} d" for t in T])
    frame.insert(0, "id", ["x", "y"])
    with pytest.warns(UserWarning, match="empty cell"):
        again = psych.wide_to_long(frame)
    assert again["delay"].tolist() == long["delay"].tolist()
    assert again.attrs["t_units"] == "days"


# --- item 5: delays, percent cells, hints -----------------------------------------------------

def test_decimal_comma_delays_are_read_and_thousands_are_refused():
    delays, units = psych.parse_delays(["0,5 h", "1,5 h", "2h", "90 min"])
    assert delays.tolist() == [0.5, 1.5, 2.0, 1.5] and units == "hours"
    assert psych.parse_delays(["0,125", "1,5", "2"])[0].tolist() == [0.125, 1.5, 2.0]
    with pytest.raises(ValueError, match="'1,000' is ambiguous.*1000 or 1.000"):
        psych.parse_delays(["1,000", "2"])


def test_decimal_comma_delay_column_in_a_semicolon_file(tmp_path, capsys):
    path = tmp_path / "eu.csv"
    path.write_text("delay;recall\n0,5 h;0,8\n1 h;0,7\n2 h;0,6\n4 h;0,52\n8 h;0,45\n1 d;0,38\n")
    ds = psych.load_csv(path, t="delay", y="recall")
    assert ds["x"].values.tolist()[:2] == [0.5 / 24, 1 / 24] and ds["x"].attrs["units"] == "days"
    assert main(["fit", str(path), "--t", "delay", "--y", "recall", "--t-units", "h",
                 "--family", "power", "--ci", "wald", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "delays converted" not in out and "6 points" in out


def test_percent_cells_are_read_as_percent_and_said(tmp_path, capsys):
    path = tmp_path / "pct.csv"
    path.write_text("t,y\n" + "".join(f"{t:g},{round(90 * t ** -0.3)}%\n" for t in T))
    with pytest.warns(UserWarning, match=r"'y' is written as percentages.*y_kind='percent'"):
        ds = psych.load_csv(path)
    assert ds["y"].attrs["y_kind"] == "percent" and float(ds["y"][0]) == pytest.approx(0.9)
    with pytest.raises(ValueError, match="written as percentages"):
        psych.load_csv(path, y_kind="proportion")
    assert main(["fit", str(path), "--family", "power", "--ci", "wald", "--out",
                 str(tmp_path / "o")]) == 0
    assert "--y-kind percent" in capsys.readouterr().err


def test_a_percent_column_without_y_kind_gets_a_hint_naming_percent(tmp_path, capsys):
    path = tmp_path / "whole.csv"
    path.write_text("t,y\n" + "".join(f"{t:g},{round(90 * t ** -0.3)}\n" for t in T))
    assert main(["fit", str(path), "--family", "power", "--ci", "wald", "--out",
                 str(tmp_path / "o")]) == 0
    assert "Percentages (0-100)? Pass --y-kind percent" in capsys.readouterr().err


def test_text_delays_mixed_units_convert_and_a_unitless_one_is_an_error(tmp_path, capsys):
    path = tmp_path / "mixed.csv"
    path.write_text("t,y\n30 min,.8\n1 h,.7\n2 h,.62\n1 day,.45\n2 days,.4\n7 days,.33\n")
    assert main(["fit", str(path), "--family", "power", "--ci", "wald", "--out",
                 str(tmp_path / "o")]) == 0
    assert "delays converted to days (the coarsest unit written" in capsys.readouterr().out
    path.write_text("t,y\n30 min,.8\n1 h,.7\n2,.62\n1 day,.45\n2 days,.4\n7 days,.33\n")
    assert main(["fit", str(path), "--family", "power", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "bare numbers" in err and "--t-units" in err


# --- item 6: the API's options on the command line --------------------------------------------

@pytest.fixture
def recog_csv(tmp_path):
    k = [37, 33, 29, 25, 22, 20, 18, 17]
    path = tmp_path / "recog.csv"
    path.write_text("t,y,n\n" + "".join(f"{t},{v},40\n" for t, v in enumerate(k, 1)))
    return path


def test_chance_and_fixed_hold_the_asymptote(recog_csv, tmp_path, capsys):
    for flag in (["--chance", "0.25"], ["--fixed", "c=0.25"]):
        assert main(["fit", str(recog_csv), "--family", "exponential+c", "--y-kind",
                     "successes", "--ci", "wald", *flag, "--out", str(tmp_path / "o")]) == 0
        out = capsys.readouterr().out
        assert "c = 0.25 [0.25, 0.25] (fixed)" in out
        assert "b = " in out and "a = " in out


def test_bad_fixed_is_one_clear_line(recog_csv, tmp_path, capsys):
    assert main(["fit", str(recog_csv), "--fixed", "c:0.25", "--out", str(tmp_path)]) == 2
    assert "--fixed takes NAME=VALUE" in capsys.readouterr().err


def test_criterion_overdispersion_and_force_reach_the_fit(recog_csv, tmp_path, capsys):
    assert main(["fit", str(recog_csv), "--family", "power,exponential", "--y-kind",
                 "successes", "--ci", "wald", "--criterion", "bic", "--overdispersion", "quasi",
                 "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "qbic" in out.lower()
    short = tmp_path / "short.csv"
    short.write_text("t,y\n1,.8\n2,.6\n4,.5\n")
    assert main(["fit", str(short), "--family", "power", "--ci", "wald", "--out",
                 str(tmp_path / "o")]) == 2
    capsys.readouterr()
    assert main(["fit", str(short), "--family", "power", "--ci", "wald", "--force", "--out",
                 str(tmp_path / "o")]) == 0


def test_several_families_print_the_verdict_and_every_parameter_of_the_best(recog_csv,
                                                                           tmp_path, capsys):
    assert main(["fit", str(recog_csv), "--family", "power,exponential+c", "--y-kind",
                 "successes", "--ci", "wald", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "best family: " in out and "weight" in out
    best = out.split("best family: ")[1].split(" ")[0]
    block = out.split(f"{best} parameters (")[1]
    names = ["a", "b", "c"] if best == "exponential+c" else ["a", "gamma"]
    for name in names:
        line = next(ln for ln in block.splitlines() if ln.strip().startswith(f"{name} = "))
        value, low, high = map(float, line.replace("[", " ").replace("]", " ")
                               .replace(",", " ").split()[2:5])
        assert low <= value <= high


def test_spreadsheet_helpers_doctests():
    import doctest

    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for obj in (psych.wide_to_long, psych.looks_wide, psych._decimal_point):
        for test in finder.find(obj, globs={"psych": psych, "pd": pd, "np": np,
                                             "looks_wide": psych.looks_wide,
                                             "_decimal_point": psych._decimal_point}):
            runner.run(test)
    assert runner.summarize(verbose=False).failed == 0 and runner.tries >= 10
