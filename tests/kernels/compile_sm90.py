"""Compile every Triton kernel ahead of time for an sm_90 (H100) target, no GPU needed.

The interpreter accepts code the compiler rejects (plain Python globals, some type mixes), so the
CPU suite also checks that the real compiler lowers each kernel to PTX and a cubin. Run in a
process WITHOUT TRITON_INTERPRET (tests/kernels/test_kernel_compile.py does that).
Usage: python compile_sm90.py [--regs] [dtype ...]    (default: bf16)
  --regs  also report registers and spills per kernel at 4 and 8 warps (ptxas -v, sm_90a)
"""
import os
import re
import subprocess
import sys
import tempfile

assert os.environ.get("TRITON_INTERPRET", "0") in ("", "0"), "run without TRITON_INTERPRET"

import triton  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402

import cramcog.kernels.ct_ode_triton as ct_ode  # noqa: E402
import cramcog.kernels.routed_attention_triton as attention  # noqa: E402
import cramcog.kernels.selective_scan_triton as ssm  # noqa: E402

TARGET = GPUTarget("cuda", 90, 32)
FLOAT_SCALARS = {"qk_scale", "sm_scale", "dt"}


def name_of(kernel):
    fn = kernel.fn if isinstance(kernel, triton.runtime.Autotuner) else kernel
    return fn.fn.__name__


def compile_kernel(kernel, pointers, constexprs, **options):
    """Compile an autotuned/jit kernel with the given pointer types; returns the asm dict."""
    fn = kernel.fn if isinstance(kernel, triton.runtime.Autotuner) else kernel  # the JITFunction
    signature = {}
    for name in fn.arg_names:
        if name in constexprs:
            signature[name] = "constexpr"
        elif name in pointers:
            signature[name] = pointers[name]
        else:
            signature[name] = "fp32" if name in FLOAT_SCALARS else "i32"
    compiled = triton.compile(ASTSource(fn=fn, signature=signature, constexprs=constexprs),
                              target=TARGET, options=options)
    return compiled.asm


def register_report(ptx):
    """(registers, spill-store bytes) of a PTX module, from the ptxas triton uses for sm_90."""
    from triton.backends.nvidia.compiler import get_ptxas
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "kernel.ptx")
        with open(path, "w") as fh:
            fh.write(ptx)
        log = subprocess.run([get_ptxas(90).path, "-arch=sm_90a", "-v", path, "-o",
                              os.path.join(tmp, "kernel.cubin")], capture_output=True,
                             text=True, check=True).stderr
    regs = re.search(r"Used (\d+) registers", log)
    spills = re.search(r"(\d+) bytes spill stores", log)
    return int(regs.group(1)), int(spills.group(1)) if spills else 0


def main(dtypes, regs=False):
    for dt in dtypes:
        prec = "ieee" if dt == "fp32" else "tf32"
        ptr = {n: f"*{dt}" for n in ("Q", "K", "V", "DO", "DQ", "DK", "DV", "O")}
        ptr.update(POS="*i64", OFF="*i64", QLO="*i32", QHI="*i32", LSE="*fp32", DELTA="*fp32",
                   O_PART="*fp32", LSE_PART="*fp32")
        c = dict(HAS_WINDOW=True, BLOCK_M=64, BLOCK_N=64, BLOCK_D=64, PREC=prec)
        jobs = [(attention._fwd_kernel, ptr, c), (attention._bwd_dq_kernel, ptr, c),
                (attention._bwd_dkdv_kernel, ptr, c),
                (attention._merge_kernel, ptr, dict(BLOCK_S=4, BLOCK_D=64))]
        ptr = dict(U=f"*{dt}", GATE=f"*{dt}", W=f"*{dt}", H0=f"*{dt}", OUT="*fp32", HS="*fp32",
                   DOUT=f"*{dt}", DU="*fp32", DGATE="*fp32", DW_PART="*fp32", DH0="*fp32")
        jobs += [(ct_ode._ct_ode_fwd_kernel, ptr, dict(K=2, BLOCK=32)),
                 (ct_ode._ct_ode_bwd_kernel, ptr, dict(K=2, BLOCK=32))]
        ptr = dict(U=f"*{dt}", DELTA="*fp32", A="*fp32", BM=f"*{dt}", CM=f"*{dt}", Y="*fp32",
                   CK="*fp32", SCRATCH="*fp32", DY="*fp32", DU="*fp32", DDELTA="*fp32",
                   DA_PART="*fp32", DB_PART="*fp32", DC_PART="*fp32")
        jobs += [(ssm._ssm_fwd_kernel, ptr, dict(STORE_STATES=True, CHUNK=64, BLOCK_C=32,
                                                  BLOCK_S=16)),
                 (ssm._ssm_bwd_kernel, ptr, dict(CHUNK=64, BLOCK_C=32, BLOCK_S=16))]
        for kernel, pointers, constexprs in jobs:
            asm = compile_kernel(kernel, pointers, constexprs, num_warps=4, num_stages=2)
            assert "ptx" in asm and "cubin" in asm
            print(f"compiled {name_of(kernel)} {dt} for sm_90", flush=True)
            if regs:
                for warps in (4, 8):
                    ptx = compile_kernel(kernel, pointers, constexprs, num_warps=warps,
                                         num_stages=2)["ptx"]
                    n_regs, spill = register_report(ptx)
                    print(f"  {warps} warps: {n_regs} registers, {spill} bytes spilled "
                          f"{constexprs}", flush=True)


if __name__ == "__main__":
    flags = [a for a in sys.argv[1:] if a.startswith("--")]
    if set(flags) - {"--regs"}:
        sys.exit(f"unknown option(s) {flags}; usage: compile_sm90.py [--regs] [dtype ...]")
    main([a for a in sys.argv[1:] if not a.startswith("--")] or ["bf16"], regs="--regs" in flags)
