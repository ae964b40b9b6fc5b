"""The CPU benchmark scripts run end to end on tiny shapes and write their records (the numbers
themselves are measured by running the scripts, never asserted in tests)."""
import importlib.util
import pathlib

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
