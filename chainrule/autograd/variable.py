"""``Variable``: PyTorch's pre-0.4 wrapper, kept there as an alias of ``Tensor``.

Old scripts write ``Variable(x, requires_grad=True)`` and ``isinstance(v, Variable)``; in PyTorch
both act on plain tensors now, and so they do here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Variable"]


class _VariableMeta(type):
    def __call__(cls, data: Any, requires_grad: bool = False, volatile: bool = False) -> Any:
        from .._tensor import Tensor, tensor

        t = data if isinstance(data, Tensor) else tensor(data)
        if requires_grad:
            t.requires_grad_(True)
        return t

    def __instancecheck__(cls, obj: Any) -> bool:
        from .._tensor import Tensor

        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """``Variable(t, requires_grad=False)`` returns ``t`` itself (with requires_grad set)."""
