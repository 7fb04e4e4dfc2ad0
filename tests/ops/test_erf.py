"""The vectorised erf against math.erf: dense grid, tails, signed zero, ±inf and nan."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chainrule.ops._special import erf


def _ref(x: np.ndarray) -> np.ndarray:
    return np.array([math.erf(v) for v in x.ravel()]).reshape(x.shape)


def test_float64_dense_grid_relative_error():
    x = np.concatenate(
        [
            np.linspace(-8.0, 8.0, 40001),
            np.geomspace(1e-300, 1e-3, 300),
            -np.geomspace(1e-12, 1.0, 300),
            np.linspace(1.99, 2.01, 2001),  # around the series / continued-fraction switch
            np.linspace(5.9, 6.1, 2001),  # around the switch to ±1
        ]
    )
    got = erf(x)
    ref = _ref(x)
    nz = ref != 0
    rel = np.abs(got[nz] - ref[nz]) / np.abs(ref[nz])
    assert rel.max() < 2e-15, f"max relative error {rel.max():.3e} at x={x[nz][rel.argmax()]!r}"
    assert np.all(got[~nz] == 0)


def test_tails_and_special_values():
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 30.0, -30.0, 1e308])
    got = erf(x)
    assert got[0] == 1.0 and got[1] == -1.0
    assert np.isnan(got[2])
    assert got[3] == 0.0 and not np.signbit(got[3])
    assert got[4] == 0.0 and np.signbit(got[4])
    assert got[5] == 1.0 and got[6] == -1.0 and got[7] == 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_low_precision_dtype_preserved(dtype):
    x = np.linspace(-4, 4, 1001).astype(dtype)
    got = erf(x)
    assert got.dtype == dtype
    ref = _ref(x.astype(np.float64)).astype(dtype)
    # the float64 value is rounded once, so it is the correctly rounded result, or 1 ulp off
    # when the exact value sits within ~1e-10 of a rounding boundary
    ulp = np.spacing(np.abs(ref)).astype(np.float64)
    assert np.all(np.abs(got.astype(np.float64) - ref.astype(np.float64)) <= ulp)


def test_zero_dim_and_odd():
    assert erf(np.array(0.5)).shape == ()
    x = np.linspace(0, 5, 101)
    np.testing.assert_array_equal(erf(-x), -erf(x))
