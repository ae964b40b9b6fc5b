"""Tokenisers for measuring a GPT-2 folder: bytes for cramcog's byte-level models, GPT-2's
byte-level BPE (``vocab.json`` + ``merges.txt`` beside the weights) for real GPT-2.

The BPE is cramcog's own small implementation of GPT-2's published scheme: bytes are mapped to
printable unicode characters, text is pre-split by GPT-2's pattern, then merges are applied by
rank. The pattern uses unicode classes ``\\p{L}`` / ``\\p{N}``; with the ``regex`` package installed
they are exact, otherwise the stdlib ``re`` approximates them (letters = ``[^\\W\\d_]``, numbers =
``\\d``), which can split rare non-ASCII digits differently from the reference tokenizer.

Examples
--------
>>> from cramcog.redundancy.tokenize import byte_to_unicode
>>> byte_to_unicode()[ord("A")], byte_to_unicode()[ord(" ")]
('A', 'Ġ')
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Callable

try:  # exact GPT-2 pre-tokenisation when the optional `regex` package is present
    import regex as _regex
    _PATTERN = _regex.compile(
        r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
except ImportError:  # stdlib approximation of \p{L} and \p{N}
    _PATTERN = re.compile(
        r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")


@lru_cache(maxsize=1)
def byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from the 256 byte values to printable unicode characters."""
    keep = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
            + list(range(ord("®"), ord("ÿ") + 1)))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:  # unprintable bytes go to code points above 255, in byte order
            table[b] = chr(256 + extra)
            extra += 1
    return table


class GPT2BPE:
    """GPT-2 byte-level BPE encoder from ``vocab.json`` and ``merges.txt``.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> from cramcog.redundancy.tokenize import GPT2BPE
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "vocab.json").write_text(json.dumps({"a": 0, "b": 1, "ab": 2, "Ġ": 3}))
    >>> _ = (d / "merges.txt").write_text("#version: 0.2\\na b\\n")
    >>> GPT2BPE(d).encode("ab ab")
    [2, 3, 2]
    """

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        self.vocab = json.loads((folder / "vocab.json").read_text("utf-8"))
        lines = (folder / "merges.txt").read_text("utf-8").splitlines()
        merges = [tuple(line.split()) for line in lines
                  if line.strip() and not line.startswith("#version")]
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self._cache: dict[str, list[str]] = {}

    def _bpe(self, word: str) -> list[str]:
        if word in self._cache:
            return self._cache[word]
        parts = list(word)
        while len(parts) > 1:
            pairs = [(self.ranks.get((a, b), float("inf")), i)
                     for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            rank, _ = min(pairs)
            if rank == float("inf"):
                break
            first, second = parts[_], parts[_ + 1]
            merged, i = [], 0
            while i < len(parts):  # merge every occurrence of the best pair, left to right
                if i < len(parts) - 1 and parts[i] == first and parts[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        self._cache[word] = parts
        return parts

    def encode(self, text: str) -> list[int]:
        table = byte_to_unicode()
        ids = []
        for piece in _PATTERN.findall(text):
            word = "".join(table[b] for b in piece.encode("utf-8"))
            for token in self._bpe(word):
                if token not in self.vocab:
                    raise ValueError(f"BPE token {token!r} is missing from vocab.json")
                ids.append(self.vocab[token])
        return ids


def tokenizer_for(folder: str | Path, vocab_size: int) -> Callable[[str], list[int]]:
    """The tokeniser that matches the model in ``folder``.

    GPT-2 BPE if ``vocab.json`` and ``merges.txt`` are there; else bytes, which only fit a model
    whose vocabulary is exactly 256 (cramcog's byte-level GPT-2).

    Raises
    ------
    ValueError
        No tokenizer files and the vocabulary is not byte-level.
    """
    folder = Path(folder)
    if (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
        return GPT2BPE(folder).encode
    if vocab_size == 256:
        from cramcog.redundancy.corpus import encode_bytes
        return lambda text: encode_bytes(text).tolist()
    raise ValueError(f"{folder}: a vocabulary of {vocab_size} needs GPT-2's tokenizer files "
                     "(vocab.json and merges.txt from the same Hugging Face folder) beside the "
                     "weights")
