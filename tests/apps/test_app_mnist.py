"""MNIST end to end on a small budget: the real IDX files, the CLI task, the CNN and the MLP."""

from __future__ import annotations

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim, train
from chainrule.cli import main
from chainrule.data.datasets import MNIST
from chainrule.models import MnistCNN, get_model


@pytest.fixture(scope="module")
def mnist_test():
    return MNIST(train=False)


def test_real_files_load(mnist_test):
    assert len(mnist_test) == 10_000
    x, y = mnist_test[0]
    assert tuple(x.shape) == (1, 28, 28) and 0 <= int(y) <= 9
    counts = np.bincount(mnist_test.targets_array, minlength=10)
    assert counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_registry_builds_both_models():
    x = cr.randn(2, 1, 28, 28)
    for name in ("cnn", "mlp"):
        assert tuple(get_model("mnist", name)(x).shape) == (2, 10)
    cnn = get_model("mnist", "cnn")
    kinds = [type(m).__name__ for m in cnn.features]
    assert kinds == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"] * 2
    assert any(isinstance(m, nn.Dropout) for m in cnn.classifier)


def test_mlp_through_the_cli(tmp_path):
    out = tmp_path / "mlp"
    code = main(["train", "--task", "mnist", "--model", "mlp", "--epochs", "2", "--limit", "1500",
                 "--no-progress", "--no-plot", "--out", str(out)])  # fmt: skip
    assert code == 0
    run = json.loads((out / "run.json").read_text())
    assert run["task"] == "mnist" and run["model_name"] == "mlp"
    assert run["test"]["accuracy"] > 0.7  # chance is 0.1
    lines = (out / "history.csv").read_text().splitlines()
    col = lines[0].split(",").index("loss")
    losses = [float(row.split(",")[col]) for row in lines[1:]]
    assert losses[1] < losses[0]


def test_cnn_trains_on_a_subset(mnist_test):
    x, y = mnist_test.arrays()
    x = (x.reshape(-1, 1, 28, 28)[:800] - 0.1307) / 0.3081
    y = y[:800]
    cr.manual_seed(0)
    model = MnistCNN(channels=8)
    history = train.fit(model, (x[:600], y[:600]), loss=nn.CrossEntropyLoss(),
                        optimizer=optim.Adam(model.parameters(), lr=3e-3), epochs=2,
                        batch_size=50, metrics=["accuracy"], seed=0, progress=False)  # fmt: skip
    losses = history["loss"]
    assert losses[-1] < losses[0]
    result = train.evaluate(model, (x[600:], y[600:]), loss=nn.CrossEntropyLoss(),
                            metrics=["accuracy"])  # fmt: skip
    assert result["accuracy"] > 0.5
