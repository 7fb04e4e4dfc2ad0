"""Assigning ``.grad`` checks type, shape and dtype with torch's errors; backward still writes."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def test_wrong_size_is_rejected_and_grad_unchanged() -> None:
    x = cr.zeros(3, requires_grad=True)
    x.grad = cr.ones(3)
    with pytest.raises(RuntimeError, match=r"gradient of size '\[2\]' to a tensor of size '\[3\]'"):
        x.grad = cr.zeros(2)
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(3, np.float32))


def test_wrong_dtype_and_type_are_rejected() -> None:
    x = cr.zeros(2, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="dtype 'double' to a tensor with grad_dtype 'Float'"):
        x.grad = cr.zeros(2, 2, dtype=cr.float64)
    with pytest.raises(RuntimeError, match="dtype 'long int'"):
        x.grad = cr.zeros(2, 2, dtype=cr.int64)
    with pytest.raises(TypeError, match="Tensor or None but got grad of type ndarray"):
        x.grad = np.zeros((2, 2), np.float32)  # type: ignore[assignment]
    assert x.grad is None


def test_none_and_matching_grads_are_accepted_and_accumulated_into() -> None:
    x = cr.ones(3, requires_grad=True)
    x.grad = cr.full((3,), 10.0)
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 12.0, np.float32))
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 3.0, np.float32))


def test_matches_torch_messages() -> None:
    torch = pytest.importorskip("torch")
    cases = [((2,), "float32"), ((3,), "float64"), ((3,), "int64")]
    for shape, dt in cases:
        tx = torch.zeros(3, requires_grad=True)
        cx = cr.zeros(3, requires_grad=True)
        with pytest.raises(RuntimeError) as te:
            tx.grad = torch.zeros(shape, dtype=getattr(torch, dt))
        with pytest.raises(RuntimeError) as ce:
            cx.grad = cr.zeros(shape, dtype=getattr(cr, dt))
        assert str(ce.value) in str(te.value)
