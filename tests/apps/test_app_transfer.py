"""Transfer learning on a small budget: a CNN pretrained on MNIST, saved, loaded, frozen (no
gradients, eval-mode BatchNorm) with a new head, fine-tuned on 10 upsampled 8x8 digits per class,
beats the same network trained from scratch on those 100 examples; a CNN trained and saved by
torch (safetensors) fine-tunes in chainrule."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim, train
from chainrule.data.datasets import MNIST, Digits
from chainrule.models import MnistCNN
from chainrule.models.apps import FineTuned, few_shot_indices, fine_tune_model, upsample_digits

CHANNELS = 8


@pytest.fixture(scope="module")
def digits28():
    x, y = Digits(train=True).arrays()
    return upsample_digits(x), np.asarray(y)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A small MNIST CNN trained for one pass over 3,000 images, saved as safetensors."""
    x, y = MNIST(train=False).arrays()  # the 10k test file loads fastest; any MNIST will do
    x = ((x.reshape(-1, 1, 28, 28) - 0.1307) / 0.3081)[:3000]
    cr.manual_seed(0)
    model = MnistCNN(channels=CHANNELS)
    train.fit(model, (x, y[:3000]), loss=nn.CrossEntropyLoss(),
              optimizer=optim.Adam(model.parameters(), lr=3e-3), epochs=1, batch_size=100,
              seed=0, progress=False)  # fmt: skip
    path = tmp_path_factory.mktemp("pretrained") / "mnist_cnn.safetensors"
    cr.save(model.state_dict(), path)
    return path


def fit_small(model, x, y, epochs=4):
    params = [p for p in model.parameters() if p.requires_grad]
    history = train.fit(model, (x, y), loss=nn.CrossEntropyLoss(),
                        optimizer=optim.Adam(params, lr=2e-3), epochs=epochs, batch_size=25,
                        seed=0, progress=False)  # fmt: skip
    return history["loss"]


def accuracy(model, x, y):
    out = train.predict(model, x).numpy()
    return float((out.argmax(1) == y).mean())


def test_upsampled_digits_look_like_mnist(digits28):
    x, y = digits28
    assert x.shape == (len(y), 1, 28, 28) and x.dtype == np.float32
    raw = x * 0.3081 + 0.1307
    assert np.allclose(raw[:, :, :4], 0, atol=1e-6) and raw.max() <= 1 + 1e-6  # 4-pixel border


def test_frozen_body_gets_no_gradients_and_keeps_bn_statistics(pretrained):
    model = fine_tune_model(pretrained)
    assert isinstance(model, FineTuned)
    before = {k: v.numpy().copy() for k, v in model.features.state_dict().items()}
    model.train()
    assert not model.features.training and model.head.training
    assert all(not p.requires_grad for p in model.features.parameters())
    loss = model(cr.randn(8, 1, 28, 28)).sum()
    loss.backward()
    assert all(p.grad is None for p in model.features.parameters())
    after = model.features.state_dict()
    for key, value in before.items():  # running means/vars untouched by a training forward
        np.testing.assert_array_equal(after[key].numpy(), value)


def test_fine_tuning_beats_scratch_on_100_examples(pretrained, digits28):
    x, y = digits28
    pick, rest = few_shot_indices(y, 10, seed=0)
    assert len(pick) == 100 and np.bincount(y[pick]).tolist() == [10] * 10
    rest = rest[:600]
    cr.manual_seed(0)
    tuned = fine_tune_model(pretrained)
    tuned_losses = fit_small(tuned, x[pick], y[pick])
    cr.manual_seed(0)
    scratch = MnistCNN(channels=CHANNELS)
    fit_small(scratch, x[pick], y[pick])
    acc_tuned, acc_scratch = accuracy(tuned, x[rest], y[rest]), accuracy(scratch, x[rest], y[rest])
    assert tuned_losses[-1] < tuned_losses[0]
    assert acc_tuned > 0.5
    # the same small budget (4 epochs): the pretrained features give a clear head start
    assert acc_tuned > acc_scratch + 0.02, (acc_tuned, acc_scratch)


def test_torch_trained_safetensors_fine_tunes_in_chainrule(tmp_path, digits28):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    tnn = torch.nn
    torch.manual_seed(0)

    class TorchMnistCNN(tnn.Module):  # the same layers and names as chainrule's MnistCNN
        def __init__(self, c=CHANNELS):
            super().__init__()
            self.features = tnn.Sequential(
                tnn.Conv2d(1, c, 3, padding=1, bias=False), tnn.BatchNorm2d(c), tnn.ReLU(),
                tnn.MaxPool2d(2), tnn.Conv2d(c, 2 * c, 3, padding=1, bias=False),
                tnn.BatchNorm2d(2 * c), tnn.ReLU(), tnn.MaxPool2d(2))  # fmt: skip
            self.classifier = tnn.Sequential(
                tnn.Flatten(), tnn.Dropout(0.25), tnn.Linear(2 * c * 49, 128), tnn.ReLU(),
                tnn.Dropout(0.25), tnn.Linear(128, 10))  # fmt: skip

        def forward(self, x):
            return self.classifier(self.features(x))

    x, y = MNIST(train=False).arrays()
    x = torch.from_numpy(((x.reshape(-1, 1, 28, 28) - 0.1307) / 0.3081)[:2000].copy())
    y = torch.from_numpy(y[:2000].copy())
    tmodel = TorchMnistCNN()
    opt = torch.optim.Adam(tmodel.parameters(), lr=3e-3)
    for i in range(0, 2000, 100):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(tmodel(x[i : i + 100]), y[i : i + 100]).backward()
        opt.step()
    path = tmp_path / "torch_cnn.safetensors"
    safetensors_torch.save_file(tmodel.state_dict(), str(path))

    model = fine_tune_model(path)
    for key, value in model.features.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), tmodel.features.state_dict()[key].numpy())
    xd, yd = digits28
    pick, rest = few_shot_indices(yd, 10, seed=1)
    losses = fit_small(model, xd[pick], yd[pick], epochs=6)
    assert losses[-1] < losses[0]
    assert accuracy(model, xd[rest[:500]], yd[rest[:500]]) > 0.4  # chance is 0.1


def test_few_shot_rejects_too_few_examples():
    with pytest.raises(ValueError, match="class 1 has 1 examples"):
        few_shot_indices(np.array([0, 0, 1]), 2)


def test_checkpoint_of_another_task_is_refused_naming_it(tmp_path):
    from chainrule.cli import main

    out = tmp_path / "digits"
    assert main(["train", "--task", "digits", "--model", "mlp", "--epochs", "1", "--limit", "64",
                 "--no-progress", "--no-plot", "--out", str(out)]) == 0  # fmt: skip
    with pytest.raises(ValueError, match="checkpoint for task 'digits'"):
        fine_tune_model(out / "checkpoint.safetensors")
    cr.save({"weight": cr.zeros(2, 2)}, tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="MnistCNN weights"):
        fine_tune_model(tmp_path / "other.safetensors")
