"""Elementwise ops: forward and gradient side by side.

Gradients are returned in the broadcast output shape; the engine sums them back to each
input's shape (DESIGN §3). Constants are Python floats so float32 stays float32.
"""

from __future__ import annotations

import math

import numpy as np

from ._registry import op, with_backward_name
from ._special import erf as _erf
from ._special import erfc as _erfc
from ._special import erfcx as _erfcx
from ._special import erfinv as _erfinv
from ._special import log_ndtr as _log_ndtr

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)


# ---------------------------------------------------------------- arithmetic


@op("add", formula="x̄ = ȳ,  ȳ₂ = ȳ", onnx="Add", promote=True)
def add(x, y):
    def vjp(g, needs):
        return g, g

    return np.add(x, y), vjp


@op("sub", formula="x̄ = ȳ,  ȳ₂ = −ȳ", onnx="Sub", promote=True)
def sub(x, y):
    def vjp(g, needs):
        return g, (-g if needs[1] else None)

    return np.subtract(x, y), vjp


@op("mul", formula="x̄ = ȳ · y,  ȳ₂ = ȳ · x", onnx="Mul", promote=True)
def mul(x, y):
    def vjp(g, needs):
        return (g * y if needs[0] else None), (g * x if needs[1] else None)

    return np.multiply(x, y), vjp


@op("div", formula="x̄ = ȳ / y,  ȳ₂ = −ȳ · x / y²", onnx="Div", promote=True, quiet=True)
def div(x, y):
    out = np.true_divide(x, y)

    def vjp(g, needs):
        gx = g / y if needs[0] else None
        gy = -g * out / y if needs[1] else None
        return gx, gy

    return out, vjp


@op("neg", formula="x̄ = −ȳ", onnx="Neg")
def neg(x):
    def vjp(g, needs):
        return (-g,)

    return np.negative(x), vjp


@op("pow", formula="x̄ = ȳ · p · x^(p−1),  p̄ = ȳ · x^p · ln x", onnx="Pow", promote=True, quiet=True)
def pow(x, p):
    out = np.power(x, p)

    def vjp(g, needs):
        gx = gp = None
        if needs[0]:
            # why: d/dx x^0 is 0 everywhere (torch), even at x = 0 where x^(p-1) is inf
            gx = np.where(p == 0, 0.0, g * p * np.power(x, p - 1)).astype(g.dtype)
        if needs[1]:
            # why: torch defines the exponent's gradient as 0 where x == 0 (and p >= 0)
            safe = np.where(x > 0, x, 1.0)
            gp = np.where((x == 0) & (p >= 0), 0.0, g * out * np.log(safe)).astype(g.dtype)
        return gx, gp

    return out, vjp


@op("remainder", formula="x̄ = ȳ,  ȳ₂ = −ȳ · floor(x / y)", promote=True, quiet=True)
def remainder(x, y):
    def vjp(g, needs):
        return g, (-g * np.floor_divide(x, y) if needs[1] else None)

    return np.remainder(x, y), vjp


@op("fmod", formula="x̄ = ȳ,  ȳ₂ = −ȳ · trunc(x / y)", promote=True, quiet=True)
def fmod(x, y):
    # why: C-style remainder (sign of the dividend), unlike remainder's sign of the divisor
    def vjp(g, needs):
        return g, (-g * np.trunc(np.true_divide(x, y)) if needs[1] else None)

    return np.fmod(x, y), vjp


@op("floor_divide", differentiable=False, promote=True, quiet=True)
def floor_divide(x, y):
    return np.floor_divide(x, y)


# ---------------------------------------------------------------- unary math


@op("exp", formula="x̄ = ȳ · eˣ", onnx="Exp", float_only=True, quiet=True)
def exp(x):
    y = np.exp(x)

    def vjp(g, needs):
        return (g * y,)

    return y, vjp


@op("log", formula="x̄ = ȳ / x", onnx="Log", float_only=True, quiet=True)
def log(x):
    def vjp(g, needs):
        return (g / x,)

    return np.log(x), vjp


