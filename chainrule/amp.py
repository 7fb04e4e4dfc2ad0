"""``chainrule.amp``: mixed-precision helpers that scripts call, with CPU semantics.

``autocast`` is accepted as a context manager / decorator and runs the block at the tensors' own
precision (chainrule's float32 path is its fast path; there is no reduced-precision kernel to
switch to). ``GradScaler`` implements torch's loss scaling exactly (scale, unscale_, inf/NaN
check that skips the step, growth/backoff, state_dict), so a script with
``enabled=use_amp`` behaves the same whether or not scaling is on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["autocast", "GradScaler", "is_autocast_available"]


def is_autocast_available(device_type: str) -> bool:
    """True for 'cpu' (accepted, as a no-op), False otherwise."""
    return device_type == "cpu"


class autocast:  # noqa: N801 - torch's name
    """``with autocast(device_type, dtype=None, enabled=True):`` — runs at full precision.

    A 'cuda'/'mps' device type is accepted only with ``enabled=False`` (the common
    ``enabled=torch.cuda.is_available()`` idiom); enabling it raises, as that device is absent.
    """

    def __init__(
        self,
        device_type: str = "cpu",
        dtype: Any = None,
        enabled: bool = True,
        cache_enabled: bool | None = None,
    ) -> None:
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if enabled and device_type not in ("cpu",):
            raise RuntimeError(
                f"autocast on device {device_type!r} is not available: chainrule runs on the CPU "
                "only (use device_type='cpu', or enabled=False)"
            )
        self.device_type, self.fast_dtype, self.enabled = device_type, dtype, enabled

    def __enter__(self) -> autocast:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return wrapped


class GradScaler:
    """Dynamic loss scaling (torch.amp.GradScaler's algorithm and state_dict)."""

    def __init__(
        self,
        device: str = "cuda",
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        if enabled and device != "cpu":
            # torch warns and disables itself when the device is missing; so do we (quietly:
            # a CPU-only library has no reason to nag about the usual `enabled=True` default)
            enabled = False
        if growth_factor <= 1.0:
            raise ValueError("The growth factor must be > 1.0.")
        if not 0 < backoff_factor < 1.0:
            raise ValueError("The backoff factor must be < 1.0.")
        self._device = device
        self._enabled = enabled
        self._scale = float(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._growth_tracker = 0
        self._found_inf: dict[int, bool] = {}  # per optimizer (id), this iteration
        self._unscaled: set[int] = set()

    def is_enabled(self) -> bool:
        """Whether scaling is on."""
        return self._enabled

    def get_scale(self) -> float:
        """The current scale (1.0 when disabled)."""
        return self._scale if self._enabled else 1.0

    def scale(self, outputs: Any) -> Any:
        """``outputs * scale`` (tensors, or lists/tuples of them)."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, list | tuple):
            return type(outputs)(self.scale(o) for o in outputs)
        return outputs * self._scale

    def unscale_(self, optimizer: Any) -> None:
        """Divide the optimizer's gradients by the scale in place and note any inf/NaN."""
        if not self._enabled:
            return
        if id(optimizer) in self._unscaled:
            raise RuntimeError(
                "unscale_() has already been called on this optimizer since the last update()."
            )
        inv = 1.0 / self._scale
        found = False
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad._data
                g *= inv
                if not np.isfinite(g).all():
                    found = True
        self._found_inf[id(optimizer)] = found
        self._unscaled.add(id(optimizer))

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """Unscale (if not done yet), then ``optimizer.step()`` unless a gradient is inf/NaN."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        if id(optimizer) not in self._unscaled:
            self.unscale_(optimizer)
        if self._found_inf.get(id(optimizer)):
            return None
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale: float | None = None) -> None:
        """Back off after an inf/NaN step, grow after ``growth_interval`` clean steps."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale.item() if hasattr(new_scale, "item") else new_scale)
        elif any(self._found_inf.values()):
            self._scale *= self._backoff_factor
            self._growth_tracker = 0
        else:
            self._growth_tracker += 1
            if self._growth_tracker == self._growth_interval:
                self._scale *= self._growth_factor
                self._growth_tracker = 0
        self._found_inf.clear()
        self._unscaled.clear()

    def get_growth_factor(self) -> float:
        """growth_factor."""
        return self._growth_factor

    def get_backoff_factor(self) -> float:
        """backoff_factor."""
        return self._backoff_factor

    def get_growth_interval(self) -> int:
        """growth_interval."""
        return self._growth_interval

    def state_dict(self) -> dict:
        """torch's keys (empty when disabled)."""
        if not self._enabled:
            return {}
        return {
            "scale": self._scale,
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._growth_tracker,
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore from ``state_dict()``."""
        if not self._enabled:
            return
        if not state_dict:
            raise RuntimeError(
                "The source state dict is empty, possibly because it was saved from a disabled "
                "instance of GradScaler."
            )
        self._scale = float(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])


class _CudaAmp:
    """``torch.cuda.amp``: GradScaler / autocast bound to the (absent) CUDA device."""

    @staticmethod
    def GradScaler(*args: Any, **kwargs: Any) -> GradScaler:  # noqa: N802 - torch's name
        """A disabled scaler (there is no CUDA device)."""
        return GradScaler("cuda", *args, **kwargs)

    @staticmethod
    def autocast(enabled: bool = True, dtype: Any = None, cache_enabled: bool = True) -> autocast:
        """``autocast('cuda', ...)``: only ``enabled=False`` works without a GPU."""
        return autocast("cuda", dtype, enabled, cache_enabled)
