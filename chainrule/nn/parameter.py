"""``Parameter``: a Tensor that a ``Module`` registers as a learnable weight."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._tensor import Tensor, _make

__all__ = ["Parameter", "Buffer"]


class Parameter(Tensor):
    """A leaf Tensor that is registered as a parameter when assigned to a ``Module`` attribute.

    ``Parameter(t)`` shares ``t``'s storage (as torch does); ``requires_grad`` defaults to True.

    Example:
        >>> w = Parameter(chainrule.zeros(2, 3))
    """

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            arr = np.zeros((0,), np.float32)
        elif isinstance(data, Tensor):
            arr = data._data
        else:
            arr = np.asarray(data)
        Tensor.__init__(self, arr)
        if isinstance(data, Tensor):
            # Same storage, same version counter: in-place writes through either are seen.
            self._vc = data._vc
        if requires_grad:
            self.requires_grad_(True)

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (_rebuild_parameter, (self._data, self.requires_grad))

    def __deepcopy__(self, memo: dict) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        out = Parameter(self._data.copy(), self.requires_grad)
        if self.grad is not None:
            out.grad = _make(self.grad._data.copy())
        memo[id(self)] = out
        return out


def _rebuild_parameter(data: np.ndarray, requires_grad: bool) -> Parameter:
    return Parameter(data, requires_grad)


class Buffer(Tensor):
    """Marks a tensor to be registered as a buffer when assigned to a ``Module`` attribute.

    ``persistent=False`` keeps it out of ``state_dict()`` (torch.nn.Buffer).
    """

    def __init__(self, data: Any = None, *, persistent: bool = True) -> None:
        arr = (
            np.zeros((0,), np.float32)
            if data is None
            else data._data
            if isinstance(data, Tensor)
            else np.asarray(data)
        )
        Tensor.__init__(self, arr)
        self.persistent = persistent
