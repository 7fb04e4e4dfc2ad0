"""Transfer learning: an MNIST CNN fine-tuned on 10 labelled 8x8 digits per class.

    PYTHONPATH=. python examples/transfer.py                        # pretrain, save, fine-tune
    PYTHONPATH=. python examples/transfer.py --pretrained mnist_cnn.safetensors
    PYTHONPATH=. python examples/transfer.py --pretrained torch_cnn.safetensors  # saved by torch

1. Pretrain ``MnistCNN`` on MNIST (or load weights: a chainrule checkpoint or any safetensors
   file with the same state_dict keys, e.g. ``safetensors.torch.save_file(model.state_dict())``
   of the same network in PyTorch).
2. Freeze its convolutional body: ``requires_grad_(False)`` (no gradients, no updates) and
   eval-mode BatchNorm (the running statistics learned on MNIST stay), replace the head.
3. Fine-tune the head on 100 examples (10 per class) of the UCI 8x8 digits, upsampled into
   MNIST's 28x28 layout, and compare with the same CNN trained from scratch on the same 100.
"""

from __future__ import annotations

import argparse

import numpy as np

import chainrule as cr
from chainrule import nn, optim, train
from chainrule.data.datasets import MNIST, Digits
from chainrule.models import MnistCNN
from chainrule.models.apps import few_shot_indices, fine_tune_model, upsample_digits


def pretrain(path: str, epochs: int, limit: int | None) -> None:
    """Train MnistCNN on MNIST and save its weights to ``path`` (safetensors)."""
    x, y = MNIST(train=True).arrays()
    x = (x.reshape(-1, 1, 28, 28) - 0.1307) / 0.3081
    if limit:
        x, y = x[:limit], y[:limit]
    cr.manual_seed(0)
    model = MnistCNN()
    train.fit(model, (x, y), loss=nn.CrossEntropyLoss(),
              optimizer=optim.Adam(model.parameters(), lr=2e-3), epochs=epochs, batch_size=128,
              seed=0)  # fmt: skip
    cr.save(model.state_dict(), path)
    print(f"pretrained weights saved to {path}")


def fit_eval(model, x, y, x_test, y_test, epochs: int) -> float:
    """Adam on the trainable parameters only; accuracy on the test digits."""
    params = [p for p in model.parameters() if p.requires_grad]
    train.fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=optim.Adam(params, lr=1e-3),
              epochs=epochs, batch_size=20, seed=0, progress=False)  # fmt: skip
    return float((train.predict(model, x_test).numpy().argmax(1) == y_test).mean())


def main() -> None:
    """Pretrain (unless given weights), then fine-tune vs scratch on the same 100 digits."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pretrained", help="MnistCNN weights (safetensors); else pretrain")
    parser.add_argument("--pretrain-epochs", type=int, default=2)
    parser.add_argument("--pretrain-limit", type=int, help="pretrain on the first N images")
    parser.add_argument("--epochs", type=int, default=30, help="fine-tuning epochs")
    parser.add_argument("--seeds", type=int, default=3, help="different 100-example draws")
    args = parser.parse_args()

    path = args.pretrained
    if path is None:
        path = "mnist_cnn.safetensors"
        pretrain(path, args.pretrain_epochs, args.pretrain_limit)

    xd, yd = Digits(train=True).arrays()
    xt, yt = Digits(train=False).arrays()
    x = upsample_digits(np.concatenate([xd, xt]))  # (N, 1, 28, 28), MNIST-normalised
    y = np.concatenate([yd, yt])
    for seed in range(args.seeds):
        pick, rest = few_shot_indices(y, per_class=10, seed=seed)
        cr.manual_seed(seed)
        tuned = fine_tune_model(path)  # frozen convs + eval-mode BN, new head
        acc_tuned = fit_eval(tuned, x[pick], y[pick], x[rest], y[rest], args.epochs)
        cr.manual_seed(seed)
        scratch = MnistCNN(channels=tuned.features[0].out_channels)
        acc_scratch = fit_eval(scratch, x[pick], y[pick], x[rest], y[rest], args.epochs)
        print(f"draw {seed}: fine-tuned {100 * acc_tuned:.2f}%   from scratch "
              f"{100 * acc_scratch:.2f}%   (on the other {len(rest)} digits)")  # fmt: skip


if __name__ == "__main__":
    main()
