"""nn.utils: clip_grad_norm_ / clip_grad_value_ / parameter-vector conversion vs torch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import utils as cu

torch = pytest.importorskip("torch")
tu = torch.nn.utils

RNG = np.random.default_rng(3)
GRADS = [RNG.standard_normal(s) * 3 for s in [(4, 5), (5,), (2, 3, 2)]]


def _params(lib, dtype, grads=GRADS, with_none=True):
    ps = []
    for g in grads:
        p = lib.zeros(g.shape, dtype=dtype, requires_grad=True)
        p.grad = lib.tensor(g, dtype=dtype)
        ps.append(p)
    if with_none:
        ps.append(lib.zeros(3, dtype=dtype, requires_grad=True))  # no grad: ignored
    return ps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, "inf", 0.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    tps = _params(torch, getattr(torch, dtype))
    cps = _params(cr, getattr(cr, dtype))
    tn = tu.clip_grad_norm_(tps, max_norm, norm_type=norm_type)
    cn = cu.clip_grad_norm_(cps, max_norm, norm_type=norm_type)
    assert isinstance(cn, cr.Tensor) and cn.shape == () and cn.dtype == getattr(cr, dtype)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(cn.item(), tn.item(), rtol=rtol)
    for t, c in zip(tps, cps, strict=True):
        if t.grad is None:
            assert c.grad is None
        else:
            np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=rtol)


def test_clip_grad_norm_single_tensor_empty_and_nonfinite():
    p = cr.zeros(3, requires_grad=True)
    p.grad = cr.tensor([3.0, 4.0, 0.0])
    n = cu.clip_grad_norm_(p, 1.0)
    assert n.item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8, 0.0], rtol=1e-5)
    assert cu.clip_grad_norm_([], 1.0).item() == 0.0
    with pytest.warns(UserWarning, match="empty generator"):
        cu.clip_grad_norm_((q for q in []), 1.0)
    p.grad = cr.tensor([float("nan"), 1.0, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        cu.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    q = torch.zeros(3, requires_grad=True)
    q.grad = torch.tensor([float("inf"), 1.0, 1.0])
    p.grad = cr.tensor([float("inf"), 1.0, 1.0])
    tn = tu.clip_grad_norm_([q], 1.0)
    cn = cu.clip_grad_norm_([p], 1.0)
    assert math.isinf(cn.item()) and math.isinf(tn.item())
    np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


@pytest.mark.parametrize("clip", [0.1, 2.0])
def test_clip_grad_value_matches_torch(clip):
    tps, cps = _params(torch, torch.float64), _params(cr, cr.float64)
    assert tu.clip_grad_value_(tps, clip) is None
    assert cu.clip_grad_value_(cps, clip) is None
    for t, c in zip(tps[:-1], cps[:-1], strict=True):
        np.testing.assert_array_equal(c.grad.numpy(), t.grad.numpy())


def test_parameters_vector_round_trip():
    ps = [cr.tensor(RNG.standard_normal(s), requires_grad=True) for s in [(2, 3), (4,)]]
    v = cu.parameters_to_vector(ps)
    assert v.shape == (10,) and v.requires_grad
    np.testing.assert_array_equal(
        v.detach().numpy(), np.concatenate([p.detach().numpy().ravel() for p in ps])
    )
    (v * cr.arange(10.0)).sum().backward()
    np.testing.assert_array_equal(ps[1].grad.numpy(), [6.0, 7.0, 8.0, 9.0])
    cu.vector_to_parameters(cr.arange(10.0, dtype=cr.float64), ps)
    np.testing.assert_array_equal(ps[0].detach().numpy(), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(ps[1].detach().numpy(), np.arange(6.0, 10.0))
    with pytest.raises(TypeError, match="expected torch.Tensor"):
        cu.vector_to_parameters(np.zeros(10), ps)


def test_clip_inside_training_keeps_optimizer_buffers():
    ps = [cr.tensor(RNG.standard_normal((3, 3)), requires_grad=True) for _ in range(2)]
    tps = [torch.tensor(p.detach().numpy().copy(), requires_grad=True) for p in ps]
    opt = cr.optim.SGD(ps, lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(tps, lr=0.1, momentum=0.9)
    for _ in range(5):
        for o, pp, u in ((opt, ps, cu), (topt, tps, tu)):
            o.zero_grad()
            ((pp[0] @ pp[1]) ** 2).sum().backward()
            u.clip_grad_norm_(pp, 1.0)
            o.step()
    for t, c in zip(tps, ps, strict=True):
        np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=1e-10)
