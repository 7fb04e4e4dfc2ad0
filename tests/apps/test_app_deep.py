"""Deep networks: a 20-layer sigmoid MLP is flagged vanishing and does not learn; the same depth
with ReLU + He init + residual connections + normalisation is healthy and trains on digits."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data.datasets import Digits
from chainrule.diagnose import GradientHealthMonitor, health
from chainrule.models import get_model
from chainrule.models.apps import DeepMLP


@pytest.fixture(scope="module")
def digits():
    xtr, ytr = Digits(train=True).arrays()
    xte, yte = Digits(train=False).arrays()
    f = np.float32
    return xtr.reshape(len(xtr), -1).astype(f), ytr, xte.reshape(len(xte), -1).astype(f), yte


def sgd_train(model, x, y, epochs, monitor=None):
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses, step = [], 0
    for _ in range(epochs):
        model.train()
        total = 0.0
        for i in range(0, len(x), 64):
            idx = np.arange(i, min(i + 64, len(x)))
            loss = nn.functional.cross_entropy(model(cr.from_numpy(x[idx])), cr.from_numpy(y[idx]))
            opt.zero_grad()
            loss.backward()
            if monitor is not None:
                monitor.on_backward(model, step, loss)
            opt.step()
            if monitor is not None:
                monitor.on_step(model, step)
            step += 1
            total += float(loss) * len(idx)
        losses.append(total / len(x))
    return losses


def accuracy(model, x, y):
    model.eval()
    with cr.no_grad():
        return float((model(cr.from_numpy(x)).numpy().argmax(1) == y).mean())


def test_sigmoid_depth_20_vanishes_and_fails(digits):
    xtr, ytr, xte, yte = digits
    cr.manual_seed(0)
    model = DeepMLP(depth=20, style="plain-sigmoid")
    report = health(model, (cr.from_numpy(xtr[:128]), cr.from_numpy(ytr[:128])),
                    nn.CrossEntropyLoss())  # fmt: skip
    assert "vanishing" in report.kinds
    monitor = GradientHealthMonitor(model, every=1, window=10)
    sgd_train(model, xtr, ytr, epochs=2, monitor=monitor)
    monitor.detach()
    assert "vanishing" in monitor.report().kinds
    assert accuracy(model, xte, yte) < 0.3  # chance is 0.1: it does not learn


def test_residual_relu_he_norm_trains(digits):
    xtr, ytr, xte, yte = digits
    cr.manual_seed(0)
    model = get_model("digits", "deep-residual")
    assert isinstance(model, DeepMLP) and model.style == "residual"
    report = health(model, (cr.from_numpy(xtr[:128]), cr.from_numpy(ytr[:128])),
                    nn.CrossEntropyLoss())  # fmt: skip
    assert "vanishing" not in report.kinds and "exploding" not in report.kinds
    losses = sgd_train(model, xtr, ytr, epochs=6)
    assert losses[-1] < losses[0] / 3
    assert accuracy(model, xte, yte) >= 0.9


def test_layernorm_variant_and_gradient_plot(digits, tmp_path):
    xtr, ytr, _, _ = digits
    cr.manual_seed(0)
    model = DeepMLP(depth=20, style="residual", norm="layer")
    report = health(model, (cr.from_numpy(xtr[:64]), cr.from_numpy(ytr[:64])),
                    nn.CrossEntropyLoss())  # fmt: skip
    assert "vanishing" not in report.kinds
    pytest.importorskip("matplotlib")
    report.plot(tmp_path / "flow.png")
    assert (tmp_path / "flow.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_arguments():
    with pytest.raises(ValueError, match="style"):
        DeepMLP(style="tanh")
    with pytest.raises(ValueError, match="norm"):
        DeepMLP(style="residual", norm="group")
