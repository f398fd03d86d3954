"""Keep a CPU training step's buffers mapped from one step to the next.

On the CPU backend every call of a jitted step allocates its temporary
buffers (tens of MB for an ensemble's step) with ``malloc`` and frees them
when it ends. glibc serves a request above its mmap threshold (at most
32 MB) with a fresh ``mmap`` and unmaps it on free, so each step touches
brand-new pages: one page fault per 4 KiB, about 9,700 a step for a
5-member ensemble of the demo's size (40 MB of temporaries), a fifth of its
step time on a 2-core machine. :func:`reused_host_buffers` makes glibc
serve them from its heap and keep freed memory, so the next step reuses the
same pages (measured: about 30 faults a step); on exit the defaults come
back and the heap is trimmed. Memory that a thread's own arena maps as a
whole heap (64 MB) is still unmapped when freed.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
from collections.abc import Iterator

import jax

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_DEFAULT_TRIM_THRESHOLD = 128 * 1024
_DEFAULT_MMAP_MAX = 65536
_KEEP = 1 << 30  # freed heap memory kept for reuse (bytes)


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (mallopt and malloc_trim), else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 (only glibc has it)
        return libc
    except (OSError, AttributeError):
        return None


@contextlib.contextmanager
def reused_host_buffers() -> Iterator[bool]:
    """Within: large allocations come from the heap and stay for reuse.

    Does nothing (yields False) off glibc or on an accelerator backend,
    whose step buffers are not host memory.
    """
    libc = _glibc() if jax.default_backend() == "cpu" else None
    if libc is None:
        yield False
        return
    libc.mallopt(_M_MMAP_MAX, 0)
    libc.mallopt(_M_TRIM_THRESHOLD, _KEEP)
    try:
        yield True
    finally:
        libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
        libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
        libc.malloc_trim(0)
