"""CPU inference, side by side in one process: CRAM vs the same-width dense Transformer, with the
routes of a trained model; and routed vs dense attention alone.

1. Whole-model inference (batch 1, forward, no grad) on SRCD test sequences of N = 2048 and 8192
   events: the trained small model's architecture (the record's config: d=64, 2 layers, f_sem
   hidden 1024, rank 16) vs :class:`cramcog.model.DenseTransformer` of the same width, depth,
   heads, embedding and heads. CRAM's routes are forced to those of the trained model: each
   token's tier is drawn from the record's test-split route fractions of its layer and token
   category (``test_route_fraction``: e.g. layer 0 attends every novel query and half of the
   recurring ones, ~97% of tokens go to f_sem). CRAM runs with its CPU default (the compiled C
   CT-ODE loop) and with the plain-torch reference CT-ODE, and with the selective-SSM working
   memory. Weights are random: speed does not depend on them once the routes are fixed.
2. Attention alone at N=2048 with 2% of the queries routed: ``routed_attention`` vs dense causal
   SDPA over all N queries.

Each case runs at 1 and 2 torch threads (``--threads``). A timing is the median of ``--repeats``
calls after one warm-up, the contenders interleaved (A, B, A, B, ...) so that load from other
processes hits both alike; ``--runs`` repeats the whole measurement to show its spread. The machine
load (1-minute load average) is recorded beside each run. Ratios are printed and saved as a record
(``--out``); nothing is tuned to pass. Floors (issue 13): CRAM / Transformer <= 1 at N=2048 and
<= 0.5 at N=8192.

Usage::

    .venv/bin/python benchmarks/bench_cram.py --out runs/bench_cram.nc
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cramcog.configs import TrainConfig, named_config
from cramcog.kernels import routed_attention, use_backend
from cramcog.model import CRAM, DenseTransformer
from cramcog.train import make_task, task_sizes

RECORD = Path(__file__).resolve().parents[1] / "paper" / "records" / "cram_small_seed0.nc"
FLOORS = {2048: 1.0, 8192: 0.5}


def paired_medians(fns, repeats: int) -> list[float]:
    """Median wall time (s) of each callable, timed in turn after one warm-up each."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, acc in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def repo_relative(path) -> str:
    """``path`` relative to the repository when it lies inside it (records keep no machine
    paths), else as given."""
    try:
        return str(Path(path).resolve().relative_to(Path(__file__).resolve().parents[1]))
    except ValueError:
        return str(path)


def trained_routes(record_path) -> tuple[TrainConfig, np.ndarray, str]:
    """The trained run's config and its test route fractions (layer, category, tier)."""
    if record_path and Path(record_path).is_file():
        from cramcog import records
        rec = records.open(record_path)
        cfg = TrainConfig.from_dict(rec.cram.config)
        return cfg, np.asarray(rec["test_route_fraction"].values, float), \
            repo_relative(record_path)
    # no record: the small config, with a trained-like mix measured on cram_small_seed0
    cfg = named_config("small")
    frac = np.zeros((cfg.model.n_layers, 4, 3))
    frac[:, :, 2] = 1.0                                     # f_sem for every category ...
    frac[0, 3] = [0.0, 1.0, 0.0]                            # ... but novel queries attend
    frac[0, 2] = [0.0, 0.5, 0.5]                            # half the recurring queries attend
    return cfg, frac, "built-in mix (no record)"


def route_tiers(category: torch.Tensor, fractions: np.ndarray, seed: int = 0) -> torch.Tensor:
    """(L, B, N) tiers: each token's tier drawn from its layer's fractions for its category."""
    g = torch.Generator().manual_seed(seed)
    L = fractions.shape[0]
    probs = torch.as_tensor(fractions, dtype=torch.float64)           # (L, category, tier)
    tiers = torch.empty((L, *category.shape), dtype=torch.int64)
    for layer in range(L):
        p = probs[layer][category.reshape(-1)]                         # (B N, 3)
        p = p / p.sum(-1, keepdim=True).clamp_min(1e-12)
        tiers[layer] = torch.multinomial(p, 1, generator=g).reshape(category.shape)
    return tiers


def test_batch(cfg: TrainConfig, N: int, seed: int = 0) -> dict:
    from cramcog.tasks import SRCD, SRCDConfig
    task = {**cfg.task, "seq_len": N}
    return SRCD(SRCDConfig(**task)).sample(1, split="test", seed=seed).to_torch()


def bench_models(cfg: TrainConfig, fractions: np.ndarray, N: int, repeats: int) -> list[dict]:
    """CRAM (native CT-ODE, torch CT-ODE, SSM) and the Transformer on one sequence of N."""
    batch = test_batch(cfg, N)
    sizes = task_sizes(make_task(cfg))
    routes = route_tiers(batch["category"], fractions)
    torch.manual_seed(0)
    ct = CRAM(cfg.model, **sizes).eval()
    ssm_cfg = TrainConfig.from_dict({**cfg.to_dict(),
                                     "model": {**cfg.to_dict()["model"], "working_memory": "ssm"}})
    ssm = CRAM(ssm_cfg.model, **sizes).eval()
    dense = DenseTransformer(cfg.model, **sizes).eval()

    def cram_native():
        return ct(batch, route_override=routes)

    def cram_torch():
        with use_backend("torch"):
            return ct(batch, route_override=routes)

    def cram_ssm():
        return ssm(batch, route_override=routes)

    with torch.inference_mode():
        t_nat, t_ref, t_ssm, t_dense = paired_medians(
            [cram_native, cram_torch, cram_ssm, lambda: dense(batch)], repeats)
        layers = cram_native().layers
    att = [float((t.route == 1).float().mean()) for t in layers]
    sem = [float((t.route == 2).float().mean()) for t in layers]
    flops = float(np.mean([t.attention_flops / t.dense_flops for t in layers]))
    common = {"N": N, "transformer_s": t_dense, "attention_fraction": att,
              "semantic_fraction": sem, "attention_flops_ratio": flops}
    return [{**common, "variant": name, "cram_s": t, "ratio": t / t_dense}
            for name, t in (("ct_ode", t_nat), ("ct_ode_torch_reference", t_ref),
                            ("ssm", t_ssm))]


