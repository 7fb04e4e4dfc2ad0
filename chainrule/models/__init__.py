"""Small, readable model definitions for the command-line tasks, and a registry.

``get_model("digits", "cnn")`` builds a model by task and name; ``chainrule train --task digits
--model cnn`` uses the same registry. Each model is a plain PyTorch-style ``nn.Module``.

====================  =========================================================
task                  models
====================  =========================================================
``digits``            ``cnn`` (DigitsCNN), ``mlp`` (DigitsMLP), ``deep-sigmoid``,
                      ``deep-residual`` (DeepMLP, 20 layers)
``mnist``             ``cnn`` (MnistCNN), ``mlp`` (MnistMLP)
``shakespeare``       ``char-lstm``, ``word-lstm`` (LSTMLanguageModel)
``spoken-digits``     ``gru`` (SpokenDigitGRU), ``cnn`` (SpokenDigitCNN)
====================  =========================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .tasks import TASKS as TASKS
from .tasks import Task as Task
from .tasks import get_task as get_task

__all__ = [
    "MODELS",
    "TASKS",
    "Task",
    "available_models",
    "get_model",
    "get_task",
    "DigitsCNN",
    "DigitsMLP",
    "MnistCNN",
    "MnistMLP",
    "LSTMLanguageModel",
    "SequenceCrossEntropyLoss",
    "SpokenDigitCNN",
    "SpokenDigitGRU",
    "generate",
]


def _vision(name: str) -> Callable[..., Any]:
    def build(**kwargs: Any) -> Any:
        from . import vision

        return getattr(vision, name)(**kwargs)

    build.__name__ = name
    return build


def _text(level: str) -> Callable[..., Any]:
    def build(vocab_size: int, **kwargs: Any) -> Any:
        from .text import LSTMLanguageModel

        defaults = (
            {"embed_dim": 64, "hidden_size": 256, "num_layers": 2}
            if level == "char"
            else {"embed_dim": 256, "hidden_size": 256, "num_layers": 2, "tie_weights": True}
        )
        defaults.update(kwargs)
        return LSTMLanguageModel(vocab_size, **defaults)

    build.__name__ = f"{level}_lstm"
    return build


def _audio(name: str) -> Callable[..., Any]:
    def build(n_features: int = 40, **kwargs: Any) -> Any:
        from . import audio

        kwargs["n_features"] = n_features
        return getattr(audio, name)(**kwargs)

    build.__name__ = name
    return build


def _deep(style: str) -> Callable[..., Any]:
    def build(**kwargs: Any) -> Any:
        from .apps import DeepMLP

        return DeepMLP(style=style, **kwargs)

    build.__name__ = f"deep_{style}"
    return build


# task -> model name -> constructor (keyword arguments only; task data may add some).
MODELS: dict[str, dict[str, Callable[..., Any]]] = {
    "digits": {
        "cnn": _vision("DigitsCNN"),
        "mlp": _vision("DigitsMLP"),
        # 20-layer nets of the deep-networks example (vanishing gradients and the remedy)
        "deep-sigmoid": _deep("plain-sigmoid"),
        "deep-residual": _deep("residual"),
    },
    "mnist": {"cnn": _vision("MnistCNN"), "mlp": _vision("MnistMLP")},
    "shakespeare": {"char-lstm": _text("char"), "word-lstm": _text("word")},
    "spoken-digits": {"gru": _audio("SpokenDigitGRU"), "cnn": _audio("SpokenDigitCNN")},
}


def available_models(task: str) -> list[str]:
    """Model names registered for ``task``."""
    get_task(task)
    return list(MODELS[task])


def get_model(task: str, name: str | None = None, **kwargs: Any) -> Any:
    """Build the model ``name`` (default: the task's default) for ``task``.

    Unknown names raise ValueError listing the valid ones.
    """
    spec = get_task(task)
    name = name or spec.default_model
    if name not in MODELS[task]:
        raise ValueError(
            f"unknown model {name!r} for task {task!r}; valid models: {', '.join(MODELS[task])}"
        )
    return MODELS[task][name](**kwargs)


def __getattr__(name: str) -> Any:
    # The model classes load with chainrule.nn on first use (keeps `import chainrule.models` cheap).
    import importlib

    for module in ("vision", "text", "audio", "apps"):
        mod = importlib.import_module(f"chainrule.models.{module}")
        if hasattr(mod, name):
            return getattr(mod, name)
    raise AttributeError(f"module 'chainrule.models' has no attribute {name!r}")
