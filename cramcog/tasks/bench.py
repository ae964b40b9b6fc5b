"""Sampling speed of the task generators (run: ``python -m cramcog.tasks.bench``).

Prints, per system, the one-off set-up time (trajectory bank of the train split plus the
observation statistics) and the median / max time to sample a batch, measured in this process.
Training on CPU needs a batch of 8 x 2048 events in well under 100 ms.

Examples
--------
>>> from cramcog.tasks.bench import time_sampling
>>> row = time_sampling("lorenz", batch_size=2, seq_len=128, repeats=2)
>>> sorted(row)
['batch_max_ms', 'batch_median_ms', 'batch_size', 'seq_len', 'setup_s', 'system']
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def time_sampling(system: str, batch_size: int = 8, seq_len: int = 2048, repeats: int = 20,
                  **config) -> dict:
    """Time SRCD sampling for one system (fresh task; first batch counted as set-up).

    Parameters
    ----------
    system : str
        A registered system name.
    batch_size, seq_len : int
        Batch shape to time.
    repeats : int
        Timed batches (distinct sequence seeds).
    **config
        Further :class:`~cramcog.tasks.SRCDConfig` fields.

    Returns
    -------
    dict
        system, batch_size, seq_len, setup_s, batch_median_ms, batch_max_ms.
    """
    from cramcog.tasks import SRCD, SRCDConfig

    start = time.perf_counter()
    task = SRCD(SRCDConfig(system=system, seq_len=seq_len, **config))
    task.sample(batch_size, "train", seed=0)  # builds the bank and observation statistics
    setup = time.perf_counter() - start
    times = []
    for seed in range(1, repeats + 1):
        t0 = time.perf_counter()
        task.sample(batch_size, "train", seed=seed)
        times.append(time.perf_counter() - t0)
    return {"system": system, "batch_size": batch_size, "seq_len": seq_len, "setup_s": setup,
            "batch_median_ms": 1e3 * float(np.median(times)),
            "batch_max_ms": 1e3 * float(np.max(times))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    from cramcog.tasks import MQAR, MQARConfig

    print(f"{'generator':<14}{'B x N':>12}{'setup s':>10}{'median ms':>11}{'max ms':>9}")
    for system in ("lorenz", "vanderpol", "oscillators"):
        r = time_sampling(system, args.batch_size, args.seq_len, args.repeats)
        print(f"{system:<14}{f'{args.batch_size} x {args.seq_len}':>12}{r['setup_s']:>10.2f}"
              f"{r['batch_median_ms']:>11.1f}{r['batch_max_ms']:>9.1f}")
    mqar = MQAR(MQARConfig(seq_len=args.seq_len, n_pairs=64))
    times = []
    for seed in range(args.repeats):
        t0 = time.perf_counter()
        mqar.sample(args.batch_size, "train", seed=seed)
        times.append(time.perf_counter() - t0)
    print(f"{'mqar':<14}{f'{args.batch_size} x {args.seq_len}':>12}{0.0:>10.2f}"
          f"{1e3 * np.median(times):>11.1f}{1e3 * np.max(times):>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
