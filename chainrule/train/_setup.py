"""The plumbing ``fit`` needs before and around its loop, kept out of ``loop.py`` so that file
reads as the algorithm: turning data into batches, checking shapes, choosing when the scheduler
steps, catching Ctrl-C, resuming from a checkpoint."""

from __future__ import annotations

import math
import signal
import threading
from typing import Any

import numpy as np

from .callbacks import FitState
from .history import History

# Losses whose target holds class indices with the class dimension second in the output.
_CLASS_INDEX_LOSSES = ("CrossEntropyLoss", "NLLLoss")
# Losses that compare output and target elementwise: the shapes must be equal.
_ELEMENTWISE_LOSSES = (
    "MSELoss",
    "L1Loss",
    "SmoothL1Loss",
    "HuberLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "KLDivLoss",
)
# Schedulers designed to move the learning rate after every optimizer step.
_PER_BATCH_SCHEDULERS = ("OneCycleLR", "CyclicLR")


def float_dtype_of(model: Any) -> Any:
    """NumPy dtype of the model's first floating parameter (float32 when it has none)."""
    for p in model.parameters():
        if np.issubdtype(p._data.dtype, np.floating):
            return p._data.dtype
    return np.dtype(np.float32)


def _to_tensor(x: Any, float_dtype: Any) -> Any:
    import chainrule as cr

    if isinstance(x, cr.Tensor):
        return x
    arr = np.asarray(x)
    # why: NumPy data is float64 by default; a float32 model would otherwise fail (as in torch)
    # on the first matmul. fit converts arrays it is given to the model's float dtype.
    if np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(float_dtype, copy=False)
    elif np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.int64, copy=False)
    return cr.from_numpy(np.ascontiguousarray(arr))


def _is_array_pair(data: Any) -> bool:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        return False
    return all(hasattr(a, "shape") and len(a.shape) >= 1 for a in data)


def as_loader(
    data: Any, batch_size: int, *, shuffle: bool, generator: Any, float_dtype: Any
) -> Any:
    """Turn ``data`` into something iterable over batches.

    Accepts a DataLoader (or any iterable of batches) as is, a Dataset (wrapped in a
    DataLoader), or an ``(x, y)`` pair of arrays/tensors (wrapped in a TensorDataset).
    """
    from chainrule.data import DataLoader, Dataset, TensorDataset

    if isinstance(data, DataLoader):
        return data
    if _is_array_pair(data):
        x, y = data
        if x.shape[0] != y.shape[0]:
            raise ValueError(
                f"fit: x and y have different numbers of examples: x has shape "
                f"{tuple(x.shape)}, y has shape {tuple(y.shape)}"
            )
        if x.shape[0] == 0:
            raise ValueError("fit: the data is empty (0 examples)")
        dataset = TensorDataset(_to_tensor(x, float_dtype), _to_tensor(y, float_dtype))
        return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)
    if (
        isinstance(data, tuple | list)
        and len(data) > 2
        and all(hasattr(a, "shape") and len(a.shape) >= 1 for a in data)
    ):
        raise TypeError(
            f"fit: data is a {type(data).__name__} of {len(data)} arrays; pass an (x, y) pair, "
            "or TensorDataset(x1, x2, ..., y) for a model with several inputs"
        )
    if isinstance(data, dict):
        raise TypeError(
            "fit: data must be a Dataset, a DataLoader or an (x, y) pair of arrays/tensors, got "
            f"a dict with keys {list(data)}; pass (x, y) instead"
        )
    if isinstance(data, Dataset) or (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        if hasattr(data, "__len__") and len(data) == 0:
            raise ValueError("fit: the data is empty (0 examples)")
        return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator)
    if hasattr(data, "__iter__"):
        return data  # e.g. a torch-style loader or a generator function's re-iterable
    raise TypeError(
        "fit: data must be a Dataset, a DataLoader or an (x, y) pair of arrays/tensors, "
        f"got {type(data).__name__}"
    )


