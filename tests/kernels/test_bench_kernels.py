"""The GPU benchmark script: its CPU fallback and its target bookkeeping."""
import importlib.util
import pathlib

import pytest
import torch

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "bench_kernels.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_kernels", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU path")
def test_cpu_fallback_says_no_gpu_and_exits_zero(bench, capsys):
    assert bench.main([]) == 0
    out = capsys.readouterr().out
    assert "no GPU" in out and "CPU smoke run ok" in out


def test_device_peaks_lookup_and_override(bench):
    assert bench.device_peaks("NVIDIA H100 80GB HBM3") == (989.0, 3.35)
    assert bench.device_peaks("NVIDIA H100 PCIe")[0] == 756.0
    assert bench.device_peaks("Mystery GPU") == (None, None)
    assert bench.device_peaks("Mystery GPU", 100.0, 1.0) == (100.0, 1.0)


def test_targets_pass_and_fail(bench, capsys):
    row = dict(section="routed_attention", variant="kernel", N=8192, routed_fraction=0.016,
               ratio_fwd=0.04)
    full = dict(row, variant="dispatch", routed_fraction=1.0, ratio_fwd=1.2)
    assert bench.check_targets([row, full])
    assert not bench.check_targets([dict(row, ratio_fwd=0.2), full])
    assert not bench.check_targets([row, dict(full, ratio_fwd=2.0)])
    assert "FAIL" in capsys.readouterr().out


def test_bad_arguments_are_rejected(bench):
    with pytest.raises(SystemExit):
        bench.parse_args(["--fractions", "0"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--batch", "0"])
