"""The tasks ``chainrule train --task …`` knows: where the data comes from, which loss and
metrics fit it, and sensible default hyper-parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Task", "TaskData", "TASKS", "get_task"]


@dataclass
class TaskData:
    """The three splits of a task plus what the model constructor needs to know about them."""

    train: Any
    val: Any
    test: Any
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    vocab: Any = None


@dataclass
class Task:
    """A named task: data loader, loss, metrics and default hyper-parameters."""

    name: str
    load: Callable[..., TaskData]
    default_model: str
    epochs: int
    lr: float
    optimizer: str
    batch_size: int
    metrics: tuple[str, ...] = ("accuracy",)
    sequence: bool = False  # language model: (N, T, V) outputs, generated text for predict

    def loss(self) -> Any:
        """A fresh loss module for this task."""
        from chainrule import nn

        if self.sequence:
            from .text import SequenceCrossEntropyLoss

            return SequenceCrossEntropyLoss()
        return nn.CrossEntropyLoss()


def _limit(dataset: Any, limit: int | None) -> Any:
    """The first ``limit`` examples (for quick runs); the whole set when ``limit`` is None."""
    if limit is None or limit >= len(dataset):
        return dataset
    from chainrule.data import Subset

    return Subset(dataset, range(limit))


def _holdout(dataset: Any, fraction: float, seed: int) -> tuple[Any, Any]:
    """A fixed, seeded train/validation split of ``dataset``."""
    import chainrule as cr
    from chainrule.data import random_split

    n_val = max(1, int(len(dataset) * fraction))
    gen = cr.Generator().manual_seed(seed)
    train, val = random_split(dataset, [len(dataset) - n_val, n_val], generator=gen)
    return train, val


def _load_digits(
    data_dir: Any = None, limit: int | None = None, seed: int = 0, **_: Any
) -> TaskData:
    from chainrule.data.datasets import Digits

    train, val = _holdout(Digits(train=True), 0.1, seed)
    test = Digits(train=False)
    return TaskData(_limit(train, limit), _limit(val, limit), _limit(test, limit))


def _load_mnist(
    data_dir: Any = None, limit: int | None = None, seed: int = 0, **_: Any
) -> TaskData:
    from chainrule.data.datasets import MNIST

    train, val = _holdout(MNIST(data_dir, train=True), 1 / 12, seed)  # 55k / 5k
    test = MNIST(data_dir, train=False)
    return TaskData(_limit(train, limit), _limit(val, limit), _limit(test, limit))


def _load_shakespeare(
    data_dir: Any = None,
    limit: int | None = None,
    seed: int = 0,
    level: str = "char",
    seq_len: int = 64,
    vocab: Any = None,
    **_: Any,
) -> TaskData:
    from chainrule.data.datasets import TinyShakespeare

    max_size = 10_000 if level == "word" else None
    common = {"root": data_dir, "level": level, "seq_len": seq_len, "max_size": max_size}
    train = TinyShakespeare(split="train", vocab=vocab, val_fraction=0.1, test_fraction=0.05,
                            **common)  # fmt: skip
    vocab = train.vocab
    val = TinyShakespeare(split="val", vocab=vocab, val_fraction=0.1, test_fraction=0.05, **common)
    test = TinyShakespeare(split="test", vocab=vocab, val_fraction=0.1, test_fraction=0.05,
                           **common)  # fmt: skip
    return TaskData(
        _limit(train, limit),
        _limit(val, limit),
        _limit(test, limit),
        model_kwargs={"vocab_size": len(vocab)},
        vocab=vocab,
    )


def _load_spoken(
    data_dir: Any = None,
    limit: int | None = None,
    seed: int = 0,
    features: str = "log_mel",
    **_: Any,
) -> TaskData:
    from chainrule.data.datasets import SpokenDigits

    train, val = _holdout(SpokenDigits(data_dir, split="train", features=features), 0.1, seed)
    test = SpokenDigits(data_dir, split="test", features=features)
    n_features = int(test[0][0].shape[0])
    return TaskData(
        _limit(train, limit),
        _limit(val, limit),
        _limit(test, limit),
        model_kwargs={"n_features": n_features},
    )


TASKS: dict[str, Task] = {
    "digits": Task("digits", _load_digits, "cnn", epochs=10, lr=3e-3, optimizer="adam",
                   batch_size=32),
    "mnist": Task("mnist", _load_mnist, "cnn", epochs=3, lr=1e-3, optimizer="adam",
                  batch_size=64),
    "shakespeare": Task("shakespeare", _load_shakespeare, "char-lstm", epochs=2, lr=2e-3,
                        optimizer="adam", batch_size=32, metrics=("accuracy", "perplexity"),
                        sequence=True),
    "spoken-digits": Task("spoken-digits", _load_spoken, "gru", epochs=8, lr=2e-3,
                          optimizer="adam", batch_size=32),
}  # fmt: skip


def get_task(name: str) -> Task:
    """The task called ``name``; unknown names raise ValueError listing the valid ones."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}")
    return TASKS[name]
