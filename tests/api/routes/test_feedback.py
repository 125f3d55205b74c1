"""POST /api/feedback and the staff dashboard: aggregated counters only, over the real index."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import stat
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.feedback import purge_feedback, read_report, record_outcome
from api.main import create_app
from api.routes.admin import ensure_token
from pipelines.settings import Settings
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.integration

LOCAL = ("127.0.0.1", 50123)
GOOD = {"unit_ids": ["ik/2.4/z2/m2", "svc/sprintpool"], "lang": "uk", "coverage": "full", "helpful": True,
        "reason": None}


@pytest.fixture(scope="module")
def settings(ingested_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("feedback")
    return ingested_settings.model_copy(update={"feedback_path": root / "feedback.sqlite3", "log_gaps": True,
                                                "gaps_path": root / "gaps.jsonl"})


@pytest.fixture(scope="module")
def local(settings: Settings) -> Iterator[TestClient]:
    """A client on this machine (loopback), as the dashboard requires."""
    with TestClient(create_app(settings), client=LOCAL) as client:
        yield client


@pytest.fixture(autouse=True)
def fresh_counters(settings: Settings, local: TestClient) -> None:
    local.app.state.outcomes.flush()  # an earlier test's questions go to the file deleted now, not to this one's
    for suffix in ("", "-wal", "-shm"):
        Path(f"{settings.feedback_path}{suffix}").unlink(missing_ok=True)
    settings.gaps_path.unlink(missing_ok=True)


def disk_bytes(settings: Settings) -> bytes:
    return b"".join(p.read_bytes() for p in settings.feedback_path.parent.glob(settings.feedback_path.name + "*"))


def rows(settings: Settings, table: str) -> list[tuple]:
    with sqlite3.connect(settings.feedback_path) as db:
        return sorted(db.execute(f"SELECT * FROM {table}"))  # noqa: S608 - a fixed table name


def test_feedback_is_counted_and_nothing_else_is_kept(local: TestClient, settings: Settings) -> None:
    response = local.post("/api/feedback", json=GOOD)
    assert response.status_code == 204 and response.content == b""
    assert local.post("/api/feedback", json=GOOD).status_code == 204
    today = dt.date.today().isoformat()
    assert rows(settings, "feedback") == [(today, "ik/2.4/z2/m2", "uk", "full", 1, "", 2),
                                          (today, "svc/sprintpool", "uk", "full", 1, "", 2)]
    assert stat.S_IMODE(settings.feedback_path.stat().st_mode) == 0o600
    assert b"127.0.0.1" not in disk_bytes(settings)


BAD = {
    "question text": ({**GOOD, "question": "Mein Name ist Olena Marker-4711"}, ["question"]),
    "any extra field": ({**GOOD, "comment": "Marker-4711"}, ["comment"]),
    "unknown unit": ({**GOOD, "unit_ids": ["ik/9.9/z1/m1"]}, ["unit_ids", "ik/9.9/z1/m1"]),
    "not a unit id": ({**GOOD, "unit_ids": ["Marker-4711 <script>"]}, ["unit_ids"]),
    "eleven units": ({**GOOD, "unit_ids": ["ik/2.4"] * 11}, ["unit_ids"]),
    "bad reason": ({**GOOD, "helpful": False, "reason": "Marker-4711"}, ["reason"]),
    "bad coverage": ({**GOOD, "coverage": "some"}, ["coverage"]),
    "helpful as text": ({**GOOD, "helpful": "yes"}, ["helpful"]),
    "language not served": ({**GOOD, "lang": "xx"}, ["lang"]),
    "missing field": ({k: v for k, v in GOOD.items() if k != "coverage"}, ["coverage"]),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_feedback_gets_a_readable_422_and_leaves_no_trace(local: TestClient, settings: Settings,
                                                              name: str) -> None:
    body, fragments = BAD[name]
    assert_problem(local.post("/api/feedback", json=body), 422, *fragments)
    assert not settings.feedback_path.exists() or b"Marker-4711" not in disk_bytes(settings)
    assert not settings.feedback_path.exists() or rows(settings, "feedback") == []


def test_feedback_without_units_and_language_is_counted(local: TestClient, settings: Settings) -> None:
    body = {"unit_ids": [], "lang": None, "coverage": "none", "helpful": False, "reason": "not_my_question"}
    assert local.post("/api/feedback", json=body).status_code == 204
    assert [r[1:] for r in rows(settings, "feedback")] == [("", "", "none", 0, "not_my_question", 1)]


def test_dashboard_matches_a_scripted_session(local: TestClient, settings: Settings) -> None:
    questions = [("Wo finde ich einen Dolmetscher für den Arzt?", "de"), ("Wo lerne ich Deutsch?", None),
                 ("Де знайти перекладача до лікаря?", None), ("Was kostet der Integrationskurs?", None),
                 ("Wie wird das Wetter morgen in Jena?", None), ("asdfghjk qwertz", None)]
    answers = [local.post("/api/ask", json={"question": q, "lang": lang}).json() for q, lang in questions]
    coverage = Counter(a["coverage"] for a in answers)
    languages = Counter(a["lang"] for a in answers)
    assert coverage["none"] >= 1 and coverage["full"] >= 1
    verdicts = [(answers[0], True, None), (answers[0], False, "outdated_contact"), (answers[2], False, "wrong"),
                (answers[2], False, "wrong")]
    for answer, helpful, reason in verdicts:
        body = {"unit_ids": [c["id"] for c in answer["citations"]][:10], "lang": answer["lang"],
                "coverage": answer["coverage"], "helpful": helpful, "reason": reason}
        assert local.post("/api/feedback", json=body).status_code == 204

    page = local.get("/staff/dashboard")
    assert page.status_code == 200
    html = page.text
    assert f"Fragen: {len(questions)}</h2>" in html
    for key in ("full", "partial", "none"):
        row = re.search(rf'<tr data-outcome="{key}">.*?<td>(\d+)</td><td>(\d+) %</td>', html, re.S)
        assert row and int(row[1]) == coverage[key], key
        assert int(row[2]) == round(100 * coverage[key] / len(questions))
    for lang, count in languages.items():
        row = re.search(rf'<tr data-lang="{lang}">.*?<td>{lang}</td><td>(\d+)</td>', html, re.S)
        assert row and int(row[1]) == count, lang
    first_unit = answers[0]["citations"][0]
    row = re.search(rf'<tr data-unit="{re.escape(first_unit["id"])}">(.*?)</tr>', html, re.S)
    assert row and first_unit["title"] in row[1]
    helpful, not_helpful = map(int, re.findall(r"<td>(\d+)</td>", row[1]))
    expected = Counter(h for a, h, _ in verdicts if first_unit["id"] in [c["id"] for c in a["citations"]])
    assert (helpful, not_helpful) == (expected[True], expected[False])
    assert "Kontakt veraltet: 1" in row[1]
    # The unanswered questions were kept (WEGWEISER_LOG_GAPS) but are not on the page without the token.
    assert f"{coverage['none']} pseudonymisierte Fragen" in html and "asdfghjk" not in html
    # Nothing the askers typed is in the counters file.
    on_disk = disk_bytes(settings)
    assert all(q.encode() not in on_disk for q, _ in questions) and b"Dolmetscher" not in on_disk


def test_outcomes_of_questions_reach_the_counters_file_without_a_dashboard_read(local: TestClient,
                                                                                settings: Settings) -> None:
    coverage = Counter(local.post("/api/ask", json={"question": q}).json()["coverage"]
                       for q in ("Wo lerne ich Deutsch?", "asdfghjk qwertz"))
    for _ in range(100):  # written every second by the app's timer
        if settings.feedback_path.exists() and sum(r[3] for r in rows(settings, "outcomes")) >= 2:
            break
        time.sleep(0.1)
    counted = Counter()
    for _, _, covered, count in rows(settings, "outcomes"):
        counted[covered] += count
    assert counted == coverage


def test_gap_texts_need_the_local_admin_token(local: TestClient, settings: Settings) -> None:
    local.post("/api/ask", json={"question": "asdfghjk qwertz"})
    refused = local.post("/staff/dashboard", data={"token": "wrong"})
    assert refused.status_code == 403 and "asdfghjk" not in refused.text and "Das Token stimmt nicht" in refused.text
    shown = local.post("/staff/dashboard", data={"token": ensure_token(settings)})
    assert shown.status_code == 200 and "asdfghjk qwertz" in shown.text


def test_dashboard_is_refused_to_other_machines(settings: Settings) -> None:
    with TestClient(create_app(settings), client=("198.51.100.20", 40000)) as remote:
        assert_problem(remote.get("/staff/dashboard"), 403, "this machine")
        assert_problem(remote.post("/staff/dashboard", data={"token": ensure_token(settings)}), 403, "this machine")


def test_counters_are_deleted_by_day_after_the_retention_period(settings: Settings) -> None:
    today = dt.date(2026, 6, 30)
    record_outcome(settings, "de", "full", today - dt.timedelta(days=settings.feedback_retention_days))
    record_outcome(settings, "uk", "none", today - dt.timedelta(days=settings.feedback_retention_days - 1))
    assert purge_feedback(settings, today) == 1
    report = read_report(settings, today)
    assert report.outcomes == {"full": 0, "partial": 0, "none": 1} and report.languages == {"uk": 1}
