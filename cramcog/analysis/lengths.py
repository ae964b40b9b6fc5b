"""The same study at two sequence lengths, side by side: one row per measure, one column per
consolidation record (N = 256, N = 2048, ...), each cell the mean and range over test seeds.

Every number is read from the consolidation records (:func:`consolidation_record`, which keep
the per-run numbers of CRAM, CRAM without consolidation, MoD-like and the dense Transformer);
nothing is recomputed from training runs here. Ratios "vs the Transformer" pair runs by seed
(CRAM seed s over Transformer seed s), then summarise the ratios.

Examples
--------
>>> import numpy as np, xarray as xr
>>> def record(n, fall):
...     v = lambda x: (("variant", "seed"), np.array(x, float))
...     return xr.Dataset({"test_dynamics_mse": v([[1.0, 2.0], [0.5, 1.0]]),
...                        "attention_fall_from_peak": v([[fall, fall], [1.0, 1.0]])},
...                       coords={"variant": ["cram", "transformer"], "seed": [1, 2]},
...                       attrs={"seq_len": n})
>>> t = length_comparison([record(256, 40.0), record(2048, 130.0)])
>>> float(t.set_index(["measure", "column"]).loc[("Dynamics MSE, CRAM / Transformer", "N=2048"), "mean"])
2.0
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from cramcog.analysis.runs import AnalysisError

CRAM, NO_CONSOLIDATION, MOD_LIKE, TRANSFORMER = ("cram", "cram_no_consolidation", "mod_like",
                                                 "transformer")
# names a record may give the same variant (the command line's NAME= or the config's label)
ALIASES = {NO_CONSOLIDATION: ("cram_no_consolidation", "no_consolidation"),
           MOD_LIKE: ("mod_like",), CRAM: ("cram",), TRANSFORMER: ("transformer",)}


@dataclass(frozen=True)
class Measure:
    """One row: ``values(record) -> per-seed numbers`` and how to show them."""
    name: str
    values: Callable[[xr.Dataset], np.ndarray]
    fmt: str = "{:.3f}"          # format of mean, low and high
    count: bool = False          # show "k / n" (a 0/1 measure) instead of mean [range]


def _variant(ds: xr.Dataset, variant: str) -> str | None:
    names = [str(v) for v in ds["variant"].values]
    for alias in ALIASES.get(variant, (variant,)):
        if alias in names:
            return alias
    return None


def per_seed(ds: xr.Dataset, variant: str, var: str) -> np.ndarray:
    """The per-seed values of ``var`` for ``variant`` (empty if the record lacks either)."""
    name = _variant(ds, variant)
    if name is None or var not in ds:
        return np.array([])
    return np.asarray(ds[var].sel(variant=name).values, dtype=float)


def vs_transformer(ds: xr.Dataset, variant: str, var: str) -> np.ndarray:
    """``variant``'s ``var`` over the Transformer's, seed by seed (empty without both)."""
    a, b = per_seed(ds, variant, var), per_seed(ds, TRANSFORMER, var)
    if not a.size or not b.size:
        return np.array([])
    with np.errstate(invalid="ignore", divide="ignore"):
        return a / b


def _col(variant: str, var: str, scale: float = 1.0) -> Callable[[xr.Dataset], np.ndarray]:
    return lambda ds: per_seed(ds, variant, var) * scale


MEASURES: tuple[Measure, ...] = (
    Measure("accuracy recurring, CRAM (%)", _col(CRAM, "test_accuracy_recurring", 100), "{:.1f}"),
    Measure("accuracy novel, CRAM (%)", _col(CRAM, "test_accuracy_novel", 100), "{:.1f}"),
    Measure("recurring queries attending, CRAM", _col(CRAM, "test_recurring_attended")),
    Measure("recurring queries attending, no consolidation",
            _col(NO_CONSOLIDATION, "test_recurring_attended")),
    Measure("novel queries attending, CRAM", _col(CRAM, "test_novel_attended")),
    Measure("retrieving layer x floor, CRAM",
            _col(CRAM, "retrieving_layer_attention_over_floor"), "{:.2f}"),
    Measure("selective, CRAM", _col(CRAM, "selective_consolidation"), count=True),
    Measure("selective, no consolidation", _col(NO_CONSOLIDATION, "selective_consolidation"),
            count=True),
    Measure("selective, MoD-like", _col(MOD_LIKE, "selective_consolidation"), count=True),
    Measure("warm-up end (step), CRAM", _col(CRAM, "warmup_end_step"), "{:.0f}"),
    Measure("recurring queries half off attention (step, from 0), CRAM",
            _col(CRAM, "half_off_step"), "{:.0f}"),
    Measure("the same after the warm-up end (step), CRAM", _col(CRAM, "transition_step"),
            "{:.0f}"),
    Measure("switch exposures per pattern (median), CRAM", _col(CRAM, "switch_exposures"),
            "{:.0f}"),
    Measure("fall from warm-up end, CRAM", _col(CRAM, "fall_from_warmup_end"), "{:.2f}"),
    Measure("fall from warm-up end, no consolidation",
            _col(NO_CONSOLIDATION, "fall_from_warmup_end"), "{:.2f}"),
    Measure("ceiling of that fall", _col(CRAM, "fall_ceiling"), "{:.2f}"),
    Measure("peak-to-end attention fall (paper's measure), CRAM",
            _col(CRAM, "attention_fall_from_peak"), "{:.1f}"),
    Measure("peak-to-end attention fall, no consolidation",
            _col(NO_CONSOLIDATION, "attention_fall_from_peak"), "{:.1f}"),
    Measure("ceiling of that fall (peak x layers / floor), CRAM",
            _col(CRAM, "attention_fall_from_peak_ceiling"), "{:.1f}"),
    Measure("executed FLOPs/token on test, CRAM / Transformer", _col(CRAM, "test_flops_ratio")),
    Measure("whole-run executed FLOPs, CRAM / Transformer", _col(CRAM, "run_flops_ratio")),
    Measure("Dynamics MSE, CRAM", _col(CRAM, "test_dynamics_mse"), "{:.4f}"),
    Measure("Dynamics MSE, Transformer", _col(TRANSFORMER, "test_dynamics_mse"), "{:.4f}"),
    Measure("Dynamics MSE, CRAM / Transformer",
            lambda ds: vs_transformer(ds, CRAM, "test_dynamics_mse"), "{:.2f}"),
    Measure("training wall time, CRAM (s)", _col(CRAM, "wall_seconds"), "{:.0f}"),
    Measure("training wall time, Transformer (s)", _col(TRANSFORMER, "wall_seconds"), "{:.0f}"),
    Measure("training wall time, CRAM / Transformer",
            lambda ds: vs_transformer(ds, CRAM, "wall_seconds"), "{:.2f}"),
)


def _label(ds: xr.Dataset) -> str:
    n = ds.attrs.get("seq_len")
    if n is None or int(n) < 0:
        raise AnalysisError("length_comparison: a record has no seq_len attribute (rebuild it "
                            "with `cramcog consolidation`, which records the runs' length)")
    return f"N={int(n)}"


def length_comparison(records: Sequence[xr.Dataset],
                      measures: Sequence[Measure] = MEASURES) -> pd.DataFrame:
    """Tidy frame of every measure for every record.

    Parameters
    ----------
    records
        Consolidation records, one per sequence length (attribute ``seq_len``).
    measures
        Rows (default :data:`MEASURES`).

    Returns
    -------
    pandas.DataFrame
        Columns ``measure, column, n, mean, low, high, count, text``: ``n`` finite per-seed
        values, their mean and range; ``count`` the number of seeds at 1 for a 0/1 measure;
        ``text`` what the table shows ("-" where the record lacks the variant; "(n=k)" where no
        range is visible or fewer seeds than the record's gave a number).
    """
    labels = [_label(ds) for ds in records]
    n_seeds = [int(ds.sizes.get("seed", 0)) for ds in records]
    if len(set(labels)) != len(labels):
        raise AnalysisError(f"length_comparison: two records have the same length {labels}")
    rows = []
    for m in measures:
        for label, ds, seeds in zip(labels, records, n_seeds):
            v = np.asarray(m.values(ds), dtype=float)
            v = v[np.isfinite(v)]
            row = {"measure": m.name, "column": label, "n": int(v.size),
                   "mean": float(v.mean()) if v.size else np.nan,
                   "low": float(v.min()) if v.size else np.nan,
                   "high": float(v.max()) if v.size else np.nan,
                   "count": int((v == 1).sum()) if m.count else np.nan}
            if not v.size:
                row["text"] = "-"
            elif m.count:
                row["text"] = f"{row['count']} / {v.size}"
            elif m.fmt.format(row["low"]) == m.fmt.format(row["high"]):   # no visible range
                shown = v.size > 1 or v.size < seeds
                row["text"] = m.fmt.format(row["mean"]) + (f" (n={v.size})" if shown else "")
            else:
                row["text"] = (f"{m.fmt.format(row['mean'])} "
                               f"[{m.fmt.format(row['low'])}, {m.fmt.format(row['high'])}]")
                if v.size < seeds:   # fewer runs than the record's seeds: say how many
                    row["text"] += f" (n={v.size})"
            rows.append(row)
    return pd.DataFrame(rows)


def length_table(frame: pd.DataFrame) -> str:
    """The markdown table of :func:`length_comparison`: measures down, lengths across, each cell
    "mean [min, max]" over seeds (or "k / n" seeds for a 0/1 measure).

    Examples
    --------
    >>> f = pd.DataFrame({"measure": ["a", "a"], "column": ["N=256", "N=2048"],
    ...                   "text": ["1.0 [0.9, 1.1]", "2.0"]})
    >>> print(length_table(f))
    | measure | N=256 | N=2048 |
    |---|---|---|
    | a | 1.0 [0.9, 1.1] | 2.0 |
    """
    columns = list(dict.fromkeys(frame["column"]))
    wide = frame.pivot(index="measure", columns="column", values="text")
    wide = wide.loc[list(dict.fromkeys(frame["measure"])), columns]
    lines = ["| measure | " + " | ".join(columns) + " |",
             "|---|" + "---|" * len(columns)]
    lines += [f"| {name} | " + " | ".join(row) + " |" for name, row in
              zip(wide.index, wide.values.tolist())]
    return "\n".join(lines)
