"""Fused activations: softmax and log_softmax (one node each, gradient in terms of the output),
and the elementwise activations of ``nn`` (gelu, silu, elu/selu/celu, softplus, …)."""

from __future__ import annotations

import math

import numpy as np

from .._registry import op
from .._special import ndtr_and_square


@op("softmax", formula="x̄ = y · (ȳ − Σ ȳ·y)", onnx="Softmax", float_only=True, quiet=True)
def softmax(x, dim=-1):
    # initial=-inf: an empty reduced dim gives an empty result (torch) instead of a NumPy error
    # (the ufunc reductions np.max/np.sum call, minus their Python wrappers: ~1 µs each)
    e = np.exp(x - np.maximum.reduce(x, axis=dim, keepdims=True, initial=-np.inf))
    y = e / np.add.reduce(e, axis=dim, keepdims=True)

    def vjp(g, needs):
        gy = g * y
        return (gy - y * np.add.reduce(gy, axis=dim, keepdims=True),)

    return y, vjp


@op(
    "log_softmax",
    formula="x̄ = ȳ − softmax(x) · Σ ȳ",
    onnx="LogSoftmax",
    float_only=True,
    quiet=True,
)
def log_softmax(x, dim=-1):
    shifted = x - np.maximum.reduce(x, axis=dim, keepdims=True, initial=-np.inf)
    y = shifted - np.log(np.add.reduce(np.exp(shifted), axis=dim, keepdims=True))

    def vjp(g, needs):
        return (g - np.exp(y) * np.add.reduce(g, axis=dim, keepdims=True),)

    return y, vjp


# ---------------------------------------------------------------------------- elementwise
# Each activation below is one node whose VJP is written in closed form. Kinks follow torch's
# backward kernels (named per op), so gradients at exactly 0 / the bounds match torch.

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_C = 0.044715
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_ONE_SIXTH_F32 = float(np.float32(1.0) / np.float32(6.0))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp of a non-positive number only: no overflow for large |x|.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + eˣ) without overflow: max(x, 0) + log1p(e^{−|x|})."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


@op("gelu", formula="x̄ = ȳ · (Φ(x) + x·φ(x))  (tanh form when approximate='tanh')", onnx="Gelu")
def gelu(x, approximate="none"):
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (x + _GELU_C * x * x * x)
        t = np.tanh(inner)
        y = 0.5 * x * (1.0 + t)

        def vjp(g, needs):
            dinner = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_C * x * x)
            return (g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dinner),)

        return y, vjp
    # Φ(x) by rational approximations in x's precision (float16 in float32), with x² kept for
    # the backward: φ(x)·x costs one exp there, nothing of the forward is recomputed
    cdf, sq = ndtr_and_square(x)
    xf = x.reshape(-1).astype(sq.dtype, copy=False)
    y = (xf * cdf).reshape(x.shape).astype(x.dtype, copy=False)

    def vjp(g, needs):
        d = sq * -0.5
        np.exp(d, out=d)
        d *= xf
        d *= _INV_SQRT_2PI
        d += cdf  # Φ(x) + x·φ(x)
        return (g * d.reshape(g.shape),)

    return y, vjp


@op("silu", formula="x̄ = ȳ · σ(x)(1 + x(1 − σ(x)))")
def silu(x):
    s = _sigmoid(x)
    y = x * s

    def vjp(g, needs):
        return (g * (s * (1.0 + x * (1.0 - s))),)

    return y, vjp


@op("mish", formula="x̄ = ȳ · (tanh(sp) + x·σ(x)·(1 − tanh²(sp))),  sp = softplus(x)")
def mish(x):
    t = np.tanh(_softplus(x))
    y = x * t

    def vjp(g, needs):
        return (g * (t + x * _sigmoid(x) * (1.0 - t * t)),)

    return y, vjp


@op("elu", formula="x̄ = ȳ · scale for x > 0, else ȳ · α·scale·s·e^{s·x}", onnx="Elu")
def elu(x, alpha=1.0, scale=1.0, input_scale=1.0):
    """ELU (and SELU / CELU through ``scale`` / ``input_scale``), as torch's ``elu`` kernel.

    torch's elu_backward takes the negative branch for x <= 0, so the gradient at 0 is α·s·scale.
    """
    neg = x <= 0
    ex = np.exp(np.minimum(x, 0.0) * input_scale)  # min(): no overflow on the unused branch
    y = np.where(neg, (alpha * scale) * (ex - 1.0), x * scale).astype(x.dtype, copy=False)

    def vjp(g, needs):
        return (np.where(neg, g * (input_scale * alpha * scale) * ex, g * scale),)

    return y, vjp


@op("softplus", formula="x̄ = ȳ · σ(βx)  (ȳ where βx > threshold)", onnx="Softplus")
def softplus(x, beta=1.0, threshold=20.0):
    bx = x * beta
    linear = bx > threshold
    y = np.where(linear, x, _softplus(bx) / beta).astype(x.dtype, copy=False)

    def vjp(g, needs):
        return (np.where(linear, g, g * _sigmoid(bx)),)

    return y, vjp


@op("leaky_relu", formula="x̄ = ȳ for x > 0, else ȳ · slope", onnx="LeakyRelu")
def leaky_relu(x, negative_slope=0.01):
    # torch's leaky_relu_backward: x > 0 ? g : g·slope, so the gradient at 0 is the slope.
    pos = x > 0
    y = np.where(pos, x, x * negative_slope)

    def vjp(g, needs):
        return (np.where(pos, g, g * negative_slope),)

    return y, vjp


@op("hardtanh", formula="x̄ = ȳ · [min < x < max]")
def hardtanh(x, min_val=-1.0, max_val=1.0):
    # torch's hardtanh_backward: zero gradient at and beyond the bounds (relu6 is (0, 6)).
    y = np.clip(x, min_val, max_val)

    def vjp(g, needs):
        return (np.where((x > min_val) & (x < max_val), g, 0.0),)

    return y, vjp


@op("hardswish", formula="x̄ = ȳ · (0 if x ≤ −3; x/3 + ½ if x < 3; 1)", onnx="HardSwish")
def hardswish(x):
    y = x * np.clip(x + 3.0, 0.0, 6.0) / 6.0

    def vjp(g, needs):
        # torch's hardswish_backward: 0 for x <= −3, x/3 + ½ for −3 < x < 3, 1 for x >= 3
        return (np.where(x <= -3.0, 0.0, np.where(x < 3.0, g * (x / 3.0 + 0.5), g)),)

    return y, vjp


@op("hardsigmoid", formula="x̄ = ȳ/6 · [−3 < x < 3]")
def hardsigmoid(x):
    y = np.clip(x + 3.0, 0.0, 6.0) / 6.0

    def vjp(g, needs):
        # torch's kernel multiplies by the float32 constant 1.0f/6.0f, even for float64
        return (np.where((x > -3.0) & (x < 3.0), g * _ONE_SIXTH_F32, 0.0),)

    return y, vjp


@op("logsigmoid", formula="x̄ = ȳ · σ(−x)")
def logsigmoid(x):
    y = -_softplus(-x)

    def vjp(g, needs):
        return (g * _sigmoid(-x),)

    return y, vjp


@op("softsign", formula="x̄ = ȳ / (1 + |x|)²", onnx="Softsign")
def softsign(x):
    d = 1.0 + np.abs(x)
    y = x / d

    def vjp(g, needs):
        return (g / (d * d),)

    return y, vjp


@op("threshold", formula="x̄ = ȳ · [x > threshold]")
def threshold(x, threshold=0.0, value=0.0):
    keep = x > threshold
    y = np.where(keep, x, value).astype(x.dtype, copy=False)

    def vjp(g, needs):
        return (np.where(keep, g, 0.0),)

    return y, vjp


@op("prelu", formula="x̄ = ȳ · (1 if x > 0 else a),  ā = Σ ȳ · x · [x ≤ 0]", onnx="PRelu")
def prelu(x, a):
    """PReLU with ``a`` already broadcastable to ``x`` (channel dim placed by F.prelu)."""
    pos = x > 0
    y = np.where(pos, x, a * x)

    def vjp(g, needs):
        gx = np.where(pos, g, g * a) if needs[0] else None
        ga = np.where(pos, 0.0, g * x) if needs[1] else None
        return gx, ga

    return y, vjp
