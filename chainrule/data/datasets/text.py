"""Language-modelling text: ``Vocab``, ``TextCorpus``, ``TinyShakespeare`` and BPTT helpers.

Word level follows PyTorch's ``word_language_model`` example: each line is split on whitespace and
ends with an ``<eos>`` token; ``batchify`` and ``get_batch`` are that example's helpers. Character
level keeps every character (newlines included) with the vocabulary sorted as in char-rnn.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..._tensor import Tensor, _make
from ..dataset import Dataset
from ._common import find_root

__all__ = ["Vocab", "TextCorpus", "TinyShakespeare", "tokenize", "batchify", "get_batch"]

EOS = "<eos>"
UNK = "<unk>"


def tokenize(text: str, level: str = "char") -> list[str]:
    """Split ``text`` into characters, or into words with ``<eos>`` closing every line."""
    if level == "char":
        return list(text)
    if level == "word":
        tokens: list[str] = []
        for line in text.splitlines():
            tokens.extend(line.split())
            tokens.append(EOS)
        return tokens
    raise ValueError(f"level must be 'char' or 'word', got {level!r}")


class Vocab:
    """A token <-> index mapping.

    Args:
        tokens: the tokens in index order (use ``Vocab.build`` to count a text instead).
        unk_token: the token unknown inputs map to (``None``: unknown tokens raise KeyError).
        level: ``'char'`` (decode joins with "") or ``'word'`` (decode joins with spaces).
    """

    def __init__(
        self, tokens: Sequence[str], unk_token: str | None = UNK, level: str = "word"
    ) -> None:
        if level not in ("char", "word"):
            raise ValueError(f"level must be 'char' or 'word', got {level!r}")
        self.itos = list(tokens)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("Vocab: tokens must be unique")
        if unk_token is not None and unk_token not in self.stoi:
            raise ValueError(f"Vocab: unk_token {unk_token!r} is not among the tokens")
        self.unk_token = unk_token
        self.unk_index = self.stoi[unk_token] if unk_token is not None else None
        self.level = level

    @classmethod
    def build(
        cls,
        tokens: Iterable[str],
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = (UNK,),
        unk_token: str | None = UNK,
        level: str = "word",
    ) -> Vocab:
        """Count ``tokens``: specials first, then by frequency (ties alphabetical), as torchtext.

        ``min_freq`` drops rarer tokens; ``max_size`` caps the vocabulary size, specials included.
        Character vocabularies (``level='char'``, no specials) are simply sorted, as char-rnn.
        """
        counts = Counter(tokens)
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        kept = [(t, c) for t, c in counts.items() if c >= min_freq and t not in specials]
        if level == "char" and not specials:
            ordered = sorted(t for t, _ in kept)
        else:
            ordered = [t for t, _ in sorted(kept, key=lambda tc: (-tc[1], tc[0]))]
        itos = list(specials) + ordered
        if max_size is not None:
            if max_size < len(specials):
                raise ValueError(
                    f"max_size {max_size} is smaller than the {len(specials)} specials"
                )
            itos = itos[:max_size]
        return cls(itos, unk_token=unk_token if unk_token in itos else None, level=level)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        found = self.stoi.get(token)
        if found is not None:
            return found
        if self.unk_index is None:
            raise KeyError(f"token {token!r} is not in the vocabulary (and it has no unk_token)")
        return self.unk_index

    def lookup_token(self, index: int) -> str:
        """The token at ``index``."""
        return self.itos[index]

    def encode(self, text: str | Sequence[str]) -> np.ndarray:
        """Token ids (int64) of a string (tokenized at this vocabulary's level) or a token list."""
        tokens = tokenize(text, self.level) if isinstance(text, str) else text
        if self.level == "word" and isinstance(text, str) and not text.endswith("\n"):
            tokens = tokens[:-1]  # no <eos> after an unfinished last line (a prompt)
        return np.fromiter((self[t] for t in tokens), dtype=np.int64, count=len(tokens))

    def decode(self, ids: Any) -> str:
        """The text of a sequence of ids (a list, ndarray or tensor)."""
        arr = np.asarray(getattr(ids, "_data", ids)).reshape(-1)
        tokens = [self.itos[int(i)] for i in arr]
        if self.level == "char":
            return "".join(tokens)
        lines, words = [], []
        for t in tokens:
            if t == EOS:
                lines.append(" ".join(words) + "\n")
                words = []
            else:
                words.append(t)
        return "".join(lines) + " ".join(words)

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, level={self.level!r}, unk_token={self.unk_token!r})"


