"""``nn.functional`` odds and ends against torch: one_hot, normalize, cosine_similarity, in-place
activations, the CE identities, and argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def test_one_hot_matches_torch_and_errors():
    idx = np.array([[0, 3], [2, 1]])
    np.testing.assert_array_equal(
        F.one_hot(cr.tensor(idx)).numpy(), TF.one_hot(torch.tensor(idx)).numpy()
    )
    out = F.one_hot(cr.tensor(idx), num_classes=6)
    assert out.shape == (2, 2, 6) and out.dtype == cr.int64
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(cr.tensor([0, 5]), 3)
    with pytest.raises(RuntimeError, match="non-negative"):
        F.one_hot(cr.tensor([-1, 0]))
    with pytest.raises(RuntimeError, match="LongTensor"):
        F.one_hot(cr.tensor([0.0, 1.0]))


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("normalize", {}),
        ("normalize", {"p": 1.0, "dim": 0}),
        ("softmin", {"dim": 1}),
        ("glu", {"dim": 1}),
        ("tanhshrink", {}),
        ("hardshrink", {"lambd": 0.4}),
        ("softshrink", {"lambd": 0.4}),
    ],
)
def test_composite_functions_match_torch(name, args):
    x = np.random.default_rng(0).uniform(-2, 2, (3, 4))
    xc = cr.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yc = getattr(F, name)(xc, **args)
    yt = getattr(TF, name)(xt, **args)
    np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), rtol=1e-10)
    yc.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_cosine_similarity_matches_torch():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    c = F.cosine_similarity(cr.tensor(a), cr.tensor(b)).numpy()
    t = TF.cosine_similarity(torch.tensor(a), torch.tensor(b)).numpy()
    np.testing.assert_allclose(c, t, rtol=1e-10)


def test_inplace_activations_write_into_their_input():
    x = cr.randn(3, 4)
    y = F.relu(x, inplace=True)
    assert y is x and float(x.min()) >= 0.0
    h = cr.randn(3, 4, requires_grad=True) * 1.0  # non-leaf: in-place is allowed
    out = nn.LeakyReLU(0.1, inplace=True)(h)
    assert out is h
    out.sum().backward()
    leaf = cr.randn(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        F.relu(leaf, inplace=True)


def test_cross_entropy_identities():
    rng = np.random.default_rng(2)
    x = cr.tensor(rng.standard_normal((5, 4)))
    t = cr.tensor(rng.integers(0, 4, 5))
    onehot = F.one_hot(t, 4).to(cr.float64)
    a = F.cross_entropy(x, t).item()
    b = F.cross_entropy(x, onehot).item()
    c = F.nll_loss(F.log_softmax(x, 1), t).item()
    assert a == pytest.approx(b, rel=1e-12) and a == pytest.approx(c, rel=1e-12)


def test_functional_argument_errors():
    with pytest.raises(RuntimeError, match="approximate"):
        F.gelu(cr.randn(2), approximate="fast")
    with pytest.raises(RuntimeError, match="floating point"):
        F.silu(cr.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="normalized_shape"):
        F.layer_norm(cr.randn(2, 3), (4,))
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(cr.randn(2, 6, 3), 4)
    with pytest.raises(RuntimeError, match="running_mean should contain 3 elements not 2"):
        F.batch_norm(cr.randn(4, 3), cr.zeros(2), cr.ones(2))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.mse_loss(cr.randn(2), cr.randn(2), reduction="avg")
    with pytest.raises(RuntimeError, match="label_smoothing"):
        F.cross_entropy(cr.randn(2, 3), cr.tensor([0, 1]), label_smoothing=1.5)
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        F.glu(cr.randn(2, 3))
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers"):
        F.prelu(cr.randn(2, 3), cr.ones(2))


def test_buffer_class_registers_a_buffer():
    m = nn.Module()
    m.stat = nn.Buffer(cr.zeros(3))
    m.tmp = nn.Buffer(cr.zeros(1), persistent=False)
    assert list(m.state_dict()) == ["stat"]
    assert [n for n, _ in m.named_buffers()] == ["stat", "tmp"]


_KINKS = np.array([-6.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0, 20.0, 25.0])


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("relu", {}),
        ("relu6", {}),
        ("leaky_relu", {"negative_slope": 0.1}),
        ("elu", {}),
        ("selu", {}),
        ("celu", {"alpha": 2.0}),
        ("hardtanh", {}),
        ("hardswish", {}),
        ("hardsigmoid", {}),
        ("softplus", {}),
        ("softplus", {"beta": 2.0, "threshold": 1.0}),
        ("threshold", {"threshold": 0.5, "value": -1.0}),
        ("gelu", {}),
        ("silu", {}),
        ("mish", {}),
        ("logsigmoid", {}),
        ("softsign", {}),
        ("softshrink", {"lambd": 0.5}),
        ("hardshrink", {"lambd": 0.5}),
    ],
)
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_activation_values_and_grads_at_kinks_match_torch(name, kwargs, dtype_name):
    """The convention at each non-differentiable point is torch's (DESIGN §2.6)."""
    xc = cr.tensor(_KINKS, dtype=getattr(cr, dtype_name), requires_grad=True)
    xt = torch.tensor(_KINKS, dtype=getattr(torch, dtype_name), requires_grad=True)
    yc = getattr(F, name)(xc, **kwargs)
    yt = getattr(TF, name)(xt, **kwargs)
    # float32: torch's own float32 kernels round differently in the tails (gelu at −3 is
    # 5e-7 off the exact value), hence the atol
    rtol, atol = (1e-6, 1e-6) if dtype_name == "float32" else (1e-12, 1e-14)
    np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), rtol=rtol, atol=atol)
    yc.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=rtol, atol=atol)
