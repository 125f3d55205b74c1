"""Content gaps: pseudonymised unanswered questions, kept only when an operator turns it on, for a limited time.

Off by default (``WEGWEISER_LOG_GAPS``). What is kept, one JSON line per question: the day, the detected
language and the question after :func:`api.personal_data.remove_personal_data` (e-mail and web addresses,
numbers, dates, file numbers, street addresses and names introduced by a phrase or a title are replaced), cut
to 200 characters. Never the IP address, the user agent or the time of day. The text is *pseudonymised*, not
anonymous: a name nobody introduces ("Termin bei Anna") can remain (see that module for what else can).

The file (``WEGWEISER_GAPS_PATH``) is readable by its owner only (0600) and is appended to, never rewritten,
when a question is kept, so a write costs the same at 10 entries as at 100,000. It never grows beyond
``WEGWEISER_GAPS_MAX_BYTES``: once that is reached, new questions are dropped (with a warning in the log)
until old ones expire. Entries older than ``WEGWEISER_GAPS_RETENTION_DAYS`` are deleted by
:func:`purge_gaps`, which the app runs at start-up and every hour whether or not anything is written (also
when logging was turned off again), and which ``wegweiser gaps`` runs before it reports. Several workers
(``uvicorn --workers 2``) share the file safely: every change happens under an exclusive ``flock`` on
``<gaps file>.lock`` beside it, and a purge writes a temporary file of its own and swaps it in atomically.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import re
import stat
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool

from api.personal_data import remove_personal_data
from pipelines.settings import Settings

logger = logging.getLogger(__name__)

MAX_LENGTH = 200
#: Seconds between two purges of expired entries.
PURGE_INTERVAL_S = 3600.0
_MODE = 0o600
_DAY = re.compile(rb'\{"day": "(\d{4}-\d{2}-\d{2})"')
# flock excludes other processes; this lock keeps the threads of one process from queueing on the flock.
_THREAD_LOCK = threading.Lock()
# Warn once per process that the file is full, not once per question.
_full_warned = threading.Event()


def anonymise(question: str) -> str:
    """The question as it is kept: personal data removed (pseudonymised), cut to 200 characters."""
    return remove_personal_data(question)[:MAX_LENGTH]


def lock_path(path: Path) -> Path:
    """The lock file beside the gaps file."""
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold the gaps file exclusively, against this process's threads and other worker processes."""
    with _THREAD_LOCK:
        fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, _MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock


def _restrict(fd: int) -> None:
    # A file from an older version (or another umask) may be world-readable: make it the owner's only.
    if stat.S_IMODE(os.fstat(fd).st_mode) != _MODE:
        os.fchmod(fd, _MODE)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def record_gap(settings: Settings, question: str, language: str, today: dt.date | None = None) -> bool:
    """Append one pseudonymised unanswered question to the gaps file (blocking: call it off the event loop).

    :returns: False when the file is full (``gaps_max_bytes``) and the question was dropped.
    """
    entry = {"day": (today or dt.date.today()).isoformat(), "lang": language, "question": anonymise(question)}
    line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
    path = settings.gaps_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, _MODE)
        try:
            _restrict(fd)
            if os.fstat(fd).st_size + len(line) > settings.gaps_max_bytes:
                if not _full_warned.is_set():
                    _full_warned.set()
                    logger.warning("gaps file %s is full (%d bytes): unanswered questions are dropped until "
                                   "old ones expire", path, settings.gaps_max_bytes)
                return False
            _write_all(fd, line)
        finally:
            os.close(fd)
    _full_warned.clear()
    return True


def _expired(line: bytes, oldest: dt.date) -> bool:
    """True for an entry on or before ``oldest``, and for a line that is not an entry at all."""
    # Every line record_gap writes starts with its day: reading that is ten times faster than parsing the line,
    # and a purge holds the lock that writers wait for.
    match = _DAY.match(line)
    try:
        day = match.group(1).decode("ascii") if match else str(json.loads(line)["day"])
        return dt.date.fromisoformat(day) <= oldest
    except (ValueError, KeyError, TypeError):
        return True


def _replace(path: Path, lines: list[bytes], old: os.stat_result) -> None:
    """Swap in a new gaps file (0600, same owner) through a temporary file of this process's own."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.writelines(lines)
            out.flush()
            os.fsync(out.fileno())
            if os.geteuid() == 0:
                # `wegweiser gaps` run as root must leave the file writable for the server's user.
                os.fchown(out.fileno(), old.st_uid, old.st_gid)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def purge_gaps(settings: Settings, today: dt.date | None = None) -> int:
    """Delete expired entries (and, if the file is over ``gaps_max_bytes``, the oldest ones); make it 0600.

    Does nothing (and creates nothing) when there is no gaps file.

    :returns: how many entries were deleted.
    """
    path = settings.gaps_path
    if not path.exists():
        return 0
    oldest = (today or dt.date.today()) - dt.timedelta(days=settings.gaps_retention_days)
    with _locked(path):
        try:
            with path.open("rb") as file:
                old = os.fstat(file.fileno())
                lines = file.read().splitlines(keepends=True)
        except FileNotFoundError:
            return 0
        kept = [line for line in lines if not _expired(line, oldest)]
        # Over the cap only when the operator lowered it: the newest entries that fit are kept.
        size = sum(map(len, kept))
        while kept and size > settings.gaps_max_bytes:
            size -= len(kept.pop(0))
        if len(kept) < len(lines):
            _replace(path, kept, old)
        elif stat.S_IMODE(old.st_mode) != _MODE:
            os.chmod(path, _MODE)
    return len(lines) - len(kept)


def read_gaps(settings: Settings, today: dt.date | None = None) -> list[dict[str, Any]]:
    """The kept unanswered questions, oldest first (expired ones are deleted first)."""
    purge_gaps(settings, today)
    try:
        text = settings.gaps_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    entries = []
    for line in text.splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries


async def purge_gaps_periodically(settings: Settings, interval_s: float = PURGE_INTERVAL_S) -> None:
    """Purge the gaps file now and then every ``interval_s`` seconds, until cancelled."""
    while True:
        try:
            removed = await run_in_threadpool(purge_gaps, settings)
            if removed:
                logger.info("gaps file: %d expired entries deleted", removed)
        except OSError as exc:
            # A full disk or a permission problem must not stop the timer: the next round tries again.
            logger.warning("gaps file %s could not be purged: %s", settings.gaps_path, exc)
        await asyncio.sleep(interval_s)


@contextlib.asynccontextmanager
async def purging_gaps(settings: Settings, interval_s: float = PURGE_INTERVAL_S) -> AsyncIterator[asyncio.Task[None]]:
    """Run :func:`purge_gaps_periodically` in the background while the block runs (the app's lifespan)."""
    task = asyncio.create_task(purge_gaps_periodically(settings, interval_s), name="purge-gaps")
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
