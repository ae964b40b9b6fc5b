"""Where the reported operating point sits: the result over each knob of the router.

A knob sweep is an ablation record (``cramcog ablate router_threshold|router_q_gain|
compute_cost --base small|paper_cpu``: one variant per value, validation seeds). Each is turned
into per-run consolidation numbers (:func:`consolidation_record`: queries attending in the
retrieving layer, accuracies, selectivity, whole-run FLOPs...) and all sweeps are stacked into
ONE record with dims ``(seq_len, knob, level, seed)``: ``value(seq_len, knob, level)`` is the
knob's value at that level (levels sorted by value; NaN where a sweep has fewer values) and
``operating_value(seq_len, knob)`` the value the named config uses, the reported operating point.

Examples
--------
>>> import numpy as np, xarray as xr
>>> frame = operating_point_frame(xr.Dataset(
...     {"test_recurring_attended": (("seq_len", "knob", "level", "seed"),
...                                  np.array([[[[0.0, 0.1], [0.9, 1.0]]]]))},
...     coords={"seq_len": [256], "knob": ["compute_cost"], "level": [0, 1], "seed": [100, 101],
...             "value": (("seq_len", "knob", "level"), np.array([[[0.3, 1.0]]])),
...             "operating_value": (("seq_len", "knob"), np.array([[0.3]]))}))
>>> frame.groupby("value").number.mean().round(2).tolist()
[0.05, 0.95]
"""
from __future__ import annotations

import json
import warnings
from typing import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from cramcog.analysis.consolidation import consolidation_record
from cramcog.analysis.runs import AnalysisError

# per-run numbers of the consolidation record kept for every knob value
MEASURES = ("test_recurring_attended", "test_novel_attended", "test_accuracy_recurring",
            "test_accuracy_novel", "retrieving_layer_attention_over_floor",
            "selective_consolidation", "run_flops_ratio", "test_flops_ratio",
            "warmup_end_step", "half_off_step", "transition_step")


def _dotted(config: dict, key: str):
    value = config
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _operating_value(sweep: xr.Dataset, parameter: str) -> float:
    """The swept parameter's value in the base config the sweep ran from (the record's saved
    ``base``, ``--set`` overrides included): the reported operating point."""
    try:
        base = json.loads(sweep.attrs.get("config_json", "{}")).get("base")
    except json.JSONDecodeError:
        base = None
    if isinstance(base, str):       # a named config, no overrides
        from cramcog.configs import named_config

        base = named_config(base).to_dict()
    value = _dotted(base, parameter) if isinstance(base, dict) else None
    if value is None:
        raise AnalysisError(f"operating_point_record: sweep {sweep.attrs.get('grid_name')!r} "
                            f"saves no base config with {parameter!r} (an ablation record of "
                            "`cramcog ablate` has it in config_json['base'])")
    return float(value)


def operating_point_record(sweeps: Sequence[xr.Dataset]) -> xr.Dataset:
    """Stack knob sweeps (ablation records of one swept parameter each) into one record.

    Parameters
    ----------
    sweeps
        Ablation records (:func:`cramcog.experiments.ablations.run_grid`) of training runs with per-pattern
        probes, each sweeping one parameter (attrs ``grid_name`` and ``parameter``) from a named
        config; several sequence lengths may be mixed, one sweep per (length, knob).

    Returns
    -------
    xarray.Dataset
        A record of kind ``evaluation`` (``study = "operating_point"``), dims ``(seq_len, knob,
        level, seed)``, the :data:`MEASURES` as variables; see the module docstring.

    Examples
    --------
    >>> ds = operating_point_record([records.open("runs/op256/compute_cost/compute_cost.nc")])
    ...                                                                  # doctest: +SKIP
    >>> ds.value.sel(seq_len=256, knob="compute_cost").values            # doctest: +SKIP
    array([0. , 0.3, 1. ])
    """
    from cramcog import records

    cells: dict[tuple[int, str], tuple[np.ndarray, xr.Dataset, float, str]] = {}
    for sweep in sweeps:
        if sweep.attrs.get("record_kind") != "ablation" or not sweep.attrs.get("parameter"):
            raise AnalysisError("operating_point_record takes ablation records that sweep one "
                                "parameter (cramcog ablate GRID), got a "
                                f"{sweep.attrs.get('record_kind', 'non-cramcog')!r} record")
        knob, parameter = str(sweep.attrs["grid_name"]), str(sweep.attrs["parameter"])
        if "parameter_value" not in sweep.coords:
            raise AnalysisError(f"operating_point_record: sweep {knob!r} has no numeric "
                                "parameter_value per variant (a grid of named variants, not a "
                                "sweep of one value)")
        ok = sweep.sel(variant=[v for v in sweep.variant.values
                                if (sweep.status.sel(variant=v) == "ok").any()])
        if ok.sizes["variant"] == 0:
            raise AnalysisError(f"operating_point_record: no cell of sweep {knob!r} finished "
                                "(status ok); run it to the end (`cramcog ablate` resumes)")
        cons = consolidation_record(ok)
        values = np.asarray(ok["parameter_value"].sel(variant=cons.variant.values), dtype=float)
        key = (int(cons.attrs["seq_len"]), knob)
        if key in cells:
            raise AnalysisError(f"operating_point_record: two sweeps of {knob} at N={key[0]}")
        operating = _operating_value(sweep, parameter)
        if not np.isclose(values, operating).any():
            warnings.warn(f"operating_point_record: sweep {knob!r} at N={key[0]} does not run "
                          f"the base config's value {operating:g} (values {values.tolist()}): "
                          "no level is marked as the operating point", stacklevel=2)
        cells[key] = (values, cons, operating, parameter)
    if not cells:
        raise AnalysisError("operating_point_record: no sweeps given")
    lengths = sorted({n for n, _ in cells})
    knobs = list(dict.fromkeys(k for _, k in cells))
    seeds = sorted({int(s) for _, cons, _, _ in cells.values() for s in cons.seed.values})
    levels = max(len(v) for v, _, _, _ in cells.values())
    shape = (len(lengths), len(knobs), levels, len(seeds))
    grids = {m: np.full(shape, np.nan) for m in MEASURES}
    value = np.full(shape[:3], np.nan)
    operating = np.full(shape[:2], np.nan)
    parameters = {}
    for (n, knob), (values, cons, op, parameter) in cells.items():
        i, j = lengths.index(n), knobs.index(knob)
        order = np.argsort(values)
        value[i, j, :len(values)] = values[order]
        operating[i, j] = op
        parameters[knob] = parameter
        for level, v in enumerate(order):
            for seed in cons.seed.values:
                k = seeds.index(int(seed))
                for m in MEASURES:
                    if m in cons:
                        grids[m][i, j, level, k] = float(cons[m].isel(variant=v).sel(seed=seed))
    dims = ("seq_len", "knob", "level", "seed")
    data_vars = {m: (dims, grids[m], dict(cons[m].attrs) if m in cons else {})
                 for m in MEASURES}
    coords = {"seq_len": ("seq_len", np.array(lengths, dtype="int64")),
              "knob": ("knob", np.array(knobs, dtype=str)),
              "level": ("level", np.arange(levels, dtype="int64")),
              "seed": ("seed", np.array(seeds, dtype="int64")),
              "value": (("seq_len", "knob", "level"), value),
              "operating_value": (("seq_len", "knob"), operating)}
    attrs = {"study": "operating_point",
             "parameters": json.dumps(parameters),
             "what": "each knob swept alone from the named config (the others at their "
                     "operating values), validation seeds; test-split numbers in the "
                     "retrieving layer"}
    return records.new_record(data_vars, coords=coords, kind="evaluation", attrs=attrs)


