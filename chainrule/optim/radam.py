"""RAdam: Adam with a rectified adaptive learning rate."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _functional as F
from .adam import _check_adam
from .optimizer import Optimizer

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam: plain momentum steps while the variance of the adaptive rate is intractable
    (ρₜ ≤ 5), rectified Adam steps after; ``decoupled_weight_decay`` makes it RAdamW.

    .. code-block:: text

        t ← t + 1;  g ← ∇f(θ) + λθ         (decoupled: θ ← θ(1 − γλ))
        m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;  m̂ ← m/(1 − β1ᵗ)
        ρ∞ ← 2/(1 − β2) − 1;  ρₜ ← ρ∞ − 2tβ2ᵗ/(1 − β2ᵗ)
        ρₜ > 5:  r ← √((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ))
                 θ ← θ − γ·m̂·√(1 − β2ᵗ)/(√v + ε)·r
        else:    θ ← θ − γ·m̂

    Paper: https://arxiv.org/abs/1908.03265

    Example:
        >>> opt = chainrule.optim.RAdam(model.parameters(), lr=1e-3)
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_adam(lr, betas, eps, weight_decay)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            decoupled_weight_decay=decoupled_weight_decay,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq")

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
        F.radam(
            params,
            grads,
            state["exp_avg"],
            state["exp_avg_sq"],
            steps,
            lr=float(group["lr"]),
            beta1=float(beta1),
            beta2=float(beta2),
            eps=float(group["eps"]),
            weight_decay=float(group["weight_decay"]),
            decoupled_weight_decay=bool(group["decoupled_weight_decay"]),
            scratch=scratch,
        )
