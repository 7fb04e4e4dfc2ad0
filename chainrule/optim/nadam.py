"""NAdam: Adam with Nesterov momentum."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from . import _functional as F
from .adam import _check_adam
from .optimizer import Optimizer, check_non_negative

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam: Adam with Nesterov momentum and a momentum schedule; ``decoupled_weight_decay``
    makes it NAdamW.

    .. code-block:: text

        t ← t + 1;  g ← ∇f(θ) + λθ         (decoupled: θ ← θ(1 − γλ))
        μₜ ← β1(1 − ½·0.96^(tψ));  μₜ₊₁ likewise;  Πμ ← Πμ·μₜ
        m ← β1·m + (1 − β1)·g
        v ← β2·v + (1 − β2)·g²;  v̂ ← v / (1 − β2ᵗ)
        θ ← θ − γ(1 − μₜ)/(1 − Πμ) · g/(√v̂ + ε) − γμₜ₊₁/(1 − Πμ·μₜ₊₁) · m/(√v̂ + ε)

    The state holds ``mu_product`` (Πμ) per parameter as a 0-d float32 tensor, as torch's does.

    Paper: https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ

    Example:
        >>> opt = chainrule.optim.NAdam(model.parameters(), lr=2e-3)
    """

    _scalars: ClassVar[dict[str, float]] = {"mu_product": 1.0}

    def __init__(
        self,
        params: Any,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_adam(lr, betas, eps, weight_decay)
        check_non_negative(momentum_decay=momentum_decay)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
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
        F.nadam(
            params,
            grads,
            state["exp_avg"],
            state["exp_avg_sq"],
            state["mu_product"],
            steps,
            lr=float(group["lr"]),
            beta1=float(beta1),
            beta2=float(beta2),
            eps=float(group["eps"]),
            weight_decay=float(group["weight_decay"]),
            momentum_decay=float(group["momentum_decay"]),
            decoupled_weight_decay=bool(group["decoupled_weight_decay"]),
            scratch=scratch,
        )
