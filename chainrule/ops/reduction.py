"""Reductions: forward and gradient side by side.

``axis`` is always a tuple of non-negative axes or None (validated in ``_api``); ``keepdim``
follows PyTorch. Gradients are re-expanded with ``np.expand_dims`` over the reduced axes.
"""

from __future__ import annotations

import math

import numpy as np

from ._registry import op


def _expand(g: np.ndarray, axis: tuple | None, keepdim: bool, ndim: int) -> np.ndarray:
    """Put back the reduced axes of ``g`` (size 1) so it broadcasts against the input."""
    if keepdim or axis is None and g.ndim == ndim:
        return g
    if axis is None:
        return g.reshape((1,) * ndim)
    return np.expand_dims(g, axis)


def _spread(g: np.ndarray, shape: tuple) -> np.ndarray:
    """``g`` broadcast to ``shape`` as a fresh array (np.broadcast_to costs ~4 µs per call and
    its read-only view would be copied again before becoming a leaf's .grad)."""
    out = np.empty(shape, g.dtype)
    out[...] = g
    return out


@op("sum", formula="x̄ = broadcast(ȳ)", onnx="ReduceSum")
def sum(x, axis=None, keepdim=False):
    def vjp(g, needs):
        if axis is None and not keepdim:  # a 0-d ȳ broadcasts as is
            return (_spread(g, x.shape),)
        return (_spread(_expand(g, axis, keepdim, x.ndim), x.shape),)

    return x.sum(axis=axis, keepdims=keepdim), vjp


@op("mean", formula="x̄ = broadcast(ȳ) / n", onnx="ReduceMean")
def mean(x, axis=None, keepdim=False):
    count = x.size if axis is None else math.prod([x.shape[a] for a in axis])
    inv = 1.0 / count if count else float("nan")

    def vjp(g, needs):
        return (_spread(_expand(g, axis, keepdim, x.ndim) * inv, x.shape),)

    # why: ndarray.mean is a Python-level wrapper (~3 µs); sum / count is the same float math
    total = x.sum(axis=axis, keepdims=keepdim)
    if not count:  # the mean of nothing is nan (torch), without NumPy's warning
        return np.full(np.shape(total), np.nan, x.dtype), vjp
    return total / count, vjp


@op("prod", formula="x̄ = ȳ · y / x", onnx="ReduceProd", quiet=True)
def prod(x, axis=None, keepdim=False):
    y = np.prod(x, axis=axis, keepdims=keepdim)

    def vjp(g, needs):
        # why: y / x fails where x == 0, so use products of everything but x (exclusive cumprods)
        gk = _expand(g, axis, keepdim, x.ndim)
        if axis is None:
            flat = x.reshape(-1)
            left = np.concatenate([[1.0], np.cumprod(flat[:-1])]).astype(x.dtype)
            right = np.concatenate([np.cumprod(flat[::-1][:-1])[::-1], [1.0]]).astype(x.dtype)
            return ((gk * (left * right).reshape(x.shape)),)
        others = np.ones_like(x)
        moved = np.moveaxis(x, axis, tuple(range(-len(axis), 0)))
        shp = moved.shape[: moved.ndim - len(axis)] + (-1,)
        flat = moved.reshape(shp)
        ones = np.ones(flat.shape[:-1] + (1,), dtype=x.dtype)
        left = np.concatenate([ones, np.cumprod(flat[..., :-1], axis=-1)], axis=-1)
        rev = np.cumprod(flat[..., ::-1][..., :-1], axis=-1)[..., ::-1]
        right = np.concatenate([rev, ones], axis=-1)
        excl = (left * right).reshape(moved.shape)
        others = np.moveaxis(excl, tuple(range(-len(axis), 0)), axis)
        return (gk * others,)

    return y, vjp


def _split_ties(x: np.ndarray, y: np.ndarray, axis, keepdim) -> np.ndarray:
    yk = _expand(y, axis, keepdim, x.ndim)
    mask = x == yk
    return mask / np.sum(mask, axis=axis, keepdims=True).astype(x.dtype)


@op("amax", formula="x̄ = ȳ · [x = max] / #ties", onnx="ReduceMax")
def amax(x, axis=None, keepdim=False):
    # NOTE: ties share the gradient evenly, as in PyTorch's amax / full max().
    y = np.max(x, axis=axis, keepdims=keepdim)

    def vjp(g, needs):
        return (_expand(g, axis, keepdim, x.ndim) * _split_ties(x, y, axis, keepdim),)

    return y, vjp


