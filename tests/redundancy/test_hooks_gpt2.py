"""Hooks on attention modules (finding them, per-head capture), cramcog's GPT-2 and the Hugging
Face folder layout round trip."""
import json

import numpy as np
import pytest
import torch
import torch.nn as nn

from cramcog.redundancy.corpus import bundled_text, encode_bytes, make_sequences
from cramcog.redundancy.gpt2 import GPT2, GPT2Config
from cramcog.redundancy.hf_io import load_gpt2, read_safetensors, save_gpt2, write_safetensors
from cramcog.redundancy.hooks import AttentionCapture, find_attention_modules
from cramcog.redundancy.analysis import measure_redundancy
from cramcog.redundancy.tokenize import GPT2BPE, tokenizer_for

torch.set_num_threads(1)
TINY = GPT2Config(vocab_size=256, n_positions=16, n_embd=16, n_layer=2, n_head=2)


def _model(seed=0):
    torch.manual_seed(seed)
    return GPT2(TINY).eval()


def test_gpt2_per_head_capture_reconstructs_the_attention_output():
    model = _model()
    idx = torch.randint(0, 256, (3, 10), generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), AttentionCapture(model) as cap:
        model(idx)
        layers = cap.pop()
    assert [l.name for l in layers] == ["transformer.h.0.attn", "transformer.h.1.attn"]
    for layer, block in zip(layers, model.transformer.h):
        assert layer.heads.shape == (30, 2, 8) and layer.x.shape == (30, 16)
        rebuilt = block.attn.c_proj(layer.heads.reshape(30, 16))
        torch.testing.assert_close(rebuilt, layer.out)
    # x is the attention input ln_1(h): check layer 0 directly
    emb = model.transformer.wte(idx) + model.transformer.wpe(torch.arange(10))
    torch.testing.assert_close(layers[0].x, model.transformer.h[0].ln_1(emb).reshape(30, 16))


@pytest.mark.parametrize("batch_first", [True, False])
def test_multihead_attention_heads_are_recomputed_exactly(batch_first):
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(12, 3, batch_first=batch_first).eval()
    model = nn.ModuleDict({"self_attn": mha})
    x = torch.randn(2, 7, 12)
    mask = nn.Transformer.generate_square_subsequent_mask(7)
    inp = x if batch_first else x.transpose(0, 1)
    with torch.no_grad(), AttentionCapture(model) as cap:
        out, _ = mha(inp, inp, inp, attn_mask=mask)
        (layer,) = cap.pop()
    assert layer.heads.shape == (14, 3, 4)
    rebuilt = mha.out_proj(layer.heads.reshape(14, 12))
    expect = out if batch_first else out.transpose(0, 1)
    torch.testing.assert_close(rebuilt, expect.reshape(14, 12), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(layer.x, x.reshape(14, 12))


def test_finding_attention_modules():
    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x):
            return self.lin(x)

    class AttentionBlock(nn.Module):          # a wrapper whose name also matches
        def __init__(self):
            super().__init__()
            self.inner = SelfAttention()

        def forward(self, x):
            return x + self.inner(x)

    model = nn.Sequential(AttentionBlock(), nn.Linear(4, 4))
    assert [n for n, _ in find_attention_modules(model)] == ["0.inner"]   # innermost kept
    assert [n for n, _ in find_attention_modules(model, select=r"^1$")] == ["1"]
    assert [n for n, _ in find_attention_modules(
        model, select=lambda n, m: isinstance(m, nn.Linear))] == ["0.inner.lin", "1"]
    # a module without heads/projection is captured as one "head": its whole output
    with torch.no_grad(), AttentionCapture(model) as cap:
        model(torch.randn(2, 3, 4))
        (layer,) = cap.pop()
    assert layer.heads is None and layer.out.shape == (6, 4)


def test_no_attention_modules_is_a_clear_error():
    mlp = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    with pytest.raises(ValueError, match="select="):
        find_attention_modules(mlp)
    with pytest.raises(ValueError, match="no module matched"):
        find_attention_modules(_model(), select="nothing_has_this_name")
    with pytest.raises(TypeError, match="select"):
        find_attention_modules(_model(), select=3)
    with pytest.raises(TypeError, match="nn.Module"):
        find_attention_modules("not a model")
    with pytest.raises(ValueError, match="select="):
        measure_redundancy(mlp, np.zeros((20, 4), dtype=np.int64))


def test_empty_or_short_corpus_is_a_clear_error():
    with pytest.raises(ValueError, match="empty"):
        encode_bytes("")
    with pytest.raises(TypeError, match="str"):
        encode_bytes(b"bytes")
    with pytest.raises(ValueError, match="fewer than one sequence"):
        make_sequences(encode_bytes("short"), seq_len=16)
    with pytest.raises(ValueError, match="empty"):
        measure_redundancy(_model(), np.zeros((0, 8), dtype=np.int64))
    with pytest.raises(ValueError, match="too few"):
        measure_redundancy(_model(), np.zeros((3, 8), dtype=np.int64))


