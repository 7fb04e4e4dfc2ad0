"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d (torch's layouts)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..._dtype import get_default_dtype
from ..._random import rng
from ..._tensor import Tensor
from .. import _functional_conv as F
from ..parameter import Parameter
from ._utils import ConfigError
from .module import Module

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _ntuple(v: Any, n: int) -> tuple:
    if isinstance(v, int | np.integer):
        return (int(v),) * n
    v = tuple(v)
    return v * n if len(v) == 1 and n > 1 else v


def _np_dtype(dtype: Any) -> np.dtype:
    if dtype is None:
        return get_default_dtype().np
    return getattr(dtype, "np", None) or np.dtype(dtype)


def uniform_parameter(shape: tuple, bound: float, dtype: Any = None) -> Parameter:
    """A Parameter drawn from U(−bound, bound) with chainrule's default generator."""
    arr = rng(None).uniform(-bound, bound, size=shape).astype(_np_dtype(dtype))
    return Parameter(arr)


class _ConvNd(Module):
    """Shared config, parameters, initialisation and repr of the convolution layers."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        transposed: bool,
        output_padding: Any,
        groups: int,
        bias: bool,
        padding_mode: str,
        n: int,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(v, int | np.integer) or v <= 0:
                raise ValueError(f"{name} must be a positive integer, got {name}={v!r}")
        if not isinstance(groups, int | np.integer) or groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        kernel_size = _ntuple(kernel_size, n)
        stride = _ntuple(stride, n)
        dilation = _ntuple(dilation, n)
        if any(k <= 0 for k in kernel_size):
            raise ConfigError(f"kernel_size must be positive, got kernel_size={kernel_size}")
        if any(s <= 0 for s in stride):
            raise ConfigError(f"stride must be positive, got stride={stride}")
        if any(d <= 0 for d in dilation):
            raise ConfigError(f"dilation must be positive, got dilation={dilation}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}"
                )
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        else:
            padding = _ntuple(padding, n)
            if any(p < 0 for p in padding):
                raise ConfigError(f"padding must be non-negative, got padding={padding}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"padding_mode must be one of {list(_PADDING_MODES)}, but got "
                f"padding_mode='{padding_mode}'"
            )
        if transposed and padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = _ntuple(output_padding, n)
        self.groups = int(groups)
        self.padding_mode = padding_mode
        # F.pad order: (left, right) pairs starting from the last dim.
        if isinstance(padding, str):
            rev: list[int] = [0, 0] * n
            if padding == "same":
                for d, k, i in zip(dilation, kernel_size, range(n - 1, -1, -1)):
                    total = d * (k - 1)
                    rev[2 * i] = total // 2
                    rev[2 * i + 1] = total - total // 2
        else:
            rev = [p for p in reversed(padding) for _ in range(2)]
        self._reversed_padding_repeated_twice = rev
        if transposed:
            shape = (in_channels, out_channels // groups, *kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *kernel_size)
        # torch: kaiming_uniform_(a=√5) on the weight ≡ U(±1/√fan_in), fan_in = shape[1]·∏k;
        # the bias uses the same bound.
        fan_in = shape[1] * math.prod(kernel_size)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        self.weight = uniform_parameter(shape, bound, dtype)
        if bias:
            self.bias = uniform_parameter((out_channels,), bound, dtype)
        else:
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        """Re-draw weight and bias from torch's default distribution."""
        fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        self.weight._data[...] = rng(None).uniform(-bound, bound, self.weight.shape)
        if self.bias is not None:
            self.bias._data[...] = rng(None).uniform(-bound, bound, self.bias.shape)

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
            f", stride={self.stride}"
        )
        if self.padding != (0,) * len(self.padding):
            pad = self.padding if not isinstance(self.padding, str) else self.padding
            s += f", padding={pad}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        conv = F.conv2d if len(self.kernel_size) == 2 else F.conv1d
        if self.padding_mode != "zeros":
            x = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return conv(x, weight, bias, self.stride, 0, self.dilation, self.groups)
        return conv(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)


class _Conv(_ConvNd):
    """The (non-transposed) convolution layers; subclasses set the number of spatial dims."""

    _n: int

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            False,
            0,
            groups,
            bias,
            padding_mode,
            self._n,
            device,
            dtype,
        )

    def forward(self, input: Tensor) -> Tensor:
        """Convolve ``input`` with the layer's weight (and bias)."""
        return self._conv_forward(input, self.weight, self.bias)


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W): y = b + Σ_k W_k ⋆ x_k.

    Args: in_channels, out_channels, kernel_size, stride=1, padding=0 (int, tuple, 'same',
    'valid'), dilation=1, groups=1, bias=True, padding_mode='zeros' ('reflect', 'replicate',
    'circular').
    Shape: (N, C_in, H, W) or (C_in, H, W) → (N, C_out, H_out, W_out).
    Example: ``Conv2d(3, 16, 3, padding=1)(x)``.
    """

    _n = 2


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L).

    Args: as ``Conv2d`` with one spatial dim.
    Shape: (N, C_in, L) or (C_in, L) → (N, C_out, L_out).
    """

    _n = 1


class _ConvTransposeNd(_ConvNd):
    """The transposed convolution layers; subclasses set the number of spatial dims."""

    _n: int

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            True,
            output_padding,
            groups,
            bias,
            padding_mode,
            self._n,
            device,
            dtype,
        )

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        """Transposed convolution; ``output_size`` picks the output_padding, as in torch."""
        conv_t = F.conv_transpose2d if self._n == 2 else F.conv_transpose1d
        return conv_t(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self._output_padding(input, output_size, self._n),
            self.groups,
            self.dilation,
        )

    def _output_padding(self, input: Tensor, output_size: Any, n: int) -> tuple:
        if output_size is None:
            return self.output_padding
        output_size = list(output_size)[-n:]
        if len(output_size) != n:
            raise ValueError(
                f"ConvTranspose{n}D: for {input.dim()}D input, output_size must have {n} or "
                f"{n + 2} elements (got {len(output_size)})"
            )
        out = []
        for d in range(n):
            size = input.shape[input.dim() - n + d]
            min_size = (
                (size - 1) * self.stride[d]
                - 2 * self.padding[d]
                + self.dilation[d] * (self.kernel_size[d] - 1)
                + 1
            )
            max_size = min_size + self.stride[d] - 1
            if not min_size <= output_size[d] <= max_size:
                raise ValueError(
                    f"requested an output size of {output_size}, but valid sizes range from "
                    f"{min_size} to {max_size} (for an input of {list(input.shape[-n:])})"
                )
            out.append(output_size[d] - min_size)
        return tuple(out)


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution (the adjoint of Conv2d), weight (C_in, C_out/groups, kh, kw).

    Args: in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
    groups=1, bias=True, dilation=1.
    Shape: H_out = (H−1)·stride − 2·padding + dilation·(k−1) + output_padding + 1.
    """

    _n = 2


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution, weight (C_in, C_out/groups, k)."""

    _n = 1
