"""Sequential Linear/ReLU stacks run as one fused node: same numbers, same errors, and the
per-layer path wherever something could observe the layers (hooks, anomaly, ONNX, explain)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn


def _mlp(dtype: cr.dtype = cr.float32, relu_last: bool = False, bias: bool = True) -> nn.Module:
    cr.manual_seed(0)
    layers: list[nn.Module] = [nn.Linear(6, 8, bias=bias), nn.ReLU(), nn.Linear(8, 5), nn.ReLU()]
    layers += [nn.Linear(5, 3)] + ([nn.ReLU()] if relu_last else [])
    return nn.Sequential(*layers).to(dtype)


def _run(model: nn.Module, x: np.ndarray, fused: bool) -> tuple[np.ndarray, dict, np.ndarray, str]:
    model.zero_grad()
    xt = cr.tensor(x, requires_grad=True)
    with nn.fusion(fused):
        out = model(xt)
    (out * cr.arange(out.numel()).reshape(out.shape).to(out.dtype)).sum().backward()
    grads = {n: p.grad.numpy().copy() for n, p in model.named_parameters() if p.grad is not None}
    return out.detach().numpy(), grads, xt.grad.numpy(), out.grad_fn.name()


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
@pytest.mark.parametrize("relu_last", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_equals_layer_by_layer_bit_for_bit(dtype, relu_last, bias) -> None:
    model = _mlp(dtype, relu_last, bias)
    x = np.random.default_rng(1).standard_normal((7, 6)).astype(dtype.np)
    out_f, g_f, gx_f, name_f = _run(model, x, True)
    out_u, g_u, gx_u, name_u = _run(model, x, False)
    assert name_f == name_u == ("ReluBackward0" if relu_last else "AddmmBackward0")
    np.testing.assert_array_equal(out_f, out_u)
    np.testing.assert_array_equal(gx_f, gx_u)
    assert g_f.keys() == g_u.keys() and len(g_f) == (6 if bias else 5)
    for k in g_f:
        np.testing.assert_array_equal(g_f[k], g_u[k], err_msg=k)
        assert g_f[k].dtype == dtype.np


def test_fusion_is_one_node_whose_inputs_are_input_and_parameters() -> None:
    model = _mlp()
    out = model(cr.randn(4, 6))
    fns = out.grad_fn.next_functions
    assert len(fns) == 7  # input (no grad), then weight and bias of three layers
    assert fns[0] == (None, 0)
    assert [type(f).__name__ for f, _ in fns[1:]] == ["_AccumulateGrad"] * 6
    with nn.fusion(False):
        assert model(cr.randn(4, 6)).grad_fn.next_functions[0][0].name() == "ReluBackward0"


def test_frozen_layer_gets_no_gradient() -> None:
    model = _mlp()
    model[0].requires_grad_(False)
    loss = model(cr.randn(4, 6)).sum()
    loss.backward()
    assert model[0].weight.grad is None and model[0].bias.grad is None
    assert model[2].weight.grad is not None
    ref = _mlp()
    ref[0].requires_grad_(False)
    x = cr.randn(4, 6)
    model.zero_grad()
    model(x).sum().backward()
    with nn.fusion(False):
        ref.zero_grad()
        ref(x).sum().backward()
    np.testing.assert_array_equal(model[4].weight.grad.numpy(), ref[4].weight.grad.numpy())


def test_hooks_dropout_and_3d_inputs_take_the_layer_path() -> None:
    model = _mlp()
    seen: list[tuple] = []
    h = model[2].register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape)))
    out = model(cr.randn(4, 6))
    assert seen == [(4, 5)] and out.grad_fn.next_functions[0][0] is not None
    h.remove()
    train_drop = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))
    fns = train_drop(cr.randn(4, 6)).grad_fn.next_functions  # the last Linear's node alone:
    assert len(fns) == 3 and fns[0][0] is not None  # its input comes from the dropout's node
    train_drop.eval()  # eval-mode dropout is the identity: fused
    assert len(train_drop(cr.randn(4, 6)).grad_fn.next_functions) == 5
    x3 = cr.randn(2, 4, 6)
    y3 = model(x3)  # 3-D input: layer by layer
    assert tuple(y3.shape) == (2, 4, 3)
    assert y3.grad_fn.next_functions[0][0] is not None  # the previous layer's node
    np.testing.assert_allclose(y3[1].detach().numpy(), model(x3[1]).detach().numpy(), rtol=1e-5)


def test_anomaly_mode_and_onnx_trace_see_every_layer() -> None:
    model = _mlp()
    with cr.autograd.detect_anomaly():
        out = model(cr.randn(4, 6))
    assert out.grad_fn.next_functions[0][0].name() == "ReluBackward0"


def test_bad_width_raises_the_layer_error() -> None:
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(7, 3))
    with pytest.raises(RuntimeError, match=r"in_features=7|mat1 and mat2"):
        model(cr.randn(4, 6))
    with pytest.raises(RuntimeError, match=r"in_features=6|mat1 and mat2"):
        _mlp()(cr.randn(4, 5))


def test_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    model = _mlp(cr.float64, relu_last=True)
    tm = torch.nn.Sequential(
        torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 5), torch.nn.ReLU(),
        torch.nn.Linear(5, 3), torch.nn.ReLU(),
    ).double()  # fmt: skip
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((5, 6))
    out = model(cr.tensor(x))
    tout = tm(torch.tensor(x))
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    out.square().sum().backward()
    tout.square().sum().backward()
    for (n, p), tp in zip(model.named_parameters(), tm.parameters()):
        np.testing.assert_allclose(
            p.grad.numpy(), tp.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=n
        )


def test_fusion_switch_restores() -> None:
    from chainrule.nn.modules import _fusion

    with nn.fusion(False):
        assert not _fusion._enabled
        with nn.fusion(True):
            assert _fusion._enabled
        assert not _fusion._enabled
    assert _fusion._enabled
