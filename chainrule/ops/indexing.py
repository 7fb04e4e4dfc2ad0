"""Indexing ops: getitem, gather/scatter, index_select, masked_fill."""

from __future__ import annotations

import numpy as np

from ._registry import op


def _is_advanced(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, np.ndarray | list) for i in items)


@op("getitem", formula="x̄ = ȳ scattered back to the indexed places", backward_name="IndexBackward0")
def getitem(x, index=()):
    y = x[index]
    advanced = _is_advanced(index)

    def vjp(g, needs):
        gx = np.zeros(x.shape, dtype=g.dtype)
        if advanced:
            # why: np.add.at accumulates repeated indices (x[[0, 0]] must get 2·ȳ)
            np.add.at(gx, index, g)
        else:
            gx[index] = g
        return (gx,)

    return (y.copy() if advanced else y), vjp


def _grid(index: np.ndarray, dim: int) -> tuple:
    """Index arrays that address every element of ``index``'s shape, with ``index`` at ``dim``."""
    grids = list(np.indices(index.shape, sparse=True))
    grids[dim] = index
    return tuple(grids)


def scatter_add_into(out: np.ndarray, dim: int, index: np.ndarray, src: np.ndarray) -> None:
    """``out[…index…] += src`` along ``dim``, accumulating duplicates (torch's scatter_add_)."""
    src = src[tuple(slice(0, n) for n in index.shape)]
    np.add.at(out, _grid(index, dim), src)


@op("gather", formula="x̄ = scatter_add(0, dim, index, ȳ)", onnx="GatherElements")
def gather(x, dim=0, index=None):
    y = x[_grid(index, dim)]

    def vjp(g, needs):
        gx = np.zeros(x.shape, dtype=g.dtype)
        scatter_add_into(gx, dim, index, g)
        return (gx,)

    return y, vjp


@op("scatter_add", formula="x̄ = ȳ,  s̄rc = gather(ȳ, dim, index)")
def scatter_add(x, src, dim=0, index=None):
    y = x.copy()
    scatter_add_into(y, dim, index, src)

    def vjp(g, needs):
        gs = None
        if needs[1]:
            gs = np.zeros(src.shape, dtype=g.dtype)
            gs[tuple(slice(0, n) for n in index.shape)] = g[_grid(index, dim)]
        return g, gs

    return y, vjp


@op("index_select", formula="x̄ = index_add(0, dim, index, ȳ)", onnx="Gather")
def index_select(x, dim=0, index=None):
    def vjp(g, needs):
        gx = np.zeros(x.shape, dtype=g.dtype)
        gm = np.moveaxis(gx, dim, 0)
        np.add.at(gm, index, np.moveaxis(g, dim, 0))
        return (gx,)

    return np.take(x, index, axis=dim), vjp


@op("masked_fill", formula="x̄ = ȳ · [¬mask]")
def masked_fill(x, mask=None, value=0.0):
    def vjp(g, needs):
        return (np.where(mask, np.zeros((), dtype=g.dtype), g),)

    return np.where(mask, np.asarray(value, dtype=x.dtype), x), vjp


@op("index_put", formula="x̄ = ȳ with the written places zeroed,  v̄ = ȳ[index]")
def index_put(x, value, index=()):
    """Out-of-place ``x[index] = value`` (the graph side of ``__setitem__``)."""
    y = x.copy()
    y[index] = value

    def vjp(g, needs):
        gx = gv = None
        if needs[0]:
            gx = g.copy()
            gx[index] = 0
        if needs[1]:
            gv = g[index]
            gv = gv if gv.shape == np.shape(value) else _sum_to(gv, np.shape(value))
        return gx, gv

    return y, vjp


def _sum_to(g: np.ndarray, shape: tuple) -> np.ndarray:
    from ..autograd.engine import sum_to_shape

    return sum_to_shape(g, shape)


@op(
    "index_fill",
    formula="x̄ = ȳ with the filled slices zeroed,  v̄ = Σ ȳ over them",
    backward_name="IndexFillBackward1",
)
def index_fill(x, value, dim=0, index=None):
    """Copy of ``x`` with the slices ``index`` along ``dim`` set to ``value`` (a number, or a
    0-d array whose gradient is the sum of ȳ over the filled places)."""
    key = (slice(None),) * dim + (index,)
    y = x.copy()
    y[key] = value

    def vjp(g, needs):
        gx = gv = None
        if needs[0]:
            gx = g.copy()
            gx[key] = 0
        if needs[1]:
            hit = np.zeros(x.shape[dim], dtype=bool)
            hit[index] = True  # a repeated index fills (and counts) once
            gv = np.asarray(g[(slice(None),) * dim + (hit,)].sum(), dtype=g.dtype)
        return gx, gv

    return y, vjp
