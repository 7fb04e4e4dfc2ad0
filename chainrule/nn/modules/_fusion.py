"""Run a ``Sequential`` of Linear/ReLU layers as one fused autograd node.

A small MLP spends most of its step in per-op bookkeeping, not in NumPy: every layer is a
``Module.__call__``, a functional call, an op dispatch, a Node, and in backward an engine visit.
``linear_chain`` does the same NumPy calls for the whole stack (identical numbers) as ONE node.
It applies only where nothing can tell the difference: exact Linear/ReLU (and eval-mode
Dropout/Identity) children without hooks, a 2-D float32/float64 input whose widths match,
no ONNX trace, no anomaly mode, no backward observers. Otherwise ``Sequential`` runs its
children one by one, which also produces PyTorch's errors for bad input.

The visible difference is the graph: the output's ``grad_fn`` is one node (named as torch
names the last op, ``AddmmBackward0`` or ``ReluBackward0``) whose inputs are the input and all
weights and biases. Tools that show the chain rule op by op (``diagnose.explain``,
``diagnose.health``) turn fusion off while they run; ``fusion(False)`` does it for user code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..._tensor import Tensor
from ...autograd import engine
from ...autograd.grad_mode import state
from ...ops import _registry
from ...ops.nn import linear as _L
from .activation import ReLU
from .dropout import Dropout
from .linear import Identity, Linear

__all__ = ["fusion", "fused_mlp"]

_enabled = True
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


@contextlib.contextmanager
def fusion(enabled: bool) -> Iterator[None]:
    """Within the block, fuse Linear/ReLU stacks of ``Sequential`` (True) or not (False)."""
    global _enabled
    prev, _enabled = _enabled, bool(enabled)
    try:
        yield
    finally:
        _enabled = prev


def fused_mlp(modules: Any, x: Tensor) -> Tensor | None:
    """``modules`` applied to ``x`` as one ``linear_chain`` node, or None if it does not apply."""
    if not _enabled or _registry._tracer is not None or state.anomaly or engine.observers:
        return None
    a = x._data
    if a.ndim != 2 or a.dtype not in _FLOATS:
        return None
    dt = a.dtype
    width = a.shape[1]
    wb: list[Any] = []
    relu: list[bool] = []
    for m in modules:
        if m._forward_pre_hooks or m._forward_hooks or m._backward_hooks or m._backward_pre_hooks:
            return None
        kind = type(m)
        if kind is Linear:
            params = m._parameters
            w = params.get("weight")
            b = params.get("bias")
            if type(w) is not Tensor and not isinstance(w, Tensor):
                return None
            wa = w._data
            if wa.ndim != 2 or wa.shape[1] != width or wa.dtype is not dt:
                return None
            width = wa.shape[0]
            if b is not None and (
                not isinstance(b, Tensor) or b._data.shape != (width,) or b._data.dtype is not dt
            ):
                return None
            wb.append(w)
            wb.append(b)
            relu.append(False)
        elif kind is ReLU and not m.inplace:
            if not relu or relu[-1]:
                return None
            relu[-1] = True
        elif not (kind is Identity or (kind is Dropout and not m.training)):
            return None
    if len(relu) < 2:
        return None  # one layer: nothing to save
    fn = _L.linear_relu_chain if relu[-1] else _L.linear_chain
    return fn(x, *wb, relu=tuple(relu))
