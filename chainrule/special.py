"""``chainrule.special``: torch.special's common functions (aliases and compositions)."""

from __future__ import annotations

import math
from typing import Any

from . import _api, _compat
from ._tensor import Tensor
from .ops import elementwise as E

__all__ = [
    "expit",
    "logit",
    "erf",
    "erfc",
    "erfcx",
    "exp2",
    "expm1",
    "log1p",
    "xlogy",
    "xlog1py",
    "entr",
    "sinc",
    "round",
    "softmax",
    "log_softmax",
    "logsumexp",
    "ndtr",
    "log_ndtr",
    "erfinv",
    "i0",
    "i1",
    "i0e",
    "i1e",
]


def expit(input: Tensor) -> Tensor:
    """The logistic sigmoid."""
    return _api.sigmoid(input)


def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """log(p / (1 − p))."""
    return _compat.logit(input, eps)


def erf(input: Tensor) -> Tensor:
    """The error function."""
    return _api.erf(input)


def erfinv(input: Tensor) -> Tensor:
    """The inverse error function."""
    return _compat.erfinv(input)


def i0(input: Tensor) -> Tensor:
    """The modified Bessel function of the first kind, order 0."""
    return _compat.i0(input)


def i1(input: Tensor) -> Tensor:
    """The modified Bessel function of the first kind, order 1."""
    return E.special_i1(input)


def i0e(input: Tensor) -> Tensor:
    """The exponentially scaled ``e^{−|x|} I₀(x)`` (finite where I₀ overflows)."""
    return E.special_i0e(input)


def i1e(input: Tensor) -> Tensor:
    """The exponentially scaled ``e^{−|x|} I₁(x)``."""
    return E.special_i1e(input)


def erfc(input: Tensor) -> Tensor:
    """1 − erf(x), with relative accuracy in the tail (not computed as 1 − erf)."""
    return _compat.erfc(input)


def erfcx(input: Tensor) -> Tensor:
    """The scaled complementary error function e^{x²}·erfc(x)."""
    return E.special_erfcx(input)


def exp2(input: Tensor) -> Tensor:
    """2ˣ."""
    return _compat.exp2(input)


def expm1(input: Tensor) -> Tensor:
    """eˣ − 1."""
    return _compat.expm1(input)


def log1p(input: Tensor) -> Tensor:
    """log(1 + x)."""
    return _api.log1p(input)


def xlogy(input: Any, other: Any) -> Tensor:
    """x · log(y), 0 where x is 0."""
    return _compat.xlogy(input, other)


def xlog1py(input: Any, other: Any) -> Tensor:
    """x · log1p(y), 0 where x is 0."""
    x = input if isinstance(input, Tensor) else _api.tensor(input)
    zero = x._data == 0
    y = other if isinstance(other, Tensor) else _api.full_like(x, float(other))
    safe = _api.where(zero, _api.zeros_like(y), y)
    return _api.where(zero, _api.zeros_like(x * safe), x * _api.log1p(safe))


def entr(input: Tensor) -> Tensor:
    """−x log x (0 at 0, −inf below 0)."""
    pos = input._data > 0
    safe = _api.where(pos, input, _api.ones_like(input))
    val = -input * _api.log(safe)
    out = _api.where(pos, val, _api.zeros_like(val))
    return _api.where(input < 0, _api.full_like(out, float("-inf")), out)


def sinc(input: Tensor) -> Tensor:
    """sin(πx) / (πx), 1 at 0."""
    zero = input._data == 0
    safe = _api.where(zero, _api.ones_like(input), input)
    v = _api.sin(math.pi * safe) / (math.pi * safe)
    return _api.where(zero, _api.ones_like(v), v)


def round(input: Tensor, *, decimals: int = 0) -> Tensor:
    """Round half to even."""
    return _api.round(input, decimals=decimals)


def softmax(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """``softmax`` along ``dim``."""
    return _api.softmax(input, dim, dtype)


def log_softmax(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """``log_softmax`` along ``dim``."""
    return _api.log_softmax(input, dim, dtype)


def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """log Σ exp along ``dim``."""
    return _api.logsumexp(input, dim, keepdim)


def ndtr(input: Tensor) -> Tensor:
    """The standard normal CDF Φ(x) = ½·erfc(−x/√2) (as torch: the left tail keeps its
    relative accuracy, where 1 + erf would round to 0)."""
    return 0.5 * _compat.erfc(input * -(1.0 / math.sqrt(2.0)))


def log_ndtr(input: Tensor) -> Tensor:
    """log Φ(x), finite far into the left tail (log(erfcx(−x/√2)/2) − x²/2 there)."""
    return E.special_log_ndtr(input)
