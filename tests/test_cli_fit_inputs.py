"""Issue 25, items 9 and 10: `cramcog fit` never drops or merges rows silently."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cramcog import psych
from cramcog.cli import main

T = np.array([1, 2, 4, 8, 16, 32.0])


# --- item 10: the CSV reader ---------------------------------------------------------------

def test_hash_inside_a_cell_is_text_not_a_comment(tmp_path):
    # "cond#1" and "cond#2" used to be truncated to "cond": two curves merged into one
    lines = ["# a comment line, skipped", "cond,t,y"]
    lines += [f"cond#{c},{t:g},{0.9 * t ** -g:.3f}" for c, g in ((1, 0.2), (2, 0.5)) for t in T]
    path = tmp_path / "hash.csv"
    path.write_text("\n".join(lines) + "\n")
    df = psych.read_user_csv(path)
    assert sorted(df["cond"].unique()) == ["cond#1", "cond#2"] and len(df) == 12
    ds = psych.load_csv(path, series="cond")
    assert sorted(ds["cond"].values.tolist()) == ["cond#1", "cond#2"]


def test_rows_without_y_or_with_zero_trials_are_reported_by_line(tmp_path, capsys):
    rows = ["t,y,n", "1,40,50", "2,,50", "4,30,50", "8,0,0", "16,22,50", "32,18,50",
            "64,15,50"]
    path = tmp_path / "gaps.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.warns(UserWarning, match=r"dropped 2 row\(s\).*line 3 .*no y.*line 5 .*n = 0"):
        ds = psych.load_csv(path, n="n", y_kind="successes")
    assert ds.sizes["delay"] == 5
    assert main(["fit", str(path), "--family", "power", "--y-kind", "successes", "--ci", "wald",
                 "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "dropped 2 row(s)" in err and "line 3" in err and "line 5" in err


# --- item 11: command-line values -------------------------------------------------------------

@pytest.mark.parametrize("flag, value, message", [("--y-scale", "nan", "--y-scale must be a "
                                                   "finite number"),
                                                  ("--seed", "-1", "--seed must be >= 0")])
def test_bad_numbers_on_the_command_line_are_one_clear_line(tmp_path, capsys, flag, value,
                                                            message):
    path = tmp_path / "c.csv"
    pd.DataFrame({"t": T, "y": 0.8 * T ** -0.3}).to_csv(path, index=False)
    assert main(["fit", str(path), "--family", "power", flag, value, "--out",
                 str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_number_labels_stay_as_written_and_missing_labels_are_said(tmp_path):
    import warnings

    from cramcog import psych

    path = tmp_path / "lab.csv"
    path.write_text("t,y,n,subject\n1,0.9,10,1\n2,0.8,10,1\n4,0.7,10,1\n"
                    "1,0.95,10,2\n2,0.85,10,2\n4,0.75,10,2\n8,0.6,10,\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = psych.load_csv(path, t="t", y="y", n="n", series=["subject"])
    assert "1" in ds.subject.values.tolist() and "1.0" not in ds.subject.values.tolist()
    assert any("no 'subject' label" in str(w.message) and "8" in str(w.message)
               for w in caught)


# --- issue 24 item 3: response times ----------------------------------------------------------

def test_response_times_fit_with_a_lognormal_likelihood_from_the_command_line(tmp_path, capsys):
    rt = [1276, 859, 824, 736, 695, 669, 611, 625, 598, 664, 594, 574]
    path = tmp_path / "rt.csv"
    path.write_text("block,rt\n" + "".join(f"{b},{v}\n" for b, v in enumerate(rt, 1)))
    assert main(["fit", str(path), "--t", "block", "--y", "rt", "--y-kind", "rt", "--family",
                 "power+c,power", "--ci", "wald", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "log-normal" in out and "gamma 0.914" in out
