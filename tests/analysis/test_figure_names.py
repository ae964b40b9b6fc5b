"""Names that come from records become plain file names under --out (issue 25, item 2)."""
import numpy as np

from cramcog import analysis, records

from .conftest import probe_run


def test_a_variant_named_like_a_path_stays_inside_the_output_folder(tmp_path, capsys):
    from cramcog.cli import main

    evil = "x/../../ESCAPED/pwned"
    ds = analysis.consolidation_record({evil: probe_run(np.full(10, 500.0), n_eval=8,
                                                        every=100)})
    records.save(ds, tmp_path / "c.nc")
    out = tmp_path / "deep" / "out"
    assert main(["figures", str(tmp_path / "c.nc"), "--out", str(out), "--human", "none"]) == 0
    written = [p for p in tmp_path.rglob("*.png")]
    assert written and all(p.parent == out for p in written)
    assert not (tmp_path / "ESCAPED").exists() and not (tmp_path / "deep" / "ESCAPED").exists()
    assert "written as" in capsys.readouterr().err
