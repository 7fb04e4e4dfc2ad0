"""Module semantics: registration, traversal, state_dict / load_state_dict, modes, dtype
conversion, hooks, containers and repr, checked against torch where torch is the oracle."""

from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.bn = nn.BatchNorm1d(8)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(8, 3)
        self.register_buffer("scale", cr.ones(3))
        self.register_buffer("cache", cr.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc2(self.act(self.bn(self.fc1(x)))) * self.scale


# ------------------------------------------------------------------ registration


def test_attribute_registration_routes_by_type():
    m = Net()
    assert list(m._parameters) == []
    assert list(m._modules) == ["fc1", "bn", "act", "fc2"]
    assert list(m._buffers) == ["scale", "cache"]
    assert isinstance(m.fc1.weight, nn.Parameter)
    m.extra = nn.Parameter(cr.zeros(2))
    assert "extra" in m._parameters and "extra" not in m.__dict__
    m.plain = 3
    assert m.plain == 3 and "plain" in m.__dict__
    del m.extra
    assert "extra" not in m._parameters
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = m.nope


def test_reassignment_rules_match_torch():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign .* as parameter 'weight'"):
        m.weight = cr.zeros(2, 2)
    m.bias = None
    assert m.bias is None and "bias" in m._parameters
    seq = nn.Sequential(nn.ReLU())
    with pytest.raises(TypeError, match="child module"):
        seq.__setattr__("0", 5)
    m2 = Net()
    m2.scale = cr.full((3,), 2.0)  # a buffer stays a buffer
    assert "scale" in m2._buffers and float(m2.scale[0]) == 2.0
    with pytest.raises(TypeError, match="buffer"):
        m2.scale = 5


def test_register_errors():
    m = nn.Module()
    with pytest.raises(KeyError, match="contain"):
        m.register_buffer("a.b", cr.zeros(1))
    with pytest.raises(KeyError, match="empty"):
        m.register_parameter("", None)
    with pytest.raises(TypeError, match="string"):
        m.add_module(3, nn.ReLU())
    m.x = 1
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("x", cr.zeros(1))
    with pytest.raises(TypeError, match="Parameter or None"):
        m.register_parameter("w", cr.zeros(1))
    with pytest.raises(TypeError, match="Tensor or None"):
        m.register_buffer("b", 3)

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(cr.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_named_traversal_and_shared_weights():
    m = Net()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "fc2.weight", "fc2.bias"]
    assert [n for n, _ in m.named_parameters(prefix="model")][0] == "model.fc1.weight"
    assert list(m.named_parameters(recurse=False)) == []
    assert [n for n, _ in m.named_buffers()] == [
        "scale",
        "cache",
        "bn.running_mean",
        "bn.running_var",
        "bn.num_batches_tracked",
    ]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "bn", "act", "fc2"]
    assert [n for n, _ in m.named_children()] == ["fc1", "bn", "act", "fc2"]
    # tied weights: reported once unless remove_duplicate=False
    tied = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    tied[1].weight = tied[0].weight
    assert len(list(tied.parameters())) == 3
    assert len(list(tied.named_parameters(remove_duplicate=False))) == 4
    same = nn.Sequential(tied[0], tied[0])
    assert len(list(same.modules())) == 2
    assert len(list(same.named_modules(remove_duplicate=False))) == 3


def test_get_submodule_parameter_buffer():
    m = Net()
    assert m.get_submodule("bn") is m.bn
    assert m.get_submodule("") is m
    assert m.get_parameter("fc1.weight") is m.fc1.weight
    assert m.get_buffer("bn.running_mean") is m.bn.running_mean
    with pytest.raises(AttributeError):
        m.get_submodule("nope")
    with pytest.raises(AttributeError, match="not an nn.Parameter"):
        m.get_parameter("bn.running_mean")
    assert "fc1" in dir(m) and "scale" in dir(m)


# ------------------------------------------------------------------ state_dict


def test_state_dict_keys_order_and_sharing():
    m = Net()
    sd = m.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == [
        "scale",
        "fc1.weight",
        "fc1.bias",
        "bn.weight",
        "bn.bias",
        "bn.running_mean",
        "bn.running_var",
        "bn.num_batches_tracked",
        "fc2.weight",
        "fc2.bias",
    ]
    assert not sd["fc1.weight"].requires_grad
    assert np.shares_memory(sd["fc1.weight"].numpy(), m.fc1.weight._data)
    assert m.state_dict(keep_vars=True)["fc1.weight"] is m.fc1.weight
    assert list(m.state_dict(prefix="p."))[0] == "p.scale"


