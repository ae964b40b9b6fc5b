"""The CPU benchmark scripts run end to end on tiny shapes and write their records (the numbers
themselves are measured by running the scripts, never asserted in tests)."""
import importlib.util
import pathlib
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cramcog import records  # noqa: E402

BENCH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"


def _native_available() -> bool:
    from cramcog.kernels import ct_ode_native
    return ct_ode_native.available()


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_cram_uses_the_trained_routes_and_writes_a_record(tmp_path, capsys):
    bench = _load("bench_cram")
    cfg, fractions, source = bench.trained_routes(bench.RECORD)
    assert source.endswith("cram_small_seed0.nc") and fractions.shape == (2, 4, 3)
    batch = bench.test_batch(cfg, 512)
    tiers = bench.route_tiers(batch["category"], fractions)
    novel = batch["category"] == 3
    # the trained layer 0 sends every novel query to attention, layer 1 none
    assert (tiers[0][novel] == 1).all() and not (tiers[1][novel] == 1).any()
    out = tmp_path / "cram.nc"
    assert bench.main(["--lengths", "128", "--runs", "1", "--repeats", "1", "--threads", "1",
                       "--out", str(out)]) == 0
    ds = records.open(out)
    assert ds.ratio.dims == ("run", "threads", "seq_len", "variant")
    assert np.isfinite(ds.ratio.values).all() and (ds.cram_s.values > 0).all()
    assert "CRAM[ct_ode]" in capsys.readouterr().out


@pytest.mark.skipif(not _native_available(), reason="no working C compiler: bench_train times "
                    "the C loop against the reference")
def test_bench_train_writes_a_record(tmp_path):
    bench = _load("bench_train")
    out = tmp_path / "train.nc"
    assert bench.main(["--config", "tiny", "--runs", "1", "--repeats", "1", "--threads", "1",
                       "--out", str(out)]) == 0
    ds = records.open(out)
    assert ds.speedup.dims == ("run", "threads", "phase")
    assert np.isfinite(ds.speedup.values).all() and np.isfinite(ds.bf16_speedup.values).all()
    assert (ds.native_cpu_s.values > 0).all() and np.isfinite(ds.cpu_speedup.values).all()


def test_bench_train_vs_transformer_prints_a_ratio_per_length_and_writes_a_record(
        tmp_path, capsys):
    from cramcog.configs import named_config
    from cramcog.train import train
    run = tmp_path / "run"
    train(named_config("tiny", steps=2, eval_every=2, checkpoint_every=2), out_dir=run,
          progress=False)
    bench = _load("bench_train")
    out = tmp_path / "vs.nc"
    capsys.readouterr()
    assert bench.main(["--vs", "transformer", "--run", str(run), "--lengths", "32", "64",
                       "--repeats", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for n in (32, 64):   # exactly one ratio line per length
        lines = [ln for ln in printed.splitlines() if ln.startswith(f"train step N={n} ")]
        assert len(lines) == 1
        assert re.fullmatch(rf"train step N={n} CRAM/Transformer \d+\.\d\d", lines[0])
    ds = records.open(out)
    assert ds.attrs["record_kind"] == "benchmark"
    assert ds.length.dtype == np.int64 and ds.length.values.tolist() == [32, 64]
    # the tiny config's 2 x 64 tokens per step held at each length
    assert ds.batch_size.values.tolist() == [4, 2]
    for name in ("cram_cpu_s", "transformer_cpu_s", "ratio", "cram_wall_s",
                 "transformer_wall_s"):
        assert ds[name].dims == ("length",) and np.isfinite(ds[name].values).all()
    for name in ("cram_flops_per_token", "transformer_flops_per_token"):
        assert ds[name].dims == ("length", "component") and (ds[name].sum("component") > 0).all()
    assert ds.route_fraction.dims == ("length", "layer", "tier")
    np.testing.assert_allclose(ds.route_fraction.sum("tier"), 1.0, atol=1e-6)
    assert ((ds.attended_fraction >= 0) & (ds.attended_fraction <= 1)).all()


def test_bench_train_vs_transformer_names_a_missing_run_folder(tmp_path):
    bench = _load("bench_train")
    missing = tmp_path / "no_such_run"
    with pytest.raises(SystemExit) as err:
        bench.main(["--vs", "transformer", "--run", str(missing), "--lengths", "32"])
    message = str(err.value)
    assert str(missing) in message and "does not exist" in message
    assert f"cramcog train --config small --out {missing}" in message