def check_reiterable(data: Any, name: str) -> None:
    """Reject a generator/iterator: fit reads its data once per epoch (and once for the shape
    check), so a one-shot iterator would silently leave later epochs with no data."""
    if data is not None and hasattr(data, "__next__") and iter(data) is data:
        raise TypeError(
            f"fit: {name} is a one-shot iterator ({type(data).__name__}), which cannot be read "
            "again each epoch; pass a DataLoader, a Dataset, an (x, y) pair, or an object whose "
            "__iter__ starts a new pass over the batches"
        )


def split_batch(batch: Any) -> tuple[tuple[Any, ...], Any]:
    """``(inputs, target)`` from a batch ``(x, y)``; longer tuples give several inputs."""
    if isinstance(batch, dict):
        raise TypeError("fit: batches must be (input, target) tuples, got a dict")
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise TypeError(
            "fit: each batch must be an (input, target) pair; got "
            f"{type(batch).__name__} of length {len(batch) if hasattr(batch, '__len__') else '?'}"
        )
    if any(type(b).__module__.startswith("torch") for b in batch):
        # Batches from a torch DataLoader: same values, as chainrule tensors (dtype kept).
        batch = [_from_torch(b) for b in batch]
    return tuple(batch[:-1]), batch[-1]


def _from_torch(x: Any) -> Any:
    import chainrule as cr

    if type(x).__module__.startswith("torch") and hasattr(x, "detach"):
        t = x.detach().cpu()
        if str(t.dtype) == "torch.bfloat16":
            t = t.float()
        return cr.from_numpy(np.ascontiguousarray(t.numpy()))
    return x


def num_batches(loader: Any) -> int | None:
    try:
        return len(loader)
    except TypeError:
        return None


def check_output_target(output: Any, target: Any, loss_fn: Any) -> None:
    """Raise ValueError naming both shapes when the loss cannot compare output and target.

    Called once on the first batch before any step, so a wrong model head or label format fails
    immediately rather than after an epoch (or, for broadcasting losses, never).
    """
    import chainrule as cr

    if not isinstance(output, cr.Tensor):
        raise TypeError(
            f"fit: the model must return a Tensor, got {type(output).__name__} (models that "
            "return (output, state) tuples need a wrapper that returns only the output)"
        )
    out_shape, tgt_shape = tuple(output.shape), tuple(getattr(target, "shape", ()))
    name = type(loss_fn).__name__
    integer_target = isinstance(target, cr.Tensor) and not target.is_floating_point()
    problem = None
    if name in _CLASS_INDEX_LOSSES and integer_target:
        ok = (
            len(out_shape) == len(tgt_shape) + 1
            and out_shape[:1] == tgt_shape[:1]
            and out_shape[2:] == tgt_shape[1:]
        )
        if not ok:
            problem = (
                f"{name} with class-index targets expects output (N, C) and target (N,), or "
                "output (N, C, d1, ...) and target (N, d1, ...)"
            )
    elif (
        name in _ELEMENTWISE_LOSSES or (name in _CLASS_INDEX_LOSSES and not integer_target)
    ) and out_shape != tgt_shape:
        problem = f"{name} compares elementwise and needs equal shapes (no broadcasting)"
    if problem:
        raise ValueError(
            f"fit: model output shape {out_shape} does not match target shape {tgt_shape}: "
            f"{problem}"
        )
    try:
        value = loss_fn(output, target)
    except (ValueError, RuntimeError, IndexError, TypeError) as e:
        raise ValueError(
            f"fit: the loss {name} failed on model output shape {out_shape} and target shape "
            f"{tgt_shape}: {e}"
        ) from e
    if not isinstance(value, cr.Tensor) or value.numel() != 1:
        got = tuple(value.shape) if isinstance(value, cr.Tensor) else type(value).__name__
        raise ValueError(f"fit: the loss must return a scalar Tensor, got {got}")


