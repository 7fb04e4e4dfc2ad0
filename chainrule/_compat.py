"""More of torch's top-level functions and Tensor methods, for scripts written against PyTorch.

Most are compositions of existing ops (so their gradients, dtype rules and ONNX export come from
those ops); the few new primitives (tan, asin, atan2, cumprod, scatter …) are in ``ops/compat.py``.
Also here: sampling (``multinomial``, ``bernoulli``, ``poisson``), index helpers (``bucketize``,
``unique``, ``tril_indices`` …) and the process-level knobs scripts set and query
(``set_printoptions``, ``set_num_threads``, ``compile``, ``finfo`` …).
"""

from __future__ import annotations

import builtins
import math
import os
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _api, _dtype
from ._api import _dim, _index_array, _operand
from ._random import Generator, rng
from ._tensor import Size, Tensor, _make, as_array, tensor  # noqa: F401 - Size re-exported
from .autograd.grad_mode import state
from .ops import compat as C
from .ops import elementwise as E
from .ops import indexing as I
from .ops import linalg_extra as _linalg_ops  # noqa: F401 - registers the linalg ops
from .ops import reduction as R
from .ops._registry import with_backward_name

_bool = builtins.bool
_int = builtins.int
_float = builtins.float

__all__ = [
    # new primitives
    "tan",
    "asin",
    "arcsin",
    "acos",
    "arccos",
    "atan",
    "arctan",
    "sinh",
    "cosh",
    "atan2",
    "arctan2",
    "expm1",
    "exp2",
    "log2",
    "log10",
    "cumprod",
    "scatter",
    # compositions
    "addmm",
    "addmv",
    "addbmm",
    "baddbmm",
    "addcmul",
    "addcdiv",
    "lerp",
    "clamp_min",
    "clamp_max",
    "logit",
    "xlogy",
    "logaddexp",
    "frac",
    "deg2rad",
    "rad2deg",
    "float_power",
    "sgn",
    "diag",
    "diag_embed",
    "diagonal",
    "trace",
    "masked_select",
    "take",
    "take_along_dim",
    "select",
    "index_add",
    "index_copy",
    "repeat_interleave",
    "tile",
    "ravel",
    "moveaxis",
    "fliplr",
    "flipud",
    "rot90",
    "column_stack",
    "row_stack",
    "dstack",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "broadcast_tensors",
    "meshgrid",
    "cartesian_prod",
    "block_diag",
    "tensordot",
    "inner",
    "dist",
    "cdist",
    "cosine_similarity",
    "pairwise_distance",
    "diff",
    "nan_to_num",
    "nansum",
    "nanmean",
    "median",
    "kthvalue",
    "quantile",
    "cov",
    "corrcoef",
    "rsub",
    "dropout",
    # no gradient
    "multinomial",
    "bernoulli",
    "poisson",
    "randint_like",
    "logspace",
    "tril_indices",
    "triu_indices",
    "bincount",
    "bucketize",
    "searchsorted",
    "histc",
    "unique",
    "unique_consecutive",
    "isin",
    "signbit",
    "heaviside",
    "isreal",
    "is_nonzero",
    "is_same_size",
    "is_complex",
    # process-level
    "Size",
    "finfo",
    "iinfo",
    "set_printoptions",
    "get_num_threads",
    "set_num_threads",
    "get_num_interop_threads",
    "set_num_interop_threads",
    "compile",
    "use_deterministic_algorithms",
    "are_deterministic_algorithms_enabled",
    "set_float32_matmul_precision",
    "get_float32_matmul_precision",
    "is_inference_mode_enabled",
    "set_default_tensor_type",
    "typename",
    "can_cast",
    "is_storage",
    "get_default_device",
    "set_default_device",
    # linear algebra
    "det",
    "logdet",
    "slogdet",
    "inverse",
    "pinverse",
    "matrix_power",
    "cholesky",
    "svd",
    "cross",
    "chain_matmul",
    # more
    "hypot",
    "diagflat",
    "kron",
    "trapezoid",
    "trapz",
    "logcumsumexp",
    "cummax",
    "cummin",
    "mode",
    "vander",
    "selu",
    "celu",
    "threshold",
    "hardshrink",
    "relu_",
    "square_",
    "clamp_",
    # NaN-ignoring extremes, special functions, index fills
    "fmax",
    "fmin",
    "positive",
    "argwhere",
    "angle",
    "erfc",
    "erfc_",
    "erfinv",
    "i0",
    "i0_",
    "renorm",
    "index_fill",
    "fix",
    "fix_",
]

# ------------------------------------------------------------------ new primitives


def _unary(fn: Any, name: str, doc: str) -> Callable[[Tensor], Tensor]:
    def f(input: Tensor) -> Tensor:
        return fn(_api._to_float(input) if _api._is_integral(input) else input)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = doc
    return f


tan = _unary(C.tan, "tan", "Tangent elementwise.")
asin = arcsin = _unary(C.asin, "asin", "Arcsine elementwise (NaN outside [-1, 1]).")
acos = arccos = _unary(C.acos, "acos", "Arccosine elementwise (NaN outside [-1, 1]).")
atan = arctan = _unary(C.atan, "atan", "Arctangent elementwise.")
sinh = _unary(C.sinh, "sinh", "Hyperbolic sine elementwise.")
cosh = _unary(C.cosh, "cosh", "Hyperbolic cosine elementwise.")
expm1 = _unary(C.expm1, "expm1", "eˣ − 1 elementwise, accurate for small x.")
exp2 = _unary(C.exp2, "exp2", "2ˣ elementwise.")
log2 = _unary(C.log2, "log2", "Base-2 logarithm elementwise.")
log10 = _unary(C.log10, "log10", "Base-10 logarithm elementwise.")


def atan2(input: Any, other: Any) -> Tensor:
    """The angle of the point (other, input), elementwise, in (−π, π]."""
    return C.atan2(_operand(input), _operand(other))


arctan2 = atan2


