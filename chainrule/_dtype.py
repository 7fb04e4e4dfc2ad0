"""dtype objects, torch.result_type promotion, and the default float dtype.

chainrule's dtypes are thin named wrappers around NumPy dtypes so that they print like
PyTorch's (``chainrule.float32``) and can be compared with ``==``. Promotion follows
``torch.result_type``: Python scalars are *weak* and zero-dim tensors are weaker than
dimensioned ones, which NumPy does not do (``float32 + int64 -> float64`` in NumPy,
``float32`` in torch).
"""

from __future__ import annotations

import builtins as _builtins
from typing import Any

import numpy as np

__all__ = [
    "dtype",
    "float16",
    "float32",
    "float64",
    "bfloat16",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "bool",
    "get_default_dtype",
    "set_default_dtype",
    "result_type",
    "to_numpy_dtype",
]

# Promotion categories: bool < integer < floating.
_BOOL, _INT, _FLOAT = 0, 1, 2


class dtype:  # noqa: N801 - PyTorch's name
    """A tensor element type (``chainrule.float32`` …), wrapping a NumPy dtype."""

    __slots__ = ("name", "np", "is_floating_point", "itemsize", "_category")

    def __init__(self, name: str, np_dtype: Any, category: int) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = category == _FLOAT
        self.itemsize = self.np.itemsize
        self._category = category

    @property
    def is_signed(self) -> bool:
        """True for signed numeric types."""
        return self.name not in ("bool", "uint8")

    def __repr__(self) -> str:
        return f"chainrule.{self.name}"

    def __reduce__(self) -> str:
        return self.name


float16 = dtype("float16", np.float16, _FLOAT)
float32 = dtype("float32", np.float32, _FLOAT)
float64 = dtype("float64", np.float64, _FLOAT)
# NumPy has no bfloat16: it exists only as a file format and is widened to float32 on load.
bfloat16 = float32
int8 = dtype("int8", np.int8, _INT)
int16 = dtype("int16", np.int16, _INT)
int32 = dtype("int32", np.int32, _INT)
int64 = dtype("int64", np.int64, _INT)
uint8 = dtype("uint8", np.uint8, _INT)
bool = dtype("bool", np.bool_, _BOOL)  # noqa: A001 - PyTorch's name

_ALL = (float16, float32, float64, int8, int16, int32, int64, uint8, bool)
_FROM_NP: dict[np.dtype, dtype] = {d.np: d for d in _ALL}

_default_float = float32


def get_default_dtype() -> dtype:
    """The dtype of tensors made from Python floats (float32 unless changed)."""
    return _default_float


def set_default_dtype(d: dtype) -> None:
    """Set the dtype of tensors made from Python floats; only float32 and float64 are allowed."""
    global _default_float
    d = as_dtype(d)
    if d not in (float32, float64):
        raise TypeError(f"set_default_dtype: only float32 or float64 are supported, got {d}")
    _default_float = d


def as_dtype(d: Any) -> dtype:
    """Turn a chainrule dtype, NumPy dtype, type or name into a chainrule dtype."""
    if type(d) is dtype:
        return d
    if d is float:
        return _default_float
    if d is int:
        return int64
    if d is _builtins.bool:
        return bool
    if isinstance(d, str):
        d = d.removeprefix("torch.").removeprefix("chainrule.")
        found = _BY_NAME.get(d)
        if found is not None:
            return found
    try:
        npd = np.dtype(d)
    except TypeError:
        raise TypeError(f"not a dtype: {d!r}") from None
    found = _FROM_NP.get(npd)
    if found is None:
        raise TypeError(
            f"unsupported dtype: {npd} (chainrule has {', '.join(x.name for x in _ALL)})"
        )
    return found


_BY_NAME = {d.name: d for d in _ALL}
_BY_NAME.update(
    {
        "float": float32,
        "double": float64,
        "half": float16,
        "bfloat16": float32,
        "long": int64,
        "int": int32,
        "short": int16,
    }
)


def to_numpy_dtype(d: Any) -> np.dtype:
    """The NumPy dtype behind any dtype-like value."""
    return as_dtype(d).np


def from_numpy_dtype(npd: np.dtype) -> dtype:
    """The chainrule dtype for a NumPy dtype (raises TypeError for unsupported ones)."""
    found = _FROM_NP.get(npd)
    if found is None:
        return as_dtype(npd)
    return found


def _category(npd: np.dtype) -> int:
    if npd.kind == "f":
        return _FLOAT
    if npd.kind == "b":
        return _BOOL
    return _INT


def _scalar_category(x: Any) -> int:
    if isinstance(x, _builtins.bool | np.bool_):
        return _BOOL
    if isinstance(x, int | np.integer):
        return _INT
    return _FLOAT


def result_type(*operands: Any) -> np.dtype:
    """The NumPy dtype of an elementwise op over ``operands``, by ``torch.result_type`` rules.

    Operands are ndarrays (dimensioned or 0-d) or Python scalars. Priority: dimensioned
    arrays, then 0-d arrays, then Python scalars; the result category is the highest one
    present, and its dtype comes from the highest-priority tier that has that category.
    """
    tiers: list[list[np.dtype]] = [[], [], []]
    cat = _BOOL
    for x in operands:
        if isinstance(x, np.ndarray):
            c = _category(x.dtype)
            tiers[0 if x.ndim else 1].append(x.dtype)
        else:
            c = _scalar_category(x)
            tiers[2].append(_SCALAR_DTYPE[c]())
        cat = max(cat, c)
    for tier in tiers:
        same = [d for d in tier if _category(d) == cat]
        if same:
            out = same[0]
            for d in same[1:]:
                out = _promote_same_category(out, d)
            return out
    raise AssertionError("unreachable")


def _promote_same_category(a: np.dtype, b: np.dtype) -> np.dtype:
    if a == b:
        return a
    if a.kind == "f":
        return a if a.itemsize >= b.itemsize else b
    # uint8 with a signed type: torch widens to a signed type that holds both.
    return np.promote_types(a, b)


_SCALAR_DTYPE = {
    _BOOL: lambda: np.dtype(np.bool_),
    _INT: lambda: np.dtype(np.int64),
    _FLOAT: lambda: _default_float.np,
}


# torch's names of dtypes in its error messages: ScalarType ("Float", "Long") and C++ ("float")
SCALAR_NAMES = {
    "float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
    "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
    "bool": "Bool",
}  # fmt: skip
C_NAMES = {
    "float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
    "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
    "uint8": "unsigned char", "bool": "bool",
}  # fmt: skip
