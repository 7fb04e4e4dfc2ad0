"""Metrics: plain functions over arrays, and running (batch-accumulated) versions for ``fit``.

The functions (``accuracy``, ``top_k_accuracy``, ``mae`` …) take model outputs and targets as
Tensors or NumPy arrays and return Python floats (or arrays for per-class results). The classes
accumulate the same quantity over the mini-batches of an epoch; ``fit`` creates them by name
with :func:`get_metric`, so ``metrics=("accuracy", "top5_accuracy")`` works.

Classification outputs are logits or probabilities with the class dimension either last
(``(N, C)``, ``(N, T, C)`` for sequence models) or second (PyTorch's ``(N, C, d1, …)``
convention for ``CrossEntropyLoss``); targets are class indices.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

__all__ = [
    "Metric",
    "Accuracy",
    "TopKAccuracy",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "RootMeanSquaredError",
    "Perplexity",
    "PrecisionRecallF1",
    "accuracy",
    "top_k_accuracy",
    "mae",
    "mse",
    "rmse",
    "perplexity",
    "confusion_matrix",
    "precision_recall_f1",
    "get_metric",
    "metric_names",
]


def _np(x: Any) -> np.ndarray:
    """The ndarray behind a Tensor (no copy, no graph) or ``np.asarray`` of anything else."""
    data = getattr(x, "_data", None)
    return data if isinstance(data, np.ndarray) else np.asarray(x)


def _class_scores(output: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(scores, target)`` as ``(M, C)`` and ``(M,)`` with the class dim moved last."""
    out, tgt = _np(output), _np(target)
    if out.shape[:-1] == tgt.shape:  # (N, C) or sequence models' (N, T, C)
        return out.reshape(-1, out.shape[-1]), tgt.reshape(-1)
    if out.ndim == tgt.ndim + 1 and out.shape[0] == tgt.shape[0] and out.shape[2:] == tgt.shape[1:]:
        return np.moveaxis(out, 1, -1).reshape(-1, out.shape[1]), tgt.reshape(-1)
    raise ValueError(
        f"classification metric: output shape {tuple(out.shape)} does not match target shape "
        f"{tuple(tgt.shape)}; expected output (N, C) with target (N,), or (N, C, d1, ...) "
        "with target (N, d1, ...)"
    )


