"""Small helpers shared by the layer classes: parameter allocation and argument checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ... import _dtype
from ..._device import device as _device
from ..._tensor import Tensor, _make
from ..parameter import Parameter

if TYPE_CHECKING:
    from .module import Module


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


class ConfigError(ValueError, RuntimeError):
    """A bad layer argument, rejected when the layer is built. torch raises ValueError for some
    of these and RuntimeError for others (often only from forward), so this is both: code
    written against either type catches it."""


def check_size(layer: str, name: str, value: Any, allow_zero: bool = True) -> int:
    """A non-negative int constructor argument, else ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{layer}: {name} must be an int, got {type(value).__name__} {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = "non-negative" if allow_zero else "positive"
        raise ConfigError(f"{layer}: {name} must be {bound}, got {value}")
    return int(value)


def affine_params(
    module: Module, affine: bool, shape: tuple, bias: bool, dtype: Any, device: Any
) -> None:
    """Register the norm layers' ``weight`` and ``bias`` of ``shape`` (uninitialised; ``bias``
    None when not wanted), or both as None when not ``affine``."""
    if affine:
        module.weight = new_param(shape, dtype, device)
        if bias:
            module.bias = new_param(shape, dtype, device)
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def reset_affine(module: Module) -> None:
    """A norm layer's weight ← 1, bias ← 0 (those it has)."""
    from .. import init

    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


def running_stats_buffers(module: Module, track: bool, num_features: int, dtype: Any) -> None:
    """Register running_mean (0), running_var (1) and num_batches_tracked (0, int64), or all
    three as None when the layer does not ``track`` running statistics."""
    if track:
        dt = np_dtype(dtype)
        module.register_buffer("running_mean", _make(np.zeros(num_features, dt)))
        module.register_buffer("running_var", _make(np.ones(num_features, dt)))
        module.register_buffer("num_batches_tracked", _make(np.zeros((), np.int64)))
    else:
        module.register_buffer("running_mean", None)
        module.register_buffer("running_var", None)
        module.register_buffer("num_batches_tracked", None)
