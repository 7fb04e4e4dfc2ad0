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


@pytest.mark.parametrize("fn", ["sum", "mean", "amax", "amin", "std", "var", "norm", "nansum"])
def test_empty_dim_list_reduces_everything(fn) -> None:
    a, b = cr.arange(24.0).reshape(2, 3, 4), torch.arange(24.0).reshape(2, 3, 4)
    _same(getattr(a, fn)(dim=()), getattr(b, fn)(dim=()))
    _same(getattr(a, fn)(dim=[]), getattr(b, fn)(dim=[]))


def test_reduction_edge_cases_match_torch() -> None:
    with pytest.raises(IndexError):
        cr.tensor(3.0).sum(1)
    with pytest.raises(IndexError):
        cr.zeros(0, 3).amax(0)
    with pytest.raises(IndexError):
        cr.zeros(0, 3).max(0)
    with pytest.raises(IndexError):
        cr.zeros(0, 3).argmax()
    with pytest.raises(RuntimeError):
        cr.zeros(0, 3).amax()
    with pytest.raises(RuntimeError):
        cr.tensor([True, False]).argmax()
    with pytest.raises(RuntimeError):
        cr.tensor([1, 2, 3]).var()
    assert cr.zeros(0, 3).all().item() is True and cr.zeros(0, 3).any().item() is False
    assert cr.zeros(0, 3).all(0).shape == (3,)
    assert cr.ones(2, 2).all(dim=()).shape == (2, 2)  # torch: an empty dim list keeps all dims
    _same(cr.zeros(0, 3).logsumexp(0), torch.zeros(0, 3).logsumexp(0))
    _same(cr.zeros(0, 3).amax(1), torch.zeros(0, 3).amax(1))
    _same(
        cr.tensor([1, 2, 3]).prod(dtype=cr.int32), torch.tensor([1, 2, 3]).prod(dtype=torch.int32)
    )
    _same(
        cr.tensor([1, 2, 3], dtype=cr.uint8).cumsum(0),
        torch.tensor([1, 2, 3], dtype=torch.uint8).cumsum(0),
    )
    assert cr.tensor(3.0).median(0).values.item() == 3.0
    with pytest.raises(RuntimeError):
        cr.arange(5, 0)
    assert cr.arange(3, 3, -1).shape == (0,)


def test_sort_descending_nan_unsigned_bool_and_stability() -> None:
    v = [3.0, float("nan"), 1.0, float("inf"), float("nan"), 3.0]
    a, b = cr.tensor(v).sort(descending=True), torch.tensor(v).sort(descending=True, stable=True)
    assert a.indices.tolist() == b.indices.tolist()
    for dt in ("uint8", "bool", "int64"):
        x = [0, 1, 0, 1] if dt == "bool" else [0, 2, 1, 2]
        a = cr.tensor(x, dtype=getattr(cr, dt)).sort(descending=True)
        b = torch.tensor(x, dtype=getattr(torch, dt)).sort(descending=True, stable=True)
        assert a.indices.tolist() == b.indices.tolist()
    assert cr.tensor(2.0).sort(descending=True).values.item() == 2.0


def test_indexing_errors_and_torch_ordering() -> None:
    x = cr.arange(24.0).reshape(2, 3, 4)
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1]
    with pytest.raises(ValueError):
        x[:, ::-2] = 0.0
    with pytest.raises(IndexError):
        x[1.5]
    with pytest.raises(IndexError):
        x[cr.tensor([0.0])]
    xt = torch.arange(24.0).reshape(2, 3, 4)
    for key in [(0, slice(None), [1, 2]), (1, None, slice(None), [0, 3]), (-1, [0, 2], -1)]:
        _same(x[key], xt[key])
    a = cr.ones(2, 3, 4, requires_grad=True)
    at = torch.ones(2, 3, 4, requires_grad=True)
    w = cr.ones(3, 2, requires_grad=True)
    wt = torch.ones(3, 2, requires_grad=True)
    y, yt = a * 1, at * 1
    y[0, :, [1, 2]] = w * 3
    yt[0, :, [1, 2]] = wt * 3
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    _same(a.grad, at.grad)
    _same(w.grad, wt.grad)
    z, zt = cr.zeros(2, 3, 4), torch.zeros(2, 3, 4)
    z[0, :, 0] = cr.tensor([1.0, 2.0, 3.0]).unsqueeze(0)  # leading size-1 dims are dropped
    zt[0, :, 0] = torch.tensor([1.0, 2.0, 3.0]).unsqueeze(0)
    _same(z, zt)


def test_shape_and_return_type_reprs_match_torch() -> None:
    x, xt = cr.ones(2, 3), torch.ones(2, 3)
    assert repr(x.shape) == repr(xt.shape) and repr(x.size()) == repr(xt.size())
    assert x.shape == (2, 3) and isinstance(x.shape, tuple) and x.shape.numel() == 6
    a = cr.tensor([[3.0, 1.0], [2.0, 5.0]])
    b = torch.tensor([[3.0, 1.0], [2.0, 5.0]])
    assert repr(a.max(1)) == repr(b.max(1))
    assert repr(a.sort(1)) == repr(b.sort(1))
    assert repr(a.median(1)) == repr(b.median(1))
    v, i = a.topk(1)
    assert v.shape == (2, 1) and i.dtype == cr.int64


