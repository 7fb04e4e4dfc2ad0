"""Callbacks: code that ``fit`` runs at named moments of training.

A callback is any object with some of these methods, each taking the :class:`FitState`:

=======================  ==========================================================
``on_fit_start``         once, before the first epoch
``on_epoch_start``       before each epoch's first batch
``on_after_backward``    after ``loss.backward()``, before clipping and ``optimizer.step()``:
                         gradients are in ``p.grad``; setting ``state.stop_training``
                         here skips the step (the weights stay as they were)
``on_batch_end``         after the optimizer (and a per-batch scheduler) stepped
``on_epoch_end``         after validation; ``state.logs`` holds the epoch's numbers
``on_fit_end``           once, also after an early stop, a NaN, Ctrl-C or an exception
                         (then ``state.error`` holds it; ``fit`` re-raises it afterwards)
=======================  ==========================================================

Subclass :class:`Callback` (all hooks are no-ops) and override what you need. Callbacks stop
training by setting ``state.stop_training = True`` (and ``state.stop_reason``).
"""

from __future__ import annotations

import copy
import csv
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .history import History

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "Callback",
    "FitState",
    "EarlyStopping",
    "ModelCheckpoint",
    "LearningRateMonitor",
    "CSVLogger",
    "TerminateOnNaN",
    "GradientMonitor",
    "HOOKS",
]

HOOKS = (
    "on_fit_start",
    "on_epoch_start",
    "on_after_backward",
    "on_batch_end",
    "on_epoch_end",
    "on_fit_end",
)

# Metrics where larger is better; every other logged number is minimised.
_MAXIMISED = ("accuracy", "precision", "recall", "f1")


@dataclass
class FitState:
    """What callbacks can read (and the few fields they may set) during ``fit``.

    ``epoch`` is 1-based and counts the epoch in progress (after ``on_epoch_end`` it is the
    number of completed epochs); ``batch`` is the index within the epoch; ``step`` counts
    optimizer steps since the run began (resumed runs continue the count).
    """

    model: Any
    optimizer: Any
    loss_fn: Any
    scheduler: Any = None
    epochs: int = 0
    epoch: int = 0
    batch: int = 0
    step: int = 0
    num_batches: int | None = None
    inputs: Any = None
    target: Any = None
    output: Any = None
    batch_loss: float = math.nan
    loss_sum: float = 0.0
    seen: int = 0
    logs: dict[str, Any] = field(default_factory=dict)
    history: History = field(default_factory=History)
    stop_training: bool = False
    stop_reason: str | None = None
    interrupted: bool = False
    error: BaseException | None = None
    shuffle_seed: int = 0
    callbacks: list[Any] = field(default_factory=list)
    train_loader: Any = None

    @property
    def running_loss(self) -> float:
        """Mean training loss over the batches of the current epoch so far."""
        return self.loss_sum / self.seen if self.seen else math.nan

    @property
    def lr(self) -> float:
        """The learning rate of the optimizer's first parameter group."""
        return float(self.optimizer.param_groups[0]["lr"])

    def stop(self, reason: str) -> None:
        """Ask ``fit`` to stop after the current batch (the first reason given is kept)."""
        self.stop_training = True
        if self.stop_reason is None:
            self.stop_reason = reason


class Callback:
    """Base class with every hook a no-op; ``fit`` only calls the hooks a subclass overrides."""

    #: The logged quantity this callback watches (checked against the valid names by ``fit``).
    monitor: str | None = None

    def on_fit_start(self, state: FitState) -> None:
        """Called once before training."""

    def on_epoch_start(self, state: FitState) -> None:
        """Called before each epoch."""

    def on_after_backward(self, state: FitState) -> None:
        """Called after ``backward()`` and before ``optimizer.step()``."""

    def on_batch_end(self, state: FitState) -> None:
        """Called after each optimizer step."""

    def on_epoch_end(self, state: FitState) -> None:
        """Called after each epoch (and its validation)."""

    def on_fit_end(self, state: FitState) -> None:
        """Called once when training ends, however it ends."""

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state saved in checkpoints so a resumed run continues exactly."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


