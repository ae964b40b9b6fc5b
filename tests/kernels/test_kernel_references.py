"""The plain-torch references against naive oracles (forward and every gradient, float64)."""
import doctest
import importlib

import pytest
import torch

from cramcog.kernels import (ct_ode_scan, ct_ode_scan_naive, ct_ode_scan_ref, routed_attention,
                             routed_attention_naive, routed_attention_ref, selective_scan,
                             selective_scan_naive, selective_scan_ref, use_backend)
from kernels_testutil import rel_err, routed_indices

F64 = torch.float64


def _attention_case(B, N, H, Dh, fraction, seed, force=(), dtype=F64):
    g = torch.Generator().manual_seed(seed)
    batch_idx, pos = routed_indices(B, N, fraction, g, force)
    q = torch.randn(len(pos), H, Dh, generator=g, dtype=F64).to(dtype).requires_grad_()
    k = torch.randn(B, N, H, Dh, generator=g, dtype=F64).to(dtype).requires_grad_()
    v = torch.randn(B, N, H, Dh, generator=g, dtype=F64).to(dtype).requires_grad_()
    return q, k, v, batch_idx, pos, g


@pytest.mark.parametrize("B,N,fraction,window,force", [
    (2, 13, 0.3, None, ()),
    (3, 17, 0.2, 4, ((1, 0),)),          # one sequence with nothing routed
    (2, 9, 1.0, None, ()),               # everything routed: dense fast path
    (2, 9, 1.0, 3, ()),                  # everything routed with a window
    (2, 11, 0.5, 1, ()),                 # window 1: each query sees only itself
    (1, 6, 0.5, 100, ()),                # window larger than N
])
def test_routed_attention_ref_matches_dense_oracle(B, N, fraction, window, force):
    q, k, v, batch_idx, pos, g = _attention_case(B, N, 2, 5, fraction, seed=N, force=force)
    out = routed_attention_ref(q, k, v, batch_idx, pos, window, scale=0.7)
    expected = routed_attention_naive(q, k, v, batch_idx, pos, window, scale=0.7)
    assert rel_err(out, expected) < 1e-10
    cot = torch.randn(out.shape, generator=g, dtype=F64)
    got = torch.autograd.grad(out, (q, k, v), cot)
    want = torch.autograd.grad(expected, (q, k, v), cot)
    for a, e in zip(got, want):
        assert rel_err(a, e) < 1e-8


def test_routed_attention_zero_queries_gives_zero_grads():
    q, k, v, batch_idx, pos, g = _attention_case(2, 5, 1, 3, 0.0, seed=0)
    out = routed_attention(q, k, v, batch_idx, pos)
    assert out.shape == (0, 1, 3)
    dq, dk, dv = torch.autograd.grad(out.sum(), (q, k, v))
    assert dk.abs().max() == 0 and dv.abs().max() == 0 and dq.shape == (0, 1, 3)


def test_routed_attention_validates_inputs():
    q, k, v, batch_idx, pos, _ = _attention_case(1, 6, 1, 2, 0.5, seed=0, dtype=torch.float32)
    with pytest.raises(ValueError, match="sorted"):
        routed_attention(q, k, v, batch_idx, pos.flip(0))
    with pytest.raises(ValueError, match="pos must lie"):
        routed_attention(q, k, v, batch_idx, pos + 6)
    with pytest.raises(TypeError, match="int64"):
        routed_attention(q, k, v, batch_idx.int(), pos)
    with pytest.raises(ValueError, match="window"):
        routed_attention(q, k, v, batch_idx, pos, window=0)
    with pytest.raises(ValueError, match=r"\(M,H,Dh\)"):
        routed_attention(q[0], k, v, batch_idx, pos)
    with pytest.raises(ValueError, match="backend"):
        routed_attention(q, k, v, batch_idx, pos, backend="cuda")
    with pytest.raises(ValueError, match="mamba"):
        routed_attention(q, k, v, batch_idx, pos, backend="mamba")


