"""``LayerNorm``, ``GroupNorm`` and ``RMSNorm``."""

from __future__ import annotations

from typing import Any

from ..._tensor import Tensor
from .. import functional as F
from .. import init
from ._utils import affine_params, check_size, new_param, reset_affine
from .module import Module

__all__ = ["LayerNorm", "GroupNorm", "RMSNorm"]


def _as_shape(normalized_shape: Any) -> tuple[int, ...]:
    if isinstance(normalized_shape, int):
        return (normalized_shape,)
    return tuple(int(s) for s in normalized_shape)


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` dims, then scale by γ and shift by β.

    ``y = (x − E[x]) / √(Var[x] + eps) · γ + β`` (biased variance), γ = 1, β = 0 initially.

    Example:
        >>> LayerNorm(10)(chainrule.randn(20, 5, 10)).shape
        (20, 5, 10)
    """

    def __init__(
        self,
        normalized_shape: Any,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        for s in self.normalized_shape:
            check_size("LayerNorm", "normalized_shape", s)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        affine_params(self, elementwise_affine, self.normalized_shape, bias, dtype, device)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight ← 1, bias ← 0."""
        reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        """Layer-normalised ``input``."""
        k = len(self.normalized_shape)
        if tuple(input.shape[input.ndim - k :]) != self.normalized_shape or input.ndim < k:
            raise RuntimeError(
                f"LayerNorm(normalized_shape={self.normalized_shape}): expected input with "
                f"shape [*, {', '.join(map(str, self.normalized_shape))}], got input of shape "
                f"{list(input.shape)}"
            )
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Normalise (N, C, *) over groups of C / num_groups channels, then per-channel γ, β.

    Example:
        >>> GroupNorm(3, 6)(chainrule.randn(20, 6, 10, 10)).shape
        (20, 6, 10, 10)
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        check_size("GroupNorm", "num_groups", num_groups, allow_zero=False)
        check_size("GroupNorm", "num_channels", num_channels)
        if num_channels % num_groups != 0:
            raise ValueError(
                f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                f"({num_groups})"
            )
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        affine_params(self, affine, (num_channels,), bias, dtype, device)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight ← 1, bias ← 0."""
        reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        """Group-normalised ``input``."""
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise RuntimeError(
                f"GroupNorm(num_channels={self.num_channels}): expected input (N, "
                f"{self.num_channels}, *), got input of shape {list(input.shape)}"
            )
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class RMSNorm(Module):
    """``x / √(mean(x²) + eps) · γ`` over the trailing ``normalized_shape`` dims."""

    def __init__(
        self,
        normalized_shape: Any,
        eps: float | None = None,
        elementwise_affine: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = new_param(self.normalized_shape, dtype, device)
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight ← 1."""
        if self.elementwise_affine:
            init.ones_(self.weight)

    def forward(self, x: Tensor) -> Tensor:
        """RMS-normalised ``x``."""
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )
