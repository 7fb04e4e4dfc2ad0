"""Ops that ordinary PyTorch scripts call beyond the core set (trigonometry, cumprod, scatter).

Same conventions as ``elementwise.py``: each op's forward and gradient side by side, on ndarrays.
Functions that are plain compositions of existing ops live in ``chainrule/_compat.py`` instead
(their gradients come from the composed ops).
"""

from __future__ import annotations

import math

import numpy as np

from ._registry import op

__all__ = [
    "tan",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "atan2",
    "expm1",
    "exp2",
    "log2",
    "log10",
    "cumprod",
    "scatter",
]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


@op("tan", formula="x̄ = ȳ · (1 + y²)", onnx="Tan", float_only=True, quiet=True)
def tan(x):
    y = np.tan(x)

    def vjp(g, needs):
        return (g * (1.0 + y * y),)

    return y, vjp


@op("asin", formula="x̄ = ȳ / √(1 − x²)", onnx="Asin", float_only=True, quiet=True)
def asin(x):
    def vjp(g, needs):
        return (g / np.sqrt(1.0 - x * x),)

    return np.arcsin(x), vjp


@op("acos", formula="x̄ = −ȳ / √(1 − x²)", onnx="Acos", float_only=True, quiet=True)
def acos(x):
    def vjp(g, needs):
        return (-g / np.sqrt(1.0 - x * x),)

    return np.arccos(x), vjp


@op("atan", formula="x̄ = ȳ / (1 + x²)", onnx="Atan", float_only=True)
def atan(x):
    def vjp(g, needs):
        return (g / (1.0 + x * x),)

    return np.arctan(x), vjp


@op("sinh", formula="x̄ = ȳ · cosh x", onnx="Sinh", float_only=True, quiet=True)
def sinh(x):
    def vjp(g, needs):
        return (g * np.cosh(x),)

    return np.sinh(x), vjp


@op("cosh", formula="x̄ = ȳ · sinh x", onnx="Cosh", float_only=True, quiet=True)
def cosh(x):
    def vjp(g, needs):
        return (g * np.sinh(x),)

    return np.cosh(x), vjp


@op("atan2", formula="ȳ₁ = ȳ · x / (x² + y²),  x̄ = −ȳ · y / (x² + y²)", promote=True,
    float_only=True, quiet=True)  # fmt: skip
def atan2(y, x):
    def vjp(g, needs):
        r2 = x * x + y * y
        return (g * x / r2 if needs[0] else None, -g * y / r2 if needs[1] else None)

    return np.arctan2(y, x), vjp


@op("expm1", formula="x̄ = ȳ · (y + 1)", float_only=True, quiet=True)
def expm1(x):
    y = np.expm1(x)

    def vjp(g, needs):
        return (g * (y + 1.0),)

    return y, vjp


@op("exp2", formula="x̄ = ȳ · y · ln 2", float_only=True, quiet=True)
def exp2(x):
    y = np.exp2(x)

    def vjp(g, needs):
        return (g * y * _LN2,)

    return y, vjp


@op("log2", formula="x̄ = ȳ / (x ln 2)", float_only=True, quiet=True)
def log2(x):
    def vjp(g, needs):
        return (g / (x * _LN2),)

    return np.log2(x), vjp


@op("log10", formula="x̄ = ȳ / (x ln 10)", float_only=True, quiet=True)
def log10(x):
    def vjp(g, needs):
        return (g / (x * _LN10),)

    return np.log10(x), vjp


@op("cumprod", formula="x̄ₖ = (∏_{i<k} xᵢ) · Σ_{j≥k} ȳⱼ ∏_{k<i≤j} xᵢ", quiet=True)
def cumprod(x, dim=0):
    y = np.cumprod(x, axis=dim)

    def vjp(g, needs):
        # why: the division formula (reverse-cumsum(ȳ·y) / x) breaks at zeros; this recurrence
        # S_k = ȳ_k + x_{k+1} S_{k+1} is exact everywhere and O(n) along the dim.
        xm = np.moveaxis(x, dim, 0)
        gm = np.moveaxis(g, dim, 0)
        n = xm.shape[0]
        s = np.empty_like(gm)
        s[n - 1] = gm[n - 1]
        for k in range(n - 2, -1, -1):
            s[k] = gm[k] + xm[k + 1] * s[k + 1]
        before = np.ones_like(xm)
        if n > 1:
            before[1:] = np.cumprod(xm[:-1], axis=0)
        return (np.moveaxis(before * s, 0, dim),)

    return y, vjp


@op("scatter", formula="x̄ = ȳ with the written places zeroed,  s̄rc = gather(ȳ, dim, index)",
    onnx="ScatterElements", promote=True)  # fmt: skip
def scatter(x, src, dim=0, index=None):
    # why: torch lets index be smaller than x (and src) off ``dim``; full coordinates handle that,
    # where np.put_along_axis would need matching shapes
    coords = list(np.indices(index.shape, sparse=True))
    coords[dim] = index
    coords = tuple(coords)
    src_part = np.broadcast_to(src, index.shape) if np.ndim(src) == 0 else src[
        tuple(slice(0, s) for s in index.shape)]  # fmt: skip
    out = x.copy()
    out[coords] = src_part

    def vjp(g, needs):
        gx = gs = None
        if needs[0]:
            gx = g.copy()
            gx[coords] = 0
        if needs[1]:
            picked = g[coords]
            if np.ndim(src) == 0:
                gs = np.asarray(picked.sum())
            else:
                gs = np.zeros(np.shape(src), dtype=g.dtype)
                gs[tuple(slice(0, s) for s in index.shape)] = picked
        return gx, gs

    return out, vjp
