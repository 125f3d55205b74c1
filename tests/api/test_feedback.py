"""The question-outcome counter: one kept-open connection, and every count lands in the file that is read."""

from __future__ import annotations

import datetime as dt
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from api.feedback import record_outcome, record_outcome_safely
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


def test_an_outcome_that_cannot_be_written_is_logged_and_the_next_one_counts(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    settings.feedback_path.parent.mkdir()
    settings.feedback_path.mkdir()  # a directory where the file should be: SQLite cannot open it
    record_outcome_safely(settings, "de", "full")
    assert "question outcome not counted" in caplog.text
    settings.feedback_path.rmdir()
    record_outcome_safely(settings, "de", "full")
    assert [row[1:] for row in outcomes(settings.feedback_path)] == [("de", "full", 1)]
