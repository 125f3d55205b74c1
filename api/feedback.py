"""Feedback on answers and the outcomes of questions, kept as aggregated counters only.

Two tables in one small SQLite file (``WEGWEISER_FEEDBACK_PATH``, beside the gaps file), mode 0600:

* ``feedback``: how often, per day, a unit got "helpful" or "not helpful" (with an optional reason from a fixed
  list), by answer language and coverage — one row per unit × language × coverage × helpful × reason × day
  with a count;
* ``outcomes``: how many questions were answered fully, partly or not at all, per day × language × coverage.

Nothing else: no question text, no free text, no IP address, no time of day, no identifier of the asker. Rows
older than ``WEGWEISER_FEEDBACK_RETENTION_DAYS`` (default 180) are deleted by day, at start-up, every hour and
before every report. All functions block (file I/O): call them off the event loop — except
:meth:`OutcomeTally.add`, which counts a question in memory; the outcomes reach the file within a second. Several
workers may share the file: SQLite serialises the writes (with a few seconds' busy timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import sqlite3
import stat
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from starlette.concurrency import run_in_threadpool

from pipelines.settings import Settings

logger = logging.getLogger(__name__)

Coverage = Literal["full", "partial", "none"]
Reason = Literal["wrong", "outdated_contact", "not_understandable", "not_my_question"]
PURGE_INTERVAL_S = 3600.0
#: Seconds between writes of the outcomes counted in memory (see :class:`OutcomeTally`).
OUTCOME_FLUSH_INTERVAL_S = 1.0
_MODE = 0o600
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    day TEXT NOT NULL, unit_id TEXT NOT NULL, lang TEXT NOT NULL, coverage TEXT NOT NULL,
    helpful INTEGER NOT NULL, reason TEXT NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (day, unit_id, lang, coverage, helpful, reason));
CREATE TABLE IF NOT EXISTS outcomes (
    day TEXT NOT NULL, lang TEXT NOT NULL, coverage TEXT NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (day, lang, coverage));
"""


def _open(path: Path, shared: bool = False) -> sqlite3.Connection:
    """A connection to the counters file, created owner-only (SQLite gives its journal the same mode).

    :param shared: usable from any thread (the caller serialises its use).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, _MODE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != _MODE:
            os.fchmod(fd, _MODE)  # a file from another umask or an older version
    finally:
        os.close(fd)
    connection = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=not shared)
    try:
        # Counters, not records: no fsync (0.3 ms a write instead of 10-20 ms on every question). A power cut at
        # the wrong moment may cost the counters file (then it is made anew); an application crash cannot.
        connection.execute("PRAGMA journal_mode=DELETE")
        connection.execute("PRAGMA synchronous=OFF")
        connection.executescript(_SCHEMA)
    except BaseException:
        connection.close()
        raise
    return connection


@contextlib.contextmanager
def _connect(settings: Settings) -> Iterator[sqlite3.Connection]:
    """A connection of its own to the counters file, closed after the block."""
    connection = _open(settings.feedback_path)
    try:
        yield connection
    finally:
        connection.close()


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return status.st_dev, status.st_ino


class _OutcomeWriter:
    """One connection, kept open, for the counter written on every question.

    A connection per question (file mode, pragmas, schema) cost 0.12 ms of CPU a count, 0.17 ms with 8 threads
    counting; kept open, 0.03 and 0.05 ms. The connection is opened again when the file was deleted or replaced
    meanwhile (an operator, a test) and after any SQLite error, so no count goes to a file nobody reads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._path: Path | None = None
        self._identity: tuple[int, int] | None = None
        self._connection: sqlite3.Connection | None = None

    def execute(self, path: Path, sql: str, rows: list[tuple[str | int, ...]]) -> None:
        """Run one write per row on ``path``'s counters file, in one transaction; one retry on a fresh connection
        after an SQLite error."""
        with self._lock:
            try:
                self._write(self._connect(path), sql, rows)
            except sqlite3.Error:
                self._close()
                self._write(self._connect(path), sql, rows)

    @staticmethod
    def _write(connection: sqlite3.Connection, sql: str, rows: list[tuple[str | int, ...]]) -> None:
        with connection:  # commits, or rolls back on an error (the connection is in autocommit mode otherwise)
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(sql, rows)

    def _connect(self, path: Path) -> sqlite3.Connection:
        identity = _file_identity(path)
        if self._connection is None or path != self._path or identity is None or identity != self._identity:
            self._close()
            self._connection = _open(path, shared=True)
            self._path, self._identity = path, _file_identity(path)
        return self._connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = self._path = self._identity = None


