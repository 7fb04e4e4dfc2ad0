"""Loss modules against torch (values and input gradients, every reduction, float32 and
float64), and their errors on bad targets."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")

_RNG = np.random.default_rng(0)
_W = np.array([0.3, 1.0, 2.0, 0.7])


def _logits():
    return _RNG.uniform(-3, 3, (6, 4))


def _idx(ignore=None):
    t = _RNG.integers(0, 4, 6)
    if ignore is not None:
        t[[1, 4]] = ignore
    return t


def _probs():
    p = _RNG.uniform(0.05, 1, (6, 4))
    return p / p.sum(1, keepdims=True)


# (id, class name, ctor kwargs (arrays become tensors), input maker, target maker)
CASES = []
for red in ("mean", "sum", "none"):
    CASES += [
        (f"mse-{red}", "MSELoss", {"reduction": red}, _logits, _logits),
        (f"l1-{red}", "L1Loss", {"reduction": red}, _logits, _logits),
        (f"smoothl1-{red}", "SmoothL1Loss", {"reduction": red, "beta": 0.5}, _logits, _logits),
        (f"huber-{red}", "HuberLoss", {"reduction": red, "delta": 0.7}, _logits, _logits),
        (f"ce-{red}", "CrossEntropyLoss", {"reduction": red}, _logits, _idx),
        (
            f"ce-weight-ignore-smooth-{red}",
            "CrossEntropyLoss",
            {"reduction": red, "weight": _W, "ignore_index": 3, "label_smoothing": 0.15},
            _logits,
            lambda: _idx(3),
        ),
        (f"ce-probs-{red}", "CrossEntropyLoss", {"reduction": red, "weight": _W}, _logits, _probs),
        (
            f"nll-{red}",
            "NLLLoss",
            {"reduction": red, "weight": _W, "ignore_index": -100},
            lambda: np.log(_probs()),
            lambda: _idx(-100),
        ),
        (
            f"bce-{red}",
            "BCELoss",
            {"reduction": red},
            lambda: _RNG.uniform(0.01, 0.99, (6, 4)),
            lambda: _RNG.integers(0, 2, (6, 4)).astype(float),
        ),
        (
            f"bcelogits-{red}",
            "BCEWithLogitsLoss",
            {"reduction": red, "pos_weight": np.array([1.0, 2.0, 0.5, 3.0])},
            _logits,
            lambda: _RNG.integers(0, 2, (6, 4)).astype(float),
        ),
        (
            f"kl-{red}",
            "KLDivLoss",
            {"reduction": "batchmean" if red == "mean" else red, "log_target": red == "sum"},
            lambda: np.log(_probs()),
            _probs,
        ),
    ]


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize(
    ("name", "cls", "kwargs", "make_x", "make_t"), CASES, ids=[c[0] for c in CASES]
)
def test_loss_module_matches_torch(name, cls, kwargs, make_x, make_t, dtype_name):
    x = make_x()
    t = make_t()
    if name.startswith("kl") and kwargs["log_target"]:
        t = np.log(t)
    ckw = {
        k: cr.tensor(v, dtype=getattr(cr, dtype_name)) if isinstance(v, np.ndarray) else v
        for k, v in kwargs.items()
    }
    tkw = {
        k: torch.tensor(v, dtype=getattr(torch, dtype_name)) if isinstance(v, np.ndarray) else v
        for k, v in kwargs.items()
    }
    c_loss = getattr(nn, cls)(**ckw)
    t_loss = getattr(torch.nn, cls)(**tkw)
    assert repr(c_loss) == repr(t_loss)
    assert list(c_loss.state_dict()) == list(t_loss.state_dict())
    xc = cr.tensor(x, dtype=getattr(cr, dtype_name), requires_grad=True)
    xt = torch.tensor(x, dtype=getattr(torch, dtype_name), requires_grad=True)
    if t.dtype.kind in "iu":
        tc, tt = cr.tensor(t), torch.tensor(t)
    else:
        tc = cr.tensor(t, dtype=getattr(cr, dtype_name))
        tt = torch.tensor(t, dtype=getattr(torch, dtype_name))
    yc, yt = c_loss(xc, tc), t_loss(xt, tt)
    assert tuple(yc.shape) == tuple(yt.shape)
    assert yc.dtype.name == dtype_name
    rtol, atol = (1e-5, 1e-6) if dtype_name == "float32" else (1e-10, 1e-12)
    np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), rtol=rtol, atol=atol)
    u = np.random.default_rng(1).standard_normal(tuple(yt.shape))
    yc.backward(cr.tensor(u, dtype=getattr(cr, dtype_name)))
    yt.backward(torch.tensor(u, dtype=getattr(torch, dtype_name)))
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=rtol, atol=atol)


def test_all_ignored_mean_is_nan_like_torch():
    x = _logits()
    t = np.full(6, -100)
    c = F.cross_entropy(cr.tensor(x), cr.tensor(t)).item()
    tt = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t)).item()
    assert np.isnan(c) and np.isnan(tt)


def test_kl_div_mean_warns_like_torch():
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(cr.zeros(2, 3), cr.ones(2, 3) / 3)


def test_class_index_out_of_range_names_index_and_class_count():
    with pytest.raises(IndexError, match=r"Target 7 is out of bounds.*4 classes"):
        F.cross_entropy(cr.randn(3, 4), cr.tensor([0, 7, 1]))
    with pytest.raises(IndexError, match=r"Target -2"):
        nn.NLLLoss()(cr.randn(3, 4), cr.tensor([0, -2, 1]))
    # ignore_index is allowed even though it is out of range
    F.cross_entropy(cr.randn(3, 4), cr.tensor([0, -100, 1]))


def test_target_shape_errors():
    with pytest.raises(ValueError, match="batch_size"):
        F.cross_entropy(cr.randn(3, 4), cr.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="expected target size"):
        F.cross_entropy(cr.randn(3, 4, 5), cr.zeros(3, 4, dtype=cr.int64))
    with pytest.raises(RuntimeError, match="probability target"):
        F.cross_entropy(cr.randn(3, 4), cr.zeros(3, 5))
    with pytest.raises(ValueError, match=r"target shape \(3, 1\) differs from input shape \(3,\)"):
        nn.MSELoss()(cr.randn(3), cr.randn(3, 1))
    with pytest.raises(ValueError, match="differs"):
        nn.L1Loss()(cr.randn(4, 2), cr.randn(2))
    with pytest.raises(ValueError, match="different to the input size"):
        nn.BCELoss()(cr.rand(3), cr.rand(3, 1))
    with pytest.raises(ValueError, match="must be the same as input size"):
        nn.BCEWithLogitsLoss()(cr.randn(3), cr.rand(4))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        nn.BCELoss()(cr.tensor([0.5, 1.5]), cr.tensor([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="weight tensor should be defined"):
        nn.CrossEntropyLoss(weight=cr.ones(3))(cr.randn(2, 4), cr.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="class indices"):
        F.cross_entropy(cr.randn(2, 4), cr.tensor([True, False]))


def test_mse_with_weight_matches_torch():
    x, y, w = _logits(), _logits(), _RNG.uniform(0.1, 2, (6, 4))
    for fn in ("mse_loss", "l1_loss", "huber_loss"):
        for red in ("mean", "sum", "none"):
            c = getattr(F, fn)(cr.tensor(x), cr.tensor(y), reduction=red, weight=cr.tensor(w))
            t = getattr(torch.nn.functional, fn)(
                torch.tensor(x), torch.tensor(y), reduction=red, weight=torch.tensor(w)
            )
            np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=1e-10)


def test_legacy_size_average_reduce_map_to_reduction():
    x, t = cr.randn(4, 3), cr.tensor([0, 1, 2, 0])
    s = F.cross_entropy(x, t, reduction="sum").item()
    assert F.cross_entropy(x, t, size_average=False).item() == pytest.approx(s)
    assert F.cross_entropy(x, t, reduce=False).shape == (4,)
