"""Give memory freed by a re-ingest, a replaced build or a burst of requests back to the operating system.

A forced re-ingest allocates and frees a few hundred MiB (documents, payloads, the old build's collections) in
a long-running server. glibc keeps freed heap pages resident when long-lived allocations sit between them: a
trim after each forced re-ingest gave back 130–150 MiB (measured in-process, issue 12). Python's own small-object
arenas are not glibc's and are not trimmed; ingest keeps its churn of small objects low instead (see
``ingest/indexer.py: _reusable_vectors``), and ``python -m eval.bench_reingest_rss`` measures the result.

A server also keeps a single glibc arena (:func:`limit_malloc_arenas`) and trims whenever its resident memory
has grown by some MB since the last trim (:class:`HeapTrimmer`): loading lingua's models for all eight served
languages left about 50 MB of freed memory resident until a trim (measured in-process), and a load run spread
over glibc's default 17 arenas kept 80–110 MB free but resident (``wegweiser bench``, 8 clients).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import sys
import threading
import time
from functools import cache
from typing import Any

logger = logging.getLogger(__name__)

#: ``mallopt`` parameter (glibc's malloc.h) that bounds the number of malloc arenas.
M_ARENA_MAX = -8


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
    return trim_heap()


def trim_heap() -> bool:
    """Return the free pages of every glibc heap to the operating system, without collecting garbage first.

    :returns: whether the C library could trim (False off glibc).
    """
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def limit_malloc_arenas(count: int) -> bool:
    """Let at most ``count`` glibc malloc arenas serve the threads of this process.

    glibc gives threads up to eight arenas per core, and each keeps its own freed memory: under load a server's
    thread pool spread its allocations over 17 arenas holding 230–250 MB (``wegweiser bench``, 8 clients). Call
    it before the threads start; an operator's ``MALLOC_ARENA_MAX`` (read by glibc at process start) wins.

    :param count: arenas, at least 1 (the main arena counts).
    :returns: whether the limit was set.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, max(1, int(count))))


def resident_bytes() -> int:
    """This process's resident memory in bytes (0 where ``/proc`` is missing)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class HeapTrimmer:
    """Trims the heap (:func:`trim_heap`) once resident memory has grown by ``threshold_bytes`` since the last
    trim: rare growth (a language's models loaded, a burst of requests) is given back, while a steady load
    costs a ``/proc`` read per call, or per ``min_interval_s`` at most.

    Usage:
    ```python
    trimmer = HeapTrimmer(threshold_bytes=16_000_000)
    answer = run(question)
    trimmer.maybe_trim()  # in the thread that ran the request, after it
    ```
    """

    def __init__(self, threshold_bytes: int = 16_000_000, min_interval_s: float = 0.0) -> None:
        """
        :param threshold_bytes: growth of resident memory that triggers a trim.
        :param min_interval_s: calls within this many seconds of the last look at resident memory do nothing
            (a server looks at most a few times a second, not on every request).
        :raises ValueError: for a threshold below 1 or a negative interval.
        """
        if threshold_bytes < 1:
            raise ValueError("the growth threshold must be positive")
        if min_interval_s < 0:
            raise ValueError("the interval must not be negative")
        self.threshold_bytes = threshold_bytes
        self.min_interval_s = min_interval_s
        self.trims = 0
        self._baseline = resident_bytes()
        self._looked = time.monotonic()
        self._lock = threading.Lock()

    def maybe_trim(self) -> bool:
        """Trim if resident memory grew by the threshold since the last trim (one thread trims at a time).

        :returns: whether this call trimmed.
        """
        now = time.monotonic()
        if self.min_interval_s and now - self._looked < self.min_interval_s:
            return False
        self._looked = now
        if resident_bytes() - self._baseline < self.threshold_bytes or not self._lock.acquire(blocking=False):
            return False
        try:
            trimmed = trim_heap()
            self._baseline = resident_bytes()
            if trimmed:
                self.trims += 1
            return trimmed
        finally:
            self._lock.release()
