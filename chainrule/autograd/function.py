"""User-defined ops, PyTorch style: ``class F(Function)`` with ``forward(ctx, …)`` / ``backward``.

``F.apply`` runs ``forward`` without recording, then attaches one ``Node`` whose VJP calls
``backward``: the same node type every built-in op uses, not a second engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .engine import Node
from .grad_mode import no_grad, state

__all__ = ["Function", "FunctionCtx"]


class FunctionCtx:
    """The ``ctx`` object: saves tensors for backward and tells which inputs need gradients."""

    def __init__(self) -> None:
        self.needs_input_grad: tuple[bool, ...] = ()
        self._saved: tuple = ()
        self._freed = False
        self.materialize_grads = True
        self._non_diff: set[int] = set()

    def save_for_backward(self, *tensors: Any) -> None:
        """Keep ``tensors`` for ``backward`` (read them back as ``ctx.saved_tensors``)."""
        self._saved = tensors

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to ``save_for_backward``."""
        if self._freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed)."
            )
        return self._saved

    def mark_non_differentiable(self, *tensors: Any) -> None:
        """Declare outputs that have no gradient (such as indices)."""
        self._non_diff.update(id(t) for t in tensors)

    def set_materialize_grads(self, value: bool) -> None:
        """Whether missing output gradients are passed to backward as zeros (True) or None."""
        self.materialize_grads = value

    def mark_dirty(self, *tensors: Any) -> None:
        """Accepted for PyTorch compatibility (in-place forwards are not tracked specially)."""


class _FunctionOpDef:
    """What a custom Function looks like to the engine and to diagnostics."""

    def __init__(self, cls: type) -> None:
        self.name = cls.__name__
        self.backward_name = f"{cls.__name__}Backward"
        self.formula = (cls.__doc__ or "user-defined backward").strip().splitlines()[0]
        self.onnx = None
        self.differentiable = True
        self.quiet = False


class Function:
    """Base class for ops with a hand-written backward.

    Example:
        >>> class Square(Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         ctx.save_for_backward(x)
        ...         return x * x
        ...     @staticmethod
        ...     def backward(ctx, g):
        ...         (x,) = ctx.saved_tensors
        ...         return 2 * x * g
    """

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        """Compute the outputs from the inputs (runs without graph recording)."""
        raise NotImplementedError("subclasses of Function must define forward(ctx, ...)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        """Return one gradient per forward input (None for non-tensors / no gradient)."""
        raise NotImplementedError("subclasses of Function must define backward(ctx, *grads)")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run the op and record it for backward."""
        from .._tensor import Tensor, _make

        ctx = FunctionCtx()
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx.needs_input_grad = needs
        with no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        if not (state.enabled and any(needs)):
            return out
        # Outputs that are inputs returned as-is become fresh aliases (their own graph place).
        outs = tuple(
            _make(o._data) if isinstance(o, Tensor) and any(o is a for a in args) else o
            for o in outs
        )
        meta = tuple(
            (o.shape, o._data.dtype) if isinstance(o, Tensor) else ((), np.dtype(np.float32))
            for o in outs
        )
        n_in = len(args)

        def vjp(g: Any, needs_mask: tuple) -> tuple:
            gs = (g,) if len(outs) == 1 else g
            grads = cls.backward(ctx, *[_make(np.asarray(x)) for x in gs])
            if not isinstance(grads, tuple):
                grads = (grads,)
            if len(grads) > n_in and all(gi is None for gi in grads[n_in:]):
                grads = grads[:n_in]  # torch drops extra None gradients (defaulted args)
            if len(grads) != n_in:
                raise RuntimeError(
                    f"function {cls.__name__}Backward returned an incorrect number of gradients "
                    f"(expected {n_in}, got {len(grads)})"
                )
            result = []
            for i, gi in enumerate(grads):
                if gi is None or not needs_mask[i]:
                    result.append(None)
                    continue
                arr = gi._data if isinstance(gi, Tensor) else np.asarray(gi)
                result.append(arr)
            ctx._freed = True
            return tuple(result)

        inputs = tuple(a if isinstance(a, Tensor) else None for a in args)
        node = Node(vjp, inputs, needs, _FunctionOpDef(cls), len(outs), meta)
        wrapped = []
        for k, o in enumerate(outs):
            if isinstance(o, Tensor) and o._data.dtype.kind == "f" and id(o) not in ctx._non_diff:
                o.grad_fn = node
                o._out_idx = k
                o.requires_grad = True
            wrapped.append(o)
        return wrapped[0] if single else tuple(wrapped)
