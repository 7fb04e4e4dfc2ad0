"""``Dropout``, ``Dropout1d``, ``Dropout2d``, ``AlphaDropout``: random zeroing in training only."""

from __future__ import annotations

from typing import Any

from ..._tensor import Tensor
from .. import functional as F
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "AlphaDropout"]


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False, *, generator: Any = None) -> None:
        super().__init__()
        if not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace
        self.generator = generator  # chainrule extension: a Generator for the masks

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """In training, zero each element with probability ``p`` and scale the rest by 1/(1 − p);
    the identity in eval mode. Masks come from the chainrule RNG (``manual_seed``), or from
    ``generator=`` if given.

    Example:
        >>> d = Dropout(0.2); d.eval(); d(x) is x
    """

    def forward(self, input: Tensor) -> Tensor:
        """Dropout of ``input`` when training."""
        return F.dropout(input, self.p, self.training, self.inplace, generator=self.generator)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) input with probability ``p`` (training only)."""

    def forward(self, input: Tensor) -> Tensor:
        """Channel dropout of ``input`` when training."""
        return F.dropout1d(input, self.p, self.training, self.inplace, generator=self.generator)


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) input with probability ``p`` (training only)."""

    def forward(self, input: Tensor) -> Tensor:
        """Channel dropout of ``input`` when training."""
        return F.dropout2d(input, self.p, self.training, self.inplace, generator=self.generator)


class AlphaDropout(_DropoutNd):
    """Dropout that keeps SELU's self-normalising mean and variance (training only)."""

    def forward(self, input: Tensor) -> Tensor:
        """Alpha dropout of ``input`` when training."""
        return F.alpha_dropout(input, self.p, self.training, generator=self.generator)
