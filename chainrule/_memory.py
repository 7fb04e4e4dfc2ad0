"""Keep freed array memory in the process so the next training step reuses it.

A training step allocates the same large temporaries every time (activations, im2col columns,
gate buffers, gradients: 10–60 MB for a small CNN or LSTM). glibc returns large freed blocks
to the kernel (``munmap``, heap trimming), so the next step gets fresh pages and pays a page
fault per 4 KiB: measured 5,400 faults and 8 ms of a 35 ms CNN step, 6,100 faults and 11 ms of a
57 ms char-LSTM step (1 thread, this project's benchmark models). Raising glibc's mmap and trim
thresholds keeps those blocks in the heap: the faults drop to zero and the values are the same
bit for bit (only where memory comes from changes). The cost is that the process keeps its peak
heap instead of shrinking after a large array is freed, which is what a training process wants
and what PyTorch's caching allocators do on GPUs.

It is applied once, by the first ``backward()`` of the process (importing chainrule changes
nothing), only on glibc, and ``set_memory_reuse(False)`` before that turns it off (or restores
glibc's defaults after it).
"""

from __future__ import annotations

__all__ = ["set_memory_reuse", "memory_reuse_enabled"]

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
_REUSE_BYTES = 1 << 30  # blocks up to 1 GiB stay in the heap; bigger ones still use mmap
_GLIBC_DEFAULT_MMAP = 128 * 1024
_GLIBC_DEFAULT_TRIM = 128 * 1024

_wanted = True
applied = False  # read by the engine on every backward: a plain module flag is the cheapest


def _mallopt() -> object | None:
    """glibc's ``mallopt`` through ctypes, or None on other C libraries."""
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        fn = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


def _set(mmap_bytes: int, trim_bytes: int) -> bool:
    fn = _mallopt()
    if fn is None:
        return False
    return bool(fn(_M_MMAP_THRESHOLD, mmap_bytes)) and bool(fn(_M_TRIM_THRESHOLD, trim_bytes))


def apply() -> None:
    """Called by the first backward of the process: raise the thresholds unless turned off."""
    global applied
    applied = True
    if _wanted:
        _set(_REUSE_BYTES, _REUSE_BYTES)


def set_memory_reuse(enabled: bool) -> bool:
    """Turn the reuse of freed memory between training steps on (default) or off.

    Off restores glibc's default thresholds (freed large blocks go back to the kernel, so the
    process shrinks after a large array is freed, at the price of page faults in every step).
    Returns whether the setting took effect (False on non-glibc systems, where it does nothing).
    """
    global _wanted
    if not isinstance(enabled, bool):
        raise TypeError(f"set_memory_reuse() expects a bool, got {type(enabled).__name__}")
    _wanted = enabled
    if not applied:  # the first backward applies (or skips) it
        return _mallopt() is not None
    if enabled:
        return _set(_REUSE_BYTES, _REUSE_BYTES)
    return _set(_GLIBC_DEFAULT_MMAP, _GLIBC_DEFAULT_TRIM)


def memory_reuse_enabled() -> bool:
    """Whether freed memory is kept for reuse (the default on glibc)."""
    return _wanted and _mallopt() is not None
