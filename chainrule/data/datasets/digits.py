"""The UCI 8x8 handwritten digits (1,797 images), bundled inside the package (BSD-3, see _data/)."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..._tensor import _make
from ._common import ArrayDataset

__all__ = ["Digits", "load_digits"]

_FILE = Path(__file__).with_name("_data") / "digits.csv.gz"
N_DIGITS = 1797


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits as ``(images uint8 (1797, 8, 8) in 0..16, labels int64 (1797,))``."""
    if not _FILE.exists():
        raise FileNotFoundError(f"Digits: the bundled file {str(_FILE)!r} is missing")
    with gzip.open(_FILE, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    if table.shape != (N_DIGITS, 65):
        raise ValueError(f"Digits: {str(_FILE)!r} has shape {table.shape}, expected (1797, 65)")
    return table[:, :64].reshape(-1, 8, 8).astype(np.uint8), table[:, 64].copy()


class Digits(ArrayDataset):
    """UCI handwritten digits: 8x8 grey images with values 0..16, labels 0..9.

    Args:
        train: ``None`` for all 1,797 images; ``True`` / ``False`` for a fixed stratified split
            (the same every time) with ``test_fraction`` of each class in the test part.
        transform / target_transform: applied to each sample's image tensor / int label.
        flatten: samples as (64,) vectors instead of (1, 8, 8) images.
        test_fraction: share of each class held out when ``train`` is given (default 0.2).

    Samples are ``(float32 tensor scaled to [0, 1], int label)``.

    Example:
        >>> ds = Digits(train=True)
        >>> x, y = ds[0]; x.shape
        (1, 8, 8)
    """

    classes = [str(i) for i in range(10)]

    def __init__(
        self,
        root: Any = None,
        train: bool | None = None,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        flatten: bool = False,
        test_fraction: float = 0.2,
    ) -> None:
        images, labels = load_digits()
        if train is not None:
            if not 0.0 < test_fraction < 1.0:
                raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
            # A fixed, seeded, per-class split so every run and every tool sees the same test set.
            order = np.random.Generator(np.random.PCG64(0)).permutation(len(labels))
            test = np.zeros(len(labels), dtype=bool)
            for c in range(10):
                members = order[labels[order] == c]
                test[members[: int(round(len(members) * test_fraction))]] = True
            keep = np.flatnonzero(~test if train else test)
            images, labels = images[keep], labels[keep]
        self.train = train
        self.flatten = flatten
        self._set_arrays(images, labels, transform, target_transform)

    @property
    def data(self) -> Any:
        """The images as a uint8 tensor (N, 8, 8), values 0..16."""
        return _make(self.inputs)

    def _convert(self, x: np.ndarray) -> np.ndarray:
        out = x.astype(np.float32) * np.float32(1.0 / 16.0)
        if self.flatten:
            return out.reshape(*out.shape[:-2], 64)
        return out[..., None, :, :]
