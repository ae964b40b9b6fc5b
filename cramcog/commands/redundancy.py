"""``cramcog redundancy``: how much attention retrieves what the hidden state already predicts.

Two actions:

- ``cramcog redundancy train``: train cramcog's small byte-level GPT-2 on the bundled public-domain
  corpus, measure redundancy at log-spaced checkpoints, test the trend over training;
- ``cramcog redundancy measure PATH [PATH ...]``: measure Hugging Face-layout GPT-2 folders
  (config.json + model.safetensors or pytorch_model.bin), e.g. saved checkpoints or real GPT-2.

Each writes ``OUT/redundancy.nc`` (a record) and ``OUT/redundancy.png`` and prints the headline.

Examples
--------
>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> register(sub)
"""
from __future__ import annotations

import os
import re
from pathlib import Path


def _tiny() -> bool:
    return os.environ.get("CRAMCOG_TINY", "") not in ("", "0")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "redundancy", help="attention redundancy: linear probes on attention, over training",
        description="Share of attention operations whose output a linear ridge probe predicts from "
                    "the attention input (relative error <= tau), per layer and head, on held-out "
                    "text. CRAMCOG_TINY=1 shrinks the defaults for a quick check.")
    sub = p.add_subparsers(dest="action", metavar="ACTION")

    t = sub.add_parser("train", help="train the small GPT-2 and measure redundancy at checkpoints")
    t.add_argument("--steps", type=int, default=None, help="optimiser steps (default 1000)")
    t.add_argument("--checkpoints", type=int, default=8, help="log-spaced checkpoints incl. step 0")
    t.add_argument("--n-layer", type=int, default=3)
    t.add_argument("--n-head", type=int, default=4)
    t.add_argument("--n-embd", type=int, default=96)
    t.add_argument("--seq-len", type=int, default=128)
    t.add_argument("--batch-size", type=int, default=12)
    t.add_argument("--lr", type=float, default=3e-3)
    t.add_argument("--save-checkpoints", action="store_true",
                   help="also save each checkpoint under OUT/checkpoints/step_NNNNNN (HF layout)")
    _common(t)
    t.set_defaults(func=run_train)

    m = sub.add_parser("measure", help="measure Hugging Face-layout GPT-2 folder(s)")
    m.add_argument("paths", nargs="+", help="folders with config.json + model.safetensors or "
                   "pytorch_model.bin; a name like step_000123 gives the checkpoint's step")
    m.add_argument("--seq-len", type=int, default=128)
    _common(m)
    m.set_defaults(func=run_measure)
    c = sub.add_parser("srcd", help="measure trained CRAM / baseline runs on SRCD sequences")
    c.add_argument("runs", nargs="+", help="run folders written by `cramcog train` (record.nc + "
                   "model.pt); a LABEL=FOLDER form sets the label")
    c.add_argument("--sequences", type=int, default=None,
                   help="SRCD sequences measured (default 64; 16 with CRAMCOG_TINY=1)")
    c.add_argument("--tau", type=float, default=0.5, help="relative-error tolerance (default 0.5)")
    c.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--out", default="runs/redundancy-srcd", help="output folder")
    c.add_argument("--device", default="auto", metavar="DEVICE",
                   help="where the models run: auto (CUDA when present; the default), cpu, cuda "
                        "or cuda:N; probes are fitted on the CPU")
    c.set_defaults(func=run_srcd)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def _common(p) -> None:
    p.add_argument("--text", default=None, help="UTF-8 text file to use (default: the bundled "
                   "public-domain corpus)")
    p.add_argument("--max-sequences", type=int, default=None,
                   help="analysed sequences per checkpoint (default 400; 0 = all)")
    p.add_argument("--tau", type=float, default=0.5, help="relative-error tolerance (default 0.5)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/redundancy", help="output folder (default "
                   "runs/redundancy)")


def _read_text(path):
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--text {path}: no such file")
    return path.read_text("utf-8")


def _max_sequences(args):
    if args.max_sequences is None:
        return 48 if _tiny() else 400
    return None if args.max_sequences == 0 else args.max_sequences


def _finish(ds, out: Path) -> int:
    from cramcog import records
    from cramcog.redundancy.plots import plot_redundancy

    out.mkdir(parents=True, exist_ok=True)
    records.save(ds, out / "redundancy.nc")
    plot_redundancy(ds, out / "redundancy.png")
    a = ds.attrs
    many = "checkpoint" in ds.dims
    final = float(ds.headline_fraction[-1]) if many else a["headline_fraction"]
    base = float(ds.baseline_headline_fraction[-1]) if many else a["baseline_headline_fraction"]
    print(f"headline: {final:.1%} of attention operations are predictable"
          + (" (last checkpoint)" if many else "")
          + f"; the training mean alone predicts {base:.1%}")
    print(f"  definition: {a['headline_definition']}")
    for key in sorted(k for k in a if k.startswith("trend_") and k.endswith("_verdict")):
        stem = key[: -len("_verdict")]
        print(f"  {stem[6:]}: slope {a[stem + '_slope']:+.4f} per decade of steps, 95% CI "
              f"[{a[stem + '_ci_low']:+.4f}, {a[stem + '_ci_high']:+.4f}] -> {a[key]}")
    print(f"  peak RSS {a['peak_rss_mb']:.0f} MB; probe statistics {a['probe_statistics_mb']:.1f} MB")
    print(out / "redundancy.nc")
    return 0


