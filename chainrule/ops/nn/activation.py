"""Fused activations: softmax and log_softmax (one node each, gradient in terms of the output)."""

from __future__ import annotations

import numpy as np

from .._registry import op


@op("softmax", formula="x̄ = y · (ȳ − Σ ȳ·y)", onnx="Softmax", float_only=True)
def softmax(x, dim=-1):
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    y = e / np.sum(e, axis=dim, keepdims=True)

    def vjp(g, needs):
        gy = g * y
        return (gy - y * np.sum(gy, axis=dim, keepdims=True),)

    return y, vjp


@op("log_softmax", formula="x̄ = ȳ − softmax(x) · Σ ȳ", onnx="LogSoftmax", float_only=True)
def log_softmax(x, dim=-1):
    shifted = x - np.max(x, axis=dim, keepdims=True)
    y = shifted - np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))

    def vjp(g, needs):
        return (g - np.exp(y) * np.sum(g, axis=dim, keepdims=True),)

    return y, vjp
