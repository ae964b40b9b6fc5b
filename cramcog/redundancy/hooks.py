"""Forward hooks that capture, per attention module, its input and its output (per head if possible).

What is captured for one token at one attention module ("site"):

- ``x``: the module's input at that token (its first positional argument, or the keyword
  ``hidden_states`` / ``x`` / ``query``). For GPT-2 that is ``ln_1(h_t)``, the layer-normalised
  residual stream: the "hidden state" the attention reads with.
- ``out``: the module's output at that token (first element if it returns a tuple).
- ``heads`` (when the module allows), shape (H, Dh): each head's context vector, i.e. the
  attention-weighted sum of that head's values, *before* the output projection:

  ========================================  ================================================
  module type                               how per-head context is obtained
  ========================================  ================================================
  ``nn.MultiheadAttention``                 recomputed in the hook: the module is re-run with
                                            ``need_weights=True, average_attn_weights=False``
                                            (all masks honoured) and the weights multiply the
                                            value projection. Not with ``add_bias_kv`` /
                                            ``add_zero_attn`` (then output only).
  a module with an output-projection child  a pre-hook on that child (``c_proj``, ``out_proj``,
  (``c_proj``/``out_proj``/``o_proj``/...)  ``o_proj``, ``proj``, ``wo``, ``to_out``, ``dense``)
  and a head count attribute                reads its input (B, T, H*Dh) and splits it into H
  (``num_heads``/``n_head``/...)            heads of Dh (the standard concatenated layout).
  anything else                             output only (one "head" = the whole output).
  ========================================  ================================================

Which modules are attention modules: by default every ``nn.MultiheadAttention`` and every module
whose class name contains "Attention"; when matches nest (e.g. BERT's ``BertAttention`` around
``BertSelfAttention``) only the innermost are kept, so a wrapper's residual connection is never
mistaken for retrieved content. Pass ``select`` (a regex on module names, or a callable
``(name, module) -> bool``) to choose them yourself.

Examples
--------
>>> import torch
>>> from cramcog.redundancy.gpt2 import GPT2, GPT2Config
>>> from cramcog.redundancy.hooks import AttentionCapture
>>> model = GPT2(GPT2Config(n_embd=16, n_layer=2, n_head=2, n_positions=8)).eval()
>>> with AttentionCapture(model) as cap:
...     _ = model(torch.zeros(3, 8, dtype=torch.long))
...     layers = cap.pop()
>>> [(l.name, tuple(l.x.shape), tuple(l.heads.shape)) for l in layers][0]
('transformer.h.0.attn', (24, 16), (24, 2, 8))
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn

PROJ_NAMES = ("c_proj", "out_proj", "o_proj", "proj", "wo", "to_out", "dense")
HEAD_ATTRS = ("num_heads", "n_head", "n_heads", "nhead", "num_attention_heads", "heads")
INPUT_KWARGS = ("hidden_states", "x", "query", "input")


def _default_match(name: str, module: nn.Module) -> bool:
    return isinstance(module, nn.MultiheadAttention) or "attention" in type(module).__name__.lower()


def find_attention_modules(model: nn.Module, select=None) -> list[tuple[str, nn.Module]]:
    """The attention modules of ``model`` in registration order (innermost when matches nest).

    Parameters
    ----------
    model : torch.nn.Module
    select : str or callable, optional
        A regular expression searched in module names (e.g. ``r"\\.attn$"``), or a callable
        ``(name, module) -> bool``. Default: ``nn.MultiheadAttention`` or class name containing
        "Attention".

    Raises
    ------
    ValueError
        No module matched; the message says how to point at them.

    Examples
    --------
    >>> import torch.nn as nn
    >>> from cramcog.redundancy.hooks import find_attention_modules
    >>> m = nn.Sequential(nn.MultiheadAttention(8, 2, batch_first=True))
    >>> [name for name, _ in find_attention_modules(m)]
    ['0']
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if select is None:
        match = _default_match
    elif isinstance(select, str):
        pattern = re.compile(select)
        match = lambda name, module: bool(pattern.search(name))  # noqa: E731
    elif callable(select):
        match = select
    else:
        raise TypeError(f"select must be a regex string or a callable (name, module) -> bool, "
                        f"got {type(select).__name__}")
    named = [(n, m) for n, m in model.named_modules() if n and match(n, m)]
    if not named and select is None and match("", model):
        named = [("", model)]  # the model itself is one attention module
    names = [n for n, _ in named]
    inner = [(n, m) for n, m in named
             if not any(o != n and o.startswith(n + ".") for o in names)]
    if not inner:
        how = ("no nn.MultiheadAttention and no module whose class name contains 'Attention'"
               if select is None else f"no module matched select={select!r}")
        raise ValueError(f"{type(model).__name__} has {how}: pass select=<regex on module names> "
                         "(e.g. r'\\.attn$') or select=<callable(name, module) -> bool> to say "
                         "which modules are attention; list candidates with "
                         "[n for n, _ in model.named_modules()]")
    return inner


