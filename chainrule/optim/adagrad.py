"""Adagrad: per-coordinate learning rates from the sum of squared gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._tensor import _make
from . import _functional as F
from .optimizer import Optimizer, check_non_negative

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad with learning-rate decay.

    .. code-block:: text

        t ← t + 1;  g ← ∇f(θ) + λθ
        γ̃ ← γ / (1 + (t − 1)η)            (lr_decay η)
        Σ ← Σ + g²  (Σ starts at initial_accumulator_value)
        θ ← θ − γ̃ g / (√Σ + ε)

    Paper: http://jmlr.org/papers/v12/duchi11a.html

    Example:
        >>> opt = chainrule.optim.Adagrad(model.parameters(), lr=1e-2)
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_non_negative(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)
        # As in torch, Adagrad's state exists from the start (step 0, Σ = initial value).
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state[p]
                st["step"] = _make(np.zeros((), np.float32))
                st["sum"] = _make(
                    np.full(p._data.shape, group["initial_accumulator_value"], p._data.dtype)
                )

    def _keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("sum",)

    def _fill(self, group: dict[str, Any], key: str) -> float:
        return float(group["initial_accumulator_value"])

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
        F.adagrad(
            params,
            grads,
            state["sum"],
            steps,
            lr=float(group["lr"]),
            lr_decay=float(group["lr_decay"]),
            weight_decay=float(group["weight_decay"]),
            eps=float(group["eps"]),
            scratch=scratch,
        )
