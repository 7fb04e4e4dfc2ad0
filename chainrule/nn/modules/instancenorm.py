"""InstanceNorm1d/2d/3d (torch.nn.modules.instancenorm)."""

from __future__ import annotations

from typing import Any

from ... import _api
from ..._tensor import Tensor
from ._utils import affine_params, reset_affine, running_stats_buffers
from .module import Module

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"]


def _F() -> Any:
    from .. import functional

    return functional


class _InstanceNorm(Module):
    _ndim = 3

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        _api._check_cpu(device)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        affine_params(self, affine, (num_features,), bias, dtype, None)
        reset_affine(self)
        running_stats_buffers(self, track_running_stats, num_features, dtype)

    def forward(self, input: Tensor) -> Tensor:
        """Normalised input."""
        if input.ndim not in (self._ndim - 1, self._ndim):
            raise ValueError(
                f"expected {self._ndim - 1}D or {self._ndim}D input (got {input.ndim}D input)"
            )
        unbatched = input.ndim == self._ndim - 1
        x = input.unsqueeze(0) if unbatched else input
        if x.shape[1] != self.num_features and self.affine:
            raise ValueError(
                f"expected input's size at dim=1 to match num_features ({self.num_features}), "
                f"but got: {x.shape[1]}."
            )
        use_stats = self.training or not self.track_running_stats
        if self.track_running_stats:
            out = _F().instance_norm(
                x, self.running_mean, self.running_var, self.weight, self.bias, use_stats,
                self.momentum if self.momentum is not None else 0.1, self.eps,
            )  # fmt: skip
        else:
            out = _F().instance_norm(x, None, None, self.weight, self.bias, True, 0.1, self.eps)
        return out.squeeze(0) if unbatched else out

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) input."""

    _ndim = 3


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) input."""

    _ndim = 4


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of (N, C, D, H, W) input."""

    _ndim = 5
