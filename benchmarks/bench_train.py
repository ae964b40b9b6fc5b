"""The real training step on the CPU, contenders side by side in one process. Two modes:

- backends (the default): the ``--config`` (small) step with the CT-ODE as the compiled C loop
  (the CPU default) vs the plain-torch reference loop, at 1 and 2 threads; and, for information,
  the default step under bf16 autocast (``autocast="bf16"``: other arithmetic, not the same
  numbers). Two routing phases, because the cost of a step follows the routes:

  - ``warmup``: the model as initialised, no attention cost (the attention warm-up: ~90% of
    tokens attend, dense attention path, f_sem trained on them);
  - ``trained``: router biases set so that the routes resemble a trained small model's (few
    tokens attend, most take the working route), the costs on, as most steps of a run go.

  ``--runs`` repeats the whole measurement for the spread. Floor (issue 13): the step time down
  by >= 2x.

- ``--vs transformer``: CRAM against the dense Transformer of the same width and depth
  (``build_model("transformer", ...)``, initialised with the run's seed, its own optimiser), per
  sequence length (``--lengths``). CRAM is the trained model of ``--run`` (``load_model``, put in
  train mode), its routes sampled as in training with the attention cost on. Each length holds
  the tokens per step of the run's config (batch_size x seq_len: 16 x 256 = 4096 gives batch 2
  at N=2048), the task rebuilt from the run's config with that seq_len. Printed per length: one
  line ``train step N=<N> CRAM/Transformer <ratio>`` (median CPU time per step, CRAM over the
  Transformer), the wall medians, CRAM's route fractions per layer and the executed FLOPs per
  token of both (:func:`cramcog.train.flops_per_token`).

What is timed: :func:`cramcog.train.train_step` (the sampled forward pass with routing noise, the
CRAM objective, backward, gradient clip, AdamW with :func:`cramcog.train.make_optimizer`'s
parameter groups, the learning-rate schedule), i.e. the step :func:`cramcog.train.train` runs.
Its batch and routing noise are drawn as train() draws them (seeds from (seed, stream, step)),
but outside the timer, as are the route statistics: they cost every contender alike.

Each timing is the median of ``--repeats`` steps after two untimed warm-up steps, the contenders
interleaved step by step so that load from other processes hits them alike; the 1-minute load
average is kept beside each measurement. Both the wall-clock time and the process CPU time are
kept: on a shared, overloaded machine the wall time of a step swings 3x with other jobs, while at
one thread the CPU time still measures the work, so the ratios are taken on CPU time where it
says so. ``--out`` saves a benchmark record. ``--quick``: one thread, five repeats (one run),
and in ``--vs`` mode N = 256 and 2048: about a minute on one core.

Usage::

    .venv/bin/python benchmarks/bench_train.py --out runs/bench_train.nc
    .venv/bin/python benchmarks/bench_train.py --vs transformer --run paper/models/cram_small \\
        --out runs/bench_train_vs_transformer.nc
    .venv/bin/python benchmarks/bench_train.py --vs transformer --quick
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from cramcog import records
from cramcog.configs import TrainConfig, named_config
from cramcog.device import generator
from cramcog.kernels import use_backend
from cramcog.model import build_model
from cramcog.model.compute import COMPONENTS
from cramcog.train import (_NOISE, _TRAIN, _seed, flops_per_token, load_model, make_optimizer,
                           make_task, step_statistics, task_sizes, train_step)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RUN = REPO / "paper" / "models" / "cram_small"
CPU = torch.device("cpu")
TIERS = ("working", "episodic", "semantic")
# backends mode: contender -> (kernel backend, autocast): the CT-ODE as compiled C loop or
# plain-torch reference
CONTENDERS = {"native": ("native", "off"), "torch": ("torch", "off"),
              "native_bf16": ("native", "bf16")}
PHASES = ("warmup", "trained")
QUICK = {"threads": [1], "repeats": 5, "runs": 1, "lengths": [256, 2048]}


class Contender:
    """What one contender's training steps need: model, optimiser, schedule, task, config, the
    router's cost switch (False: the attention warm-up), the kernel backend, and the steps run so
    far (they seed the next batch and routing noise)."""

    def __init__(self, model, opt, sched, task, cfg: TrainConfig, cost_on: bool, backend: str):
        self.model, self.opt, self.sched, self.task, self.cfg = model, opt, sched, task, cfg
        self.cost_on, self.backend, self.steps = cost_on, backend, 0


def make_contender(cfg: TrainConfig, *, model=None, cost_on: bool = True,
                   backend: str = "auto") -> Contender:
    """Build a contender as :func:`cramcog.train.train` sets up a run.

    Parameters
    ----------
    cfg
        The training config: task, batch size, optimiser, objective, autocast.
    model
        A model to train (e.g. a trained one from :func:`cramcog.train.load_model`); None builds
        ``cfg.model_kind`` initialised with the run's seed, as train() does.
    cost_on
        Whether the router pays the attention cost (False: the attention warm-up).
    backend
        The kernel backend forced during the step (:func:`cramcog.kernels.use_backend`):
        ``"auto"`` (the defaults train() gets: the CT-ODE's C loop where a compiler works),
        ``"native"`` or ``"torch"``.

    Returns
    -------
    Contender
        The model in train mode on the CPU, with its own AdamW and schedule
        (:func:`cramcog.train.make_optimizer`).
    """
    task = make_task(cfg)
    if model is None:
        torch.manual_seed(_seed(cfg.seed, 0))
        model = build_model(cfg.model_kind, cfg.model, **task_sizes(task))
    model = model.to(CPU).train()
    opt, sched = make_optimizer(model, cfg)
    return Contender(model, opt, sched, task, cfg, cost_on, backend)


def run_step(c: Contender) -> dict:
    """One training step of a contender (:func:`cramcog.train.train_step`), timed.

    The batch and routing noise are drawn from the seeds train() uses at this step, before the
    timer starts; the route statistics and FLOPs are taken after it stops.

    Returns
    -------
    dict
        ``cpu_s`` (process CPU time) and ``wall_s`` of the step, ``fractions`` (layer, tier):
        working / executed attention / semantic shares per layer (all attention for the dense
        Transformer), ``flops`` (component): executed FLOPs per token (``compute.COMPONENTS``).
    """
    i, cfg = c.steps, c.cfg
    c.steps += 1
    batch = c.task.sample(cfg.batch_size, split="train", seed=_seed(cfg.seed, _TRAIN, i))
    batch = batch.to_torch(CPU)
    gen = generator(CPU, _seed(cfg.seed, _NOISE, i))
    with use_backend(c.backend):
        t0, c0 = time.perf_counter(), time.process_time()
        _, _, result = train_step(c.model, c.opt, c.sched, batch, cfg, cost_on=c.cost_on,
                                  floor=c.task.attention_floor, generator=gen, device=CPU)
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    stats = step_statistics(result, batch, cfg.model.n_layers)
    return {"cpu_s": cpu, "wall_s": wall,
            "fractions": np.array([s["fractions"] for s in stats], dtype=float),
            "flops": flops_per_token(c.model, result, batch)}


def race(contenders: dict[str, Contender], repeats: int) -> dict[str, dict]:
    """Two untimed warm-up steps per contender, then ``repeats`` timed steps, interleaved.

    Returns
    -------
    dict
        Per contender: the medians ``cpu_s`` and ``wall_s``, and the means over the timed steps
        of ``fractions`` (layer, tier) and ``flops`` (component).
    """
    for c in contenders.values():
        for _ in range(2):
            run_step(c)
    steps = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, c in contenders.items():
            steps[name].append(run_step(c))
    return {name: {"cpu_s": statistics.median(s["cpu_s"] for s in st),
                   "wall_s": statistics.median(s["wall_s"] for s in st),
                   "fractions": np.mean([s["fractions"] for s in st], 0),
                   "flops": np.mean([s["flops"] for s in st], 0)}
            for name, st in steps.items()}


def load_average() -> float:
    """The 1-minute load average (NaN where the OS has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


# ----------------------------------------------------------------------------- backends mode

def set_trained_routes(model) -> None:
    """Router biases (working, episodic, semantic) that send most tokens to the working route and
    few to attention, as in a trained small model under compute-costed routing (its test routes:
    every observation and binding on the working route, ~2% of tokens attending)."""
    with torch.no_grad():
        for layer in model.layers:
            layer.router.proj.bias.copy_(torch.tensor([3.5, -1.0, 0.0]))


def time_phase(cfg: TrainConfig, phase: str, repeats: int) -> dict:
    """The backends race in one routing phase (same initialisation and batches for each).

    Returns
    -------
    dict
        Median wall and CPU seconds per backend contender, the speed-ups of the C loop over the
        reference, and the native contender's route fractions (mean over layers).
    """
    contenders = {}
    for name, (backend, autocast) in CONTENDERS.items():
        c = make_contender(dataclasses.replace(cfg, autocast=autocast),
                           cost_on=phase == "trained", backend=backend)
        if phase == "trained":
            set_trained_routes(c.model)
        contenders[name] = c
    r = race(contenders, repeats)
    wall = {c: r[c]["wall_s"] for c in CONTENDERS}
    cpu = {c: r[c]["cpu_s"] for c in CONTENDERS}
    return {"native_s": wall["native"], "torch_s": wall["torch"],
            "native_bf16_s": wall["native_bf16"], "speedup": wall["torch"] / wall["native"],
            "bf16_speedup": wall["torch"] / wall["native_bf16"],
            "native_cpu_s": cpu["native"], "torch_cpu_s": cpu["torch"],
            "cpu_speedup": cpu["torch"] / cpu["native"],
            "fractions": [float(x) for x in r["native"]["fractions"].mean(0)]}


def backends(args) -> int:
    """The backends mode: native vs torch reference (and bf16) per thread count and phase."""
    cfg = dataclasses.replace(named_config(args.config), device="cpu")
    print(f"torch {torch.__version__}; config {args.config}; median of {args.repeats} steps, "
          f"{args.runs} run(s)")
    rows = []
    for run in range(args.runs):
        for threads in args.threads:
            torch.set_num_threads(threads)
            load = load_average()
            for phase in args.phases:
                r = time_phase(cfg, phase, args.repeats)
                rows.append({**r, "run": run, "threads": threads, "phase": phase,
                             "load_avg": load})
                print(f"run {run} threads {threads} load {load:.1f} {phase:8s} step: native "
                      f"{r['native_s'] * 1e3:.0f} ms, torch reference {r['torch_s'] * 1e3:.0f} "
                      f"ms -> x{r['speedup']:.2f}; bf16 autocast {r['native_bf16_s'] * 1e3:.0f} ms "
                      f"(x{r['bf16_speedup']:.2f}, other arithmetic); CPU time native "
                      f"{r['native_cpu_s'] * 1e3:.0f} ms, reference {r['torch_cpu_s'] * 1e3:.0f} ms"
                      f" -> x{r['cpu_speedup']:.2f} (working / attention executed / semantic "
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
            kind="benchmark", config=_args_config(args),
            seed=0, attrs={"benchmark": "bench_train", "floor": "step time down by >= 2x",
                           "results_json": json.dumps(rows)})
        records.save(ds, args.out)
        print(f"saved {args.out}")
    return 0


# ----------------------------------------------------------------------------- vs transformer

def run_config(run: Path) -> TrainConfig:
    """The training config of a CRAM run folder (its record's), checking the folder holds a
    finished run; a clear SystemExit where it does not."""
    missing = [f for f in ("record.nc", "model.pt") if not (run / f).exists()]
    if missing:
        what = "does not exist" if not run.is_dir() else f"has no {' or '.join(missing)}"
        raise SystemExit(
            f"bench_train: the run folder {run} {what}: --vs transformer needs a trained CRAM "
            f"run (record.nc and model.pt). Make one with `cramcog train --config small --out "
            f"{run}` (or pass --run DIR of a finished run).")
    cfg = TrainConfig.from_dict(records.open(run / "record.nc").cram.config)
    if cfg.model_kind != "cram":
        raise SystemExit(f"bench_train: {run} holds a {cfg.model_kind!r} run, not a CRAM one")
    return dataclasses.replace(cfg, device="cpu")


def at_length(cfg: TrainConfig, seq_len: int) -> TrainConfig:
    """The config with the task's seq_len set and the batch size holding its tokens per step."""
    batch = max(1, round(cfg.batch_size * cfg.task["seq_len"] / seq_len))
    return TrainConfig.from_dict({**cfg.to_dict(), "batch_size": batch,
                                  "task": {**cfg.task, "seq_len": seq_len}})


def vs_transformer(args) -> int:
    """The ``--vs transformer`` mode: CRAM's (trained) vs the dense Transformer's training step
    per sequence length; one ``train step N=<N> CRAM/Transformer <ratio>`` line per length."""
    run = Path(args.run)
    base = run_config(run)
    threads = args.threads[0]
    torch.set_num_threads(threads)
    print(f"torch {torch.__version__}; CRAM: trained run {repo_relative(run)} (config {base.name}, "
          f"{base.batch_size} x {base.task['seq_len']} tokens per step); {threads} thread(s); "
          f"median of {args.repeats} steps, load {load_average():.1f}")
    rows = []
    for n in args.lengths:
        cfg = at_length(base, n)
        r = race({"cram": make_contender(cfg, model=load_model(run)),
                  "transformer": make_contender(dataclasses.replace(cfg,
                                                                    model_kind="transformer"))},
                 args.repeats)
        cram, dense = r["cram"], r["transformer"]
        ratio = cram["cpu_s"] / dense["cpu_s"]
        # the router's decisions per layer and tier; attention EXECUTED by every token where a
        # layer took the dense path (layer_stats)
        routes, attended = cram["fractions"].copy(), cram["fractions"][:, 1]
        routes[:, 1] = 1.0 - routes[:, 0] - routes[:, 2]
        flops = cram["flops"].sum(), dense["flops"].sum()
        rows.append({"length": n, "batch_size": cfg.batch_size, "ratio": ratio,
                     "load_avg": load_average(), **{f"{k}_{q}": r[k][q] for k in r
                                                    for q in ("cpu_s", "wall_s")},
                     "cram_flops_per_token": cram["flops"],
                     "transformer_flops_per_token": dense["flops"],
                     "route_fraction": routes, "attended_fraction": attended})
        print(f"N={n}: batch {cfg.batch_size} ({cfg.batch_size * n} tokens per step); CPU time "
              f"per step CRAM {cram['cpu_s'] * 1e3:.0f} ms, Transformer "
              f"{dense['cpu_s'] * 1e3:.0f} ms; wall CRAM {cram['wall_s'] * 1e3:.0f} ms, "
              f"Transformer {dense['wall_s'] * 1e3:.0f} ms")
        print("  CRAM routes working/episodic/semantic: " + "; ".join(
            f"L{i} {np.round(f, 3).tolist()}" for i, f in enumerate(routes))
            + "; attention executed by " + ", ".join(f"{a:.3f}" for a in attended))
        print(f"  executed FLOPs per token: CRAM {flops[0] / 1e6:.3f} M, Transformer "
              f"{flops[1] / 1e6:.3f} M (CRAM/Transformer {flops[0] / flops[1]:.2f})")
        print(f"train step N={n} CRAM/Transformer {ratio:.2f}", flush=True)
    if args.out:
        length = ("length",)
        data = {k: (length, np.array([row[k] for row in rows], dtype=float))
                for k in ("cram_cpu_s", "transformer_cpu_s", "ratio", "cram_wall_s",
                          "transformer_wall_s", "load_avg")}
        data["batch_size"] = (length, np.array([row["batch_size"] for row in rows], "int64"))
        for k in ("cram_flops_per_token", "transformer_flops_per_token"):
            data[k] = (("length", "component"), np.array([row[k] for row in rows]))
        data["route_fraction"] = (("length", "layer", "tier"),
                                  np.array([row["route_fraction"] for row in rows]))
        data["attended_fraction"] = (("length", "layer"),
                                     np.array([row["attended_fraction"] for row in rows]))
        ds = records.new_record(
            data, coords={"length": np.array(args.lengths, dtype="int64"),
                          "component": np.array(COMPONENTS), "tier": np.array(TIERS),
                          "layer": np.array([f"L{i}" for i in range(base.model.n_layers)])},
            kind="benchmark", config=_args_config(args), seed=base.seed,
            attrs={"benchmark": "bench_train --vs transformer", "run": repo_relative(run),
                   "threads": threads, "timed": "cramcog.train.train_step",
                   "ratio": "median process CPU time per step, CRAM / Transformer",
                   "route_fraction": "CRAM's router decisions: working / episodic / "
                                     "semantic shares of tokens per layer",
                   "attended_fraction": "share of tokens that executed attention per layer "
                                        "(all of them where a layer took the dense path)"})
        records.save(ds, args.out)
        print(f"saved {args.out}")
    return 0


# ----------------------------------------------------------------------------- CLI

def repo_relative(path) -> str:
    """``path`` relative to the repository when it lies inside it (records keep no machine
    paths), else as given."""
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def _args_config(args) -> dict:
    config = {k: v for k, v in vars(args).items() if k != "out"}
    if config.get("run"):
        config["run"] = repo_relative(config["run"])
    return config


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--vs", choices=["transformer"], default=None,
                   help="race CRAM's training step against the same-width dense Transformer's "
                        "(default: the CT-ODE backends race)")
    p.add_argument("--config", default="small",
                   help="backends mode: named training config (default small)")
    p.add_argument("--run", default=str(DEFAULT_RUN),
                   help="--vs mode: trained CRAM run folder (record.nc + model.pt; default "
                        "paper/models/cram_small)")
    p.add_argument("--lengths", type=int, nargs="+", default=None,
                   help="--vs mode: sequence lengths (default 256 2048)")
    p.add_argument("--threads", type=int, nargs="+", default=None,
                   help="torch threads (default 1 2; --vs mode: one value, default 1)")
    p.add_argument("--repeats", type=int, default=5, help="timed steps per contender and run")
    p.add_argument("--runs", type=int, default=3,
                   help="backends mode: whole measurements (the spread)")
    p.add_argument("--phases", nargs="+", default=list(PHASES), choices=PHASES,
                   help="backends mode: routing phases")
    p.add_argument("--quick", action="store_true",
                   help="one thread, 5 repeats, 1 run; --vs mode: N = 256 and 2048")
    p.add_argument("--out", default=None, help="save the results as a benchmark record (.nc)")
    args = p.parse_args(argv)
    if args.quick:
        for k, v in QUICK.items():
            setattr(args, k, v)
    if args.threads is None:
        args.threads = [1] if args.vs else [1, 2]
    if args.lengths is None:
        args.lengths = QUICK["lengths"]
    if args.vs and len(args.threads) != 1:
        p.error("--vs transformer takes one --threads value")
    return vs_transformer(args) if args.vs else backends(args)


if __name__ == "__main__":
    raise SystemExit(main())
