"""A small synthetic text corpus (train/valid/test.txt) from a toy grammar, for the LM scripts."""

from __future__ import annotations

from pathlib import Path

import numpy as np

_SUBJECTS = ["the cat", "a dog", "the old man", "my sister", "the bird", "a child", "the teacher"]
_VERBS = ["sees", "likes", "chases", "finds", "watches", "helps"]
_OBJECTS = ["the ball", "a red house", "the small river", "her friend", "the green tree", "a book"]
_ENDINGS = ["today", "again", "in the morning", "at night", "near the school", ""]


def _sentence(rs: np.random.RandomState) -> str:
    parts = [
        _SUBJECTS[rs.randint(len(_SUBJECTS))],
        _VERBS[rs.randint(len(_VERBS))],
        _OBJECTS[rs.randint(len(_OBJECTS))],
        _ENDINGS[rs.randint(len(_ENDINGS))],
    ]
    return " ".join(p for p in parts if p) + " ."


def write_corpus(root: Path, n_train: int = 400, n_eval: int = 60, seed: int = 0) -> Path:
    """Write train/valid/test.txt (several sentences a line) under ``root``; return ``root``."""
    rs = np.random.RandomState(seed)
    root.mkdir(parents=True, exist_ok=True)
    for name, n in (("train", n_train), ("valid", n_eval), ("test", n_eval)):
        lines = [" ".join(_sentence(rs) for _ in range(3)) for _ in range(n // 3)]
        (root / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf8")
    return root
