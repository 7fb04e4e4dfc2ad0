"""Every part-1 layer against torch (same state_dict loaded into both; outputs, input and
parameter gradients, buffers; float32 and float64; train and eval), float64 gradcheck w.r.t.
the input and every parameter, state_dict keys, initial distributions and bad-input errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import check_grads

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")
tnn = torch.nn

TOL = {"float32": (1e-4, 1e-5), "float64": (1e-10, 1e-12)}

# (name, builder(lib), input shapes, integer input?)
LAYERS = [
    ("linear", lambda L: L.Linear(5, 3), [(4, 5)]),
    ("linear-3d-nobias", lambda L: L.Linear(5, 3, bias=False), [(2, 4, 5)]),
    ("linear-1d", lambda L: L.Linear(5, 3), [(5,)]),
    ("bilinear", lambda L: L.Bilinear(3, 2, 4), [(5, 3), (5, 2)]),
    ("batchnorm1d", lambda L: L.BatchNorm1d(3), [(6, 3)]),
    ("batchnorm1d-3d", lambda L: L.BatchNorm1d(3, momentum=0.3), [(4, 3, 5)]),
    ("batchnorm1d-cma", lambda L: L.BatchNorm1d(3, momentum=None), [(6, 3)]),
    ("batchnorm1d-noaffine", lambda L: L.BatchNorm1d(3, affine=False), [(6, 3)]),
    ("batchnorm1d-notrack", lambda L: L.BatchNorm1d(3, track_running_stats=False), [(6, 3)]),
    ("batchnorm2d", lambda L: L.BatchNorm2d(2), [(3, 2, 4, 4)]),
    ("layernorm", lambda L: L.LayerNorm(6), [(3, 6)]),
    ("layernorm-2d", lambda L: L.LayerNorm([2, 3], eps=1e-3), [(4, 2, 3)]),
    ("layernorm-nobias", lambda L: L.LayerNorm(6, bias=False), [(3, 6)]),
    ("layernorm-noaffine", lambda L: L.LayerNorm(6, elementwise_affine=False), [(3, 6)]),
    ("groupnorm", lambda L: L.GroupNorm(2, 4), [(3, 4, 5)]),
    ("groupnorm-2d", lambda L: L.GroupNorm(3, 6), [(2, 6, 2, 3)]),
    ("rmsnorm", lambda L: L.RMSNorm(6, eps=1e-6), [(3, 6)]),
    ("prelu", lambda L: L.PReLU(3), [(2, 3, 4)]),
    ("prelu-shared", lambda L: L.PReLU(), [(2, 3)]),
    ("flatten", lambda L: L.Flatten(), [(2, 3, 4)]),
    ("unflatten", lambda L: L.Unflatten(1, (2, 3)), [(4, 6)]),
    ("identity", lambda L: L.Identity(7, foo=1), [(2, 3)]),
]
for _name in [
    "ReLU",
    "ReLU6",
    "LeakyReLU",
    "ELU",
    "CELU",
    "SELU",
    "GELU",
    "SiLU",
    "Mish",
    "Sigmoid",
    "Tanh",
    "Softplus",
    "Softsign",
    "LogSigmoid",
    "Hardtanh",
    "Hardswish",
    "Hardsigmoid",
    "Tanhshrink",
    "Softshrink",
]:
    LAYERS.append((_name, lambda L, n=_name: getattr(L, n)(), [(3, 5)]))
LAYERS += [
    ("GELU-tanh", lambda L: L.GELU(approximate="tanh"), [(3, 5)]),
    ("Softplus-beta", lambda L: L.Softplus(beta=3.0, threshold=4.0), [(3, 5)]),
    ("Softmax", lambda L: L.Softmax(dim=1), [(3, 5)]),
    ("LogSoftmax", lambda L: L.LogSoftmax(dim=-1), [(3, 5)]),
    ("Softmin", lambda L: L.Softmin(dim=0), [(3, 5)]),
    ("GLU", lambda L: L.GLU(), [(3, 6)]),
    ("Threshold", lambda L: L.Threshold(0.3, -2.0), [(3, 5)]),
]


def _inputs(shapes, dtype_name, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-2.0, 2.0, s).astype(dtype_name) for s in shapes]


def _load_torch_into_chainrule(t_mod, c_mod):
    c_mod.load_state_dict({k: v.detach().numpy() for k, v in t_mod.state_dict().items()})


def _compare(builder, shapes, dtype_name, train, steps=1):
    rtol, atol = TOL[dtype_name]
    t_mod = builder(tnn).to(getattr(torch, dtype_name))
    c_mod = builder(nn).to(getattr(cr, dtype_name))
    assert list(c_mod.state_dict()) == list(t_mod.state_dict())
    _load_torch_into_chainrule(t_mod, c_mod)
    t_mod.train(train)
    c_mod.train(train)
    for step in range(steps):
        arrays = _inputs(shapes, dtype_name, seed=step)
        xt = [torch.tensor(a, requires_grad=True) for a in arrays]
        xc = [cr.tensor(a, requires_grad=True) for a in arrays]
        yt = t_mod(*xt)
        yc = c_mod(*xc)
        assert tuple(yc.shape) == tuple(yt.shape)
        assert yc.dtype.name == str(yt.dtype).split(".")[-1]
        np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), rtol=rtol, atol=atol)
        u = np.random.default_rng(10 + step).standard_normal(yt.shape).astype(dtype_name)
        yt.backward(torch.tensor(u))
        yc.backward(cr.tensor(u))
        for a, b in zip(xc, xt):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol)
    t_params = dict(t_mod.named_parameters())
    for name, p in c_mod.named_parameters():
        tg = t_params[name].grad
        assert (p.grad is None) == (tg is None), name
        if tg is not None:
            np.testing.assert_allclose(
                p.grad.numpy(), tg.numpy(), rtol=rtol, atol=atol, err_msg=f"grad of {name}"
            )
    t_sd = t_mod.state_dict()
    for k, v in c_mod.state_dict().items():
        np.testing.assert_allclose(v.numpy(), t_sd[k].numpy(), rtol=rtol, atol=atol, err_msg=k)


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize(("name", "builder", "shapes"), LAYERS, ids=[x[0] for x in LAYERS])
def test_layer_matches_torch(name, builder, shapes, dtype_name, train):
    _compare(builder, shapes, dtype_name, train, steps=3 if name.startswith("batchnorm") else 1)


@pytest.mark.parametrize(("name", "builder", "shapes"), LAYERS, ids=[x[0] for x in LAYERS])
def test_layer_gradcheck_input_and_parameters(name, builder, shapes):
    """float64 central differences w.r.t. the inputs and every parameter at once."""
    mod = builder(nn).double()
    params = list(mod.named_parameters())
    arrays = _inputs(shapes, "float64")
    if name in (
        "ReLU",
        "ReLU6",
        "LeakyReLU",
        "Hardtanh",
        "Threshold",
        "Softshrink",
        "ELU",
        "CELU",
        "SELU",
        "prelu",
        "prelu-shared",
        "Hardswish",
        "Hardsigmoid",
    ):
        # keep inputs off the kinks (0, ±0.5, ±1, ±3, 6, 0.3)
        arrays = [np.where(np.abs(a) < 0.1, a + 0.3, a) for a in arrays]
        arrays = [a + 0.05 * np.sign(a) for a in arrays]
        arrays = [np.where(np.abs(np.abs(a) - 1.0) < 0.05, a * 1.1, a) for a in arrays]
        arrays = [np.where(np.abs(np.abs(a) - 0.5) < 0.05, a * 1.2, a) for a in arrays]
        arrays = [np.where(np.abs(a - 0.3) < 0.05, a + 0.15, a) for a in arrays]
    n_in = len(arrays)

    def fn(*ts):
        for (pname, _p), t in zip(params, ts[n_in:]):
            owner = mod.get_submodule(pname.rpartition(".")[0])
            owner._parameters[pname.rpartition(".")[2]] = t  # a plain tensor stands in
        return mod(*ts[:n_in])

    try:
        check_grads(fn, arrays + [p.detach().numpy().copy() for _, p in params])
    finally:
        for pname, p in params:
            mod.get_submodule(pname.rpartition(".")[0])._parameters[pname.rpartition(".")[2]] = p


def test_embedding_matches_torch_padding_and_from_pretrained():
    for dt in ("float32", "float64"):
        rtol, atol = TOL[dt]
        t = tnn.Embedding(7, 3, padding_idx=2).to(getattr(torch, dt))
        c = nn.Embedding(7, 3, padding_idx=2).to(getattr(cr, dt))
        assert float(c.weight[2].abs().sum()) == 0.0  # the padding row starts at zero
        _load_torch_into_chainrule(t, c)
        idx = np.array([[0, 2, 5], [2, 2, 6]])
        yt = t(torch.tensor(idx))
        yc = c(cr.tensor(idx))
        np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), rtol=rtol)
        u = np.random.default_rng(0).standard_normal(yt.shape).astype(dt)
        yt.backward(torch.tensor(u))
        yc.backward(cr.tensor(u))
        np.testing.assert_allclose(
            c.weight.grad.numpy(), t.weight.grad.numpy(), rtol=rtol, atol=atol
        )
        assert float(c.weight.grad[2].abs().sum()) == 0.0
    w = cr.randn(4, 2)
    e = nn.Embedding.from_pretrained(w)
    assert not e.weight.requires_grad and e(cr.tensor([3])).shape == (1, 2)
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    assert repr(e) == "Embedding(4, 2)"


def test_embedding_max_norm_renormalises_like_torch():
    t = tnn.Embedding(5, 4, max_norm=1.0)
    c = nn.Embedding(5, 4, max_norm=1.0)
    _load_torch_into_chainrule(t, c)
    idx = np.array([0, 3, 3])
    yt = t(torch.tensor(idx))
    yc = c(cr.tensor(idx))
    np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(c.weight.detach().numpy(), t.weight.detach().numpy(), rtol=1e-5)


def test_batchnorm_num_batches_tracked_and_momentum_none():
    bn = nn.BatchNorm1d(2, momentum=None)
    for i in range(3):
        bn(cr.randn(4, 2))
        assert int(bn.num_batches_tracked) == i + 1
    bn.eval()
    bn(cr.randn(4, 2))
    assert int(bn.num_batches_tracked) == 3


def test_batchnorm_training_needs_more_than_one_value():
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        nn.BatchNorm1d(3)(cr.randn(1, 3))
    nn.BatchNorm1d(3).eval()(cr.randn(1, 3))  # fine in eval


# ------------------------------------------------------------------ dropout


def test_dropout_train_eval_and_scaling():
    d = nn.Dropout(0.25)
    x = cr.ones(200, 100)
    cr.manual_seed(0)
    y = d(x).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    d.eval()
    assert d(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert float(nn.Dropout(1.0)(x).abs().sum()) == 0.0


def test_dropout_is_seeded_and_gradient_uses_the_mask():
    x = cr.randn(50, 20, requires_grad=True)
    cr.manual_seed(3)
    a = F.dropout(x, 0.5)
    cr.manual_seed(3)
    b = F.dropout(x, 0.5)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    g = cr.Generator().manual_seed(1)
    c1 = F.dropout(x, 0.5, generator=g).detach().numpy()
    g.manual_seed(1)
    c2 = F.dropout(x, 0.5, generator=g).detach().numpy()
    np.testing.assert_array_equal(c1, c2)
    a.sum().backward()
    mask = a.detach().numpy() != 0
    np.testing.assert_allclose(x.grad.numpy(), mask * 2.0)


def test_dropout2d_drops_whole_channels():
    x = cr.ones(8, 16, 3, 3)
    y = nn.Dropout2d(0.5)(x).numpy()
    per_channel = y.reshape(8, 16, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, -0.1)


# ------------------------------------------------------------------ init distributions


def _stats(t):
    a = t.detach().numpy().astype(np.float64).ravel()
    return a.min(), a.max(), a.mean(), a.std()


def test_linear_init_distribution_matches_torch():
    fan_in = 400
    lin = nn.Linear(fan_in, 300)
    bound = 1 / math.sqrt(fan_in)
    lo, hi, mean, std = _stats(lin.weight)
    assert -bound <= lo and hi <= bound
    assert abs(mean) < 0.02 * bound and abs(std - bound / math.sqrt(3)) < 0.02 * bound
    lo, hi, _, _ = _stats(lin.bias)
    assert -bound <= lo and hi <= bound
    t_std = tnn.Linear(fan_in, 300).weight.detach().numpy().std()
    assert abs(std - t_std) < 0.03 * t_std


def test_other_layer_inits():
    e = nn.Embedding(200, 50)
    _, _, mean, std = _stats(e.weight)
    assert abs(mean) < 0.05 and abs(std - 1.0) < 0.05
    bn = nn.BatchNorm1d(4)
    assert np.all(bn.weight.detach().numpy() == 1) and np.all(bn.bias.detach().numpy() == 0)
    assert np.all(bn.running_var.numpy() == 1) and bn.num_batches_tracked.dtype == cr.int64
    assert np.all(nn.PReLU(3).weight.detach().numpy() == np.float32(0.25))
    bil = nn.Bilinear(16, 4, 8)
    assert np.abs(bil.weight.detach().numpy()).max() <= 1 / 4


@pytest.mark.parametrize(
    ("fn", "kwargs", "expected_std"),
    [
        ("kaiming_uniform_", {}, math.sqrt(2.0 / (1 + 0.01**2)) / math.sqrt(200)),
        ("kaiming_normal_", {"nonlinearity": "relu"}, math.sqrt(2.0) / math.sqrt(200)),
        ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}, math.sqrt(2.0 / 300)),
        ("kaiming_uniform_", {"a": math.sqrt(5)}, math.sqrt(1 / 3) / math.sqrt(200)),
        ("xavier_uniform_", {}, math.sqrt(2.0 / 500)),
        ("xavier_normal_", {"gain": 2.0}, 2.0 * math.sqrt(2.0 / 500)),
        ("normal_", {"std": 0.3}, 0.3),
        ("uniform_", {"a": -1.0, "b": 1.0}, 1 / math.sqrt(3)),
        ("trunc_normal_", {"std": 1.0}, 0.8796),  # std of N(0,1) truncated to [-2, 2]
        ("orthogonal_", {}, 1 / math.sqrt(300)),  # 200 orthonormal columns of length 300
    ],
)
def test_init_distributions(fn, kwargs, expected_std):
    w = cr.empty(300, 200, requires_grad=True)
    out = getattr(nn.init, fn)(w, **kwargs)
    assert out is w and w.requires_grad
    t = torch.empty(300, 200)
    getattr(tnn.init, fn)(t, **kwargs)
    std = w.detach().numpy().std()
    assert abs(std - expected_std) < 0.03 * expected_std
    assert abs(std - t.numpy().std()) < 0.04 * expected_std


def test_init_helpers_and_errors():
    assert nn.init.calculate_gain("relu") == math.sqrt(2.0)
    assert nn.init.calculate_gain("tanh") == 5.0 / 3
    assert nn.init.calculate_gain("selu") == 0.75
    assert nn.init.calculate_gain("leaky_relu", 0.2) == tnn.init.calculate_gain("leaky_relu", 0.2)
    assert nn.init.calculate_gain("conv2d") == 1.0
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        nn.init.calculate_gain("swishy")
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(cr.zeros(3))
    with pytest.raises(ValueError, match="Mode"):
        nn.init.kaiming_uniform_(cr.zeros(3, 3), mode="fan_avg")
    w = cr.zeros(4, 6)
    q = nn.init.orthogonal_(w).numpy()
    np.testing.assert_allclose(q @ q.T, np.eye(4), atol=1e-5)
    np.testing.assert_array_equal(nn.init.eye_(cr.zeros(2, 3)).numpy(), np.eye(2, 3))
    assert float(nn.init.constant_(cr.zeros(2), 3.0)[0]) == 3.0
    assert nn.init.trunc_normal_(cr.zeros(1000), a=-0.5, b=0.5).abs().max().item() <= 0.5
    cr.manual_seed(5)
    a = nn.init.normal_(cr.zeros(5)).numpy().copy()
    cr.manual_seed(5)
    np.testing.assert_array_equal(nn.init.normal_(cr.zeros(5)).numpy(), a)


# ------------------------------------------------------------------ bad input


def test_linear_shape_error_names_layer_and_shapes():
    with pytest.raises(RuntimeError, match=r"Linear\(in_features=784\): input has 100 features"):
        nn.Linear(784, 10)(cr.randn(2, 100))
    with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):
        F.linear(cr.randn(2, 3), cr.randn(4, 5))
    with pytest.raises(RuntimeError, match="same dtype"):
        nn.Linear(3, 2)(cr.randn(2, 3, dtype=cr.float64))


def test_constructor_argument_errors():
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(-1, 3)
    with pytest.raises(ValueError, match="num_features"):
        nn.BatchNorm1d(-2)
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(4, 6)
    with pytest.raises(RuntimeError, match="approximate"):  # torch: from forward
        nn.GELU("fast")(cr.randn(2))
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(RuntimeError, match="label_smoothing"):  # torch: from forward
        nn.CrossEntropyLoss(label_smoothing=2.0)(cr.randn(2, 3), cr.tensor([0, 1]))
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm2d(3, momentum=1.5)


def test_norm_layer_shape_errors():
    with pytest.raises(RuntimeError, match=r"BatchNorm1d\(num_features=3\): input has 4 channels"):
        nn.BatchNorm1d(3)(cr.randn(5, 4))
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(cr.randn(5, 3))
    with pytest.raises(RuntimeError, match="LayerNorm"):
        nn.LayerNorm(4)(cr.randn(2, 5))
    with pytest.raises(RuntimeError, match="GroupNorm"):
        nn.GroupNorm(2, 4)(cr.randn(2, 6, 3))
    with pytest.raises(RuntimeError, match="indices"):
        nn.Embedding(4, 2)(cr.randn(3))
    with pytest.raises(IndexError, match="index 9"):
        nn.Embedding(4, 2)(cr.tensor([1, 9]))