def _binary_or_classes(output: Any, target: Any, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Predicted labels and true labels for binary (same shape) or multi-class outputs."""
    out, tgt = _np(output), _np(target)
    if out.shape == tgt.shape:
        # Binary: one score per example (BCE-style); targets are 0/1 (float or integer). Equal
        # shapes can never be class scores with class-index targets.
        return (out > threshold).astype(np.int64).reshape(-1), tgt.reshape(-1).astype(np.int64)
    scores, labels = _class_scores(out, tgt)
    return scores.argmax(axis=-1), labels.astype(np.int64)


def accuracy(output: Any, target: Any, *, threshold: float = 0.5) -> float:
    """Fraction of examples whose highest-scoring class equals the target.

    For binary outputs of the same shape as the target, the prediction is ``output > threshold``
    (use ``threshold=0.0`` for logits).

    Example:
        >>> accuracy(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 1]))
        0.5
    """
    pred, true = _binary_or_classes(output, target, threshold)
    return float((pred == true).mean()) if true.size else 0.0


def top_k_accuracy(output: Any, target: Any, k: int = 5) -> float:
    """Fraction of examples whose target is among the ``k`` highest-scoring classes."""
    scores, labels = _class_scores(output, target)
    k = min(int(k), scores.shape[-1])
    top = np.argpartition(-scores, k - 1, axis=-1)[:, :k]
    return float((top == labels[:, None]).any(axis=-1).mean()) if labels.size else 0.0


def _regression_pair(output: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    out, tgt = _np(output), _np(target)
    if out.shape != tgt.shape:
        raise ValueError(
            f"regression metric: output shape {tuple(out.shape)} does not match target shape "
            f"{tuple(tgt.shape)}"
        )
    return out.astype(np.float64), tgt.astype(np.float64)


def mae(output: Any, target: Any) -> float:
    """Mean absolute error, mean(|output − target|)."""
    out, tgt = _regression_pair(output, target)
    return float(np.abs(out - tgt).mean())


def mse(output: Any, target: Any) -> float:
    """Mean squared error, mean((output − target)²)."""
    out, tgt = _regression_pair(output, target)
    return float(np.square(out - tgt).mean())


def rmse(output: Any, target: Any) -> float:
    """Root mean squared error, √mse."""
    return math.sqrt(mse(output, target))


def _nll_sum(output: Any, target: Any) -> tuple[float, int]:
    """Sum of −log softmax(output)[target] over all positions, and the number of positions."""
    scores, labels = _class_scores(output, target)
    z = scores.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=-1))
    picked = z[np.arange(len(labels)), labels.astype(np.int64)]
    return float((log_norm - picked).sum()), len(labels)


def perplexity(output: Any, target: Any) -> float:
    """exp(mean cross-entropy) of the logits ``output`` against next-token targets."""
    total, n = _nll_sum(output, target)
    return math.exp(total / n) if n else float("nan")


def confusion_matrix(output: Any, target: Any, num_classes: int | None = None) -> np.ndarray:
    """``(C, C)`` int64 matrix; entry ``[i, j]`` counts examples of true class i predicted as j.

    ``output`` may be scores (``(N, C)`` …) or already predicted labels (same shape as target).
    """
    out, tgt = _np(output), _np(target)
    if out.shape == tgt.shape:
        pred, true = out.reshape(-1).astype(np.int64), tgt.reshape(-1).astype(np.int64)
        n = num_classes
    else:
        scores, labels = _class_scores(out, tgt)
        pred, true = scores.argmax(axis=-1), labels.astype(np.int64)
        n = num_classes or scores.shape[-1]
    if n is None:
        n = int(max(pred.max(initial=-1), true.max(initial=-1))) + 1
    if true.size and (true.min() < 0 or true.max() >= n or pred.min() < 0 or pred.max() >= n):
        raise ValueError(f"confusion_matrix: labels must lie in [0, {n}); got {true.max()}")
    return np.bincount(true * n + pred, minlength=n * n).reshape(n, n)


def _prf_from_confusion(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    actual = cm.sum(axis=1).astype(np.float64)
    # why: a class never predicted (or absent) gets 0, as scikit-learn's zero_division=0 does.
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1


def precision_recall_f1(
    output: Any, target: Any, num_classes: int | None = None
) -> dict[str, np.ndarray]:
    """Per-class precision, recall and F1 (arrays of length C) and their support.

    Returns ``{"precision": …, "recall": …, "f1": …, "support": …}``.
    """
    cm = confusion_matrix(output, target, num_classes)
    precision, recall, f1 = _prf_from_confusion(cm)
    return {"precision": precision, "recall": recall, "f1": f1, "support": cm.sum(axis=1)}


# ---------------------------------------------------------------- running metrics for fit()


class Metric:
    """A quantity accumulated over batches: ``reset()``, ``update(output, target)``, ``compute()``.

    Subclasses set ``name`` (the key in logs and History) and keep sums, never per-batch means,
    so an epoch's value is exact whatever the batch sizes.
    """

    name: str = "metric"

    def reset(self) -> None:
        """Forget everything accumulated."""
        self._sum = 0.0
        self._count = 0

    def __init__(self) -> None:
        self.reset()

    def update(self, output: Any, target: Any) -> None:  # pragma: no cover - abstract
        """Accumulate one batch."""
        raise NotImplementedError

    def compute(self) -> float:
        """The value over everything seen since the last ``reset``."""
        return self._sum / self._count if self._count else float("nan")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Accuracy(Metric):
    """Running classification accuracy (binary outputs: ``output > threshold``)."""

    name = "accuracy"

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold
        super().__init__()

    def update(self, output: Any, target: Any) -> None:
        out, tgt = _np(output), _np(target)
        if out.ndim == 2 and tgt.ndim == 1 and tgt.dtype.kind in "iu":  # the common (N, C) case
            self._sum += float(np.count_nonzero(out.argmax(axis=1) == tgt))
            self._count += tgt.size
            return
        pred, true = _binary_or_classes(out, tgt, self.threshold)
        self._sum += float(np.count_nonzero(pred == true))
        self._count += true.size


class TopKAccuracy(Metric):
    """Running top-k accuracy; named ``top{k}_accuracy``."""

    def __init__(self, k: int = 5) -> None:
        self.k = int(k)
        self.name = f"top{self.k}_accuracy"
        super().__init__()

    def update(self, output: Any, target: Any) -> None:
        n = _class_scores(output, target)[1].size
        self._sum += top_k_accuracy(output, target, self.k) * n
        self._count += n


class MeanAbsoluteError(Metric):
    """Running mean absolute error (``mae``)."""

    name = "mae"

    def update(self, output: Any, target: Any) -> None:
        out, tgt = _regression_pair(output, target)
        self._sum += float(np.abs(out - tgt).sum())
        self._count += out.size


class MeanSquaredError(Metric):
    """Running mean squared error (``mse``)."""

    name = "mse"

    def update(self, output: Any, target: Any) -> None:
        out, tgt = _regression_pair(output, target)
        self._sum += float(np.square(out - tgt).sum())
        self._count += out.size


class RootMeanSquaredError(MeanSquaredError):
    """Running root mean squared error (``rmse``): √ of the running MSE, not a mean of roots."""

    name = "rmse"

    def compute(self) -> float:
        return math.sqrt(super().compute()) if self._count else float("nan")


class Perplexity(Metric):
    """Running perplexity: exp of the mean per-token cross-entropy of the logits."""

    name = "perplexity"

    def update(self, output: Any, target: Any) -> None:
        total, n = _nll_sum(output, target)
        self._sum += total
        self._count += n

    def compute(self) -> float:
        return math.exp(self._sum / self._count) if self._count else float("nan")


class PrecisionRecallF1(Metric):
    """Running macro-averaged ``precision``, ``recall`` or ``f1`` (per class: ``per_class()``)."""

    def __init__(self, which: str = "f1") -> None:
        if which not in ("precision", "recall", "f1"):
            raise ValueError(f"which must be 'precision', 'recall' or 'f1', got {which!r}")
        self.name = which
        super().__init__()

    def reset(self) -> None:
        super().reset()
        self._cm: np.ndarray | None = None

    def update(self, output: Any, target: Any) -> None:
        scores, labels = _class_scores(output, target)
        cm = confusion_matrix(scores.argmax(-1), labels, scores.shape[-1])
        self._cm = cm if self._cm is None else self._cm + cm

    def per_class(self) -> np.ndarray:
        """The per-class values accumulated so far."""
        if self._cm is None:
            return np.zeros(0)
        p, r, f = _prf_from_confusion(self._cm)
        return {"precision": p, "recall": r, "f1": f}[self.name]

    def compute(self) -> float:
        values = self.per_class()
        return float(values.mean()) if values.size else float("nan")


_FACTORIES: dict[str, Any] = {
    "accuracy": Accuracy,
    "top_k_accuracy": TopKAccuracy,
    "mae": MeanAbsoluteError,
    "mse": MeanSquaredError,
    "rmse": RootMeanSquaredError,
    "perplexity": Perplexity,
    "precision": lambda: PrecisionRecallF1("precision"),
    "recall": lambda: PrecisionRecallF1("recall"),
    "f1": lambda: PrecisionRecallF1("f1"),
}
_TOPK = re.compile(r"^top(\d+)(_accuracy)?$")


def metric_names() -> list[str]:
    """Names :func:`get_metric` accepts (``topK_accuracy`` works for any K)."""
    return [*_FACTORIES, "top5_accuracy"]


def get_metric(spec: str | Metric, **kwargs: Any) -> Metric:
    """A fresh :class:`Metric` for a name such as ``"accuracy"`` or ``"top3_accuracy"``.

    A Metric instance is returned as is. Unknown names raise ValueError listing the valid ones.
    """
    if isinstance(spec, Metric):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"a metric must be a name or a Metric, got {type(spec).__name__}")
    key = spec.lower()
    match = _TOPK.match(key)
    if match:
        return TopKAccuracy(int(match.group(1)))
    if key not in _FACTORIES:
        raise ValueError(f"unknown metric {spec!r}; valid metrics: {', '.join(metric_names())}")
    factory = _FACTORIES[key]
    return factory(**kwargs) if kwargs else factory()