def run_train(args) -> int:
    from cramcog.redundancy.analysis import RedundancyConfig
    from cramcog.redundancy.gpt2 import GPT2Config
    from cramcog.redundancy.training import LMTrainConfig, train_and_measure

    tiny = _tiny()
    steps = args.steps if args.steps is not None else (30 if tiny else 1000)
    model = GPT2Config(n_positions=args.seq_len, n_embd=32 if tiny else args.n_embd,
                       n_layer=2 if tiny else args.n_layer, n_head=args.n_head)
    train = LMTrainConfig(steps=steps, batch_size=args.batch_size, seq_len=args.seq_len, lr=args.lr,
                        n_checkpoints=min(args.checkpoints, 4) if tiny else args.checkpoints,
                        max_sequences=_max_sequences(args), seed=args.seed, model=model)
    red = RedundancyConfig(tau=args.tau, n_folds=args.folds, seed=args.seed)
    out = Path(args.out)
    ds = train_and_measure(train, red, text=_read_text(args.text),
                           checkpoint_dir=out / "checkpoints" if args.save_checkpoints else None,
                           progress=print)
    return _finish(ds, out)


def run_measure(args) -> int:
    import numpy as np

    from cramcog.redundancy.analysis import RedundancyConfig, measure_redundancy
    from cramcog.redundancy.corpus import bundled_text, make_sequences
    from cramcog.redundancy.hf_io import load_gpt2
    from cramcog.redundancy.tokenize import tokenizer_for

    red = RedundancyConfig(tau=args.tau, n_folds=args.folds, seed=args.seed)
    text = _read_text(args.text)
    text = bundled_text() if text is None else text
    per, steps = [], []
    for i, path in enumerate(args.paths):
        folder = Path(path)
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: not a folder (expected a Hugging Face-layout GPT-2)")
        model = load_gpt2(folder)
        encode = tokenizer_for(folder, model.config.vocab_size)
        seq_len = min(args.seq_len, model.config.n_positions)
        seqs = make_sequences(np.asarray(encode(text)), seq_len, _max_sequences(args))
        ds = measure_redundancy(model, seqs, red)
        match = re.search(r"step_?(\d+)", folder.name)
        steps.append(int(match.group(1)) if match else i)
        print(f"{folder}: {ds.attrs['headline_fraction']:.1%} of head operations predictable "
              f"(mean-only baseline {ds.attrs['baseline_headline_fraction']:.1%}), mean head R^2 "
              f"{ds.attrs['mean_r2_heldout']:.3f}")
        per.append(ds)
    if len(per) == 1:
        return _finish(per[0], Path(args.out))
    from cramcog.redundancy.training import combine_checkpoints
    ds = combine_checkpoints(per, steps, config={"redundancy": red.__dict__,
                                                  "paths": [str(p) for p in args.paths]},
                             seed=args.seed)
    return _finish(ds, Path(args.out))


def run_srcd(args) -> int:
    from cramcog import records
    from cramcog.redundancy.analysis import RedundancyConfig
    from cramcog.redundancy.cram import compare_srcd_models
    from cramcog.train import TrainConfig, load_model, make_task

    models, task = {}, None
    for item in args.runs:
        label, sep, folder = item.partition("=")
        folder = Path(folder if sep else item)
        if not (folder / "model.pt").is_file():
            raise FileNotFoundError(f"{folder}: no model.pt (is this a finished `cramcog train` "
                                    "run folder?)")
        cfg = TrainConfig.from_dict(records.open(folder / "record.nc").cram.config)
        this_task = make_task(cfg)
        if task is not None and this_task.config != task.config:
            raise ValueError(f"{folder} was trained on a different SRCD task than the first run; "
                             "compare runs of the same task")
        task = this_task
        models[label if sep else f"{cfg.model_kind}:{folder.name}"] = load_model(folder,
                                                                                 args.device)
    n_seq = args.sequences or (16 if _tiny() else 64)
    red = RedundancyConfig(tau=args.tau, n_folds=args.folds, seed=args.seed)
    ds = compare_srcd_models(models, task, red, n_sequences=n_seq, seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records.save(ds, out / "redundancy_srcd.nc")
    print(f"{'model':<34} {'executed':>9} {'predictable':>11} {'mean-only':>9} {'head R^2':>9} "
          f"{'redundant/token':>15}")
    for i, label in enumerate(ds.model.values):
        print(f"{label:<34} {float(ds.executed_fraction_mean[i]):>9.3f} "
              f"{float(ds.headline_fraction[i]):>11.3f} "
              f"{float(ds.baseline_headline_fraction[i]):>9.3f} "
              f"{float(ds.mean_r2_heldout[i]):>9.3f} {float(ds.redundant_per_token_mean[i]):>15.3f}")
    print(f"  predictable: {ds.attrs['headline_definition']}")
    print("per token category (mean over layers): executed share / predictable share of executed")
    print(f"{'model':<34} " + " ".join(f"{str(c):>22}" for c in ds.label.values))
    for i, label in enumerate(ds.model.values):
        ex = ds.label_executed_fraction.isel(model=i).mean("layer").values
        pr = ds.label_predictable_fraction.isel(model=i).mean("layer", skipna=True).values
        print(f"{label:<34} " + " ".join(f"{e:>10.3f} / {p:>9.3f}" for e, p in zip(ex, pr)))
    print(out / "redundancy_srcd.nc")
    return 0