@op("amin", formula="x̄ = ȳ · [x = min] / #ties", onnx="ReduceMin")
def amin(x, axis=None, keepdim=False):
    y = np.min(x, axis=axis, keepdims=keepdim)

    def vjp(g, needs):
        return (_expand(g, axis, keepdim, x.ndim) * _split_ties(x, y, axis, keepdim),)

    return y, vjp


def _select_along(x: np.ndarray, idx: np.ndarray, dim: int, keepdim: bool) -> np.ndarray:
    ik = idx if keepdim else np.expand_dims(idx, dim)
    out = np.take_along_axis(x, ik, axis=dim)
    return out if keepdim else np.squeeze(out, dim)


def _scatter_along(g: np.ndarray, idx: np.ndarray, shape, dim: int, keepdim: bool):
    gx = np.zeros(shape, dtype=g.dtype)
    ik = idx if keepdim else np.expand_dims(idx, dim)
    gk = g if keepdim else np.expand_dims(g, dim)
    np.put_along_axis(gx, ik, gk, axis=dim)
    return gx


@op("max_dim", formula="x̄ = ȳ at the argmax", multi=True, backward_name="MaxBackward0")
def max_dim(x, dim=0, keepdim=False):
    """``max(x, dim)`` → (values, indices); the gradient goes to the returned index."""
    idx = np.argmax(x, axis=dim, keepdims=keepdim)
    values = _select_along(x, idx, dim, keepdim)

    def vjp(g, needs):
        return (_scatter_along(g[0], idx, x.shape, dim, keepdim),)

    return (values, idx.astype(np.int64)), vjp


@op("min_dim", formula="x̄ = ȳ at the argmin", multi=True, backward_name="MinBackward0")
def min_dim(x, dim=0, keepdim=False):
    idx = np.argmin(x, axis=dim, keepdims=keepdim)
    values = _select_along(x, idx, dim, keepdim)

    def vjp(g, needs):
        return (_scatter_along(g[0], idx, x.shape, dim, keepdim),)

    return (values, idx.astype(np.int64)), vjp


@op("argmax", differentiable=False)
def argmax(x, axis=None, keepdim=False):
    if axis is None:
        out = np.argmax(x)
        return np.reshape(out, (1,) * x.ndim) if keepdim else np.asarray(out, dtype=np.int64)
    return np.argmax(x, axis=axis, keepdims=keepdim).astype(np.int64)


@op("argmin", differentiable=False)
def argmin(x, axis=None, keepdim=False):
    if axis is None:
        out = np.argmin(x)
        return np.reshape(out, (1,) * x.ndim) if keepdim else np.asarray(out, dtype=np.int64)
    return np.argmin(x, axis=axis, keepdims=keepdim).astype(np.int64)


@op("logsumexp", formula="x̄ = ȳ · softmax(x)", float_only=True, quiet=True)
def logsumexp(x, axis=None, keepdim=False):
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0).astype(x.dtype)
    e = np.exp(x - m)
    s = np.sum(e, axis=axis, keepdims=True)
    yk = np.log(s) + m
    y = yk if keepdim else (yk.reshape(()) if axis is None else np.squeeze(yk, axis))

    def vjp(g, needs):
        return (_expand(g, axis, keepdim, x.ndim) * (e / s),)

    return y, vjp


@op("var", formula="x̄ = ȳ · 2(x − x̄ₘ) / (n − c)", float_only=True, quiet=True)
def var(x, axis=None, correction=1, keepdim=False):
    n = x.size if axis is None else math.prod([x.shape[a] for a in axis])
    mu = np.mean(x, axis=axis, keepdims=True)
    d = x - mu
    denom = max(n - correction, 0)
    ss = np.sum(d * d, axis=axis, keepdims=keepdim)
    # torch divides by max(0, n - correction): x / 0 is inf, 0 / 0 is nan (without warnings)
    y = ss / denom if denom else np.where(ss == 0, np.nan, np.inf)
    y = np.asarray(y, dtype=x.dtype)

    def vjp(g, needs):
        scale = 2.0 / denom if denom else np.nan
        return (_expand(g, axis, keepdim, x.ndim) * d * x.dtype.type(scale),)

    return y, vjp