def test_bundled_corpus_is_the_documented_text():
    text = bundled_text()
    assert len(text.encode("utf-8")) == 203825
    assert "placed in the public domain" in text[:1000]
    seqs = make_sequences(encode_bytes(text), 128)
    assert seqs.shape == (1592, 128) and seqs.max() < 256


@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
def test_hf_layout_round_trip(tmp_path, fmt):
    model = _model(seed=3)
    save_gpt2(model, tmp_path, fmt=fmt)
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["model_type"] == "gpt2" and cfg["n_embd"] == 16
    loaded = load_gpt2(tmp_path)
    idx = torch.randint(0, 256, (2, 9), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(loaded(idx), model(idx), rtol=0, atol=0)


def test_hub_style_keys_and_mask_buffers_load(tmp_path):
    """Original hub files: keys without "transformer.", plus attn.bias causal-mask buffers."""
    model = _model(seed=4)
    state = {k.removeprefix("transformer."): v for k, v in model.state_dict().items()
             if k != "lm_head.weight"}
    for i in range(TINY.n_layer):
        state[f"h.{i}.attn.bias"] = torch.tril(torch.ones(1, 1, 16, 16))
    write_safetensors(state, tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text(json.dumps(TINY.to_hf()))
    loaded = load_gpt2(tmp_path)
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k


def test_bad_weight_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_gpt2(tmp_path)
    save_gpt2(_model(), tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "n_embd": 32}))
    with pytest.raises(ValueError, match="shape"):
        load_gpt2(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "model_type": "llama"}))
    with pytest.raises(ValueError, match="gpt2"):
        load_gpt2(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_gpt2(tmp_path)


def test_safetensors_reader_matches_the_reference_library(tmp_path):
    st = pytest.importorskip("safetensors.torch")
    tensors = {"a": torch.randn(3, 4), "b": torch.arange(5, dtype=torch.int64),
               "c": torch.randn(2, dtype=torch.float16)}
    st.save_file(tensors, str(tmp_path / "ref.safetensors"))
    ours = read_safetensors(tmp_path / "ref.safetensors")
    write_safetensors(tensors, tmp_path / "ours.safetensors")
    theirs = st.load_file(str(tmp_path / "ours.safetensors"))
    for k, v in tensors.items():
        assert torch.equal(ours[k], v) and torch.equal(theirs[k], v)


def test_logits_match_transformers_gpt2(tmp_path):
    transformers = pytest.importorskip("transformers")
    model = _model(seed=5)
    save_gpt2(model, tmp_path, fmt="bin")
    ref = transformers.GPT2LMHeadModel.from_pretrained(str(tmp_path)).eval()
    idx = torch.randint(0, 256, (2, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(model(idx), ref(idx).logits, rtol=1e-4, atol=1e-5)


def test_tokenizers(tmp_path):
    assert tokenizer_for(tmp_path, 256)("Hi") == [72, 105]
    with pytest.raises(ValueError, match="merges.txt"):
        tokenizer_for(tmp_path, 50257)
    vocab = {"h": 0, "e": 1, "l": 2, "o": 3, "Ġ": 4, "he": 5, "ll": 6, "hell": 7, "hello": 8,
             "Ġh": 9, "!": 10, "Ċ": 11}
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "merges.txt").write_text("#version: 0.2\nh e\nl l\nhe ll\nhell o\nĠ h\n")
    bpe = GPT2BPE(tmp_path)
    # "hello" merges fully; " hell" is "Ġhell": by rank h e, then l l, then he ll -> Ġ + hell
    # (the lower-ranked "Ġ h" never applies); "!" and "\n" are their own pieces
    assert bpe.encode("hello hell!\n") == [8, 4, 7, 10, 11]
    assert bpe.encode(" h") == [9]
    assert tokenizer_for(tmp_path, 50257)("hello") == [8]


def test_bpe_matches_transformers_tokenizer(tmp_path):
    transformers = pytest.importorskip("transformers")
    from cramcog.redundancy.tokenize import byte_to_unicode
    chars = list(byte_to_unicode().values())
    merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("Ġ", "a"), ("e", "r"),
              ("Ġa", "n"), ("Ġan", "d"), ("r", "e"), ("o", "n")]
    vocab = {c: i for i, c in enumerate(chars)}
    for a, b in merges:
        vocab[a + b] = len(vocab)
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "merges.txt").write_text("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges))
    ref = transformers.GPT2Tokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"))
    text = bundled_text()[:3000] + " the theorem and 42 rèsumé\n\n  end"
    assert GPT2BPE(tmp_path).encode(text) == ref.encode(text)
