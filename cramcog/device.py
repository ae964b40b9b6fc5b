"""Where a run executes: device names, the optional bf16 autocast, and what a record says about
them.

A device is named by a string: ``"auto"`` (CUDA when ``torch.cuda.is_available()``, else the
CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``. The device says where a run executes, not what it
computes: a checkpoint written on one device resumes on another (the CT-ODE, the routing noise and
float summation orders differ between devices, so the resumed run is a correct continuation, not
bitwise the run the first device would have finished). Autocast is ``"off"`` (float32 throughout)
or ``"bf16"`` (bfloat16 autocast of the forward pass and losses; weights, gradients and optimiser
state stay float32).

Light module: names are validated without torch (configs use :func:`check_device_name`); torch is
imported inside the functions that need it.

Examples
--------
>>> check_device_name("cuda:1")
>>> check_device_name("gpu")
Traceback (most recent call last):
...
ValueError: device must be 'auto', 'cpu', 'cuda' or 'cuda:N' (N a GPU index), got 'gpu'
>>> str(resolve_device("cpu"))
'cpu'
"""
from __future__ import annotations

import contextlib
import platform
import re

DEVICE_NAMES = ("auto", "cpu", "cuda", "cuda:N")
AUTOCAST_MODES = ("off", "bf16")
_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def check_device_name(name, what: str = "device") -> None:
    """Raise ValueError unless ``name`` is ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``."""
    if not isinstance(name, str) or not _DEVICE_RE.match(name):
        raise ValueError(f"{what} must be 'auto', 'cpu', 'cuda' or 'cuda:N' (N a GPU index), "
                         f"got {name!r}")


def check_autocast(mode, what: str = "autocast") -> None:
    """Raise ValueError unless ``mode`` is ``"off"`` or ``"bf16"``."""
    if mode not in AUTOCAST_MODES:
        raise ValueError(f"{what} must be one of {AUTOCAST_MODES} (bf16: bfloat16 autocast), "
                         f"got {mode!r}")


def resolve_device(name: str = "auto"):
    """The ``torch.device`` a device name stands for; a clear error when it does not exist here.

    Parameters
    ----------
    name : {"auto", "cpu", "cuda", "cuda:N"}
        ``"auto"``: CUDA (its current GPU) when present, else the CPU.

    Returns
    -------
    torch.device

    Examples
    --------
    >>> resolve_device("cpu").type
    'cpu'
    """
    import torch

    check_device_name(name)
    if name == "cpu":
        return torch.device("cpu")
    has_cuda = torch.cuda.is_available()
    if name == "auto":
        return torch.device("cuda", torch.cuda.current_device()) if has_cuda \
            else torch.device("cpu")
    if not has_cuda:
        build = torch.version.cuda
        why = (f"torch {torch.__version__} was built without CUDA" if build is None
               else f"torch {torch.__version__} (CUDA {build}) sees no GPU")
        raise ValueError(f"device {name!r} asked for, but {why}; use --device cpu, or "
                         "--device auto (CUDA when present)")
    index = int(name.split(":")[1]) if ":" in name else torch.cuda.current_device()
    if index >= torch.cuda.device_count():
        raise ValueError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) here "
                         f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})")
    return torch.device("cuda", index)


def generator(device, seed: int):
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (random draws must be made on the
    device of the tensors they feed). On the CPU it is exactly ``torch.Generator().manual_seed``.

    Examples
    --------
    >>> import torch
    >>> g = generator(torch.device("cpu"), 3)
    >>> torch.equal(torch.rand(2, generator=g), torch.rand(2, generator=torch.manual_seed(3)))
    True
    """
    import torch

    return torch.Generator(device=device).manual_seed(int(seed))


def autocast(device, mode: str = "off"):
    """The autocast context of a run: ``torch.autocast`` to bfloat16 for ``"bf16"``, else a no-op.

    Examples
    --------
    >>> import torch
    >>> with autocast(torch.device("cpu"), "bf16"):
    ...     torch.nn.Linear(2, 2)(torch.ones(1, 2)).dtype
    torch.bfloat16
    """
    import torch

    check_autocast(mode)
    if mode == "off":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def model_device(model):
    """The device of a module's parameters (the CPU for a module without any)."""
    import torch

    param = next(iter(model.parameters()), None)
    return param.device if param is not None else torch.device("cpu")


def describe(device, mode: str = "off") -> dict[str, str]:
    """Record attrs saying where a run executed: ``device``, ``device_name``, ``dtype``.

    Examples
    --------
    >>> import torch
    >>> d = describe(torch.device("cpu"), "bf16")
    >>> d["device"], d["dtype"]
    ('cpu', 'bfloat16 autocast (float32 weights)')
    """
    import torch

    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = platform.processor() or platform.machine() or "cpu"
    dtype = "float32" if mode == "off" else "bfloat16 autocast (float32 weights)"
    return {"device": str(device), "device_name": name, "dtype": dtype,
            "kernel_backends": kernel_backends(device)}


def kernel_backends(device) -> str:
    """Which backend each kernel op uses on ``device``, e.g. ``"ct_ode_scan=native, ..."``.

    Records keep it because backends round differently: the compiled C CT-ODE and the plain-torch
    reference agree to ~1e-5 per call, but over hundreds of training steps a sampled route can
    flip and two runs of one seed drift apart (statistically alike, not bitwise equal). To redo a
    record bit for bit, use the backends it names (``CRAMCOG_NATIVE=0`` gives the torch CT-ODE).

    Examples
    --------
    >>> import torch
    >>> "routed_attention=torch" in kernel_backends(torch.device("cpu"))
    True
    """
    from cramcog.kernels import resolve_backend

    ops = ("ct_ode_scan", "selective_scan", "routed_attention")
    return ", ".join(f"{op}={resolve_backend(op, device)}" for op in ops)


__all__ = ["DEVICE_NAMES", "AUTOCAST_MODES", "check_device_name", "check_autocast",
           "resolve_device", "generator", "autocast", "model_device", "describe",
           "kernel_backends"]
