"""Exact values and gradients at non-differentiable points, against torch (DESIGN §2.6):
relu'(0) = 0, abs'(0) = 0, clamp passes the gradient at its bounds, ties in max/min/amax split
evenly, elementwise maximum/minimum split ties half and half, max(dim) routes to its index."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

X = [[-1.0, 0.0, 1.0], [2.0, 2.0, -3.0]]
TIES = [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]

CASES = {
    "relu": (lambda m, x: m.relu(x), X),
    "abs": (lambda m, x: m.abs(x), X),
    "clamp-bounds": (lambda m, x: m.clamp(x, -1.0, 1.0), X),
    "clamp-min-only": (lambda m, x: m.clamp(x, min=0.0), X),
    "clamp-max-only": (lambda m, x: m.clamp(x, max=2.0), X),
    "max-full": (lambda m, x: m.max(x), TIES),
    "min-full": (lambda m, x: m.min(x), TIES),
    "amax-dim1": (lambda m, x: m.amax(x, 1), TIES),
    "amin-dim0": (lambda m, x: m.amin(x, 0), [[1.0, 2.0, 2.0], [1.0, 2.0, 0.0]]),
    "amax-all": (lambda m, x: m.amax(x, (0, 1)), TIES),
    "max-dim-values": (lambda m, x: m.max(x, 1).values, [[1.0, 3.0, 0.0], [2.0, 1.0, 0.0]]),
    "sqrt-norm-zero": (lambda m, x: m.norm(x, dim=1), [[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]]),
    "pow-zero-base": (lambda m, x: m.pow(x, 2.0), X),
    "pow-zero-exp": (lambda m, x: m.pow(x, 0.0), X),
    "prod-zero": (lambda m, x: m.prod(x, 1), [[0.0, 2.0, 3.0], [0.0, 0.0, 1.0]]),
    "sign-abs": (lambda m, x: m.abs(x) * 2.0, [[0.0, -0.0, 1.0]]),
}


def _maximum(m, x):
    return m.maximum(x, m.zeros_like(x) + 2.0)


CASES["maximum-ties"] = (_maximum, X)
CASES["minimum-ties"] = (lambda m, x: m.minimum(x, m.zeros_like(x) + 2.0), X)


def _pair(m, a, b):
    return m.maximum(a, b) + m.minimum(a, b) * 3.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_kink_matches_torch(case, dtype):
    f, vals = CASES[case]
    x = cr.tensor(vals, dtype=getattr(cr, dtype), requires_grad=True)
    tx = torch.tensor(vals, dtype=getattr(torch, dtype), requires_grad=True)
    y, ty = f(cr, x), f(torch, tx)
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    g = np.arange(1.0, 1.0 + y.numel()).reshape(y.shape)
    y.backward(cr.tensor(g, dtype=y.dtype))
    ty.backward(torch.tensor(g, dtype=ty.dtype))
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    assert x.grad.dtype == x.dtype


def test_maximum_minimum_ties_both_sides():
    a = [[1.0, 2.0, 3.0]]
    b = [[1.0, 0.0, 3.0]]
    ca, cb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    _pair(cr, ca, cb).sum().backward()
    _pair(torch, ta, tb).sum().backward()
    np.testing.assert_array_equal(ca.grad.numpy(), ta.grad.numpy())
    np.testing.assert_array_equal(cb.grad.numpy(), tb.grad.numpy())


def test_relu_grad_at_zero_is_zero():
    x = cr.tensor([0.0], requires_grad=True)
    x.relu().sum().backward()
    assert x.grad.item() == 0.0


def test_clamp_with_tensor_bounds():
    x = cr.tensor([-1.0, 0.0, 1.0, 2.0], requires_grad=True)
    lo = cr.tensor([0.0, 0.0, 0.0, 0.0])
    tx = torch.tensor([-1.0, 0.0, 1.0, 2.0], requires_grad=True)
    cr.clamp(x, lo, 1.0).sum().backward()
    torch.clamp(tx, torch.zeros(4), torch.tensor(1.0)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