def test_state_dict_keys_match_torch():
    torch = pytest.importorskip("torch")
    tnn = torch.nn

    class TNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = tnn.Linear(4, 8)
            self.bn = tnn.BatchNorm1d(8)
            self.act = tnn.ReLU()
            self.fc2 = tnn.Linear(8, 3)
            self.register_buffer("scale", torch.ones(3))
            self.register_buffer("cache", torch.zeros(2), persistent=False)

    t_sd = TNet().state_dict()
    c_sd = Net().state_dict()
    assert list(t_sd) == list(c_sd)
    assert [tuple(v.shape) for v in t_sd.values()] == [tuple(v.shape) for v in c_sd.values()]


def test_load_state_dict_copies_into_existing_arrays():
    m = Net()
    w_before = m.fc1.weight._data
    src = {k: np.full(v.shape, 0.5, dtype=v.numpy().dtype) for k, v in m.state_dict().items()}
    res = m.load_state_dict(src)
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert repr(res) == "<All keys matched successfully>"
    assert m.fc1.weight._data is w_before  # same array: optimizer views survive
    assert float(m.fc1.weight[0, 0]) == 0.5
    assert m.fc1.weight.requires_grad


def test_load_state_dict_strict_errors_list_everything_and_change_nothing():
    m = Net()
    before = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    bad = {k: cr.zeros(*v.shape) for k, v in m.state_dict().items()}
    del bad["fc2.bias"]
    del bad["bn.running_var"]
    bad["fc1.weight"] = cr.zeros(3, 3)
    bad["extra.thing"] = cr.zeros(1)
    with pytest.raises(RuntimeError) as info:
        m.load_state_dict(bad)
    msg = str(info.value)
    assert msg.startswith("Error(s) in loading state_dict for Net:")
    assert '"bn.running_var", "fc2.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra.thing"' in msg
    assert "size mismatch for fc1.weight: copying a param with shape torch.Size([3, 3])" in msg
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def test_load_state_dict_non_strict_reports_keys():
    m = Net()
    sd = m.state_dict()
    part = {k: v for k, v in sd.items() if k.startswith("fc1")}
    part["junk"] = cr.zeros(1)
    res = m.load_state_dict(part, strict=False)
    assert "fc2.weight" in res.missing_keys and res.unexpected_keys == ["junk"]
    # shape mismatches raise even when not strict (torch)
    with pytest.raises(RuntimeError, match="size mismatch"):
        m.load_state_dict({"fc1.weight": cr.zeros(1, 1)}, strict=False)
    with pytest.raises(TypeError, match="dict-like"):
        m.load_state_dict([1, 2])


def test_batchnorm_loads_checkpoint_without_num_batches_tracked():
    bn = nn.BatchNorm1d(3)
    sd = {k: v for k, v in bn.state_dict().items() if k != "num_batches_tracked"}
    assert bn.load_state_dict(sd).missing_keys == []


def test_load_torch_state_dict_directly_and_via_numpy():
    torch = pytest.importorskip("torch")
    t = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5))
    c = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5))
    c.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    np.testing.assert_array_equal(c[0].weight.detach().numpy(), t[0].weight.detach().numpy())
    c2 = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5))
    c2.load_state_dict(t.state_dict())  # torch tensors are accepted too
    np.testing.assert_array_equal(c2[0].bias.detach().numpy(), t[0].bias.detach().numpy())
    # and back into torch
    t2 = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5))
    t2.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in c.state_dict().items()})


def test_assign_replaces_tensors():
    m = nn.Linear(2, 2)
    new = {"weight": cr.ones(2, 2), "bias": cr.zeros(2)}
    old = m.weight
    m.load_state_dict(new, assign=True)
    assert m.weight is not old and isinstance(m.weight, nn.Parameter)
    assert m.weight.requires_grad


# ------------------------------------------------------------------ modes, grads, dtype


def test_train_eval_zero_grad_requires_grad_apply():
    m = Net()
    assert m.training and m.bn.training
    assert m.eval() is m and not m.bn.training
    m.train()
    assert m.bn.training
    with pytest.raises(ValueError, match="boolean"):
        m.train("yes")
    m(cr.randn(5, 4)).sum().backward()
    assert m.fc1.weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert float(m.fc1.weight.grad.abs().sum()) == 0.0
    m.zero_grad()
    assert m.fc1.weight.grad is None
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "BatchNorm1d", "ReLU", "Linear", "Net"]


def test_to_double_float_in_place_keeps_objects():
    m = Net()
    w = m.fc1.weight
    m(cr.randn(5, 4)).sum().backward()
    assert m.double() is m
    assert m.fc1.weight is w and w.dtype == cr.float64 and w.grad.dtype == cr.float64
    assert m.bn.running_mean.dtype == cr.float64
    assert m.bn.num_batches_tracked.dtype == cr.int64  # integers are left alone
    m.to(cr.float32)
    assert w.dtype == cr.float32
    m.to("cpu")
    m.to(cr.zeros(1, dtype=cr.float64))
    assert w.dtype == cr.float64
    m.float()
    assert m.cpu() is m
    with pytest.raises(TypeError, match="floating point"):
        m.to(cr.int64)
    out = m(cr.randn(5, 4))
    assert out.dtype == cr.float32


def test_deepcopy_and_parameter_repr():
    m = Net()
    m2 = copy.deepcopy(m)
    assert m2.fc1.weight is not m.fc1.weight
    assert isinstance(m2.fc1.weight, nn.Parameter)
    np.testing.assert_array_equal(m2.fc1.weight.detach().numpy(), m.fc1.weight.detach().numpy())
    p = nn.Parameter(cr.zeros(2))
    assert repr(p).startswith("Parameter containing:\ntensor([0., 0.], requires_grad=True)")
    assert not nn.Parameter(cr.zeros(1), requires_grad=False).requires_grad


# ------------------------------------------------------------------ hooks


def test_forward_pre_hook_and_forward_hook_with_handles():
    m = nn.Linear(3, 2)
    calls = []

    def pre(mod, args):
        calls.append("pre")
        return (args[0] * 0.0,)

    def post(mod, args, out):
        calls.append("post")
        return out + 1.0

    h1 = m.register_forward_pre_hook(pre)
    h2 = m.register_forward_hook(post)
    out = m(cr.randn(4, 3))
    np.testing.assert_allclose(
        out.detach().numpy(), (m.bias.detach().numpy() + 1.0)[None] * np.ones((4, 1))
    )
    assert calls == ["pre", "post"]
    h1.remove()
    h2.remove()
    h2.remove()  # a second remove is harmless
    calls.clear()
    m(cr.randn(4, 3))
    assert calls == []
    with m.register_forward_hook(lambda mod, a, o: calls.append("ctx")):
        m(cr.randn(1, 3))
    m(cr.randn(1, 3))
    assert calls == ["ctx"]


def test_forward_hooks_with_kwargs_and_prepend():
    m = nn.Linear(3, 2)
    order = []
    m.register_forward_hook(lambda mod, a, o: order.append("a"))
    m.register_forward_hook(lambda mod, a, o: order.append("b"), prepend=True)
    m.register_forward_pre_hook(lambda mod, a, k: (a, k), with_kwargs=True)
    m(cr.randn(1, 3))
    assert order == ["b", "a"]


