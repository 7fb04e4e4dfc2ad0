"""Real data sets, read from bundled or repository files; nothing is ever downloaded.

- ``Digits``: UCI 8x8 handwritten digits (1,797), bundled inside the package.
- ``MNIST``: 28x28 handwritten digits from IDX files (``data/mnist``).
- ``TinyShakespeare`` / ``TextCorpus`` / ``Vocab``: character- and word-level language modelling.
- ``SpokenDigits``: the Free Spoken Digit Dataset WAVs as log-mel, MFCC or waveform features.
"""

from __future__ import annotations

from .digits import Digits as Digits
from .digits import load_digits as load_digits
from .mnist import MNIST as MNIST
from .mnist import read_idx as read_idx
from .spoken import SPEAKERS as SPEAKERS
from .spoken import SpokenDigits as SpokenDigits
from .text import TextCorpus as TextCorpus
from .text import TinyShakespeare as TinyShakespeare
from .text import Vocab as Vocab
from .text import batchify as batchify
from .text import get_batch as get_batch
from .text import tokenize as tokenize

__all__ = [
    "Digits",
    "MNIST",
    "SPEAKERS",
    "SpokenDigits",
    "TextCorpus",
    "TinyShakespeare",
    "Vocab",
    "batchify",
    "get_batch",
    "load_digits",
    "read_idx",
    "tokenize",
]
