"""Shape ops: views and rearrangements, forward and gradient side by side."""

from __future__ import annotations

import numpy as np

from ._registry import op


@op("reshape", formula="x̄ = reshape(ȳ, x.shape)", onnx="Reshape", backward_name="ViewBackward0")
def reshape(x, shape=()):
    def vjp(g, needs):
        return (g.reshape(x.shape),)

    return x.reshape(shape), vjp


@op("clone", formula="x̄ = ȳ", onnx="Identity", backward_name="CloneBackward0", opmath=False)
def clone(x):
    """A C-ordered copy of ``x`` (``clone`` and ``contiguous``)."""

    def vjp(g, needs):
        return (g,)

    return np.array(x, order="C"), vjp


@op("permute", formula="x̄ = permute(ȳ, dims⁻¹)", onnx="Transpose")
def permute(x, dims=()):
    def vjp(g, needs):
        return (np.transpose(g, np.argsort(dims)),)

    return np.transpose(x, dims), vjp


@op("expand", formula="x̄ = sum of ȳ over the expanded axes", onnx="Expand")
def expand(x, shape=()):
    def vjp(g, needs):
        lead = g.ndim - x.ndim
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(x.shape) if n == 1 and g.shape[lead + i] != 1
        )
        return (g.sum(axis=axes, keepdims=True).reshape(x.shape) if axes else g,)

    return np.broadcast_to(x, shape), vjp


@op("flip", formula="x̄ = flip(ȳ)")
def flip(x, dims=()):
    def vjp(g, needs):
        return (np.flip(g, dims),)

    return np.flip(x, dims), vjp


@op("roll", formula="x̄ = roll(ȳ, −shifts)")
def roll(x, shifts=0, dims=None):
    def vjp(g, needs):
        neg = tuple(-s for s in shifts) if isinstance(shifts, tuple) else -shifts
        return (np.roll(g, neg, dims),)

    return np.roll(x, shifts, dims), vjp


@op("cat", formula="x̄ᵢ = the slice of ȳ that came from xᵢ", onnx="Concat")
def cat(*xs, dim=0):
    sizes = [x.shape[dim] for x in xs]

    def vjp(g, needs):
        bounds = np.cumsum(sizes)[:-1]
        return tuple(np.split(g, bounds, axis=dim))

    return np.concatenate(xs, axis=dim), vjp


@op("stack", formula="x̄ᵢ = ȳ[i] along dim")
def stack(*xs, dim=0):
    def vjp(g, needs):
        return tuple(np.take(g, i, axis=dim) for i in range(len(xs)))

    return np.stack(xs, axis=dim), vjp


@op("split", formula="x̄ = cat(ȳ₁ … ȳₙ)", onnx="Split", multi=True)
def split(x, sizes=(), dim=0):
    bounds = np.cumsum(sizes)[:-1]
    outs = tuple(np.split(x, bounds, axis=dim))

    def vjp(g, needs):
        return (np.concatenate(g, axis=dim),)

    return outs, vjp


@op("pad", formula="x̄ = the interior of ȳ", onnx="Pad", backward_name="ConstantPadNdBackward0")
def pad(x, widths=(), value=0.0):
    """Constant padding; ``widths`` is NumPy's ((before, after), …); negative entries crop."""
    crop = tuple(slice(max(-b, 0), x.shape[i] - max(-a, 0)) for i, (b, a) in enumerate(widths))
    xc = x[crop]
    pos = tuple((max(b, 0), max(a, 0)) for b, a in widths)
    y = np.pad(xc, pos, mode="constant", constant_values=value)

    def vjp(g, needs):
        inner = tuple(slice(b, g.shape[i] - a) for i, (b, a) in enumerate(pos))
        gx = g[inner]
        if xc.shape != x.shape:
            full = np.zeros(x.shape, dtype=g.dtype)
            full[crop] = gx
            gx = full
        return (gx,)

    return y, vjp


@op("tril", formula="x̄ = tril(ȳ)", onnx="Trilu")
def tril(x, diagonal=0):
    def vjp(g, needs):
        return (np.tril(g, diagonal),)

    return np.tril(x, diagonal), vjp


@op("triu", formula="x̄ = triu(ȳ)", onnx="Trilu")
def triu(x, diagonal=0):
    def vjp(g, needs):
        return (np.triu(g, diagonal),)

    return np.triu(x, diagonal), vjp


@op("repeat", formula="x̄ = sum of ȳ over the copies", onnx="Tile")
def repeat(x, repeats=()):
    lead = len(repeats) - x.ndim
    xs = x.reshape((1,) * lead + x.shape)

    def vjp(g, needs):
        # Split each axis into (copies, size) and sum over the copies.
        inter = []
        for r, n in zip(repeats, xs.shape):
            inter += [r, n]
        gs = g.reshape(inter).sum(axis=tuple(range(0, 2 * len(repeats), 2)))
        return (gs.reshape(x.shape),)

    return np.tile(xs, repeats), vjp