def check_class_targets(loader: Any, output: Any, loss_fn: Any, what: str) -> None:
    """For class-index losses on in-memory data, check every target is a valid class index.

    The first batch's shapes are checked elsewhere; a bad label further on would otherwise
    stop training mid-epoch (the weights already changed) with an IndexError.
    """
    if type(loss_fn).__name__ not in _CLASS_INDEX_LOSSES or len(output.shape) < 2:
        return
    from chainrule.data import default_collate

    tensors = getattr(getattr(loader, "dataset", None), "tensors", None)
    if not tensors or getattr(loader, "collate_fn", None) not in (None, default_collate):
        return  # targets reach the loss only through a custom collate: nothing to check here
    target = np.asarray(getattr(tensors[-1], "_data", tensors[-1]))
    if target.dtype.kind not in "iu" or target.size == 0:
        return
    classes = int(output.shape[1])
    ignore = getattr(loss_fn, "ignore_index", -100)
    bad = ((target < 0) | (target >= classes)) & (target != ignore)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"fit: {what}: target {int(target[where])} at index {where} is not a class index "
            f"for the model's {classes} outputs (valid 0..{classes - 1}"
            f"{f', or ignore_index={ignore}' if ignore is not None else ''})"
        )


def scheduler_interval(scheduler: Any, interval: str | None) -> str | None:
    """``"batch"`` or ``"epoch"``: when to call ``scheduler.step()``."""
    if interval is not None and interval not in ("batch", "epoch"):
        raise ValueError(f"scheduler_interval must be 'batch' or 'epoch', got {interval!r}")
    if scheduler is None:
        return None
    if interval is not None:
        return interval
    return "batch" if type(scheduler).__name__ in _PER_BATCH_SCHEDULERS else "epoch"


def is_plateau(scheduler: Any) -> bool:
    return type(scheduler).__name__ == "ReduceLROnPlateau"


def valid_log_names(metric_names: list[str], has_val: bool) -> list[str]:
    names = ["loss", *metric_names]
    if has_val:
        names += [f"val_{n}" for n in names]
    return [*names, "lr"]


def check_monitors(callbacks: list[Any], valid: list[str], scheduler_monitor: str | None) -> None:
    """Every ``monitor`` a callback (or ReduceLROnPlateau) watches must be a logged name."""
    # Callbacks of the user's own may add log names at epoch end (GradientMonitor: grad_norm).
    own = any(not type(cb).__module__.startswith("chainrule.") for cb in callbacks)
    for cb in callbacks:
        template = getattr(cb, "path", None)
        if type(cb).__name__ == "ModelCheckpoint" and isinstance(template, str):
            # Fill the path template now: a typo must fail before training, not after epoch 1.
            try:
                template.format(**dict.fromkeys([*valid, "time", "grad_norm"], 0.0), epoch=1)
            except KeyError:
                if not own:
                    raise ValueError(
                        f"ModelCheckpoint: cannot fill in the path {template!r}; available "
                        f"names: epoch, {', '.join([*valid, 'time'])}"
                    ) from None
            except (ValueError, IndexError, AttributeError) as e:
                raise ValueError(
                    f"ModelCheckpoint: cannot fill in the path {template!r} ({e!r}); available "
                    f"names: epoch, {', '.join([*valid, 'time'])}"
                ) from e
    wanted = [(type(cb).__name__, getattr(cb, "monitor", None)) for cb in callbacks]
    wanted.append(("ReduceLROnPlateau (scheduler_monitor)", scheduler_monitor))
    for owner, name in wanted:
        if name is not None and name not in valid:
            hint = " (pass val_data to fit to get val_* values)" if name.startswith("val_") else ""
            raise ValueError(
                f"{owner}: unknown monitor {name!r}; valid names: {', '.join(valid)}{hint}"
            )


def resume(state: FitState, path: Any) -> None:
    """Load a ModelCheckpoint file into the state's objects and continue its counters."""
    from chainrule.io import load_checkpoint, loader_generators

    objects = {"model": state.model, "optimizer": state.optimizer, "scheduler": state.scheduler}
    loader = state.train_loader
    if loader is not None and loader_generators(loader):
        # A DataLoader with its own shuffling generator: restore it too, so the resumed epochs
        # see the batch order the uninterrupted run would have (checkpoints written before
        # this was saved, or by save_checkpoint without dataloader=, still load).
        try:
            meta = load_checkpoint(path, **objects, dataloader=loader)
        except ValueError as e:
            if "holds no dataloader state" not in str(e):
                raise
            meta = load_checkpoint(path, **objects)
    else:
        meta = load_checkpoint(path, **objects)
    state.epoch = int(meta.get("epoch") or 0)
    state.history = History.from_dict(meta.get("history") or {})
    fit_meta = meta.get("fit") or {}
    state.step = int(fit_meta.get("step", 0))
    state.shuffle_seed = int(fit_meta.get("shuffle_seed", state.shuffle_seed))
    saved_callbacks = fit_meta.get("callbacks") or {}
    for i, cb in enumerate(state.callbacks):
        saved = saved_callbacks.get(f"{i}:{type(cb).__name__}")
        if saved and hasattr(cb, "load_state_dict"):
            cb.load_state_dict(saved)


