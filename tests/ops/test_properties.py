"""Property tests (Hypothesis, ci profile): gradient shapes under broadcasting, VJP linearity,
sum consistency, softmax invariants, float32 preservation (DESIGN §5.6)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import check_grads, float_outputs
from opdb import all_specs, cases, make_inputs

import chainrule as cr

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

_BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "maximum": cr.maximum,
    "minimum": cr.minimum,
    "where": lambda a, b: cr.where(a > 0.9, a, b),
}
_UNARY = ["exp", "tanh", "sigmoid", "relu", "abs", "square", "sin", "erf", "neg"]

pair_shapes = hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4)


def _values(shape, seed, lo=0.5, hi=2.0):
    return np.random.default_rng(seed).uniform(lo, hi, shape)


@given(shapes=pair_shapes, op=st.sampled_from(sorted(_BINARY)), seed=st.integers(0, 2**16))
def test_binary_grad_shape_equals_input_shape(shapes, op, seed):
    sa, sb = shapes.input_shapes
    a = cr.tensor(_values(sa, seed), dtype=cr.float64, requires_grad=True)
    b = cr.tensor(_values(sb, seed + 1), dtype=cr.float64, requires_grad=True)
    out = _BINARY[op](a, b)
    assert out.shape == shapes.result_shape
    out.backward(cr.ones_like(out))
    assert a.grad.shape == sa and b.grad.shape == sb
    check_grads(_BINARY[op], [a.detach().numpy(), b.detach().numpy()], mode="proj", n_proj=1)


@given(shape=hnp.array_shapes(min_dims=0, max_dims=4, max_side=5), op=st.sampled_from(_UNARY))
def test_unary_float32_in_float32_out(shape, op):
    x = cr.tensor(_values(shape, 0, -2.0, 2.0), dtype=cr.float32, requires_grad=True)
    y = getattr(cr, op)(x)
    assert y.dtype == cr.float32 and y.shape == shape
    y.backward(cr.ones_like(y))
    assert x.grad.dtype == cr.float32 and x.grad.shape == shape


@given(shapes=pair_shapes, op=st.sampled_from(["add", "mul", "maximum"]))
def test_binary_float32_preserved(shapes, op):
    sa, sb = shapes.input_shapes
    a = cr.tensor(_values(sa, 0), dtype=cr.float32, requires_grad=True)
    b = cr.tensor(_values(sb, 1), dtype=cr.float32, requires_grad=True)
    out = _BINARY[op](a, b)
    assert out.dtype == cr.float32
    out.sum().backward()
    assert a.grad.dtype == cr.float32 and b.grad.dtype == cr.float32


@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=1, max_dims=4, max_side=4),
    seed=st.integers(0, 100),
)
def test_sum_consistency_of_expand(shapes, seed):
    (src,) = shapes.input_shapes
    target = shapes.result_shape
    x = cr.tensor(_values(src, seed), dtype=cr.float64, requires_grad=True)
    x.expand(target).sum().backward()
    factor = math.prod(target) / max(math.prod(src), 1)
    np.testing.assert_allclose(x.grad.numpy(), np.full(src, factor))


@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
    data=st.data(),
)
def test_softmax_invariants(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    scale = data.draw(st.sampled_from([1.0, 10.0, 100.0]))
    arr = _values(shape, 3, -1.0, 1.0) * scale
    x = cr.tensor(arr, dtype=cr.float64, requires_grad=True)
    y = cr.softmax(x, dim)
    np.testing.assert_allclose(y.sum(dim).detach().numpy(), 1.0, rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 0.0, atol=1e-12)
    ls = cr.log_softmax(x.detach(), dim)
    np.testing.assert_allclose(ls.exp().numpy(), y.detach().numpy(), rtol=1e-12)
    # shift invariance
    shifted = cr.softmax(x.detach() + 3.0, dim)
    np.testing.assert_allclose(shifted.numpy(), y.detach().numpy(), rtol=1e-10)


def _leaf_inputs(spec, sample):
    arrays = make_inputs(spec, sample)
    inputs, leaves, kwargs = [], [], dict(sample.kwargs)
    for a in arrays:
        if isinstance(a, int | float):
            inputs.append(a)
        elif a.dtype.kind == "f":
            t = cr.tensor(a, dtype=cr.float64, requires_grad=True)
            inputs.append(t)
            leaves.append(t)
        else:
            kwargs["index"] = a
    return inputs, leaves, kwargs


@pytest.mark.parametrize(("spec", "sample"), cases(all_specs()))
def test_vjp_is_linear_and_repeatable(spec, sample):
    """vjp(a·g₁ + b·g₂) = a·vjp(g₁) + b·vjp(g₂), through the same retained graph three times
    (catches VJPs that mutate what they captured)."""
    inputs, leaves, kwargs = _leaf_inputs(spec, sample)
    fn = spec.check_fn or spec.fn
    outs = [o for o in float_outputs(fn(*inputs, **kwargs)) if o.requires_grad]
    if not outs or not leaves:
        pytest.skip("no differentiable output")
    rng = np.random.default_rng(5)
    g1 = [rng.standard_normal(o.shape) for o in outs]
    g2 = [rng.standard_normal(o.shape) for o in outs]
    a, b = 1.7, -0.6

    def vjp(gs):
        got = cr.autograd.grad(
            outs, leaves, [cr.tensor(g) for g in gs], retain_graph=True, allow_unused=True
        )
        return [np.zeros(t.shape) if g is None else g.numpy() for t, g in zip(leaves, got)]

    r1, r2 = vjp(g1), vjp(g2)
    r12 = vjp([a * x + b * y for x, y in zip(g1, g2)])
    for x, y, z in zip(r1, r2, r12):
        np.testing.assert_allclose(z, a * x + b * y, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(vjp(g1)[0], r1[0])
