"""``Identity``, ``Linear`` and ``Bilinear``."""

from __future__ import annotations

import math
from typing import Any

from ..._tensor import Tensor
from ...ops.nn import linear as _L
from .. import functional as F
from .. import init
from ._utils import check_size, new_param
from .module import Module

__all__ = ["Identity", "Linear", "Bilinear"]


class Identity(Module):
    """Returns its input unchanged (arguments are accepted and ignored, as in torch).

    Example:
        >>> Identity()(x) is x
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        """``input``."""
        return input


def _reset_uniform(module: Module, fan_in: int) -> None:
    """weight and bias (if any) from U(−1/√fan_in, 1/√fan_in), torch's Linear/Bilinear default."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    init.uniform_(module.weight, -bound, bound)
    if module.bias is not None:
        init.uniform_(module.bias, -bound, bound)


class Linear(Module):
    """Affine map ``y = x Wᵀ + b``.

    Args:
        in_features: size of each input sample's last dim.
        out_features: size of each output sample's last dim.
        bias: learn an additive bias (default True).

    Shape: input (*, in_features) → output (*, out_features).
    weight: (out_features, in_features); bias: (out_features,). Both start as
    U(−1/√in_features, 1/√in_features), torch's distribution.

    Example:
        >>> Linear(20, 30)(chainrule.randn(128, 20)).shape
        (128, 30)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.in_features = check_size("Linear", "in_features", in_features)
        self.out_features = check_size("Linear", "out_features", out_features)
        self.weight = new_param((out_features, in_features), dtype, device)
        if bias:
            self.bias = new_param((out_features,), dtype, device)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw weight and bias from U(−1/√fan_in, 1/√fan_in)."""
        # same distribution as torch's kaiming_uniform_(a=√5): gain √(2/(1+5)) = 1/√3, and
        # bound = √3 · gain / √fan_in = 1/√fan_in; the bias uses the same bound.
        _reset_uniform(self, self.in_features)

    def forward(self, input: Tensor) -> Tensor:
        """``input @ weight.T + bias``."""
        # Hot path (small models are overhead-bound): read the parameters from the registry
        # instead of through Module.__getattr__, and check only what the op cannot.
        params = self._parameters
        if type(input) is Tensor and "weight" in params and "bias" in params:
            w = params["weight"]
            a = input._data
            shape = a.shape
            if shape and shape[-1] == self.in_features and a.dtype is w._data.dtype:
                return _L.linear(input, w, params["bias"])
        w = self.weight
        shape = input.shape
        if not shape or shape[-1] != self.in_features:
            raise RuntimeError(
                f"Linear(in_features={self.in_features}): input has "
                f"{shape[-1] if shape else 0} features in its last dim (input shape "
                f"{list(shape)}; expected [*, {self.in_features}])"
            )
        if input._data.dtype != w._data.dtype:
            return F.linear(input, w, self.bias)  # raises torch's dtype-mismatch error
        return _L.linear(input, w, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Bilinear(Module):
    """``y = x1ᵀ A x2 + b`` for each output feature.

    Args:
        in1_features, in2_features: last-dim sizes of the two inputs.
        out_features: output size; bias: learn b.

    weight: (out, in1, in2), bias (out,), both U(−1/√in1, 1/√in1) as in torch.
    """

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.in1_features = check_size("Bilinear", "in1_features", in1_features)
        self.in2_features = check_size("Bilinear", "in2_features", in2_features)
        self.out_features = check_size("Bilinear", "out_features", out_features)
        self.weight = new_param((out_features, in1_features, in2_features), dtype, device)
        if bias:
            self.bias = new_param((out_features,), dtype, device)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw weight and bias from U(−1/√in1_features, 1/√in1_features)."""
        _reset_uniform(self, self.weight.shape[1])

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        """The bilinear form of the two inputs."""
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )
