"""The question-outcome counter: one kept-open connection, and every count lands in the file that is read."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from api.feedback import OutcomeTally, counting_outcomes, record_outcome
from pipelines.settings import Settings

DAY = dt.date(2026, 12, 7)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(feedback_path=tmp_path / "counters" / "feedback.sqlite3", qdrant_path=tmp_path / "qdrant")


def outcomes(path: Path) -> list[tuple[str, str, str, int]]:
    with sqlite3.connect(path) as db:
        return sorted(db.execute("SELECT * FROM outcomes"))


def test_outcomes_from_many_threads_at_once_are_all_counted(settings: Settings) -> None:
    def ask_50() -> None:
        for i in range(50):
            record_outcome(settings, "de" if i % 2 else "uk", "full", DAY)

    threads = [threading.Thread(target=ask_50) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes(settings.feedback_path) == [("2026-12-07", "de", "full", 200), ("2026-12-07", "uk", "full", 200)]
    assert stat.S_IMODE(settings.feedback_path.stat().st_mode) == 0o600


def test_an_outcome_after_the_file_was_deleted_is_counted_in_a_new_owner_only_file(settings: Settings) -> None:
    record_outcome(settings, "de", "full", DAY)
    settings.feedback_path.unlink()
    record_outcome(settings, "ar", "partial", DAY)
    assert outcomes(settings.feedback_path) == [("2026-12-07", "ar", "partial", 1)]
    assert stat.S_IMODE(settings.feedback_path.stat().st_mode) == 0o600


def test_an_outcome_after_the_file_was_replaced_goes_to_the_new_file(settings: Settings) -> None:
    record_outcome(settings, "de", "full", DAY)
    moved = settings.feedback_path.with_name("old.sqlite3")
    settings.feedback_path.rename(moved)
    record_outcome(settings, "de", "full", DAY)
    assert outcomes(settings.feedback_path) == [("2026-12-07", "de", "full", 1)]
    assert outcomes(moved) == [("2026-12-07", "de", "full", 1)]


def test_an_outcome_after_its_table_was_dropped_is_counted_in_a_new_table(settings: Settings) -> None:
    record_outcome(settings, "de", "full", DAY)
    with sqlite3.connect(settings.feedback_path) as db:
        db.execute("DROP TABLE outcomes")
    record_outcome(settings, "tr", "none", DAY)
    assert outcomes(settings.feedback_path) == [("2026-12-07", "tr", "none", 1)]


def test_outcomes_follow_the_settings_to_another_file(settings: Settings, tmp_path: Path) -> None:
    other = settings.model_copy(update={"feedback_path": tmp_path / "other.sqlite3"})
    record_outcome(settings, "de", "full", DAY)
    record_outcome(other, "fa", "full", DAY)
    record_outcome(settings, "de", "full", DAY)
    assert outcomes(settings.feedback_path) == [("2026-12-07", "de", "full", 2)]
    assert outcomes(other.feedback_path) == [("2026-12-07", "fa", "full", 1)]


def test_outcomes_that_cannot_be_written_are_logged_and_kept_for_the_next_flush(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    tally = OutcomeTally(settings)
    tally.add("de", "full", DAY)
    settings.feedback_path.parent.mkdir()
    settings.feedback_path.mkdir()  # a directory where the file should be: SQLite cannot open it
    assert tally.flush() == 0 and tally.pending == 1
    assert "question outcomes not counted yet (1 kept for the next try)" in caplog.text
    settings.feedback_path.rmdir()
    tally.add("de", "full", DAY)
    tally.add("uk", "none", DAY)
    assert tally.flush() == 3 and tally.pending == 0
    assert outcomes(settings.feedback_path) == [("2026-12-07", "de", "full", 2), ("2026-12-07", "uk", "none", 1)]
    assert tally.flush() == 0  # nothing counted twice


def test_outcomes_counted_from_many_threads_reach_the_file_once_each(settings: Settings) -> None:
    tally = OutcomeTally(settings)
    record_outcome(settings, "de", "full", DAY)  # a row already there: the tally adds to it

    def ask_100() -> None:
        for i in range(100):
            tally.add("de" if i % 2 else "ar", "partial" if i % 3 else "full", DAY)
            if i % 25 == 0:
                tally.flush()

    threads = [threading.Thread(target=ask_100) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.flush()
    counted = {(lang, coverage): count for _, lang, coverage, count in outcomes(settings.feedback_path)}
    assert sum(counted.values()) == 401 and counted[("de", "full")] == 1 + 4 * 17


def test_the_app_writes_counted_outcomes_on_a_timer_and_when_it_stops(settings: Settings) -> None:
    async def run() -> None:
        tally = OutcomeTally(settings)
        async with counting_outcomes(tally, interval_s=0.05):
            tally.add("fa", "full", DAY)
            for _ in range(100):  # the timer writes it (within a second; 0.05 s here)
                await asyncio.sleep(0.05)
                if settings.feedback_path.exists() and outcomes(settings.feedback_path):
                    break
            assert outcomes(settings.feedback_path) == [("2026-12-07", "fa", "full", 1)]
        async with counting_outcomes(tally, interval_s=3600):
            tally.add("fa", "full", DAY)  # the timer never fires: the end of the block writes it
        assert outcomes(settings.feedback_path) == [("2026-12-07", "fa", "full", 2)]

    asyncio.run(run())
