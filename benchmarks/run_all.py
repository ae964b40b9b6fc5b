"""Run every benchmark in turn (``make bench``); each prints its own side-by-side ratios.

    .venv/bin/python benchmarks/run_all.py            # all
    .venv/bin/python benchmarks/run_all.py fit cram   # some

On a machine without a GPU the kernel benchmark runs a smoke test and says so.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = {
    "fit": [sys.executable, str(HERE / "bench_fit.py")],
    "tasks": [sys.executable, "-m", "cramcog.tasks.bench"],
    "cram": [sys.executable, str(HERE / "bench_cram.py")],
    "train": [sys.executable, str(HERE / "bench_train.py")],
    "kernels": [sys.executable, str(HERE / "bench_kernels.py")],
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        print(f"\n=== {name}: {' '.join(BENCHMARKS[name][1:])}", flush=True)
        if subprocess.run(BENCHMARKS[name]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nbenchmarks that failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
