"""Side-by-side timings (one process): routed episodic attention vs dense causal attention, and
CRAM vs the same-width dense Transformer for inference.

1. Attention alone at N=2048 with 2% of the queries routed: ``routed_attention`` (gather the
   routed queries, attend over the KV buffer) vs dense causal SDPA over all N queries.
   Target: routed <= 10% of dense time.
2. Whole-model inference (batch 1, forward, no grad) at N=2048 and N=8192: CRAM with its routes
   forced to a trained-like mix (``--routed`` of tokens to attention, ``--semantic`` to f_sem, the
   rest working memory only) vs :class:`cramcog.model.DenseTransformer` with the same width,
   depth, heads, embedding and heads. Both working-memory kinds are timed.

Weights are random: speed does not depend on them once routes are fixed. Each timing is the
median of ``--repeats`` runs after one warm-up run, interleaved (A, B, A, B, ...) so that load from
other processes hits both sides alike. Ratios are printed; nothing is tuned to pass.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_cram.py [--threads 1] [--out bench.nc]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from cramcog.configs import CRAMConfig
from cramcog.kernels import routed_attention
from cramcog.model import EPISODIC, SEMANTIC, WORKING, CRAM, DenseTransformer


def paired_medians(fn_a, fn_b, repeats: int) -> tuple[float, float]:
    """Median wall time (s) of two callables, timed alternately after one warm-up each."""
    fn_a(), fn_b()
    ta, tb = [], []
    for _ in range(repeats):
        for fn, acc in ((fn_a, ta), (fn_b, tb)):
            t0 = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)


def bench_attention(N: int, frac: float, H: int, Dh: int, repeats: int, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    k = torch.randn(1, N, H, Dh, generator=g)
    v = torch.randn(1, N, H, Dh, generator=g)
    q_all = torch.randn(1, N, H, Dh, generator=g)
    M = max(1, round(frac * N))
    pos = torch.sort(torch.randperm(N, generator=g)[:M]).values
    bidx = torch.zeros(M, dtype=torch.int64)
    q = q_all[0, pos]                                                       # (M, H, Dh)

    def routed():
        return routed_attention(q, k, v, bidx, pos)

    def dense():
        return F.scaled_dot_product_attention(q_all.transpose(1, 2), k.transpose(1, 2),
                                              v.transpose(1, 2), is_causal=True)

    with torch.inference_mode():
        t_routed, t_dense = paired_medians(routed, dense, repeats)
    return {"N": N, "routed_fraction": M / N, "H": H, "Dh": Dh, "routed_s": t_routed,
            "dense_s": t_dense, "ratio": t_routed / t_dense}


def synthetic_batch(N: int, seed: int = 0, obs_dim: int = 3, n_keys: int = 4096,
                    n_values: int = 256) -> dict:
    g = torch.Generator().manual_seed(seed)
    kind = torch.zeros(1, N, dtype=torch.int64)
    kind[0, torch.randperm(N, generator=g)[: N // 10]] = 1
    return {"kind": kind, "obs": torch.randn(1, N, obs_dim, generator=g) * (kind == 0)[..., None],
            "key": torch.where(kind > 0, torch.randint(1, n_keys + 1, (1, N), generator=g), 0),
            "value": torch.where(kind == 1, torch.randint(1, n_values + 1, (1, N), generator=g), 0),
            "dt": torch.rand(1, N, generator=g) * 0.05,
            "next_dt": torch.rand(1, N, generator=g) * 0.05}


def forced_routes(L: int, N: int, routed: float, semantic: float, seed: int = 0) -> torch.Tensor:
    """(L, 1, N) tiers: ``routed`` of tokens episodic, ``semantic`` semantic, rest working."""
    g = torch.Generator().manual_seed(seed)
    routes = torch.full((L, 1, N), WORKING, dtype=torch.int64)
    for layer in range(L):
        perm = torch.randperm(N, generator=g)
        n_e, n_s = round(routed * N), round(semantic * N)
        routes[layer, 0, perm[:n_e]] = EPISODIC
        routes[layer, 0, perm[n_e:n_e + n_s]] = SEMANTIC
    return routes


def bench_models(N: int, cfg: CRAMConfig, routed: float, semantic: float, repeats: int) -> dict:
    torch.manual_seed(0)
    cram = CRAM(cfg, 3, 4096, 256).eval()
    dense = DenseTransformer(cfg, 3, 4096, 256).eval()
    batch = synthetic_batch(N)
    routes = forced_routes(cfg.n_layers, N, routed, semantic)
    with torch.inference_mode():
        t_cram, t_dense = paired_medians(lambda: cram(batch, route_override=routes),
                                         lambda: dense(batch), repeats)
        flops = cram(batch, route_override=routes).layers
    return {"N": N, "working_memory": cfg.working_memory, "d_model": cfg.d_model,
            "n_layers": cfg.n_layers, "routed_fraction": routed, "cram_s": t_cram,
            "transformer_s": t_dense, "ratio": t_cram / t_dense,
            "flops_ratio": float(np.mean([t.attention_flops / t.dense_flops for t in flops]))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--routed", type=float, default=0.02, help="fraction routed to attention")
    p.add_argument("--semantic", type=float, default=0.035, help="fraction routed to f_sem")
    p.add_argument("--d-model", type=int, default=64, help="model width (small config: 64)")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--lengths", type=int, nargs="+", default=[2048, 8192])
    p.add_argument("--out", default=None, help="also save the results as a benchmark record")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {args.repeats}")

    rows_att = []
    for H, Dh in ((args.heads, args.d_model // args.heads), (4, 64)):
        r = bench_attention(2048, args.routed, H, Dh, args.repeats)
        rows_att.append(r)
        print(f"attention N=2048 H={H} Dh={Dh} routed {r['routed_fraction']:.3f}: routed "
              f"{r['routed_s'] * 1e3:.2f} ms vs dense {r['dense_s'] * 1e3:.2f} ms -> ratio "
              f"{r['ratio']:.3f} (target <= 0.10)")
    rows_model = []
    for wm in ("ct_ode", "ssm"):
        cfg = CRAMConfig(d_model=args.d_model, n_layers=args.layers, n_heads=args.heads,
                         working_memory=wm)
        for N in args.lengths:
            r = bench_models(N, cfg, args.routed, args.semantic, args.repeats)
            rows_model.append(r)
            print(f"inference N={N} CRAM[{wm}] {r['cram_s'] * 1e3:.1f} ms vs Transformer "
                  f"{r['transformer_s'] * 1e3:.1f} ms -> CRAM/Transformer {r['ratio']:.3f} "
                  f"(speed-up x{1 / r['ratio']:.2f}; attention FLOPs {r['flops_ratio']:.4f} "
                  "of dense)")
    if args.out:
        from cramcog import records
        ds = records.new_record(
            {"attention_time_ratio": (("attention_case",), [r["ratio"] for r in rows_att]),
             "model_time_ratio": (("model_case",), [r["ratio"] for r in rows_model])},
            coords={"attention_case": [f"H{r['H']}xDh{r['Dh']}" for r in rows_att],
                    "model_case": [f"{r['working_memory']}-N{r['N']}" for r in rows_model]},
            kind="benchmark", config=vars(args), seed=0,
            attrs={"threads": args.threads, "results_json": __import__("json").dumps(
                {"attention": rows_att, "models": rows_model})})
        records.save(ds, args.out)
        print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
