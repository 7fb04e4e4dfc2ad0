"""Run a ``Sequential``'s Linear/ReLU stacks and ReLU → MaxPool2d pairs as fused autograd nodes.

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

A ReLU → MaxPool2d pair runs as one ``relu_max_pool2d`` node that pools first and applies the
ReLU to the pooled array (ReLU is monotone: same values and gradients, bit for bit), under the
same conditions; the ReLU then touches kh·kw times fewer numbers (1.7 ms of a 23 ms CNN step).
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
from ...ops.nn import pooling as _pool_ops
from .. import _functional_conv as Fc
from .activation import ReLU
from .dropout import Dropout
from .linear import Identity, Linear
from .module import Module
from .pooling import MaxPool2d

__all__ = ["fusion", "fused_mlp", "run_sequential"]

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


def _watched() -> bool:
    """Whether fusion is off or something sees ops one by one (ONNX trace, anomaly, observers)."""
    return not _enabled or _registry._tracer is not None or state.anomaly or bool(engine.observers)


def _hooked(m: Module) -> bool:
    return bool(
        m._forward_pre_hooks or m._forward_hooks or m._backward_hooks or m._backward_pre_hooks
    )


def run_sequential(modules: Any, x: Tensor) -> Any:
    """A Sequential's forward on a Tensor: the whole stack fused if it is a Linear/ReLU MLP,
    else layer by layer with each ReLU → MaxPool2d pair as one node."""
    if _watched():
        for m in modules:
            x = m(x)
        return x
    out = fused_mlp(modules, x)
    return out if out is not None else run_fusing_relu_pool(modules, x)


def fused_mlp(modules: Any, x: Tensor) -> Tensor | None:
    """``modules`` applied to ``x`` as one ``linear_chain`` node, or None if it does not apply
    (the caller has checked that nothing watches ops one by one)."""
    a = x._data
    if a.ndim != 2 or a.dtype not in _FLOATS:
        return None
    dt = a.dtype
    width = a.shape[1]
    wb: list[Any] = []
    relu: list[bool] = []
    for m in modules:
        if _hooked(m):
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


def _fusable_relu_pool(relu: Module, pool: Module, x: Tensor) -> bool:
    """Whether ``pool(relu(x))`` may run as one ``relu_max_pool2d`` node: exact ReLU and
    MaxPool2d children without hooks, no indices, a float (N, C, H, W) input (the caller has
    checked that nothing watches ops one by one)."""
    if relu.inplace or pool.return_indices:
        return False
    if _hooked(relu) or _hooked(pool):
        return False
    a = x._data
    return a.ndim == 4 and a.dtype.kind == "f" and a.dtype.itemsize >= 4


def run_fusing_relu_pool(modules: Any, x: Any) -> Any:
    """Feed ``x`` through ``modules`` (a Sequential's children) in order, running each
    ReLU → MaxPool2d pair as one ``relu_max_pool2d`` node (see the module docstring)."""
    mods = list(modules)
    n = len(mods)
    i = 0
    while i < n:
        m = mods[i]
        if (
            type(m) is ReLU
            and i + 1 < n
            and type(mods[i + 1]) is MaxPool2d
            and type(x) is Tensor
            and _fusable_relu_pool(m, mods[i + 1], x)
        ):
            p = mods[i + 1]
            kernel, stride, padding = Fc._pool_args(p.kernel_size, p.stride, p.padding, 2)
            dilation = Fc._tuple(p.dilation, 2, "dilation")
            # the unfused path's checks and errors (ReLU accepts any shape)
            Fc._pool_checks(x, kernel, stride, padding, dilation, p.ceil_mode, 2, "max_pool2d")
            x = _pool_ops.relu_max_pool2d(
                x,
                kernel=kernel,
                stride=stride,
                padding=padding,
                dilation=dilation,
                ceil_mode=bool(p.ceil_mode),
            )
            i += 2
            continue
        x = m(x)
        i += 1
    return x
