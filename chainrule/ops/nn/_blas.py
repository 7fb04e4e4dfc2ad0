"""One BLAS thread for loops of small GEMMs (no longer used by the recurrent kernels).

Measured again (2026-11-25, 2 cores, OpenBLAS 0.3.31 Haswell kernels): on an idle machine the
LSTM's per-step (32 × 256)·(256 × 1024) product takes 87 µs with OpenBLAS's two threads and
155 µs on one, so forcing one thread made the char-LSTM layer ~8 ms slower per step at 2
threads (GRU at H = 256: ~7 ms) and changed nothing at 1 thread; ``chainrule.ops.nn.rnn``
therefore runs its loops with the thread pool as configured. Why it existed:

A (32 × 256) · (256 × 1024) product takes ~0.1 ms; waking and joining OpenBLAS's worker
threads for it costs about as much, and on a busy machine spinning workers make it several
times slower (measured 0.65 ms with one thread vs 3.6 ms with two, 2 cores under load).
``single_blas_thread()`` switches to one BLAS thread with ``openblas_set_num_threads_local``
and restores the previous count afterwards. Despite its name, that call changes the count of
the whole process in NumPy's OpenBLAS 0.3.31 (measured: a count set on one thread is the one
every other thread's calls then use).
The precision is unchanged (same float32/float64 GEMM); the last bit of a product can differ
from a multi-threaded run because the partition of the work differs, which makes the recurrent
loops *more* reproducible: their result no longer depends on the machine's core count. With
any other BLAS (MKL, Accelerate) or an OpenBLAS without that function it does nothing. Large
GEMMs outside the loops keep every thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["single_blas_thread"]

_setter: Any = None  # the ctypes function, False when unavailable, None before the first look


def _find_setter() -> Any:
    import ctypes
    import glob
    import os

    import numpy as np

    root = os.path.dirname(os.path.dirname(np.__file__))
    patterns = [
        os.path.join(root, "numpy.libs", "*openblas*"),
        os.path.join(os.path.dirname(np.__file__), ".dylibs", "*openblas*"),
    ]
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            try:
                lib = ctypes.CDLL(path)
                fn = lib.openblas_set_num_threads_local
            except (OSError, AttributeError):
                continue
            fn.argtypes = [ctypes.c_int]
            fn.restype = ctypes.c_int
            return fn
    return False


@contextlib.contextmanager
def single_blas_thread() -> Iterator[None]:
    """Run the block with one OpenBLAS thread, process-wide (no-op for other BLAS)."""
    global _setter
    if _setter is None:
        _setter = _find_setter()
    if not _setter:
        yield
        return
    prev = _setter(1)
    try:
        yield
    finally:
        _setter(prev if prev > 0 else 0)
