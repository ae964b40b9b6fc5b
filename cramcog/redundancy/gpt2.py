"""cramcog's own compact GPT-2 (nanoGPT-style), with Hugging Face GPT-2 parameter names.

Every parameter has the name and shape it has in Hugging Face's ``GPT2LMHeadModel`` state dict
(``transformer.h.0.attn.c_attn.weight`` ...; the ``Conv1D`` layers store weights as
``(in, out)``), so real GPT-2 weights load unchanged with :func:`cramcog.redundancy.hf_io.load_gpt2`.

Glossary: ``D`` = n_embd, ``H`` = n_head, ``Dh`` = D / H, ``T`` = sequence length, ``V`` = vocab.

Examples
--------
>>> import torch
>>> from cramcog.redundancy.gpt2 import GPT2, GPT2Config
>>> model = GPT2(GPT2Config(vocab_size=256, n_positions=16, n_embd=32, n_layer=2, n_head=4))
>>> model(torch.zeros(1, 5, dtype=torch.long)).shape
torch.Size([1, 5, 256])
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPT2Config:
    """GPT-2 hyper-parameters; field names follow Hugging Face's ``config.json``.

    Defaults are the small byte-level model cramcog trains on a CPU in minutes.
    """

    vocab_size: int = 256           # 256 = byte-level; real GPT-2 uses 50257
    n_positions: int = 128          # context length (real GPT-2: 1024)
    n_embd: int = 96                # D, width of the residual stream (real GPT-2: 768)
    n_layer: int = 3                # number of transformer blocks (real GPT-2: 12)
    n_head: int = 4                 # H, attention heads per block (D must divide by H)
    layer_norm_epsilon: float = 1e-5
    dropout: float = 0.0            # off by default: deterministic, small data

    def __post_init__(self):
        for name in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"GPT2Config.{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} must be divisible by n_head={self.n_head}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    def to_hf(self) -> dict:
        """This config as a Hugging Face GPT-2 ``config.json`` dict."""
        return {
            "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"],
            "vocab_size": self.vocab_size, "n_positions": self.n_positions, "n_ctx": self.n_positions,
            "n_embd": self.n_embd, "n_layer": self.n_layer, "n_head": self.n_head,
            "n_inner": None, "activation_function": "gelu_new",
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "resid_pdrop": self.dropout, "embd_pdrop": self.dropout, "attn_pdrop": self.dropout,
            "scale_attn_weights": True, "tie_word_embeddings": True,
        }

    @classmethod
    def from_hf(cls, cfg: dict) -> "GPT2Config":
        """Read a Hugging Face GPT-2 ``config.json`` dict; rejects options this model lacks."""
        if cfg.get("model_type", "gpt2") != "gpt2":
            raise ValueError(f"config.json has model_type={cfg.get('model_type')!r}; only 'gpt2' "
                             "checkpoints are supported")
        act = cfg.get("activation_function", "gelu_new")
        if act not in ("gelu_new", "gelu_pytorch_tanh"):
            raise ValueError(f"activation_function={act!r} is not supported (GPT-2 uses gelu_new)")
        n_inner = cfg.get("n_inner")
        if n_inner not in (None, 4 * cfg["n_embd"]):
            raise ValueError(f"n_inner={n_inner} is not supported: cramcog's GPT-2 uses 4 * n_embd")
        for flag in ("scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"):
            if cfg.get(flag):
                raise ValueError(f"config.json sets {flag}=true, which cramcog's GPT-2 does not "
                                 "implement")
        return cls(vocab_size=int(cfg["vocab_size"]), n_positions=int(cfg["n_positions"]),
                   n_embd=int(cfg["n_embd"]), n_layer=int(cfg["n_layer"]),
                   n_head=int(cfg["n_head"]),
                   layer_norm_epsilon=float(cfg.get("layer_norm_epsilon", 1e-5)))

    def as_dict(self) -> dict:
        return asdict(self)


class Conv1D(nn.Module):
    """GPT-2's "Conv1D": a linear layer whose weight is stored ``(in, out)``: y = x @ W + b."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x, self.weight) + self.bias


class GPT2Attention(nn.Module):
    """Causal multi-head self-attention. ``c_proj``'s input is the per-head context, heads
    concatenated in order (head h in columns ``h*Dh:(h+1)*Dh``): the redundancy hooks read it."""

    def __init__(self, config: GPT2Config):
        super().__init__()
        self.num_heads = config.n_head
        self.head_dim = config.n_embd // config.n_head
        self.c_attn = Conv1D(config.n_embd, 3 * config.n_embd)
        self.c_proj = Conv1D(config.n_embd, config.n_embd)
        self.dropout = config.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = self.c_attn(x).split(D, dim=2)
        # (B, T, D) -> (B, H, T, Dh)
        q, k, v = (t.view(B, T, self.num_heads, self.head_dim).transpose(1, 2) for t in (q, k, v))
        ctx = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        ctx = ctx.transpose(1, 2).reshape(B, T, D)  # (B, T, H*Dh), heads concatenated
        return self.c_proj(ctx)


class GPT2MLP(nn.Module):
    def __init__(self, config: GPT2Config):
        super().__init__()
        self.c_fc = Conv1D(config.n_embd, 4 * config.n_embd)
        self.c_proj = Conv1D(4 * config.n_embd, config.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))  # = HF gelu_new


class GPT2Block(nn.Module):
    def __init__(self, config: GPT2Config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = GPT2Attention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.mlp = GPT2MLP(config)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln_1(x)))
        return x + self.drop(self.mlp(self.ln_2(x)))


class GPT2(nn.Module):
    """GPT-2 language model with tied input/output embeddings.

    Parameters
    ----------
    config : GPT2Config

    Examples
    --------
    >>> from cramcog.redundancy.gpt2 import GPT2, GPT2Config
    >>> m = GPT2(GPT2Config(n_embd=32, n_layer=1, n_head=2, n_positions=8))
    >>> "transformer.h.0.attn.c_attn.weight" in m.state_dict()
    True
    """

    def __init__(self, config: GPT2Config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.n_positions, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList(GPT2Block(config) for _ in range(config.n_layer)),
            ln_f=nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied, as in GPT-2
        nn.init.normal_(self.transformer.wte.weight, std=0.02)
        nn.init.normal_(self.transformer.wpe.weight, std=0.01)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # GPT-2's scaled init of residual projections
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * config.n_layer))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits for token ids ``idx`` of shape (B, T); returns (B, T, V)."""
        if idx.dim() != 2:
            raise ValueError(f"idx must be (batch, time) token ids, got shape {tuple(idx.shape)}")
        B, T = idx.shape
        if T > self.config.n_positions:
            raise ValueError(f"sequence length {T} exceeds the context n_positions="
                             f"{self.config.n_positions}: use shorter sequences")
        pos = torch.arange(T, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))

    def loss(self, idx: torch.Tensor) -> torch.Tensor:
        """Mean next-token cross-entropy (nats) on ``idx`` (B, T)."""
        logits = self(idx[:, :-1])
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), idx[:, 1:].reshape(-1))
