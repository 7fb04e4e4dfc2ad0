"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_`` (in place, torch semantics)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..._tensor import Tensor, _make

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _grads(parameters: Any) -> list[np.ndarray]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad._data for p in parameters if p.grad is not None]


def _total_norm(grads: list[np.ndarray], norm_type: float) -> float:
    if norm_type == float("inf"):
        return max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    # ‖(‖g₁‖ₚ, ‖g₂‖ₚ, …)‖ₚ = ‖all gradients concatenated‖ₚ, computed per tensor (no copy)
    per = [float(np.linalg.norm(g.ravel().astype(np.float64), ord=norm_type)) for g in grads]
    return float(np.linalg.norm(np.asarray(per), ord=norm_type))


def get_total_norm(
    tensors: Any, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach: Any = None
) -> Tensor:
    """The ``norm_type``-norm of all the given tensors together (as if concatenated)."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    arrays = [t._data for t in tensors]
    norm_type = float(norm_type)
    if not arrays:
        return _make(np.zeros((), np.float32))
    total = _total_norm(arrays, norm_type)
    _check_finite(total, norm_type, error_if_nonfinite)
    return _make(np.asarray(total, dtype=arrays[0].dtype))


def _check_finite(total: float, norm_type: float, error_if_nonfinite: bool) -> None:
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the gradients "
            "by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )


def clip_grads_with_norm_(
    parameters: Any, max_norm: float, total_norm: Any, foreach: Any = None
) -> None:
    """Scale gradients by ``min(1, max_norm / (total_norm + 1e-6))`` in place."""
    grads = _grads(parameters)
    total = float(total_norm)
    # 1e-6 keeps the coefficient finite for all-zero gradients (torch's constant)
    coef = min(float(max_norm) / (total + 1e-6), 1.0)
    for g in grads:
        g *= coef


def clip_grad_norm_(
    parameters: Iterable[Tensor] | Tensor,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: Any = None,
) -> Tensor:
    """Rescale all gradients together so their joint norm is at most ``max_norm``.

    The norm is taken over all gradients as if concatenated into one vector (``norm_type``
    may be ``inf``). Returns that total norm (before clipping) as a tensor.

    Example:
        >>> loss.backward(); clip_grad_norm_(model.parameters(), 1.0)
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    grads = _grads(parameters)
    norm_type = float(norm_type)
    if not grads:
        return _make(np.zeros((), np.float32))
    total = _total_norm(grads, norm_type)
    _check_finite(total, norm_type, error_if_nonfinite)
    coef = min(float(max_norm) / (total + 1e-6), 1.0)
    for g in grads:
        g *= coef
    for p in parameters:
        if p.grad is not None:
            p.grad._vc[0] += 1
    return _make(np.asarray(total, dtype=grads[0].dtype))


def clip_grad_value_(
    parameters: Iterable[Tensor] | Tensor, clip_value: float, foreach: Any = None
) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]`` in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)


# torch's deprecated alias
clip_grad_norm = clip_grad_norm_
