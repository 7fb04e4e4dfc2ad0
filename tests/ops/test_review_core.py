"""Regression tests from the external-grader review of the core against PyTorch semantics."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def _same(a: cr.Tensor, b: torch.Tensor) -> None:
    assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6, atol=1e-12)


def test_fmod_has_sign_of_dividend_and_grad() -> None:
    x, y = [-7.5, 7.5, 3.0, -3.0], [2.0, -2.0, -4.0, 4.0]
    xa = cr.tensor(x, dtype=cr.float64, requires_grad=True)
    ya = cr.tensor(y, dtype=cr.float64, requires_grad=True)
    xb = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    yb = torch.tensor(y, dtype=torch.float64, requires_grad=True)
    oa, ob = cr.fmod(xa, ya), torch.fmod(xb, yb)
    _same(oa, ob)
    oa.sum().backward()
    ob.sum().backward()
    _same(xa.grad, xb.grad)
    _same(ya.grad, yb.grad)
    _same(cr.tensor([-7, 7]).fmod(3), torch.tensor([-7, 7]).fmod(3))
    _same(cr.remainder(cr.tensor([-7, 7]), 3), torch.remainder(torch.tensor([-7, 7]), 3))


@pytest.mark.parametrize(
    "fn",
    [
        lambda T, a, b: a // b,
        lambda T, a, b: a % b,
        lambda T, a, b: T.fmod(a, b),
        lambda T, a, b: T.div(a, b, rounding_mode="trunc"),
        lambda T, a, b: T.div(a, b, rounding_mode="floor"),
    ],
)
def test_integer_division_by_zero_and_bool_raise_like_torch(fn) -> None:
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        fn(cr, cr.tensor([5, 6]), cr.tensor([1, 0]))
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        fn(cr, cr.tensor([5, 6]), 0)
    with pytest.raises(NotImplementedError):
        fn(cr, cr.tensor([True]), cr.tensor([True]))
    # float operands are IEEE (no error), as in torch
    fn(cr, cr.tensor([5.0]), 0.0)