def _resolve_mode(mode: str, monitor: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    return "max" if any(monitor.endswith(name) for name in _MAXIMISED) else "min"


class _Monitoring(Callback):
    """Shared logic: is the monitored value of this epoch an improvement on the best so far?"""

    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        self.monitor = monitor
        self.mode = _resolve_mode(mode, monitor)
        self.min_delta = abs(float(min_delta))
        self.best: float = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0

    def on_fit_start(self, state: FitState) -> None:
        if state.epoch == 0:  # a fresh run (not resumed): forget any earlier fit's best
            self.best = math.inf if self.mode == "min" else -math.inf
            self.best_epoch = 0

    def _current(self, state: FitState) -> float:
        return float(state.logs[self.monitor])

    def _improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(_Monitoring):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    Args:
        monitor: a logged name such as ``"val_loss"`` or ``"val_accuracy"``.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max for accuracy-like names).
        patience: epochs without improvement to wait before stopping.
        min_delta: smallest change that counts as an improvement.
        restore_best_weights: at the end, load the weights of the best epoch back.

    Example:
        >>> stopper = EarlyStopping("val_loss", patience=3, restore_best_weights=True)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "auto",
        patience: int = 5,
        min_delta: float = 0.0,
        restore_best_weights: bool = False,
    ) -> None:
        super().__init__(monitor, mode, min_delta)
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        self.patience = int(patience)
        self.restore_best_weights = restore_best_weights
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights: dict[str, np.ndarray] | None = None

    def on_fit_start(self, state: FitState) -> None:
        super().on_fit_start(state)
        if state.epoch == 0:
            self.wait, self.stopped_epoch, self.best_weights = 0, 0, None

    def on_epoch_end(self, state: FitState) -> None:
        value = self._current(state)
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, state.epoch, 0
            if self.restore_best_weights:
                self.best_weights = _copy_weights(state.model)
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = state.epoch
            state.stop(
                f"early stopping: {self.monitor} did not improve for {self.wait} epochs "
                f"(best {self.best:.6g} at epoch {self.best_epoch})"
            )

    def on_fit_end(self, state: FitState) -> None:
        restore = self.restore_best_weights and self.best_weights is not None
        if restore and self.best_epoch != state.epoch:
            _load_weights(state.model, self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        self.wait = int(state["wait"])


class ModelCheckpoint(_Monitoring):
    """Save a resumable training checkpoint (model, optimizer, scheduler, epoch, RNG, history).

    Writes go through ``chainrule.save_checkpoint`` (safetensors, atomic: a crash mid-save keeps
    the previous file). ``path`` may contain ``{epoch}`` or any logged name, e.g.
    ``"ckpt-{epoch:02d}-{val_loss:.3f}.safetensors"``. Resume with ``fit(..., resume=path)``.
    On Ctrl-C the current weights are saved too (to ``path``, or next to it with
    ``.interrupted`` in the name when ``save_best_only`` keeps the best one there). When
    ``fit`` raises an exception mid-run, the weights trained so far are saved next to ``path``
    with ``.interrupted`` in the name (the last epoch's checkpoint stays as it was), unless a
    weight is NaN/Inf. A run stopped by a NaN loss (or by ``detect_anomaly``) saves nothing
    more, and weights holding NaN/Inf are never written, so the last good checkpoint stays.
    When training on a ``DataLoader``, its own shuffling generator is saved too, so ``resume``
    continues with the same batch order.

    Args:
        path: where to write.
        monitor: logged name compared between epochs when ``save_best_only``.
        mode: ``"min"``, ``"max"`` or ``"auto"``.
        save_best_only: only overwrite when ``monitor`` improved.
        every_n_epochs: save every N epochs (ignored for best-only saves).
        extra: more JSON-serialisable values stored in every checkpoint (e.g. how to rebuild
            the model); ``load_checkpoint`` returns them.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        monitor: str = "val_loss",
        mode: str = "auto",
        save_best_only: bool = False,
        every_n_epochs: int = 1,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(monitor, mode, 0.0)
        self.extra = dict(extra or {})
        self.path = str(path)
        self.save_best_only = save_best_only
        self.every_n_epochs = max(1, int(every_n_epochs))
        self.last_path: str | None = None
        if not save_best_only:
            self.monitor = None  # nothing to validate: every epoch is saved

    def on_epoch_end(self, state: FitState) -> None:
        if self.save_best_only:
            self.monitor = self.monitor or "val_loss"
            value = self._current(state)
            if not self._improved(value):
                return
            self.best, self.best_epoch = value, state.epoch
        elif state.epoch % self.every_n_epochs:
            return
        if not _weights_finite(state.model):
            # The epoch's last step made a weight NaN/Inf (its loss was still finite): keep the
            # last good checkpoint rather than overwrite it; TerminateOnNaN stops next batch.
            return
        self.last_path = self.save(state, self._format(state.logs, state.epoch))

    def on_fit_end(self, state: FitState) -> None:
        crashed = state.error is not None
        if not (state.interrupted or crashed):
            return
        if not _weights_finite(state.model):
            return  # weights broken: the last good checkpoint is what to keep
        path = self._format((state.history.records or [{}])[-1], len(state.history))
        if self.save_best_only or crashed:
            p = Path(path)
            path = str(p.with_name(p.stem + ".interrupted" + p.suffix))
        self.last_path = self.save(state, path)

    def _format(self, logs: dict[str, Any], epoch: int) -> str:
        try:
            return self.path.format(**{**logs, "epoch": epoch})
        except (KeyError, ValueError) as e:
            raise ValueError(
                f"ModelCheckpoint: cannot fill in the path {self.path!r} ({e}); available "
                f"names: epoch, {', '.join(logs)}"
            ) from e

    def save(self, state: FitState, path: str) -> str:
        """Write a checkpoint of ``state`` to ``path`` and return the path."""
        from chainrule.io import save_checkpoint

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        completed = len(state.history)  # a partial (interrupted) epoch is redone on resume
        loader = state.train_loader
        save_checkpoint(
            path,
            model=state.model,
            optimizer=state.optimizer,
            scheduler=state.scheduler,
            epoch=completed,
            dataloader=loader if _has_own_generator(loader) else None,
            **self.extra,
            **checkpoint_extra(state),
        )
        return path

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])


def checkpoint_extra(state: FitState) -> dict[str, Any]:
    """The fit-level state stored in a checkpoint next to model/optimizer/scheduler."""
    return {
        "history": state.history.to_dict(),
        "fit": {
            "step": state.step,
            "shuffle_seed": state.shuffle_seed,
            "interrupted": state.interrupted,
            "error": None
            if state.error is None
            else f"{type(state.error).__name__}: {state.error}",
            "callbacks": {
                f"{i}:{type(cb).__name__}": cb.state_dict()
                for i, cb in enumerate(state.callbacks)
                if hasattr(cb, "state_dict")
            },
        },
    }


def _weights_finite(model: Any) -> bool:
    """No NaN/Inf in the model's floating parameters and buffers."""
    for v in model.state_dict().values():
        data = np.asarray(v._data)
        if data.dtype.kind == "f" and not np.isfinite(data).all():
            return False
    return True


def _has_own_generator(loader: Any) -> bool:
    from chainrule.io.checkpoint import loader_generators

    return loader is not None and bool(loader_generators(loader))


class LearningRateMonitor(Callback):
    """Record the learning rate of every parameter group, per epoch or per optimizer step.

    ``lrs`` is a list with one entry per epoch/step: the first group's lr;
    ``lrs_per_group`` keeps every group's.
    """

    def __init__(self, logging_interval: str = "epoch") -> None:
        if logging_interval not in ("epoch", "step"):
            raise ValueError(
                f"logging_interval must be 'epoch' or 'step', got {logging_interval!r}"
            )
        self.logging_interval = logging_interval
        self.lrs: list[float] = []
        self.lrs_per_group: list[list[float]] = []

    def _record(self, state: FitState) -> None:
        group_lrs = [float(g["lr"]) for g in state.optimizer.param_groups]
        self.lrs.append(group_lrs[0])
        self.lrs_per_group.append(group_lrs)

    def on_epoch_start(self, state: FitState) -> None:
        if self.logging_interval == "epoch":
            self._record(state)

    def on_after_backward(self, state: FitState) -> None:
        # why here: this is the lr the coming optimizer.step() uses; by on_batch_end a
        # per-batch scheduler has already moved it on.
        if self.logging_interval == "step":
            self._record(state)


class CSVLogger(Callback):
    """Append each epoch's logs as a CSV row to ``path`` (flushed every epoch)."""

    def __init__(self, path: str | os.PathLike, separator: str = ",", append: bool = False) -> None:
        self.path = Path(path)
        self.separator = separator
        self.append = append
        self._fields: list[str] | None = None

    def on_fit_start(self, state: FitState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.append or not self.path.exists():
            self.path.write_text("")
            self._fields = None
        else:
            with self.path.open() as f:
                header = f.readline().strip()
            self._fields = header.split(self.separator) if header else None

    def on_epoch_end(self, state: FitState) -> None:
        new_file = self._fields is None
        if new_file:
            self._fields = list(state.logs)
        with self.path.open("a", newline="") as f:
            writer = csv.DictWriter(
                f, fieldnames=self._fields, delimiter=self.separator, extrasaction="ignore"
            )
            if new_file:
                writer.writeheader()
            writer.writerow(state.logs)


class TerminateOnNaN(Callback):
    """Stop as soon as the training loss is NaN or infinite, before that step updates weights.

    The stop reason names the epoch, batch and step, and (re-running that batch under
    ``chainrule.autograd.detect_anomaly``) the first op that produced a NaN/Inf.
    ``fit`` adds one automatically unless ``callbacks`` already holds one.
    """

    def __init__(self, find_op: bool = True) -> None:
        self.find_op = find_op

    def on_after_backward(self, state: FitState) -> None:
        if math.isfinite(state.batch_loss) or state.stop_training:
            return  # (already stopping: e.g. detect_anomaly named the op, nothing to re-run)
        where = f"epoch {state.epoch}, batch {state.batch} (step {state.step + 1})"
        reason = f"loss is {state.batch_loss} at {where}; weights kept from the previous step"
        origin = _anomaly_origin(state) if self.find_op else None
        if origin:
            reason += f"; first non-finite value: {origin}"
        state.stop(reason)


def _anomaly_origin(state: FitState) -> str | None:
    """Re-run the failing batch with anomaly detection on; return its message (or None)."""
    import chainrule as cr

    saved = _copy_weights(state.model)  # BatchNorm running stats would move during the re-run
    try:
        with cr.autograd.detect_anomaly():
            inputs = state.inputs if isinstance(state.inputs, tuple) else (state.inputs,)
            out = state.model(*inputs)
            loss = state.loss_fn(out, state.target)
            loss.backward()
    except (RuntimeError, FloatingPointError, ValueError) as e:
        return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    finally:
        _load_weights(state.model, saved)
        state.optimizer.zero_grad()
    return None


class GradientMonitor(Callback):
    """Watch gradient health during training, every ``every_n_steps`` optimizer steps.

    ``records`` holds one dict per sampled step: ``{"step", "epoch", "norms": {name: norm},
    "total_norm"}``. The gradient-health monitor of ``chainrule.diagnose`` runs alongside: its
    verdicts (vanishing / exploding / dead units / saturated …, with evidence and advice) are
    collected per epoch in ``reports`` (printed to stderr if ``verbose``), and ``health`` is
    the monitor itself (its ``timeline`` feeds the HTML report). The epoch logs gain
    ``grad_norm``, the mean total gradient norm over the sampled steps.
    """

    def __init__(self, every_n_steps: int = 50, verbose: bool = False) -> None:
        self.every_n_steps = max(1, int(every_n_steps))
        self.verbose = verbose
        self.records: list[dict[str, Any]] = []
        self.reports: list[Any] = []
        self.health: Any = None
        self._epoch_norms: list[float] = []

    def on_fit_start(self, state: FitState) -> None:
        self.health = _make_health_monitor(state.model, state.optimizer, self.every_n_steps)

    def on_epoch_start(self, state: FitState) -> None:
        self._epoch_norms = []

    def on_after_backward(self, state: FitState) -> None:
        if self.health is not None:
            self.health.on_backward(state.model, state.step, state.batch_loss)
        if state.step % self.every_n_steps:
            return
        norms = {
            name: float(np.sqrt(np.square(p.grad._data, dtype=np.float64).sum()))
            for name, p in state.model.named_parameters()
            if p.grad is not None
        }
        total = math.sqrt(sum(n * n for n in norms.values()))
        self.records.append(
            {"step": state.step, "epoch": state.epoch, "norms": norms, "total_norm": total}
        )
        self._epoch_norms.append(total)

    def on_batch_end(self, state: FitState) -> None:
        if self.health is not None:
            self.health.on_step(state.model, state.step - 1)

    def on_epoch_end(self, state: FitState) -> None:
        if self._epoch_norms:
            state.logs["grad_norm"] = float(np.mean(self._epoch_norms))
        if self.health is not None and self.health.timeline:
            report = self.health.report()
            self.reports.append(report)
            if self.verbose:
                import sys

                print(str(report), file=sys.stderr)

    def on_fit_end(self, state: FitState) -> None:
        if self.health is not None:
            self.health.detach()


def _make_health_monitor(model: Any, optimizer: Any, every: int) -> Any:
    """``chainrule.diagnose``'s GradientHealthMonitor, or None in a build without it."""
    try:
        from chainrule.diagnose.health import GradientHealthMonitor
    except ImportError:
        return None
    return GradientHealthMonitor(model, optimizer=optimizer, every=every)


def _copy_weights(model: Any) -> dict[str, np.ndarray]:
    """A deep copy of the model's state_dict as NumPy arrays."""
    return {k: np.array(getattr(v, "_data", v), copy=True) for k, v in model.state_dict().items()}


def _load_weights(model: Any, weights: dict[str, np.ndarray]) -> None:
    from chainrule import from_numpy

    model.load_state_dict({k: from_numpy(v.copy()) for k, v in weights.items()})


def callback_list(callbacks: Sequence[Any]) -> list[Any]:
    """Validate that each callback has at least one known hook; return them as a list."""
    if any(callable(getattr(callbacks, h, None)) for h in HOOKS):
        callbacks = [callbacks]  # one callback passed without a list around it
    result = []
    for cb in callbacks:
        if not any(callable(getattr(cb, h, None)) for h in HOOKS):
            raise TypeError(
                f"{type(cb).__name__} is not a callback: it has none of the hooks "
                f"{', '.join(HOOKS)}"
            )
        result.append(cb)
    return result


def bound_hooks(callbacks: Sequence[Any], hook: str) -> list[Any]:
    """The bound methods for ``hook``, skipping Callback's no-op defaults (keeps batches cheap)."""
    default = getattr(Callback, hook)
    methods = []
    for cb in callbacks:
        method = getattr(cb, hook, None)
        if method is None or getattr(type(cb), hook, None) is default:
            continue
        methods.append(method)
    return methods


def deepcopy_callbacks(callbacks: Sequence[Any]) -> list[Any]:
    """Fresh copies (Trainer reuses its callback list between fits)."""
    return [copy.deepcopy(cb) for cb in callbacks]
