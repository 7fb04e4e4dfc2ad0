"""explain(): a 2-2-1 sigmoid network's step, number by number, against a hand computation."""

from __future__ import annotations

import numpy as np
import pytest
from _diag_nets import Linear, MSELoss, Sequential, Sigmoid, mlp

import chainrule as cr
from chainrule import diagnose


def _sig(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def _hand(model: Sequential, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    W1, b1 = model[0].weight.detach().numpy().astype(np.float64), model[0].bias.detach().numpy()
    W2, b2 = model[2].weight.detach().numpy().astype(np.float64), model[2].bias.detach().numpy()
    z1 = x @ W1.T + b1
    a1 = _sig(z1)
    z2 = a1 @ W2.T + b2
    a2 = _sig(z2)
    loss = np.mean((a2 - y) ** 2)
    da2 = 2 * (a2 - y) / a2.size
    dz2 = da2 * a2 * (1 - a2)
    da1 = dz2 @ W2
    dz1 = da1 * a1 * (1 - a1)
    return {
        "z1": z1, "a1": a1, "z2": z2, "a2": a2, "loss": loss, "da2": da2, "dz2": dz2,
        "da1": da1, "dz1": dz1,
        "0.weight": dz1.T @ x, "0.bias": dz1.sum(0), "2.weight": dz2.T @ a1, "2.bias": dz2.sum(0),
    }  # fmt: skip


@pytest.mark.parametrize("batch", [1, 3])
def test_explain_2_2_1_matches_hand_computation_and_grad(batch: int) -> None:
    from chainrule.optim import SGD

    model = mlp([2, 2, 1], Sigmoid, last_act=True)
    rng = np.random.default_rng(batch)
    x = rng.standard_normal((batch, 2)).astype(np.float32)
    y = rng.random((batch, 1)).astype(np.float32)
    h = _hand(model, x.astype(np.float64), y.astype(np.float64))
    olds = {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
    opt = SGD(model.parameters(), lr=0.5)
    e = diagnose.explain(model, cr.tensor(x), cr.tensor(y), MSELoss(), opt)

    tol = {"rtol": 1e-5, "atol": 1e-7}
    kinds = [s.kind for s in e.forward]
    assert kinds == ["Linear", "Sigmoid", "Linear", "Sigmoid"]
    np.testing.assert_allclose(e.forward[0].values["z"], h["z1"], **tol)
    np.testing.assert_allclose(e.forward[1].values["a"], h["a1"], **tol)
    np.testing.assert_allclose(e.forward[2].values["z"], h["z2"], **tol)
    np.testing.assert_allclose(e.forward[3].values["a"], h["a2"], **tol)
    assert e.loss == pytest.approx(h["loss"], rel=1e-5)
    # backward, node by node: mse → sigmoid → linear → sigmoid → linear
    assert [s.op for s in e.backward] == ["mse_loss", "sigmoid", "linear", "sigmoid", "linear"]
    s_out = e.backward[1]
    np.testing.assert_allclose(s_out.upstream, h["da2"], **tol)
    np.testing.assert_allclose(s_out.local_value, h["a2"] * (1 - h["a2"]), **tol)
    np.testing.assert_allclose(next(iter(s_out.grads.values())), h["dz2"], **tol)
    np.testing.assert_allclose(e.backward[3].upstream, h["da1"], **tol)
    np.testing.assert_allclose(next(iter(e.backward[3].grads.values())), h["dz1"], **tol)
    assert e.backward[1].formula == "x̄ = ȳ · y · (1 − y)"
    # parameter gradients: hand values and .grad
    for n, p in model.named_parameters():
        np.testing.assert_allclose(e.gradients[n], h[n], **tol)
        np.testing.assert_allclose(e.gradients[n], p.grad.numpy(), rtol=0, atol=0)
    # the update w_new = w_old − η·∂L/∂w, applied by the optimizer
    assert [u.name for u in e.updates] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for u in e.updates:
        assert u.rule == "w_new = w_old − η·∂L/∂w"
        np.testing.assert_allclose(u.new, olds[u.name] - 0.5 * h[u.name], **tol)
        np.testing.assert_allclose(dict(model.named_parameters())[u.name].detach().numpy(), u.new)


def test_single_neuron_by_hand_and_renderings() -> None:
    """The seeds' neuron: z = w·x + b, a = σ(z), L = (a − y)², one SGD step."""
    neuron = Sequential(Linear(1, 1), Sigmoid())
    with cr.no_grad():
        neuron[0].weight.fill_(0.5)
        neuron[0].bias.fill_(0.1)
    e = diagnose.explain(neuron, cr.tensor([[1.0]]), cr.tensor([[1.0]]), MSELoss(), lr=0.1)
    a = 1 / (1 + np.exp(-0.6))
    dz = 2 * (a - 1) * a * (1 - a)
    assert e.loss == pytest.approx((a - 1) ** 2, rel=1e-6)
    assert e.gradients["0.weight"][0, 0] == pytest.approx(dz, rel=1e-5)
    assert e.updates[1].new[0] == pytest.approx(0.1 - 0.1 * dz, rel=1e-5)
    text = str(e)
    assert "z[0] = (0.5)·(1) + (0.1) = 0.6" in text
    assert "w_new = w_old − η·∂L/∂w" in text and "not applied" in text
    md = e.to_markdown()
    assert md.startswith("# One training step") and "## 3. Backward pass" in md
    from html.parser import HTMLParser

    HTMLParser().feed(e.to_html())
    assert "<h3>2. Loss</h3>" in e.to_html()
    assert neuron[0].weight.item() == 0.5  # lr without optimizer: nothing applied


def test_explain_large_net_summarises() -> None:
    model = mlp([30, 20, 5], Sigmoid)
    e = diagnose.explain(
        model, cr.randn(8, 30), cr.randn(8, 5), MSELoss(), param="0.weight", lr=0.1
    )
    assert "<shape (8, 20)" in str(e) and len(e.updates) == 1


def test_explain_shape_mismatch_gives_the_loss_error() -> None:
    model = mlp([2, 2, 1], Sigmoid)
    x, y = cr.randn(3, 2), cr.randn(4, 1)
    with pytest.raises(Exception) as expected:
        MSELoss()(model(x), y)
    before = [p.detach().numpy().copy() for p in model.parameters()]
    with pytest.raises(type(expected.value)) as got:
        diagnose.explain(model, x, y, MSELoss())
    assert str(got.value) == str(expected.value)
    assert all(np.array_equal(b, p.detach().numpy()) for b, p in zip(before, model.parameters()))
    with pytest.raises(KeyError, match="no parameter named"):
        diagnose.explain(model, x, cr.randn(3, 1), MSELoss(), param="nope")
