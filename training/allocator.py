"""Keep freed memory inside the process, so each training step reuses the previous step's pages.

glibc's malloc gives every allocation above its mmap threshold (at most 32 MiB) fresh pages from the kernel and hands
them back on free, so every step of this model page-faults and zeroes its large activations again. With mmap and
trimming turned off (what jemalloc or tcmalloc, often preloaded for PyTorch on CPUs, do by themselves) the same step
ran 10–20 % faster in bf16 and ≈ 25 % faster in fp32 on a 2-core Zen 4 (benchmarks/results.md has the current figure).
The cost: memory freed by the training process is kept for reuse, not returned to the system while it runs.
"""
from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's mallopt parameters (malloc.h)
NEVER_TRIM = 2**31 - 1


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to serve large blocks from its heap and keep them; False where the C library is not
    glibc (macOS, Windows, musl), which changes nothing."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # glibc only
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, NEVER_TRIM) == 1
