"""``DistributedDataParallel``: the same model on every rank, gradients averaged after backward.

How a step works with N ranks, each holding its own mini-batch of B examples:

1. At wrap time every rank checks that all ranks hold the same architecture (names, shapes and
   dtypes of parameters and buffers; an error names the first mismatch), then rank 0's
   parameters and buffers are broadcast, so every replica starts identical.
2. ``forward`` runs the wrapped module locally (and, like PyTorch, first broadcasts rank 0's
   buffers, e.g. BatchNorm running statistics, when ``broadcast_buffers``). A forward with
   gradients enabled arms the reducer.
3. At the end of the next ``backward()`` (the engine's ``post_backward`` callback, after the last
   leaf gradient is accumulated) the gradients are grouped into contiguous per-dtype buckets
   (``bucket_cap_mb``), each bucket is summed across ranks with a non-blocking in-place
   ``MPI_Iallreduce`` (the next bucket is packed while the previous one travels), and divided
   by N. Gradients that already lie back to back in the optimizer's flat buffer are reduced
   there without a copy. Every rank then holds the mean gradient, which is the gradient of
   the mean loss over the N·B examples, so ``optimizer.step()`` makes the same update
   everywhere.

A per-parameter "has a gradient" count travels with each bucket, so a parameter no rank used keeps
``grad=None`` (as in a single process) and one used by only some ranks gets the mean with zeros
elsewhere (PyTorch's ``find_unused_parameters=True`` behaviour, always on).

``no_sync()`` skips the averaging (gradients accumulate locally); the first backward after it
averages the accumulated total. Batch normalisation statistics stay per rank (each rank
normalises with its own batch) unless the model's BatchNorm layers are converted with
``SyncBatchNorm.convert_sync_batchnorm``.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import distributed as dist
from .._tensor import _make
from ..autograd import engine
from ..autograd.grad_mode import state as _grad_state
from ..nn.modules.module import Module

__all__ = ["DistributedDataParallel", "average_gradients"]

# Live wrappers in creation order; the engine calls _after_backward once per backward().
_live: list[weakref.ref] = []


def _after_backward() -> None:
    for ref in list(_live):
        ddp = ref()
        if ddp is None:
            _live.remove(ref)
        elif ddp._armed:
            ddp._reduce_gradients()


class _Bucket:
    """Gradients of some parameters of one dtype in one contiguous array, plus their counts.

    ``start`` begins the exchange: when the gradients already lie back to back in one buffer
    (the optimizer's flat gradient buffer, the usual case) that buffer is reduced in place with
    no copy; otherwise they are packed into ``flat``. ``counts`` (ranks that computed each
    gradient) travels in a second, tiny allreduce, so every rank sends the same layout whichever
    path it took.
    """

    __slots__ = ("params", "flat", "views", "counts", "direct")

    def __init__(self, params: list[Any], dtype: np.dtype) -> None:
        self.params = params
        sizes = [p._data.size for p in params]
        self.flat = np.empty(sum(sizes), dtype)
        self.views = []
        o = 0
        for p, n in zip(params, sizes):
            self.views.append(self.flat[o : o + n].reshape(p._data.shape))
            o += n
        self.counts = np.zeros(len(params), dtype)
        self.direct: np.ndarray | None = None

    def start(self, comm: Any, mpi: Any) -> list[Any]:
        grads = [p.grad for p in self.params]
        self.direct = None
        if all(gr is not None for gr in grads):
            self.counts.fill(1)
            self.direct = _flat_run([gr._data for gr in grads], self.flat.dtype)
        if self.direct is None:
            for i, (gr, v) in enumerate(zip(grads, self.views)):
                if gr is None:
                    v.fill(0)
                    self.counts[i] = 0
                else:
                    np.copyto(v, gr._data, casting="unsafe")
                    self.counts[i] = 1
        buf = self.flat if self.direct is None else self.direct
        return [comm.Iallreduce(mpi.IN_PLACE, buf, op=mpi.SUM),
                comm.Iallreduce(mpi.IN_PLACE, self.counts, op=mpi.SUM)]  # fmt: skip

    def finish(self, size: int) -> None:
        if self.direct is not None and self.counts.min() == size:
            np.divide(self.direct, size, out=self.direct)
            return
        src = self.views if self.direct is None else _split(self.direct, self.params)
        for i, (p, v) in enumerate(zip(self.params, src)):
            if self.counts[i] == 0:
                continue  # no rank computed a gradient: stays None, as in one process
            gr = p.grad
            if gr is None:
                p.grad = _make(np.divide(v, size))
            elif v is not gr._data:
                np.divide(v, size, out=gr._data, casting="unsafe")
            else:
                np.divide(v, size, out=v)


def _flat_run(arrays: list[np.ndarray], dtype: np.dtype) -> np.ndarray | None:
    """One 1-D view covering ``arrays`` if they lie back to back, in order, in one buffer."""
    first = arrays[0]
    base = first.base
    if base is None or base.ndim != 1 or base.dtype != dtype or not base.flags.c_contiguous:
        return None
    begin = first.__array_interface__["data"][0]
    expect = begin
    for a in arrays:
        if (a.base is not base or not a.flags.c_contiguous or not a.flags.writeable
                or a.__array_interface__["data"][0] != expect):  # fmt: skip
            return None
        expect += a.nbytes
    offset = (begin - base.__array_interface__["data"][0]) // base.itemsize
    return base[offset : offset + (expect - begin) // base.itemsize]


def _split(flat: np.ndarray, params: list[Any]) -> list[np.ndarray]:
    out, o = [], 0
    for p in params:
        n = p._data.size
        out.append(p.grad._data if p.grad is not None else flat[o : o + n].reshape(p._data.shape))
        o += n
    return out


class DistributedDataParallel(Module):
    """Data-parallel wrapper of ``module`` (PyTorch's ``torch.nn.parallel`` name and signature).

    Call :func:`chainrule.distributed.init_process_group` first. ``ddp.module`` is the wrapped
    model; ``state_dict`` keys carry the ``module.`` prefix as in PyTorch.

    Args:
        module: the model (the same architecture on every rank).
        device_ids, output_device: must be None (CPU only).
        broadcast_buffers: broadcast rank 0's buffers at the start of every forward.
        init_sync: broadcast rank 0's parameters and buffers now.
        bucket_cap_mb: size of a gradient bucket (default 25 MB).
        find_unused_parameters, check_reduction, gradient_as_bucket_view, static_graph: accepted
            for compatibility (unused parameters are always handled).

    Raises:
        ValueError: the process group is not initialized (also a RuntimeError), or device_ids
            were given.
        RuntimeError: the ranks' models differ (the first mismatched parameter is named).
    """

    def __init__(
        self,
        module: Module,
        device_ids: Any = None,
        output_device: Any = None,
        dim: int = 0,
        broadcast_buffers: bool = True,
        init_sync: bool = True,
        process_group: Any = None,
        bucket_cap_mb: float | None = None,
        find_unused_parameters: bool = False,
        check_reduction: bool = False,
        gradient_as_bucket_view: bool = False,
        static_graph: bool = False,
        **kwargs: Any,
    ) -> None:
        g = dist._require("DistributedDataParallel")
        dist._check_group(process_group)
        if not isinstance(module, Module):
            raise TypeError(
                f"DistributedDataParallel: module must be a chainrule.nn.Module, got "
                f"{type(module).__name__}"
            )
        if device_ids not in (None, [], [None]) or output_device is not None:
            raise ValueError(
                "DistributedDataParallel device_ids and output_device arguments only work with "
                "single-device/multiple-device GPU modules; chainrule runs on the CPU, pass None"
            )
        if bucket_cap_mb is not None and not bucket_cap_mb > 0:
            raise ValueError(f"bucket_cap_mb must be positive, got {bucket_cap_mb}")
        if not any(p.requires_grad for p in module.parameters()):
            raise RuntimeError(
                "DistributedDataParallel is not needed when a module doesn't have any parameter "
                "that requires a gradient."
            )
        super().__init__()
        self.module = module
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.bucket_cap_mb = 25.0 if bucket_cap_mb is None else float(bucket_cap_mb)
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self._armed = False
        self._reducer = _GradReducer(self.bucket_cap_mb)
        self._group = g
        _verify_same_model(g, module)
        if init_sync:
            self._sync_module_states()
        if _after_backward not in engine.post_backward:
            engine.post_backward.append(_after_backward)
        _live.append(weakref.ref(self))

    # ------------------------------------------------------------------ forward

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        """Run the wrapped module; with gradients enabled, the next backward averages them."""
        g = self._group
        if g.comm is not None and self.broadcast_buffers:
            buffers = [b for _, b in self.module.named_buffers()]
            if buffers:
                _broadcast_arrays(g, [b._data for b in buffers], "DDP buffer broadcast")
        if _grad_state.enabled and self.require_backward_grad_sync:
            self._armed = True
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Within this context, backward accumulates gradients locally without averaging.

        The first backward after the context (from a forward outside it) averages the
        accumulated gradients, so K micro-batches per rank give one step on K·N micro-batches.
        """
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    # ------------------------------------------------------------------ internals

    def _sync_module_states(self) -> None:
        """Broadcast rank 0's parameters and buffers to every rank (in place)."""
        g = self._group
        if g.comm is None:
            return
        arrays = [p._data for p in self.module.parameters()]
        arrays += [b._data for _, b in self.module.named_buffers()]
        _broadcast_arrays(g, arrays, "DDP parameter broadcast")

    def _grad_params(self) -> list[Any]:
        seen: set[int] = set()
        out = []
        for p in self.module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                out.append(p)
        return out

    def _reduce_gradients(self) -> None:
        """Average every gradient across ranks (bucketed in-place Iallreduce)."""
        self._armed = False
        g = self._group
        if g.comm is None or dist._group is not g:
            return
        self._reducer.reduce(g, self._grad_params(), "DistributedDataParallel gradient all_reduce")


class _GradReducer:
    """Averages the gradients of a list of parameters across ranks, reusing its buckets."""

    def __init__(self, bucket_cap_mb: float = 25.0) -> None:
        self.cap = bucket_cap_mb * 2**20
        self.key: tuple = ()
        self.buckets: list[_Bucket] = []

    def _ensure_buckets(self, params: list[Any]) -> list[_Bucket]:
        key = tuple((id(p), p._data.shape, p._data.dtype) for p in params)
        if key == self.key:
            return self.buckets
        by_dtype: dict[Any, list[list[Any]]] = {}
        for p in params:
            lists = by_dtype.setdefault(p._data.dtype, [[]])
            if lists[-1] and sum(q._data.nbytes for q in lists[-1]) + p._data.nbytes > self.cap:
                lists.append([])
            lists[-1].append(p)
        self.buckets = [_Bucket(ps, dt) for dt, lists in by_dtype.items() for ps in lists if ps]
        self.key = key
        return self.buckets

    def reduce(self, g: Any, params: list[Any], what: str) -> None:
        from mpi4py import MPI

        reqs = []
        buckets = self._ensure_buckets(params)
        for b in buckets:  # each bucket travels while the next one is packed
            reqs += b.start(g.comm, MPI)
        dist._wait(g, reqs, what)
        for b in buckets:
            b.finish(g.size)


_shared_reducer = _GradReducer()


def average_gradients(params: Any) -> None:
    """Replace each parameter's ``.grad`` by its mean over all ranks, in place (bucketed).

    What DistributedDataParallel does after backward, for code that drives the exchange itself
    (``fit(distributed=True)``). Every rank must pass the same parameters in the same order;
    a parameter whose gradient is None on every rank stays None.
    """
    g = dist._require("average_gradients")
    if g.comm is None:
        return
    unique: dict[int, Any] = {}
    for p in params:
        if p.requires_grad:
            unique.setdefault(id(p), p)
    _shared_reducer.reduce(g, list(unique.values()), "average_gradients")


def _broadcast_arrays(g: Any, arrays: list[np.ndarray], what: str) -> None:
    """Broadcast rank 0's arrays in place, one flat message per dtype."""
    by_dtype: dict[Any, list[np.ndarray]] = {}
    for a in arrays:
        by_dtype.setdefault(a.dtype, []).append(a)
    reqs, packed = [], []
    for dtype, group in by_dtype.items():
        flat = np.empty(sum(a.size for a in group), dtype)
        if g.rank == 0:
            o = 0
            for a in group:
                flat[o : o + a.size] = a.reshape(-1)
                o += a.size
        reqs.append(g.comm.Ibcast(flat, root=0))
        packed.append((flat, group))
    dist._wait(g, reqs, what)
    if g.rank == 0:
        return
    for flat, group in packed:
        o = 0
        for a in group:
            a[...] = flat[o : o + a.size].reshape(a.shape)
            o += a.size


def _model_signature(module: Module) -> list[tuple[str, str, tuple, str]]:
    sig = [("parameter", n, tuple(p.shape), str(p._data.dtype)) for n, p in
           module.named_parameters()]  # fmt: skip
    sig += [("buffer", n, tuple(b.shape), str(b._data.dtype)) for n, b in module.named_buffers()]
    return sig


def _verify_same_model(g: Any, module: Module) -> None:
    """Raise on every rank, naming the first difference, if the ranks' models differ."""
    if g.comm is None:
        return
    sigs: list[Any] = [None] * g.size
    dist.all_gather_object(sigs, _model_signature(module))
    ref = sigs[0]
    for r, sig in enumerate(sigs[1:], start=1):
        if sig == ref:
            continue
        for i in range(max(len(ref), len(sig))):
            a = ref[i] if i < len(ref) else None
            b = sig[i] if i < len(sig) else None
            if a == b:
                continue
            if a is None or b is None:
                kind, name, shape, _ = a or b
                have = 0 if a is not None else r
                missing = r if a is not None else 0
                raise RuntimeError(
                    f"DistributedDataParallel: the model differs across ranks: {kind} {name!r} "
                    f"(shape {list(shape)}) exists on rank {have} but not on rank {missing} "
                    f"(rank 0 has {len(ref)} parameters/buffers, rank {r} has {len(sig)})"
                )
            if a[1] == b[1] and a[0] == b[0]:
                detail = (
                    f"shape {list(a[2])} ({a[3]}) on rank 0 but shape {list(b[2])} ({b[3]}) on "
                    f"rank {r}"
                )
                raise RuntimeError(
                    f"DistributedDataParallel: the model differs across ranks: {a[0]} "
                    f"{a[1]!r} has {detail}"
                )
            raise RuntimeError(
                f"DistributedDataParallel: the model differs across ranks: {a[0]} #{i} is "
                f"{a[1]!r} (shape {list(a[2])}) on rank 0 but {b[0]} {b[1]!r} (shape "
                f"{list(b[2])}) on rank {r}"
            )
