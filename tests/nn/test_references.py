"""Fused nn ops (part 1) vs autodiff of their primitive-only decompositions in
``tests/references.py``: same values, same VJP (float64)."""

from __future__ import annotations

import numpy as np
import pytest
import references as R

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.ops.nn import misc as M

_RNG = np.random.default_rng(0)


def _u(*shape):
    return _RNG.uniform(-2, 2, shape)


def _probs(*shape):
    p = _RNG.uniform(0.05, 1.0, shape)
    return p / p.sum(1, keepdims=True)


_T5 = np.array([0, 3, 1, 2, 3])
_T6_IGN = np.array([0, -100, 1, 2, -100, 3])
_W4 = np.array([0.5, 2.0, 1.0, 1.5])
_MASK = _RNG.random((3, 4)) >= 0.4
_IDX = np.array([[1, 2, 4], [4, 3, 1]])

# (id, fused fn, reference fn, float inputs, constant kwargs)
CASES = [
    ("linear", F.linear, R.linear, [_u(4, 3), _u(5, 3), _u(5)], {}),
    ("linear-3d", F.linear, R.linear, [_u(2, 4, 3), _u(5, 3)], {}),
    ("bilinear", F.bilinear, R.bilinear, [_u(4, 3), _u(4, 2), _u(5, 3, 2), _u(5)], {}),
    ("gelu", F.gelu, R.gelu, [_u(3, 4)], {}),
    ("gelu-tanh", F.gelu, R.gelu, [_u(3, 4)], {"approximate": "tanh"}),
    ("silu", F.silu, R.silu, [_u(3, 4)], {}),
    ("mish", F.mish, R.mish, [_u(3, 4)], {}),
    ("elu", F.elu, R.elu, [_u(3, 4)], {"alpha": 0.7}),
    ("selu", F.selu, R.selu, [_u(3, 4)], {}),
    ("celu", F.celu, R.celu, [_u(3, 4)], {"alpha": 1.5}),
    ("softplus", F.softplus, R.softplus, [_u(3, 4) * 10], {"beta": 2.0, "threshold": 7.0}),
    ("leaky_relu", F.leaky_relu, R.leaky_relu, [_u(3, 4)], {"negative_slope": 0.1}),
    ("hardtanh", F.hardtanh, R.hardtanh, [_u(3, 4)], {"min_val": -0.5, "max_val": 1.2}),
    ("relu6", F.relu6, R.relu6, [_u(3, 4) * 4], {}),
    ("hardswish", F.hardswish, R.hardswish, [_u(3, 4) * 2.5], {}),
    ("hardsigmoid", F.hardsigmoid, R.hardsigmoid, [_u(3, 4) * 2.5], {}),
    ("logsigmoid", F.logsigmoid, R.logsigmoid, [_u(3, 4) * 10], {}),
    ("softsign", F.softsign, R.softsign, [_u(3, 4)], {}),
    ("threshold", F.threshold, R.threshold, [_u(3, 4)], {"threshold": 0.3, "value": -1.0}),
    ("prelu", F.prelu, R.prelu, [_u(2, 3, 4), _RNG.uniform(0.1, 0.4, 3)], {}),
    ("mse", F.mse_loss, R.mse_loss, [_u(3, 4), _u(3, 4)], {}),
    ("mse-none", F.mse_loss, R.mse_loss, [_u(3, 4), _u(3, 4)], {"reduction": "none"}),
    ("l1-sum", F.l1_loss, R.l1_loss, [_u(3, 4), _u(3, 4)], {"reduction": "sum"}),
    ("smooth_l1", F.smooth_l1_loss, R.smooth_l1_loss, [_u(3, 4), _u(3, 4)], {"beta": 0.7}),
    ("huber", F.huber_loss, R.huber_loss, [_u(3, 4), _u(3, 4)], {"delta": 0.6}),
    (
        "bce",
        F.binary_cross_entropy,
        R.binary_cross_entropy,
        [_RNG.uniform(0.05, 0.95, (3, 4)), _RNG.uniform(0, 1, (3, 4))],
        {},
    ),
    (
        "bce_logits",
        F.binary_cross_entropy_with_logits,
        R.binary_cross_entropy_with_logits,
        [
            _u(3, 4) * 3,
            _RNG.uniform(0, 1, (3, 4)),
            _RNG.uniform(0.5, 2, 4),
            _RNG.uniform(0.5, 3, 4),
        ],
        {},
    ),
    (
        "kl_div",
        F.kl_div,
        R.kl_div,
        [np.log(_probs(3, 4)), _probs(3, 4)],
        {"reduction": "batchmean"},
    ),
    (
        "kl_div-log",
        F.kl_div,
        R.kl_div,
        [np.log(_probs(3, 4)), np.log(_probs(3, 4))],
        {"reduction": "sum", "log_target": True},
    ),
    ("batch_norm-train", None, None, [_u(5, 3, 2), _u(3), _u(3)], {"training": True}),
    ("batch_norm-eval", None, None, [_u(5, 3), _u(3), _u(3)], {"training": False}),
    ("layer_norm", F.layer_norm, R.layer_norm, [_u(3, 2, 4), _u(2, 4), _u(2, 4)], {}),
    ("group_norm", F.group_norm, R.group_norm, [_u(2, 6, 3), _u(6), _u(6)], {}),
    ("rms_norm", F.rms_norm, R.rms_norm, [_u(3, 4), _u(4)], {}),
]


