"""Where the built-in data sets look for their files, and the shared array-backed base class."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..._tensor import Tensor, _make
from ..dataset import Dataset

# chainrule/data/datasets/_common.py -> the repository root (holds data/ in a source checkout).
_REPO_ROOT = Path(__file__).resolve().parents[3]


def find_root(root: str | os.PathLike | None, name: str, files: Sequence[Sequence[str]]) -> Path:
    """The directory holding the data set ``name``.

    ``root`` may be the directory itself or a parent holding ``name/``; without it,
    ``./data/name`` and ``<repository>/data/name`` are tried. ``files`` lists, per required file,
    the accepted names.
    Raises FileNotFoundError naming every place tried and the expected file names.
    """
    if root is not None:
        candidates = [Path(root), Path(root) / name]
    else:
        candidates = [Path.cwd() / "data" / name, _REPO_ROOT / "data" / name]
    for c in candidates:
        if all(any((c / f).exists() for f in alts) for alts in files):
            return c
    wanted = ", ".join(" or ".join(alts) for alts in files)
    tried = ", ".join(repr(str(c)) for c in candidates)
    raise FileNotFoundError(
        f"{name}: data files not found; looked in {tried} for: {wanted}. chainrule never "
        "downloads: copy the files there or pass root=<directory>."
    )


def pick(directory: Path, alternatives: Sequence[str]) -> Path:
    """The first existing file among ``alternatives`` in ``directory``."""
    for f in alternatives:
        if (directory / f).exists():
            return directory / f
    raise FileNotFoundError(f"none of {list(alternatives)} exists in {str(directory)!r}")


def no_download(name: str, download: bool) -> None:
    if download:
        raise RuntimeError(
            f"{name}: download=True is not supported; chainrule never downloads data. The files "
            "ship with the repository under data/."
        )


class ArrayDataset(Dataset):
    """A dataset over in-memory arrays ``inputs`` (N, ...) and ``targets`` (N,).

    ``_convert`` maps a slice of ``inputs`` to the float tensor a sample holds. Without transforms
    the DataLoader's fast path takes whole batches with one fancy index.
    """

    inputs: np.ndarray
    targets_array: np.ndarray
    transform: Callable[[Any], Any] | None
    target_transform: Callable[[Any], Any] | None

    def _set_arrays(
        self,
        inputs: np.ndarray,
        targets: np.ndarray,
        transform: Callable[[Any], Any] | None,
        target_transform: Callable[[Any], Any] | None,
    ) -> None:
        """Set the arrays and transforms every ArrayDataset holds (called by constructors)."""
        self.inputs = inputs
        self.targets_array = targets
        self.transform = transform
        self.target_transform = target_transform

    @property
    def targets(self) -> Tensor:
        """The labels as an int64 tensor (N,)."""
        return _make(self.targets_array)

    def _convert(self, x: np.ndarray) -> np.ndarray:
        return x

    def __len__(self) -> int:
        return len(self.targets_array)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for {type(self).__name__} of {n}")
        x: Any = _make(self._convert(self.inputs[index]))
        y: Any = int(self.targets_array[index])
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    def __getattr__(self, name: str) -> Any:
        # The fast batch path exists only while no per-sample transform is set.
        if (
            name == "_batch"
            and self.__dict__.get("transform") is None
            and (self.__dict__.get("target_transform") is None)
        ):
            return self._fast_batch
        raise AttributeError(name)

    def _fast_batch(self, idx: np.ndarray) -> list[Tensor]:
        return [_make(self._convert(self.inputs[idx])), _make(self.targets_array[idx])]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All samples as ``(inputs, targets)`` ndarrays (float32 inputs, int64 targets)."""
        return self._convert(self.inputs), self.targets_array.copy()
