"""Progress output for ``fit``: a tqdm bar per epoch on a terminal, plain lines otherwise.

On a TTY each epoch gets a bar with batches/s, ETA and a loss / metric postfix. When stderr is
not a terminal (CI logs, files, pipes) the bar would print carriage-return garbage, so one plain
line per epoch is written instead. ``fit(..., progress=False)`` turns both off.
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any, TextIO

from .callbacks import Callback, FitState

__all__ = ["ProgressBar", "format_logs"]

_POSTFIX_INTERVAL = 0.25  # seconds between postfix refreshes; tqdm itself redraws at 10 Hz


def format_logs(logs: dict[str, Any], skip: tuple[str, ...] = ("epoch",)) -> str:
    """``"loss 0.1234 · accuracy 0.9610 · lr 0.01 · 1.2s"`` for one epoch's numbers."""
    parts = []
    for key, value in logs.items():
        if key in skip:
            continue
        if key == "time":
            parts.append(f"{value:.1f}s")
        elif key == "lr":
            parts.append(f"lr {value:.3g}")
        elif isinstance(value, float):
            parts.append(f"{key} {value:.4f}" if math.isfinite(value) else f"{key} {value}")
        else:
            parts.append(f"{key} {value}")
    return " · ".join(parts)


class ProgressBar(Callback):
    """Show training progress on ``file`` (stderr by default).

    Args:
        file: the stream to write to.
        mode: ``"auto"`` (bar on a TTY, lines otherwise), ``"bar"`` or ``"lines"``.
    """

    def __init__(self, file: TextIO | None = None, mode: str = "auto") -> None:
        if mode not in ("auto", "bar", "lines"):
            raise ValueError(f"mode must be 'auto', 'bar' or 'lines', got {mode!r}")
        self.file = file
        self.mode = mode
        self._bar: Any = None
        self._last_postfix = 0.0

    def _stream(self) -> TextIO:
        return self.file if self.file is not None else sys.stderr

    def _use_bar(self) -> bool:
        if self.mode != "auto":
            return self.mode == "bar"
        stream = self._stream()
        isatty = getattr(stream, "isatty", None)
        if not (isatty and isatty()):
            return False
        try:  # a terminal that reports zero columns would show an empty bar
            return os.get_terminal_size(stream.fileno()).columns > 0
        except (OSError, ValueError, AttributeError):
            return True

    def on_epoch_start(self, state: FitState) -> None:
        if not self._use_bar():
            return
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=state.num_batches,
            desc=f"epoch {state.epoch}/{state.epochs}",
            file=self._stream(),
            unit="batch",
            leave=True,
            dynamic_ncols=True,
        )
        self._last_postfix = 0.0

    def on_batch_end(self, state: FitState) -> None:
        if self._bar is None:
            return
        self._bar.update(1)
        now = time.monotonic()
        if now - self._last_postfix > _POSTFIX_INTERVAL:
            self._last_postfix = now
            self._bar.set_postfix_str(f"loss {state.running_loss:.4f}", refresh=False)

    def on_epoch_end(self, state: FitState) -> None:
        if self._bar is not None:
            # The bar keeps its rate and time; the full numbers follow on their own line,
            # where a narrow terminal cannot truncate them.
            self._bar.set_postfix_str(f"loss {state.running_loss:.4f}", refresh=False)
            self._bar.close()
            self._bar = None
        text = format_logs(state.logs)
        print(f"epoch {state.epoch}/{state.epochs}: {text}", file=self._stream(), flush=True)

    def on_fit_end(self, state: FitState) -> None:
        if self._bar is not None:  # stopped mid-epoch
            self._bar.close()
            self._bar = None
        if state.stop_reason:
            print(f"stopped: {state.stop_reason}", file=self._stream(), flush=True)
