"""Small helpers shared by the layer classes: parameter allocation and argument checks."""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import _dtype
from ..._device import device as _device
from ..._tensor import Tensor, _make
from ..parameter import Parameter


def np_dtype(dtype: Any) -> np.dtype:
    """The NumPy dtype for a layer's ``dtype=`` argument (None: the default float dtype)."""
    return _dtype.get_default_dtype().np if dtype is None else _dtype.to_numpy_dtype(dtype)


def new_param(shape: tuple, dtype: Any = None, device: Any = None) -> Parameter:
    """An uninitialised Parameter (the layer's ``reset_parameters`` fills it)."""
    if device is not None:
        _device(device)  # validates: only the CPU exists
    return Parameter(np.zeros(shape, np_dtype(dtype)))


def new_buffer(values: Any, dtype: Any) -> Tensor:
    """A plain tensor for ``register_buffer``."""
    return _make(np.array(values, dtype=dtype))


def check_size(layer: str, name: str, value: Any, allow_zero: bool = True) -> int:
    """A non-negative int constructor argument, else ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{layer}: {name} must be an int, got {type(value).__name__} {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{layer}: {name} must be {bound}, got {value}")
    return int(value)
