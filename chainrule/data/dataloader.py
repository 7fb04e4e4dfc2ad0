"""``DataLoader`` and ``default_collate`` with torch.utils.data semantics.

Fast path: when the dataset offers ``_batch(indices)`` (``TensorDataset``, a ``Subset`` of one, the
array-backed built-in datasets) and the collate function is the default, each batch is one fancy
index per array instead of ``batch_size`` ``__getitem__`` calls and a stack.
"""

from __future__ import annotations

import collections
import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .._random import Generator
from .._tensor import Tensor, _make
from .dataset import Dataset, IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]

_BAD_ELEM = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _stack(arrays: list[np.ndarray], what: str) -> Tensor:
    first = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.shape != first:
            raise RuntimeError(
                f"stack expects each {what} to be equal size, but got {list(first)} at entry 0 "
                f"and {list(a.shape)} at entry {i}"
            )
    return _make(np.stack(arrays))


def default_collate(batch: Sequence[Any]) -> Any:
    """Merge a list of samples into a batch, as torch's ``default_collate``.

    Tensors and ndarrays are stacked along a new first dimension, Python ints become an int64
    tensor, floats a float64 tensor, bools a bool tensor; strings stay a list; dicts, namedtuples,
    tuples and lists are collated field by field (tuples come back as lists, as in torch).
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([b._data for b in batch], "tensor")
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "USO":
            raise TypeError(_BAD_ELEM.format(elem.dtype))
        return _stack([np.asarray(b) for b in batch], "tensor")
    if isinstance(elem, np.bool_ | np.number):
        return _make(np.asarray(batch))
    if isinstance(elem, bool):
        return _make(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return _make(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, float):
        return _make(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, str | bytes):
        return batch
    if isinstance(elem, Mapping):
        out = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(out)  # type: ignore[call-arg]
        except TypeError:
            return out
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [default_collate(s) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return columns  # torch returns a list here, for backwards compatibility
        try:
            return type(elem)(columns)  # type: ignore[call-arg]
        except TypeError:
            return columns
    raise TypeError(_BAD_ELEM.format(type(elem)))


def default_convert(data: Any) -> Any:
    """Convert one un-batched sample: ndarrays to tensors, recursively through containers."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in "USO" else _make(data)
    if isinstance(data, np.bool_ | np.number):
        return _make(np.asarray(data))
    if isinstance(data, Mapping):
        out = {k: default_convert(v) for k, v in data.items()}
        try:
            return type(data)(out)  # type: ignore[call-arg]
        except TypeError:
            return out
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        try:
            return type(data)([default_convert(d) for d in data])  # type: ignore[call-arg]
        except TypeError:
            return [default_convert(d) for d in data]
    return data


_WorkerInfo = collections.namedtuple("_WorkerInfo", "id num_workers seed dataset")
_worker_local = threading.local()


def get_worker_info() -> Any:
    """Inside a loader worker thread: ``(id, num_workers, seed, dataset)``; else ``None``."""
    return getattr(_worker_local, "info", None)


