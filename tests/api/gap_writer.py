"""A worker process for ``test_gaps.py``: appends gaps concurrently with another worker (kept light to import,
because a spawned process imports it afresh)."""

from __future__ import annotations

from multiprocessing.synchronize import Barrier
from pathlib import Path

from api.gaps import purge_gaps, record_gap
from pipelines.settings import Settings


def letters(number: int) -> str:
    """``number`` spelled in letters (digits would be removed from a kept question)."""
    return "".join(chr(ord("a") + int(digit)) for digit in str(number))


def append_gaps(gaps_path: Path, worker: int, count: int, start: Barrier) -> None:
    """Keep ``count`` questions "Frage <worker> <n>"; worker 0 also purges the file halfway through."""
    settings = Settings(gaps_path=gaps_path, log_gaps=True, gaps_max_bytes=1_000_000)
    start.wait(timeout=60)
    for number in range(count):
        record_gap(settings, f"Frage {letters(worker)} {letters(number)}", "de")
        if worker == 0 and number == count // 2:
            purge_gaps(settings)
