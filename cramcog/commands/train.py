"""``cramcog train``: train CRAM (or the dense baseline) on SRCD and write its record.

Examples
--------
    cramcog train --config small --out runs/small
    cramcog train --config small --steps 200 --set model.consolidation=false --out runs/nocons
    cramcog train --config small --set model_kind=transformer --out runs/transformer
    cramcog train --config paper --device cuda --dtype bf16 --out runs/paper
"""
from __future__ import annotations

import json


def _parse_value(text: str):
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_overrides(items: list[str]) -> dict:
    """``["steps=10", "model.d_model=32"]`` -> ``{"steps": 10, "model": {"d_model": 32}}``."""
    out: dict = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set expects FIELD=VALUE (e.g. model.d_model=32), got {item!r}")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        if len(parts) > 2 or parts[0] in ("", None):
            raise ValueError(f"--set field {key!r}: use a TrainConfig field, or model.X / task.X")
        if len(parts) == 2:
            if parts[0] not in ("model", "task"):
                raise ValueError(f"--set field {key!r}: only model.X and task.X are nested")
            out.setdefault(parts[0], {})[parts[1]] = _parse_value(value)
        else:
            out[parts[0]] = _parse_value(value)
    return out


# --dtype -> TrainConfig.autocast
DTYPES = {"fp32": "off", "bf16": "bf16"}


def register(subparsers) -> None:
    from cramcog.configs import NAMED_CONFIGS
    p = subparsers.add_parser(
        "train", help="train CRAM on SRCD and write its record",
        description="Train CRAM (or the dense Transformer baseline) on SRCD. Writes record.nc "
                    "(rewritten at every evaluation), checkpoint.pt and model.pt to --out; a "
                    "rerun with the same --out resumes from the checkpoint.")
    p.add_argument("--config", default="small", choices=sorted(NAMED_CONFIGS),
                   help="named config (default: small, the CPU main job)")
    p.add_argument("--steps", type=int, default=None, help="override the number of steps")
    p.add_argument("--seed", type=int, default=None, help="override the seed")
    p.add_argument("--out", default=None, help="run folder (default: runs/train-CONFIG)")
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="auto (CUDA when present; the default), cpu, cuda or cuda:N; a run "
                        "resumes on another device than it started on")
    p.add_argument("--dtype", default=None, choices=sorted(DTYPES),
                   help="fp32 (default) or bf16: bfloat16 autocast of the forward pass "
                        "(weights and optimiser state stay float32)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a config field; repeatable (model.X and task.X for nested)")
    p.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint "
                   "exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_handler)


def _handler(args) -> int:
    from cramcog.configs import named_config
    from cramcog.train import RECORD_FILE, train

    overrides = parse_overrides(args.overrides)
    if args.steps is not None:
        overrides["steps"] = args.steps
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.device is not None:
        overrides["device"] = args.device
    if args.dtype is not None:
        overrides["autocast"] = DTYPES[args.dtype]
    cfg = named_config(args.config, **overrides)
    out = args.out or f"runs/train-{args.config}"
    rec = train(cfg, out_dir=out, resume=not args.no_resume, progress=not args.no_progress)
    acc = rec["test_retrieval_accuracy"].values if "test_retrieval_accuracy" in rec else None
    print(f"record: {out}/{RECORD_FILE} (ran on {rec.attrs['device']}, {rec.attrs['dtype']})")
    if acc is not None:
        print(f"test accuracy overall {acc[0]:.4f} recurring {acc[1]:.4f} novel {acc[2]:.4f}; "
              f"dynamics MSE {float(rec['test_dynamics_mse']):.5f}")
    if "final_attention_fraction" in rec.attrs:
        print(f"final attention fraction {rec.attrs['final_attention_fraction']:.4f} "
              f"(floor {rec.attrs['attention_floor']:.4f}), fall x"
              f"{rec.attrs['attention_fall_ratio']:.1f} from peak")
    return 0
