"""Content gaps: unanswered questions are kept only when turned on, anonymised, and only for a limited time."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.gaps import anonymise, read_gaps, record_gap
from pipelines.settings import Settings, get_settings
from tests.api.conftest import app_client
from tests.conftest import make_settings
from wegweiser.cli import app as cli

UNANSWERED = "Wie wird das Wetter morgen in Jena?"
# Out of scope, with a phone number, a case number and a web address that must not be kept.
UNANSWERED_PERSONAL = ("Wie wird das Wetter morgen in 07743 Jena? +49 3641 491234, Az. 20241187, "
                       "https://wetter.example.org/jena")
PERSONAL = ("Ich bin anna.muster@example.org, Tel. +49 3641 49-1234, Aktenzeichen 20241187, "
            "siehe https://example.org/akte?id=7 – wie wird das Wetter morgen in Jena?")


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("text, kept, removed", [
    ("Schreiben Sie an anna.muster@example.org bitte", "[email]", "anna.muster"),
    ("Meine Nummer ist +49 3641 49-1234, rufen Sie an", "[number]", "3641"),
    ("Meine Nummer ist 0176/12345678", "[number]", "12345678"),
    ("Aktenzeichen 20241187 ist offen", "[number]", "20241187"),
    ("Siehe https://example.org/akte?id=7 oder www.example.org/x", "[url]", "example.org"),
])
def test_anonymise_removes_what_could_identify_someone(text: str, kept: str, removed: str) -> None:
    result = anonymise(text)
    assert kept in result and removed not in result


def test_anonymise_keeps_the_question_and_cuts_it_short() -> None:
    assert anonymise("Wo kann ich in Jena Deutsch lernen?") == "Wo kann ich in Jena Deutsch lernen?"
    assert len(anonymise("Wo " * 500)) == 200


def test_recorded_gap_holds_the_day_language_and_anonymised_question_only(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, log_gaps=True)
    record_gap(settings, PERSONAL, "de", today=dt.date(2026, 3, 14))
    [entry] = _lines(settings.gaps_path)
    assert entry == {"day": "2026-03-14", "lang": "de", "question": anonymise(PERSONAL)}
    for personal in ("anna.muster", "3641", "20241187", "example.org"):
        assert personal not in settings.gaps_path.read_text(encoding="utf-8")


def test_entries_older_than_the_retention_are_deleted(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, log_gaps=True, gaps_retention_days=30)
    record_gap(settings, "alt", "de", today=dt.date(2026, 1, 1))
    record_gap(settings, "mittel", "uk", today=dt.date(2026, 1, 20))
    # Writing a new entry drops the expired ones from the file.
    record_gap(settings, "neu", "ar", today=dt.date(2026, 1, 31))
    assert [e["question"] for e in _lines(settings.gaps_path)] == ["mittel", "neu"]
    # Reading deletes them too, even when nothing new is written.
    assert [e["question"] for e in read_gaps(settings, today=dt.date(2026, 2, 19))] == ["neu"]
    assert [e["question"] for e in _lines(settings.gaps_path)] == ["neu"]
    assert read_gaps(settings, today=dt.date(2026, 3, 2)) == []
    assert _lines(settings.gaps_path) == []


def test_no_gaps_file_means_no_gaps(tmp_path: Path) -> None:
    assert read_gaps(make_settings(tmp_path)) == []


@pytest.mark.integration
def test_gaps_are_not_kept_by_default(client: TestClient, ingested_settings: Settings) -> None:
    assert not ingested_settings.log_gaps
    answer = client.post("/api/ask", json={"question": UNANSWERED}).json()
    assert answer["answered"] is False
    assert not ingested_settings.gaps_path.exists()


@pytest.mark.integration
def test_with_gap_logging_on_an_unanswered_question_is_kept_anonymised(ingested_settings: Settings,
                                                                       tmp_path: Path) -> None:
    gaps_path = tmp_path / "gaps.jsonl"
    with app_client(ingested_settings, log_gaps=True, gaps_path=gaps_path) as operator_client:
        unanswered = operator_client.post("/api/ask", json={"question": UNANSWERED_PERSONAL}).json()
        answered = operator_client.post("/api/ask", json={"question": "Wo lerne ich Deutsch?"}).json()
    assert unanswered["answered"] is False and answered["answered"] is True
    [entry] = _lines(gaps_path)
    assert set(entry) == {"day", "lang", "question"}
    assert entry["day"] == dt.date.today().isoformat()
    assert entry["lang"] == "de"
    assert entry["question"].startswith("Wie wird das Wetter morgen in")
    assert entry["question"] == anonymise(UNANSWERED_PERSONAL)
    for personal in ("3641", "491234", "20241187", "example.org", "testclient"):
        assert personal not in gaps_path.read_text(encoding="utf-8")


@pytest.fixture
def fresh_settings_cache() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_gaps_command_prints_the_kept_questions(tmp_path: Path, fresh_settings_cache: None) -> None:
    settings = make_settings(tmp_path, log_gaps=True)
    today = dt.date.today()
    record_gap(settings, "Gibt es Hilfe beim Umzug?", "de", today=today)
    record_gap(settings, "Де купити квиток?", "uk", today=today - dt.timedelta(days=1))
    record_gap(settings, "Uralte Frage", "de", today=today - dt.timedelta(days=400))
    env = {"WEGWEISER_GAPS_PATH": str(settings.gaps_path), "WEGWEISER_LOG_GAPS": "true",
           "WEGWEISER_GAPS_RETENTION_DAYS": "30", "WEGWEISER_QDRANT_PATH": str(tmp_path / "qdrant")}
    result = CliRunner().invoke(cli, ["gaps"], env=env)
    assert result.exit_code == 0, result.output
    assert "2 unanswered questions" in result.output
    assert "Umzug" in result.output and "квиток" in result.output
    assert "Uralte" not in result.output


def test_gaps_command_says_when_gap_logging_is_off(tmp_path: Path, fresh_settings_cache: None) -> None:
    env = {"WEGWEISER_GAPS_PATH": str(tmp_path / "gaps.jsonl"), "WEGWEISER_LOG_GAPS": "false",
           "WEGWEISER_QDRANT_PATH": str(tmp_path / "qdrant")}
    result = CliRunner().invoke(cli, ["gaps"], env=env)
    assert result.exit_code == 0, result.output
    assert "off" in result.output and "WEGWEISER_LOG_GAPS" in result.output
    assert not (tmp_path / "gaps.jsonl").exists()