@op("cumsum", formula="x̄ = reverse-cumsum(ȳ)", onnx="CumSum")
def cumsum(x, dim=0):
    def vjp(g, needs):
        return (np.flip(np.cumsum(np.flip(g, dim), axis=dim), dim),)

    return np.cumsum(x, axis=dim), vjp


@op(
    "norm",
    backward_name="LinalgVectorNormBackward0",
    formula="x̄ = ȳ · x |x|^{p−2} / ‖x‖^{p−1}",
    float_only=True,
    quiet=True,
)
def norm(x, p=2.0, axis=None, keepdim=False):
    ax = np.abs(x)
    if p == 0:
        # torch: the number of nonzero entries, with a zero gradient
        y = np.asarray(np.sum(ax != 0, axis=axis, keepdims=keepdim), dtype=x.dtype)
        return y, lambda g, needs: (np.zeros(x.shape, dtype=g.dtype),)
    if p in (float("inf"), float("-inf")):
        y = (np.max if p > 0 else np.min)(ax, axis=axis, keepdims=keepdim)

        def vjp_inf(g, needs):
            ties = _split_ties(ax, y, axis, keepdim)
            return (_expand(g, axis, keepdim, x.ndim) * np.sign(x) * ties,)

        return y, vjp_inf
    if p == 2:
        y = np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdim))
    elif p == 1:
        y = np.sum(ax, axis=axis, keepdims=keepdim)
    else:
        y = np.power(np.sum(np.power(ax, p), axis=axis, keepdims=keepdim), 1.0 / p)
    y = np.asarray(y, dtype=x.dtype)

    def vjp(g, needs):
        gk = _expand(g, axis, keepdim, x.ndim)
        yk = _expand(y, axis, keepdim, x.ndim)
        if p == 1:
            return (gk * np.sign(x),)
        # why: at ‖x‖ = 0 the subgradient 0 is used, as in PyTorch
        safe = np.where(yk == 0, 1.0, yk).astype(x.dtype)
        if p == 2:
            return (np.where(yk == 0, 0.0, gk * x / safe).astype(x.dtype),)
        gx = gk * np.sign(x) * np.power(ax, p - 1) / np.power(safe, p - 1)
        return (np.where(yk == 0, 0.0, gx).astype(x.dtype),)

    return y, vjp


@op(
    "renorm",
    formula="x̄ = f · (ȳ − ∂‖x‖ · Σ(x·ȳ) / (‖x‖ + 1e-7)) where ‖x‖ > maxnorm, else ȳ",
    quiet=True,
)
def renorm(x, p=2.0, dim=0, maxnorm=1.0):
    """Scale each slice along ``dim`` whose p-norm exceeds ``maxnorm`` down to ``maxnorm``
    (by ``maxnorm / (norm + 1e-7)``, torch's factor). Norms are taken in float64, as torch
    accumulates float32 in double on the CPU."""
    axes = tuple(i for i in range(x.ndim) if i != dim)
    xd = x.astype(np.float64)
    ax = np.abs(xd)
    if p == math.inf:
        n = np.max(ax, axis=axes, keepdims=True)
    elif p == 1:
        n = np.sum(ax, axis=axes, keepdims=True)
    elif p == 2:
        n = np.sqrt(np.sum(xd * xd, axis=axes, keepdims=True))
    else:
        n = np.power(np.sum(np.power(ax, p), axis=axes, keepdims=True), 1.0 / p)
    big = n > maxnorm
    inv = 1.0 / (n + 1e-7)
    factor = np.where(big, maxnorm * inv, 1.0)
    y = (xd * factor).astype(x.dtype)

    def vjp(g, needs):
        gd = g.astype(np.float64)
        s = np.sum(xd * gd, axis=axes, keepdims=True)
        safe = np.where(n == 0, 1.0, n)
        if p == math.inf:
            ties = ax == n
            dn = np.sign(xd) * ties / np.sum(ties, axis=axes, keepdims=True)
        elif p == 1:
            dn = np.sign(xd)
        elif p == 2:
            dn = xd / safe
        else:
            dn = np.sign(xd) * np.power(ax, p - 1) / np.power(safe, p - 1)
        nb = np.where(n == 0, 0.0, s * dn)
        return (np.where(big, factor * (gd - inv * nb), gd).astype(g.dtype),)

    return y, vjp
