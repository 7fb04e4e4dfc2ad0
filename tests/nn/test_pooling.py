"""Max/Avg/Adaptive pooling layers: torch parity (values, indices, gradients; f32/f64; every
option), float64 gradcheck, repr, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from _layer_parity import compare_layer, gradcheck_layer

import chainrule as cr
import chainrule.nn as nn


def _distinct(shape, seed=0):
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) / n * 4.0 - 2.0


MAX2D = [
    ("MaxPool2d(2)", (2, 3, 8, 7)),
    ("MaxPool2d(3, stride=2, padding=1)", (2, 3, 9, 8)),
    (
        "MaxPool2d((3, 2), stride=(2, 1), padding=(1, 1), dilation=(2, 1), ceil_mode=True)",
        (1, 2, 9, 7),
    ),
    ("MaxPool2d(2, ceil_mode=True)", (1, 2, 7, 5)),
    ("MaxPool2d(3, stride=3, padding=1, ceil_mode=True)", (1, 2, 8, 8)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("spec", "shape"), MAX2D)
def test_max_pool2d_parity(torch, spec, shape, dtype):
    compare_layer(torch, lambda m: eval("m." + spec), [_distinct(shape)], dtype)


def test_max_pool_indices_and_1d(torch):
    x = _distinct((2, 3, 7, 6))
    t = torch.nn.MaxPool2d(3, 2, 1, return_indices=True)(torch.tensor(x))
    c = nn.MaxPool2d(3, 2, 1, return_indices=True)(cr.tensor(x))
    np.testing.assert_array_equal(c[1].numpy(), t[1].numpy())
    assert c[1].dtype == cr.int64
    x1 = _distinct((2, 3, 11))
    for spec in [
        "MaxPool1d(3, stride=2, padding=1, return_indices=True)",
        "MaxPool1d(2, dilation=2, ceil_mode=True)",
    ]:
        compare_layer(torch, lambda m, s=spec: eval("m." + s), [x1])
    compare_layer(torch, lambda m: m.MaxPool2d(2), [_distinct((3, 6, 6))])  # unbatched


def test_max_pool_ties_and_nan(torch):
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = np.nan
    t, ti = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    c, ci = cr.nn.functional.max_pool2d(cr.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(ci.numpy(), ti.numpy())  # first max wins; NaN is the max
    np.testing.assert_array_equal(np.isnan(c.numpy()), np.isnan(t.numpy()))


AVG = [
    "AvgPool2d(2)",
    "AvgPool2d(3, stride=2, padding=1)",
    "AvgPool2d(3, stride=2, padding=1, count_include_pad=False)",
    "AvgPool2d((3, 2), stride=(2, 3), padding=(1, 1), ceil_mode=True)",
    "AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)",
    "AvgPool2d(2, divisor_override=3)",
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("spec", AVG)
def test_avg_pool2d_parity(torch, spec, dtype):
    x = np.random.default_rng(1).standard_normal((2, 3, 9, 8))
    compare_layer(torch, lambda m: eval("m." + spec), [x], dtype)


@pytest.mark.parametrize(
    "spec",
    ["AvgPool1d(3)", "AvgPool1d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)"],
)
def test_avg_pool1d_parity(torch, spec):
    x = np.random.default_rng(2).standard_normal((2, 3, 10))
    compare_layer(torch, lambda m: eval("m." + spec), [x])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "spec",
    [
        "AdaptiveAvgPool2d((3, 4))",
        "AdaptiveAvgPool2d(1)",
        "AdaptiveAvgPool2d((None, 2))",
        "AdaptiveAvgPool2d((9, 8))",
        "AdaptiveMaxPool2d((3, 2))",
        "AdaptiveMaxPool2d(4, return_indices=True)",
    ],
)
def test_adaptive_parity(torch, spec, dtype):
    compare_layer(torch, lambda m: eval("m." + spec), [_distinct((2, 3, 7, 6))], dtype)


def test_adaptive_1d(torch):
    x = _distinct((2, 3, 10))
    compare_layer(torch, lambda m: m.AdaptiveAvgPool1d(4), [x])
    compare_layer(torch, lambda m: m.AdaptiveMaxPool1d(3, return_indices=True), [x])


def test_gradcheck_pools():
    x = _distinct((2, 2, 7, 6))
    gradcheck_layer(lambda m: m.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), [x])
    gradcheck_layer(lambda m: m.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), [x])
    gradcheck_layer(lambda m: m.AdaptiveAvgPool2d((3, 4)), [x])
    gradcheck_layer(lambda m: m.AdaptiveMaxPool2d((2, 3)), [x])


def test_reprs(torch):
    for spec in [
        "MaxPool2d(2)",
        "MaxPool2d((3, 2), stride=1, padding=1, dilation=2)",
        "MaxPool1d(3)",
        "AvgPool2d(3, 2, 1)",
        "AvgPool1d(4)",
        "AdaptiveAvgPool2d((2, 3))",
        "AdaptiveMaxPool2d(3)",
        "AdaptiveAvgPool1d(5)",
    ]:
        assert repr(eval("nn." + spec)) == repr(eval("torch.nn." + spec))


def test_bad_input():
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        nn.MaxPool2d(2, padding=2)(cr.randn(1, 1, 8, 8))
    with pytest.raises(RuntimeError, match=r"Output size is too small"):
        nn.MaxPool2d(3)(cr.randn(1, 1, 2, 2))
    with pytest.raises(RuntimeError, match=r"Expected 3D or 4D"):
        nn.MaxPool2d(2)(cr.randn(4, 4))
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        nn.AvgPool2d(2, padding=2)(cr.randn(1, 1, 8, 8))
    with pytest.raises(ValueError, match="kernel_size"):
        nn.MaxPool2d(0)
