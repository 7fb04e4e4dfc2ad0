"""RMSprop: divide the gradient by a running root-mean-square."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _functional as F
from .optimizer import Optimizer, check_non_negative

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop, optionally centered and with momentum.

    .. code-block:: text

        g ← ∇f(θ) + λθ
        s ← αs + (1 − α)g²;   centered: ḡ ← αḡ + (1 − α)g,  s̃ ← s − ḡ²
        b ← μb + g/(√s̃ + ε);  θ ← θ − γb      (without momentum: θ ← θ − γg/(√s̃ + ε))

    Paper: Hinton's lecture 6e, https://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf

    Example:
        >>> opt = chainrule.optim.RMSprop(model.parameters(), lr=1e-2)
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_non_negative(
            lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha
        )
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            capturable=capturable,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        keys: tuple[str, ...] = ("square_avg",)
        if group["momentum"] > 0:
            keys += ("momentum_buffer",)
        if group["centered"]:
            keys += ("grad_avg",)
        return keys

    def _update(
        self,
        group: dict[str, Any],
        params: list[np.ndarray],
        grads: list[np.ndarray],
        state: dict[str, list[np.ndarray]],
        steps: list[float],
        first: bool,
        scratch: list,
    ) -> None:
        F.rmsprop(
            params,
            grads,
            state["square_avg"],
            state.get("grad_avg"),
            state.get("momentum_buffer"),
            lr=float(group["lr"]),
            alpha=float(group["alpha"]),
            eps=float(group["eps"]),
            weight_decay=float(group["weight_decay"]),
            momentum=float(group["momentum"]),
            centered=bool(group["centered"]),
            scratch=scratch,
        )