def bench_attention(N: int, frac: float, H: int, Dh: int, repeats: int, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    k, v, q_all = (torch.randn(1, N, H, Dh, generator=g) for _ in range(3))
    M = max(1, round(frac * N))
    pos = torch.sort(torch.randperm(N, generator=g)[:M]).values
    bidx = torch.zeros(M, dtype=torch.int64)
    q = q_all[0, pos]                                                       # (M, H, Dh)
    with torch.inference_mode():
        t_routed, t_dense = paired_medians([
            lambda: routed_attention(q, k, v, bidx, pos),
            lambda: F.scaled_dot_product_attention(q_all.transpose(1, 2), k.transpose(1, 2),
                                                   v.transpose(1, 2), is_causal=True)], repeats)
    return {"N": N, "routed_fraction": M / N, "H": H, "Dh": Dh, "routed_s": t_routed,
            "dense_s": t_dense, "ratio": t_routed / t_dense}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts")
    p.add_argument("--repeats", type=int, default=5, help="timed calls per case and run")
    p.add_argument("--runs", type=int, default=3, help="whole measurements (the spread)")
    p.add_argument("--lengths", type=int, nargs="+", default=[2048, 8192])
    p.add_argument("--record", default=str(RECORD),
                   help="training record whose config and test routes are used")
    p.add_argument("--out", default=None, help="save the results as a benchmark record (.nc)")
    args = p.parse_args(argv)
    cfg, fractions, source = trained_routes(args.record)
    print(f"torch {torch.__version__}; model and routes: {source}; median of {args.repeats} "
          f"calls, {args.runs} run(s)")
    rows, att_rows = [], []
    for run in range(args.runs):
        for threads in args.threads:
            torch.set_num_threads(threads)
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            for N in args.lengths:
                for r in bench_models(cfg, fractions, N, args.repeats):
                    rows.append({**r, "run": run, "threads": threads, "load_avg": load})
                    floor = FLOORS.get(N)
                    if r["variant"] == "ct_ode_torch_reference" or floor is None:
                        verdict = ""
                    else:
                        verdict = " PASS" if r["ratio"] <= floor else " FAIL"
                        verdict += f" (floor <= {floor})"
                    print(f"run {run} threads {threads} load {load:.1f} N={N} CRAM[{r['variant']}] "
                          f"{r['cram_s'] * 1e3:.1f} ms vs Transformer {r['transformer_s'] * 1e3:.1f}"
                          f" ms -> {r['ratio']:.3f}{verdict}", flush=True)
            a = bench_attention(2048, 0.02, 4, 64, args.repeats)
            att_rows.append({**a, "run": run, "threads": threads})
            print(f"run {run} threads {threads} attention N=2048 2% routed: routed/dense "
                  f"{a['ratio']:.3f}", flush=True)
    print("\nsummary: CRAM / Transformer, median [min, max] over runs")
    for threads in args.threads:
        for N in args.lengths:
            for variant in ("ct_ode", "ct_ode_torch_reference", "ssm"):
                vals = [r["ratio"] for r in rows if r["threads"] == threads and r["N"] == N
                        and r["variant"] == variant]
                print(f"  threads {threads} N={N} {variant:24s} {statistics.median(vals):.3f} "
                      f"[{min(vals):.3f}, {max(vals):.3f}]")
    if args.out:
        save_record(rows, att_rows, args, source)
        print(f"saved {args.out}")
    return 0


def save_record(rows, att_rows, args, source) -> None:
    from cramcog import records
    runs = sorted({r["run"] for r in rows})
    variants = ["ct_ode", "ct_ode_torch_reference", "ssm"]
    dims = ("run", "threads", "seq_len", "variant")
    shape = (len(runs), len(args.threads), len(args.lengths), len(variants))
    data = {k: np.full(shape, np.nan) for k in ("cram_s", "transformer_s", "ratio", "load_avg")}
    for r in rows:
        idx = (runs.index(r["run"]), args.threads.index(r["threads"]), args.lengths.index(r["N"]),
               variants.index(r["variant"]))
        for k in data:
            data[k][idx] = r[k]
    units = {"cram_s": "s", "transformer_s": "s", "ratio": "1", "load_avg": "processes"}
    long = {"cram_s": "CRAM forward, batch 1", "transformer_s": "dense Transformer forward",
            "ratio": "CRAM / Transformer time", "load_avg": "1-minute load average"}
    ds = records.new_record(
        {k: (dims, v, {"units": units[k], "long_name": long[k]}) for k, v in data.items()},
        coords={"run": np.array(runs, dtype="int64"),
                "threads": np.array(args.threads, dtype="int64"),
                "seq_len": np.array(args.lengths, dtype="int64"), "variant": np.array(variants)},
        kind="benchmark", seed=0,
        config={k: repo_relative(v) if k == "record" and v else v
                for k, v in vars(args).items() if k != "out"},
        attrs={"benchmark": "bench_cram", "routes_from": source,
               "floors": "CRAM/Transformer <= 1.0 at N=2048, <= 0.5 at N=8192",
               "machine": f"{os.cpu_count()} CPUs, {__import__('platform').processor() or ''}",
               "results_json": json.dumps({"models": rows, "attention": att_rows})})
    records.save(ds, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
