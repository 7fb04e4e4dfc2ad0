"""Speech recognition: spoken digits (FSDD) from log-mel spectrograms with a small CNN or a GRU.

    PYTHONPATH=. python examples/spoken_digits.py                 # CNN, standard split
    PYTHONPATH=. python examples/spoken_digits.py --model gru
    PYTHONPATH=. python examples/spoken_digits.py --loso          # + leave-one-speaker-out
    PYTHONPATH=. python examples/spoken_digits.py --wav my.wav [--resample]

The standard split tests on takes 0-4 of every speaker and trains on the rest (takes 5-49), so
the test speakers are also training speakers. Leave-one-speaker-out trains on five speakers and
tests on all recordings of the sixth: the honest number for a voice the model never heard.
A recording made at another sample rate than the data's 8 kHz is rejected with a message naming
the rate, or resampled with ``--resample``.
"""

from __future__ import annotations

import argparse

import numpy as np

import chainrule as cr
from chainrule import nn, optim, train
from chainrule.data.datasets import SPEAKERS, SpokenDigits
from chainrule.models import SpokenDigitCNN, SpokenDigitGRU
from chainrule.models.apps import load_recording


def standardise(train_x: np.ndarray, *others: np.ndarray) -> tuple[list[np.ndarray], tuple]:
    """Per-mel-band mean/std of the training features, applied to every set."""
    mean = train_x.mean(axis=(0, 2), keepdims=True)
    std = train_x.std(axis=(0, 2), keepdims=True) + 1e-5
    return [((a - mean) / std).astype(np.float32) for a in (train_x, *others)], (mean, std)


def fit_and_test(kind: str, x_tr, y_tr, x_te, y_te, epochs: int) -> tuple[object, float]:
    """Train a fresh model on the training set; its accuracy on the test set."""
    cr.manual_seed(0)
    model = SpokenDigitCNN() if kind == "cnn" else SpokenDigitGRU(n_features=x_tr.shape[1])
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    steps = -(-len(y_tr) // 32)
    scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, epochs=epochs,
                                              steps_per_epoch=steps)  # fmt: skip
    train.fit(model, (x_tr, y_tr), loss=nn.CrossEntropyLoss(), optimizer=optimizer,
              epochs=epochs, batch_size=32, scheduler=scheduler, scheduler_interval="batch",
              seed=0, progress=False)  # fmt: skip
    pred = train.predict(model, x_te).numpy().argmax(1)
    return model, float((pred == y_te).mean())


def main() -> None:
    """Standard-split accuracy, optionally leave-one-speaker-out and a WAV prediction."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=["cnn", "gru"], default="cnn")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--loso", action="store_true", help="also leave-one-speaker-out")
    parser.add_argument("--wav", help="classify this recording with the trained model")
    parser.add_argument("--resample", action="store_true", help="resample a --wav at another rate")
    args = parser.parse_args()

    train_set, test_set = SpokenDigits(split="train"), SpokenDigits(split="test")
    (x_tr, x_te), (mean, std) = standardise(train_set.inputs, test_set.inputs)
    model, acc = fit_and_test(args.model, x_tr, train_set.targets_array, x_te,
                              test_set.targets_array, args.epochs)  # fmt: skip
    print(f"standard split ({len(x_te)} test recordings): accuracy {100 * acc:.2f}%")

    if args.loso:
        everything = SpokenDigits(split="all")
        who = np.asarray(everything.speakers)
        for speaker in SPEAKERS:
            held_out = who == speaker
            (a, b), _ = standardise(everything.inputs[~held_out], everything.inputs[held_out])
            y = everything.targets_array
            _, acc = fit_and_test(args.model, a, y[~held_out], b, y[held_out], args.epochs)
            print(f"leave out {speaker:>9}: accuracy {100 * acc:.2f}%")

    if args.wav:
        features = (load_recording(args.wav, resample_audio=args.resample)[None] - mean) / std
        probs = cr.softmax(train.predict(model, features.astype(np.float32)), dim=-1).numpy()[0]
        print(f"{args.wav}: digit {int(probs.argmax())} (p={probs.max():.2f})")


if __name__ == "__main__":
    main()
