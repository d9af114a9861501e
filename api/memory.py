"""Keep a long-running server's memory flat under many request threads."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger("foldrag.api")

_M_ARENA_MAX = -8  # glibc's mallopt parameter


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas (as MALLOC_ARENA_MAX would) unless the environment already sets it.

    glibc gives each thread that allocates its own arena, up to 8 per core; a server whose
    worker threads embed queries kept growing there (bench/api_load.py: +38 MB in a third 30-s
    phase by default, flat with 2 arenas). Call before the worker threads start. Returns whether
    the cap was applied (False on non-glibc systems or when MALLOC_ARENA_MAX is set).
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False
