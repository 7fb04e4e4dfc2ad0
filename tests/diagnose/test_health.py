"""Gradient-health verdicts on constructed cases (and none on a healthy net)."""

from __future__ import annotations

import numpy as np
import pytest
from _diag_nets import Linear, MSELoss, ReLU, Sequential, Sigmoid, mlp, sgd_step

import chainrule as cr
from chainrule import diagnose


def _digits_like(n: int = 128, seed: int = 0):
    """8×8 'digits': 4 classes of noisy prototype images, one-hot targets."""
    rng = np.random.default_rng(seed)
    protos = rng.random((4, 64))
    labels = rng.integers(0, 4, n)
    x = protos[labels] + 0.2 * rng.standard_normal((n, 64))
    y = np.eye(4)[labels]
    return cr.tensor(x.astype(np.float32)), cr.tensor(y.astype(np.float32))


def test_deep_sigmoid_mlp_is_vanishing() -> None:
    model = mlp([8] + [16] * 19 + [1], Sigmoid)
    x, y = cr.randn(16, 8), cr.randn(16, 1)
    rep = diagnose.health(model, (x, y), MSELoss())
    assert "vanishing" in rep.kinds, str(rep)
    v = next(v for v in rep.verdicts if v.kind == "vanishing")
    assert "0" in v.layers  # the first layer is among the starved ones
    assert "ReLU/GELU" in v.advice and "1e-04" in v.evidence
    assert not rep.healthy
    d = rep.to_dict()
    assert d["verdicts"][0]["kind"] == "vanishing" and len(d["layers"]) == 39


def test_too_high_lr_is_exploding() -> None:
    model = mlp([8, 32, 32, 1], ReLU)
    x, y = cr.randn(32, 8), cr.randn(32, 1) * 3
    mon = diagnose.GradientHealthMonitor(model, window=30)
    with np.errstate(all="ignore"):
        for step in range(12):
            loss = MSELoss()(model(x), y)
            model.zero_grad()
            loss.backward()
            mon.on_backward(model, step, loss)
            sgd_step(model, lr=2.0)
            mon.on_step(model, step)
    rep = mon.report()
    mon.detach()
    assert "exploding" in rep.kinds, str(rep)
    v = next(v for v in rep.verdicts if v.kind == "exploding")
    assert "learning rate" in v.advice and "clip" in v.advice
    assert len(rep.timeline) == 12


def test_negative_bias_relu_is_dead() -> None:
    model = Sequential(Linear(8, 32), ReLU(), Linear(32, 1))
    with cr.no_grad():
        model[0].bias.fill_(-10.0)
    rep = diagnose.health(model, (cr.randn(32, 8), cr.randn(32, 1)), MSELoss())
    assert "dead units" in rep.kinds, str(rep)
    row = next(r for r in rep.layers if r.name == "1")
    assert row.dead_fraction > 0.9
    assert "LeakyReLU" in next(v for v in rep.verdicts if v.kind == "dead units").advice


def test_saturated_sigmoid() -> None:
    model = Sequential(Linear(8, 16), Sigmoid(), Linear(16, 1))
    with cr.no_grad():
        model[0].weight.mul_(40.0)
    rep = diagnose.health(model, (cr.randn(32, 8), cr.randn(32, 1)), MSELoss())
    assert "saturated" in rep.kinds, str(rep)


def test_update_ratio_verdicts() -> None:
    model = mlp([8, 16, 4], ReLU)
    batch = (cr.randn(16, 8), cr.randn(16, 4))
    assert "update too large" in diagnose.health(model, batch, MSELoss(), lr=100.0).kinds
    assert "update too small" in diagnose.health(model, batch, MSELoss(), lr=1e-9).kinds


def test_healthy_net_on_digits_has_no_warnings() -> None:
    x, y = _digits_like()
    model = mlp([64, 32, 16, 4], ReLU)
    mon = diagnose.GradientHealthMonitor(model)
    for step in range(15):
        loss = MSELoss()(model(x), y)
        model.zero_grad()
        loss.backward()
        mon.on_backward(model, step, loss)
        sgd_step(model, lr=0.1)
        mon.on_step(model, step)
    rep = mon.report()
    mon.detach()
    assert rep.kinds == ["healthy"], str(rep)
    single = diagnose.health(model, (x, y), MSELoss(), lr=0.1)
    assert single.healthy, str(single)
    text = str(single)
    assert "HEALTHY" in text and "|grad|" in text
    assert model[0].weight.grad is not None  # grads restored, not cleared