def test_scalar_promotion_in_where_clamp_and_integer_pow() -> None:
    c = cr.tensor([True, False])
    assert cr.where(c, 1.0, 0).dtype == cr.float32
    assert cr.where(c, 1, 0).dtype == cr.int64
    assert cr.clamp(cr.tensor([1, 5]), min=2.5).dtype == cr.float32
    b, e = [-1, 1, 2, 0, -1, 3], [-1, -2, -1, -1, -2, 2]
    _same(cr.tensor(b) ** cr.tensor(e), torch.tensor(b) ** torch.tensor(e))
    with pytest.raises(RuntimeError, match="negative integer powers"):
        cr.tensor([2]) ** -1
    with pytest.raises(RuntimeError, match="zero-dimensional"):
        cr.cat([cr.tensor(1.0), cr.tensor(2.0)])


def test_sign_of_nan_and_bool_and_nonzero_of_0d() -> None:
    _same(
        cr.sign(cr.tensor([-1.5, 0.0, float("nan")])),
        torch.sign(torch.tensor([-1.5, 0.0, float("nan")])),
    )
    assert cr.sign(cr.tensor([True, False])).tolist() == [True, False]
    assert cr.nonzero(cr.tensor(2.5)).shape == (1, 0)
    assert cr.nonzero(cr.tensor(0.0)).shape == (0, 0)


def test_bitwise_ops_on_floats_raise_not_implemented() -> None:
    with pytest.raises(NotImplementedError, match="bitwise_and_cpu"):
        cr.tensor([1.5]) & 1
    with pytest.raises(NotImplementedError):
        cr.tensor([1]) | cr.tensor([2.0])
    assert (cr.tensor([3]) & 1).tolist() == [1]
    assert (cr.tensor([True]) | False).tolist() == [True]


def _grads(T, expr: str, init: list) -> tuple:
    x = T.tensor(init, dtype=T.float64, requires_grad=True)
    y = eval(expr, {"T": T, "x": x})
    (y * T.arange(1.0, 1 + y.numel(), dtype=T.float64).reshape(y.shape)).sum().backward()
    return y, x.grad


@pytest.mark.parametrize(
    "expr, init",
    [
        ("x.max()", [[1.0, float("nan"), 3.0], [2.0, 5.0, 0.0]]),
        ("x.min()", [[1.0, float("nan"), 3.0], [2.0, 5.0, 0.0]]),
        ("x.abs()", [[1.0, float("nan"), -3.0], [2.0, 0.0, 0.0]]),
        ("x.topk(2)[0]", [[1.0, float("nan"), 3.0], [2.0, 5.0, 0.0]]),
        ("x.median()", [[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]),
    ],
)
def test_nan_and_tie_gradients_match_torch(expr: str, init: list) -> None:
    (ya, ga), (yb, gb) = _grads(cr, expr, init), _grads(torch, expr, init)
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy())
    np.testing.assert_allclose(ga.numpy(), gb.numpy())


def test_einsum_trace_with_repeated_index_has_a_gradient() -> None:
    for eq, shape in (("ii->", (3, 3)), ("iij->", (2, 2, 3))):
        x = cr.arange(float(np.prod(shape))).reshape(shape).requires_grad_()
        xt = torch.arange(float(np.prod(shape))).reshape(shape).requires_grad_()
        y, yt = cr.einsum(eq, x), torch.einsum(eq, xt)
        y.backward()
        yt.backward()
        _same(y, yt)
        _same(x.grad, xt.grad)


def test_var_mean_signature_correction_overflow_and_cat_empty_promotion() -> None:
    a, b = cr.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 2.0, 4.0])
    for got, want in zip(cr.var_mean(a, unbiased=False), torch.var_mean(b, unbiased=False)):
        _same(got, want)
    for got, want in zip(cr.std_mean(a, 0, True), torch.std_mean(b, 0, True)):
        _same(got, want)
    assert cr.tensor([1.0, 2.0]).var(correction=3).item() == float("inf")
    assert np.isnan(cr.tensor([5.0]).std().item())
    assert cr.cat([cr.zeros(0), cr.tensor([1, 2])]).dtype == cr.float32


def test_flip_method_accepts_varargs_like_torch() -> None:
    x, xt = cr.tensor([[1, 2], [3, 4]]), torch.tensor([[1, 2], [3, 4]])
    _same(x.flip(0, 1), xt.flip(0, 1))
    _same(x.flip((0,)), xt.flip((0,)))
    _same(x.flip(dims=[1]), xt.flip(dims=[1]))


def test_out_of_range_python_int_wraps_like_torch() -> None:
    for op in (
        lambda T: T.tensor([250], dtype=T.uint8) + 300,
        lambda T: T.tensor([1], dtype=T.int8) * 1000,
    ):
        _same(op(cr), op(torch))
