"""Binds the ``_api`` functions onto ``Tensor`` as methods, operators and in-place variants."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _api
from ._random import rng
from ._tensor import Tensor
from .autograd.grad_mode import state

# Methods that are exactly the function with ``self`` first.
_SAME = [
    "add",
    "sub",
    "subtract",
    "mul",
    "multiply",
    "div",
    "divide",
    "true_divide",
    "floor_divide",
    "remainder",
    "fmod",
    "neg",
    "negative",
    "pow",
    "exp",
    "log",
    "log1p",
    "sqrt",
    "rsqrt",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "relu",
    "abs",
    "absolute",
    "square",
    "reciprocal",
    "erf",
    "sign",
    "floor",
    "ceil",
    "trunc",
    "round",
    "isnan",
    "isinf",
    "isfinite",
    "logical_not",
    "logical_and",
    "logical_or",
    "logical_xor",
    "bitwise_not",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "clamp",
    "clip",
    "maximum",
    "minimum",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "not_equal",
    "equal",
    "allclose",
    "isclose",
    "matmul",
    "mm",
    "bmm",
    "mv",
    "dot",
    "outer",
    "ger",
    "sum",
    "mean",
    "prod",
    "var",
    "std",
    "max",
    "min",
    "amax",
    "amin",
    "argmax",
    "argmin",
    "logsumexp",
    "norm",
    "softmax",
    "log_softmax",
    "cumsum",
    "all",
    "any",
    "count_nonzero",
    "nonzero",
    "topk",
    "sort",
    "argsort",
    "reshape",
    "view",
    "view_as",
    "reshape_as",
    "flatten",
    "unflatten",
    "squeeze",
    "unsqueeze",
    "permute",
    "transpose",
    "swapaxes",
    "swapdims",
    "t",
    "movedim",
    "expand",
    "expand_as",
    "broadcast_to",
    "repeat",
    "split",
    "chunk",
    "tensor_split",
    "unbind",
    "narrow",
    "flip",
    "roll",
    "tril",
    "triu",
    "gather",
    "scatter_add",
    "index_select",
    "masked_fill",
    "clone",
    "detach",
    "contiguous",
]

for _name in _SAME:
    setattr(Tensor, _name, getattr(_api, _name))


def _where(self: Tensor, condition: Any, other: Any) -> Tensor:
    """``self`` where ``condition`` holds, else ``other``."""
    return _api.where(condition, self, other)


Tensor.where = _where  # type: ignore[attr-defined]


def _flip(self: Tensor, *dims: Any, **kwargs: Any) -> Tensor:
    """Reverse along ``dims``: ``x.flip(0, 1)`` or ``x.flip((0, 1))``, as torch accepts both."""
    if "dims" in kwargs:
        dims = kwargs["dims"]
    elif len(dims) == 1 and not isinstance(dims[0], int):
        dims = dims[0]
    return _api.flip(self, dims)


Tensor.flip = _flip  # type: ignore[attr-defined]


def _rsub(self: Tensor, other: Any) -> Tensor:
    return _api.sub(other, self)


def _rdiv(self: Tensor, other: Any) -> Tensor:
    # torch computes 2 / x as x.reciprocal() * 2, hence its grad_fn MulBackward0
    return _api._renamed(_api.div(other, self), "MulBackward0")


def _rpow(self: Tensor, other: Any) -> Tensor:
    return _api.pow(other, self)


def _rmatmul(self: Tensor, other: Any) -> Tensor:
    return _api.matmul(_api._operand(other), self)


def _invert(self: Tensor) -> Tensor:
    if self._data.dtype == np.bool_:
        return _api.logical_not(self)
    return _api.bitwise_not(self)


def _bool_op(fn: Any, logical: Any) -> Any:
    def op(self: Tensor, other: Any) -> Tensor:
        if self._data.dtype == np.bool_ and (
            isinstance(other, bool) or (isinstance(other, Tensor) and other._data.dtype == np.bool_)
        ):
            return logical(self, other)
        return fn(self, other)

    return op


_OPERATORS = {
    "__add__": _api.add,
    "__radd__": lambda s, o: _api.add(o, s),
    "__sub__": _api.sub,
    "__rsub__": _rsub,
    "__mul__": _api.mul,
    "__rmul__": lambda s, o: _api.mul(o, s),
    "__truediv__": _api.div,
    "__rtruediv__": _rdiv,
    "__floordiv__": _api.floor_divide,
    "__rfloordiv__": lambda s, o: _api.floor_divide(o, s),
    "__mod__": _api.remainder,
    "__rmod__": lambda s, o: _api.remainder(o, s),
    "__pow__": _api.pow,
    "__rpow__": _rpow,
    "__matmul__": _api.matmul,
    "__rmatmul__": _rmatmul,
    "__neg__": _api.neg,
    "__pos__": lambda s: s,
    "__abs__": _api.abs,
    "__invert__": _invert,
    "__and__": _bool_op(_api.bitwise_and, _api.logical_and),
    "__or__": _bool_op(_api.bitwise_or, _api.logical_or),
    "__xor__": _bool_op(_api.bitwise_xor, _api.logical_xor),
    "__rand__": _bool_op(_api.bitwise_and, _api.logical_and),
    "__ror__": _bool_op(_api.bitwise_or, _api.logical_or),
    "__eq__": _api.eq,
    "__ne__": _api.ne,
    "__lt__": _api.lt,
    "__le__": _api.le,
    "__gt__": _api.gt,
    "__ge__": _api.ge,
}
for _name, _fn in _OPERATORS.items():
    setattr(Tensor, _name, _fn)


# ---------------------------------------------------------------- in-place variants


def _make_inplace(fn: Any, name: str) -> Any:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        def run(t: Tensor, *others: Any) -> Tensor:
            return fn(t, *others, **kwargs)

        run.__name__ = name
        return self._inplace(run, *args)

    method.__name__ = name
    method.__doc__ = f"In-place ``{fn.__name__}``: allowed on tensors that do not require grad."
    return method


_INPLACE = {
    "add_": _api.add,
    "sub_": _api.sub,
    "mul_": _api.mul,
    "div_": _api.div,
    "pow_": _api.pow,
    "clamp_": _api.clamp,
    "clip_": _api.clamp,
    "exp_": _api.exp,
    "log_": _api.log,
    "sqrt_": _api.sqrt,
    "neg_": _api.neg,
    "abs_": _api.abs,
    "relu_": _api.relu,
    "sigmoid_": _api.sigmoid,
    "tanh_": _api.tanh,
    "floor_": _api.floor,
    "round_": _api.round,
    "masked_fill_": _api.masked_fill,
    "scatter_add_": _api.scatter_add,
    "maximum_": _api.maximum,
    "minimum_": _api.minimum,
    "remainder_": _api.remainder,
    "square_": _api.square,
    "reciprocal_": _api.reciprocal,
}
for _name, _fn in _INPLACE.items():
    setattr(Tensor, _name, _make_inplace(_fn, _name))


def _fast_arith_inplace(ufunc: Any, slow: Any, name: str) -> Any:
    """``add_``/``sub_``/``mul_``/``div_`` straight into the array when nothing is recorded.

    Optimizer steps and ``with no_grad(): p -= lr * p.grad`` are all this case, so it skips
    the out-of-place op + copy. Anything unusual (a graph to record, other dtypes or shapes,
    extra arguments) takes the general path, which also raises torch's errors.
    """

    def method(self: Tensor, other: Any, *args: Any, **kwargs: Any) -> Tensor:
        if not args and not (
            state.enabled
            and (self.requires_grad or (isinstance(other, Tensor) and other.requires_grad))
        ):
            alpha = kwargs.get("alpha", 1) if kwargs else 1
            o = other._data if isinstance(other, Tensor) else other
            data = self._data
            if (len(kwargs) <= 1 and (not kwargs or "alpha" in kwargs)) and (
                (type(o) is np.ndarray and o.dtype.kind == "f" and data.dtype.kind == "f")
                or (type(o) is float and data.dtype.kind == "f")
            ):
                if alpha != 1:
                    o = o * alpha
                try:
                    ufunc(data, o, out=data, casting="same_kind")
                except (ValueError, TypeError):
                    pass  # shape/dtype trouble: the general path raises torch's error
                else:
                    self._vc[0] += 1
                    return self
        return slow(self, other, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = slow.__doc__
    return method


for _name, _uf in (
    ("add_", np.add),
    ("sub_", np.subtract),
    ("mul_", np.multiply),
    ("div_", np.true_divide),
):
    setattr(Tensor, _name, _fast_arith_inplace(_uf, getattr(Tensor, _name), _name))

Tensor.__iadd__ = Tensor.add_  # type: ignore[attr-defined]
Tensor.__isub__ = Tensor.sub_  # type: ignore[attr-defined]
Tensor.__imul__ = Tensor.mul_  # type: ignore[attr-defined]
Tensor.__itruediv__ = Tensor.div_  # type: ignore[attr-defined]


def addcmul_(self: Tensor, tensor1: Any, tensor2: Any, *, value: float = 1) -> Tensor:
    """``self += value · tensor1 · tensor2`` in place."""
    return self.add_(_api.mul(tensor1, tensor2), alpha=value)


def addcdiv_(self: Tensor, tensor1: Any, tensor2: Any, *, value: float = 1) -> Tensor:
    """``self += value · tensor1 / tensor2`` in place."""
    return self.add_(_api.div(tensor1, tensor2), alpha=value)


def lerp_(self: Tensor, end: Any, weight: float) -> Tensor:
    """``self += weight · (end − self)`` in place."""
    return self.add_(_api.sub(end, self), alpha=weight)


def copy_(self: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
    """Copy ``src``'s values (broadcast, cast) into this tensor."""
    return self._inplace(_copy_from, src)