def test_full_backward_hook_matches_torch():
    torch = pytest.importorskip("torch")
    c = nn.Linear(3, 2)
    t = torch.nn.Linear(3, 2)
    c.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    got = {}
    c.register_full_backward_hook(
        lambda mod, gi, go: got.update(c_in=gi[0].numpy().copy(), c_out=go[0].numpy().copy())
    )
    t.register_full_backward_hook(
        lambda mod, gi, go: got.update(t_in=gi[0].numpy().copy(), t_out=go[0].numpy().copy())
    )
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    xc = cr.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    (c(xc) ** 2).sum().backward()
    (t(xt) ** 2).sum().backward()
    np.testing.assert_allclose(got["c_in"], got["t_in"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["c_out"], got["t_out"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_backward_hook_can_replace_grad_input():
    m = nn.Linear(3, 2)
    m.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 0.0,))
    x = cr.randn(2, 3, requires_grad=True)
    m(x).sum().backward()
    assert float(x.grad.abs().sum()) == 0.0
    assert m.weight.grad is not None


# ------------------------------------------------------------------ containers


def test_sequential_indexing_slicing_append_delete():
    s = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(s) == 3 and isinstance(s[-1], nn.Linear)
    sub = s[1:]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2 and list(sub._modules) == ["1", "2"]
    s.append(nn.Sigmoid())
    assert list(s._modules) == ["0", "1", "2", "3"]
    del s[1]
    assert list(s._modules) == ["0", "1", "2"] and isinstance(s[1], nn.Linear)
    s[0] = nn.Identity()
    assert isinstance(s[0], nn.Identity)
    s.insert(0, nn.Tanh())
    assert isinstance(s[0], nn.Tanh) and len(s) == 4
    assert isinstance(s.pop(0), nn.Tanh)
    with pytest.raises(IndexError):
        s[10]
    named = nn.Sequential(OrderedDict([("conv", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["conv.weight", "conv.bias"]
    assert named.act is named[1]
    assert len(named + named) == 4
    assert len(nn.Sequential(nn.ReLU()) * 3) == 3
    out = nn.Sequential(nn.Linear(2, 3), nn.ReLU())(cr.randn(4, 2))
    assert out.shape == (4, 3)


def test_module_list_dict_parameter_containers():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh()])
    ml.insert(1, nn.Sigmoid())
    assert len(ml) == 6 and isinstance(ml[1], nn.Sigmoid)
    assert isinstance(ml[1:3], nn.ModuleList)
    del ml[0]
    assert list(ml._modules) == [str(i) for i in range(5)]
    md = nn.ModuleDict({"a": nn.Linear(1, 1)})
    md["b"] = nn.ReLU()
    md.update([("c", nn.Tanh())])
    assert list(md.keys()) == ["a", "b", "c"] and "b" in md and len(md) == 3
    assert isinstance(md.pop("b"), nn.ReLU)
    pl = nn.ParameterList([nn.Parameter(cr.zeros(2)), cr.ones(3)])
    assert isinstance(pl[1], nn.Parameter) and len(pl) == 2
    pd = nn.ParameterDict({"w": nn.Parameter(cr.zeros(2))})
    pd["v"] = cr.ones(1)
    assert isinstance(pd["v"], nn.Parameter) and list(pd.keys()) == ["w", "v"]

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.pl = pl
            self.pd = pd
            self.ml = nn.ModuleList([nn.Linear(1, 1)])

    assert list(Holder().state_dict()) == [
        "pl.0",
        "pl.1",
        "pd.w",
        "pd.v",
        "ml.0.weight",
        "ml.0.bias",
    ]


def test_repr_identical_to_torch():
    torch = pytest.importorskip("torch")
    tnn = torch.nn

    def build(lib):
        return lib.Sequential(
            lib.Linear(4, 8),
            lib.BatchNorm1d(8, momentum=None),
            lib.LeakyReLU(0.2, inplace=True),
            lib.Dropout(0.3),
            lib.ModuleList([lib.Linear(8, 8) for _ in range(3)] + [lib.ReLU()]),
            lib.ModuleDict({"ln": lib.LayerNorm([8]), "gn": lib.GroupNorm(2, 8, affine=False)}),
            lib.Embedding(10, 4, padding_idx=0, max_norm=1.0),
            lib.ELU(alpha=0.5),
            lib.GELU(approximate="tanh"),
            lib.Softplus(beta=2.0),
            lib.Softmax(dim=1),
            lib.LogSoftmax(dim=-1),
            lib.Hardtanh(-2.0, 2.0),
            lib.ReLU6(),
            lib.SELU(),
            lib.SiLU(),
            lib.Flatten(),
            lib.Unflatten(1, (2, 4)),
            lib.Identity(),
            lib.CrossEntropyLoss(label_smoothing=0.1),
            lib.PReLU(3),
            lib.Bilinear(2, 3, 4, bias=False),
            lib.Linear(3, 2, bias=False),
        )

    assert repr(build(nn)) == repr(build(tnn))
    assert repr(nn.BatchNorm2d(3, affine=False)) == repr(tnn.BatchNorm2d(3, affine=False))
    assert repr(nn.ParameterList([nn.Parameter(cr.zeros(2, 3))])) == repr(
        tnn.ParameterList([tnn.Parameter(torch.zeros(2, 3))])
    )


def test_module_paths_mirror_torch_and_star_import():
    assert cr.nn.modules.sparse.Embedding is nn.Embedding
    assert cr.nn.modules.linear.Linear is nn.Linear
    assert cr.nn.modules.loss.CrossEntropyLoss is nn.CrossEntropyLoss
    assert cr.nn.modules.container.Sequential is nn.Sequential
    assert cr.nn.modules.module.Module is nn.Module
    assert cr.nn.modules.batchnorm.BatchNorm1d is nn.BatchNorm1d
    namespace: dict = {}
    exec("from chainrule.nn import *", namespace)
    missing = [n for n in nn.__all__ if n not in namespace]
    assert not missing
    with pytest.raises(AttributeError):
        _ = cr.nn.modules.no_such_module


def test_backward_pre_hook_alone_sees_and_replaces_grad_output():
    m = nn.Linear(3, 2)
    seen = []

    def pre(mod, gout):
        seen.append(gout[0].numpy().copy())
        return (gout[0] * 2.0,)

    m.register_full_backward_pre_hook(pre)
    x = cr.randn(4, 3, requires_grad=True)
    m(x).sum().backward()
    np.testing.assert_allclose(seen[0], np.ones((4, 2)))
    np.testing.assert_allclose(
        x.grad.numpy(), 2.0 * m.weight.detach().numpy().sum(0)[None].repeat(4, 0), rtol=1e-6
    )
