"""Content gaps: anonymised unanswered questions, kept only when an operator turns it on, for a limited time.

Off by default (``WEGWEISER_LOG_GAPS``). What is kept: the day, the detected language and the question with
e-mail addresses, web addresses, phone numbers and other long numbers removed, cut to 200 characters. Never
the IP address, the user agent or the time of day. Entries older than ``WEGWEISER_GAPS_RETENTION_DAYS`` are
deleted whenever the file is written or read.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from pathlib import Path
from typing import Any

from pipelines.settings import Settings

_LOCK = threading.Lock()
_PATTERNS = [
    (re.compile(r"\S+@\S+"), "[email]"),
    (re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE), "[url]"),
    (re.compile(r"\+?\d[\d\s/().-]{5,}\d"), "[number]"),
    (re.compile(r"\d{3,}"), "[number]"),
]
MAX_LENGTH = 200


def anonymise(question: str) -> str:
    """The question without e-mail addresses, web addresses and numbers that could identify someone."""
    for pattern, replacement in _PATTERNS:
        question = pattern.sub(replacement, question)
    return question[:MAX_LENGTH]


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries


def _write(path: Path, entries: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries), encoding="utf-8")
    tmp.replace(path)


def _fresh(entries: list[dict[str, Any]], retention_days: int, today: dt.date) -> list[dict[str, Any]]:
    oldest = today - dt.timedelta(days=retention_days)
    return [e for e in entries if dt.date.fromisoformat(str(e.get("day", "1970-01-01"))) > oldest]


def record_gap(settings: Settings, question: str, language: str, today: dt.date | None = None) -> None:
    """Keep one anonymised unanswered question (and drop expired ones)."""
    today = today or dt.date.today()
    with _LOCK:
        entries = _fresh(_read(settings.gaps_path), settings.gaps_retention_days, today)
        entries.append({"day": today.isoformat(), "lang": language, "question": anonymise(question)})
        _write(settings.gaps_path, entries)


def read_gaps(settings: Settings, today: dt.date | None = None) -> list[dict[str, Any]]:
    """The kept unanswered questions (expired ones are deleted first)."""
    today = today or dt.date.today()
    with _LOCK:
        entries = _read(settings.gaps_path)
        fresh = _fresh(entries, settings.gaps_retention_days, today)
        if len(fresh) != len(entries):
            _write(settings.gaps_path, fresh)
    return fresh