_outcomes = _OutcomeWriter()


def _today(today: dt.date | None) -> str:
    return (today or dt.date.today()).isoformat()


def record_feedback(settings: Settings, unit_ids: list[str], lang: str | None, coverage: Coverage, helpful: bool,
                    reason: Reason | None, today: dt.date | None = None) -> None:
    """Count one feedback: +1 for each unit it was about (one row of "no unit" when it names none)."""
    day = _today(today)
    rows = [(day, unit_id, lang or "", coverage, int(helpful), reason or "") for unit_id in unit_ids or [""]]
    with _connect(settings) as db, db:
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO feedback VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT DO UPDATE SET count = count + 1",
                       rows)


def record_outcomes(settings: Settings, counts: Mapping[tuple[str, str, str], int]) -> None:
    """Add answered questions to the counters, in one transaction: ``counts`` maps (day, answer language,
    coverage) to a number of questions (nothing else about them)."""
    _outcomes.execute(settings.feedback_path, "INSERT INTO outcomes VALUES (?, ?, ?, ?) "
                      "ON CONFLICT DO UPDATE SET count = count + excluded.count",
                      [(*key, count) for key, count in counts.items()])


def record_outcome(settings: Settings, lang: str, coverage: str, today: dt.date | None = None) -> None:
    """Count one answered question by its answer language and coverage."""
    record_outcomes(settings, {(_today(today), lang, coverage): 1})