def _bn_fused(x, w, b, training):
    rm, rv = cr.tensor(np.full(3, 0.2)), cr.tensor(np.full(3, 1.5))
    return F.batch_norm(x, rm, rv, w, b, training=training)


def _bn_ref(x, w, b, training):
    rm, rv = cr.tensor(np.full(3, 0.2)), cr.tensor(np.full(3, 1.5))
    return R.batch_norm(x, rm, rv, w, b, training=training)


def _call(fn, ts, name, kwargs):
    if name.startswith("bce_logits"):
        x, y, w, pw = ts
        # weight and pos_weight are constants (no gradient), as in the fused op
        return fn(x, y, w.detach(), pos_weight=pw.detach())
    if name == "layer_norm":
        return fn(ts[0], (2, 4), *ts[1:])
    if name == "group_norm":
        return fn(ts[0], 3, *ts[1:])
    if name == "rms_norm":
        return fn(ts[0], (4,), *ts[1:], eps=1e-6)
    return fn(*ts, **kwargs)


def _values_and_grads(fn, arrays, name, kwargs):
    ts = [cr.tensor(a, requires_grad=True) for a in arrays]
    out = _call(fn, ts, name, kwargs)
    u = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(cr.tensor(u))
    return out.detach().numpy(), [t.grad.numpy() if t.grad is not None else None for t in ts]


@pytest.mark.parametrize(
    ("name", "fused", "ref", "arrays", "kwargs"), CASES, ids=[c[0] for c in CASES]
)
def test_fused_vjp_equals_autodiff_of_reference(name, fused, ref, arrays, kwargs):
    if name.startswith("batch_norm"):
        fused, ref = _bn_fused, _bn_ref
    y1, g1 = _values_and_grads(fused, arrays, name, kwargs)
    y2, g2 = _values_and_grads(ref, arrays, name, kwargs)
    np.testing.assert_allclose(y1, y2, rtol=1e-10, atol=1e-12)
    # hardsigmoid's VJP multiplies by torch's float32 constant 1.0f/6.0f (exact torch parity)
    rtol = 1e-7 if name == "hardsigmoid" else 1e-9
    for i, (a, b) in enumerate(zip(g1, g2)):
        assert (a is None) == (b is None), f"input {i}"
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12, err_msg=f"grad of input {i}")


