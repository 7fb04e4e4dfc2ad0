"""Autograd engine semantics (issue 3 §5): each test asserts something that can fail."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest
from helpers import check_grads

import chainrule as cr
from chainrule.autograd import engine


def test_ten_thousand_op_chain_has_no_recursion_error():
    x = cr.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001**10_000, rel=1e-3)


def test_leaf_gradients_accumulate_across_backward_calls():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])


def test_fan_out_accumulates():
    x = cr.tensor(2.0, requires_grad=True)
    y = x * x
    z = y + y * x + x  # x used three times, y twice
    z.backward()
    # z = x² + x³ + x → 2x + 3x² + 1
    assert x.grad.item() == pytest.approx(2 * 2 + 3 * 4 + 1)


def test_fan_out_grads_do_not_alias():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    w = cr.tensor([1.0, 1.0], requires_grad=True)
    (x + w).sum().backward()
    x.grad._data[0] = 100.0
    assert w.grad.numpy()[0] == 1.0


def test_second_backward_without_retain_graph_raises_torch_text():
    x = cr.tensor(1.0, requires_grad=True)
    y = (x * 2).exp()
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = cr.tensor(1.0, requires_grad=True)
    y = (x * 2).exp()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == pytest.approx(4 * np.exp(2.0), rel=1e-6)


def test_non_scalar_backward_without_gradient_raises():
    x = cr.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
        (x * 2).backward()


def test_backward_with_gradient():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).backward(gradient=cr.tensor([1.0, 0.1, 0.01]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.4, 0.06], rtol=1e-6)


def test_backward_gradient_shape_mismatch_raises():
    x = cr.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(cr.ones(4))


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.ones(2).sum().backward()


def test_autograd_grad_returns_and_leaves_grad_alone():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = cr.tensor([3.0, 4.0], requires_grad=True)
    (gx, gy) = cr.autograd.grad((x * y).sum(), [x, y])
    np.testing.assert_allclose(gx.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(gy.numpy(), [1.0, 2.0])
    assert x.grad is None and y.grad is None


def test_autograd_grad_of_intermediate_and_grad_outputs():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    out = h * h
    (gh,) = cr.autograd.grad(out, h, grad_outputs=cr.tensor([1.0, 1.0]))
    np.testing.assert_allclose(gh.numpy(), [4.0, 8.0])


def test_autograd_grad_allow_unused():
    x = cr.tensor(1.0, requires_grad=True)
    unused = cr.tensor(1.0, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        cr.autograd.grad(y, [x, unused], retain_graph=True)
    gx, gu = cr.autograd.grad(y, [x, unused], allow_unused=True)
    assert gx.item() == 2.0 and gu is None


def test_autograd_grad_input_not_requiring_grad_raises():
    x = cr.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.autograd.grad(x * 2, cr.tensor(1.0))


def test_retain_grad_keeps_non_leaf_grad():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    k = x * 2
    (h * k).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [2.0, 4.0])
    assert k.grad is None
    assert h.retains_grad and not k.retains_grad


def test_register_hook_sees_and_replaces_grad():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    h = x * 3
    h.register_hook(lambda g: g * 10)
    h.sum().backward()
    np.testing.assert_allclose(seen[0], [30.0, 30.0])
    np.testing.assert_allclose(x.grad.numpy(), [30.0, 30.0])


def test_hook_handle_remove():
    x = cr.tensor(1.0, requires_grad=True)
    handle = x.register_hook(lambda g: g * 0)
    handle.remove()
    (x * 5).backward()
    assert x.grad.item() == 5.0


def test_leaf_hook_can_replace_grad():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g + 1)
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_no_grad_enable_grad_set_grad_enabled_as_context_managers():
    x = cr.ones(2, requires_grad=True)
    with cr.no_grad():
        assert not (x * 2).requires_grad
        assert not cr.is_grad_enabled()
        with cr.enable_grad():
            assert (x * 2).requires_grad
    assert cr.is_grad_enabled()
    with cr.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    cr.set_grad_enabled(False)
    try:
        assert (x * 2).grad_fn is None
    finally:
        cr.set_grad_enabled(True)


def test_grad_modes_as_decorators():
    x = cr.ones(2, requires_grad=True)

    @cr.no_grad()
    def f():
        return x * 2

    @cr.enable_grad()
    def g():
        return x * 2

    @cr.set_grad_enabled(False)
    def h():
        return x * 2

    assert not f().requires_grad
    with cr.no_grad():
        assert g().requires_grad
    assert not h().requires_grad
    assert cr.is_grad_enabled()


def test_detach_shares_memory_and_cuts_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None
    d._data[0] = 7.0
    assert y._data[0] == 7.0


def test_requires_grad_on_int_raises_runtime_error():
    with pytest.raises(RuntimeError, match="floating point"):
        cr.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        cr.zeros(2, dtype=cr.int64, requires_grad=True)


def test_is_leaf_and_grad_fn_name():
    x = cr.ones(2, requires_grad=True)
    y = x * 2
    assert x.is_leaf and not y.is_leaf
    assert y.grad_fn.name() == "MulBackward0"
    assert (x + 1).grad_fn.name() == "AddBackward0"
    assert x.sum().grad_fn.name() == "SumBackward0"
    assert cr.ones(2).is_leaf


def test_inplace_on_leaf_requiring_grad_raises_and_changes_nothing():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    for f in (lambda: x.add_(1), lambda: x.mul_(2), lambda: x.zero_(), lambda: x.fill_(3)):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            f()
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x += 1
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x[0] = 5.0
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, 2.0])


def test_inplace_of_saved_tensor_then_backward_raises():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    y = h * h  # saves h
    h.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_inplace_on_non_leaf_is_differentiable():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.mul_(3.0)
    h.add_(1.0)
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])


def test_inplace_on_leaf_under_no_grad_allowed():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with cr.no_grad():
        w.add_(1.0)
        w -= 0.5
        w.mul_(2)
        w.clamp_(max=4.0)
        w[0] = 0.0
        w.uniform_()
        w.normal_()
        w.copy_(cr.tensor([9.0, 8.0]))
    assert w.requires_grad and w.is_leaf
    np.testing.assert_array_equal(w.detach().numpy(), [9.0, 8.0])


def test_sgd_step_through_data_view():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    w.data.add_(w.grad, alpha=-0.1)
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6])


def test_setitem_with_grads():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = cr.tensor(5.0, requires_grad=True)
    y = x * 1
    y[1] = v * 2
    (y * cr.tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 0.0, 100.0])
    assert v.grad.item() == 20.0


def test_setitem_plain_tensor_writes_and_bumps_version():
    x = cr.zeros(3)
    x[1:] = cr.tensor([1.0, 2.0])
    x[0] = 7
    np.testing.assert_array_equal(x.numpy(), [7.0, 1.0, 2.0])


class Cube(cr.autograd.Function):
    """y = x³"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x * x * g