class OutcomeTally:
    """The outcomes of questions, counted in memory on the request path and added to the counters file by
    :meth:`flush`: every :data:`OUTCOME_FLUSH_INTERVAL_S` while the app runs (:func:`counting_outcomes`), when
    it stops, and before the dashboard reads the file.

    Writing each question's count from the request cost a hop to a worker thread and an SQLite transaction of
    about twenty system calls — on every question, for a counter read by a dashboard. Counts that cannot be
    written (a full disk, a locked file) stay in memory and are added by the next flush: none is lost while the
    process lives.

    Usage:
    ```python
    tally = OutcomeTally(settings)
    tally.add("uk", "full")  # no I/O: safe on the event loop
    tally.flush()            # blocks (file I/O): off the event loop
    ```
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._pending: Counter[tuple[str, str, str]] = Counter()

    @property
    def pending(self) -> int:
        """Questions counted but not yet in the file."""
        with self._lock:
            return sum(self._pending.values())

    def add(self, lang: str, coverage: str, today: dt.date | None = None) -> None:
        """Count one answered question by its answer language and coverage (nothing else about it)."""
        key = (_today(today), lang, coverage)
        with self._lock:
            self._pending[key] += 1

    def flush(self) -> int:
        """Add the counted questions to the file, logging instead of failing (they are kept for the next flush).

        :returns: how many questions were added.
        """
        with self._lock:
            counts, self._pending = self._pending, Counter()
        if not counts:
            return 0
        try:
            record_outcomes(self.settings, counts)
        except (OSError, sqlite3.Error) as exc:
            with self._lock:
                self._pending.update(counts)
            logger.warning("question outcomes not counted yet (%d kept for the next try): %s",
                           sum(counts.values()), exc)
            return 0
        return sum(counts.values())


async def flush_outcomes_periodically(tally: OutcomeTally, interval_s: float = OUTCOME_FLUSH_INTERVAL_S) -> None:
    """Flush the tally every ``interval_s`` seconds, until cancelled."""
    while True:
        await asyncio.sleep(interval_s)
        await run_in_threadpool(tally.flush)


@contextlib.asynccontextmanager
async def counting_outcomes(tally: OutcomeTally, interval_s: float = OUTCOME_FLUSH_INTERVAL_S,
                            ) -> AsyncIterator[OutcomeTally]:
    """Flush ``tally`` in the background while the block runs (the app's lifespan), and once more at its end."""
    task = asyncio.create_task(flush_outcomes_periodically(tally, interval_s), name="flush-outcomes")
    try:
        yield tally
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await run_in_threadpool(tally.flush)


def purge_feedback(settings: Settings, today: dt.date | None = None) -> int:
    """Delete the counters of days older than the retention period (nothing is created if there is no file).

    :returns: how many rows were deleted.
    """
    if not settings.feedback_path.exists():
        return 0
    oldest = ((today or dt.date.today()) - dt.timedelta(days=settings.feedback_retention_days)).isoformat()
    with _connect(settings) as db:
        deleted = db.execute("DELETE FROM feedback WHERE day <= ?", (oldest,)).rowcount
        deleted += db.execute("DELETE FROM outcomes WHERE day <= ?", (oldest,)).rowcount
    return deleted


@dataclass
class UnitFeedback:
    """Feedback on one unit, summed over the kept days and languages."""

    unit_id: str
    helpful: int = 0
    not_helpful: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class Report:
    """What the dashboard shows: sums over the kept days."""

    first_day: str | None
    outcomes: dict[str, int]
    languages: dict[str, int]
    units: list[UnitFeedback]
    feedback_languages: dict[str, int]

    @property
    def questions(self) -> int:
        """Questions counted."""
        return sum(self.outcomes.values())


def read_report(settings: Settings, today: dt.date | None = None) -> Report:
    """The counters summed over the kept days (expired days are deleted first)."""
    purge_feedback(settings, today)
    if not settings.feedback_path.exists():
        return Report(None, {"full": 0, "partial": 0, "none": 0}, {}, [], {})
    with _connect(settings) as db:
        outcomes = {"full": 0, "partial": 0, "none": 0}
        for coverage, count in db.execute("SELECT coverage, SUM(count) FROM outcomes GROUP BY coverage"):
            outcomes[coverage] = count
        languages = dict(db.execute("SELECT lang, SUM(count) AS n FROM outcomes GROUP BY lang ORDER BY n DESC, lang"))
        units: dict[str, UnitFeedback] = {}
        for unit_id, helpful, reason, count in db.execute(
                "SELECT unit_id, helpful, reason, SUM(count) FROM feedback GROUP BY unit_id, helpful, reason"):
            entry = units.setdefault(unit_id, UnitFeedback(unit_id))
            if helpful:
                entry.helpful += count
            else:
                entry.not_helpful += count
            if reason:
                entry.reasons[reason] = entry.reasons.get(reason, 0) + count
        feedback_languages = dict(db.execute(
            "SELECT lang, SUM(count) AS n FROM feedback GROUP BY lang ORDER BY n DESC, lang"))
        first = db.execute("SELECT MIN(day) FROM (SELECT day FROM outcomes UNION SELECT day FROM feedback)").fetchone()
    ranked = sorted(units.values(), key=lambda u: (-u.not_helpful, -(u.helpful + u.not_helpful), u.unit_id))
    return Report(first[0], outcomes, languages, ranked, feedback_languages)


async def purge_feedback_periodically(settings: Settings, interval_s: float = PURGE_INTERVAL_S) -> None:
    """Purge now and then every ``interval_s`` seconds, until cancelled."""
    while True:
        try:
            removed = await run_in_threadpool(purge_feedback, settings)
            if removed:
                logger.info("feedback counters: %d expired rows deleted", removed)
        except (OSError, sqlite3.Error) as exc:
            # A full disk or a locked file must not stop the timer: the next round tries again.
            logger.warning("feedback counters %s could not be purged: %s", settings.feedback_path, exc)
        await asyncio.sleep(interval_s)


@contextlib.asynccontextmanager
async def purging_feedback(settings: Settings, interval_s: float = PURGE_INTERVAL_S) -> AsyncIterator[None]:
    """Run :func:`purge_feedback_periodically` in the background while the block runs (the app's lifespan)."""
    task = asyncio.create_task(purge_feedback_periodically(settings, interval_s), name="purge-feedback")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
