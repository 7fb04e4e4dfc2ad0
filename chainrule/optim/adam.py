"""Adam: adaptive moment estimation."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _functional as F
from .optimizer import Optimizer, check_non_negative

__all__ = ["Adam"]


def _check_adam(lr: Any, betas: Any, eps: Any, weight_decay: Any) -> None:
    check_non_negative(lr=lr, eps=eps)
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    check_non_negative(weight_decay=weight_decay)


class Adam(Optimizer):
    """Adam, optionally with AMSGrad; ``decoupled_weight_decay=True`` is AdamW.

    .. code-block:: text

        t ← t + 1;  g ← ∇f(θ) + λθ
        m ← β1·m + (1 − β1)·g
        v ← β2·v + (1 − β2)·g²          (v̂ ← max(v̂, v) with amsgrad)
        θ ← θ − γ/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)

    Paper: https://arxiv.org/abs/1412.6980 (AMSGrad: https://openreview.net/forum?id=ryQu7f-RZ)

    Example:
        >>> opt = chainrule.optim.Adam(model.parameters(), lr=1e-3)
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        _check_adam(lr, betas, eps, weight_decay)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def _keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        if group["amsgrad"]:
            return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
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
        F.adam(
            params,
            grads,
            state["exp_avg"],
            state["exp_avg_sq"],
            state.get("max_exp_avg_sq"),
            steps,
            lr=float(group["lr"]),
            beta1=float(beta1),
            beta2=float(beta2),
            eps=float(group["eps"]),
            weight_decay=float(group["weight_decay"]),
            amsgrad=bool(group["amsgrad"]),
            decoupled_weight_decay=bool(group.get("decoupled_weight_decay", False)),
            scratch=scratch,
        )
