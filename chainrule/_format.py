"""``repr`` of tensors in PyTorch's shape: ``tensor([1.5000, 2.0000], requires_grad=True)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ._tensor import Tensor

_DEFAULT_DTYPES = ("float32", "int64", "bool")


def _formatter(a: np.ndarray) -> dict:
    if a.dtype.kind != "f" or a.size == 0:
        return {}
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return {"float_kind": lambda v: _special(v)}
    ints = np.all(finite == np.round(finite))
    amax = float(np.max(np.abs(finite)))
    amin = float(np.min(np.abs(finite[finite != 0]))) if np.any(finite != 0) else 0.0
    sci = amax >= 1e8 or (amin and amax / amin > 1000.0 and not ints) or (0 < amax < 1e-4)
    if ints and not sci:
        width = max(len(f"{v:.0f}.") for v in finite)
        return {"float_kind": lambda v: _special(v) or f"{v:.0f}.".rjust(width)}
    if sci:
        return {"float_kind": lambda v: _special(v) or f"{v:.4e}"}
    width = max(len(f"{v:.4f}") for v in finite)
    return {"float_kind": lambda v: _special(v) or f"{v:.4f}".rjust(width)}


def _special(v: float) -> str:
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return ""


def tensor_repr(t: Tensor) -> str:
    """The PyTorch-style text of a tensor."""
    a = t._data
    if a.dtype == np.float16:
        shown = a.astype(np.float32)
    else:
        shown = a
    body = np.array2string(
        shown,
        separator=", ",
        prefix="tensor(",
        formatter=_formatter(shown),
        threshold=1000,
        edgeitems=3,
        max_line_width=80,
    )
    extras = []
    if a.size == 0 and a.ndim != 1:
        extras.append(f"size={tuple(a.shape)}")
    name = t.dtype.name
    if name not in _DEFAULT_DTYPES or (name == "float32" and a.dtype != np.float32):
        extras.append(f"dtype=chainrule.{name}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    inner = ", ".join([body, *extras])
    prefix = "Parameter containing:\n" if type(t).__name__ == "Parameter" else ""
    return f"{prefix}tensor({inner})"
