"""The small config's training step on the CPU, side by side in one process: the CT-ODE as the
compiled C loop (the CPU default) vs the plain-torch reference loop, at 1 and 2 threads; and, for
information, the default step under bf16 autocast (``--dtype bf16``: other arithmetic, not the
same numbers).

A step is what :func:`cramcog.train.train` does per step: sample the SRCD batch, the sampled
forward with routing noise, the CRAM objective, backward, gradient clip, AdamW, and the per-layer
route statistics. Two routing phases, because the cost of a step follows the routes:

- ``warmup``: the model as initialised (the attention warm-up: ~90% of tokens attend, dense
  attention path, f_sem trained on them);
- ``trained``: router biases set so that the routes resemble the trained small model's
  (``paper/records/cram_small_seed0.nc``: ~2-3% attend, ~95% go to f_sem), as most of the 1600
  steps of ``make reproduce`` run.

Each timing is the median of ``--repeats`` steps after two warm-up steps, the contenders
interleaved step by step so that load from other processes hits both alike; ``--runs`` repeats
the whole measurement for the spread; the 1-minute load average is kept beside each run. Both the
wall-clock time and the process CPU time are kept: on a shared, overloaded machine the wall time
of a step swings 3x with other jobs, while at one thread the CPU time still measures the work. Floor
(issue 13): the step time down by >= 2x. ``--out`` saves a record.

Usage::

    .venv/bin/python benchmarks/bench_train.py --out runs/bench_train.nc
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
import torch

from cramcog.configs import named_config
from cramcog.kernels import use_backend
from cramcog.model import build_model, cram_objective
from cramcog.train import _seed, layer_stats, make_task, task_sizes

# contender -> (kernel backend, autocast): the CT-ODE as compiled C loop or plain-torch reference
CONTENDERS = {"native": ("native", False), "torch": ("torch", False),
              "native_bf16": ("native", True)}
PHASES = ("warmup", "trained")


def make_step(cfg, phase: str):
    """A closure running one training step (the loop body of cramcog.train.train)."""
    task = make_task(cfg)
    torch.manual_seed(_seed(cfg.seed, 0))
    model = build_model(cfg.model_kind, cfg.model, **task_sizes(task))
    if phase == "trained":
        with torch.no_grad():
            for layer in model.layers:   # tiers: working, episodic, semantic
                layer.router.proj.bias.copy_(torch.tensor([0.0, -1.0, 3.5]))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    counter = [0]

    def step(backend: str, bf16: bool = False) -> dict:
        i = counter[0]
        counter[0] += 1
        with use_backend(backend), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            batch = task.sample(cfg.batch_size, split="train", seed=_seed(cfg.seed, 1, i))
            batch = batch.to_torch()
            gen = torch.Generator().manual_seed(_seed(cfg.seed, 4, i))
            result = model(batch, sample=True, generator=gen)
            loss, _ = cram_objective(result, batch, cfg, cost_on=phase == "trained",
                                     floor=task.attention_floor)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            return {"fractions": np.mean([layer_stats(t, batch["category"])["fractions"]
                                          for t in result.layers], 0)}
    return step


def time_phase(cfg, phase: str, repeats: int) -> dict:
    steps = {c: make_step(cfg, phase) for c in CONTENDERS}  # same init and batches for each
    for c, args in CONTENDERS.items():
        for _ in range(2):
            stats = steps[c](*args)
    times = {c: [] for c in CONTENDERS}
    cpu = {c: [] for c in CONTENDERS}
    for _ in range(repeats):
        for c, args in CONTENDERS.items():
            t0, c0 = time.perf_counter(), time.process_time()
            steps[c](*args)
            times[c].append(time.perf_counter() - t0)
            cpu[c].append(time.process_time() - c0)
    med = {c: statistics.median(t) for c, t in times.items()}
    mcpu = {c: statistics.median(t) for c, t in cpu.items()}
    return {"native_s": med["native"], "torch_s": med["torch"],
            "native_bf16_s": med["native_bf16"], "speedup": med["torch"] / med["native"],
            "bf16_speedup": med["torch"] / med["native_bf16"],
            "native_cpu_s": mcpu["native"], "torch_cpu_s": mcpu["torch"],
            "cpu_speedup": mcpu["torch"] / mcpu["native"],
            "fractions": [float(x) for x in stats["fractions"]]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default="small", help="named training config (default small)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=5, help="timed steps per backend and run")
    p.add_argument("--runs", type=int, default=3, help="whole measurements (the spread)")
    p.add_argument("--phases", nargs="+", default=list(PHASES), choices=PHASES)
    p.add_argument("--out", default=None, help="save the results as a benchmark record (.nc)")
    args = p.parse_args(argv)
    cfg = named_config(args.config)
    print(f"torch {torch.__version__}; config {args.config}; median of {args.repeats} steps, "
          f"{args.runs} run(s)")
    rows = []
    for run in range(args.runs):
        for threads in args.threads:
            torch.set_num_threads(threads)
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            for phase in args.phases:
                r = time_phase(cfg, phase, args.repeats)
                rows.append({**r, "run": run, "threads": threads, "phase": phase,
                             "load_avg": load})
                print(f"run {run} threads {threads} load {load:.1f} {phase:8s} step: native "
                      f"{r['native_s'] * 1e3:.0f} ms, torch reference {r['torch_s'] * 1e3:.0f} "
                      f"ms -> x{r['speedup']:.2f}; bf16 autocast {r['native_bf16_s'] * 1e3:.0f} ms "
                      f"(x{r['bf16_speedup']:.2f}, other arithmetic); CPU time native "
                      f"{r['native_cpu_s'] * 1e3:.0f} ms, reference {r['torch_cpu_s'] * 1e3:.0f} ms"
                      f" -> x{r['cpu_speedup']:.2f} (routes working/episodic/semantic "
                      f"{np.round(r['fractions'], 3).tolist()})", flush=True)
    print("\nsummary: step-time speed-up (torch reference / native), median [min, max] over runs")
    for threads in args.threads:
        for phase in args.phases:
            sel = [r for r in rows if r["threads"] == threads and r["phase"] == phase]
            v, c = [r["speedup"] for r in sel], [r["cpu_speedup"] for r in sel]
            print(f"  threads {threads} {phase:8s} wall x{statistics.median(v):.2f} "
                  f"[{min(v):.2f}, {max(v):.2f}]; CPU time x{statistics.median(c):.2f} "
                  f"[{min(c):.2f}, {max(c):.2f}]")
    if args.out:
        from cramcog import records
        runs = sorted({r["run"] for r in rows})
        dims = ("run", "threads", "phase")
        shape = (len(runs), len(args.threads), len(args.phases))
        data = {k: np.full(shape, np.nan) for k in ("native_s", "torch_s", "native_bf16_s",
                                                     "speedup", "bf16_speedup", "native_cpu_s",
                                                     "torch_cpu_s", "cpu_speedup", "load_avg")}
        for r in rows:
            idx = (runs.index(r["run"]), args.threads.index(r["threads"]),
                   args.phases.index(r["phase"]))
            for k in data:
                data[k][idx] = r[k]
        ds = records.new_record(
            {k: (dims, v) for k, v in data.items()},
            coords={"run": np.array(runs, dtype="int64"),
                    "threads": np.array(args.threads, dtype="int64"),
                    "phase": np.array(args.phases)},
            kind="benchmark", config={k: v for k, v in vars(args).items() if k != "out"},
            seed=0, attrs={"benchmark": "bench_train", "floor": "step time down by >= 2x",
                           "results_json": json.dumps(rows)})
        records.save(ds, args.out)
        print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