def cumprod(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Cumulative product along ``dim`` (integers and bools accumulate in int64, as torch does)."""
    x = input if dtype is None else input.to(dtype)
    if dtype is None and x.dtype.np.kind in "biu":
        x = x.to(_dtype.int64)
    if x.ndim == 0:
        return x.clone()
    return C.cumprod(x, dim=_dim(dim, x.ndim, "cumprod"))


def scatter(
    input: Tensor, dim: int, index: Any, src: Any = None, *, value: Any = None, reduce: Any = None
) -> Tensor:
    """Copy of ``input`` with ``src`` (a tensor or a number) written at ``index`` along ``dim``."""
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter() missing 1 required argument: 'src' (or 'value')")
    d = _dim(dim, input.ndim, "scatter")
    idx = _index_array(index, "scatter")
    if idx.ndim != input.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    n = input.shape[d]
    if idx.size and (idx.min() < 0 or idx.max() >= n):  # torch: negative indices are errors too
        bad = idx.max() if idx.max() >= n else idx.min()
        raise RuntimeError(f"index {bad} is out of bounds for dimension {d} with size {n}")
    if reduce is not None:
        if reduce not in ("add", "multiply"):
            raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce!r}")
        if reduce == "add":
            s = src if isinstance(src, Tensor) else _api.full_like(input, src)
            if isinstance(s, Tensor) and s.ndim == 0:
                s = s.expand(idx.shape)
            sub = tuple(slice(0, k) for k in idx.shape)
            return _api.scatter_add(input, d, idx, s[sub])
        out = _make(input._data.copy())
        vals = np.take_along_axis(input._data, idx % n, d) * (
            np.take_along_axis(as_array(src), idx, d) if isinstance(src, Tensor) else src
        )
        np.put_along_axis(out._data, idx % n, vals, d)
        return out
    if isinstance(src, Tensor) and src.ndim and src.ndim != input.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    s = src if isinstance(src, Tensor) else tensor(src, dtype=input.dtype)
    return C.scatter(input, s.to(input.dtype), dim=d, index=idx % n if idx.size else idx)


# ------------------------------------------------------------------ compositions


def addmm(input: Any, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta · input + alpha · (mat1 @ mat2)``."""
    return _api._renamed(_scaled_sum(input, _api.mm(mat1, mat2), beta, alpha), "AddmmBackward0")


def addmv(input: Any, mat: Tensor, vec: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta · input + alpha · (mat @ vec)``."""
    return _api._renamed(_scaled_sum(input, _api.mv(mat, vec), beta, alpha), "AddmvBackward0")


def addbmm(input: Any, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta · input + alpha · Σᵢ batch1[i] @ batch2[i]``."""
    out = _scaled_sum(input, _api.bmm(batch1, batch2).sum(0), beta, alpha)
    return _api._renamed(out, "AddbmmBackward0")


def baddbmm(input: Any, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta · input + alpha · (batch1 @ batch2)`` per batch."""
    out = _scaled_sum(input, _api.bmm(batch1, batch2), beta, alpha)
    return _api._renamed(out, "BaddbmmBackward0")


def _scaled_sum(input: Any, prod: Tensor, beta: Any, alpha: Any) -> Tensor:
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:  # torch ignores input (even NaN) when beta is 0
        return prod + _api.zeros_like(_operand(input)) if isinstance(input, Tensor) else prod
    return _api.add(prod, input if beta == 1 else _api.mul(input, beta))


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    """``input + value · tensor1 · tensor2``."""
    out = _api.add(input, _api.mul(tensor1, tensor2), alpha=value)
    return _api._renamed(out, "AddcmulBackward0")


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    """``input + value · tensor1 / tensor2``."""
    out = _api.add(input, _api.div(tensor1, tensor2), alpha=value)
    return _api._renamed(out, "AddcdivBackward0")


def lerp(input: Tensor, end: Any, weight: Any) -> Tensor:
    """``input + weight · (end − input)`` (weight a number or a tensor)."""
    out = _api.add(input, _api.mul(_api.sub(end, input), _operand(weight)))
    return _api._renamed(out, "LerpBackward1" if isinstance(weight, Tensor) else "LerpBackward0")


def clamp_min(input: Tensor, min: Any) -> Tensor:
    """``clamp(input, min=min)``."""
    return _api.clamp(input, min=min)


def clamp_max(input: Tensor, max: Any) -> Tensor:
    """``clamp(input, max=max)``."""
    return _api.clamp(input, max=max)


def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """log(p / (1 − p)), with ``p`` clamped to [eps, 1 − eps] when ``eps`` is given."""
    p = input if eps is None else _api.clamp(input, eps, 1.0 - eps)
    return _api.log(_api.div(p, _api.sub(1.0, p)))


def xlogy(input: Any, other: Any) -> Tensor:
    """``input · log(other)``, 0 where ``input`` is 0 (NaN stays NaN)."""
    x, y = _operand(input), _operand(other)
    if not isinstance(x, Tensor):
        x = tensor(x, dtype=y.dtype if isinstance(y, Tensor) else None)
    if not isinstance(y, Tensor):
        y = tensor(y, dtype=x.dtype)
    if _api._is_integral(x) and _api._is_integral(y):
        x, y = _api._to_float(x), _api._to_float(y)
    zero = (x._data == 0) & ~np.isnan(y._data)
    safe_y = _api.where(zero, _api.ones_like(y), y)
    return _api.where(zero, _api.zeros_like(x * safe_y), x * _api.log(safe_y))


def logaddexp(input: Tensor, other: Any) -> Tensor:
    """log(eˣ + eʸ) without overflow."""
    m = E.maximum(input, _operand(other))
    return m + _api.log1p(_api.exp(-_api.abs(_api.sub(input, other))))


def frac(input: Tensor) -> Tensor:
    """The fractional part ``x − trunc(x)`` (gradient 1)."""
    return _api._renamed(input - input.detach().trunc(), "FracBackward0")


def deg2rad(input: Tensor) -> Tensor:
    """Degrees to radians."""
    return _api.mul(input, math.pi / 180.0)


def rad2deg(input: Tensor) -> Tensor:
    """Radians to degrees."""
    return _api.mul(input, 180.0 / math.pi)


def float_power(input: Any, exponent: Any) -> Tensor:
    """``input ** exponent`` computed in float64."""
    x = _operand(input)
    e = _operand(exponent)
    x = x.double() if isinstance(x, Tensor) else tensor(x, dtype=_dtype.float64)
    return _api.pow(x, e.double() if isinstance(e, Tensor) else e)


def sgn(input: Tensor) -> Tensor:
    """The sign of each element (for real tensors, ``sign``); zero gradient."""
    return E.sgn(input)


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal of the (dim1, dim2) planes, appended as the last dimension."""
    if input.ndim < 2:
        raise RuntimeError(f"diagonal(): input must have at least 2 dimensions, got {input.ndim}")
    d1, d2 = _dim(dim1, input.ndim, "diagonal"), _dim(dim2, input.ndim, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    x = _api.movedim(input, (d1, d2), (-2, -1))
    n1, n2 = x.shape[-2], x.shape[-1]
    start_r, start_c = (0, offset) if offset >= 0 else (-offset, 0)
    length = builtins.max(0, builtins.min(n1 - start_r, n2 - start_c))
    rows = np.arange(length) + start_r
    cols = np.arange(length) + start_c
    return x[(..., rows, cols)]


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Square matrices with ``input``'s last dimension on their ``offset`` diagonal."""
    length = input.shape[-1]
    n = length + builtins.abs(offset)
    rows = np.arange(length) + builtins.max(0, -offset)
    cols = np.arange(length) + builtins.max(0, offset)
    out = index_put(
        _api.zeros(*input.shape[:-1], n, n, dtype=input.dtype), (..., rows, cols), input
    )
    if (dim1, dim2) != (-2, -1):
        out = _api.movedim(out, (-2, -1), (dim1, dim2))
    return out


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """1-D input: a matrix with it on a diagonal; 2-D input: that diagonal as a vector."""
    if input.ndim == 1:
        return diag_embed(input, diagonal)
    if input.ndim == 2:
        return globals()["diagonal"](input, diagonal)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")


def trace(input: Tensor) -> Tensor:
    """Sum of the main diagonal of a matrix."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    d = diagonal(input)
    return d.sum() if d.dtype.is_floating_point else d.sum().to(_dtype.int64)


def masked_select(input: Tensor, mask: Any) -> Tensor:
    """1-D tensor of the elements where ``mask`` (broadcast) is True."""
    m = as_array(mask)
    if m.dtype != np.bool_:
        raise RuntimeError(f"masked_select: expected BoolTensor for mask, got {m.dtype}")
    shape = np.broadcast_shapes(m.shape, input.shape)
    x = input if tuple(input.shape) == shape else input.expand(shape)
    return x[np.broadcast_to(m, shape)]


def take(input: Tensor, index: Any) -> Tensor:
    """``input`` seen as 1-D, at ``index`` (the result has ``index``'s shape)."""
    idx = _index_array(index, "take")
    n = input.numel()
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"out of range: tried to access index {idx.max()} on a tensor of {n}")
    return input.reshape(-1)[idx % builtins.max(n, 1)]


def take_along_dim(input: Tensor, indices: Any, dim: int | None = None) -> Tensor:
    """``gather`` with broadcasting (and over the flattened tensor when ``dim`` is None)."""
    idx = _index_array(indices, "take_along_dim")
    if dim is None:
        return take(input, idx.reshape(-1))
    d = _dim(dim, input.ndim, "take_along_dim")
    shape_x = list(input.shape)
    shape_i = list(idx.shape)
    shape_x[d] = shape_i[d] = 1
    b = list(np.broadcast_shapes(tuple(shape_x), tuple(shape_i)))
    bx, bi = list(b), list(b)
    bx[d], bi[d] = input.shape[d], idx.shape[d]
    # why: unlike gather, torch's take_along_dim wraps negative indices
    idx = _api._wrap_negative(idx, input.shape[d]) if input.shape[d] else idx
    return _api.gather(input.expand(bx), d, np.broadcast_to(idx, bi))


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The slice at ``index`` along ``dim`` (that dimension removed)."""
    d = _dim(dim, input.ndim, "select")
    n = input.shape[d]
    if not -n <= index < n:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size {list(input.shape)} "
            f"at dimension {d}"
        )
    return input[(slice(None),) * d + (index,)]


def index_add(input: Tensor, dim: int, index: Any, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """Copy of ``input`` with ``alpha · source`` added at ``index`` along ``dim``."""
    d = _dim(dim, input.ndim, "index_add")
    idx = _index_array(index, "index_add").reshape(-1)
    src = source if alpha == 1 else source * alpha
    if src.ndim != input.ndim or src.shape[d] != idx.size:
        raise RuntimeError(
            f"index_add_(): source {list(source.shape)} must have the input's dims "
            f"{list(input.shape)} with {idx.size} entries along dim {d}"
        )
    shape = [1] * input.ndim
    shape[d] = idx.size
    full = np.broadcast_to(idx.reshape(shape), src.shape)
    return _api.scatter_add(input, d, full, src)


def index_copy(input: Tensor, dim: int, index: Any, source: Tensor) -> Tensor:
    """Copy of ``input`` with ``source``'s slices written at ``index`` along ``dim``."""
    d = _dim(dim, input.ndim, "index_copy")
    idx = _index_array(index, "index_copy").reshape(-1)
    shape = [1] * input.ndim
    shape[d] = idx.size
    return scatter(input, d, np.broadcast_to(idx.reshape(shape), source.shape).copy(), source)


def repeat_interleave(
    input: Tensor, repeats: Any = None, dim: int | None = None, *, output_size: Any = None
) -> Tensor:
    """Repeat each element ``repeats`` times (along ``dim``, or over the flattened tensor)."""
    if repeats is None:  # repeat_interleave(repeats_tensor): indices repeated
        r = as_array(input)
        return tensor(np.repeat(np.arange(r.size), r.reshape(-1)), dtype=_dtype.int64)
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else _dim(dim, x.ndim, "repeat_interleave")
    r = as_array(repeats).reshape(-1) if isinstance(repeats, Tensor | list | tuple) else repeats
    idx = np.repeat(np.arange(x.shape[d] if x.ndim else 1), r)
    return _api.index_select(x if x.ndim else x.reshape(1), d, idx)


def tile(input: Tensor, *dims: Any) -> Tensor:
    """Repeat ``input`` ``dims`` times per dimension (missing dims count as 1)."""
    dims = tuple(dims[0]) if len(dims) == 1 and not isinstance(dims[0], _int) else dims
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return _api.repeat(input, *dims)


def ravel(input: Tensor) -> Tensor:
    """The tensor as 1-D."""
    return input.reshape(-1)


def moveaxis(input: Tensor, source: Any, destination: Any) -> Tensor:
    """Alias of ``movedim``."""
    return _api.movedim(input, source, destination)


def fliplr(input: Tensor) -> Tensor:
    """Flip the columns (dim 1)."""
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return _api.flip(input, (1,))


def flipud(input: Tensor) -> Tensor:
    """Flip the rows (dim 0)."""
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return _api.flip(input, (0,))


def rot90(input: Tensor, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:
    """Rotate by 90° ``k`` times in the plane ``dims`` (from the first towards the second)."""
    d0, d1 = (_dim(d, input.ndim, "rot90") for d in dims)
    k %= 4
    if k == 1:
        return _api.flip(input, (d1,)).transpose(d0, d1)
    if k == 2:
        return _api.flip(input, (d0, d1))
    if k == 3:
        return _api.flip(input, (d0,)).transpose(d0, d1)
    return input.clone()


def atleast_1d(*tensors: Any) -> Any:
    """Each tensor with at least 1 dimension."""
    return _atleast(tensors, 1)


def atleast_2d(*tensors: Any) -> Any:
    """Each tensor with at least 2 dimensions."""
    return _atleast(tensors, 2)


def atleast_3d(*tensors: Any) -> Any:
    """Each tensor with at least 3 dimensions."""
    return _atleast(tensors, 3)


def _atleast(tensors: tuple, n: int) -> Any:
    one = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    ts = tensors if not (len(tensors) == 1 and isinstance(tensors[0], list | tuple)) else tensors[0]
    out = []
    for t in ts:
        if t.ndim >= n:
            out.append(t)
        elif n == 3 and t.ndim == 2:
            out.append(t.unsqueeze(-1))
        elif n == 3 and t.ndim == 1:
            out.append(t.reshape(1, -1, 1))
        else:
            out.append(t.reshape((1,) * (n - builtins.max(t.ndim, 1)) + (-1,)))
    return out[0] if one else tuple(out)


def column_stack(tensors: Sequence[Tensor]) -> Tensor:
    """Stack 0-/1-D tensors as columns (others along dim 1)."""
    return _api.cat([t.reshape(-1, 1) if t.ndim <= 1 else t for t in tensors], 1)


def row_stack(tensors: Sequence[Tensor]) -> Tensor:
    """Alias of ``vstack``."""
    return _api.vstack(tensors)


def dstack(tensors: Sequence[Tensor]) -> Tensor:
    """Stack along the third dimension (after ``atleast_3d``)."""
    return _api.cat(list(_atleast(tuple(tensors), 3)), 2)


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    """The tensors expanded to their common broadcast shape."""
    shape = np.broadcast_shapes(*(tuple(t.shape) for t in tensors))
    return tuple(t if tuple(t.shape) == shape else t.expand(shape) for t in tensors)


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D tensors (``indexing='ij'`` or ``'xy'``)."""
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    ts = [t.reshape(-1) for t in tensors]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.shape[0] for t in ts)
    out = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[i] = -1
        out.append(t.reshape(view).expand(shape))
    if swap:  # 'xy': grids of (y, x) as 'ij', handed back in the callers' order
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """All combinations of the elements of 1-D tensors, one per row."""
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return _api.stack([g.reshape(-1) for g in grids], 1)


def block_diag(*tensors: Tensor) -> Tensor:
    """A block-diagonal matrix of the given (≤ 2-D) tensors."""
    mats = [t.reshape(1, -1) if t.ndim < 2 else t for t in tensors]
    cols = _sum(m.shape[1] for m in mats)
    dt = mats[0].dtype
    for m in mats[1:]:
        dt = _api.promote_types(dt, m.dtype)
    rows, left = [], 0
    for m in mats:
        r = m.shape[0]
        parts = [
            _api.zeros(r, left, dtype=dt),
            m.to(dt),
            _api.zeros(r, cols - left - m.shape[1], dtype=dt),
        ]
        rows.append(_api.cat(parts, 1))
        left += m.shape[1]
    return _api.cat(rows, 0)


_sum = builtins.sum


def tensordot(a: Tensor, b: Tensor, dims: Any = 2) -> Tensor:
    """Contract the last ``dims`` dims of ``a`` with the first of ``b`` (or listed dim pairs)."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        da = list(range(a.ndim - dims, a.ndim))
        db = list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    da = [_dim(d, a.ndim, "tensordot") for d in da]
    db = [_dim(d, b.ndim, "tensordot") for d in db]
    free_a = [d for d in range(a.ndim) if d not in da]
    free_b = [d for d in range(b.ndim) if d not in db]
    k = int(np.prod([a.shape[d] for d in da]))
    am = a.permute(*free_a, *da).reshape(-1, k)
    bm = b.permute(*db, *free_b).reshape(k, -1)
    shape = [a.shape[d] for d in free_a] + [b.shape[d] for d in free_b]
    return _api.mm(am, bm).reshape(shape)


def inner(input: Tensor, other: Tensor) -> Tensor:
    """Sum over the last dimension of the products (a scalar times a tensor for 0-d)."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    return tensordot(input, other, ([-1], [-1]))


def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    """The p-norm of ``input − other``."""
    diff = _api.sub(input, other)
    if diff._data.dtype.kind != "f":
        raise RuntimeError(
            "norm(): input dtype should be either floating point or complex. Got "
            f"{_dtype.SCALAR_NAMES.get(diff._data.dtype.name, diff._data.dtype.name)} instead."
        )
    return _api.norm(diff, p=p)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, **_: Any) -> Tensor:
    """p-norm distances between each row of ``x1`` and each row of ``x2`` (batched)."""
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError("cdist only supports at least 2D tensors")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(
            f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}"
        )
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    if p == 2:
        sq = (diff * diff).sum(-1)
        # torch's gradient at zero distance is 0, not NaN
        zero = sq._data == 0
        return _api.where(zero, _api.zeros_like(sq), _api.sqrt(_api.where(zero, 1.0, sq)))
    return _api.norm(diff, p=p, dim=-1)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """x1·x2 / max(‖x1‖·‖x2‖, eps) along ``dim`` (torch's formula)."""
    x1, x2 = broadcast_tensors(x1, x2)
    w12 = (x1 * x2).sum(dim)
    w1 = (x1 * x1).sum(dim)
    w2 = (x2 * x2).sum(dim)
    n12 = _api.sqrt(_api.clamp(w1 * w2, min=eps * eps))
    return w12 / n12


def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    """‖x1 − x2 + eps‖_p over the last dimension."""
    return _api.norm(_api.sub(x1, x2) + eps, p=p, dim=-1, keepdim=keepdim)


def diff(
    input: Tensor, n: int = 1, dim: int = -1, prepend: Any = None, append: Any = None
) -> Tensor:
    """The ``n``-th forward difference along ``dim``."""
    d = _dim(dim, input.ndim, "diff")
    x = input
    if prepend is not None or append is not None:
        parts = [
            t if isinstance(t, Tensor) else tensor(t) for t in (prepend, x, append) if t is not None
        ]
        x = _api.cat(parts, d)
    for _ in range(n):
        length = x.shape[d] - 1
        if length <= 0:
            return x.narrow(d, 0, 0)
        hi, lo = x.narrow(d, 1, length), x.narrow(d, 0, length)
        x = hi.logical_xor(lo) if x.dtype == _dtype.bool else hi - lo
    return x


def nan_to_num(
    input: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
) -> Tensor:
    """NaN → ``nan``, +inf → ``posinf`` (default the largest finite), −inf → ``neginf``."""
    if not input.is_floating_point():
        return input.clone()
    fi = np.finfo(input._data.dtype)
    a = input._data
    out = input
    for mask, v in (
        (np.isnan(a), nan),
        (np.isposinf(a), fi.max if posinf is None else posinf),
        (np.isneginf(a), fi.min if neginf is None else neginf),
    ):
        if mask.any():
            out = _api.masked_fill(out, mask, v)
    return out if out is not input else input.clone()


def nansum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Sum treating NaN as zero."""
    x = _api.masked_fill(input, np.isnan(input._data), 0.0) if input.is_floating_point() else input
    return _api.sum(x, dim, keepdim, dtype=dtype)


def nanmean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Mean over the non-NaN elements."""
    keep = ~np.isnan(input._data)
    count = _api.sum(tensor(keep, dtype=input.dtype), dim, keepdim)
    return nansum(input, dim, keepdim, dtype=dtype) / count


def _kth(input: Tensor, k: np.ndarray | int, dim: int, keepdim: bool, name: str) -> Any:
    """values/indices of the k-th smallest (0-based) along ``dim`` (NaN sorts last)."""
    order = np.argsort(input._data, axis=dim, kind="stable")
    shape = list(order.shape)
    shape[dim] = 1
    idx = np.take_along_axis(order, np.full(shape, k, dtype=np.int64), axis=dim)
    values = _api.gather(input, dim, idx)
    indices = tensor(idx)
    if not keepdim:
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return values, indices


def median(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """The lower median (of all elements, or (values, indices) along ``dim``); NaN propagates."""
    if dim is None:
        flat = input.reshape(-1)
        if flat.numel() == 0:
            return tensor(float("nan"), dtype=input.dtype)
        if input.is_floating_point() and np.isnan(flat._data).any():
            return flat[int(np.argmax(np.isnan(flat._data)))]
        v = _kth(flat, (flat.numel() - 1) // 2, 0, False, "median")[0]
        ties = flat._data == v._data
        n = int(ties.sum())
        if n > 1 and v.requires_grad:
            # torch's median() shares the gradient evenly among the elements equal to it
            w = _make(ties.astype(flat._data.dtype) / n)
            v = v.detach() + ((flat - flat.detach()) * w).sum()
        return v
    d = _dim(dim, input.ndim, "median")
    x = input if input.ndim else input.reshape(1)
    n = x.shape[d]
    k = np.full(1, (n - 1) // 2)
    if x.is_floating_point():
        nan = np.isnan(x._data)
        if nan.any():
            # torch: a row holding a NaN gives NaN; argsort puts NaNs last, the first at n - count
            k = np.expand_dims(np.where(nan.any(axis=d), n - nan.sum(axis=d), (n - 1) // 2), d)
    r = _kth(x, k, d, keepdim, "median")
    if not input.ndim:
        return _median_type(r[0].reshape(()), r[1].reshape(()))
    return _median_type(*r)


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> Any:
    """(values, indices) of the k-th smallest (1-based ``k``) along ``dim``."""
    d = _dim(dim, input.ndim, "kthvalue")
    n = input.shape[d] if input.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    x = input if input.ndim else input.reshape(1)
    r = _kth(x, k - 1, d, keepdim, "kthvalue")
    if not input.ndim:
        return _kthvalue_type(r.values.reshape(()), r.indices.reshape(()))
    return _kthvalue_type(*r)


def quantile(
    input: Tensor,
    q: Any,
    dim: int | None = None,
    keepdim: bool = False,
    *,
    interpolation: str = "linear",
) -> Tensor:
    """The ``q``-quantiles (``q`` a number or 1-D tensor in [0, 1]) along ``dim``."""
    qs = np.atleast_1d(as_array(q)).astype(np.float64)
    scalar_q = not isinstance(q, Tensor | list | tuple) or (isinstance(q, Tensor) and q.ndim == 0)
    if qs.size and (qs.min() < 0 or qs.max() > 1):
        raise RuntimeError("quantile() q values must be in the range [0, 1]")
    if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise ValueError(f"quantile() interpolation must be one of linear, lower, higher, "
                         f"midpoint or nearest. Got {interpolation}")  # fmt: skip
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else _dim(dim, x.ndim, "quantile")
    n = x.shape[d]
    srt = _api.sort(x, dim=d).values
    outs = []
    for qv in qs:
        pos = qv * (n - 1)
        lo, hi = math.floor(pos), math.ceil(pos)
        if interpolation == "lower":
            hi = lo
        elif interpolation == "higher":
            lo = hi
        elif interpolation == "nearest":
            lo = hi = builtins.round(pos)  # round half to even, as torch
        a = srt.narrow(d, lo, 1)
        b = srt.narrow(d, hi, 1)
        w = 0.5 if interpolation == "midpoint" else pos - lo
        v = a if lo == hi else a + (b - a) * w
        if not keepdim:
            v = v.squeeze(d)
        elif dim is None:
            v = v.reshape((1,) * input.ndim)
        outs.append(v)
    return outs[0] if scalar_q else _api.stack(outs, 0)


def cov(
    input: Tensor, *, correction: int = 1, fweights: Any = None, aweights: Any = None
) -> Tensor:
    """Covariance matrix of the variables in the rows of ``input`` (observations in columns)."""
    if fweights is not None or aweights is not None:
        raise NotImplementedError("cov(): fweights/aweights are not supported by chainrule")
    x = input if input.ndim == 2 else input.reshape(1, -1)
    xc = x - x.mean(1, keepdim=True)
    n = x.shape[1]
    c = _api.mm(xc, xc.t()) / builtins.max(n - correction, 0)
    return c if input.ndim == 2 else c.reshape(())


def corrcoef(input: Tensor) -> Tensor:
    """Pearson correlation coefficients of the rows of ``input``."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = _api.sqrt(diagonal(c))
    return _api.clamp(c / d.unsqueeze(1) / d.unsqueeze(0), -1.0, 1.0)


def rsub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """``other − alpha · input``."""
    return (
        _api.sub(other, input, alpha=alpha)
        if isinstance(other, Tensor)
        else _api.add(_api.mul(input, -alpha), other)
    )


def dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """``torch.dropout(input, p, train)`` (the functional form is ``nn.functional.dropout``)."""
    from .nn import functional as F

    return F.dropout(input, p=p, training=train)


# ------------------------------------------------------------------ no gradient


def multinomial(
    input: Tensor,
    num_samples: int,
    replacement: bool = False,
    *,
    generator: Generator | None = None,
) -> Tensor:
    """Indices drawn from the categories weighted by each row of ``input`` (int64).

    Weights need not sum to one; they must be non-negative, finite and not all zero. Without
    ``replacement`` each row gives at most as many samples as it has non-zero weights.
    """
    w = as_array(input)
    if w.ndim not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim, got {w.ndim}")
    if w.dtype.kind != "f":
        raise RuntimeError(
            f"multinomial only supports floating-point dtypes for input, got: {input.dtype}"
        )
    if num_samples <= 0:
        raise RuntimeError(f"cannot sample n_sample <= 0 samples, got {num_samples}")
    rows = w.reshape(-1, w.shape[-1]).astype(np.float64)
    if not np.isfinite(rows).all() or (rows < 0).any():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    totals = rows.sum(1)
    if (totals <= 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError(
            "cannot sample n_sample > prob_dist.size(-1) samples without replacement"
        )
    g = rng(generator)
    if replacement:
        cdf = np.cumsum(rows, axis=1)
        u = g.random((rows.shape[0], num_samples)) * cdf[:, -1:]
        out = np.stack([np.searchsorted(cdf[i], u[i], side="right") for i in range(len(rows))])
        out = np.minimum(out, rows.shape[1] - 1)
    else:
        if ((rows > 0).sum(1) < num_samples).any():
            raise RuntimeError(
                "invalid multinomial distribution (with replacement=False, not enough "
                "non-negative category to sample)"
            )
        # why: Gumbel/exponential race: the k smallest E/w are k draws without replacement
        with np.errstate(divide="ignore"):
            keys = g.standard_exponential(rows.shape) / rows
        out = np.argsort(keys, axis=1, kind="stable")[:, :num_samples]
    out = out.astype(np.int64)
    return _make(out.reshape(num_samples) if w.ndim == 1 else out)


def bernoulli(input: Tensor, p: Any = None, *, generator: Generator | None = None) -> Tensor:
    """0/1 draws with probability ``input`` (or ``p``), in ``input``'s dtype."""
    probs = as_array(input) if p is None else np.broadcast_to(as_array(p), input.shape)
    if probs.size and (np.nanmin(probs) < 0 or np.nanmax(probs) > 1):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true")
    u = rng(generator).random(probs.shape)
    return _make((u < probs).astype(input._data.dtype))


def poisson(input: Tensor, generator: Generator | None = None) -> Tensor:
    """Poisson draws with rates ``input``."""
    lam = as_array(input)
    if (lam < 0).any():
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    return _make(rng(generator).poisson(lam).astype(lam.dtype))


def randint_like(input: Tensor, low: int = 0, high: int | None = None, *, dtype: Any = None,
                 generator: Generator | None = None, **_: Any) -> Tensor:  # fmt: skip
    """Random integers in [low, high) with ``input``'s shape (``randint_like(x, high)`` too)."""
    if high is None:
        low, high = 0, low
    dt = input.dtype if dtype is None else _dtype.as_dtype(dtype)
    return _make(rng(generator).integers(low, high, input.shape).astype(dt.np))


def logspace(start: Any, end: Any, steps: int, base: float = 10.0, *, dtype: Any = None,
             requires_grad: bool = False, **_: Any) -> Tensor:  # fmt: skip
    """``steps`` points from base**start to base**end, evenly spaced in the exponent."""
    exps = np.linspace(_float(start), _float(end), steps)
    dt = _api._float_dtype(dtype)
    t = _make(np.power(base, exps).astype(dt))
    return _api._finish(t, requires_grad)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, **_: Any) -> Tensor:
    """2 × N (row, column) indices of the lower triangle of a row × col matrix."""
    r, c = np.tril_indices(row, offset, col)
    return _make(np.stack([r, c]).astype(np.int64 if dtype is None else _dtype.as_dtype(dtype).np))


def triu_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, **_: Any) -> Tensor:
    """2 × N (row, column) indices of the upper triangle of a row × col matrix."""
    r, c = np.triu_indices(row, offset, col)
    return _make(np.stack([r, c]).astype(np.int64 if dtype is None else _dtype.as_dtype(dtype).np))


def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """Counts of each value in a 1-D non-negative int tensor (weighted sums with ``weights``)."""
    a = as_array(input)
    if a.ndim != 1 or a.dtype.kind not in "iub":
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if a.size and a.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is None:
        return _make(np.bincount(a, minlength=minlength).astype(np.int64))
    w = as_array(weights)
    out_dt = w.dtype if w.dtype.kind == "f" else np.float64
    return _make(np.bincount(a, weights=w, minlength=minlength).astype(out_dt))


def searchsorted(
    sorted_sequence: Tensor,
    input: Any,
    *,
    out_int32: bool = False,
    right: bool = False,
    side: str | None = None,
    sorter: Any = None,
) -> Tensor:
    """Insertion points of ``input`` into the (last dim of the) sorted sequence."""
    seq = as_array(sorted_sequence)
    vals = as_array(input)
    side = side or ("right" if right else "left")
    if sorter is not None:
        seq = np.take_along_axis(seq, as_array(sorter), -1)
    if seq.ndim == 1:
        out = np.searchsorted(seq, vals, side=side)
    else:
        if seq.shape[:-1] != vals.shape[:-1]:
            raise RuntimeError(
                "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                "dimensions of boundaries tensor and input value tensor must match"
            )
        s2, v2 = seq.reshape(-1, seq.shape[-1]), vals.reshape(-1, vals.shape[-1])
        out = np.stack([np.searchsorted(s2[i], v2[i], side=side) for i in range(len(s2))])
        out = out.reshape(vals.shape)
    return _make(np.asarray(out, dtype=np.int32 if out_int32 else np.int64))


def bucketize(
    input: Any, boundaries: Tensor, *, out_int32: bool = False, right: bool = False
) -> Tensor:
    """The bucket of each value, given 1-D sorted ``boundaries`` (torch's ``right`` rule)."""
    b = as_array(boundaries)
    if b.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({b.ndim})")
    out = np.searchsorted(b, as_array(input), side="right" if right else "left")
    return _make(np.asarray(out, dtype=np.int32 if out_int32 else np.int64))


def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:
    """Histogram of ``bins`` equal bins over [min, max] (the data's range when both are 0)."""
    a = as_array(input)
    lo, hi = _float(min), _float(max)
    if lo == hi and a.size:
        lo, hi = _float(a.min()), _float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    counts, _ = np.histogram(a, bins=bins, range=(lo, hi))
    return _make(counts.astype(a.dtype if a.dtype.kind == "f" else np.float32))


def unique(
    input: Tensor,
    sorted: bool = True,
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
) -> Any:
    """The distinct values (sorted), with inverse indices and counts when asked."""
    a = as_array(input)
    res = np.unique(a, return_inverse=True, return_counts=True, axis=dim)
    vals, inv, cnt = res
    out: list = [_make(vals.astype(a.dtype))]
    if return_inverse:
        shape = a.shape if dim is None else (a.shape[dim],)
        out.append(_make(inv.reshape(shape).astype(np.int64)))
    if return_counts:
        out.append(_make(cnt.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(
    input: Tensor, return_inverse: bool = False, return_counts: bool = False, dim: int | None = None
) -> Any:
    """Collapse runs of equal consecutive values (over the flattened tensor, or along ``dim``)."""
    a = as_array(input)
    if dim is None:
        flat = a.reshape(-1)
        start = np.ones(flat.size, bool)
        start[1:] = flat[1:] != flat[:-1]
        vals = flat[start]
    else:
        d = _dim(dim, a.ndim, "unique_consecutive")
        m = np.moveaxis(a, d, 0).reshape(a.shape[d], -1)
        start = np.ones(m.shape[0], bool)
        start[1:] = (m[1:] != m[:-1]).any(1)
        vals = np.compress(start, a, axis=d)
    out: list = [_make(np.ascontiguousarray(vals))]
    if return_inverse:
        inv = np.cumsum(start) - 1
        out.append(_make(inv.reshape(a.shape if dim is None else (-1,)).astype(np.int64)))
    if return_counts:
        pos = np.flatnonzero(start)
        out.append(_make(np.diff(np.append(pos, start.size)).astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def isin(
    elements: Any, test_elements: Any, *, assume_unique: bool = False, invert: bool = False
) -> Tensor:
    """True where an element of ``elements`` is in ``test_elements``."""
    return _make(np.asarray(np.isin(as_array(elements), as_array(test_elements), invert=invert)))


def signbit(input: Tensor) -> Tensor:
    """True where the sign bit is set (including −0.0)."""
    return _make(np.asarray(np.signbit(as_array(input))))


def heaviside(input: Tensor, values: Any) -> Tensor:
    """0 for x < 0, ``values`` for x == 0, 1 for x > 0."""
    a = as_array(input)
    return _make(np.asarray(np.heaviside(a, as_array(values)).astype(a.dtype)))


def isreal(input: Tensor) -> Tensor:
    """All True (chainrule has no complex tensors)."""
    return _make(np.ones(input.shape, bool))


def is_nonzero(input: Tensor) -> bool:
    """The truth value of a one-element tensor."""
    if input.numel() != 1:
        if input.numel() == 0:
            raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return _bool(input._data.reshape(-1)[0])


def is_same_size(input: Tensor, other: Tensor) -> bool:
    """True if both tensors have the same shape."""
    return tuple(input.shape) == tuple(other.shape)


def is_complex(input: Tensor) -> bool:
    """False: chainrule has no complex dtypes."""
    return False


# ------------------------------------------------------------------ process-level


class finfo:  # noqa: N801 - torch's name
    """Limits of a float dtype: ``bits, eps, max, min, tiny, smallest_normal, resolution``."""

    def __init__(self, type: Any = None) -> None:
        dt = _dtype.get_default_dtype() if type is None else _dtype.as_dtype(type)
        if dt.np.kind != "f":
            raise TypeError(f"torch.finfo() requires a floating point input type, got {dt}")
        # (chainrule's bfloat16 is float32 itself, so it reports float32's limits)
        fi = np.finfo(dt.np)
        self.bits = fi.bits
        self.eps = _float(fi.eps)
        self.max = _float(fi.max)
        self.tiny = self.smallest_normal = _float(fi.smallest_normal)
        self.resolution = _float(fi.resolution)
        self.min = -self.max
        self.dtype = str(dt).split(".")[-1]

    def __repr__(self) -> str:
        return (
            f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
            f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, "
            f"dtype={self.dtype})"
        )


class iinfo:  # noqa: N801 - torch's name
    """Limits of an integer dtype (``bits, min, max``)."""

    def __init__(self, type: Any) -> None:
        dt = _dtype.as_dtype(type)
        if dt.np.kind not in "iub":
            raise TypeError(f"torch.iinfo() requires an integer input type, got {dt}")
        ii = np.iinfo(np.uint8 if dt.np.kind == "b" else dt.np)
        self.bits, self.min, self.max = ii.bits, _int(ii.min), _int(ii.max)
        self.dtype = str(dt).split(".")[-1]

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


def set_printoptions(
    precision: int | None = None,
    threshold: int | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    """Accepted for scripts that set it; tensors keep PyTorch's default print format."""
    if profile not in (None, "default", "short", "full"):
        raise ValueError(f"set_printoptions: unknown profile {profile!r}")


_threads = {"intra": os.cpu_count() or 1, "inter": os.cpu_count() or 1}


def get_num_threads() -> int:
    """The number of threads NumPy's BLAS may use (as set by ``set_num_threads``)."""
    return _threads["intra"]


def set_num_threads(num: int) -> None:
    """Limit BLAS threads (through threadpoolctl when it is installed)."""
    if not isinstance(num, _int) or num < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {num!r}")
    _threads["intra"] = num
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=num)


def get_num_interop_threads() -> int:
    """The inter-op thread count (chainrule runs ops one after another)."""
    return _threads["inter"]


def set_num_interop_threads(num: int) -> None:
    """Recorded only: chainrule has no inter-op thread pool."""
    if not isinstance(num, _int) or num < 1:
        raise RuntimeError(f"set_num_interop_threads expects a positive integer, got {num!r}")
    _threads["inter"] = num


def compile(model: Any = None, **kwargs: Any) -> Any:
    """A no-op: returns ``model`` unchanged (also as ``@compile`` / ``@compile(...)``)."""
    if model is None:
        return lambda m: m
    return model


_flags: dict[str, Any] = {"deterministic": False, "matmul_precision": "highest"}


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Recorded only: chainrule's kernels are deterministic already."""
    _flags["deterministic"] = _bool(mode)


def are_deterministic_algorithms_enabled() -> bool:
    """What ``use_deterministic_algorithms`` last set."""
    return _flags["deterministic"]


def set_float32_matmul_precision(precision: str) -> None:
    """Recorded only ('highest', 'high' or 'medium'): NumPy matmul is always full precision."""
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"Invalid precision {precision!r}: use 'highest', 'high' or 'medium'")
    _flags["matmul_precision"] = precision


def get_float32_matmul_precision() -> str:
    """What ``set_float32_matmul_precision`` last set."""
    return _flags["matmul_precision"]


def is_inference_mode_enabled() -> bool:
    """True inside ``inference_mode()`` (chainrule: when grad mode is off)."""
    return not state.enabled


def set_default_tensor_type(t: Any) -> None:
    """``set_default_tensor_type(torch.DoubleTensor)`` → float64 default (deprecated in torch)."""
    name = t if isinstance(t, str) else getattr(t, "__name__", "")
    table = {
        "DoubleTensor": _dtype.float64,
        "FloatTensor": _dtype.float32,
        "HalfTensor": _dtype.float16,
    }
    for key, dt in table.items():
        if name.endswith(key):
            _dtype.set_default_dtype(dt)
            return
    raise TypeError(f"invalid type {t!r} for set_default_tensor_type")


def typename(obj: Any) -> str:
    """``'torch.FloatTensor'`` style names for tensors, the class name otherwise."""
    if isinstance(obj, Tensor):
        return obj.type()
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def can_cast(from_: Any, to: Any) -> bool:
    """torch's casting rule: no float → int, no non-bool → bool."""
    a, b = _dtype.as_dtype(from_).np, _dtype.as_dtype(to).np
    if a.kind == "f" and b.kind in "iub":
        return False
    return not (a.kind != "b" and b.kind == "b")


def get_default_device() -> Any:
    """``device('cpu')``: the only device."""
    from ._device import device

    return device("cpu")


def set_default_device(device: Any) -> None:
    """Accepts 'cpu' (or None); a GPU device raises, naming it."""
    if device is not None:
        from ._device import device as _device

        _device(device)


def is_storage(obj: Any) -> bool:
    """False: chainrule has no storage objects."""
    return False


_median_type = _api._return_type("median", ["values", "indices"])
_kthvalue_type = _api._return_type("kthvalue", ["values", "indices"])


# ------------------------------------------------------------------ linear algebra (torch.*)


def _linalg() -> Any:
    from . import linalg

    return linalg


def det(input: Tensor) -> Tensor:
    """``linalg.det``."""
    return _linalg().det(input)


def logdet(input: Tensor) -> Tensor:
    """log det A (NaN for a negative determinant, −inf for a singular matrix)."""
    sign, logabs = _linalg().slogdet(input)
    return _api.where(sign < 0, _api.full_like(logabs, float("nan")), logabs) + _api.log(
        _api.where(sign == 0, _api.zeros_like(logabs), _api.ones_like(logabs))
    )


def slogdet(input: Tensor) -> Any:
    """``linalg.slogdet``."""
    return _linalg().slogdet(input)


def inverse(input: Tensor) -> Tensor:
    """``linalg.inv``."""
    return _linalg().inv(input)


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """``linalg.pinv(input, rtol=rcond)``."""
    return _linalg().pinv(input, rtol=rcond)


def matrix_power(input: Tensor, n: int) -> Tensor:
    """``linalg.matrix_power``."""
    return _linalg().matrix_power(input, n)


def cholesky(input: Tensor, upper: bool = False) -> Tensor:
    """``linalg.cholesky`` (torch's deprecated spelling)."""
    return _linalg().cholesky(input, upper=upper)


_svd_type = namedtuple("svd", ["U", "S", "V"])


def svd(input: Tensor, some: bool = True, compute_uv: bool = True) -> Any:
    """(U, S, V) with A = U diag(S) Vᵀ (torch.svd's V, not Vh)."""
    u, s, vh = _linalg().svd(input, full_matrices=not some)
    if not compute_uv:
        return _svd_type(_api.zeros_like(u), s, _api.zeros_like(vh.transpose(-2, -1)))
    return _svd_type(u, s, vh.transpose(-2, -1))


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """3-D cross product along ``dim`` (default: the first dimension of size 3, as torch)."""
    if dim is None:
        dim = next((i for i, n in enumerate(input.shape) if n == 3), -1)
    return _linalg().cross(input, other, dim=dim)


def chain_matmul(*matrices: Tensor) -> Tensor:
    """``linalg.multi_dot(matrices)``."""
    return _linalg().multi_dot(matrices)


# ------------------------------------------------------------------ more elementwise / scans


def hypot(input: Tensor, other: Any) -> Tensor:
    """√(x² + y²) elementwise."""
    return _api.sqrt(_api.add(_api.mul(input, input), _api.mul(other, other)))


def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    """A matrix with the flattened ``input`` on its ``offset`` diagonal."""
    return diag_embed(input.reshape(-1), offset)


def kron(input: Tensor, other: Tensor) -> Tensor:
    """Kronecker product (dims aligned from the right)."""
    n = builtins.max(input.ndim, other.ndim)
    a = input.reshape((1,) * (n - input.ndim) + tuple(input.shape))
    b = other.reshape((1,) * (n - other.ndim) + tuple(other.shape))
    a_i = a.reshape(tuple(x for d in a.shape for x in (d, 1)))
    b_i = b.reshape(tuple(x for d in b.shape for x in (1, d)))
    return (a_i * b_i).reshape(tuple(p * q for p, q in zip(a.shape, b.shape)))


def trapezoid(
    y: Tensor, x: Tensor | None = None, *, dx: float | None = None, dim: int = -1
) -> Tensor:
    """Trapezoidal rule along ``dim`` (sample points ``x`` or spacing ``dx``)."""
    d = _dim(dim, y.ndim, "trapezoid")
    n = y.shape[d]
    if n == 0:
        return y.sum(d)
    mid = (y.narrow(d, 1, n - 1) + y.narrow(d, 0, n - 1)) / 2
    if x is not None:
        xd = diff(x, dim=dim if x.ndim == y.ndim else -1)
        if x.ndim == 1 and y.ndim > 1:
            shape = [1] * y.ndim
            shape[d] = -1
            xd = xd.reshape(shape)
        return (mid * xd).sum(d)
    return mid.sum(d) * (1.0 if dx is None else dx)


trapz = trapezoid


def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    """log Σ_{j≤i} exp(x_j) along ``dim``, shifted by the running maximum for stability."""
    d = _dim(dim, input.ndim, "logcumsumexp")
    m = input.detach().amax(d, keepdim=True) if input.ndim else input.detach()
    m = _api.where(_api.isfinite(m), m, _api.zeros_like(m))
    return _api.log(_api.cumsum(_api.exp(input - m), d)) + m


def _cum_extreme(input: Tensor, dim: int, largest: bool, name: str) -> Any:
    d = _dim(dim, input.ndim, name)
    a = input._data if input.ndim else input._data.reshape(1)
    am = np.moveaxis(a, d, 0)
    idx = np.zeros(am.shape, dtype=np.int64)
    best = am[0].copy()
    for i in range(1, am.shape[0]):
        better = am[i] >= best if largest else am[i] <= best
        better |= np.isnan(am[i])  # NaN propagates, as torch
        best = np.where(better, am[i], best)
        idx[i] = np.where(better, i, idx[i - 1])
    indices = np.moveaxis(idx, 0, d)
    x = input if input.ndim else input.reshape(1)
    values = _api.gather(x, d, indices)
    if not input.ndim:
        values, indices = values.reshape(()), indices.reshape(())
    return _cum_type(values, _make(indices))


_cum_type = _api._return_type("cummax", ["values", "indices"])


def cummax(input: Tensor, dim: int) -> Any:
    """(running maximum, its index) along ``dim``."""
    return _cum_extreme(input, dim, True, "cummax")


def cummin(input: Tensor, dim: int) -> Any:
    """(running minimum, its index) along ``dim``."""
    return _cum_extreme(input, dim, False, "cummin")


_mode_type = _api._return_type("mode", ["values", "indices"])


def mode(input: Tensor, dim: int = -1, keepdim: bool = False) -> Any:
    """(most frequent value — the smallest on ties —, its last index) along ``dim``."""
    d = _dim(dim, input.ndim, "mode")
    x = input if input.ndim else input.reshape(1)
    am = np.moveaxis(x._data, d, -1)
    flat = am.reshape(-1, am.shape[-1])
    picks = np.empty(flat.shape[0], dtype=np.int64)
    for r, row in enumerate(flat):
        vals, counts = np.unique(row, return_counts=True)
        v = vals[np.argmax(counts)]  # unique sorts, argmax takes the first (smallest) on ties
        picks[r] = np.flatnonzero(row == v)[-1]
    idx = np.expand_dims(picks.reshape(am.shape[:-1]), d)
    values = _api.gather(x, d, idx)
    indices = _make(idx)
    if not keepdim:
        values, indices = values.squeeze(d), indices.squeeze(d)
    if not input.ndim:
        values, indices = values.reshape(()), indices.reshape(())
    return _mode_type(values, indices)


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:
    """Vandermonde matrix: columns x^(N−1) … x^0 (or increasing powers)."""
    n = x.shape[0] if N is None else N
    powers = list(range(n)) if increasing else list(range(n - 1, -1, -1))
    return _api.stack([x**p if p else _api.ones_like(x) for p in powers], 1)


def _nn_functional() -> Any:
    from .nn import functional

    return functional


def selu(input: Tensor) -> Tensor:
    """``nn.functional.selu``."""
    return _nn_functional().selu(input)


def celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``nn.functional.celu``."""
    return _nn_functional().celu(input, alpha)


def threshold(input: Tensor, threshold: float, value: float) -> Tensor:
    """``nn.functional.threshold``."""
    return _nn_functional().threshold(input, threshold, value)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``nn.functional.hardshrink``."""
    return _nn_functional().hardshrink(input, lambd)


def relu_(input: Tensor) -> Tensor:
    """``input.relu_()``."""
    return input.relu_()


def square_(input: Tensor) -> Tensor:
    """``input.square_()``."""
    return input.square_()


def clamp_(input: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """``input.clamp_(min, max)``."""
    return input.clamp_(min, max)


# ------------------------------------------------------------------ special functions, fills


_tensor_args = _api._tensor_args


def fmax(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise maximum that ignores NaN (NaN only where both are NaN); a tie's gradient
    goes to ``input``."""
    _tensor_args("fmax", input, other)
    return E.fmax(input, other)


def fmin(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise minimum that ignores NaN; a tie's gradient goes to ``input``."""
    _tensor_args("fmin", input, other)
    return E.fmin(input, other)


def positive(input: Tensor) -> Tensor:
    """``input`` itself (unary plus); bool tensors are rejected as in torch."""
    if input._data.dtype == np.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def argwhere(input: Tensor) -> Tensor:
    """Indices of the nonzero elements as an (n, ndim) int64 tensor (``nonzero``)."""
    return _api.nonzero(input)


def angle(input: Tensor) -> Tensor:
    """The argument of each (real) element: π where negative, 0 elsewhere, NaN kept."""
    return E.angle(input)


def erfc(input: Tensor) -> Tensor:
    """1 − erf(x), computed directly: relative accuracy in the tail (erfc(5) ≈ 1.5e-12)."""
    return E.erfc(input)


def erfc_(input: Tensor) -> Tensor:
    """``input.erfc_()``."""
    return input.erfc_()


def erfinv(input: Tensor) -> Tensor:
    """The inverse error function: NaN outside [−1, 1], ±inf at ±1."""
    return E.erfinv(input)


def i0(input: Tensor) -> Tensor:
    """The modified Bessel function of the first kind, order 0 (gradient I₁)."""
    return E.i0(input)


def i0_(input: Tensor) -> Tensor:
    """``input.i0_()``."""
    return input.i0_()


def fix(input: Tensor) -> Tensor:
    """``trunc`` (torch's alias)."""
    return _api.trunc(input)


def fix_(input: Tensor) -> Tensor:
    """``input.fix_()``."""
    return input.fix_()


def renorm(input: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    """Rescale each slice along ``dim`` whose ``p``-norm exceeds ``maxnorm`` to norm ``maxnorm``."""
    if input.ndim < 2:
        raise RuntimeError(
            f"renorm: input needs at least 2 dimensions, got {input.ndim} dimensions"
        )
    if not p > 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm:g}")
    if input._data.dtype.kind != "f":
        raise RuntimeError(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
            f"{_dtype.SCALAR_NAMES.get(input._data.dtype.name, input._data.dtype.name)}"
        )
    d = _dim(dim, input.ndim, "renorm")
    return R.renorm(input, p=_float(p), dim=d, maxnorm=_float(maxnorm))


_fill_scalar = with_backward_name(I.index_fill, "IndexFillBackward0")


def index_fill(input: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:
    """Copy of ``input`` with the entries at ``index`` along ``dim`` set to ``value`` (a number
    or a 0-d tensor, which then receives the gradient of the filled places)."""
    if not isinstance(index, Tensor):
        raise TypeError(
            f"index_fill() received an invalid combination of arguments - got "
            f"({type(dim).__name__}, {type(index).__name__}, {type(value).__name__}), but "
            f"expected (int dim, Tensor index, Number value) or (int dim, Tensor index, "
            f"Tensor value)"
        )
    idx = index._data
    if idx.dtype != np.int64:
        raise IndexError("index_fill_(): Expected dtype int64 for index.")
    if idx.ndim > 1:
        raise RuntimeError("Index has to be a vector/scalar")
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(
            f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
            f"{value.ndim} dimension(s)."
        )
    x = input.reshape(1) if input.ndim == 0 else input
    d = _dim(dim, x.ndim, "index_fill")
    n = x.shape[d]
    flat = idx.reshape(-1)
    if flat.size and (flat.min() < -n or flat.max() >= n):
        bad = flat.max() if flat.max() >= n else flat.min()
        raise IndexError(f"index {bad} is out of bounds for dimension {d} with size {n}")
    flat = flat % n if flat.size and flat.min() < 0 else flat
    if isinstance(value, Tensor):
        out = I.index_fill(x, value.to(input.dtype), dim=d, index=flat)
    else:
        out = _fill_scalar(x, _api._operand(value), dim=d, index=flat)
    return out.reshape(()) if input.ndim == 0 else out


# ------------------------------------------------------------------ Tensor methods

_METHODS = [
    "tan", "asin", "arcsin", "acos", "arccos", "atan", "arctan", "sinh", "cosh", "atan2",
    "arctan2", "expm1", "exp2", "log2", "log10", "cumprod", "scatter", "addmm", "addmv",
    "addbmm", "baddbmm", "addcmul", "addcdiv", "lerp", "clamp_min", "clamp_max", "logit",
    "xlogy", "logaddexp", "frac", "deg2rad", "rad2deg", "float_power", "sgn", "diag",
    "diag_embed", "diagonal", "trace", "masked_select", "take", "take_along_dim", "select",
    "index_add", "index_copy", "repeat_interleave", "tile", "ravel", "moveaxis", "fliplr",
    "flipud", "rot90", "inner", "dist", "diff", "nan_to_num", "nansum", "nanmean", "median",
    "kthvalue", "quantile", "multinomial", "bernoulli", "bincount", "unique",
    "unique_consecutive", "signbit", "heaviside", "isreal", "is_nonzero", "is_same_size",
    "is_complex", "histc", "cov", "corrcoef", "masked_scatter", "det", "logdet", "slogdet",
    "inverse", "pinverse", "matrix_power", "cholesky", "svd", "cross", "hypot", "diagflat",
    "kron", "logcumsumexp", "cummax", "cummin", "mode", "fmax", "fmin", "positive", "argwhere",
    "angle", "erfinv", "i0", "renorm", "index_fill", "fix", "erfc",
]  # fmt: skip


def _bind_methods() -> None:
    from . import _methods

    for name in _METHODS:
        if not hasattr(Tensor, name):
            setattr(Tensor, name, globals()[name])
    inplace = {
        "tan_": tan, "asin_": asin, "acos_": acos, "atan_": atan, "sinh_": sinh, "cosh_": cosh,
        "atan2_": atan2, "expm1_": expm1, "exp2_": exp2, "log2_": log2, "log10_": log10,
        "cumprod_": cumprod, "scatter_": scatter, "addmm_": addmm, "addmv_": addmv,
        "baddbmm_": baddbmm, "clamp_min_": clamp_min, "clamp_max_": clamp_max, "logit_": logit,
        "xlogy_": xlogy, "frac_": frac, "deg2rad_": deg2rad, "rad2deg_": rad2deg, "sgn_": sgn,
        "index_add_": index_add, "index_copy_": index_copy, "nan_to_num_": nan_to_num,
        "tril_": _api.tril, "triu_": _api.triu, "sin_": _api.sin, "cos_": _api.cos,
        "rsqrt_": _api.rsqrt, "log1p_": _api.log1p, "ceil_": _api.ceil, "trunc_": _api.trunc,
        "sign_": _api.sign, "fmod_": _api.fmod, "erf_": _api.erf, "lerp_": lerp,
        "masked_scatter_": masked_scatter,
        "eq_": _api.eq, "ne_": _api.ne, "lt_": _api.lt, "le_": _api.le, "gt_": _api.gt,
        "ge_": _api.ge, "hypot_": hypot, "index_put_": _index_put, "erfinv_": erfinv,
        "erfc_": erfc,
        "i0_": i0, "renorm_": renorm, "index_fill_": index_fill, "fix_": fix,
    }  # fmt: skip
    for name, fn in inplace.items():
        if not hasattr(Tensor, name):
            setattr(Tensor, name, _methods._make_inplace(fn, name))
    for fn in (
        is_contiguous, stride, data_ptr, storage_offset, pin_memory, is_pinned, share_memory_,
        is_shared, bfloat16, char, new, sum_to_size, unfold, apply_, map_, t_, transpose_,
        squeeze_, unsqueeze_, log_normal_, cauchy_, geometric_, fill_diagonal_, index_put,
    ):  # fmt: skip
        if not hasattr(Tensor, fn.__name__):
            setattr(Tensor, fn.__name__, fn)
    if not hasattr(Tensor, "nbytes"):
        Tensor.nbytes = property(lambda self: _int(self._data.nbytes))  # type: ignore[attr-defined]
    if not hasattr(Tensor, "H"):
        Tensor.H = property(lambda self: self.t())  # type: ignore[attr-defined]


def masked_scatter(input: Tensor, mask: Any, source: Tensor) -> Tensor:
    """Copy of ``input`` with ``source``'s leading elements written where ``mask`` is True."""
    m = np.broadcast_to(as_array(mask), input.shape)
    n = _int(m.sum())
    if source.numel() < n:
        raise RuntimeError(
            "masked_scatter: expected source to have at least as many elements as ones in mask"
        )
    return index_put(input, (m,), source.reshape(-1)[:n])


def index_put(input: Tensor, indices: Any, values: Any, accumulate: bool = False) -> Tensor:
    """Copy of ``input`` with ``input[indices] = values`` (``+=``, duplicates adding up, with
    ``accumulate``)."""
    key = tuple(as_array(i) if isinstance(i, Tensor | list) else i for i in indices)
    v = values if isinstance(values, Tensor) else tensor(values, dtype=input.dtype)
    v = v.to(input.dtype)
    if not accumulate:
        return _set_copy(input, key, v)
    # why: the linear positions of any index (ints, bools, slices) make it one scatter_add,
    # which sums duplicates and is differentiable in both the input and the values
    pos = np.arange(input.numel()).reshape(input.shape)[key]
    flat_v = v.expand(pos.shape).reshape(-1) if tuple(v.shape) != pos.shape else v.reshape(-1)
    out = _api.scatter_add(input.reshape(-1), 0, pos.reshape(-1), flat_v)
    return out.reshape(input.shape)


def _set_copy(input: Tensor, key: tuple, v: Tensor) -> Tensor:
    from .ops import indexing as I

    return I.index_put(input, v, index=key)


_index_put = index_put


def is_contiguous(self: Tensor, memory_format: Any = None) -> bool:
    """False for views whose strides are torch's and not row-major (a transpose, a strided
    slice, an expand); True otherwise (other NumPy layouts are chainrule's own choice)."""
    return self._data.flags.c_contiguous or not getattr(self, "_torch_strides", False)


def stride(self: Tensor, dim: int | None = None) -> Any:
    """Strides in elements: a strided view's own, else those of the contiguous layout."""
    d = self._data
    if not is_contiguous(self):
        st = tuple(_int(b // d.itemsize) for b in d.strides)
        return st if dim is None else st[_dim(dim, self.ndim, "stride")]
    st = []
    acc = 1
    for s in reversed(self.shape):
        st.append(acc)
        acc *= builtins.max(s, 1)
    st = tuple(reversed(st))
    return st if dim is None else st[_dim(dim, self.ndim, "stride")]


def data_ptr(self: Tensor) -> int:
    """Address of the first element (equal for tensors that share memory from the start)."""
    return _int(self._data.__array_interface__["data"][0])


def storage_offset(self: Tensor) -> int:
    """0 (views are NumPy views; the offset is not tracked)."""
    return 0


def pin_memory(self: Tensor, device: Any = None) -> Tensor:
    """``self``: there is no GPU to pin memory for."""
    return self


def is_pinned(self: Tensor, device: Any = None) -> bool:
    """False: no pinned memory on a CPU-only library."""
    return False


def share_memory_(self: Tensor) -> Tensor:
    """``self`` (a no-op: chainrule does not share tensors across processes this way)."""
    return self


def is_shared(self: Tensor) -> bool:
    """False."""
    return False


def bfloat16(self: Tensor) -> Tensor:
    """``self.to(bfloat16)``."""
    return self.to(_dtype.bfloat16)


def char(self: Tensor) -> Tensor:
    """``self.to(int8)``."""
    return self.to(_dtype.int8)


def new(self: Tensor, *args: Any) -> Tensor:
    """Legacy constructor with this dtype: ``t.new(2, 3)`` (zeros) or ``t.new(data)``."""
    if len(args) == 1 and not isinstance(args[0], _int):
        if isinstance(args[0], tuple) and builtins.all(isinstance(a, _int) for a in args[0]):
            return _api.zeros(*args[0], dtype=self.dtype)
        return tensor(args[0], dtype=self.dtype)
    return _api.zeros(*args, dtype=self.dtype)


def sum_to_size(self: Tensor, *size: Any) -> Tensor:
    """Sum the broadcast dimensions away so that the result has shape ``size``."""
    target = _api._size(size)
    lead = self.ndim - len(target)
    if lead < 0:
        raise RuntimeError(f"size {list(target)} is not expandable to size {list(self.shape)}")
    x = self.sum(tuple(range(lead))) if lead else self
    dims = tuple(i for i, (a, b) in enumerate(zip(x.shape, target)) if b == 1 and a != 1)
    for a, b in zip(x.shape, target):
        if b not in (1, a):
            raise RuntimeError(f"size {list(target)} is not expandable to size {list(self.shape)}")
    return x.sum(dims, keepdim=True) if dims else x


def unfold(self: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """All windows of ``size`` along ``dimension`` every ``step``, as a new last dimension."""
    d = _dim(dimension, self.ndim, "unfold")
    n = self.shape[d] if self.ndim else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    starts = np.arange(0, n - size + 1, step)
    idx = starts[:, None] + np.arange(size)[None, :]
    x = self if self.ndim else self.reshape(1)
    out = x[(slice(None),) * d + (idx,)]  # windows x size at dims d, d+1
    return _api.movedim(out, d + 1, -1)


def apply_(self: Tensor, callable: Callable) -> Tensor:
    """Apply a Python function to every element in place (slow; as torch's CPU-only apply_)."""
    return self._fill(np.vectorize(callable, otypes=[self._data.dtype])(self._data))


def map_(self: Tensor, tensor: Tensor, callable: Callable) -> Tensor:
    """``self[i] = callable(self[i], tensor[i])`` in place."""
    other = np.broadcast_to(as_array(tensor), self.shape)
    return self._fill(np.vectorize(callable, otypes=[self._data.dtype])(self._data, other))


def _reshape_inplace(self: Tensor, arr: np.ndarray, name: str) -> Tensor:
    if state.enabled and self.requires_grad:
        raise RuntimeError(f"{name}: in-place shape change of a tensor that requires grad")
    self._data = arr
    self._vc[0] += 1
    return self


def t_(self: Tensor) -> Tensor:
    """Transpose a ≤ 2-D tensor in place."""
    return _reshape_inplace(self, self.t()._data, "t_")


def transpose_(self: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions in place."""
    return _reshape_inplace(self, self.transpose(dim0, dim1)._data, "transpose_")


def squeeze_(self: Tensor, dim: Any = None) -> Tensor:
    """Drop size-1 dimensions in place."""
    return _reshape_inplace(self, self.squeeze(dim)._data, "squeeze_")


def unsqueeze_(self: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dimension in place."""
    return _reshape_inplace(self, self.unsqueeze(dim)._data, "unsqueeze_")


def log_normal_(
    self: Tensor, mean: float = 1.0, std: float = 2.0, *, generator: Any = None
) -> Tensor:
    """Fill with samples whose logarithm is normal(mean, std)."""
    return self._fill(rng(generator).lognormal(mean, std, self.shape))


def cauchy_(
    self: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator: Any = None
) -> Tensor:
    """Fill with Cauchy(median, sigma) samples."""
    return self._fill(median + sigma * rng(generator).standard_cauchy(self.shape))


def geometric_(self: Tensor, p: float, *, generator: Any = None) -> Tensor:
    """Fill with the number of Bernoulli(p) trials until the first success."""
    return self._fill(rng(generator).geometric(p, self.shape))


def fill_diagonal_(self: Tensor, fill_value: Any, wrap: bool = False) -> Tensor:
    """Write ``fill_value`` on the main diagonal in place (all dims equal, or a tall matrix)."""
    if self.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    if self.ndim > 2 and len(set(self.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    arr = self._data.copy()
    np.fill_diagonal(arr, fill_value, wrap=wrap)
    return self._fill(arr)


_bind_methods()
