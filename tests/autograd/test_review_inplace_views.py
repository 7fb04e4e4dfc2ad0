"""Regression tests (external-grader review): in-place ops on views and on saved outputs."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def _run(T):
    a = T.ones(2, 3, requires_grad=True)
    x = a * 1
    x[0].mul_(3)  # an in-place op on a view changes the base's graph (CopySlices)
    x[0][1] = 7
    x[:, 2].zero_()
    v = x[1]
    v *= 5
    (x * x * T.arange(6.0).reshape(2, 3)).sum().backward()
    w = T.ones(3, requires_grad=True)
    y = T.zeros(2, 3)
    y[0].copy_(w * 2)  # a base that did not require grad starts to
    (y * y).sum().backward()
    return a.grad, w.grad, y.requires_grad, y._version


def test_inplace_on_view_updates_base_gradient_like_torch() -> None:
    got, want = _run(cr), _run(torch)
    np.testing.assert_allclose(got[0].numpy(), want[0].numpy())
    np.testing.assert_allclose(got[1].numpy(), want[1].numpy())
    assert got[2:] == want[2:]


def test_inplace_on_view_of_leaf_raises() -> None:
    a = cr.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        a[0].add_(1)
    with cr.no_grad():
        a[0].add_(1)
    assert a.sum().item() == 9.0


@pytest.mark.parametrize("fn", ["exp", "sigmoid", "tanh", "sqrt"])
def test_inplace_on_saved_output_never_gives_a_silently_wrong_gradient(fn) -> None:
    x = cr.full((3,), 0.5, requires_grad=True)
    y = getattr(x, fn)()
    y.add_(1)
    try:
        y.sum().backward()
    except RuntimeError:
        return  # torch's answer (the output was saved and modified)
    xt = torch.full((3,), 0.5, requires_grad=True)
    getattr(xt, fn)().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-6)


def test_div_gradient_survives_inplace_on_its_output() -> None:
    x = cr.ones(3, requires_grad=True)
    w = cr.full((3,), 2.0, requires_grad=True)
    y = x / w
    y.add_(1)
    y.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.full(3, -0.25))


def test_function_backward_may_return_extra_none_gradients() -> None:
    class F(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x, k, flag=True):
            ctx.k = k
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None, None  # one per forward parameter, as torch allows

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    F.apply(x, 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_inplace_on_base_after_taking_a_view_never_misroutes_the_gradient() -> None:
    a = cr.ones(2, 3, requires_grad=True)
    x = a * 1
    v = x[1]
    x.mul_(2)
    try:
        (v * cr.arange(3.0)).sum().backward()
    except RuntimeError:
        return  # refused: acceptable (torch answers [[0, 0, 0], [0, 1, 2]])
    np.testing.assert_allclose(a.grad.numpy(), [[0, 0, 0], [0, 1, 2]])


def test_integer_index_is_a_view_and_fill_keeps_the_graph() -> None:
    for T in (cr, torch):
        y = T.zeros(3)
        y[1].add_(5)  # x[i] is a 0-d view in torch, so the write reaches y
        y[2].fill_(7)
        assert y.tolist() == [0.0, 5.0, 7.0]
    got = []
    for T in (cr, torch):
        x = T.tensor([2.0, 3.0], requires_grad=True)
        y = x * 3
        y[0].fill_(7)  # a non-leaf stays in the graph; the filled part gets no gradient
        z = T.zeros(2)
        z[0] = x[1] * 2
        z[1] += x[0]
        ((y * y).sum() + z.sum()).backward()
        got.append(x.grad.tolist())
    assert got[0] == got[1]
