"""Gradient clipping: ``clip_grad_norm_``, ``clip_grad_value_`` (PyTorch semantics)."""

from __future__ import annotations

import types
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..._tensor import Tensor, _make

__all__ = [
    "clip_grad_norm_",
    "clip_grad_norm",
    "clip_grad_value_",
    "get_total_norm",
    "clip_grads_with_norm_",
]


def _as_list(tensors: Tensor | Iterable[Tensor]) -> list[Tensor]:
    if isinstance(tensors, Tensor):
        return [tensors]
    is_gen = isinstance(tensors, types.GeneratorType)
    out = list(tensors)
    if is_gen and not out:
        warnings.warn(
            "`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=3
        )
    return out


def _vector_norm(x: np.ndarray, p: float) -> Any:
    """``torch.linalg.vector_norm`` of a flat array, in its dtype."""
    if p == 2.0:
        return np.sqrt(np.dot(x, x)) if x.size else x.dtype.type(0)
    a = np.abs(x)
    if p == np.inf:
        return a.max() if a.size else x.dtype.type(0)
    if p == -np.inf:
        return a.min() if a.size else x.dtype.type(np.inf)
    if p == 0:
        return x.dtype.type(np.count_nonzero(x))
    if p == 1.0:
        return a.sum()
    return (a**p).sum() ** (1.0 / p)


def get_total_norm(
    tensors: Tensor | Iterable[Tensor],
    norm_type: float | str = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Norm of the norms of ``tensors`` (= the norm of all their elements as one vector)."""
    ts = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    p = float(norm_type)
    if not ts:
        return _make(np.array(0.0, np.float32))
    dtype = ts[0]._data.dtype
    with np.errstate(invalid="ignore", over="ignore"):
        norms = np.array([_vector_norm(t._data.reshape(-1), p) for t in ts], dtype)
        total = _vector_norm(norms, p)
    total = np.asarray(total, dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {p} for gradients from `parameters` is non-finite, so it "
            "cannot be clipped. To disable this error and scale the gradients by the non-finite "
            "norm anyway, set `error_if_nonfinite=False`"
        )
    return _make(total)


def clip_grads_with_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    total_norm: Tensor,
    foreach: bool | None = None,
) -> None:
    """Scale the gradients by ``min(max_norm / (total_norm + 1e-6), 1)``, in place."""
    params = _as_list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    tn = total_norm._data if isinstance(total_norm, Tensor) else np.asarray(total_norm)
    coef = np.minimum(float(max_norm) / (tn + 1e-6), 1.0).astype(tn.dtype)
    # Always multiply (also when coef = 1), as torch does: NaN/inf norms propagate the same way.
    with np.errstate(invalid="ignore", over="ignore"):  # inf·0 = nan, silently, as torch
        for g in grads:
            g._data *= coef.astype(g._data.dtype)
            g._vc[0] += 1


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float | str = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Rescale gradients so that their total ``norm_type`` norm is at most ``max_norm``.

    .. math:: g \\leftarrow g \\cdot \\min(\\text{max\\_norm} / (\\lVert g \\rVert + 10^{-6}), 1)

    Args:
        parameters: a tensor or an iterable of tensors whose ``.grad`` is clipped in place.
        max_norm: the largest allowed total norm.
        norm_type: the p of the p-norm; ``inf`` (or ``'inf'``) for the max norm.
        error_if_nonfinite: raise ``RuntimeError`` when the total norm is nan or inf.

    Returns:
        The total norm of the gradients before clipping (a 0-d tensor).

    Example:
        >>> chainrule.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    """
    params = _as_list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(params, max_norm, total, foreach)
    return total


def clip_grad_value_(
    parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None
) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]``, in place."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            np.clip(p.grad._data, -clip_value, clip_value, out=p.grad._data)
            p.grad._vc[0] += 1


# torch's deprecated alias
clip_grad_norm = clip_grad_norm_
