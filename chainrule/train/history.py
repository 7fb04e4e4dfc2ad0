"""History: what happened in each epoch of a ``fit`` (loss, metrics, learning rate, time)."""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any

__all__ = ["History"]


class History:
    """Per-epoch records of a training run; a plain data object.

    ``history.records`` is a list of dicts, one per completed epoch, e.g.
    ``{"epoch": 1, "loss": 0.41, "accuracy": 0.88, "val_loss": 0.35, "val_accuracy": 0.9,
    "lr": 0.01, "time": 0.52}``. ``history["val_loss"]`` is that column as a list.
    ``stop_reason`` says why training ended early (``None`` if it ran all epochs).

    An epoch cut short (Ctrl-C, a NaN stop, an exception) is not one of the ``records``: it is
    ``history.partial``, a record of the batches it did run, marked ``"partial": True`` with
    ``"batches"`` (optimizer steps taken) and ``"num_batches"`` (the epoch's length, ``None``
    if unknown), and no validation numbers. ``partial`` is ``None`` when every epoch started
    also finished. When ``fit`` raises, the exception carries the History as
    ``exception.history``, so no epoch is lost either way.

    Examples:
        >>> h = History()
        >>> h.append({"epoch": 1, "loss": 0.5})
        >>> h["loss"]
        [0.5]
    """

    def __init__(self, records: list[dict[str, Any]] | None = None) -> None:
        self.records: list[dict[str, Any]] = [dict(r) for r in records or ()]
        self.stop_reason: str | None = None
        self.partial: dict[str, Any] | None = None

    def append(self, record: dict[str, Any]) -> None:
        """Add one epoch's record."""
        self.records.append(dict(record))

    @property
    def epochs(self) -> list[int]:
        """The epoch numbers recorded (1-based)."""
        return [r.get("epoch", i + 1) for i, r in enumerate(self.records)]

    def keys(self) -> list[str]:
        """Every column name, in first-seen order."""
        seen: dict[str, None] = {}
        for record in self.records:
            seen.update(dict.fromkeys(record))
        return list(seen)

    def __getitem__(self, key: str) -> list[Any]:
        if key not in self.keys():
            raise KeyError(f"History has no column {key!r}; columns: {', '.join(self.keys())}")
        return [r.get(key, math.nan) for r in self.records]

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        last = self.records[-1] if self.records else {}
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in last.items())
        cut = ""
        if self.partial is not None:
            p = self.partial
            of = f"/{p['num_batches']}" if p.get("num_batches") is not None else ""
            cut = f" + partial epoch {p.get('epoch')} ({p.get('batches')}{of} batches)"
        return f"History({len(self)} epochs{cut}; last: {shown})"

    def to_dict(self) -> dict[str, list[Any]]:
        """Columns as lists (Keras' ``history.history`` layout): ``{"loss": [...], ...}``."""
        return {key: self[key] for key in self.keys()}

    @property
    def history(self) -> dict[str, list[Any]]:
        """Alias of :meth:`to_dict` for Keras users."""
        return self.to_dict()

    @classmethod
    def from_dict(cls, columns: dict[str, list[Any]]) -> History:
        """Rebuild a History from :meth:`to_dict` output (e.g. stored in a checkpoint)."""
        n = max((len(v) for v in columns.values()), default=0)
        return cls([{k: v[i] for k, v in columns.items() if i < len(v)} for i in range(n)])

    def to_csv(self, path: str | os.PathLike | None = None) -> str:
        """Write one row per epoch to ``path`` (if given) and return the CSV text."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.keys(), lineterminator="\n")
        writer.writeheader()
        for record in self.records:
            writer.writerow(record)
        text = buffer.getvalue()
        if path is not None:
            Path(path).write_text(text)
        return text

    def plot(self, path: str | os.PathLike | None = None, *, metrics: Any = None) -> Any:
        """Plot loss and metric curves, train vs validation, one panel per quantity.

        Overfitting shows as a validation curve turning up while the training curve keeps
        falling. Saves to ``path`` when given; returns the matplotlib ``Figure``.
        Needs matplotlib (``pip install 'chainrule[plot]'``).
        """
        try:
            from matplotlib.figure import Figure
        except ImportError as e:
            raise ImportError(
                "History.plot needs matplotlib, which is not installed; install the 'plot' extra: "
                "pip install 'chainrule[plot]'"
            ) from e
        names = [
            k
            for k in self.keys()
            if not k.startswith("val_")
            and k not in ("epoch", "time", "lr")
            and (metrics is None or k in metrics)
        ]
        if "lr" in self.keys() and len(set(self["lr"])) > 1:
            names.append("lr")
        if not names:
            if metrics is not None and self.records:
                raise ValueError(
                    f"History.plot: none of metrics={list(metrics)} is a recorded column; "
                    f"columns: {', '.join(self.keys())}"
                )
            raise ValueError("History.plot: nothing to plot (no epochs recorded)")
        fig = Figure(figsize=(4.2 * len(names), 3.4), layout="constrained")
        axes = fig.subplots(1, len(names), squeeze=False)[0]
        for ax, name in zip(axes, names):
            ax.plot(self.epochs, self[name], marker="o", ms=3, label=f"train {name}")
            if f"val_{name}" in self:
                ax.plot(self.epochs, self[f"val_{name}"], marker="o", ms=3, label=f"val {name}")
            ax.set_xlabel("epoch")
            ax.set_title(name)
            ax.grid(alpha=0.3)
            if name == "lr":
                ax.set_yscale("log")
            ax.legend()
        if path is not None:
            fig.savefig(path, dpi=100)
        return fig


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