CLASS_CASES = [
    ("ce-2d", (5, 4), _T5, {}),
    ("ce-weight-ignore-mean", (6, 4), _T6_IGN, {"weight": _W4}),
    ("ce-weight-ignore-sum", (6, 4), _T6_IGN, {"weight": _W4, "reduction": "sum"}),
    ("ce-smooth-weight-ignore", (6, 4), _T6_IGN, {"weight": _W4, "label_smoothing": 0.2}),
    ("ce-smooth-none", (6, 4), _T6_IGN, {"label_smoothing": 0.1, "reduction": "none"}),
    ("ce-4d", (2, 4, 2, 3), _RNG.integers(0, 4, (2, 2, 3)), {"label_smoothing": 0.05}),
    ("ce-unbatched", (4,), np.array(1), {}),
]


@pytest.mark.parametrize(
    ("name", "shape", "target", "kwargs"), CLASS_CASES, ids=[c[0] for c in CLASS_CASES]
)
@pytest.mark.parametrize("which", ["cross_entropy", "nll_loss"])
def test_class_index_losses_equal_reference(name, shape, target, kwargs, which):
    kwargs = dict(kwargs)
    if which == "nll_loss" and "label_smoothing" in kwargs:
        pytest.skip("nll_loss has no label smoothing")
    x = _u(*shape)
    if "weight" in kwargs:
        kwargs["weight"] = cr.tensor(kwargs["weight"])
    fused = getattr(F, which)
    ref = getattr(R, which)
    y1, g1 = _values_and_grads(lambda t: fused(t, cr.tensor(target), **kwargs), [x], name, {})
    y2, g2 = _values_and_grads(lambda t: ref(t, cr.tensor(target), **kwargs), [x], name, {})
    np.testing.assert_allclose(y1, y2, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g1[0], g2[0], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kwargs", [{}, {"label_smoothing": 0.2, "reduction": "sum"}])
def test_probability_targets_equal_reference(kwargs):
    x, q = _u(5, 4), _probs(5, 4)
    y1, g1 = _values_and_grads(lambda a, b: F.cross_entropy(a, b, **kwargs), [x, q], "", {})
    y2, g2 = _values_and_grads(lambda a, b: R.cross_entropy(a, b, **kwargs), [x, q], "", {})
    np.testing.assert_allclose(y1, y2, rtol=1e-10)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_dropout_and_embedding_equal_reference():
    x = _u(3, 4)
    y1, g1 = _values_and_grads(lambda t: M.dropout(t, mask=_MASK, scale=2.5), [x], "", {})
    y2, g2 = _values_and_grads(lambda t: R.dropout_with_mask(t, _MASK, 2.5), [x], "", {})
    np.testing.assert_allclose(y1, y2)
    np.testing.assert_allclose(g1[0], g2[0])
    w = _u(5, 3)
    for pad in (None, 4):
        y1, g1 = _values_and_grads(
            lambda t, pad=pad: F.embedding(cr.tensor(_IDX), t, pad), [w], "", {}
        )
        y2, g2 = _values_and_grads(
            lambda t, pad=pad: R.embedding(cr.tensor(_IDX), t, pad), [w], "", {}
        )
        np.testing.assert_allclose(y1, y2)
        np.testing.assert_allclose(g1[0], g2[0])


def test_losses_stay_finite_for_huge_logits():
    x = cr.tensor([[1000.0, -1000.0, 0.0], [-5e4, 5e4, 1.0]], requires_grad=True)
    loss = F.cross_entropy(x, cr.tensor([1, 0]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.numpy()).all()
    z = cr.tensor([1e4, -1e4, 0.0], requires_grad=True)
    b = F.binary_cross_entropy_with_logits(z, cr.tensor([0.0, 1.0, 1.0]))
    b.backward()
    assert np.isfinite(b.item()) and np.isfinite(z.grad.numpy()).all()
    s = F.softplus(cr.tensor([1e4, -1e4])).numpy()
    assert np.isfinite(s).all()