class MulConst(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        return x * k

    @staticmethod
    def backward(ctx, g):
        return g * ctx.k, None


def test_custom_function_forward_backward_and_gradcheck():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn is not None and "Cube" in y.grad_fn.name()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])
    check_grads(Cube.apply, [np.array([0.5, -1.5, 2.0])])
    check_grads(lambda t: MulConst.apply(t, 2.5), [np.array([0.5, -1.5])])


def test_custom_function_composes_with_builtin_ops():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (Cube.apply(x * 2) + x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 * 4 * 2 + 1, 3 * 16 * 2 + 1])


def test_custom_function_wrong_number_of_grads_raises():
    class Bad(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    x = cr.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        Bad.apply(x, x).sum().backward()


def test_observer_sees_every_node():
    seen = []

    def obs(node, g_out, g_ins):
        seen.append((node.name(), np.shape(g_out), len(g_ins)))

    engine.add_observer(obs)
    try:
        x = cr.ones(2, 3, requires_grad=True)
        (x.exp() * 2).sum().backward()
    finally:
        engine.remove_observer(obs)
    names = [s[0] for s in seen]
    assert names == ["SumBackward0", "MulBackward0", "ExpBackward0"]
    assert seen[0][1] == ()
    x2 = cr.ones(2, requires_grad=True)
    (x2 * 2).sum().backward()
    assert len(seen) == 3  # removed observers are not called


def test_graph_is_released_after_backward():
    x = cr.ones(1000, requires_grad=True)
    y = (x * 2).exp().sum()
    node = y.grad_fn
    y.backward()
    assert node.vjp is None


def test_training_loop_memory_does_not_grow():
    rng = np.random.default_rng(0)
    w = cr.tensor(rng.standard_normal((16, 8)) * 0.1, dtype=cr.float32, requires_grad=True)
    b = cr.zeros(8, requires_grad=True)
    xs = cr.tensor(rng.standard_normal((32, 16)), dtype=cr.float32)
    ys = cr.tensor(rng.standard_normal((32, 8)), dtype=cr.float32)

    def step():
        loss = ((xs @ w + b).tanh() - ys).square().mean()
        loss.backward()
        with cr.no_grad():
            w.sub_(w.grad * 0.01)
            b.sub_(b.grad * 0.01)
        w.grad = None
        b.grad = None

    for _ in range(50):
        step()
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(1000):
            step()
        gc.collect()
        first, _ = tracemalloc.get_traced_memory()
        for _ in range(1000):
            step()
        gc.collect()
        second, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert second - first < 64 * 1024, f"memory grew by {second - first} bytes in 1000 steps"


def test_sum_to_shape_errors_name_shapes():
    with pytest.raises(RuntimeError, match=r"\(2, 3\).*\(4,\)"):
        engine.sum_to_shape(np.ones((2, 3)), (4,))
    np.testing.assert_array_equal(engine.sum_to_shape(np.ones((2, 3)), (1, 3)), [[2, 2, 2]])
    np.testing.assert_array_equal(engine.sum_to_shape(np.ones((4, 2, 3)), (3,)), [8, 8, 8])


def test_create_graph_is_rejected_clearly():
    x = cr.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="first-order"):
        (x * x).sum().backward(create_graph=True)


def test_detect_anomaly_names_the_op():
    x = cr.tensor([-1.0, 1.0], requires_grad=True)
    with cr.autograd.detect_anomaly(), pytest.raises(RuntimeError, match="log"):
        x.log().sum().backward()


def test_multi_output_op_partial_use():
    x = cr.tensor([[1.0, 5.0], [3.0, 2.0]], requires_grad=True)
    a, b = x.split(1, dim=0)
    (b * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 0.0], [2.0, 2.0]])
    v = cr.max(x.detach().requires_grad_(), 1)
    assert v.indices.tolist() == [1, 0]