def operating_point_frame(ds: xr.Dataset, measures: Sequence[str] | None = None
                          ) -> pd.DataFrame:
    """Tidy ``(seq_len, knob, value, operating, seed, measure, number)`` frame of an operating-
    point record (levels a sweep lacks dropped); ``operating`` marks the reported value."""
    measures = [m for m in (measures or MEASURES) if m in ds]
    if not measures:
        raise AnalysisError("operating_point_frame: the record has none of the measures "
                            f"{list(MEASURES)}")
    frames = []
    for m in measures:
        df = ds[m].to_dataframe(name="number").reset_index()
        df["measure"] = m
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    df = df.dropna(subset=["value"])
    df["operating"] = np.isclose(df["value"], df["operating_value"])
    return df[["seq_len", "knob", "value", "operating", "seed", "measure", "number"]]


# the table's columns: measure -> (header, format, as a count of seeds at 1)
TABLE = {"test_recurring_attended": ("recurring attending", "{:.3f}", False),
         "test_novel_attended": ("novel attending", "{:.3f}", False),
         "test_accuracy_recurring": ("accuracy recurring (%)", "{:.1f}", False),
         "test_accuracy_novel": ("accuracy novel (%)", "{:.1f}", False),
         "selective_consolidation": ("selective", "", True),
         "run_flops_ratio": ("whole-run FLOPs / Transformer", "{:.2f}", False),
         "test_flops_ratio": ("test FLOPs / Transformer", "{:.2f}", False)}


def operating_point_table(ds: xr.Dataset) -> str:
    """Markdown table of an operating-point record: a row per (length, knob, value), the seed
    mean and [min, max] of each :data:`TABLE` measure ("k / n" seeds for selectivity), the
    reported value in bold.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> v = np.array([[[[0.0, 0.1], [1.0, 1.0]]]])
    >>> ds = xr.Dataset({"test_recurring_attended": (("seq_len", "knob", "level", "seed"), v)},
    ...     coords={"seq_len": [256], "knob": ["q"], "level": [0, 1], "seed": [100, 101],
    ...             "value": (("seq_len", "knob", "level"), np.array([[[0.5, 0.83]]])),
    ...             "operating_value": (("seq_len", "knob"), np.array([[0.83]]))})
    >>> print(operating_point_table(ds))
    | N | knob | value | recurring attending |
    |---|---|---|---|
    | 256 | q | 0.5 | 0.050 [0.000, 0.100] |
    | 256 | q | **0.83** | 1.000 |
    """
    shown = [m for m in TABLE if m in ds]
    frame = operating_point_frame(ds, shown).dropna(subset=["number"])
    lines = ["| N | knob | value | " + " | ".join(TABLE[m][0] for m in shown) + " |",
             "|---|---|---|" + "---|" * len(shown)]
    keys = ["seq_len", "knob", "value", "operating"]
    for (n, knob, value, operating), rows in frame.groupby(keys, sort=False):
        cells = []
        for m in shown:
            v = rows.loc[rows.measure == m, "number"].to_numpy(dtype=float)
            header, fmt, count = TABLE[m]
            scale = 100.0 if "(%)" in header else 1.0
            if not v.size:
                cells.append("-")
            elif count:
                cells.append(f"{int((v == 1).sum())} / {v.size}")
            else:
                lo, mean, hi = (fmt.format(scale * x) for x in (v.min(), v.mean(), v.max()))
                cells.append(mean if lo == hi else f"{mean} [{lo}, {hi}]")
        shown_value = f"{value:g}"
        lines.append(f"| {n} | {knob} | {f'**{shown_value}**' if operating else shown_value} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)
