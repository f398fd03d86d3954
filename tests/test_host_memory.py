"""reused_host_buffers: a large buffer freed and allocated again reuses its
pages instead of faulting in fresh ones (glibc), as a jitted step's
temporaries are on the CPU backend."""

import ctypes
import resource

import pytest

from hydrax.dynamics_model_training.host_memory import (
    _glibc,
    reused_host_buffers,
)

SIZE = 48 * 2**20  # above glibc's largest mmap threshold (32 MB)


def _faults_per_buffer(libc: ctypes.CDLL, n: int = 4) -> float:
    """Minor page faults per malloc'ed, fully written and freed buffer."""
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]

    def once() -> None:
        ptr = libc.malloc(SIZE)
        assert ptr
        ctypes.memset(ptr, 1, SIZE)
        libc.free(ptr)

    once()  # the first one may fault in either case
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        once()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / n


@pytest.mark.skipif(_glibc() is None, reason="needs glibc")
def test_freed_buffers_are_reused_within_and_released_after():
    libc = _glibc()
    outside = _faults_per_buffer(libc)
    if outside < 1000:  # e.g. transparent huge pages
        pytest.skip(f"a fresh buffer faults only {outside:.0f} times here")
    with reused_host_buffers() as active:
        assert active
        inside = _faults_per_buffer(libc)
    assert inside < 0.02 * outside
    after = _faults_per_buffer(libc)
    assert after > 0.5 * outside  # the defaults are back
