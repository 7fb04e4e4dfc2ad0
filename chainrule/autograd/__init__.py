"""Reverse-mode automatic differentiation: ``backward``, ``grad``, ``Function`` and grad modes."""

from __future__ import annotations

from typing import Any

import numpy as np

from .engine import Node, add_observer, remove_observer, run_backward
from .function import Function, FunctionCtx
from .grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
    state,
)
from .variable import Variable

__all__ = [
    "backward",
    "grad",
    "Function",
    "FunctionCtx",
    "Node",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "inference_mode",
    "add_observer",
    "remove_observer",
    "detect_anomaly",
    "gradcheck",
    "set_detect_anomaly",
    "is_anomaly_enabled",
    "Variable",
]

_HIGHER_ORDER = (
    "create_graph=True asks for a differentiable backward (higher-order gradients); chainrule "
    "computes first-order gradients only (DESIGN.md §2: VJPs work on raw arrays)"
)


# Set by _tensor.py once Tensor exists (an import statement per backward call costs ~0.3 µs).
_Tensor: Any = None


def _as_list(x: Any) -> list:
    if x is None:
        return []
    if isinstance(x, _Tensor):
        return [x]
    return list(x)


def _root_grads(outputs: list, grad_outputs: Any) -> list[np.ndarray]:
    Tensor = _Tensor
    gos = _as_list(grad_outputs) if grad_outputs is not None else [None] * len(outputs)
    if len(gos) != len(outputs):
        raise RuntimeError(
            f"grad can be implicitly created only for scalar outputs: got {len(gos)} gradients "
            f"for {len(outputs)} outputs"
        )
    out = []
    for i, (t, g) in enumerate(zip(outputs, gos)):
        if not isinstance(t, Tensor):
            raise TypeError(f"backward: output {i} is a {type(t).__name__}, not a Tensor")
        if not t.requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
        if g is None:
            if t.numel() != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs (output {i} has "
                    f"shape {tuple(t.shape)}; pass gradient=… of that shape)"
                )
            out.append(np.ones(t.shape, dtype=t._data.dtype))
            continue
        arr = g._data if isinstance(g, Tensor) else np.asarray(g)
        if arr.shape != t.shape:
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {tuple(arr.shape)} and "
                f"output[{i}] has a shape of {tuple(t.shape)}."
            )
        out.append(np.array(arr, dtype=t._data.dtype, copy=True))
    return out


def backward(
    tensors: Any,
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    *,
    inputs: Any = None,
) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the leaves they depend on.

    Args:
        tensors: the outputs to differentiate (a scalar loss, usually).
        grad_tensors: the gradient w.r.t. each output; needed for non-scalar outputs.
        retain_graph: keep the graph for another backward (freed by default).
        inputs: if given, accumulate only into these tensors' ``.grad``.
    """
    if create_graph:
        raise RuntimeError(_HIGHER_ORDER)
    outs = _as_list(tensors)
    roots = _root_grads(outs, grad_tensors)
    if inputs is not None:
        targets = _as_list(inputs)
        grads = run_backward(outs, roots, bool(retain_graph), capture=targets)
        for t, g in zip(targets, grads or []):
            if g is not None:
                from .engine import _accumulate_leaf

                _accumulate_leaf(t, g, set())
        return
    run_backward(outs, roots, bool(retain_graph))


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    only_inputs: bool = True,
    allow_unused: bool | None = None,
    is_grads_batched: bool = False,
    materialize_grads: bool = False,
) -> tuple:
    """The gradients of ``outputs`` w.r.t. ``inputs``, returned (``.grad`` is left alone)."""
    from .._tensor import Tensor, _make

    if create_graph:
        raise RuntimeError(_HIGHER_ORDER)
    outs = _as_list(outputs)
    ins = _as_list(inputs)
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: inputs[{i}] is a {type(t).__name__}, not a Tensor")
        if not t.requires_grad:
            raise RuntimeError(
                f"One of the differentiated Tensors (inputs[{i}]) does not require grad"
            )
    roots = _root_grads(outs, grad_outputs)
    results = run_backward(outs, roots, bool(retain_graph), capture=ins) or []
    out: list[Tensor | None] = []
    for i, (t, g) in enumerate(zip(ins, results)):
        if g is None:
            if materialize_grads:
                out.append(_make(np.zeros(t.shape, t._data.dtype)))
                continue
            if not allow_unused:
                raise RuntimeError(
                    f"One of the differentiated Tensors (inputs[{i}]) appears to not have been "
                    "used in the graph. Set allow_unused=True if this is the desired behavior."
                )
            out.append(None)
        else:
            out.append(_make(g))
    return tuple(out)


class detect_anomaly:  # noqa: N801 - PyTorch's name
    """Context manager: stop at the first op whose forward output or gradient has NaN/Inf,
    naming the op and the line of user code that created it."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> None:
        self._prev = state.anomaly
        state.anomaly = self.check_nan

    def __exit__(self, *exc: object) -> None:
        state.anomaly = self._prev


def gradcheck(func: Any, inputs: Any, **kwargs: Any) -> bool:
    """``torch.autograd.gradcheck``: float64 central differences vs the analytic gradient.

    Thin alias of ``chainrule.diagnose.gradcheck`` (which also checks whole models and reports
    the failing tensor and index); returns True, raises ``GradcheckError`` (a RuntimeError), or
    with ``raise_exception=False`` returns False.
    """
    from ..diagnose.gradcheck import gradcheck as _gradcheck

    return bool(_gradcheck(func, inputs, **kwargs))


def set_detect_anomaly(mode: bool) -> None:
    """Turn anomaly detection on or off globally (for this thread)."""
    state.anomaly = bool(mode)


def is_anomaly_enabled() -> bool:
    """True while anomaly detection is on."""
    return state.anomaly