def _copy_from(t: Tensor, src: Any) -> Tensor:
    s = src if isinstance(src, Tensor) else _api.tensor(src)
    # expand always returns a new tensor, so rebasing ``t`` never touches the caller's ``src``
    return _api.expand(s.to(t.dtype), t.shape)


_copy_from.__name__ = "copy_"


def fill_(self: Tensor, value: Any) -> Tensor:
    """Set every element to ``value``."""
    v = value.item() if isinstance(value, Tensor) else value
    return self._fill(np.asarray(v))


def zero_(self: Tensor) -> Tensor:
    """Set every element to 0."""
    return self._fill(np.zeros((), self._data.dtype))


def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill with uniform numbers from [a, b)."""
    _api._check_random_float(self._data.dtype, "check_uniform_bounds")
    return self._fill(rng(generator).uniform(a, b, self.shape))


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill with normal numbers."""
    _api._check_random_float(self._data.dtype, "normal_kernel_cpu")
    return self._fill(rng(generator).normal(mean, std, self.shape))


def bernoulli_(self: Tensor, p: float = 0.5, *, generator: Any = None) -> Tensor:
    """Fill with 0/1 draws that are 1 with probability ``p``."""
    return self._fill(rng(generator).random(self.shape) < p)


def random_(self: Tensor, low: int = 0, high: Any = None, *, generator: Any = None) -> Tensor:
    """Fill with integers from [low, high)."""
    if high is None:
        low, high = 0, low if low else 2**24
    return self._fill(rng(generator).integers(low, high, self.shape))


def exponential_(self: Tensor, lambd: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill with exponential numbers of rate ``lambd``."""
    return self._fill(rng(generator).exponential(1.0 / lambd, self.shape))


for _fn in (
    addcmul_,
    addcdiv_,
    lerp_,
    copy_,
    fill_,
    zero_,
    uniform_,
    normal_,
    bernoulli_,
    random_,
    exponential_,
):
    setattr(Tensor, _fn.__name__, _fn)
