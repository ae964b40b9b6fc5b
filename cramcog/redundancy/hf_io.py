"""Read and write GPT-2 checkpoints in the Hugging Face folder layout, without transformers.

A folder holds ``config.json`` and either ``model.safetensors`` or ``pytorch_model.bin``. The
safetensors format is simple enough to read and write here (an 8-byte little-endian header length,
a JSON header of ``{name: {dtype, shape, data_offsets}}``, then raw little-endian bytes), so the
``safetensors`` package is not needed.

Key names accepted: ``transformer.h.0...`` (GPT2LMHeadModel) or ``h.0...`` (GPT2Model, as in the
original hub files); ``lm_head.weight`` must equal ``wte.weight`` when present (GPT-2 ties them);
the non-parameter buffers ``attn.bias`` / ``attn.masked_bias`` (old causal masks) are ignored.

Examples
--------
>>> import tempfile
>>> from cramcog.redundancy.gpt2 import GPT2, GPT2Config
>>> from cramcog.redundancy.hf_io import save_gpt2, load_gpt2
>>> folder = tempfile.mkdtemp()
>>> _ = save_gpt2(GPT2(GPT2Config(n_embd=16, n_layer=1, n_head=2, n_positions=8)), folder)
>>> load_gpt2(folder).config.n_embd
16
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import torch

from cramcog.redundancy.gpt2 import GPT2, GPT2Config

_ST_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16,
              "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32,
              "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}
_ST_NAMES = {v: k for k, v in _ST_DTYPES.items()}
_IGNORED_SUFFIXES = (".attn.bias", ".attn.masked_bias")


def read_safetensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a ``.safetensors`` file into a dict of CPU tensors.

    Examples
    --------
    >>> import tempfile, os, torch
    >>> from cramcog.redundancy.hf_io import read_safetensors, write_safetensors
    >>> p = os.path.join(tempfile.mkdtemp(), "t.safetensors")
    >>> write_safetensors({"a": torch.arange(3.0)}, p)
    >>> read_safetensors(p)["a"].tolist()
    [0.0, 1.0, 2.0]
    """
    raw = Path(path).read_bytes()
    if len(raw) < 8:
        raise ValueError(f"{path} is too short to be a safetensors file")
    (n_header,) = struct.unpack("<Q", raw[:8])
    if n_header > len(raw) - 8:
        raise ValueError(f"{path}: header length {n_header} exceeds the file size; not safetensors?")
    header = json.loads(raw[8:8 + n_header])
    body = memoryview(raw)[8 + n_header:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _ST_DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name!r} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        flat = torch.frombuffer(bytearray(body[start:end]), dtype=dtype) if end > start \
            else torch.empty(0, dtype=dtype)
        out[name] = flat.reshape(info["shape"])
    return out


def write_safetensors(tensors: dict[str, torch.Tensor], path: str | os.PathLike) -> None:
    """Write a dict of tensors as a ``.safetensors`` file (shared storage is copied)."""
    header, chunks, offset = {}, [], 0
    for name, t in sorted(tensors.items()):
        t = t.detach().cpu().contiguous()
        if t.dtype not in _ST_NAMES:
            raise ValueError(f"tensor {name!r} has dtype {t.dtype}, which safetensors cannot hold")
        data = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _ST_NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # align the data section, as the reference writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for data in chunks:
            f.write(data)


def save_gpt2(model: GPT2, folder: str | os.PathLike, fmt: str = "safetensors") -> Path:
    """Save ``model`` in the Hugging Face layout: ``config.json`` + weights file.

    Parameters
    ----------
    fmt : {"safetensors", "bin"}
        ``model.safetensors`` (tied ``lm_head.weight`` left out, as Hugging Face does) or
        ``pytorch_model.bin`` (a ``torch.save``-d state dict with every key).

    Returns
    -------
    pathlib.Path
        The folder.
    """
    if fmt not in ("safetensors", "bin"):
        raise ValueError(f"fmt must be 'safetensors' or 'bin', got {fmt!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(model.config.to_hf(), indent=2))
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if fmt == "safetensors":
        state.pop("lm_head.weight")
        write_safetensors(state, folder / "model.safetensors")
    else:
        torch.save(state, folder / "pytorch_model.bin")
    return folder


def _normalise_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        if key.endswith(_IGNORED_SUFFIXES):
            continue
        if key == "lm_head.weight":
            out[key] = value
            continue
        out[key if key.startswith("transformer.") else "transformer." + key] = value
    return out


def load_gpt2(folder: str | os.PathLike, dtype: torch.dtype = torch.float32) -> GPT2:
    """Load a GPT-2 from a Hugging Face-layout folder (real GPT-2 weights, or cramcog's own).

    Raises
    ------
    FileNotFoundError
        The folder, its config.json, or a weights file is missing.
    ValueError
        The config is not a GPT-2 this model supports, or the weights do not match it.
    """
    folder = Path(folder)
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{folder} has no config.json: point at a Hugging Face-layout "
                                "GPT-2 folder (config.json + model.safetensors or pytorch_model.bin)")
    config = GPT2Config.from_hf(json.loads(cfg_path.read_text()))
    if (folder / "model.safetensors").is_file():
        state = read_safetensors(folder / "model.safetensors")
    elif (folder / "pytorch_model.bin").is_file():
        state = torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    else:
        raise FileNotFoundError(f"{folder} has neither model.safetensors nor pytorch_model.bin")
    state = _normalise_keys(state)
    head = state.pop("lm_head.weight", None)
    wte = state.get("transformer.wte.weight")
    if head is not None and wte is not None and not torch.equal(head, wte):
        raise ValueError("lm_head.weight differs from wte.weight; cramcog's GPT-2 ties them")
    model = GPT2(config)
    expected = {k for k in model.state_dict() if k != "lm_head.weight"}
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise ValueError(f"weights do not match a GPT-2 of this config: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    own = model.state_dict()
    for key, value in state.items():
        if tuple(value.shape) != tuple(own[key].shape):
            raise ValueError(f"{key}: shape {tuple(value.shape)} in the file, "
                             f"{tuple(own[key].shape)} expected from config.json")
    model.load_state_dict({k: v.to(torch.float32) for k, v in state.items()}, strict=False)
    return model.to(dtype).eval()


def has_bpe_tokenizer(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds GPT-2 BPE tokenizer files (vocab.json + merges.txt)."""
    folder = Path(folder)
    return (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file()

