"""``BatchNorm1d`` / ``BatchNorm2d`` / ``BatchNorm3d`` with torch's buffers and update rule."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._tensor import Tensor, _make
from .. import functional as F
from ._utils import affine_params, check_size, reset_affine, running_stats_buffers
from .module import Module

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]


class _BatchNorm(Module):
    _version = 2  # version 2 added num_batches_tracked (torch's numbering)
    _dims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_features = check_size(name, "num_features", num_features)
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum}")
        if eps <= 0:
            raise ValueError(f"{name}: eps must be positive, got {eps}")
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        affine_params(self, affine, (num_features,), bias, dtype, device)
        running_stats_buffers(self, track_running_stats, num_features, dtype)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """running_mean ← 0, running_var ← 1, num_batches_tracked ← 0."""
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self) -> None:
        """Reset the running statistics; weight ← 1, bias ← 0."""
        self.reset_running_stats()
        reset_affine(self)

    def _check_input_dim(self, input: Tensor) -> None:
        if not self._dims and input.ndim < 2:  # SyncBatchNorm: any (N, C, *)
            raise ValueError(f"expected at least 2D input (got {input.ndim}D input)")
        if self._dims and input.ndim not in self._dims:
            dims = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(f"expected {dims} input (got {input.ndim}D input)")
        if input.shape[1] != self.num_features:
            # torch raises RuntimeError here ("running_mean should contain C elements not F")
            raise RuntimeError(
                f"{type(self).__name__}(num_features={self.num_features}): input has "
                f"{input.shape[1]} channels in dim 1 (input shape {list(input.shape)})"
            )

    def _momentum_factor(self) -> float:
        """The running-stats update factor; counts the batch when training with running stats."""
        # momentum None: cumulative moving average, factor 1/num_batches_tracked (torch).
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._data += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked._data)
        return factor

    def forward(self, input: Tensor) -> Tensor:
        """Normalise with batch statistics (training) or running statistics (eval)."""
        self._check_input_dim(input)
        factor = self._momentum_factor()
        # Batch statistics in training, or in eval when no running statistics are kept.
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch,
            factor,
            self.eps,
        )

    def _upgrade_state_dict(self, state_dict: dict, prefix: str, version: int | None) -> None:
        # Checkpoints from before num_batches_tracked existed (or plain dicts with no version,
        # e.g. converted with .numpy()) load with the counter at 0, as torch does.
        key = prefix + "num_batches_tracked"
        if (version is None or version < 2) and self.track_running_stats and key not in state_dict:
            state_dict[key] = (
                self.num_batches_tracked
                if self.num_batches_tracked is not None
                else _make(np.zeros((), np.int64))
            )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L) input, per channel C.

    ``y = (x − E[x]) / √(Var[x] + eps) · γ + β``; batch statistics in training (running
    statistics updated with ``momentum``; None = cumulative average), running ones in eval.
    Buffers: running_mean, running_var, num_batches_tracked.

    Example:
        >>> BatchNorm1d(100)(chainrule.randn(20, 100)).shape
        (20, 100)
    """

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, C, H, W) input, per channel C (see BatchNorm1d)."""

    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalisation over (N, C, D, H, W) input, per channel C (see BatchNorm1d)."""

    _dims = (5,)
