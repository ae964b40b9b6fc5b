"""Public kernel ops and the dispatcher that picks their backend once per (op, device type).

Backends:
- ``"torch"``: the plain-torch references (``*_ref.py``), the default on CPU, except:
- ``"native"``: compiled C loops for CPU tensors (``ct_ode_scan`` only), the default on CPU for
  the CT-ODE where a C compiler works (:mod:`cramcog.kernels.native`; ``CRAMCOG_NATIVE=0`` turns
  it off);
- ``"triton"``: the Triton kernels (``*_triton.py``), the default on CUDA; on CPU tensors they run
  only under the Triton interpreter (``TRITON_INTERPRET=1`` set before first use), which is how
  the tests exercise them;
- ``"mamba"``: mamba-ssm's CUDA ``selective_scan_fn`` (selective_scan only, CUDA only), the
  default for selective_scan on CUDA when mamba-ssm is importable.
Triton and mamba-ssm are imported only when one of their backends is first used.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import importlib.util
import os

from .ct_ode_ref import ct_ode_scan_ref
from .routed_attention_ref import routed_attention_ref
from .selective_scan_ref import selective_scan_ref

BACKENDS = ("auto", "torch", "native", "triton", "mamba")
NATIVE_OPS = ("ct_ode_scan",)      # ops with a compiled C loop for CPU tensors
_forced = contextvars.ContextVar("cramcog_kernels_backend", default="auto")


@contextlib.contextmanager
def use_backend(name: str):
    """Force a backend for every op called inside the ``with`` block.

    Parameters
    ----------
    name : {"auto", "torch", "native", "triton", "mamba"}
        ``"triton"`` on CPU tensors needs ``TRITON_INTERPRET=1`` set before the first Triton use.

    Examples
    --------
    >>> import torch
    >>> from cramcog.kernels import use_backend, ct_ode_scan
    >>> with use_backend("torch"):
    ...     h = ct_ode_scan(torch.zeros(1, 3, 2), torch.ones(1, 3, 2), torch.eye(2)[None],
    ...                     torch.zeros(1, 2), 1, 0.1)
    >>> h.shape
    torch.Size([1, 3, 2])
    """
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    token = _forced.set(name)
    try:
        yield
    finally:
        _forced.reset(token)


def triton_available() -> bool:
    """True when triton can be imported (kernels also need CUDA or TRITON_INTERPRET=1)."""
    return importlib.util.find_spec("triton") is not None


def interpreting() -> bool:
    """True when the Triton interpreter is on (TRITON_INTERPRET=1)."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


@functools.lru_cache(maxsize=None)
def _auto_backend(op: str, device_type: str) -> str:
    """The default backend, decided once per (op, device type)."""
    if device_type == "cuda":
        if op == "selective_scan" and importlib.util.find_spec("mamba_ssm") is not None:
            try:  # installed is not enough: a wheel built for another CUDA fails on import
                _triton_module("mamba_backend").load_selective_scan_fn()
                return "mamba"
            except ImportError:
                pass
        if triton_available():
            return "triton"
    if device_type == "cpu" and op in NATIVE_OPS and _native_available(op):
        return "native"
    return "torch"


def _native_available(op: str) -> bool:
    return _triton_module(f"{op.removesuffix('_scan')}_native").available()


def resolve_backend(op: str, device, backend=None) -> str:
    """The backend an op call will use: explicit argument > ``use_backend`` > automatic.

    Examples
    --------
    >>> import torch
    >>> resolve_backend("routed_attention", torch.device("cpu"))
    'torch'
    """
    name = backend if backend is not None else _forced.get()
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    device_type = getattr(device, "type", str(device))
    if name == "native" and backend is None and op not in NATIVE_OPS:
        name = "auto"       # use_backend("native"): the C loops where they exist, else as usual
    if name == "auto":
        return _auto_backend(op, device_type)
    if name == "mamba" and op != "selective_scan":
        raise ValueError(f"the mamba backend only provides selective_scan, not {op}")
    if name == "mamba" and device_type != "cuda":
        raise ValueError("the mamba backend (mamba-ssm selective_scan_fn) needs CUDA tensors")
    if name == "native":
        if op not in NATIVE_OPS:
            raise ValueError(f"the native backend only provides {NATIVE_OPS}, not {op}")
        if device_type != "cpu":
            raise ValueError("the native backend (compiled C loops) runs on CPU tensors only")
        if not _native_available(op):
            raise ValueError("the native backend is not available here (no working C compiler, "
                             "or CRAMCOG_NATIVE=0); use backend='torch'")
    if name == "triton":
        if not triton_available():
            raise ValueError("backend='triton' needs triton installed (pip install 'cramcog[kernels]')")
        if device_type != "cuda" and not interpreting():
            raise ValueError("backend='triton' on CPU tensors needs TRITON_INTERPRET=1 set before "
                             "triton is first imported; use backend='torch' on CPU")
    return name


def _triton_module(name: str):
    return importlib.import_module(f"cramcog.kernels.{name}")


