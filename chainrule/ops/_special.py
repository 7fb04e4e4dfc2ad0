"""Special functions NumPy lacks (erf), vectorised over arrays."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["erf"]

_erf_scalar = np.frompyfunc(math.erf, 1, 1)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise, in the dtype of ``x``."""
    return _erf_scalar(x).astype(x.dtype)
