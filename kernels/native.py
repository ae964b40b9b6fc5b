"""Compiled C loops for the CPU: built on first use with the system C compiler, loaded by ctypes.

The sequential recurrences (the CT-ODE) are bound by per-op overhead when written as a Python
loop of tiny torch ops: a plain C loop over the whole sequence removes it. The sources are plain
C (no torch or Python headers), so building one takes about a second; the shared library is
cached under ``$CRAMCOG_CACHE_DIR`` (default ``~/.cache/cramcog``), keyed by a hash of source,
flags and compiler, and written by rename, so concurrent first uses (pytest-xdist workers) are
safe. Where no C compiler works, or with ``CRAMCOG_NATIVE=0``, :func:`load` returns None and the
ops keep their plain-torch references.

ctypes releases the GIL during a call, so one op splits its independent rows over a thread pool
(``torch.get_num_threads()`` threads); every row is computed by one thread in a fixed order, so
results do not depend on the thread count.

Examples
--------
>>> lib = load("demo", "int twice(int x) { return 2 * x; }")
>>> lib is None or lib.twice(21) == 42
True
"""
from __future__ import annotations

import concurrent.futures
import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import warnings
from pathlib import Path

CFLAGS = ["-O3", "-std=c99", "-fPIC", "-shared", "-fno-math-errno", "-ffp-contract=fast"]
_lock = threading.Lock()


def enabled() -> bool:
    """False when ``CRAMCOG_NATIVE=0`` asks for the plain-torch references."""
    return os.environ.get("CRAMCOG_NATIVE", "1") not in ("0", "", "false", "no")


def cache_dir() -> Path:
    """Where built libraries live: ``$CRAMCOG_CACHE_DIR``, else ``$XDG_CACHE_HOME/cramcog``,
    else ``~/.cache/cramcog``."""
    root = os.environ.get("CRAMCOG_CACHE_DIR")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cramcog"


def _compiler() -> str | None:
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    exe = cc.split()[0]
    return cc if shutil.which(exe) else None


def _cpu_id() -> str:
    """What -march=native builds for: the CPU's model and flags (a cache shared between machines
    must not hand one CPU a library built for another)."""
    try:
        with open("/proc/cpuinfo") as f:
            lines = [ln for ln in f.read().splitlines()
                     if ln.startswith(("model name", "flags", "Features"))]
        return "\n".join(sorted(set(lines)))
    except OSError:
        return platform.processor()


def _arch_flags() -> list[str]:
    # the machine's own vector units (AVX2 / AVX-512 / NEON): the library is built where it runs
    if platform.machine().lower() in ("x86_64", "amd64", "i686"):
        return ["-march=native"]
    return ["-mcpu=native"] if platform.system() != "Darwin" else []


@functools.lru_cache(maxsize=None)
def _build(name: str, source: str, extra_flags: tuple = ()) -> ctypes.CDLL | None:
    cc = _compiler()
    if cc is None:
        return None
    flags = CFLAGS + _arch_flags() + list(extra_flags)
    key = hashlib.sha256("\0".join([source, cc, *flags, platform.machine(), sys.platform,
                                    _cpu_id()]).encode()).hexdigest()[:16]
    suffix = ".dll" if sys.platform == "win32" else ".so"
    target = cache_dir() / f"{name}-{key}{suffix}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"{name}-") as tmp:
            src = Path(tmp) / f"{name}.c"
            src.write_text(source)
            built = Path(tmp) / f"{name}{suffix}"
            cmd = cc.split() + flags + [str(src), "-o", str(built), "-lm"]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0 and "-march=native" in flags:   # e.g. an old compiler
                cmd = [c for c in cmd if not c.startswith(("-march", "-mcpu"))]
                res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                warnings.warn(f"cramcog: building the {name} C kernel failed ({' '.join(cmd)}): "
                              f"{res.stderr.strip()[:500]}; using the plain-torch reference",
                              RuntimeWarning, stacklevel=3)
                return None
            # unique name, then an atomic rename: concurrent builders never see half a file
            fd, part = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            os.close(fd)
            shutil.copyfile(built, part)
            os.replace(part, target)
    try:
        return ctypes.CDLL(str(target))
    except OSError as err:
        warnings.warn(f"cramcog: loading {target} failed ({err}); using the plain-torch "
                      "reference", RuntimeWarning, stacklevel=3)
        return None


def load(name: str, source: str, extra_flags: tuple = ()) -> ctypes.CDLL | None:
    """The compiled library of a C source (built once per machine), or None where it cannot be
    built or ``CRAMCOG_NATIVE=0``. ``extra_flags`` follow the defaults (the last one wins)."""
    if not enabled():
        return None
    with _lock:
        try:
            return _build(name, source, tuple(extra_flags))
        except OSError as err:          # e.g. an unwritable cache folder
            warnings.warn(f"cramcog: cannot build the {name} C kernel ({err}); using the "
                          "plain-torch reference", RuntimeWarning, stacklevel=2)
            return None


_pool: list = [None, 0]


def run_rows(fn, n_rows: int, n_threads: int) -> None:
    """Call ``fn(begin, end)`` over contiguous row ranges covering ``range(n_rows)``, on up to
    ``n_threads`` threads (``fn`` must release the GIL, as ctypes calls do)."""
    n = max(1, min(n_threads, n_rows))
    if n == 1:
        fn(0, n_rows)
        return
    with _lock:
        if _pool[0] is None or _pool[1] < n:
            if _pool[0] is not None:
                _pool[0].shutdown(wait=False)
            _pool[0] = concurrent.futures.ThreadPoolExecutor(n, thread_name_prefix="cramcog")
            _pool[1] = n
        pool = _pool[0]
    bounds = [n_rows * i // n for i in range(n + 1)]
    futures = [pool.submit(fn, bounds[i], bounds[i + 1]) for i in range(1, n)]
    fn(bounds[0], bounds[1])
    for f in futures:
        f.result()


__all__ = ["load", "enabled", "cache_dir", "run_rows"]
