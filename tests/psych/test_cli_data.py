"""`cramcog data list|show`: the bundled data sets from the command line."""
from __future__ import annotations

import pytest

from cramcog import psych
from cramcog.cli import main


def test_data_list_prints_every_name(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in psych.list():
        assert name in out
    assert main(["data", "list", "--kind", "table"]) == 0
    out = capsys.readouterr().out
    assert "published_constants" in out and "ebbinghaus_1885" not in out


def test_data_show_prints_citation_reliability_and_values(capsys):
    assert main(["data", "show", "ebbinghaus_1885"]) == 0
    out = capsys.readouterr().out
    assert "Ebbinghaus, H. (1885)" in out and "EXACT transcription" in out
    assert "k': 1.84" in out and "44640" in out and "58.2" in out
    assert main(["data", "show", "murre_dros_2015", "--csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("series,interval_label") and len(lines) == 29


def test_data_show_unknown_name_is_a_clear_error(capsys):
    assert main(["data", "show", "ebinghaus"]) == 2
    err = capsys.readouterr().err
    assert "unknown human data set 'ebinghaus'" in err and "ebbinghaus_1885" in err


def test_data_without_action_prints_help(capsys):
    assert main(["data"]) == 2
    assert "list" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["data", "show"])  # NAME is required: argparse exits with usage


def test_data_shapes_prints_the_ranked_families(capsys, tmp_path):
    out = tmp_path / "shapes.csv"
    assert main(["data", "shapes", "--human", "zbrodoff_1995_alpha_arithmetic", "--ci", "wald",
                 "--top", "2", "--csv", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("| human curve |") and "zbrodoff_1995_alpha_arithmetic" in text
    import pandas as pd
    table = pd.read_csv(out)
    assert table["rank"].min() == 1 and "shape_param" in table.columns


def test_data_list_filters_by_paradigm(capsys):
    assert main(["data", "list", "--paradigm", "episodic_semantic"]) == 0
    out = capsys.readouterr().out
    assert "zbrodoff_1995_alpha_arithmetic" in out and "ebbinghaus_1885" not in out