@op("log1p", backward_name="Log1PBackward0", formula="x̄ = ȳ / (1 + x)", float_only=True, quiet=True)
def log1p(x):
    def vjp(g, needs):
        return (g / (1.0 + x),)

    return np.log1p(x), vjp


@op("sqrt", formula="x̄ = ȳ / (2√x)", onnx="Sqrt", float_only=True, quiet=True)
def sqrt(x):
    y = np.sqrt(x)

    def vjp(g, needs):
        return (g / (2.0 * y),)

    return y, vjp


@op("rsqrt", formula="x̄ = −ȳ / (2 x^{3/2})", float_only=True, quiet=True)
def rsqrt(x):
    y = 1.0 / np.sqrt(x)

    def vjp(g, needs):
        return (-0.5 * g * y * y * y,)

    return y, vjp


@op("sin", formula="x̄ = ȳ · cos x", onnx="Sin", float_only=True)
def sin(x):
    def vjp(g, needs):
        return (g * np.cos(x),)

    return np.sin(x), vjp


@op("cos", formula="x̄ = −ȳ · sin x", onnx="Cos", float_only=True)
def cos(x):
    def vjp(g, needs):
        return (-g * np.sin(x),)

    return np.cos(x), vjp


@op("tanh", formula="x̄ = ȳ · (1 − y²)", onnx="Tanh", float_only=True)
def tanh(x):
    y = np.tanh(x)

    def vjp(g, needs):
        return (g * (1.0 - y * y),)

    return y, vjp


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # why: 0.5·(1 + tanh(x/2)) never overflows, unlike 1/(1 + e^{-x}) for large negative x
    y = np.tanh(x * 0.5)
    y += 1.0
    y *= 0.5
    return y


@op("sigmoid", formula="x̄ = ȳ · y · (1 − y)", onnx="Sigmoid", float_only=True)
def sigmoid(x):
    y = _sigmoid(x)

    def vjp(g, needs):
        return (g * y * (1.0 - y),)

    return y, vjp


@op("relu", formula="x̄ = ȳ · [x > 0]", onnx="Relu")
def relu(x):
    # NOTE: relu'(0) = 0, as in PyTorch.
    # why: a Python float 0.0 is ~2x cheaper for NumPy than int 0 on float arrays
    y = np.maximum(x, 0.0) if x.dtype.kind == "f" else np.maximum(x, 0)

    def vjp(g, needs):
        return (g * (y > 0),)

    return y, vjp


@op("abs", formula="x̄ = ȳ · sign(x)", onnx="Abs")
def abs(x):
    # NOTE: abs'(0) = 0 (sign(0) = 0), as in PyTorch.
    def vjp(g, needs):
        # torch: abs' = sgn(x), and sgn(nan) = 0 (NumPy's sign gives nan)
        s = np.sign(x)
        return (g * np.where(s == s, s, 0.0),)

    return np.abs(x), vjp


@op("square", backward_name="PowBackward0", formula="x̄ = 2 · ȳ · x")
def square(x):
    def vjp(g, needs):
        return (2.0 * g * x,)

    return np.square(x), vjp


@op("reciprocal", formula="x̄ = −ȳ · y²", onnx="Reciprocal", float_only=True, quiet=True)
def reciprocal(x):
    y = np.reciprocal(x)

    def vjp(g, needs):
        return (-g * y * y,)

    return y, vjp


@op("erf", formula="x̄ = ȳ · 2/√π · e^{−x²}", onnx="Erf", float_only=True)
def erf(x):
    def vjp(g, needs):
        return (g * _TWO_OVER_SQRT_PI * np.exp(-x * x),)

    return _erf(x), vjp


@op("erfc", formula="x̄ = −ȳ · 2/√π · e^{−x²}", float_only=True)
def erfc(x):
    # its own op, not 1 − erf: erfc(5) ≈ 1.5e-12 keeps its relative accuracy (~1e-15)
    def vjp(g, needs):
        return (g * -_TWO_OVER_SQRT_PI * np.exp(-x * x),)

    return _erfc(x), vjp


@op("special_erfcx", formula="x̄ = ȳ · (2x·erfcx(x) − 2/√π)",
    backward_name="SpecialErfcxBackward0", float_only=True, quiet=True)  # fmt: skip
