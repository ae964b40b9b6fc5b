"""Issue 25, item 9 (part): group fits say when rows are dropped or counted twice."""
import numpy as np
import pandas as pd
import pytest

from cramcog.dynamics import fit_consolidation_curve

T = np.array([1.0, 2, 4, 8, 16, 32])


def _table():
    rows = [{"subject": s, "t": t, "y": 0.9 * t ** -g}
            for s, g in (("a", 0.2), ("b", 0.4), ("c", 0.3)) for t in T]
    return pd.DataFrame(rows)


def test_rows_without_a_subject_label_are_named_not_dropped_silently():
    df = _table()
    df.loc[3, "subject"] = None
    with pytest.warns(UserWarning, match=r"1 row\(s\) without a subject label.*dropped"):
        fit_consolidation_curve("t", "y", data=df, by="subject", family="power", ci="wald")


def test_duplicated_subject_and_delay_rows_warn():
    df = pd.concat([_table(), _table().iloc[[0]]], ignore_index=True)
    with pytest.warns(UserWarning, match=r"repeat a delay within one curve.*subject=a, t=1"):
        fit_consolidation_curve("t", "y", data=df, by="subject", family="power", ci="wald")