def routed_attention(q, k, v, batch_idx, pos, window=None, scale=None, *, backend=None):
    """Causal attention for the routed queries only (episodic memory r_E).

    Query m (sequence ``batch_idx[m]``, position ``pos[m]``) attends to keys j of its sequence
    with ``pos[m] - window < j <= pos[m]`` (every past key when ``window`` is None). Unrouted
    positions execute no attention. Differentiable w.r.t. q, k, v.

    Parameters
    ----------
    q : Tensor (M, H, Dh)
        Packed routed queries (M >= 0), sorted by (batch_idx, pos), no duplicates.
    k, v : Tensor (B, N, H, Dh)
        Keys and values of every position.
    batch_idx, pos : LongTensor (M,)
    window : int or None
    scale : float or None
        Softmax scale (default ``1/sqrt(Dh)``).
    backend : {"auto", "torch", "triton"} or None
        None follows :func:`use_backend` (automatic: Triton on CUDA, torch on CPU).

    Returns
    -------
    Tensor (M, H, Dh)

    Examples
    --------
    >>> import torch
    >>> k = v = torch.randn(2, 8, 2, 4)
    >>> batch_idx, pos = torch.tensor([0, 0, 1]), torch.tensor([2, 7, 5])
    >>> routed_attention(torch.randn(3, 2, 4), k, v, batch_idx, pos, window=4).shape
    torch.Size([3, 2, 4])
    """
    name = resolve_backend("routed_attention", q.device, backend)
    if name == "triton":
        return _triton_module("routed_attention_triton").routed_attention_triton(
            q, k, v, batch_idx, pos, window, scale)
    return routed_attention_ref(q, k, v, batch_idx, pos, window, scale)


def ct_ode_scan(u, gate, w_rec, h0, n_substeps=1, dt=1.0, *, backend=None):
    """CT-ODE working memory fused over time.

    For each token t: ``h <- h + dt * gate_t * tanh(h @ W1 + u_t)``, ``n_substeps`` times;
    output t is the state after them. Differentiable w.r.t. u, gate, w_rec, h0.

    Parameters
    ----------
    u : Tensor (B, N, C)
        Input drive W2 x_t.
    gate : Tensor (B, N, C)
        sigmoid(g_t), g_t = W_tau log(1 + dtau_t).
    w_rec : Tensor (G, C/G, C/G)
        Block-diagonal W1 (G channel groups; G = 1 is dense).
    h0 : Tensor (B, C)
    n_substeps : int
        K Euler sub-steps per token.
    dt : float
        Euler step.
    backend : {"auto", "torch", "native", "triton"} or None
        None follows :func:`use_backend` (automatic: Triton on CUDA; on the CPU the compiled C
        loop where a C compiler works, else the torch reference).

    Returns
    -------
    Tensor (B, N, C)

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> u, gate = torch.randn(2, 6, 8, generator=g), torch.rand(2, 6, 8, generator=g)
    >>> ct_ode_scan(u, gate, 0.1 * torch.randn(2, 4, 4, generator=g), torch.zeros(2, 8), 2, 0.5).shape
    torch.Size([2, 6, 8])
    """
    name = resolve_backend("ct_ode_scan", u.device, backend)
    if name == "triton":
        return _triton_module("ct_ode_triton").ct_ode_scan_triton(u, gate, w_rec, h0, n_substeps, dt)
    if name == "native":
        return _triton_module("ct_ode_native").ct_ode_scan_native(u, gate, w_rec, h0, n_substeps,
                                                                  dt)
    return ct_ode_scan_ref(u, gate, w_rec, h0, n_substeps, dt)


def selective_scan(u, delta, A, Bm, Cm, D=None, z=None, delta_bias=None, delta_softplus=False,
                   *, backend=None):
    """Selective SSM scan, mamba-ssm ``selective_scan_fn`` convention.

    ``h_t = exp(delta_t A) h_{t-1} + delta_t Bm_t u_t``, ``y_t = Cm_t . h_t + D u_t``, then
    ``y * silu(z)`` when z is given; delta gets ``delta_bias`` and softplus first if asked.

    Parameters
    ----------
    u, delta : Tensor (B, C, L)
    A : Tensor (C, S)
    Bm, Cm : Tensor (B, S, L)
    D : Tensor (C,), optional
    z : Tensor (B, C, L), optional
    delta_bias : Tensor (C,), optional
    delta_softplus : bool
    backend : {"auto", "torch", "triton", "mamba"} or None
        Automatic: mamba-ssm on CUDA when importable, else Triton on CUDA, torch on CPU.

    Returns
    -------
    Tensor (B, C, L)

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> u, delta = torch.randn(1, 4, 10, generator=g), torch.rand(1, 4, 10, generator=g)
    >>> Bm, Cm = torch.randn(1, 3, 10, generator=g), torch.randn(1, 3, 10, generator=g)
    >>> selective_scan(u, delta, -torch.rand(4, 3, generator=g), Bm, Cm).shape
    torch.Size([1, 4, 10])
    """
    name = resolve_backend("selective_scan", u.device, backend)
    args = (u, delta, A, Bm, Cm, D, z, delta_bias, delta_softplus)
    if name == "triton":
        return _triton_module("selective_scan_triton").selective_scan_triton(*args)
    if name == "mamba":
        return _triton_module("mamba_backend").selective_scan_mamba(*args)
    return selective_scan_ref(*args)
