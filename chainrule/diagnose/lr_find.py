"""``lr_find``: the learning-rate range test (Smith 2017, popularised by fastai).

Train for a few batches while the learning rate grows exponentially from ``start_lr`` to
``end_lr``, record the (smoothed) loss, stop once it diverges, and suggest the rate where the
loss falls fastest. The model and optimizer are restored afterwards: the test changes nothing.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from . import _plot

__all__ = ["lr_find", "LRFinderResult"]


class LRFinderResult:
    """The range test's curve: ``lrs``, ``losses`` (smoothed), ``raw_losses`` and ``suggestion``.

    ``suggestion`` is the learning rate at the steepest descent of the smoothed loss (on a log
    lr axis); ``min_lr`` is where the loss was lowest (a rate ≈ ``min_lr / 10`` is the other
    common rule of thumb). ``plot()`` draws the curve with the suggestion marked.
    """

    def __init__(
        self, lrs: list[float], losses: list[float], raw: list[float], diverged: bool
    ) -> None:
        self.lrs = lrs
        self.losses = losses
        self.raw_losses = raw
        self.diverged = diverged
        self.suggestion, self.min_lr = _suggest(lrs, losses)

    @property
    def suggested_lr(self) -> float:
        """Alias of ``suggestion``."""
        return self.suggestion

    @property
    def history(self) -> dict[str, list[float]]:
        """``{"lr": [...], "loss": [...]}`` (torch-lr-finder's layout)."""
        return {"lr": list(self.lrs), "loss": list(self.losses)}

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "lrs": list(self.lrs),
            "losses": list(self.losses),
            "raw_losses": list(self.raw_losses),
            "suggestion": self.suggestion,
            "min_lr": self.min_lr,
            "diverged": self.diverged,
        }

    def __str__(self) -> str:
        end = "stopped when the loss diverged" if self.diverged else "ran to end_lr"
        return (
            f"lr_find: {len(self.lrs)} steps from {self.lrs[0]:.3g} to {self.lrs[-1]:.3g} "
            f"({end}); steepest descent at lr ≈ {self.suggestion:.3g} (suggested), lowest "
            f"loss at {self.min_lr:.3g}"
        )

    def __repr__(self) -> str:
        return f"LRFinderResult(suggestion={self.suggestion:.3g}, steps={len(self.lrs)})"

    def plot(self, path: Any = None) -> Any:
        """Loss vs learning rate (log axis) with the suggestion marked; needs matplotlib."""
        fig, ax = _plot.new_figure()
        ax.plot(self.lrs, self.losses, label="loss (smoothed)")
        ax.plot(self.lrs, self.raw_losses, alpha=0.3, lw=0.8, label="loss (raw)")
        ax.set_xscale("log")
        ax.axvline(self.suggestion, color="red", ls="--", label=f"suggested {self.suggestion:.2g}")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.set_title("learning-rate range test")
        finite = [v for v in self.losses if math.isfinite(v)]
        if finite:
            lo, hi = min(finite), finite[0]
            ax.set_ylim(lo - 0.1 * abs(hi - lo), max(hi, lo) + 0.5 * abs(hi - lo) + 1e-12)
        ax.legend(fontsize=8)
        return _plot.finish(fig, path)


def _suggest(lrs: list[float], losses: list[float]) -> tuple[float, float]:
    arr = np.asarray(losses, np.float64)
    ok = np.isfinite(arr)
    lr = np.asarray(lrs, np.float64)[ok]
    arr = arr[ok]
    if arr.size == 0:
        return float(lrs[0]), float(lrs[0])
    min_lr = float(lr[int(arr.argmin())])
    if arr.size < 3:
        return min_lr / 10, min_lr
    # Steepest descent before the minimum: where d loss / d log(lr) is most negative.
    stop = int(arr.argmin()) + 1
    g = np.gradient(arr[: max(stop, 3)], np.log(lr[: max(stop, 3)]))
    return float(lr[int(g.argmin())]), min_lr