@dataclass
class LayerCapture:
    """What one site saw in one forward pass, flattened over (batch, time) valid tokens.

    Attributes
    ----------
    name : str
    x : Tensor, shape (N, D_in)
    out : Tensor, shape (N, D_out)
    heads : Tensor or None, shape (N, H, Dh)
    keep : Tensor or None, shape (B, T) bool
        Which (batch, time) tokens the N rows are, in row-major order (None when the module ran
        more than once in the forward pass).
    """

    name: str
    x: torch.Tensor
    out: torch.Tensor
    heads: torch.Tensor | None
    keep: torch.Tensor | None = None


@dataclass
class _Site:
    name: str
    module: nn.Module
    kind: str                      # "mha", "proj" or "output"
    n_heads: int
    proj: nn.Module | None = None


def _head_count(module: nn.Module) -> int | None:
    for attr in HEAD_ATTRS:
        value = getattr(module, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _plan_site(name: str, module: nn.Module, per_head: bool) -> _Site:
    if not per_head:
        return _Site(name, module, "output", 1)
    if isinstance(module, nn.MultiheadAttention):
        if module.bias_k is not None or module.add_zero_attn:
            return _Site(name, module, "output", 1)
        return _Site(name, module, "mha", module.num_heads)
    n_heads = _head_count(module)
    if n_heads:
        for child_name in PROJ_NAMES:
            child = getattr(module, child_name, None)
            if isinstance(child, nn.Module):
                return _Site(name, module, "proj", n_heads, child)
    return _Site(name, module, "output", 1)


def _first_tensor(args, kwargs, what: str, name: str) -> torch.Tensor:
    if args and isinstance(args[0], torch.Tensor):
        return args[0]
    for key in INPUT_KWARGS:
        if isinstance(kwargs.get(key), torch.Tensor):
            return kwargs[key]
    raise ValueError(f"attention module {name!r}: cannot find its {what} tensor (first positional "
                     f"argument or one of {INPUT_KWARGS}); wrap the model or choose other modules "
                     "with select=")


_MHA_SIG = inspect.signature(nn.MultiheadAttention.forward)


def _mha_heads(module: nn.MultiheadAttention, args, kwargs) -> torch.Tensor:
    """Per-head context (B, T, H, Dh) of an nn.MultiheadAttention call, batch first."""
    bound = _MHA_SIG.bind(module, *args, **kwargs)
    bound.apply_defaults()
    a = bound.arguments
    _, weights = module.forward(
        a["query"], a["key"], a["value"], key_padding_mask=a["key_padding_mask"],
        need_weights=True, attn_mask=a["attn_mask"], average_attn_weights=False,
        is_causal=a["is_causal"])  # weights: (B, H, T, S); .forward bypasses our hooks
    value = a["value"]
    if value.dim() == 2:                      # unbatched (S, E)
        value, weights = value.unsqueeze(0), weights.reshape(1, *weights.shape[-3:])
    elif not module.batch_first:              # (S, B, E) -> (B, S, E)
        value = value.transpose(0, 1)
    E, H = module.embed_dim, module.num_heads
    if module._qkv_same_embed_dim:
        w_v = module.in_proj_weight[2 * E:]
    else:
        w_v = module.v_proj_weight
    b_v = module.in_proj_bias[2 * E:] if module.in_proj_bias is not None else None
    v = torch.nn.functional.linear(value, w_v, b_v)        # (B, S, E)
    B, S, _ = v.shape
    v = v.view(B, S, H, E // H).transpose(1, 2)             # (B, H, S, Dh)
    ctx = weights @ v                                       # (B, H, T, Dh)
    return ctx.transpose(1, 2)                              # (B, T, H, Dh)


class AttentionCapture:
    """Context manager: hooks on a model's attention modules; ``pop()`` returns the last forward's
    captures, flattened over valid tokens.

    Parameters
    ----------
    model : torch.nn.Module
    select : str or callable, optional
        Which modules are attention (see :func:`find_attention_modules`).
    per_head : bool
        Capture per-head context where the module allows (table in the module docstring).
    token_mask : callable, optional
        ``(name, module, args, kwargs, output) -> bool Tensor (B, T) or None``: which tokens
        actually executed this attention (e.g. CRAM's routed tokens); others are not counted.
    extract : callable, optional
        ``(name, module, args, kwargs, output) -> dict`` with ``x`` (B, T, D), ``out`` (B, T, Do),
        ``heads`` (B, T, H, Dh) or None, and optionally ``mask`` (B, T): replaces the built-in
        capture for modules whose attention is not a separate module or whose call signature is
        special (see :mod:`cramcog.redundancy.cram`).

    Notes
    -----
    Tensors are detached and kept only until ``pop()``; run the model under ``torch.no_grad()``
    in eval mode (attention dropout would make recomputed heads differ from the real ones).
    """

    def __init__(self, model: nn.Module, select=None, per_head: bool = True,
                 token_mask: Callable | None = None, extract: Callable | None = None):
        self.model = model
        self.sites = [_Site(n, m, "custom", 0) if extract else _plan_site(n, m, per_head)
                      for n, m in find_attention_modules(model, select)]
        self.token_mask = token_mask
        self.extract = extract
        self._handles: list = []
        self._store: dict[str, list] = {}

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.sites]

    def __enter__(self) -> "AttentionCapture":
        for site in self.sites:
            self._store[site.name] = []
            self._handles.append(site.module.register_forward_hook(
                self._make_hook(site), with_kwargs=True))
            if site.kind == "proj":
                self._handles.append(site.proj.register_forward_pre_hook(self._make_pre(site)))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._store = {k: [] for k in self._store}

    def _make_pre(self, site: _Site):
        def pre_hook(module, args):
            site._ctx = args[0].detach()  # (B, T, H*Dh) pre-projection context
        return pre_hook

    def _make_hook(self, site: _Site):
        def hook(module, args, kwargs, output):
            if site.kind == "custom":
                got = self.extract(site.name, module, args, kwargs, output)
                heads = got.get("heads")
                mask = got.get("mask")
                if self.token_mask is not None:
                    extra = self.token_mask(site.name, module, args, kwargs, output)
                    mask = extra if mask is None else mask & extra
                self._store[site.name].append((
                    got["x"].detach(), got["out"].detach(),
                    None if heads is None else heads.detach(), mask))
                return
            x = _first_tensor(args, kwargs, "input", site.name).detach()
            out = output[0] if isinstance(output, (tuple, list)) else output
            out = out.detach()
            heads = None
            if site.kind == "mha":
                with torch.no_grad():
                    heads = _mha_heads(module, args, kwargs)
                if x.dim() == 2:
                    x, out = x.unsqueeze(0), out.unsqueeze(0)
                elif not module.batch_first:
                    x, out = x.transpose(0, 1), out.transpose(0, 1)
            elif site.kind == "proj":
                ctx = getattr(site, "_ctx", None)
                if ctx is None:
                    raise ValueError(f"attention module {site.name!r}: its output projection "
                                     f"{type(site.proj).__name__} was not called in forward, so "
                                     "per-head context is unavailable; use per_head=False")
                site._ctx = None
                B, T, HD = ctx.shape
                if HD % site.n_heads:
                    raise ValueError(f"{site.name}: projection input width {HD} is not divisible "
                                     f"by {site.n_heads} heads")
                heads = ctx.reshape(B, T, site.n_heads, HD // site.n_heads)
            mask = None
            if self.token_mask is not None:
                mask = self.token_mask(site.name, module, args, kwargs, output)
            self._store[site.name].append((x, out, heads, mask))
        return hook

    def pop(self, min_position: int = 0) -> list[LayerCapture]:
        """Captures of the forward pass(es) since the last pop, one per site, in site order.

        Parameters
        ----------
        min_position : int
            Drop positions ``t < min_position`` (combined with ``token_mask``).
        """
        result = []
        for site in self.sites:
            calls = self._store.get(site.name, [])
            if not calls:
                raise ValueError(f"attention module {site.name!r} was not called in the forward "
                                 "pass: is it used by this model's forward?")
            xs, outs, hs, keeps = [], [], [], []
            for x, out, heads, mask in calls:
                keep = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
                keep[:, :min_position] = False
                if mask is not None:
                    keep &= mask.to(x.device).bool()
                keeps.append(keep)
                xs.append(x[keep])
                outs.append(out[keep])
                hs.append(None if heads is None else heads[keep])
            result.append(LayerCapture(
                site.name, torch.cat(xs), torch.cat(outs),
                None if hs[0] is None else torch.cat(hs), keeps[0] if len(keeps) == 1 else None))
            self._store[site.name] = []
        return result
