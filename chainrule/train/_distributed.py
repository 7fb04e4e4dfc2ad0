"""``fit(..., distributed=True)``: data-parallel training over MPI with ``chainrule.distributed``.

Launch the same script in N processes (``mpirun -n N python train.py``). Each process:

- starts from rank 0's weights (broadcast once at the start),
- trains on its own 1/N share of every epoch's shuffled data (``DistributedSampler``, reseeded
  per epoch so the shares never overlap),
- averages the gradients across processes after ``backward()`` and before ``optimizer.step()``
  (the first after-backward hook), so every copy of the model takes the same step and stays
  identical,
- averages the epoch's training loss and metrics across processes, so every rank logs, stops
  early and schedules the learning rate on the same numbers.

Only rank 0 shows progress and writes files (ModelCheckpoint, CSVLogger).
"""

from __future__ import annotations

from typing import Any

from .callbacks import Callback, CSVLogger, FitState, ModelCheckpoint
from .progress import ProgressBar

_RANK0_ONLY = (ProgressBar, ModelCheckpoint, CSVLogger)


def _dist() -> Any:
    try:
        import chainrule.distributed as dist

        dist.init_process_group  # noqa: B018 - fail here, not mid-training, if it is missing
    except (ImportError, AttributeError) as e:
        raise ImportError(
            "fit(distributed=True) needs chainrule.distributed and mpi4py: install the 'mpi' "
            "extra (pip install 'chainrule[mpi]') and launch with mpirun -n N"
        ) from e
    return dist


class DistributedSync(Callback):
    """The cross-process steps of data-parallel training, as the first callback."""

    def __init__(self, dist: Any, sampler: Any) -> None:
        self.dist = dist
        self.sampler = sampler

    def on_fit_start(self, state: FitState) -> None:
        import chainrule as cr

        for tensor in state.model.state_dict().values():
            self.dist.broadcast(tensor, src=0)
        # Without fit(seed=...) each rank drew its own shuffle seed; the shares only partition
        # the data if every rank permutes with the same one, so all take rank 0's.
        seed = cr.tensor([state.shuffle_seed], dtype=cr.int64)
        self.dist.broadcast(seed, src=0)
        state.shuffle_seed = self.sampler.seed = int(seed.item())

    def on_epoch_start(self, state: FitState) -> None:
        self.sampler.set_epoch(state.epoch)

    def on_after_backward(self, state: FitState) -> None:
        average = getattr(self.dist, "average_gradients", None)
        if average is not None:  # bucketed: one allreduce per 25 MB, in place, not per tensor
            average(state.model.parameters())
            return
        for p in state.model.parameters():
            if p.grad is not None:
                self.dist.all_reduce(p.grad, op="mean")

    def on_epoch_end(self, state: FitState) -> None:
        import chainrule as cr

        # Validation numbers already agree (identical models, full validation set per rank).
        skip = ("lr", "time")
        keys = [
            k
            for k, v in state.logs.items()
            if isinstance(v, float) and not k.startswith("val_") and k not in skip
        ]
        if not keys:
            return
        values = cr.tensor([state.logs[k] for k in keys], dtype=cr.float64)
        self.dist.all_reduce(values, op="mean")
        for key, value in zip(keys, values.tolist()):
            state.logs[key] = value


class AgreeOnStop(Callback):
    """The last callback: when one rank stops (NaN loss, Ctrl-C, a callback), all stop there.

    A rank that left the loop alone would leave the others waiting in the next collective.
    After every backward, step and epoch the ranks agree on a stop flag (one tiny allreduce).
    """

    def __init__(self, dist: Any) -> None:
        self.dist = dist

    def _agree(self, state: FitState) -> None:
        import chainrule as cr

        mine = self.dist.get_rank() + 1 if state.stop_training else 0
        flag = cr.tensor([mine], dtype=cr.int64)
        self.dist.all_reduce(flag, op="max")
        stopper = int(flag.item()) - 1
        if stopper >= 0 and not state.stop_training:
            state.stop(f"rank {stopper} stopped training")

    on_after_backward = _agree
    on_batch_end = _agree
    on_epoch_end = _agree


def setup(loader: Any, callbacks: list[Any], shuffle: bool, seed: int) -> tuple[Any, list[Any]]:
    """Shard ``loader``'s dataset across processes; return the new loader and callback list."""
    from chainrule.data import DataLoader, DistributedSampler

    dist = _dist()
    if not dist.is_initialized():
        dist.init_process_group()
    dataset = getattr(loader, "dataset", None)
    if dataset is None:
        raise TypeError("fit(distributed=True) needs a Dataset, a DataLoader or (x, y) arrays")
    sampler = DistributedSampler(dataset, num_replicas=dist.get_world_size(),
                                 rank=dist.get_rank(), shuffle=shuffle, seed=seed)  # fmt: skip
    sharded = DataLoader(dataset, batch_size=loader.batch_size, sampler=sampler,
                         collate_fn=loader.collate_fn, drop_last=loader.drop_last)  # fmt: skip
    if dist.get_rank() != 0:
        callbacks = [cb for cb in callbacks if not isinstance(cb, _RANK0_ONLY)]
    return sharded, [DistributedSync(dist, sampler), *callbacks, AgreeOnStop(dist)]
