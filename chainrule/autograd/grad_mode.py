"""Grad mode: the flag that decides whether ops record a graph, and its context managers."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode"]

F = TypeVar("F", bound=Callable[..., Any])


class _State(threading.local):
    # Thread-local so a data-loading thread's no_grad never leaks into the training thread.
    enabled = True
    anomaly = False
    anomaly_check_nan = True


state = _State()


def is_grad_enabled() -> bool:
    """True when ops record the graph for backward."""
    return state.enabled


class _GradModeContext:
    """Base for context managers that are also decorators, as in PyTorch."""

    _target: bool = True

    def __enter__(self) -> None:
        self._prev = state.enabled
        state.enabled = self._target

    def __exit__(self, *exc: object) -> None:
        state.enabled = self._prev

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradModeContext):  # noqa: N801 - PyTorch's name
    """Context manager / decorator in which ops record no graph (evaluation, optimizer steps)."""

    _target = False


class enable_grad(_GradModeContext):  # noqa: N801
    """Context manager / decorator that turns graph recording back on inside ``no_grad``."""

    _target = True


class inference_mode(_GradModeContext):  # noqa: N801
    """Alias of ``no_grad`` (chainrule has no separate inference tensors)."""

    def __init__(self, mode: bool = True) -> None:
        self._target = not mode

    def __call__(self, fn: F) -> F:
        mode = not self._target

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class set_grad_enabled(_GradModeContext):  # noqa: N801
    """Set grad mode to ``mode``; works as a function call, a context manager or a decorator."""

    def __init__(self, mode: bool) -> None:
        self._prev = state.enabled
        self._target = bool(mode)
        state.enabled = self._target

    def __enter__(self) -> None:
        pass

    def __call__(self, fn: F) -> F:
        state.enabled = self._prev
        mode = self._target

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]
