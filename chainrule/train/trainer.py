"""``Trainer``: the pieces of a training run held together; ``fit``, ``evaluate``, ``predict``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import loop
from .history import History
from .metrics import Metric

__all__ = ["Trainer"]


class Trainer:
    """Holds a model with its loss, optimizer, metrics and callbacks; ``fit`` calls
    :func:`chainrule.train.fit` with them.

    Args:
        model: the ``nn.Module`` to train.
        loss: the loss function.
        optimizer: the optimizer over ``model.parameters()``.
        metrics, scheduler, callbacks, clip_grad_norm, regularizer, seed, progress,
        detect_anomaly, distributed: as in :func:`chainrule.train.fit`.
        report: after ``fit``, write an HTML report of the run (``chainrule.diagnose``) to
            ``report`` if it is a path, or to ``report.html`` when ``True``.

    Example:
        >>> trainer = Trainer(model, loss=nn.CrossEntropyLoss(),  # doctest: +SKIP
        ...                   optimizer=optim.Adam(model.parameters()))
        >>> trainer.fit((x, y), epochs=5, val_data=(x_val, y_val))  # doctest: +SKIP
        >>> trainer.evaluate((x_test, y_test))  # doctest: +SKIP
        {'loss': 0.09, 'accuracy': 0.97}
    """

    def __init__(
        self,
        model: Any,
        *,
        loss: Any,
        optimizer: Any,
        metrics: Sequence[str | Metric] | None = None,
        scheduler: Any = None,
        callbacks: Sequence[Any] = (),
        clip_grad_norm: float | None = None,
        regularizer: Any = None,
        seed: int | None = None,
        progress: bool = True,
        detect_anomaly: bool = False,
        distributed: bool = False,
        report: bool | str = False,
    ) -> None:
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        self.metrics = metrics
        self.scheduler = scheduler
        self.callbacks = list(callbacks)
        self.clip_grad_norm = clip_grad_norm
        self.regularizer = regularizer
        self.seed = seed
        self.progress = progress
        self.detect_anomaly = detect_anomaly
        self.distributed = distributed
        self.report = report
        self.history: History | None = None
        self._val_data: Any = None

    def fit(
        self,
        train_data: Any,
        *,
        epochs: int,
        val_data: Any = None,
        batch_size: int = 32,
        resume: Any = None,
        **options: Any,
    ) -> History:
        """Train for ``epochs`` epochs (see :func:`chainrule.train.fit`); returns the History.

        If training raises, ``trainer.history`` still holds the History of the epochs that ran
        (also attached to the exception as ``exception.history``).

        ``options`` are passed on to ``fit`` (``shuffle``, ``scheduler_interval``,
        ``scheduler_monitor``) or override the Trainer's own settings for this call.
        """
        settings = {
            "loss": self.loss,
            "optimizer": self.optimizer,
            "metrics": self.metrics,
            "scheduler": self.scheduler,
            "callbacks": self.callbacks,
            "clip_grad_norm": self.clip_grad_norm,
            "regularizer": self.regularizer,
            "seed": self.seed,
            "progress": self.progress,
            "detect_anomaly": self.detect_anomaly,
            "distributed": self.distributed,
        }
        settings.update(options)
        self._val_data = val_data
        try:
            self.history = loop.fit(
                self.model,
                train_data,
                epochs=epochs,
                batch_size=batch_size,
                val_data=val_data,
                resume=resume,
                **settings,
            )
        except Exception as e:
            # fit attached what was trained before the failure: keep it reachable here too
            self.history = getattr(e, "history", self.history)
            raise
        if self.report:
            self._write_report()
        return self.history

    def evaluate(self, data: Any, *, batch_size: int = 256) -> dict[str, float]:
        """Loss and metrics on ``data`` (eval mode, no gradients)."""
        return loop.evaluate(
            self.model, data, loss=self.loss, metrics=self.metrics, batch_size=batch_size
        )

    def predict(self, data: Any, *, batch_size: int = 256) -> Any:
        """Model outputs for ``data``, concatenated (eval mode, no gradients)."""
        return loop.predict(self.model, data, batch_size=batch_size)

    def _write_report(self) -> None:
        from chainrule.diagnose import write_report

        from .callbacks import GradientMonitor

        path = self.report if isinstance(self.report, str) else "report.html"
        health = next((cb for cb in self.callbacks if isinstance(cb, GradientMonitor)), None)
        config = {
            "model": type(self.model).__name__,
            "loss": type(self.loss).__name__,
            "optimizer": type(self.optimizer).__name__,
            "lr": self.optimizer.param_groups[0]["lr"],
            "epochs": len(self.history or ()),
        }
        write_report(output=path, history=self.history, model=self.model,
                     data=self._val_data, health=health, config=config,
                     seed=self.seed)  # fmt: skip

    def __repr__(self) -> str:
        return (
            f"Trainer(model={type(self.model).__name__}, loss={type(self.loss).__name__}, "
            f"optimizer={type(self.optimizer).__name__})"
        )