class DataLoader:
    """Iterate over a dataset in mini-batches.

    Args:
        dataset: a map-style or iterable dataset.
        batch_size: samples per batch; ``None`` disables batching (each sample converted alone).
        shuffle: reshuffle every epoch (a ``RandomSampler`` drawing from ``generator``).
        sampler / batch_sampler: custom index order (exclusive with shuffle / batch options).
        num_workers: 0 loads in the calling thread; ``n > 0`` loads batches in ``n`` threads,
            in order (no processes: NumPy releases the GIL for the heavy work).
        collate_fn: merges samples into a batch (default ``default_collate``).
        drop_last: drop the last incomplete batch.
        generator: the ``chainrule.Generator`` used for shuffling.
        seed: shorthand for ``generator=chainrule.Generator().manual_seed(seed)``.

    ``pin_memory``, ``timeout``, ``prefetch_factor``, ``persistent_workers`` and
    ``pin_memory_device`` are accepted for compatibility; pinning means nothing on a CPU.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Any | None = None,
        batch_sampler: Any | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
        seed: int | None = None,
    ) -> None:
        if seed is not None:
            if generator is not None:
                raise ValueError("DataLoader: pass either generator= or seed=, not both")
            generator = Generator().manual_seed(seed)
        if num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable "
                "multiprocessing."
            )
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing."
                "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor "
                "to None."
            )
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if isinstance(dataset, IterableDataset):
            if shuffle not in {False, None}:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified shuffle option, "
                    f"but got shuffle={shuffle}"
                )
            if sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified sampler option, "
                    f"but got sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified batch_sampler "
                    f"option, but got batch_sampler={batch_sampler}"
                )
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive with "
                "drop_last"
            )
        self._iterable = isinstance(dataset, IterableDataset)
        if sampler is None and not self._iterable:
            sampler = (
                RandomSampler(dataset, generator=generator)  # type: ignore[arg-type]
                if shuffle
                else SequentialSampler(dataset)  # type: ignore[arg-type]
            )
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.collate_fn = collate_fn
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.generator = generator
        self.prefetch_factor = prefetch_factor if prefetch_factor is not None else 2
        self.persistent_workers = persistent_workers

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (self._iterable and self.batch_size is not None)

    @property
    def _collate(self) -> Callable[[Any], Any]:
        if self.collate_fn is not None:
            return self.collate_fn
        return default_collate if self._auto_collation else default_convert

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)  # type: ignore[arg-type]
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
            return n
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ iteration

    def __iter__(self) -> Iterator[Any]:
        if self._iterable:
            return self._iter_stream()
        fetch = self._fetch
        if self._auto_collation:
            fast = (
                self.collate_fn in (None, default_collate)
                and type(self.batch_sampler) is BatchSampler
                and callable(getattr(self.dataset, "_batch", None))
            )
            if fast:
                batch_fn = self.dataset._batch  # type: ignore[attr-defined]
                return self._run(batch_fn, self.batch_sampler._index_batches())
            return self._run(fetch, iter(self.batch_sampler))  # type: ignore[arg-type]
        return self._run(self._fetch_one, iter(self.sampler))  # type: ignore[arg-type]

    def _fetch(self, indices: Any) -> Any:
        dataset = self.dataset
        getitems = getattr(dataset, "__getitems__", None)
        samples = getitems(list(indices)) if callable(getitems) else [dataset[i] for i in indices]
        try:
            return self._collate(samples)
        except RuntimeError as e:
            found = re.findall(r"at entry (\d+)", str(e))
            if "equal size" in str(e) and found:
                bad = list(indices)[int(found[-1])]
                raise RuntimeError(
                    f"{e}: the sample at dataset index {bad} has a different shape from the "
                    f"sample at dataset index {list(indices)[0]}"
                ) from e
            raise

    def _fetch_one(self, index: Any) -> Any:
        return self._collate(self.dataset[index])

    def _run(self, fn: Callable[[Any], Any], keys: Iterator[Any]) -> Iterator[Any]:
        if self.num_workers == 0:
            return (fn(k) for k in keys)
        return self._threaded(fn, keys)

    def _threaded(self, fn: Callable[[Any], Any], keys: Iterator[Any]) -> Iterator[Any]:
        counter = iter(range(self.num_workers))
        lock = threading.Lock()

        def init() -> None:
            with lock:
                wid = next(counter)
            _worker_local.info = _WorkerInfo(wid, self.num_workers, wid, self.dataset)
            if self.worker_init_fn is not None:
                self.worker_init_fn(wid)

        depth = self.num_workers * self.prefetch_factor
        with ThreadPoolExecutor(self.num_workers, initializer=init) as pool:
            pending: collections.deque = collections.deque()
            for k in keys:
                pending.append(pool.submit(fn, k))
                if len(pending) >= depth:
                    yield pending.popleft().result(timeout=self.timeout or None)
            while pending:
                yield pending.popleft().result(timeout=self.timeout or None)

    def _iter_stream(self) -> Iterator[Any]:
        collate = self._collate
        if self.batch_size is None:
            for sample in self.dataset:  # type: ignore[attr-defined]
                yield collate(sample)
            return
        batch: list[Any] = []
        for sample in self.dataset:  # type: ignore[attr-defined]
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield collate(batch)
                batch = []
        if batch and not self.drop_last:
            yield collate(batch)
