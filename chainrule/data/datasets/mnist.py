"""MNIST from its four IDX files (``.gz`` or raw), validated, never downloaded."""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..._tensor import _make
from ._common import ArrayDataset, find_root, no_download, pick

__all__ = ["MNIST", "read_idx"]

_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) into an ndarray, checking magic number and size.

    The magic number is ``0x00 0x00 <dtype> <ndim>``; e.g. 2051 for uint8 images (3 dims) and
    2049 for uint8 labels (1 dim).
    """
    path = Path(path)
    if not path.is_file():
        # a missing file is FileNotFoundError (as open() says), not a corrupt-file ValueError
        raise FileNotFoundError(f"read_idx: no such file: {str(path)!r}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as e:
        raise ValueError(f"{str(path)!r}: cannot read IDX file ({e})") from e
    if len(raw) < 4:
        raise ValueError(f"{str(path)!r}: too short for an IDX header ({len(raw)} bytes)")
    magic = int.from_bytes(raw[:4], "big")
    code, ndim = raw[2], raw[3]
    if raw[:2] != b"\x00\x00" or code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(f"{str(path)!r}: bad IDX magic number {magic:#010x}")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"{str(path)!r}: IDX magic number {magic} != {expected_magic} expected for this file"
        )
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise ValueError(f"{str(path)!r}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[code]
    size = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - head != size:
        raise ValueError(
            f"{str(path)!r}: IDX header says shape {shape} ({size} bytes of data) but the file "
            f"holds {len(raw) - head} bytes"
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=head).reshape(shape).astype(dtype.newbyteorder("="))
    )


def _names(stem: str) -> list[str]:
    return [stem, stem + ".gz", stem + ".reconstructed.gz", stem + ".reconstructed"]


class MNIST(ArrayDataset):
    """MNIST handwritten digits, 28x28, read from IDX files.

    Args:
        root: directory with the IDX files (or a parent holding ``mnist/`` or ``MNIST/raw/``);
            default: ``data/mnist`` of the working directory or of the repository.
        train: the 60,000 training images, else the 10,000 test images.
        transform / target_transform: applied to each sample's image / int label.
        download: accepted for torchvision compatibility; ``True`` raises (never downloads).
        as_float: samples as float32 (1, 28, 28) tensors scaled to [0, 1] (torchvision's
            ``ToTensor``); ``False`` gives the uint8 (28, 28) image.

    Attributes ``data`` (uint8 N x 28 x 28) and ``targets`` (int64 N) follow torchvision.
    """

    classes = [
        "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
        "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine",
    ]  # fmt: skip

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        train: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        download: bool = False,
        as_float: bool = True,
    ) -> None:
        prefix = "train" if train else "t10k"
        images_names = _names(f"{prefix}-images-idx3-ubyte")
        labels_names = _names(f"{prefix}-labels-idx1-ubyte")
        if root is not None and (Path(root) / "MNIST" / "raw").is_dir():
            root = Path(root) / "MNIST" / "raw"
        try:
            directory = find_root(root, "mnist", [images_names, labels_names])
        except FileNotFoundError:
            no_download("MNIST", download)
            raise
        images = read_idx(pick(directory, images_names), expected_magic=2051)
        labels = read_idx(pick(directory, labels_names), expected_magic=2049)
        if images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"MNIST in {str(directory)!r}: {images.shape[0]} images but "
                f"{labels.shape[0]} labels"
            )
        self.root = directory
        self.train = train
        self.as_float = as_float
        self._set_arrays(images, labels.astype(np.int64), transform, target_transform)

    @property
    def data(self) -> Any:
        """The images as a uint8 tensor (N, 28, 28)."""
        return _make(self.inputs)

    def _convert(self, x: np.ndarray) -> np.ndarray:
        if not self.as_float:
            return x
        return (x.astype(np.float32) * np.float32(1.0 / 255.0))[..., None, :, :]