def is_anomaly(error: BaseException) -> bool:
    """Did ``detect_anomaly`` raise this (a NaN/Inf in a forward output or a gradient)?"""
    first = str(error).split("\n", 1)[0]
    return (
        isinstance(error, RuntimeError)
        and "nan/inf" in first
        and (first.startswith("anomaly: op ") or first.startswith("Function '"))
    )


def anomaly_reason(state: FitState, error: BaseException) -> str:
    """The stop reason for a NaN/Inf caught by ``detect_anomaly``: where, which op, which line."""
    lines = str(error).splitlines()
    created = next((ln[len("Created at ") :] for ln in lines if ln.startswith("Created at ")), "")
    where = f"epoch {state.epoch}, batch {state.batch} (step {state.step + 1})"
    reason = f"non-finite value (nan/inf) at {where}, found by detect_anomaly: {lines[0]}"
    if created:
        reason += f"; created at {created}"
    return reason + "; weights kept from the previous step"


def zero_grads(params: list[Any]) -> None:
    """Zero gradients in place of what an interrupted backward pass left behind."""
    import chainrule as cr

    for p in params:
        p.grad = cr.zeros_like(p.detach())


def rng_snapshot(loader: Any) -> Any:
    """Restorable state of every generator peeking at ``loader`` may draw from."""
    import chainrule as cr
    from chainrule.io import loader_generators

    generators = [cr.default_generator, *loader_generators(loader).values()]
    states = [g.get_state() for g in generators]

    def restore() -> None:
        for g, st in zip(generators, states):
            g.set_state(st)

    return restore


class StopOnCtrlC:
    """While active, the first Ctrl-C (SIGINT) or SIGTERM asks ``fit`` to stop after the current
    batch, so what was trained is saved (callbacks' ``on_fit_end``: a ModelCheckpoint writes
    ``.interrupted``).

    A second signal of the same kind acts at once (the previous handler is back in place).
    After a SIGTERM, leaving the block re-raises it with the program's previous handler, so a
    job a scheduler terminates still ends as asked, only after its work is saved. Signal
    handlers can only be installed from the main thread; elsewhere this does nothing and
    ``fit`` catches the KeyboardInterrupt instead.
    """

    _NAMES = {signal.SIGINT: "interrupted (Ctrl-C)", signal.SIGTERM: "terminated (SIGTERM)"}

    def __init__(self, state: FitState) -> None:
        self.state = state
        self._previous: dict[int, Any] = {}
        self.terminated = False

    def _handler(self, signum: int, frame: Any) -> None:
        self.state.interrupted = True
        self.state.stop(
            f"{self._NAMES[signum]} at epoch {self.state.epoch}, batch {self.state.batch}"
        )
        if signum == signal.SIGTERM:
            self.terminated = True
        signal.signal(signum, self._previous.pop(signum))

    def __enter__(self) -> StopOnCtrlC:
        if threading.current_thread() is threading.main_thread():
            for signum in self._NAMES:
                prev = signal.signal(signum, self._handler)
                # None: a handler installed from C, which Python cannot put back: the default
                self._previous[signum] = signal.SIG_DFL if prev is None else prev
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, prev in self._previous.items():
            signal.signal(signum, prev)
        self._previous = {}
        if self.terminated:
            # the work is saved: now end as the sender asked (or run the program's own handler)
            signal.raise_signal(signal.SIGTERM)


def weighted_mean(total: float, count: int) -> float:
    return total / count if count else math.nan


def batch_size_of(target: Any) -> int:
    shape = getattr(target, "shape", None)
    return int(shape[0]) if shape else 1
