"""Small networks for the diagnose tests: chainrule.nn's layers, or minimal stand-ins
(same class names and parameter layout) while chainrule.nn is still being built."""

from __future__ import annotations

import math
from typing import Any

import chainrule as cr
from chainrule.nn.modules.container import Sequential
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter

try:
    from chainrule.nn import Linear, MSELoss, ReLU, Sigmoid, Tanh
except (ImportError, AttributeError, ModuleNotFoundError):
    from chainrule.ops.nn.linear import linear as _linear
    from chainrule.ops.nn.loss import mse_loss as _mse

    class Linear(Module):  # type: ignore[no-redef]
        def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
            super().__init__()
            k = 1 / math.sqrt(in_features)
            self.weight = Parameter(cr.rand(out_features, in_features) * 2 * k - k)
            self.bias = Parameter(cr.rand(out_features) * 2 * k - k) if bias else None

        def forward(self, x: Any) -> Any:
            return _linear(x, self.weight, self.bias)

    class Sigmoid(Module):  # type: ignore[no-redef]
        def forward(self, x: Any) -> Any:
            return cr.sigmoid(x)

    class Tanh(Module):  # type: ignore[no-redef]
        def forward(self, x: Any) -> Any:
            return cr.tanh(x)

    class ReLU(Module):  # type: ignore[no-redef]
        def forward(self, x: Any) -> Any:
            return cr.relu(x)

    class MSELoss(Module):  # type: ignore[no-redef]
        def forward(self, a: Any, b: Any) -> Any:
            return _mse(a, b)


def mlp(sizes: list[int], act: type = ReLU, last_act: bool = False) -> Sequential:
    """Linear → act → … → Linear (→ act)."""
    layers: list[Any] = []
    for i in range(len(sizes) - 1):
        layers.append(Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or last_act:
            layers.append(act())
    return Sequential(*layers)


def sgd_step(model: Any, lr: float) -> None:
    """Plain SGD without depending on chainrule.optim."""
    with cr.no_grad():
        for p in model.parameters():
            if p.grad is not None:
                p._data -= lr * p.grad._data


__all__ = ["Linear", "Sigmoid", "Tanh", "ReLU", "MSELoss", "Sequential", "mlp", "sgd_step"]
