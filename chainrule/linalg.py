"""``chainrule.linalg``: torch.linalg's common functions, differentiable.

inv, det, slogdet, solve, cholesky, eigh / eigvalsh, svd / svdvals, pinv, matrix_power,
norm / vector_norm / matrix_norm, cross, multi_dot. Batched over leading dimensions.
"""

from __future__ import annotations

import builtins
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _api
from ._api import _operand
from ._tensor import Tensor
from .ops import linalg_extra as X

__all__ = [
    "inv",
    "det",
    "slogdet",
    "solve",
    "cholesky",
    "eigh",
    "eigvalsh",
    "svd",
    "svdvals",
    "pinv",
    "matrix_power",
    "norm",
    "vector_norm",
    "matrix_norm",
    "cross",
    "multi_dot",
    "LinAlgError",
]

_slogdet_t = namedtuple("slogdet", ["sign", "logabsdet"])
_eigh_t = namedtuple("eigh", ["eigenvalues", "eigenvectors"])
_svd_t = namedtuple("svd", ["U", "S", "Vh"])


class LinAlgError(RuntimeError):
    """A singular or non-positive-definite matrix (torch.linalg.LinAlgError)."""


def _square(A: Tensor, name: str) -> Tensor:
    if A.ndim < 2:
        raise RuntimeError(f"linalg.{name}: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(
            f"linalg.{name}: A must be batches of square matrices, but they are "
            f"{A.shape[-2]} by {A.shape[-1]} matrices"
        )
    return A if A.is_floating_point() else A.to(_api._dtype.get_default_dtype())


def inv(A: Tensor) -> Tensor:
    """The inverse of each square matrix; raises LinAlgError for a singular one."""
    A = _square(A, "inv")
    try:
        return X.inv(A)
    except np.linalg.LinAlgError:
        raise LinAlgError(
            "linalg.inv: The diagonal element 1 is zero, the inversion could not be completed "
            "because the input matrix is singular."
        ) from None


def slogdet(A: Tensor) -> Any:
    """(sign, log|det A|); the gradient flows through ``logabsdet``."""
    sign, logabs = X.slogdet(_square(A, "slogdet"))
    return _slogdet_t(sign, logabs)


def det(A: Tensor) -> Tensor:
    """The determinant (sign · exp(log|det|))."""
    sign, logabs = slogdet(A)
    return sign * _api.exp(logabs)


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """X with A X = B (B a matrix batch, or a vector batch of shape (*, n))."""
    A = _square(A, "solve")
    if not left:
        return solve(A.transpose(-2, -1), B.transpose(-2, -1)).transpose(-2, -1)
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    b = B.unsqueeze(-1) if vector else B
    try:
        x = X.solve(A, _operand(b))
    except np.linalg.LinAlgError:
        raise LinAlgError(
            "linalg.solve: The solver failed because the input matrix is singular."
        ) from None
    return x.squeeze(-1) if vector else x


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """Lower (or upper) Cholesky factor of a symmetric positive-definite matrix."""
    try:
        return X.cholesky(_square(A, "cholesky"), upper=upper)
    except RuntimeError as e:
        raise LinAlgError(str(e)) from None


