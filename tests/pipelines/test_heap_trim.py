"""Memory given back by a server: fewer malloc arenas, and a trim once resident memory has grown."""

from __future__ import annotations

import sys

import pytest

from pipelines import memory
from pipelines.memory import HeapTrimmer, limit_malloc_arenas, resident_bytes, trim_heap

GLIBC = sys.platform.startswith("linux") and memory._libc() is not None


class FakeProcess:
    """Resident memory as a test sets it, and the trims asked for."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, resident: int) -> None:
        self.resident = resident
        self.trims = 0
        monkeypatch.setattr(memory, "resident_bytes", lambda: self.resident)
        monkeypatch.setattr(memory, "trim_heap", self._trim)

    def _trim(self) -> bool:
        self.trims += 1
        self.resident -= 10
        return True


def test_the_trimmer_trims_only_once_memory_grew_by_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    process = FakeProcess(monkeypatch, resident=1_000)
    trimmer = HeapTrimmer(threshold_bytes=100)
    assert trimmer.maybe_trim() is False
    process.resident = 1_099
    assert trimmer.maybe_trim() is False and process.trims == 0
    process.resident = 1_100
    assert trimmer.maybe_trim() is True and process.trims == 1 and trimmer.trims == 1
    # The baseline is what was left after the trim: the next trim needs another 100 bytes of growth.
    process.resident = 1_189
    assert trimmer.maybe_trim() is False
    process.resident = 1_190
    assert trimmer.maybe_trim() is True and trimmer.trims == 2


def test_the_trimmer_looks_at_memory_at_most_once_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    process = FakeProcess(monkeypatch, resident=1_000)
    clock = [100.0]
    monkeypatch.setattr(memory.time, "monotonic", lambda: clock[0])
    looks = []
    monkeypatch.setattr(memory, "resident_bytes", lambda: looks.append(clock[0]) or process.resident)
    trimmer = HeapTrimmer(threshold_bytes=100, min_interval_s=0.2)
    process.resident = 1_500
    clock[0] = 100.1
    assert trimmer.maybe_trim() is False and process.trims == 0  # too soon after the first look (at creation)
    clock[0] = 100.25
    assert trimmer.maybe_trim() is True and process.trims == 1  # the growth is seen at the next look
    calls_before = len(looks)
    clock[0] = 100.3
    assert trimmer.maybe_trim() is False and len(looks) == calls_before  # no /proc read within the interval


def test_the_trimmer_checks_its_threshold() -> None:
    with pytest.raises(ValueError):
        HeapTrimmer(threshold_bytes=0)
    with pytest.raises(ValueError):
        HeapTrimmer(min_interval_s=-1)


def test_an_operators_arena_limit_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas(2) is False


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_on_glibc_the_arenas_are_limited_and_the_heap_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert limit_malloc_arenas(8) is True  # glibc's default on up to eight cores: the test process is unchanged
    assert trim_heap() is True
    assert resident_bytes() > 0
