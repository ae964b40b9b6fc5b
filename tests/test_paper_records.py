"""The committed records: they say what made them without naming this machine's folders, and
the tables the docs print from them are what the records give today."""
import re
from pathlib import Path

import numpy as np
import pytest

from cramcog import records

ROOT = Path(__file__).resolve().parents[1]
RECORDS = sorted((ROOT / "paper" / "records").rglob("*.nc"))
ABSOLUTE = re.compile(r"(?<![\w.])/(?:work|home|tmp|root|Users|mnt)/")


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple, np.ndarray)):
        for v in np.asarray(value, dtype=object).ravel():
            yield from _strings(v)


@pytest.mark.parametrize("path", RECORDS, ids=[str(p.relative_to(ROOT)) for p in RECORDS])
def test_a_committed_record_names_no_absolute_path(path):
    ds = records.open(path)
    found = [f"attr {k}" for k, v in ds.attrs.items() if any(ABSOLUTE.search(s)
                                                           for s in _strings(v))]
    for name, var in ds.variables.items():
        if var.dtype.kind in "OUS" and var.size < 10_000:
            if any(ABSOLUTE.search(s) for s in _strings(var.values)):
                found.append(f"variable {name}")
    assert not found, f"{path.name}: absolute paths in {found} (write paths relative to the repo)"


def test_the_docs_print_the_tables_the_records_give():
    from cramcog.analysis.lengths import length_comparison, length_table
    from cramcog.analysis.operating import operating_point_table

    rec = ROOT / "paper" / "records"
    lengths = length_table(length_comparison([records.open(rec / "consolidation.nc"),
                                              records.open(rec / "consolidation_n2048.nc")]))
    operating = operating_point_table(records.open(rec / "operating_point.nc"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    reproduction = (ROOT / "paper" / "REPRODUCTION.md").read_text(encoding="utf-8")
    assert lengths in readme, "README's N=256 vs N=2048 table differs from `cramcog lengths`"
    assert lengths in reproduction, "REPRODUCTION's length table differs from `cramcog lengths`"
    assert operating in reproduction, ("REPRODUCTION's operating-point table differs from "
                                       "`cramcog operating-point`")


def test_the_docs_give_the_item_practice_equivalence_the_zipf_record_gives():
    from cramcog.analysis.items import item_practice_equivalence

    result = item_practice_equivalence(records.open(ROOT / "paper" / "records"
                                                    / "consolidation_zipf.nc"))
    interval = f"[{result['difference_low']:+.2f}, {result['difference_high']:+.2f}]"
    for doc in ("README.md", "paper/REPRODUCTION.md"):
        text = " ".join((ROOT / doc).read_text(encoding="utf-8").split())   # lines joined
        assert interval in text and f"p = {result['tost_p']:.2g}" in text, doc
        assert result["verdict"] in text, doc
        assert "in the range of people" not in text, doc
