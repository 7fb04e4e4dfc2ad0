"""Test the tester: deliberately wrong VJPs must make the gradient checker fail (DESIGN §5.5)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, check_grads

import chainrule as cr


class _ScaledMul(cr.autograd.Function):
    """x·y whose gradient for x is off by ``factor``."""

    factor = 1.0

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y * _ScaledMul.factor, g * x


class _WrongAxisAdd(cr.autograd.Function):
    """x (n, n) + b (n,): the bias gradient sums over the wrong axis."""

    @staticmethod
    def forward(ctx, x, b):
        return x + b

    @staticmethod
    def backward(ctx, g):
        return g, g.sum(1)  # right: g.sum(0)


class _RightAxisAdd(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x, b):
        return x + b

    @staticmethod
    def backward(ctx, g):
        return g, g.sum(0)


class _TransposedMatmul(cr.autograd.Function):
    """a @ b whose gradient for a is g @ b instead of g @ bᵀ."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g @ b, a.T @ g


def _inputs(*shapes):
    rng = np.random.default_rng(1)
    return [rng.uniform(0.5, 2.0, s) for s in shapes]


@pytest.mark.parametrize("mode", ["full", "proj"])
def test_correct_custom_function_passes(mode):
    _ScaledMul.factor = 1.0
    check_grads(_ScaledMul.apply, _inputs((3, 4), (3, 4)), mode=mode)
    check_grads(_RightAxisAdd.apply, _inputs((3, 3), (3,)), mode=mode)


@pytest.mark.parametrize("mode", ["full", "proj"])
def test_off_by_a_tenth_of_a_percent_fails(mode):
    _ScaledMul.factor = 1.001
    try:
        with pytest.raises(AssertionError, match="gradcheck"):
            check_grads(_ScaledMul.apply, _inputs((3, 4), (3, 4)), mode=mode)
    finally:
        _ScaledMul.factor = 1.0


@pytest.mark.parametrize("mode", ["full", "proj"])
def test_wrong_broadcast_axis_fails(mode):
    with pytest.raises(AssertionError, match="gradcheck"):
        check_grads(_WrongAxisAdd.apply, _inputs((3, 3), (3,)), mode=mode)


@pytest.mark.parametrize("mode", ["full", "proj"])
def test_transposed_matmul_gradient_fails(mode):
    with pytest.raises(AssertionError, match="gradcheck"):
        check_grads(_TransposedMatmul.apply, _inputs((3, 3), (3, 3)), mode=mode)


def test_full_mode_names_input_and_index():
    with pytest.raises(AssertionError, match=r"input 0 .*d in\[\("):
        check_grads(_TransposedMatmul.apply, _inputs((2, 2), (2, 2)), mode="full")


def test_assert_close_catches_value_and_shape():
    assert_close(np.ones(3), np.ones(3))
    with pytest.raises(AssertionError):
        assert_close(np.ones(3) * 1.001, np.ones(3), rtol=1e-4)
    with pytest.raises(AssertionError, match="shape"):
        assert_close(np.ones(3), np.ones((3, 1)))
