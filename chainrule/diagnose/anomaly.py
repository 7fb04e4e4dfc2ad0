"""``detect_anomaly()``: stop at the first NaN/Inf, naming the op, the user's line and the inputs.

The checks themselves live in the core (``ops/_registry.py`` checks each forward output,
``autograd/engine.py`` each gradient) so they cost nothing when off. This wrapper turns them on,
and silences NumPy's own "invalid value" RuntimeWarnings meanwhile: the anomaly error that
follows says more (which op, where, and the statistics of the offending input).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["detect_anomaly"]


class detect_anomaly:  # noqa: N801 - PyTorch's name
    """Context manager / decorator: raise at the first op whose output or gradient has NaN/Inf.

    The ``RuntimeError`` names the op (e.g. ``log``; in backward ``LogBackward0``), the file and
    line of user code that called it, and min/max/mean and the nan/inf counts of its inputs and
    of the upstream gradient. Overhead is one ``isfinite`` per op output and a frame walk per
    recorded node (measured in ``benchmarks/bench_anomaly.py``).

    Example::

        with diagnose.detect_anomaly():
            loss = loss_fn(model(x), y)
            loss.backward()
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> detect_anomaly:
        from ..autograd.grad_mode import state

        self._prev = state.anomaly
        state.anomaly = bool(self.check_nan)
        self._err = np.errstate(invalid="ignore", divide="ignore", over="ignore")
        self._err.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        from ..autograd.grad_mode import state

        self._err.__exit__(*exc)
        state.anomaly = self._prev

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)

        return wrapper
