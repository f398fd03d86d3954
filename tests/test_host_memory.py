"""reused_host_buffers: a large buffer freed and allocated again reuses its
pages instead of faulting in fresh ones (glibc), as a jitted step's
temporaries are on the CPU backend."""

import json
import subprocess
import sys

import pytest

from hydrax.dynamics_model_training.host_memory import _glibc

# Measured in a fresh interpreter: glibc's allocator settings are process
# state, and earlier tests in a worker (any training run) change them.
PROBE = r"""
import ctypes, json, resource
from hydrax.dynamics_model_training.host_memory import (
    _glibc, reused_host_buffers,
)
SIZE = 48 * 2**20  # above glibc's largest mmap threshold (32 MB)
libc = _glibc()
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]

def faults_per_buffer(n=4):
    def once():
        ptr = libc.malloc(SIZE)
        assert ptr
        ctypes.memset(ptr, 1, SIZE)
        libc.free(ptr)
    once()  # the first one may fault in either case
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        once()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / n

outside = faults_per_buffer()
with reused_host_buffers() as active:
    inside = faults_per_buffer()
after = faults_per_buffer()
print(json.dumps({"outside": outside, "inside": inside, "after": after,
                  "active": active}))
"""


@pytest.mark.skipif(_glibc() is None, reason="needs glibc")
def test_freed_buffers_are_reused_within_and_released_after():
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    r = json.loads(out.strip().splitlines()[-1])
    if r["outside"] < 1000:  # e.g. transparent huge pages
        pytest.skip(f"a fresh buffer faults only {r['outside']:.0f} times")
    assert r["active"]
    assert r["inside"] < 0.02 * r["outside"]
    assert r["after"] > 0.5 * r["outside"]  # the defaults are back