def special_erfcx(x):
    y = _erfcx(x)

    def vjp(g, needs):
        return (g * (2.0 * x * y - _TWO_OVER_SQRT_PI),)

    return y, vjp


@op("special_log_ndtr", formula="x̄ = ȳ · φ(x)/Φ(x)",
    backward_name="SpecialLogNdtrBackward0", float_only=True, quiet=True)  # fmt: skip
def special_log_ndtr(x):
    y = _log_ndtr(x)

    def vjp(g, needs):
        d = np.asarray(np.exp(-0.5 * x * x - y) * _INV_SQRT_2PI)  # φ/Φ = e^{−x²/2−log Φ}/√(2π)
        low = x < -1.0  # there −x²/2 − log Φ cancels: √(2/π)/erfcx(−x/√2) instead
        if low.any():
            d[low] = _SQRT_2_OVER_PI / _erfcx(x[low] * -_INV_SQRT_2)
        return (g * d,)

    return y, vjp


@op("clamp", backward_name="ClampBackward1", formula="x̄ = ȳ · [min ≤ x ≤ max]", onnx="Clip")
def clamp(x, min=None, max=None):
    # NOTE: gradient passes at the bounds themselves (PyTorch's subgradient choice).
    y = np.clip(x, min, max)

    def vjp(g, needs):
        mask = np.ones(x.shape, dtype=bool)
        if min is not None:
            mask &= x >= min
        if max is not None:
            mask &= x <= max
        return (g * mask,)

    return y, vjp


@op("maximum", formula="x̄ = ȳ · [x > y] (+ ½ on ties)", onnx="Max", promote=True)
def maximum(x, y):
    # NOTE: ties split the gradient half and half, as in PyTorch.
    def vjp(g, needs):
        w = (x > y) + 0.5 * (x == y)
        w = w.astype(g.dtype)
        return (g * w if needs[0] else None), (g * (1.0 - w) if needs[1] else None)

    return np.maximum(x, y), vjp


@op("minimum", formula="x̄ = ȳ · [x < y] (+ ½ on ties)", onnx="Min", promote=True)
def minimum(x, y):
    def vjp(g, needs):
        w = (x < y) + 0.5 * (x == y)
        w = w.astype(g.dtype)
        return (g * w if needs[0] else None), (g * (1.0 - w) if needs[1] else None)

    return np.minimum(x, y), vjp


@op("where", formula="x̄ = ȳ · [c],  ȳ₂ = ȳ · [¬c]", onnx="Where", promote=True)
def where(x, y, cond=None):
    def vjp(g, needs):
        zero = np.zeros((), dtype=g.dtype)
        return (
            np.where(cond, g, zero) if needs[0] else None,
            np.where(cond, zero, g) if needs[1] else None,
        )

    return np.where(cond, x, y), vjp


@op(
    "to_dtype",
    formula="x̄ = ȳ in x's dtype",
    onnx="Cast",
    backward_name="ToCopyBackward0",
    opmath=False,
)
def _cast_op(x, dtype=None):
    def vjp(g, needs):
        return (g,)  # the engine casts ȳ back to x's dtype

    return x.astype(dtype), vjp


# ---------------------------------------------------------------- non-differentiable


# Rounding and sign are piecewise constant: torch records them in the graph with a zero
# gradient (RoundBackward0 …), so a loss through them backpropagates zeros, not an error.


def _zero_grad(g, needs):
    return (np.zeros_like(g),)


@op("round", formula="x̄ = 0")
def round(x, decimals=0):
    return np.round(x, decimals), _zero_grad


def _unary_nondiff(name: str, fn: np.ufunc):
    """A non-differentiable elementwise op that is just the NumPy ufunc ``fn``."""

    def unary(x):
        return fn(x)

    unary.__name__ = unary.__qualname__ = name
    return op(name, differentiable=False)(unary)


def _unary_zero_grad(name: str, fn):
    """A piecewise-constant elementwise op: recorded in the graph with a zero gradient."""

    def unary(x):
        return fn(x), _zero_grad

    unary.__name__ = unary.__qualname__ = name
    return op(name, formula="x̄ = 0")(unary)


