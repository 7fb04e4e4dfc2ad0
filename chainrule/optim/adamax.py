"""Adamax: Adam with the infinity norm in place of the second moment."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _functional as F
from .adam import _check_adam
from .optimizer import Optimizer

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax, the infinity-norm variant of Adam.

    .. code-block:: text

        t ← t + 1;  g ← ∇f(θ) + λθ
        m ← β1·m + (1 − β1)·g
        u ← max(β2·u, |g| + ε)
        θ ← θ − γ/(1 − β1ᵗ) · m / u

    Paper: https://arxiv.org/abs/1412.6980 (section 7)

    Example:
        >>> opt = chainrule.optim.Adamax(model.parameters(), lr=2e-3)
    """

    def __init__(
        self,
        params: Any,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        _check_adam(lr, betas, eps, weight_decay)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)

    def _keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("exp_avg", "exp_inf")

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
        beta1, beta2 = group["betas"]
        F.adamax(
            params,
            grads,
            state["exp_avg"],
            state["exp_inf"],
            steps,
            lr=float(group["lr"]),
            beta1=float(beta1),
            beta2=float(beta2),
            eps=float(group["eps"]),
            weight_decay=float(group["weight_decay"]),
            scratch=scratch,
        )
