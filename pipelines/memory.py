"""Give memory freed by a finished re-ingest or a replaced build back to the operating system.

A forced re-ingest allocates and frees a few hundred MiB (documents, payloads, the old build's collections) in
a long-running server. glibc keeps freed heap pages resident when long-lived allocations sit between them: a
trim after each forced re-ingest gave back 130–150 MiB (measured in-process, issue 12). Python's own small-object
arenas are not glibc's and are not trimmed; ingest keeps its churn of small objects low instead (see
``ingest/indexer.py: _reusable_vectors``), and ``python -m eval.bench_reingest_rss`` measures the result.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import sys
from functools import cache
from typing import Any

logger = logging.getLogger(__name__)


@cache
def _libc() -> Any | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None  # musl has no malloc_trim
    except OSError:
        return None


def release_free_memory() -> bool:
    """Collect garbage, then return the free pages of every glibc heap to the operating system.

    Takes some milliseconds per GiB of heap, during which other threads' allocations wait: call it after rare
    events (an ingest, a build swap), never per request.

    :returns: whether the C library could trim (False off glibc, where this only collects garbage).
    """
    gc.collect()
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
