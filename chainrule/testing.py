"""``chainrule.testing.assert_close``: torch.testing's comparison, for user test suites."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._tensor import Tensor

__all__ = ["assert_close", "assert_allclose"]

# torch's default (rtol, atol) per dtype
_TOLS = {
    np.dtype(np.float16): (1e-3, 1e-5),
    np.dtype(np.float32): (1.3e-6, 1e-5),
    np.dtype(np.float64): (1e-7, 1e-7),
}


def _tols(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    ra, aa = _TOLS.get(a.dtype, (0.0, 0.0))
    rb, ab = _TOLS.get(b.dtype, (0.0, 0.0))
    return max(ra, rb), max(aa, ab)


def assert_close(
    actual: Any,
    expected: Any,
    *,
    allow_subclasses: bool = True,
    rtol: float | None = None,
    atol: float | None = None,
    equal_nan: bool = False,
    check_device: bool = True,
    check_dtype: bool = True,
    check_layout: bool = True,
    check_stride: bool = False,
    msg: Any = None,
) -> None:
    """Raise AssertionError unless ``|actual − expected| <= atol + rtol · |expected|`` everywhere
    (tensors, numbers, and sequences / mappings of them; dtype and shape must match)."""
    if (rtol is None) != (atol is None):
        raise ValueError(
            "Both 'rtol' and 'atol' must be either specified or omitted, but got no "
            f"{'rtol' if rtol is None else 'atol'}."
        )
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping) or set(actual) != set(expected):
            raise AssertionError(
                f"The keys of the mappings do not match: {list(actual)} vs {list(expected)}"
            )
        for k in expected:
            assert_close(actual[k], expected[k], rtol=rtol, atol=atol, equal_nan=equal_nan,
                         check_dtype=check_dtype, msg=msg)  # fmt: skip
        return
    if isinstance(expected, Sequence) and not isinstance(expected, str):
        if not isinstance(actual, Sequence) or len(actual) != len(expected):
            raise AssertionError("The sequences have different lengths")
        for a, e in zip(actual, expected):
            assert_close(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan,
                         check_dtype=check_dtype, msg=msg)  # fmt: skip
        return
    is_t = isinstance(actual, Tensor), isinstance(expected, Tensor)
    if is_t[0] != is_t[1]:
        raise TypeError(
            f"No comparison operator for types {type(actual).__name__} and "
            f"{type(expected).__name__}"
        )
    a = actual.detach().numpy() if is_t[0] else np.asarray(actual)
    e = expected.detach().numpy() if is_t[1] else np.asarray(expected)
    if a.shape != e.shape:
        raise AssertionError(
            msg or f"The values for attribute 'shape' do not match: {a.shape} != {e.shape}."
        )
    if check_dtype and is_t[0] and a.dtype != e.dtype:
        raise AssertionError(
            msg
            or f"The values for attribute 'dtype' do not match: {actual.dtype} != {expected.dtype}."
        )
    if rtol is None:
        rtol, atol = _tols(a, e)
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    close = np.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if close.all():
        return
    bad = ~close
    diff = np.abs(a64 - e64)
    diff = np.where(np.isnan(diff), np.inf, diff)
    worst = np.unravel_index(np.argmax(np.where(bad, diff, -1)), a.shape) if a.ndim else ()
    rel = diff / np.maximum(np.abs(e64), np.finfo(np.float64).tiny)
    text = (
        f"Tensor-likes are not close!\n\nMismatched elements: {int(bad.sum())} / {a.size} "
        f"({100.0 * bad.sum() / max(a.size, 1):.1f}%)\n"
        f"Greatest absolute difference: {float(diff[worst])} at index "
        f"{tuple(int(i) for i in worst)} (up to {atol} allowed)\n"
        f"Greatest relative difference: {float(np.max(np.where(bad, rel, 0)))} "
        f"(up to {rtol} allowed)"
    )
    raise AssertionError(msg if isinstance(msg, str) else msg(text) if callable(msg) else text)


def assert_allclose(
    actual: Any,
    expected: Any,
    rtol: float | None = None,
    atol: float | None = None,
    equal_nan: bool = True,
    msg: str = "",
) -> None:
    """Deprecated torch alias: ``assert_close`` without the dtype check."""
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_dtype=False,
                 msg=msg or None)  # fmt: skip
