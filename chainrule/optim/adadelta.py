"""Adadelta: step sizes from the ratio of running RMS of updates and of gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _functional as F
from .optimizer import Optimizer, check_non_negative

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta, as in PyTorch (with a learning rate scaling the step).

    .. code-block:: text

        g ← ∇f(θ) + λθ
        s ← ρs + (1 − ρ)g²
        δ ← √(Δ̄ + ε) / √(s + ε) · g
        Δ̄ ← ρΔ̄ + (1 − ρ)δ²
        θ ← θ − γδ

    Paper: https://arxiv.org/abs/1212.5701

    Example:
        >>> opt = chainrule.optim.Adadelta(model.parameters(), lr=1.0)
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_non_negative(lr=lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_non_negative(eps=eps, weight_decay=weight_decay)
        defaults = dict(
            lr=lr,
            rho=rho,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            capturable=capturable,
            foreach=foreach,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("square_avg", "acc_delta")

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
        F.adadelta(
            params,
            grads,
            state["square_avg"],
            state["acc_delta"],
            lr=float(group["lr"]),
            rho=float(group["rho"]),
            eps=float(group["eps"]),
            weight_decay=float(group["weight_decay"]),
            scratch=scratch,
        )
