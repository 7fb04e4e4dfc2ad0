"""Padding layers (torch.nn.modules.padding): constant, zero, reflection, replication, circular."""

from __future__ import annotations

from typing import Any

from ..._tensor import Tensor
from .module import Module

__all__ = [
    f"{kind}Pad{n}d"
    for kind in ("Constant", "Zero", "Reflection", "Replication", "Circular")
    for n in (1, 2, 3)
]


def _F() -> Any:
    from .. import functional

    return functional


class _PadNd(Module):
    mode = "constant"
    n = 1

    def __init__(self, padding: Any, value: float = 0.0) -> None:
        super().__init__()
        self.padding = (padding,) * (2 * self.n) if isinstance(padding, int) else tuple(padding)
        if len(self.padding) != 2 * self.n:
            raise ValueError(
                f"{type(self).__name__}: padding must be an int or a {2 * self.n}-tuple, got "
                f"{padding!r}"
            )
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        """``F.pad(input, padding, mode)``."""
        if self.mode == "constant":
            return _F().pad(input, self.padding, "constant", self.value)
        return _F().pad(input, self.padding, self.mode)

    def extra_repr(self) -> str:
        if self.mode == "constant" and type(self).__name__.startswith("Constant"):
            return f"padding={self.padding}, value={self.value}"
        return f"{self.padding}"


def _make(kind: str, mode: str, n: int) -> type:
    def __init__(self: Any, padding: Any, value: float = 0.0) -> None:  # noqa: N807
        _PadNd.__init__(self, padding, value if kind == "Constant" else 0.0)

    if kind == "Constant":
        doc = f"Pad the last {n} dims with ``value`` (``padding``: int or {2 * n}-tuple)."
    else:
        doc = f"{kind} padding of the last {n} dims (``padding``: int or {2 * n}-tuple)."
    cls = type(
        f"{kind}Pad{n}d",
        (_PadNd,),
        {"mode": mode, "n": n, "__init__": __init__, "__doc__": doc, "__module__": __name__},
    )
    return cls


for _kind, _mode in (
    ("Constant", "constant"),
    ("Zero", "constant"),
    ("Reflection", "reflect"),
    ("Replication", "replicate"),
    ("Circular", "circular"),
):
    for _n in (1, 2, 3):
        globals()[f"{_kind}Pad{_n}d"] = _make(_kind, _mode, _n)
