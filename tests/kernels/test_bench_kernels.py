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


@pytest.mark.skipif(torch.cuda.is_available(), reason="the GPU runs the real benchmark")
def test_gpu_sections_run_end_to_end_on_tiny_shapes(bench, monkeypatch, capsys):
    # the GPU code paths, on CPU tensors through the Triton interpreter, each timing a single call
    import os
    if os.environ.get("TRITON_INTERPRET", "0") in ("", "0"):
        pytest.skip("needs TRITON_INTERPRET=1 (set by tests/kernels/conftest.py)")
    monkeypatch.setattr(bench, "bench", lambda fn: (fn(), 1.0)[1])
    monkeypatch.setattr(bench, "bench_graph", lambda fn: 0.5)
    monkeypatch.setattr(bench, "ODE_SIZES", dict(B=2, C=8, K=2, lengths=(5,), groups=(1, 4)))
    monkeypatch.setattr(bench, "SSM_SIZES", dict(B=1, C=4, S=2, lengths=(6,)))
    args = bench.parse_args(["--batch", "2", "--heads", "1", "--head-dim", "16", "--lengths",
                             "40", "--fractions", "0.1", "1.0", "--window", "9"])
    gen = torch.Generator().manual_seed(0)
    att = bench.attention_rows(args, torch.float32, (100.0, 1.0), gen, device="cpu")
    assert [(r["variant"], r["routed_fraction"]) for r in att] == [
        ("kernel", 0.1), ("kernel", 1.0), ("dispatch", 1.0)]
    assert att[0]["flops_ratio"] < 0.5 and att[1]["flops_ratio"] == pytest.approx(1.0)
    ode = bench.ct_ode_rows(args, torch.float32, gen, device="cpu")
    ssm = bench.ssm_rows(args, torch.float32, gen, device="cpu")
    assert len(ode) == 2 and {r["backend"] for r in ssm} == {"triton", "torch"}
    bench.print_table(att, ["variant", "N", "ratio_fwd", "ratio_fwd_graph", "tflops"])
    assert "| kernel | 40 |" in capsys.readouterr().out
