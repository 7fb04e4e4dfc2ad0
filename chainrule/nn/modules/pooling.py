"""Pooling layers: max, average and adaptive pooling in 1-D and 2-D (torch's names and reprs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..._tensor import Tensor
from .. import _functional_conv as F
from ._utils import ConfigError
from .module import Module

__all__ = [
    "MaxPool1d",
    "MaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
]


def _positive(name: str, v: Any) -> None:
    vals = (v,) if isinstance(v, int) else tuple(v)
    if any(not isinstance(a, int) or a <= 0 for a in vals):
        raise ConfigError(f"{name} must be positive integers, got {name}={v!r}")


class _MaxPoolNd(Module):
    """MaxPool1d/2d: the same settings and repr; subclasses pick the ``F`` function."""

    _pool: Callable[..., Any]

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        _positive("kernel_size", kernel_size)
        if stride is not None:
            _positive("stride", stride)
        _positive("dilation", dilation)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )

    def forward(self, input: Tensor) -> Any:
        """Pool ``input``; returns (values, indices) when ``return_indices``."""
        return self._pool(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )


class MaxPool2d(_MaxPoolNd):
    """2-D max pooling: y = max over each (dilated) window; ``return_indices`` gives argmax.

    Shape: (N, C, H, W) or (C, H, W) → (N, C, H_out, W_out).
    Example: ``MaxPool2d(2)(x)`` halves H and W.
    """

    _pool = staticmethod(F.max_pool2d)


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling over (N, C, L)."""

    _pool = staticmethod(F.max_pool1d)


class _AvgPoolNd(Module):
    """AvgPool1d/2d's shared repr."""

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """2-D average pooling (count_include_pad, ceil_mode and divisor_override as in torch)."""

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        _positive("kernel_size", kernel_size)
        if stride is not None:
            _positive("stride", stride)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        """Average each window of ``input``."""
        return F.avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )


def _single(v: Any) -> tuple:
    return (v,) if isinstance(v, int) else tuple(v)


class AvgPool1d(_AvgPoolNd):
    """1-D average pooling over (N, C, L)."""

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        _positive("kernel_size", kernel_size)
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        """Average each window of ``input``."""
        return F.avg_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )


class _AdaptiveAvgPoolNd(Module):
    """Adaptive pooling's ``output_size`` and repr; subclasses pick the ``F`` function."""

    _pool: Callable[..., Any]

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

    def forward(self, input: Tensor) -> Tensor:
        """Pool ``input`` to ``output_size``."""
        return self._pool(input, self.output_size)


class _AdaptiveMaxPoolNd(_AdaptiveAvgPoolNd):
    """Adds ``return_indices`` (values and argmax positions) to the adaptive pooling layers."""

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Any:
        """Pool ``input`` to ``output_size``."""
        return self._pool(input, self.output_size, self.return_indices)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed output size (H_out, W_out) whatever the input size."""

    _pool = staticmethod(F.adaptive_avg_pool2d)


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average pooling of (N, C, L) to a fixed length."""

    _pool = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max pooling to a fixed output size; ``return_indices`` gives the argmax positions."""

    _pool = staticmethod(F.adaptive_max_pool2d)


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max pooling of (N, C, L) to a fixed length."""

    _pool = staticmethod(F.adaptive_max_pool1d)