def _ct_ode_case(B, N, C, G, seed, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(B, N, C, generator=g, dtype=F64).to(dtype).requires_grad_()
    gate = torch.rand(B, N, C, generator=g, dtype=F64).to(dtype).requires_grad_()
    w = (torch.randn(G, C // G, C // G, generator=g, dtype=F64) / (C // G) ** 0.5).to(dtype)
    w.requires_grad_()
    h0 = (0.5 * torch.randn(B, C, generator=g, dtype=F64)).to(dtype).requires_grad_()
    return (u, gate, w, h0), g


@pytest.mark.parametrize("B,N,C,G,K,dt", [(2, 7, 6, 1, 1, 0.5), (3, 5, 8, 4, 3, 0.3),
                                          (1, 1, 4, 2, 2, 1.0)])
def test_ct_ode_ref_matches_python_loop(B, N, C, G, K, dt):
    inputs, g = _ct_ode_case(B, N, C, G, seed=B * N)
    out = ct_ode_scan_ref(*inputs, K, dt)
    expected = ct_ode_scan_naive(*inputs, K, dt)
    assert out.dtype == F64 or rel_err(out, expected) < 1e-6
    # the reference computes in float32 internally
    assert rel_err(out, expected) < 1e-5
    cot = torch.randn(out.shape, generator=g, dtype=F64)
    for a, e in zip(torch.autograd.grad(out, inputs, cot), torch.autograd.grad(expected, inputs, cot)):
        assert rel_err(a, e) < 1e-5


def test_ct_ode_validates_inputs():
    (u, gate, w, h0), _ = _ct_ode_case(1, 3, 4, 2, seed=0, dtype=torch.float32)
    with pytest.raises(ValueError, match="w_rec"):
        ct_ode_scan(u, gate, w[:, :1], h0, 1, 0.1)
    with pytest.raises(ValueError, match="n_substeps"):
        ct_ode_scan(u, gate, w, h0, 0, 0.1)
    with pytest.raises(ValueError, match="dt"):
        ct_ode_scan(u, gate, w, h0, 1, -1.0)
    with pytest.raises(ValueError, match="h0"):
        ct_ode_scan(u, gate, w, h0[:, :2], 1, 0.1)
    with pytest.raises(TypeError, match="dtype"):
        ct_ode_scan(u, gate.double(), w, h0, 1, 0.1)


def _ssm_case(B, C, L, S, seed, extras=True, dtype=F64):
    g = torch.Generator().manual_seed(seed)

    def r(*shape, scale=1.0):
        return (scale * torch.randn(*shape, generator=g, dtype=F64)).to(dtype).requires_grad_()
    args = dict(u=r(B, C, L), delta=(0.5 * torch.rand(B, C, L, generator=g, dtype=F64)).to(dtype),
                A=(-torch.rand(C, S, generator=g, dtype=F64) * 2).to(dtype), Bm=r(B, S, L),
                Cm=r(B, S, L))
    args["delta"].requires_grad_()
    args["A"].requires_grad_()
    if extras:
        args.update(D=r(C), z=r(B, C, L), delta_bias=r(C, scale=0.3), delta_softplus=True)
    return args, g


@pytest.mark.parametrize("extras", [False, True])
def test_selective_scan_ref_matches_step_loop(extras):
    args, g = _ssm_case(2, 3, 9, 4, seed=5, extras=extras)
    out = selective_scan_ref(**args)
    expected = selective_scan_naive(**args)
    assert rel_err(out, expected) < 1e-5
    tensors = [t for t in args.values() if isinstance(t, torch.Tensor)]
    cot = torch.randn(out.shape, generator=g, dtype=F64)
    for a, e in zip(torch.autograd.grad(out, tensors, cot), torch.autograd.grad(expected, tensors, cot)):
        assert rel_err(a, e) < 1e-5


def test_selective_scan_validates_inputs():
    args, _ = _ssm_case(1, 2, 4, 3, seed=0, extras=False, dtype=torch.float32)
    with pytest.raises(ValueError, match="Bm"):
        selective_scan(**{**args, "Bm": args["Bm"][:, :2]})
    with pytest.raises(ValueError, match="A must be"):
        selective_scan(**{**args, "A": args["A"][0]})
    with pytest.raises(ValueError, match="D must"):
        selective_scan(**args, D=torch.ones(5))
    with pytest.raises(ValueError, match="CUDA"):
        selective_scan(**args, backend="mamba")


def test_backend_context_and_errors():
    with pytest.raises(ValueError, match="backend must be"):
        with use_backend("gpu"):
            pass


@pytest.mark.parametrize("module", ["flops", "ops", "alloc", "routed_attention_ref", "ct_ode_ref",
                                    "selective_scan_ref", "native", "ct_ode_native", "linear_scan_native", ""])
def test_docstring_examples_run(module):
    mod = importlib.import_module("cramcog.kernels" + ("." + module if module else ""))
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_ct_ode_ref_leaves_its_inputs_untouched():
    # N = 1, G = 1 makes the internal step layout a view of the input: it must still be copied
    (u, gate, w, h0), _ = _ct_ode_case(2, 1, 4, 1, seed=3, dtype=torch.float32)
    before = [t.detach().clone() for t in (u, gate, w, h0)]
    ct_ode_scan_ref(u, gate, w, h0, 2, 0.3).sum().backward()
    assert all(torch.equal(a, b) for a, b in zip((u, gate, w, h0), before))


def test_import_is_light():
    import subprocess
    import sys
    code = "import sys, cramcog.kernels; print('triton' in sys.modules, 'mamba_ssm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_auto_backend_choices(monkeypatch):
    import importlib.util

    from cramcog.kernels import ops
    real_find_spec = importlib.util.find_spec
    # pretend mamba-ssm is installed but cannot import (no CUDA here): fall back to Triton
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name == "mamba_ssm" else real_find_spec(name, *a))
    ops._auto_backend.cache_clear()
    try:
        assert ops._auto_backend("selective_scan", "cuda") == "triton"
        assert ops._auto_backend("routed_attention", "cuda") == "triton"
        # the compiled C loop where a C compiler works (tests/kernels/test_ct_ode_native.py)
        assert ops._auto_backend("ct_ode_scan", "cpu") == (
            "native" if ops._native_available("ct_ode_scan") else "torch")
        assert ops._auto_backend("selective_scan", "cpu") == "torch"
    finally:
        ops._auto_backend.cache_clear()
