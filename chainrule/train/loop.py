"""``fit``: the training loop, written to be read top to bottom.

One epoch is: for every mini-batch, forward pass → loss → backward pass (the chain rule, giving
∂loss/∂w for every weight) → optimizer step (w ← w − η·∂loss/∂w, or Adam's refinement); then
the model is evaluated on held-out data, with gradients off, to watch for overfitting. Repeat
for ``epochs`` epochs or until a callback says stop.

Everything that is not the algorithm (turning arrays into batches, checking shapes, Ctrl-C,
resuming) lives in ``_setup.py``; everything optional (early stopping, checkpoints, logging,
progress bars) is a callback.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

import chainrule as cr

from . import _setup
from .callbacks import FitState, TerminateOnNaN, bound_hooks, callback_list
from .history import History
from .metrics import Metric, get_metric
from .progress import ProgressBar

__all__ = ["fit", "evaluate", "predict", "default_metrics"]


def fit(
    model: Any,
    train_data: Any,
    *,
    loss: Any,
    optimizer: Any,
    epochs: int,
    batch_size: int = 32,
    val_data: Any = None,
    metrics: Sequence[str | Metric] | None = None,
    scheduler: Any = None,
    callbacks: Sequence[Any] = (),
    clip_grad_norm: float | None = None,
    regularizer: Any = None,
    seed: int | None = None,
    progress: bool = True,
    shuffle: bool = True,
    scheduler_interval: str | None = None,
    scheduler_monitor: str | None = None,
    resume: Any = None,
    detect_anomaly: bool = False,
    distributed: bool = False,
) -> History:
    """Train ``model`` on ``train_data`` and return the per-epoch :class:`History`.

    Args:
        model: a ``chainrule.nn.Module`` (anything callable with ``parameters()``,
            ``train()``/``eval()``).
        train_data: a Dataset, a DataLoader, or an ``(x, y)`` pair of arrays/tensors.
        loss: the loss function ``loss(output, target) -> scalar``, e.g. ``nn.MSELoss()``.
        optimizer: a ``chainrule.optim`` optimizer over the model's parameters.
        epochs: the total number of epochs (a resumed run continues up to this number).
        batch_size: mini-batch size when ``train_data``/``val_data`` are not DataLoaders.
        val_data: held-out data in the same forms; adds ``val_loss`` and ``val_<metric>``.
        metrics: names (``"accuracy"``, ``"top5_accuracy"``, ``"mae"``, ``"perplexity"`` …) or
            :class:`Metric` objects; default: accuracy for classification losses, MAE for
            regression losses.
        scheduler: an lr scheduler. ``OneCycleLR`` steps after every batch, ``ReduceLROnPlateau``
            after each epoch with the monitored value, every other scheduler after each epoch
            (override with ``scheduler_interval="batch"|"epoch"``).
        callbacks: objects with ``on_*`` hooks (see ``chainrule.train.callbacks``).
        clip_grad_norm: clip the global gradient norm to this value before each step.
        regularizer: a penalty added to the loss, e.g. ``L2(1e-4)`` (weights only by default).
        seed: seeds chainrule's RNG (dropout, shuffling) for a reproducible run.
        progress: show a progress bar (plain lines when stderr is not a terminal).
        shuffle: reshuffle training data each epoch (ignored for DataLoaders).
        scheduler_monitor: the logged name ReduceLROnPlateau watches (default ``val_loss``,
            or ``loss`` without validation data).
        resume: path of a ``ModelCheckpoint`` file to continue from.
        detect_anomaly: run each forward and backward pass under
            ``chainrule.autograd.detect_anomaly()`` (slower). The first NaN/Inf stops training
            cleanly, like a NaN loss: the weights stay those of the previous step, nothing more
            is checkpointed, and ``history.stop_reason`` names the op (and your line of code)
            that produced it.
        distributed: data-parallel training over MPI (``chainrule.distributed``; run the script
            under ``mpirun``): gradients are averaged across processes before each step.

    Returns:
        History: one record per completed epoch (``loss``, metrics, ``val_*``, ``lr``, ``time``);
        ``stop_reason`` says why it stopped early (early stopping, a NaN, ``detect_anomaly``,
        Ctrl-C), and ``partial`` holds the epoch that was cut short, if any.

    Raises:
        ValueError: the model's output and the target shapes do not fit the loss (raised before
            the first step, naming both), or an unknown metric / monitor name (listing the
            valid ones).
        Exception: whatever the model, the loss, the data or a callback raised during training
            is re-raised after the callbacks' ``on_fit_end`` ran (a ``ModelCheckpoint`` saves
            the weights trained so far); it carries the History of the completed epochs and
            the partial one as ``exception.history``. Ctrl-C does not raise: ``fit`` returns.

    Example:
        >>> history = fit(model, (x, y), loss=nn.CrossEntropyLoss(),  # doctest: +SKIP
        ...               optimizer=optim.Adam(model.parameters()), epochs=5)
    """
    # ---- set-up: seed, batches, metrics, callbacks; validate everything before training
    if not isinstance(epochs, int | np.integer) or isinstance(epochs, bool) or epochs < 0:
        raise ValueError(f"epochs must be >= 0 (an integer), got {epochs!r}")
    if clip_grad_norm is not None and not clip_grad_norm > 0:
        # a negative max norm would flip every gradient's sign (gradient ascent)
        raise ValueError(f"clip_grad_norm must be a positive number, got {clip_grad_norm!r}")
    _setup.check_reiterable(train_data, "train_data")
    _setup.check_reiterable(val_data, "val_data")
    if seed is not None:
        cr.manual_seed(seed)
    if metrics is None:
        metrics = default_metrics(loss)
    elif isinstance(metrics, str | Metric):
        metrics = [metrics]  # metrics="accuracy" means one metric, not one per character
    metric_objs = _fresh_metrics(metrics, loss)
    callbacks = callback_list(callbacks)
    if not any(isinstance(cb, TerminateOnNaN) for cb in callbacks):
        callbacks.append(TerminateOnNaN())
    if progress and not any(isinstance(cb, ProgressBar) for cb in callbacks):
        callbacks.append(ProgressBar())
    if _setup.is_plateau(scheduler) and scheduler_monitor is None:
        scheduler_monitor = "val_loss" if val_data is not None else "loss"
    metric_names = [m.name for m in metric_objs]
    _setup.check_monitors(
        callbacks, _setup.valid_log_names(metric_names, val_data is not None), scheduler_monitor
    )
    interval = _setup.scheduler_interval(scheduler, scheduler_interval)

    state = FitState(model=model, optimizer=optimizer, loss_fn=loss, scheduler=scheduler,
                     epochs=epochs, callbacks=callbacks)  # fmt: skip
    # Shuffling draws from its own generator, re-seeded per epoch, so a resumed run sees the
    # same batch order as an uninterrupted one.
    state.shuffle_seed = int(cr.default_generator.rng.integers(2**62)) if seed is None else seed
    shuffle_gen = cr.Generator()
    float_dtype = _setup.float_dtype_of(model)
    train_loader = _setup.as_loader(train_data, batch_size, shuffle=shuffle,
                                    generator=shuffle_gen, float_dtype=float_dtype)  # fmt: skip
    val_loader = None
    if val_data is not None:
        val_loader = _setup.as_loader(val_data, batch_size, shuffle=False, generator=None,
                                      float_dtype=float_dtype)  # fmt: skip
    if distributed:
        # Data-parallel over MPI (see _distributed.py): each process trains on its share of
        # the data; a first callback averages gradients across processes before each step.
        from . import _distributed

        train_loader, callbacks = _distributed.setup(
            train_loader, callbacks, shuffle, state.shuffle_seed
        )
        state.callbacks = callbacks
    state.train_loader = train_loader
    if resume is not None:
        _setup.resume(state, resume)
    state.num_batches = _setup.num_batches(train_loader)
    _preflight(model, train_loader, loss, metric_objs)
    if val_loader is not None:  # validation data must fit too, before epoch 1 trains
        _preflight(model, val_loader, loss, metric_objs, what="val_data")

    hooks = {name: bound_hooks(callbacks, name) for name in
             ("on_fit_start", "on_epoch_start", "on_after_backward", "on_batch_end",
              "on_epoch_end", "on_fit_end")}  # fmt: skip
    params = [p for p in model.parameters() if p.requires_grad]
    # Anomaly checks cover the forward and backward passes only (as torch's do), not the
    # optimizer step, validation or callbacks.
    anomaly = cr.autograd.detect_anomaly() if detect_anomaly else contextlib.nullcontext()
    epoch_open = False  # an epoch has started and not finished: its batches make history.partial
    lr_this_epoch, started, steps_this_epoch = state.lr, time.perf_counter(), 0

    def record_partial() -> None:
        if epoch_open:
            state.history.partial = _partial_record(state, metric_objs, lr_this_epoch,
                                                    started, steps_this_epoch)  # fmt: skip

    # ---- the loop
    with _setup.StopOnCtrlC(state):
        try:
            _call(hooks["on_fit_start"], state)
            for epoch in range(state.epoch + 1, epochs + 1):
                state.epoch, state.loss_sum, state.seen = epoch, 0.0, 0
                shuffle_gen.manual_seed(state.shuffle_seed + epoch)
                for m in metric_objs:
                    m.reset()
                lr_this_epoch = state.lr
                started = time.perf_counter()
                steps_this_epoch, epoch_open = 0, True
                model.train()
                _call(hooks["on_epoch_start"], state)

                for state.batch, batch in enumerate(train_loader):
                    inputs, target = _setup.split_batch(batch)
                    state.inputs, state.target = inputs, target

                    try:
                        with anomaly:
                            output = model(*inputs)  # forward pass
                            batch_loss = loss(output, target)
                            total_loss = (
                                batch_loss + regularizer(model) if regularizer else batch_loss
                            )
                            optimizer.zero_grad()
                            total_loss.backward()  # backward pass: ∂loss/∂w into every p.grad
                        loss_value = batch_loss.item()
                    except RuntimeError as e:
                        if not (detect_anomaly and _setup.is_anomaly(e)):
                            raise
                        # A NaN/Inf mid-pass: stop as a NaN loss does, through the same hooks
                        # (under MPI the ranks agree to stop there), and skip the step.
                        _setup.zero_grads(params)  # the backward stopped halfway
                        output, loss_value = None, math.nan
                        state.stop(_setup.anomaly_reason(state, e))

                    state.output, state.batch_loss = output, loss_value
                    _call(hooks["on_after_backward"], state)  # gradients are visible here
                    if state.stop_training:  # e.g. NaN loss: skip this update
                        break
                    if clip_grad_norm is not None:
                        cr.nn.utils.clip_grad_norm_(params, clip_grad_norm)
                    optimizer.step()  # w ← w − η·∂loss/∂w (or the optimizer's rule)
                    if interval == "batch":
                        scheduler.step()
                    state.step += 1
                    steps_this_epoch += 1

                    n = _setup.batch_size_of(target)
                    state.loss_sum += state.batch_loss * n
                    state.seen += n
                    for m in metric_objs:
                        m.update(output, target)
                    _call(hooks["on_batch_end"], state)
                    if state.stop_training:
                        break
                if state.stop_training and steps_this_epoch != state.num_batches:
                    # a partial epoch is not one of the records (nor validated, nor
                    # checkpointed as an epoch): it is history.partial
                    record_partial()
                    break

                # ---- end of epoch: training numbers, validation (no gradients), scheduler
                logs: dict[str, Any] = {"epoch": epoch, "loss": state.running_loss}
                logs.update({m.name: m.compute() for m in metric_objs})
                if val_loader is not None:
                    val = evaluate(model, val_loader, loss=loss, metrics=metrics)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                logs["lr"] = lr_this_epoch
                logs["time"] = time.perf_counter() - started
                state.logs = logs
                state.history.records.append(logs)  # same dict: callbacks may add keys
                epoch_open = False
                if interval == "epoch":
                    if _setup.is_plateau(scheduler):
                        scheduler.step(logs[scheduler_monitor])
                    else:
                        scheduler.step()
                _call(hooks["on_epoch_end"], state)
                if state.stop_training:
                    break
        except KeyboardInterrupt:
            # Raised where no signal handler could be installed, or on a second Ctrl-C.
            state.interrupted = True
            state.stop(f"interrupted (Ctrl-C) at epoch {state.epoch}, batch {state.batch}")
            record_partial()
        except Exception as e:
            # Anything else: keep what was trained (callbacks finish, a ModelCheckpoint saves
            # the weights) and hand the History over on the exception itself.
            state.error = e
            first_line = (str(e).strip().splitlines() or [""])[0]
            state.stop(
                f"error at epoch {state.epoch}, batch {state.batch}: {type(e).__name__}: "
                f"{first_line}".rstrip(": ")
            )
            record_partial()
            state.history.stop_reason = state.stop_reason
            try:
                _call(hooks["on_fit_end"], state)
            except Exception as cleanup:  # report it, but the first failure is the one raised
                e.add_note(f"fit: on_fit_end failed too: {type(cleanup).__name__}: {cleanup}")
            with contextlib.suppress(AttributeError, TypeError):  # (an exception with slots)
                e.history = state.history  # type: ignore[attr-defined]
            e.add_note(
                f"fit: stopped at epoch {state.epoch}, batch {state.batch}; the History of the "
                f"{len(state.history)} completed epoch(s) (and the partial one) is attached "
                "as exception.history"
            )
            raise
        finally:
            model.train()
        _call(hooks["on_fit_end"], state)

    state.history.stop_reason = state.stop_reason
    return state.history


def _partial_record(
    state: FitState, metric_objs: Sequence[Metric], lr: float, started: float, steps: int
) -> dict[str, Any]:
    """The record of an epoch cut short: training numbers over the batches it ran."""
    logs: dict[str, Any] = {"epoch": state.epoch, "loss": state.running_loss}
    for m in metric_objs:
        try:
            logs[m.name] = m.compute() if steps else math.nan
        except (ValueError, ZeroDivisionError, RuntimeError):
            logs[m.name] = math.nan
    logs.update(lr=lr, time=time.perf_counter() - started, partial=True, batches=steps,
                num_batches=state.num_batches)  # fmt: skip
    return logs


def _call(methods: list[Any], state: FitState) -> None:
    for method in methods:
        method(state)


def _preflight(
    model: Any,
    loader: Any,
    loss: Any,
    metric_objs: Sequence[Metric] = (),
    what: str = "training data",
) -> None:
    """Run the first batch through the model (eval mode, no gradients) and check the shapes.

    This raises before any weight changes, with both shapes named, instead of failing deep
    inside the loss or, for broadcasting losses, silently training on the wrong thing.
    """
    # Peeking must not consume shuffling randomness: epoch 1 (and a resumed epoch) must see
    # the order an iteration of the loader without fit would give.
    restore_rng = _setup.rng_snapshot(loader)
    try:
        first = next(iter(loader), None)
    finally:
        restore_rng()
    if first is None:
        raise ValueError(f"fit: the {what} is empty")
    inputs, target = _setup.split_batch(first)
    was_training = model.training
    model.eval()
    try:
        with cr.no_grad():
            output = model(*inputs)
            _setup.check_output_target(output, target, loss)
            # A metric that cannot read this output/target must fail now, not after the first
            # optimizer step (each epoch resets the metrics, so this update is not counted).
            for m in metric_objs:
                m.update(output, target)
                m.reset()
    except (ValueError, RuntimeError, TypeError, IndexError) as e:
        if what == "training data":
            raise
        try:  # say which data set the shapes came from; keep the exception type
            text = str(e).removeprefix("fit: ")
            err = type(e)(f"fit: {what}: {text}")
        except Exception:
            raise e from None
        raise err from e
    finally:
        model.train(was_training)
    _setup.check_class_targets(loader, output, loss, what)


def default_metrics(loss: Any) -> tuple[str, ...]:
    """Accuracy for classification losses, MAE for regression losses, none otherwise."""
    name = type(loss).__name__
    if name in ("CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss"):
        return ("accuracy",)
    if name in ("MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss"):
        return ("mae",)
    return ()


def _fresh_metrics(specs: Sequence[str | Metric], loss: Any) -> list[Metric]:
    """New Metric objects (copies of given instances, so train and validation never share)."""
    result = []
    for spec in specs:
        if isinstance(spec, Metric):
            metric = copy.deepcopy(spec)
            metric.reset()
        elif spec == "accuracy" and type(loss).__name__ == "BCEWithLogitsLoss":
            metric = get_metric(spec, threshold=0.0)  # binary logits: positive above 0
        else:
            metric = get_metric(spec)
        result.append(metric)
    return result


def evaluate(
    model: Any,
    data: Any,
    *,
    loss: Any = None,
    metrics: Sequence[str | Metric] | None = None,
    batch_size: int = 256,
) -> dict[str, float]:
    """Loss and metrics of ``model`` on ``data`` in eval mode without gradients.

    Returns ``{"loss": …, "accuracy": …}`` (``loss`` only when a loss is given). The model's
    train/eval mode is restored afterwards.
    """
    if metrics is None:
        metrics = default_metrics(loss) if loss is not None else ()
    elif isinstance(metrics, str | Metric):
        metrics = [metrics]
    metric_objs = _fresh_metrics(metrics, loss)
    loader = _setup.as_loader(data, batch_size, shuffle=False, generator=None,
                              float_dtype=_setup.float_dtype_of(model))  # fmt: skip
    was_training = model.training
    model.eval()
    loss_sum, seen = 0.0, 0
    try:
        with cr.no_grad():
            for batch in loader:
                inputs, target = _setup.split_batch(batch)
                output = model(*inputs)
                n = _setup.batch_size_of(target)
                if loss is not None:
                    loss_sum += loss(output, target).item() * n
                seen += n
                for m in metric_objs:
                    m.update(output, target)
    finally:
        model.train(was_training)
    results: dict[str, float] = {}
    if loss is not None:
        results["loss"] = loss_sum / seen if seen else math.nan
    results.update({m.name: m.compute() for m in metric_objs})
    return results


def predict(model: Any, data: Any, *, batch_size: int = 256) -> Any:
    """The model's outputs for every example of ``data``, concatenated along the first dim.

    ``data`` may be an array/tensor of inputs, an ``(x, y)`` pair, a Dataset or a DataLoader
    (targets, if present, are ignored). Runs in eval mode without gradients.
    """
    if hasattr(data, "shape"):  # bare inputs: pair them with dummy targets for batching
        data = (data, np.zeros(len(data), dtype=np.int64))
    loader = _setup.as_loader(data, batch_size, shuffle=False, generator=None,
                              float_dtype=_setup.float_dtype_of(model))  # fmt: skip
    was_training = model.training
    model.eval()
    outputs = []
    try:
        with cr.no_grad():
            for batch in loader:
                if isinstance(batch, (tuple, list)) and len(batch) == 1:
                    inputs = tuple(batch)  # a dataset of inputs only, e.g. TensorDataset(x)
                elif isinstance(batch, (tuple, list)):
                    inputs = _setup.split_batch(batch)[0]
                else:
                    inputs = (batch,)
                outputs.append(model(*(_setup._from_torch(i) for i in inputs)))
    finally:
        model.train(was_training)
    return cr.cat(outputs, dim=0)
