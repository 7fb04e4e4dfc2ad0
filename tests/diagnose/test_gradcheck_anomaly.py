"""gradcheck (functions, wrong gradients, kinks, bad input) and detect_anomaly messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import diagnose


def test_gradcheck_function_float32_inputs_pass() -> None:
    x = cr.randn(3, 4, requires_grad=True)  # float32: gradcheck casts a float64 copy itself
    w = cr.randn(4, 2, requires_grad=True)
    assert diagnose.gradcheck(lambda a, b: (a @ b).tanh(), (x, w)) is True
    assert x.dtype == cr.float32 and x.grad is None  # caller's tensors untouched
    assert diagnose.gradcheck(lambda a, b: (a @ b).sigmoid(), (x, w), fast_mode=True) is True


class _WrongExp(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y * 1.1  # wrong by 10 %


@pytest.mark.parametrize("fast", [False, True])
def test_gradcheck_wrong_gradient_names_tensor_and_index(fast: bool) -> None:
    x = cr.tensor([0.5, -0.3, 0.2], requires_grad=True)
    with pytest.raises(diagnose.GradcheckError) as e:
        diagnose.gradcheck(_WrongExp.apply, (x,), fast_mode=fast)
    msg = str(e.value)
    assert isinstance(e.value, RuntimeError)
    assert "input 0 at index (0,)" in msg and "analytic" in msg and "numeric" in msg
    res = diagnose.gradcheck(_WrongExp.apply, (x,), raise_exception=False, fast_mode=fast)
    assert not res and res.mismatches[0].tensor == "input 0"
    m = res.mismatches[0]
    assert abs(m.analytic / m.numeric - 1.1) < 1e-4


def test_gradcheck_kink_warning() -> None:
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    res = diagnose.gradcheck(lambda a: a.relu(), x, raise_exception=False)
    assert not res.ok
    m = res.mismatches[0]
    assert m.index == (0,) and m.kink and m.left == pytest.approx(0) and m.right == pytest.approx(1)
    assert "kink" in str(res)


def test_gradcheck_integer_input_clear_error() -> None:
    with pytest.raises(ValueError, match="int64.*not differentiable"):
        diagnose.gradcheck(lambda a: a * 2, cr.tensor([1, 2, 3]))


def test_gradcheck_integer_passthrough_with_float_input() -> None:
    x = cr.randn(5, 3, requires_grad=True)
    idx = cr.tensor([0, 2, 4])
    assert diagnose.gradcheck(lambda a, i: a[i].sin(), (x, idx))


def _make_log_nan(x):
    return cr.log(x)  # LINE-LOG


def test_anomaly_forward_names_op_line_and_stats() -> None:
    x = cr.tensor([1.0, -2.0, 3.0], requires_grad=True)
    with diagnose.detect_anomaly(), pytest.raises(RuntimeError) as e:
        _make_log_nan(x)
    msg = str(e.value)
    assert "'log'" in msg
    line = next(
        i for i, s in enumerate(Path(__file__).read_text().splitlines(), 1) if "LINE-LOG" in s
    )
    assert f"{__file__}:{line}" in msg
    assert "1 nan" in msg and "min -2" in msg and "1 negative" in msg


def test_anomaly_backward_names_op_line_and_stats() -> None:
    x = cr.tensor([0.0, 4.0], requires_grad=True)
    with diagnose.detect_anomaly():
        y = cr.sqrt(x)  # LINE-SQRT
        with pytest.raises(RuntimeError) as e:
            y.sum().backward()
    msg = str(e.value)
    assert "SqrtBackward0" in msg and "'sqrt'" in msg and "1 inf" in msg
    line = next(
        i for i, s in enumerate(Path(__file__).read_text().splitlines(), 1) if "LINE-SQRT" in s
    )
    assert f"{__file__}:{line}" in msg
    assert "Forward input 0" in msg and "zeros" in msg


def test_anomaly_off_after_context() -> None:
    with diagnose.detect_anomaly():
        assert cr.autograd.is_anomaly_enabled()
    assert not cr.autograd.is_anomaly_enabled()
    with np.errstate(invalid="ignore"):
        y = cr.log(cr.tensor([-1.0]))  # no error outside the context
    assert np.isnan(y.item())


def test_gradcheck_whole_model_float32_copy() -> None:
    from _diag_nets import Linear, Sequential, Tanh

    model = Sequential(Linear(3, 4), Tanh(), Linear(4, 2))
    x = cr.randn(5, 3)
    before = {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
    res = diagnose.gradcheck(model, x, raise_exception=False)
    assert res.ok, str(res)
    assert res.checked == ["parameter '0.weight'", "parameter '0.bias'", "parameter '2.weight'",
                           "parameter '2.bias'"]  # fmt: skip
    assert diagnose.gradcheck(model, x.requires_grad_(), fast_mode=True) is True
    for n, p in model.named_parameters():  # the caller's model is untouched (float32, no grad)
        assert p.dtype == cr.float32 and p.grad is None
        assert np.array_equal(p.detach().numpy(), before[n])


def test_gradcheck_model_with_wrong_backward_names_parameter() -> None:
    from _diag_nets import Linear

    class Bad(cr.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = Linear(2, 2)

        def forward(self, x):
            return _WrongExp.apply(self.fc(x))

    res = diagnose.gradcheck(Bad(), cr.randn(3, 2), raise_exception=False)
    assert not res.ok
    assert {m.tensor for m in res.mismatches} == {"parameter 'fc.weight'", "parameter 'fc.bias'"}


def test_torch_style_gradcheck_alias_and_options() -> None:
    x = cr.randn(3, dtype=cr.float64, requires_grad=True)
    assert cr.autograd.gradcheck(lambda a: a.exp(), (x,), eps=1e-6, atol=1e-5, nondet_tol=0.0)
    assert cr.autograd.gradcheck(_WrongExp.apply, (x,), raise_exception=False) is False
    with pytest.raises(NotImplementedError, match="forward-mode"):
        diagnose.gradcheck(lambda a: a.exp(), (x,), check_forward_ad=True)