class TextCorpus:
    """A text split contiguously into train / valid / test id arrays with a shared ``Vocab``.

    The vocabulary is built from the training part only (unless given), so validation text can
    hold unknown words, as in a real evaluation.

    Args:
        text: the whole corpus.
        level: ``'char'`` or ``'word'``.
        val_fraction / test_fraction: the share of tokens at the end held out (valid then test).
        vocab: reuse a vocabulary; else built with ``min_freq`` / ``max_size``.

    Attributes ``train``, ``valid``, ``test`` are int64 tensors of token ids.
    """

    def __init__(
        self,
        text: str,
        level: str = "char",
        val_fraction: float = 0.1,
        test_fraction: float = 0.0,
        vocab: Vocab | None = None,
        min_freq: int = 1,
        max_size: int | None = None,
    ) -> None:
        if not (
            0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1
        ):
            raise ValueError(
                f"val_fraction={val_fraction} and test_fraction={test_fraction} must be in [0, 1) "
                "and sum to less than 1"
            )
        tokens = tokenize(text, level)
        n = len(tokens)
        n_val, n_test = int(n * val_fraction), int(n * test_fraction)
        n_train = n - n_val - n_test
        if vocab is None:
            specials = () if level == "char" else (UNK,)
            vocab = Vocab.build(
                tokens[:n_train], min_freq=min_freq, max_size=max_size, specials=specials,
                unk_token=UNK if specials else None, level=level,
            )  # fmt: skip
        self.vocab = vocab
        self.level = level
        if level == "char" and vocab.unk_index is None:
            # Characters absent from the training part would have no id: map them to -1 first.
            table = np.full(0x110000 if any(ord(c) > 255 for c in text) else 256, -1, np.int64)
            for t, i in vocab.stoi.items():
                if len(t) == 1:
                    table[ord(t)] = i
            codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
            ids = table[codes]
            if (ids < 0).any():
                bad = text[int(np.flatnonzero(ids < 0)[0])]
                raise KeyError(f"character {bad!r} is not in the vocabulary")
        else:
            ids = np.fromiter((vocab[t] for t in tokens), dtype=np.int64, count=n)
        self.ids = ids
        self.train: Tensor = _make(ids[:n_train])
        self.valid: Tensor = _make(ids[n_train : n_train + n_val])
        self.test: Tensor = _make(ids[n_train + n_val :])

    @property
    def dictionary(self) -> Vocab:
        """The vocabulary (the name the PyTorch example uses)."""
        return self.vocab


def _read_text(root: str | os.PathLike | None, name: str, filename: str) -> tuple[str, str]:
    directory = find_root(root, name, [[filename]])
    path = directory / filename
    with open(path, encoding="utf-8") as fh:
        return fh.read(), str(path)


class TinyShakespeare(Dataset):
    """Tiny Shakespeare (1.1 MB of plays) as (input, next-token target) sequences.

    Args:
        root: directory with ``input.txt`` (default ``data/tinyshakespeare``).
        level: ``'char'`` or ``'word'``.
        seq_len: tokens per sample; samples are consecutive non-overlapping windows.
        split: ``'train'``, ``'val'`` (``'valid'``) or ``'test'``; contiguous parts of the text.
        vocab / min_freq / max_size / val_fraction / test_fraction: see ``TextCorpus``.

    ``ds[i]`` is ``(x, y)``, int64 tensors of length ``seq_len`` with ``y[t] = x[t + 1]``.
    ``ds.corpus`` holds all splits, ``ds.vocab`` the vocabulary.
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        level: str = "char",
        seq_len: int = 128,
        split: str = "train",
        vocab: Vocab | None = None,
        min_freq: int = 1,
        max_size: int | None = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.0,
    ) -> None:
        splits = {"train": "train", "val": "valid", "valid": "valid", "test": "test"}
        if split not in splits:
            raise ValueError(f"split must be one of {sorted(splits)}, got {split!r}")
        if not isinstance(seq_len, int) or seq_len < 1:
            raise ValueError(f"seq_len must be a positive int, got {seq_len!r}")
        text, self.path = _read_text(root, "tinyshakespeare", "input.txt")
        self.corpus = TextCorpus(
            text, level, val_fraction, test_fraction, vocab, min_freq, max_size
        )
        self.vocab = self.corpus.vocab
        self.level = level
        self.seq_len = seq_len
        self.split = split
        self.ids: np.ndarray = getattr(self.corpus, splits[split])._data
        self._n = max((len(self.ids) - 1) // seq_len, 0)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        if not -self._n <= index < self._n:
            raise IndexError(f"index {index} is out of range for {self._n} sequences")
        start = (index % self._n) * self.seq_len
        return (
            _make(self.ids[start : start + self.seq_len]),
            _make(self.ids[start + 1 : start + self.seq_len + 1]),
        )

    def _batch(self, idx: np.ndarray) -> list[Tensor]:
        # All windows of the batch in one gather: starts[:, None] + arange(seq_len).
        pos = (idx % self._n)[:, None] * self.seq_len + np.arange(self.seq_len)
        return [_make(self.ids[pos]), _make(self.ids[pos + 1])]


def batchify(data: Any, bsz: int) -> Tensor:
    """Arrange a 1-D id sequence into ``bsz`` columns (shape ``(n // bsz, bsz)``), dropping the
    remainder, as the PyTorch word_language_model example."""
    arr = np.asarray(getattr(data, "_data", data)).reshape(-1)
    nbatch = len(arr) // bsz
    if nbatch == 0:
        raise ValueError(f"batchify: {len(arr)} tokens are fewer than bsz={bsz}")
    return _make(np.ascontiguousarray(arr[: nbatch * bsz].reshape(bsz, nbatch).T))


def get_batch(source: Any, i: int, bptt: int = 35) -> tuple[Tensor, Tensor]:
    """Rows ``i : i + bptt`` of a batchified source and the flattened next-token targets."""
    arr = np.asarray(getattr(source, "_data", source))
    seq_len = min(bptt, len(arr) - 1 - i)
    if seq_len < 1:
        raise IndexError(f"get_batch: i={i} leaves no target in a source of {len(arr)} rows")
    data = arr[i : i + seq_len]
    target = arr[i + 1 : i + 1 + seq_len].reshape(-1)
    return _make(data), _make(np.ascontiguousarray(target))