def eigh(A: Tensor, UPLO: str = "L") -> Any:
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix."""
    w, v = X.eigh(_square(A, "eigh"), uplo=UPLO)
    return _eigh_t(w, v)


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    """Eigenvalues (ascending) of a symmetric matrix."""
    return eigh(A, UPLO).eigenvalues


def svd(A: Tensor, full_matrices: bool = True, *, driver: Any = None) -> Any:
    """U, S, Vh; the reduced factorisation (what the gradient is defined for) is returned, as
    with ``full_matrices=False`` (full square factors are only given for square input)."""
    if A.ndim < 2:
        raise RuntimeError("linalg.svd: The input tensor A must have at least 2 dimensions.")
    a = A if A.is_floating_point() else A.to(_api._dtype.get_default_dtype())
    u, s, vh = X.svd(a)
    if full_matrices and a.shape[-1] != a.shape[-2]:
        # torch's full factors: complete U (or Vh) with an orthonormal basis (no gradient there)
        m, n = a.shape[-2], a.shape[-1]
        full_u, _, full_vh = np.linalg.svd(a._data, full_matrices=True)
        if m > n:
            u = _api.cat([u, _api.tensor(full_u[..., n:], dtype=a.dtype)], -1)
        else:
            vh = _api.cat([vh, _api.tensor(full_vh[..., m:, :], dtype=a.dtype)], -2)
    return _svd_t(u, s, vh)


def svdvals(A: Tensor) -> Tensor:
    """Singular values, descending."""
    return svd(A, full_matrices=False).S


def pinv(A: Tensor, *, atol: Any = None, rtol: Any = None, hermitian: bool = False) -> Tensor:
    """Moore–Penrose pseudo-inverse via the SVD (small singular values cut off)."""
    u, s, vh = svd(A, full_matrices=False)
    smax = s.amax(-1, keepdim=True)
    if rtol is None:
        eps = float(np.finfo(s._data.dtype).eps)
        rtol = 0.0 if atol is not None and atol > 0 else max(A.shape[-2:]) * eps
    cutoff = smax * rtol
    if atol is not None:
        cutoff = _api.maximum(cutoff, _api.full_like(cutoff, float(atol)))
    keep = s._data > cutoff._data
    s_inv = _api.where(keep, 1.0 / _api.where(keep, s, _api.ones_like(s)), _api.zeros_like(s))
    return (vh.transpose(-2, -1) * s_inv.unsqueeze(-2)) @ u.transpose(-2, -1)


def matrix_power(A: Tensor, n: int) -> Tensor:
    """A to the integer power ``n`` (negative: of the inverse)."""
    A = _square(A, "matrix_power") if A.is_floating_point() or n < 0 else A
    if n == 0:
        eye = _api.eye(A.shape[-1], dtype=A.dtype)
        return eye.expand(A.shape) if A.ndim > 2 else eye
    base = inv(A) if n < 0 else A
    n = builtins.abs(n)
    result = None
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


def vector_norm(
    x: Tensor, ord: float = 2, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
) -> Tensor:
    """The ``ord``-norm of ``x`` seen as a vector (over ``dim``, or all elements)."""
    if dtype is not None:
        x = x.to(dtype)
    if dim is None:
        out = _api.norm(x.reshape(-1), p=ord)
        return out.reshape((1,) * x.ndim) if keepdim else out
    return _api.norm(x, p=ord, dim=dim, keepdim=keepdim)


def matrix_norm(
    A: Tensor, ord: Any = "fro", dim: Sequence[int] = (-2, -1), keepdim: bool = False
) -> Tensor:
    """Frobenius ('fro'), nuclear ('nuc'), ±1, ±2, ±inf matrix norms over ``dim``."""
    d0, d1 = (_api._dim(d, A.ndim, "matrix_norm") for d in dim)
    if ord == "fro":
        return _api.norm(A, p=2, dim=(d0, d1), keepdim=keepdim)
    if ord in ("nuc", 2, -2):
        m = _api.movedim(A, (d0, d1), (-2, -1))
        s = svdvals(m)
        out = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord == 2 else s.amin(-1))
        if keepdim:
            out = out.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1))
        return out
    if ord in (1, -1, float("inf"), float("-inf")):
        # 1: max column sum; inf: max row sum
        sum_dim, red_dim = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = A.abs().sum(sum_dim, keepdim=True)
        out = sums.amax(red_dim, keepdim=True) if ord > 0 else sums.amin(red_dim, keepdim=True)
        return out if keepdim else out.squeeze((d0, d1))
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def norm(
    A: Tensor, ord: Any = None, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
) -> Tensor:
    """vector_norm for 1 dim (or ord None over everything), matrix_norm for 2 dims."""
    if dtype is not None:
        A = A.to(dtype)
    if dim is not None and not isinstance(dim, int) and len(dim) == 2:
        return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim)
    if ord is None:
        return vector_norm(A, 2, dim, keepdim)
    if dim is None and A.ndim == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim)
    return vector_norm(A, ord, dim, keepdim)


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """The 3-D cross product along ``dim``."""
    a, b = _api.broadcast_to(input, np.broadcast_shapes(input.shape, other.shape)), other
    b = _api.broadcast_to(b, tuple(a.shape))
    d = _api._dim(dim, a.ndim, "cross")
    if a.shape[d] != 3:
        raise RuntimeError(
            f"linalg.cross: inputs dimension {d} must have length 3. Got {a.shape[d]} and "
            f"{other.shape[d] if other.ndim > d else other.shape}"
        )
    ax, ay, az = (a.select(d, i) for i in range(3))
    bx, by, bz = (b.select(d, i) for i in range(3))
    return _api.stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], d)


def multi_dot(tensors: Sequence[Tensor]) -> Tensor:
    """Chained matrix product (1-D first/last operands as row/column vectors)."""
    ts = list(tensors)
    if len(ts) < 2:
        raise RuntimeError("multi_dot(): expected at least 2 tensors but got " + str(len(ts)))
    out = ts[0]
    for t in ts[1:]:
        out = out @ t
    return out
