"""``SyncBatchNorm``: batch normalisation over the whole batch of all ranks.

Plain BatchNorm under DistributedDataParallel normalises each rank's batch with its own
statistics. SyncBatchNorm sums the per-channel counts, sums and squared deviations across ranks
(two small allreduces in the forward pass, one in the backward pass), so N ranks with batch B
normalise exactly as one process would on the N·B batch. In eval mode, or without a process
group of several ranks, it is ``BatchNorm`` (same numbers, same state_dict keys).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import distributed as dist
from .._tensor import Tensor, _make
from ..autograd.function import Function
from ..nn.modules.batchnorm import _BatchNorm
from ..nn.modules.module import Module

__all__ = ["SyncBatchNorm"]


def _allreduce_sum(g: Any, arr: np.ndarray, what: str) -> None:
    from mpi4py import MPI

    dist._wait(g, [g.comm.Iallreduce(MPI.IN_PLACE, arr, op=MPI.SUM)], what)


class _SyncBatchNormFn(Function):
    """Batch normalisation with statistics summed over all ranks."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Any, bias: Any, *, eps: float, running_mean: Any,
                running_var: Any, factor: float, group: Any) -> Tensor:  # fmt: skip
        xd = x._data
        c = xd.shape[1]
        axes = (0, *range(2, xd.ndim))
        shape = (1, c) + (1,) * (xd.ndim - 2)
        sums = np.empty(c + 1, np.float64)
        sums[:c] = xd.sum(axis=axes, dtype=np.float64)
        sums[c] = xd.size // c
        _allreduce_sum(group, sums, "SyncBatchNorm statistics")
        n = sums[c]
        if n <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size "
                f"{list(xd.shape)} ({int(n)} value(s) per channel over all ranks)"
            )
        mean = sums[:c] / n
        centered = xd - mean.reshape(shape).astype(xd.dtype)
        sq = np.square(centered, dtype=np.float64).sum(axis=axes)
        _allreduce_sum(group, sq, "SyncBatchNorm statistics")
        var = sq / n  # biased, used to normalise
        invstd = 1.0 / np.sqrt(var + eps)
        xhat = centered * invstd.reshape(shape).astype(xd.dtype)
        y = xhat
        w = weight._data if weight is not None else None
        if w is not None:
            y = y * w.reshape(shape)
        if bias is not None:
            y = y + bias._data.reshape(shape)
        if running_mean is not None:
            rm, rv = running_mean._data, running_var._data
            rm[...] = (1.0 - factor) * rm + factor * mean
            rv[...] = (1.0 - factor) * rv + factor * var * (n / (n - 1.0))
        ctx.state = (xhat, invstd, w, axes, shape, n, group)
        return _make(np.ascontiguousarray(y, dtype=xd.dtype))

    @staticmethod
    def backward(ctx: Any, gy: Tensor) -> tuple:
        xhat, invstd, w, axes, shape, n, group = ctx.state
        dy = gy._data
        c = xhat.shape[1]
        local = np.empty(2 * c, np.float64)
        local[:c] = dy.sum(axis=axes, dtype=np.float64)
        local[c:] = (dy * xhat).sum(axis=axes, dtype=np.float64)
        dw = local[c:].astype(xhat.dtype) if w is not None else None
        db = local[:c].astype(xhat.dtype)
        total = local.copy()
        _allreduce_sum(group, total, "SyncBatchNorm backward")
        scale = invstd if w is None else invstd * w
        mean_dy = (total[:c] / n).reshape(shape)
        mean_dy_xhat = (total[c:] / n).reshape(shape)
        dx = (dy - mean_dy - xhat * mean_dy_xhat) * scale.reshape(shape)
        return dx.astype(xhat.dtype), dw, db


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation whose batch statistics span every rank (PyTorch's name and signature).

    Input ``(N, C, *)``. In training with a process group of several ranks the mean and variance
    of each channel are those of the union of all ranks' batches, and the backward pass sums the
    matching terms across ranks; otherwise it behaves exactly like ``BatchNorm``. Every rank must
    run the forward and backward passes (they communicate). Convert a model's BatchNorm layers
    with :meth:`convert_sync_batchnorm`.
    """

    _dims = ()  # any (N, C, *) input: see _BatchNorm._check_input_dim

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group: Any = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        dist._check_group(process_group)
        self.process_group = process_group

    def forward(self, input: Tensor) -> Tensor:
        """Normalise with the statistics of all ranks' batches (training) or running ones."""
        g = dist._group
        if not self.training or g is None or g.comm is None:
            return super().forward(input)
        self._check_input_dim(input)
        factor = self._momentum_factor()
        track = self.track_running_stats
        return _SyncBatchNormFn.apply(
            input, self.weight, self.bias, eps=self.eps, factor=factor, group=g,
            running_mean=self.running_mean if track else None,
            running_var=self.running_var if track else None,
        )  # fmt: skip

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """Replace every BatchNorm*d in ``module`` by a SyncBatchNorm sharing its parameters."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)  # fmt: skip
            if module.affine:
                out.weight = module.weight
                if module.bias is None:
                    out.bias = None
                else:
                    out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.train(module.training)
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out
