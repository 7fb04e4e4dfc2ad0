"""Special functions NumPy lacks (erf), vectorised over whole arrays.

``erf`` is built from two classical expansions, evaluated with a fixed number of terms so each
is a handful of whole-array NumPy operations (no per-element Python):

* ``|x| < 2``: the everywhere-positive series
  ``erf(a) = 2/√π · e^{−a²} · Σₙ (2a²)ⁿ · a / (1·3·5···(2n+1))``.
  Every term is positive, so nothing cancels; 30 terms reach the float64 rounding floor
  (the n-th term ratio is 2a²/(2n+1) ≤ 8/(2n+1)).
* ``2 ≤ |x| < 6``: the continued fraction
  ``erfc(a) = e^{−a²}/√π · 1/(a + (1/2)/(a + (2/2)/(a + (3/2)/(a + …))))``,
  evaluated bottom-up from depth 45, which converges to ~4e-15 relative in erfc, i.e. a few
  1e-16 in ``erf = 1 − erfc``.
* ``|x| ≥ 6``: ``erfc(6) ≈ 2e-17`` is below half an ulp of 1, so erf is ±1.

Measured against ``math.erf`` on a dense grid: max relative error ≈ 1.2e-15 (tests/ops/test_erf.py).
float32/float16 inputs are evaluated in float64 and rounded back to their dtype.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["erf"]

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_SERIES_TERMS = 30
_CF_DEPTH = 45
_SPLIT = 2.0
_ONE = 6.0


def _erf_series(a: np.ndarray) -> np.ndarray:
    """erf(a) for 0 ≤ a ≤ 2 by the positive series."""
    two_a2 = 2.0 * a * a
    term = a.copy()
    total = a.copy()
    for n in range(1, _SERIES_TERMS + 1):
        term *= two_a2
        term *= 1.0 / (2 * n + 1)
        total += term
    return _TWO_OVER_SQRT_PI * np.exp(-a * a) * total


def _erfc_cf(a: np.ndarray) -> np.ndarray:
    """erfc(a) for 2 ≤ a ≤ 6 by the continued fraction, evaluated from the bottom up."""
    t = a.copy()
    for k in range(_CF_DEPTH, 0, -1):
        t = a + (0.5 * k) / t
    return np.exp(-a * a) * _INV_SQRT_PI / t


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise, in the dtype of ``x`` (float64 accurate to ~1e-15)."""
    x = np.asarray(x)
    out_dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    x64 = x.astype(np.float64, copy=False)
    a = np.abs(x64)
    small = np.minimum(a, _SPLIT)  # clipped copies keep both branches finite everywhere
    mid = np.clip(a, _SPLIT, _ONE)
    r = np.where(a < _SPLIT, _erf_series(small), 1.0 - _erfc_cf(mid))
    r = np.where(a >= _ONE, 1.0, r)
    r = np.where(np.isnan(a), np.nan, r)
    # copysign keeps erf odd, including erf(−0) = −0.
    return np.copysign(r, x64).astype(out_dtype, copy=False)
