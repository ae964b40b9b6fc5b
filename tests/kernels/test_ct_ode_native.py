"""The compiled C CT-ODE loop (the CPU default where a compiler works) against the plain-torch
reference, its oracle: outputs and every gradient, odd shapes, thread counts, its tanh, the
build cache and the fallback to the reference."""
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from cramcog.kernels import ct_ode_scan, ct_ode_scan_naive, ct_ode_scan_ref, use_backend
from cramcog.kernels import ct_ode_native
from kernels_testutil import rel_err

needs_native = pytest.mark.skipif(not ct_ode_native.available(),
                                  reason="no working C compiler (the reference is used)")


def _case(B, N, C, G, seed, leak=True, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    Cg = C // G
    w = torch.randn(G, Cg, Cg, generator=g) / Cg ** 0.5
    if leak:   # the model's initialisation: W1 near -I (a contracting recurrence)
        w = w * 0.3 - torch.eye(Cg)
    raw = [torch.randn(B, N, C, generator=g), torch.rand(B, N, C, generator=g), w,
           torch.randn(B, C, generator=g)]
    return [t.to(dtype) for t in raw], torch.randn(B, N, C, generator=g, dtype=dtype)


def _run(fn, raw, cot, K, dt):
    inputs = [t.clone().requires_grad_() for t in raw]
    out = fn(*inputs, K, dt)
    return [out] + list(torch.autograd.grad(out, inputs, cot))


@needs_native
@pytest.mark.parametrize("B,N,C,G,K,dt", [
    (1, 1, 1, 1, 1, 1.0),        # a single token, a single channel
    (2, 7, 8, 2, 2, 0.5),        # groups
    (3, 33, 20, 1, 3, 0.3),      # C/G below one 32-column block
    (2, 19, 70, 1, 2, 0.5),      # two 32-column blocks and a remainder of 6
    (4, 50, 96, 3, 2, 0.7),      # C/G = 32 exactly
    (16, 256, 64, 1, 2, 0.5),    # the small config's training shape
])
def test_native_matches_the_reference(B, N, C, G, K, dt):
    raw, cot = _case(B, N, C, G, seed=B * N + C)
    got, want = _run(ct_ode_native.ct_ode_scan_native, raw, cot, K, dt), \
        _run(ct_ode_scan_ref, raw, cot, K, dt)
    for name, a, e in zip(("out", "d_u", "d_gate", "d_w", "d_h0"), got, want):
        assert rel_err(a, e) < 2e-5, (name, rel_err(a, e))


@needs_native
@pytest.mark.parametrize("leak", [True, False])
def test_native_is_as_close_to_float64_as_the_reference(leak):
    """Both float32 implementations stay within 1e-5 of the float64 truth, and the native one
    within a small factor of the reference's own error (without the leak the random recurrence
    saturates and amplifies rounding: gradients of 1e5)."""
    raw, cot = _case(4, 120, 48, 2, seed=5, leak=leak)
    truth = _run(ct_ode_scan_naive, [t.double() for t in raw], cot.double(), 2, 0.5)
    got = _run(ct_ode_native.ct_ode_scan_native, raw, cot, 2, 0.5)
    ref = _run(ct_ode_scan_ref, raw, cot, 2, 0.5)
    for a, r, e in zip(got, ref, truth):
        assert rel_err(a, e) <= max(3 * rel_err(r, e), 1e-5)


@needs_native
def test_native_without_grad_and_in_float64():
    raw, cot = _case(3, 40, 24, 2, seed=1)
    with torch.inference_mode():
        fast = ct_ode_native.ct_ode_scan_native(*raw, 2, 0.5)     # nothing stored
    full = ct_ode_native.ct_ode_scan_native(*[t.requires_grad_() for t in raw], 2, 0.5)
    assert torch.equal(fast, full.detach())
    # float64 inputs: computed in float32 like the reference, returned in float64
    raw64 = [t.detach().double() for t in raw]
    out = ct_ode_native.ct_ode_scan_native(*raw64, 2, 0.5)
    assert out.dtype == torch.float64
    assert rel_err(out, ct_ode_scan_ref(*raw64, 2, 0.5)) < 2e-6


@needs_native
def test_native_result_does_not_depend_on_the_thread_count():
    raw, cot = _case(8, 64, 32, 2, seed=2)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _run(ct_ode_native.ct_ode_scan_native, raw, cot, 2, 0.5)
        torch.set_num_threads(3)          # rows split over 3 threads (more than the cores)
        three = _run(ct_ode_native.ct_ode_scan_native, raw, cot, 2, 0.5)
    finally:
        torch.set_num_threads(before)
    # dW comes from one torch bmm, whose blocking may follow the thread count: rounding only
    for i, (a, b) in enumerate(zip(one, three)):
        if i == 3:
            assert rel_err(a, b) < 1e-6
        else:
            assert torch.equal(a, b), i


@needs_native
def test_native_tanh_accuracy():
    x = torch.linspace(-20, 20, 400_001)
    err = (ct_ode_native.tanh_approx(x).double() - torch.tanh(x.double())).abs()
    assert err.max() < 3e-7
    small = torch.logspace(-9, -3.5, 1000)
    assert torch.equal(ct_ode_native.tanh_approx(small), small)   # exact where tanh x ~ x
    big = ct_ode_native.tanh_approx(torch.tensor([-1e30, -50.0, -9.0, 9.0, 50.0, 1e30]))
    assert big.tolist() == [-1, -1, -1, 1, 1, 1]      # saturated: derivative 1 - tanh^2 = 0


@needs_native
def test_cpu_dispatch_uses_the_native_loop():
    from cramcog.kernels.ops import resolve_backend
    assert resolve_backend("ct_ode_scan", torch.device("cpu")) == "native"
    assert resolve_backend("routed_attention", torch.device("cpu")) == "torch"
    raw, cot = _case(2, 9, 8, 1, seed=4)
    auto = _run(ct_ode_scan, raw, cot, 2, 0.5)
    native = _run(lambda *a: ct_ode_scan(*a, backend="native"), raw, cot, 2, 0.5)
    with use_backend("torch"):
        ref = _run(ct_ode_scan, raw, cot, 2, 0.5)
    assert all(torch.equal(a, b) for a, b in zip(auto, native))
    assert all(rel_err(a, b) < 2e-5 for a, b in zip(auto, ref))
    with pytest.raises(ValueError, match="only provides"):
        resolve_backend("routed_attention", torch.device("cpu"), "native")


def _python(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=300)


def test_fallback_to_the_reference_without_a_compiler(tmp_path):
    """No C compiler (or CRAMCOG_NATIVE=0): a warning, and the reference's exact numbers."""
    code = """
        import warnings, torch
        from cramcog.kernels import ct_ode_scan, ct_ode_scan_ref
        from cramcog.kernels.ops import resolve_backend
        g = torch.Generator().manual_seed(0)
        args = (torch.randn(2, 5, 4, generator=g), torch.rand(2, 5, 4, generator=g),
                torch.randn(1, 4, 4, generator=g), torch.zeros(2, 4))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            backend = resolve_backend("ct_ode_scan", torch.device("cpu"))
        same = torch.equal(ct_ode_scan(*args, 2, 0.5), ct_ode_scan_ref(*args, 2, 0.5))
        print(backend, same, any("C kernel failed" in str(w.message) for w in caught))
    """
    absent = _python(code, {"CC": str(tmp_path / "no-such-cc"),
                            "CRAMCOG_CACHE_DIR": str(tmp_path / "a")})
    assert absent.stdout.split() == ["torch", "True", "False"], absent.stderr
    off = _python(code, {"CRAMCOG_NATIVE": "0", "CRAMCOG_CACHE_DIR": str(tmp_path / "o")})
    assert off.stdout.split() == ["torch", "True", "False"], off.stderr
    broken = _python(code, {"CC": "false", "CRAMCOG_CACHE_DIR": str(tmp_path / "b")})
    assert broken.stdout.split() == ["torch", "True", "True"], broken.stderr


@needs_native
def test_concurrent_first_builds_share_one_cache(tmp_path):
    """Two processes building into an empty cache at once (pytest-xdist workers) both load a
    whole library; the cache holds one file per source and machine."""
    code = """
        from cramcog.kernels import ct_ode_native
        print(ct_ode_native.available())
    """
    env = {**os.environ, "CRAMCOG_CACHE_DIR": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [o.strip() for o, _ in outs] == ["True", "True"], outs
    built = [p.name for p in tmp_path.iterdir()]
    assert len(built) == 1 and built[0].startswith("cramcog_ct_ode-"), built


@needs_native
def test_model_working_memory_runs_native_and_matches_the_reference():
    from cramcog.configs import CRAMConfig
    from cramcog.model.working import CTODEMemory
    torch.manual_seed(0)
    wm = CTODEMemory(CRAMConfig(d_model=32, n_heads=2, wm_groups=2))
    x, dtau = torch.randn(3, 40, 32), torch.rand(3, 40)
    from cramcog.kernels.ops import resolve_backend
    assert resolve_backend("ct_ode_scan", x.device) == "native"   # the model's default on CPU
    out = wm(x, dtau)
    grads = torch.autograd.grad(out.square().sum(), list(wm.parameters()))
    with use_backend("torch"):
        ref = wm(x, dtau)
        ref_grads = torch.autograd.grad(ref.square().sum(), list(wm.parameters()))
    assert rel_err(out, ref) < 1e-5
    for a, e in zip(grads, ref_grads):
        assert rel_err(a, e) < 1e-4