def _batches(data: Any) -> Iterator[tuple[Any, Any]]:
    """Cycle over ``data``: an (x, y) pair of tensors is one batch reused; else an iterable."""
    from .._tensor import Tensor

    if isinstance(data, tuple | list) and len(data) == 2 and isinstance(data[0], Tensor):
        while True:
            yield data[0], data[1]
    if not hasattr(data, "__iter__"):
        raise TypeError(
            f"lr_find: data must be an (inputs, targets) pair or an iterable of batches (a "
            f"DataLoader), got {type(data).__name__}"
        )
    while True:
        n = 0
        for b in data:
            n += 1
            if not isinstance(b, tuple | list) or len(b) != 2:
                raise TypeError("lr_find: each batch must be an (inputs, targets) pair")
            yield b[0], b[1]
        if n == 0:
            raise ValueError("lr_find: data yielded no batches")


def lr_find(
    model: Any,
    data: Any,
    loss_fn: Any,
    optimizer: Any,
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_iter: int = 100,
    smooth: float = 0.05,
    diverge_threshold: float = 5.0,
) -> LRFinderResult:
    """Learning-rate range test; returns the curve and a suggested learning rate.

    Args:
        model, loss_fn, optimizer: what you will train with (any optimizer with
            ``param_groups``; every group's ``lr`` is swept).
        data: an ``(inputs, targets)`` pair (reused each step) or an iterable of such batches
            (cycled).
        start_lr, end_lr, num_iter: the exponential sweep.
        smooth: weight of the newest loss in the exponential moving average (bias-corrected).
        diverge_threshold: stop once the smoothed loss exceeds this multiple of the best.

    The model's parameters and buffers, its train/eval mode, and the optimizer's state and
    learning rates are restored when the test ends (also on error).
    """
    if not (start_lr > 0 and end_lr > start_lr):
        raise ValueError(f"lr_find: need 0 < start_lr < end_lr, got {start_lr}, {end_lr}")
    if num_iter < 2:
        raise ValueError(f"lr_find: num_iter must be >= 2, got {num_iter}")
    if not 0 < smooth <= 1:
        raise ValueError(f"lr_find: smooth must be in (0, 1], got {smooth}")
    if not hasattr(optimizer, "param_groups"):
        raise TypeError(f"lr_find: optimizer has no param_groups ({type(optimizer).__name__})")
    batches = _batches(data)
    saved_model = {k: np.array(v._data, copy=True) for k, v in model.state_dict().items()}
    saved_opt = copy.deepcopy(optimizer.state_dict())
    was_training = getattr(model, "training", True)
    lrs: list[float] = []
    losses: list[float] = []
    raw: list[float] = []
    diverged = False
    avg, best = 0.0, math.inf
    ratio = end_lr / start_lr
    try:
        if hasattr(model, "train"):
            model.train()
        for i in range(num_iter):
            lr = start_lr * ratio ** (i / (num_iter - 1))
            for g in optimizer.param_groups:
                g["lr"] = lr
            x, y = next(batches)
            optimizer.zero_grad()
            with np.errstate(all="ignore"):
                loss = loss_fn(model(x), y)
                loss.backward()
                optimizer.step()
            v = float(np.asarray(loss._data, np.float64).reshape(()))
            avg = (1 - smooth) * avg + smooth * v
            s = avg / (1 - (1 - smooth) ** (i + 1))
            lrs.append(lr)
            raw.append(v)
            losses.append(s)
            if math.isfinite(s):
                best = min(best, s)
            if not math.isfinite(s) or (i > 0 and s > diverge_threshold * best):
                diverged = True
                break
    finally:
        from .._tensor import Tensor

        model.load_state_dict({k: Tensor(v) for k, v in saved_model.items()})
        optimizer.load_state_dict(saved_opt)
        optimizer.zero_grad()
        if hasattr(model, "train"):
            model.train(was_training)
    return LRFinderResult(lrs, losses, raw, diverged)