def _sign(x):
    # torch: sign(bool) is the bool itself and sign(nan) is 0 (NumPy: no bool loop, nan)
    if x.dtype == np.bool_:
        return x.copy()
    s = np.sign(x)
    return np.where(np.isnan(s), 0, s).astype(s.dtype) if s.dtype.kind == "f" else s


sign = _unary_zero_grad("sign", _sign)
floor = _unary_zero_grad("floor", np.floor)
ceil = _unary_zero_grad("ceil", np.ceil)
trunc = _unary_zero_grad("trunc", np.trunc)
round_decimals = with_backward_name(round, "RoundBackward1")
sgn = with_backward_name(sign, "SgnBackward0")
logical_not = _unary_nondiff("logical_not", np.logical_not)
bitwise_not = _unary_nondiff("bitwise_not", np.invert)
isnan = _unary_nondiff("isnan", np.isnan)
isinf = _unary_nondiff("isinf", np.isinf)
isfinite = _unary_nondiff("isfinite", np.isfinite)


def _compare(name: str, fn: np.ufunc, onnx: str | None = None):
    @op(name, differentiable=False, promote=True)
    def compare(x, y):
        return fn(x, y)

    return compare


eq = _compare("eq", np.equal)
ne = _compare("ne", np.not_equal)
lt = _compare("lt", np.less)
le = _compare("le", np.less_equal)
gt = _compare("gt", np.greater)
ge = _compare("ge", np.greater_equal)
logical_and = _compare("logical_and", np.logical_and)
logical_or = _compare("logical_or", np.logical_or)
logical_xor = _compare("logical_xor", np.logical_xor)
bitwise_and = _compare("bitwise_and", np.bitwise_and)
bitwise_or = _compare("bitwise_or", np.bitwise_or)
bitwise_xor = _compare("bitwise_xor", np.bitwise_xor)


@op("full_like", differentiable=False, opmath=False)
def full_like(x, fill_value=0, dtype=None):
    """``fill_value`` in ``x``'s shape: an op (not ``np.full``) so that a traced, exported graph
    takes the shape from ``x`` and keeps its dynamic axes."""
    return np.full(x.shape, fill_value, dtype=x.dtype if dtype is None else dtype)


# ---------------------------------------------------------------- NaN-ignoring extremes


@op("fmax", formula="x̄ = ȳ · [x ≥ y or y is nan],  ȳ₂ = ȳ − x̄", promote=True)
def fmax(x, y):
    # NOTE: torch's subgradient: a tie (or two NaNs) sends the whole gradient to x, where
    # maximum splits it.
    def vjp(g, needs):
        wx = (x >= y) | np.isnan(y)
        return (g * wx if needs[0] else None), (g * ~wx if needs[1] else None)

    return np.fmax(x, y), vjp


@op("fmin", formula="x̄ = ȳ · [x ≤ y or y is nan],  ȳ₂ = ȳ − x̄", promote=True)
def fmin(x, y):
    def vjp(g, needs):
        wx = (x <= y) | np.isnan(y)
        return (g * wx if needs[0] else None), (g * ~wx if needs[1] else None)

    return np.fmin(x, y), vjp


# ---------------------------------------------------------------- special functions


@op("angle", formula="x̄ = 0 (real inputs)", float_only=True)
def angle(x):
    """The argument of a real number: π for negatives, 0 otherwise (NaN stays NaN)."""
    y = np.where(x < 0, np.asarray(math.pi, dtype=x.dtype), np.zeros((), dtype=x.dtype))
    y = np.where(np.isnan(x), x, y)

    def vjp(g, needs):
        return (np.zeros_like(g),)

    return y, vjp


@op("erfinv", formula="x̄ = ȳ · √π/2 · e^{y²}", float_only=True, quiet=True)
def erfinv(x):
    # rational approximations (ops/_special.py): ~8e-16 relative also as |x| → 1
    y = _erfinv(x)

    def vjp(g, needs):
        return (g * (0.5 * math.sqrt(math.pi)) * np.exp(y * y),)

    return y, vjp