def test_health_restores_grads_and_bad_input() -> None:
    model = mlp([4, 3, 2], ReLU)
    for p in model.parameters():
        p.grad = None
    diagnose.health(model, (cr.randn(5, 4), cr.randn(5, 2)), MSELoss())
    assert all(p.grad is None for p in model.parameters())
    x = cr.randn(5, 4)
    MSELoss()(model(x), cr.randn(5, 2)).backward()
    g0 = model[0].weight.grad.numpy().copy()
    with pytest.raises((RuntimeError, ValueError)):  # the loss's own error; grads kept
        diagnose.health(model, (x, cr.randn(3, 2)), MSELoss())
    assert np.array_equal(model[0].weight.grad.numpy(), g0)
    with pytest.raises(TypeError, match="pair"):
        diagnose.health(model, cr.randn(5, 4), MSELoss())
    with pytest.raises(KeyError, match="unknown thresholds"):
        diagnose.health(model, (cr.randn(5, 4), cr.randn(5, 2)), MSELoss(), thresholds={"x": 1})


def test_monitor_observe_adapter_and_plot() -> None:
    model = mlp([4, 8, 2], ReLU)
    mon = diagnose.GradientHealthMonitor(model)

    class State:
        pass

    st = State()
    st.model, st.optimizer = model, None
    x, y = cr.randn(8, 4), cr.randn(8, 2)
    for step in range(4):
        loss = MSELoss()(model(x), y)
        model.zero_grad()
        loss.backward()
        st.step, st.batch_loss = step, float(loss.item())
        mon.observe(st)
        sgd_step(model, 0.05)
    rep = mon.report()
    assert rep.timeline[1]["layers"]["0"]["update_ratio"] > 0
    pytest.importorskip("matplotlib")
    assert rep.plot().axes
    with pytest.raises(RuntimeError, match="no step recorded"):
        diagnose.GradientHealthMonitor(model, attach=False).report()


def test_monitor_learns_sampling_period_from_observe() -> None:
    model = mlp([4, 8, 2], ReLU)
    mon = diagnose.GradientHealthMonitor(model)

    class State:
        optimizer = None

    st = State()
    st.model = model
    x, y = cr.randn(8, 4), cr.randn(8, 2)
    for step in range(9):
        loss = MSELoss()(model(x), y)
        model.zero_grad()
        loss.backward()
        if step % 4 == 0:
            st.step, st.batch_loss = step, float(loss.item())
            mon.observe(st)
    assert mon.every == 4 and [t["step"] for t in mon.timeline] == [0, 4, 8]


def test_healthy_cnn_on_digits_has_no_warnings() -> None:
    from chainrule import nn, optim
    from chainrule.data.datasets.digits import load_digits

    imgs, labels = load_digits()
    x = cr.tensor((imgs[:256, None] / 16.0).astype(np.float32))
    y = cr.tensor(labels[:256])
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(8 * 4 * 4, 32), nn.ReLU(), nn.Linear(32, 10),
    )  # fmt: skip
    opt = optim.Adam(model.parameters(), lr=5e-3)
    loss_fn = nn.CrossEntropyLoss()
    mon = diagnose.GradientHealthMonitor(model, opt)
    for step in range(20):
        i = (step * 64) % 256
        loss = loss_fn(model(x[i : i + 64]), y[i : i + 64])
        opt.zero_grad()
        loss.backward()
        mon.on_backward(model, step, loss)
        opt.step()
        mon.on_step(model, step)
    rep = mon.report()
    mon.detach()
    assert rep.kinds == ["healthy"], str(rep)
    assert rep.loss < 2.2
    single = diagnose.health(model, (x[:64], y[:64]), loss_fn, optimizer=opt)
    assert single.healthy, str(single)
    conv = next(r for r in single.layers if r.name == "0")
    assert conv.kind == "Conv2d" and conv.update_ratio is not None and conv.grad_flow > 1e-3


def test_monitor_measures_activations_only_on_sampled_steps() -> None:
    model = mlp([4, 8, 2], ReLU)
    mon = diagnose.GradientHealthMonitor(model, every=3)
    x, y = cr.randn(8, 4), cr.randn(8, 2)
    measured = []
    for step in range(7):
        mon._rec.stats.clear()
        loss = MSELoss()(model(x), y)
        measured.append(bool(mon._rec.stats))
        with cr.no_grad():
            model(x)  # evaluation forwards are not training steps
        model.zero_grad()
        loss.backward()
        mon.on_backward(model, step, loss)
        mon.on_step(model, step)
    assert measured == [True, False, False, True, False, False, True]
    assert [t["step"] for t in mon.timeline] == [0, 3, 6]
    assert "activations" in mon.timeline[-1] and "1" in mon.timeline[-1]["activations"]


def test_single_batch_exploding_from_large_init() -> None:
    model = Sequential(*[Linear(16, 16) for _ in range(10)], Linear(16, 1))
    with cr.no_grad():
        for layer in list(model)[:-1]:
            layer.weight.mul_(6.0)
    rep = diagnose.health(model, (cr.randn(8, 16), cr.randn(8, 1)), MSELoss())
    assert rep.kinds == ["exploding"], str(rep)
    assert "clip" in rep.verdicts[0].advice and "layer 0 receives" in rep.verdicts[0].evidence
