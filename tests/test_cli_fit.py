"""`cramcog fit FILE.csv`: table on stdout, a record and a figure per curve, clear errors."""
from __future__ import annotations

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