def _bessel_series(x: np.ndarray, nu: int) -> np.ndarray:
    """I_ν(x) = Σₖ (x/2)^{2k+ν} / (k! (k+ν)!) for |x| ≤ 15 (positive terms: nothing cancels;
    45 terms reach float64 rounding there)."""
    h = 0.5 * x
    q = h * h
    term = np.ones_like(x) if nu == 0 else h.copy()
    total = term.copy()
    for k in range(1, 46):
        term = term * q / (k * (k + nu))
        total += term
    return total


def _bessel_scaled_asymptotic(x: np.ndarray, nu: int) -> np.ndarray:
    """e^{−|x|} I_ν(|x|) for |x| > 15 from Hankel's expansion (relative error below e^{−2|x|})."""
    a = np.abs(x)
    mu = 4.0 * nu * nu
    term = np.ones_like(a)
    total = term.copy()
    for k in range(1, 26):
        term = -term * (mu - (2 * k - 1) ** 2) / (k * 8.0 * a)
        total += term
    return total / np.sqrt(2.0 * math.pi * a)


_BESSEL_SPLIT = 15.0


def _bessel_scaled(x: np.ndarray, nu: int) -> np.ndarray:
    """e^{−|x|} I_ν(x) in float64 (I₀ is even, I₁ odd)."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    small = a <= _BESSEL_SPLIT
    with np.errstate(all="ignore"):
        near = _bessel_series(np.where(small, x, 0.0), nu) * np.exp(-a)
        far = _bessel_scaled_asymptotic(np.where(small, _BESSEL_SPLIT + 1.0, x), nu)
    if nu == 1:
        far = np.copysign(far, x)
    out = np.where(small, near, far)
    out = np.where(np.isinf(x), 0.0, out)  # e^{-inf}·inf: the scaled function tends to 0
    return np.where(np.isnan(x), np.nan, out)


def _i1(x: np.ndarray) -> np.ndarray:
    """The modified Bessel function I₁ in float64 (overflows to ±inf; NaN at ±inf, as torch)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        return _bessel_scaled(x, 1) * np.exp(np.abs(x))


def _i0(x: np.ndarray) -> np.ndarray:
    """I₀ in float64 (NumPy's Cephes code, which torch's also is: NaN at ±inf)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.i0(x)


@op("i0", formula="x̄ = ȳ · I₁(x)", backward_name="I0Backward0", float_only=True, quiet=True)
def i0(x):
    def vjp(g, needs):
        return (g * _i1(x).astype(g.dtype),)

    return _i0(x).astype(x.dtype), vjp


@op("special_i1", formula="x̄ = ȳ · (I₀(x) − I₁(x)/x)", backward_name="SpecialI1Backward0",
    float_only=True, quiet=True)  # fmt: skip
def special_i1(x):
    y = _i1(x)

    def vjp(g, needs):
        safe = np.where(x == 0, 1.0, x)
        d = np.where(x == 0, 0.5, _i0(x) - y / safe)  # I₁'(0) = 1/2
        return (g * d.astype(g.dtype),)

    return y.astype(x.dtype), vjp


@op("special_i0e", formula="x̄ = ȳ · (i1e(x) − sign(x) · i0e(x))",
    backward_name="SpecialI0EBackward0", float_only=True, quiet=True)  # fmt: skip
def special_i0e(x):
    y = _bessel_scaled(x, 0)

    def vjp(g, needs):
        return (g * (_bessel_scaled(x, 1) - np.sign(x) * y).astype(g.dtype),)

    return y.astype(x.dtype), vjp


@op("special_i1e", formula="x̄ = ȳ · (i0e(x) − i1e(x) · (sign(x) + 1/x))",
    backward_name="SpecialI1EBackward0", float_only=True, quiet=True)  # fmt: skip
def special_i1e(x):
    y = _bessel_scaled(x, 1)

    def vjp(g, needs):
        safe = np.where(x == 0, 1.0, x)
        d = np.where(x == 0, 0.5, _bessel_scaled(x, 0) - y * (np.sign(x) + 1.0 / safe))
        return (g * d.astype(g.dtype),)

    return y.astype(x.dtype), vjp
