"""Offline text corpus for the redundancy analysis: the bundled text, byte tokens, sequences, splits.

The bundled text is ``data/rst_spec.txt``: the reStructuredText specification and directives
reference from the Docutils 0.23 source distribution (public domain; provenance and checksums in
``data/PROVENANCE.md``). Nothing is downloaded at run time.

Tokenisation is byte-level (vocabulary 256), so any text works and no tokenizer file is needed.
The probe's held-out split is by *sequence*: every non-overlapping window of ``seq_len`` tokens is
assigned, by a seeded permutation, to one of ``n_folds`` cross-validation folds or to the held-out
group, so no token of a held-out sequence ever enters a probe's fit.

Examples
--------
>>> from cramcog.redundancy.corpus import bundled_text, encode_bytes, make_sequences, split_groups
>>> seqs = make_sequences(encode_bytes(bundled_text()), seq_len=128)
>>> seqs.shape[1], seqs.dtype.name
(128, 'int64')
>>> groups = split_groups(len(seqs), heldout_fraction=0.2, n_folds=5, seed=0)
>>> int(groups.max())  # the held-out group is numbered n_folds
5
"""
from __future__ import annotations

from importlib import resources

import numpy as np

BUNDLED_NAME = "rst_spec.txt"
BYTE_VOCAB = 256


def bundled_text() -> str:
    """The bundled public-domain corpus (about 200 KB of UTF-8 English text).

    Examples
    --------
    >>> from cramcog.redundancy.corpus import bundled_text
    >>> "reStructuredText" in bundled_text()[:400]
    True
    """
    return resources.files("cramcog.redundancy").joinpath("data", BUNDLED_NAME).read_text("utf-8")


def encode_bytes(text: str) -> np.ndarray:
    """UTF-8 bytes of ``text`` as an int64 token array (vocabulary 256).

    Raises
    ------
    TypeError
        ``text`` is not a str.
    ValueError
        ``text`` is empty (there is nothing to analyse).

    Examples
    --------
    >>> from cramcog.redundancy.corpus import encode_bytes
    >>> encode_bytes("Ab").tolist()
    [65, 98]
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}; read your file first "
                        "(e.g. Path(p).read_text('utf-8'))")
    if not text:
        raise ValueError("the corpus is empty: pass a non-empty text (or omit it to use the "
                         "bundled corpus)")
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64)


def decode_bytes(tokens) -> str:
    """Inverse of :func:`encode_bytes` (invalid UTF-8 is replaced, not raised).

    Examples
    --------
    >>> from cramcog.redundancy.corpus import decode_bytes
    >>> decode_bytes([72, 105])
    'Hi'
    """
    return bytes(int(t) for t in np.asarray(tokens).ravel()).decode("utf-8", errors="replace")


def make_sequences(tokens: np.ndarray, seq_len: int, max_sequences: int | None = None) -> np.ndarray:
    """Cut a token stream into non-overlapping windows of ``seq_len`` tokens; the tail is dropped.

    Parameters
    ----------
    tokens : array of int, shape (n_tokens,)
    seq_len : int
        Tokens per sequence (at most the model's context length).
    max_sequences : int, optional
        Keep only the first this many sequences.

    Returns
    -------
    numpy.ndarray of int64, shape (n_sequences, seq_len)

    Examples
    --------
    >>> import numpy as np
    >>> from cramcog.redundancy.corpus import make_sequences
    >>> make_sequences(np.arange(10), 4).tolist()
    [[0, 1, 2, 3], [4, 5, 6, 7]]
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 1:
        raise ValueError(f"tokens must be 1-D, got shape {tokens.shape}")
    if not isinstance(seq_len, (int, np.integer)) or seq_len < 2:
        raise ValueError(f"seq_len must be an int >= 2, got {seq_len!r}")
    n = len(tokens) // seq_len
    if n == 0:
        raise ValueError(f"the corpus has {len(tokens)} tokens, fewer than one sequence of "
                         f"seq_len={seq_len}: give more text or a smaller seq_len")
    if max_sequences is not None:
        if max_sequences < 1:
            raise ValueError(f"max_sequences must be >= 1, got {max_sequences}")
        n = min(n, int(max_sequences))
    return tokens[: n * seq_len].reshape(n, seq_len).astype(np.int64)


def split_groups(n_sequences: int, heldout_fraction: float = 0.2, n_folds: int = 5,
                 seed: int = 0) -> np.ndarray:
    """Assign each sequence to a cross-validation fold ``0..n_folds-1`` or to held-out (``n_folds``).

    The assignment is a seeded permutation, so it is reproducible and independent of the order
    in which sequences are later streamed. Every fold and the held-out group get at least one
    sequence.

    Returns
    -------
    numpy.ndarray of int64, shape (n_sequences,)
        Group id per sequence.

    Examples
    --------
    >>> from cramcog.redundancy.corpus import split_groups
    >>> g = split_groups(20, heldout_fraction=0.25, n_folds=3, seed=1)
    >>> int((g == 3).sum()), sorted(set(g.tolist()))
    (5, [0, 1, 2, 3])
    """
    if not 0.0 < heldout_fraction < 1.0:
        raise ValueError(f"heldout_fraction must be in (0, 1), got {heldout_fraction}")
    if n_folds < 2:
        raise ValueError(f"n_folds must be >= 2 for cross-validation, got {n_folds}")
    n_held = int(round(heldout_fraction * n_sequences))
    n_held = max(1, n_held)
    if n_sequences - n_held < n_folds:
        raise ValueError(f"{n_sequences} sequences are too few for {n_folds} folds plus a "
                         f"held-out part: use more text, a shorter seq_len or fewer folds")
    order = np.random.default_rng(seed).permutation(n_sequences)
    groups = np.empty(n_sequences, dtype=np.int64)
    groups[order[:n_held]] = n_folds
    train = order[n_held:]
    groups[train] = np.arange(len(train)) % n_folds  # balanced folds
    return groups
