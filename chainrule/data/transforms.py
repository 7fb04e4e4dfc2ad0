"""Transforms for samples: ``Compose``, ``ToTensor``, ``Normalize`` and seeded augmentations.

Every random transform takes a ``generator`` (default: chainrule's default generator), so the
augmentations of a run are fixed by ``cr.manual_seed`` and restored by a checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._random import Generator, rng
from .._tensor import Tensor, _make

__all__ = [
    "Compose",
    "Lambda",
    "ToTensor",
    "Normalize",
    "RandomShift",
    "RandomCrop",
    "TimeShift",
    "AddNoise",
]


def _arr(x: Any) -> np.ndarray:
    return x._data if isinstance(x, Tensor) else np.asarray(x)


class Compose:
    """Apply transforms one after another."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t}" for t in self.transforms)
        return f"Compose({inner}\n)"


class Lambda:
    """Wrap a function as a transform."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, x: Any) -> Any:
        return self.fn(x)


class ToTensor:
    """An image (H, W) or (H, W, C) array to a float32 (C, H, W) tensor; uint8 scaled to [0, 1]."""

    def __call__(self, pic: Any) -> Tensor:
        a = _arr(pic)
        if a.ndim == 2:
            a = a[:, :, None]
        if a.ndim != 3:
            raise ValueError(
                f"ToTensor: expected an (H, W) or (H, W, C) image, got shape {a.shape}"
            )
        scale = 1.0 / 255.0 if a.dtype == np.uint8 else 1.0
        return _make(
            np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32) * np.float32(scale)
        )

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """``(x - mean[c]) / std[c]`` per channel of a (..., C, H, W) tensor."""

    def __init__(self, mean: Sequence[float] | float, std: Sequence[float] | float) -> None:
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if (self.std == 0).any():
            raise ValueError(
                f"std evaluated to zero after conversion to float32, leading to division by "
                f"zero: std={self.std.tolist()}"
            )

    def __call__(self, x: Any) -> Tensor:
        a = _arr(x)
        if a.ndim < 3:
            raise ValueError(f"Normalize: expected a (..., C, H, W) tensor, got shape {a.shape}")
        dt = a.dtype if a.dtype.kind == "f" else np.float32
        mean = self.mean.astype(dt)[:, None, None]
        std = self.std.astype(dt)[:, None, None]
        return _make(((a - mean) / std).astype(dt, copy=False))

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


def _shift2d(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(a)
    h, w = a.shape[-2:]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[..., yd, xd] = a[..., ys, xs]
    return out


class RandomShift:
    """Shift an image (..., H, W) by up to ``max_shift`` pixels in each direction, zero-filled."""

    def __init__(self, max_shift: int = 2, generator: Generator | None = None) -> None:
        self.max_shift = int(max_shift)
        self.generator = generator

    def __call__(self, x: Any) -> Tensor:
        dy, dx = rng(self.generator).integers(-self.max_shift, self.max_shift + 1, size=2)
        return _make(_shift2d(_arr(x), int(dy), int(dx)))


class RandomCrop:
    """Zero-pad an image (..., H, W) by ``padding`` and crop a random ``size`` window."""

    def __init__(
        self, size: int | Sequence[int], padding: int = 0, generator: Generator | None = None
    ) -> None:
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding = int(padding)
        self.generator = generator

    def __call__(self, x: Any) -> Tensor:
        a = _arr(x)
        p = self.padding
        if p:
            a = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(p, p), (p, p)])
        h, w = a.shape[-2:]
        th, tw = self.size
        if th > h or tw > w:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the image {(h, w)}")
        g = rng(self.generator)
        i, j = int(g.integers(0, h - th + 1)), int(g.integers(0, w - tw + 1))
        return _make(np.ascontiguousarray(a[..., i : i + th, j : j + tw]))


class TimeShift:
    """Shift a signal (..., T) in time by up to ``max_shift`` samples (or frames), zero-filled."""

    def __init__(self, max_shift: int, generator: Generator | None = None) -> None:
        self.max_shift = int(max_shift)
        self.generator = generator

    def __call__(self, x: Any) -> Tensor:
        a = _arr(x)
        s = int(rng(self.generator).integers(-self.max_shift, self.max_shift + 1))
        out = np.zeros_like(a)
        if s >= 0:
            out[..., s:] = a[..., : a.shape[-1] - s]
        else:
            out[..., :s] = a[..., -s:]
        return _make(out)


class AddNoise:
    """Add Gaussian noise of standard deviation ``std``."""

    def __init__(self, std: float = 0.01, generator: Generator | None = None) -> None:
        self.std = float(std)
        self.generator = generator

    def __call__(self, x: Any) -> Tensor:
        a = _arr(x)
        noise = rng(self.generator).standard_normal(a.shape) * self.std
        return _make((a + noise).astype(a.dtype if a.dtype.kind == "f" else np.float32))
