"""Records: round trips, validation and atomic writes."""
import json
import os

import numpy as np
import pytest
import xarray as xr

from cramcog import records
from cramcog.records import RecordError


def _training_record():
    steps = np.array([0, 10, 20], dtype="int64")
    layers = np.array(["L0", "L1"])
    return records.new_record(
        {"attention_fraction": (("step", "layer"), np.linspace(0, 1, 6).reshape(3, 2),
                                {"units": "fraction of tokens", "long_name": "attention use"}),
         "loss": (("step",), np.array([2.0, 1.0, 0.5]))},
        coords={"step": ("step", steps, {"units": "optimizer steps"}), "layer": layers},
        kind="training", config={"lr": 3e-4, "layers": [2, 3], "nested": {"a": None}}, seed=7,
        attrs={"attention_floor": 0.015, "uses_replay": True, "note": None})


def test_round_trip_keeps_int64_string_dims_and_json(tmp_path):
    ds = _training_record()
    path = records.save(ds, tmp_path / "sub" / "run.nc")
    back = records.open(path)
    assert back["step"].dtype == np.int64
    assert list(back["layer"].values) == ["L0", "L1"]
    assert back.cram.config == {"lr": 3e-4, "layers": [2, 3], "nested": {"a": None}}
    assert back.attrs["uses_replay"] == 1 and back.attrs["note"] == ""
    assert back.attrs["seed"] == 7 and back.cram.kind == "training"
    assert back["step"].attrs["units"] == "optimizer steps"
    xr.testing.assert_identical(back.drop_attrs(), ds.drop_attrs())


def test_records_are_compressed_losslessly_and_resave_cleanly(tmp_path):
    rng = np.random.default_rng(0)
    ds = records.new_record(
        {"attention_fraction": (("step",), np.round(rng.random(4000), 3))},
        coords={"step": np.arange(4000, dtype="int64")}, kind="training", seed=0)
    path = records.save(ds, tmp_path / "a.nc")
    ds.to_netcdf(tmp_path / "plain.nc", engine=records.ENGINE, format="NETCDF4")
    assert path.stat().st_size < 0.8 * (tmp_path / "plain.nc").stat().st_size
    back = records.open(path)
    np.testing.assert_array_equal(back.attention_fraction, ds.attention_fraction)
    # a flag stored as int8, stacked with a run that lacks it (NaN), must keep the NaN: the
    # dtype it was read with is not reused (it cast NaN to garbage integers once)
    flags = records.new_record({"flag": (("step",), np.array([1, 0], dtype="int8"))},
                               coords={"step": np.arange(2, dtype="int64")}, kind="training",
                               seed=0)
    read = records.open(records.save(flags, tmp_path / "f.nc"))
    stacked = xr.concat([read, read.where(False)], dim="seed")
    again = records.open(records.save(stacked, tmp_path / "g.nc"))
    np.testing.assert_array_equal(again.flag.values, [[1, 0], [np.nan, np.nan]])
    # a record read from disk, cut to another shape, writes again (no stale chunk encodings)
    cut = records.save(back.isel(step=slice(0, 10)), tmp_path / "b.nc")
    assert records.open(cut).sizes["step"] == 10


def test_save_is_atomic_old_file_survives_a_failed_write(tmp_path, monkeypatch):
    path = tmp_path / "run.nc"
    records.save(_training_record(), path)
    before = path.read_bytes()

    def boom(self, *a, **k):
        with open(a[0], "wb") as f:  # half a file, then a crash
            f.write(b"CDF")
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_netcdf", boom)
    with pytest.raises(KeyboardInterrupt):
        records.save(_training_record(), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.nc"]  # no temp litter


def test_open_gives_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no record"):
        records.open(tmp_path / "missing.nc")
    junk = tmp_path / "junk.nc"
    junk.write_bytes(b"this is not netcdf")
    with pytest.raises(RecordError, match="not a readable netCDF"):
        records.open(junk)
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"x": ("t", np.arange(3))}).to_netcdf(foreign, engine="netcdf4")
    with pytest.raises(RecordError, match="not a cramcog record"):
        records.open(foreign)


def test_validate_rejects_unflat_attrs_and_bad_json():
    ds = _training_record()
    ds.attrs["bad"] = {"a": 1}
    with pytest.raises(RecordError, match="bad"):
        records.validate(ds)
    ds = _training_record()
    ds.attrs["config_json"] = "{not json"
    with pytest.raises(RecordError, match="config_json"):
        records.validate(ds)
    with pytest.raises(RecordError, match="kind"):
        records.new_record({}, kind="nonsense")


def test_flatten_attr_rules():
    assert records.flatten_attr(True) == 1
    assert records.flatten_attr(None) == ""
    assert json.loads(records.flatten_attr({"b": 1})) == {"b": 1}
    assert records.flatten_attr((1, 2.5)) == [1, 2.5]
    assert records.flatten_attr(np.float32(0.5)) == 0.5
    with pytest.raises(RecordError):
        records.flatten_attr([1, "a"])
    with pytest.raises(RecordError):
        records.flatten_attr(object())


def test_provenance_is_recorded():
    ds = _training_record()
    prov = ds.cram.provenance
    assert prov["cramcog_version"] and prov["created"] and prov["seed"] == 7


def test_import_cramcog_does_not_import_torch_or_triton():
    import subprocess
    import sys
    code = ("import sys, cramcog, cramcog.records, cramcog.cli; cramcog.cli.build_parser(); "
            "bad=[m for m in ('torch','triton') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})


def test_a_record_says_what_made_it():
    from cramcog import records

    ds = records.new_record({"x": (("i",), [1.0])}, kind="training", seed=3)
    prov = ds.cram.provenance
    for key in ("numpy_version", "scipy_version", "xarray_version", "torch_version", "os",
                "cpu", "python_version", "git_revision"):
        assert key in prov, key
    assert prov["numpy_version"] and prov["xarray_version"] and prov["os"]


def test_from_frame_builds_a_record_and_refuses_ambiguous_tables():
    import pandas as pd

    from cramcog.records import RecordError, from_frame
    t = pd.DataFrame({"curve": ["a", "a", "b"], "family": ["power", "exp", "power"],
                      "aic": [1.0, 2.0, 3.0], "verdict": ["x", "y", "z"],
                      "units": ["s", "s", "h"]})
    ds = from_frame(t, ("curve", "family"), kind="fit", dim_coords={"curve": ["units"]})
    assert ds["aic"].dims == ("curve", "family") and set(ds.data_vars) == {"aic", "verdict"}
    assert ds["verdict"].sel(curve="b", family="exp").item() == ""      # a missing text cell
    assert ds.attrs["record_kind"] == "fit"
    with pytest.raises(RecordError, match="two rows for the cell"):
        from_frame(pd.concat([t, t.iloc[:1]]), ("curve", "family"), kind="fit")
    with pytest.raises(RecordError, match="not in the table"):
        from_frame(t, ("subject",), kind="fit")
