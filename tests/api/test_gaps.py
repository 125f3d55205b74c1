"""Content gaps: unanswered questions are kept only when turned on, anonymised, and only for a limited time."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import multiprocessing
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import api.routes.ask as ask_route
from api.gaps import anonymise, purge_gaps, purging_gaps, read_gaps, record_gap
from api.main import create_app
from pipelines.settings import Settings, get_settings
from tests.api.conftest import app_client
from tests.api.gap_writer import append_gaps, letters
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


# What must not be kept, language by language: names, addresses, e-mails (also spelled out), file numbers,
# dates of birth, IBANs and phone numbers, as residents write them.
PERSONAL_DATA = [
    ("de", "Ich heiße Anna Schmidt und wohne in der Goethestraße 12, 07743 Jena. Wo melde ich mich an?",
     ["Anna", "Schmidt", "Goethestraße", "12", "07743"]),
    ("de", "Meine E-Mail ist max dot mueller at gmx dot de, Az. 123/45, geboren am 12.03.1985",
     ["max", "mueller", "gmx", "123", "45", "12.03", "1985"]),
    ("de", "Mein Name ist Jürgen Weiß, Löbdergraben 12, AZ: B-2023-4711, IBAN DE89 3704 0044 0532 0130 00",
     ["Jürgen", "Weiß", "Löbdergraben", "B-2023", "4711", "DE89", "3704"]),
    ("de", "Frau Müller vom Jobcenter sagt, ich soll am Eichplatz 4 fragen. Meine Mail: j.weiss(at)web.de",
     ["Müller", "Eichplatz", "4", "weiss", "web.de"]),
    ("de", "Wir wohnen Am Anger 4a und in der Lutherstr. 5, Tel. 0176/12345678, Kassenzeichen 4711-0815",
     ["Anger", "4a", "Lutherstr", "0176", "12345678", "4711", "0815"]),
    ("en", "My name is John Smith, I live at 5 Carl-Zeiss-Platz, email john.smith@example.com, "
           "phone +49 176 1234567", ["John", "Smith", "Carl-Zeiss", "john", "example", "176", "1234567"]),
    ("en", "I'm Sarah Miller, my case number is 2023/4711, born on 3 May 1990, see www.example.org/me",
     ["Sarah", "Miller", "2023", "4711", "May 1990", "example"]),
    ("uk", "Мене звати Олена Петренко, живу на вулиці Шевченка 12 (Лобеда). Пишіть: олена собака ukr точка net",
     ["Олена", "Петренко", "Шевченка", "12", "олена", "ukr"]),
    ("uk", "Пишу для пані Коваленко: номер справи 12345/2024, дата народження 01.02.1980, телефон +380 67 123 45 67",
     ["Коваленко", "12345", "2024", "01.02", "1980", "380", "123 45 67"]),
    ("ru", "Меня зовут Иван Петров, адрес: улица Ленина 5, почта анна собака mail точка ру",
     ["Иван", "Петров", "Ленина", "5", "анна", "mail"]),
    ("ru", "Пишу за господина Смирнова, он живёт на Гётештрассе 3, номер дела AZ: B-2023-4711",
     ["Смирнова", "Гётештрассе", "3", "B-2023", "4711"]),
    ("ar", "اسمي أحمد الخطيب وأسكن في شارع غوته ١٢، بريدي ahmad at gmail dot com ورقمي ٠١٧٦١٢٣٤٥٦٧",
     ["أحمد", "الخطيب", "غوته", "١٢", "ahmad", "gmail", "٠١٧٦", "١٢٣٤٥٦٧"]),
    ("ar", "رقم الملف ١٢٣/٤٥ وتاريخ الميلاد ١٥/٠٣/١٩٨٥، بريدي سارة آت جيميل نقطة كوم",
     ["١٢٣", "٤٥", "١٩٨٥", "سارة", "جيميل"]),
    ("fa", "اسم من رضا احمدی است و در خیابان گوته پلاک ۱۲ زندگی می‌کنم. ایمیل: reza.ahmadi at yahoo دات com",
     ["رضا", "احمدی", "گوته", "۱۲", "reza", "yahoo"]),
    ("fa", "من مریم رضایی هستم، شماره پرونده ۱۲۳۴۵ و تلفن ۰۹۱۲۳۴۵۶۷۸۹", ["مریم", "رضایی", "۱۲۳۴۵", "۰۹۱۲"]),
    ("tr", "Benim adım Ayşe Yılmaz, adresim Goethestraße 3, e-posta ayse nokta yilmaz at gmail nokta com",
     ["Ayşe", "Yılmaz", "Goethestraße", "3", "ayse", "yilmaz", "gmail"]),
    ("tr", "Adım Mehmet, dosya no: 2023/4711, doğum tarihim 05.06.1992, Goethe Caddesi 12",
     ["Mehmet", "2023", "4711", "05.06", "1992", "Goethe", "12"]),
    ("fr", "Je m'appelle Marie Dubois, j'habite 12 rue Lessing, mon e-mail est marie point dubois arobase "
           "orange point fr", ["Marie", "Dubois", "12", "Lessing", "marie", "dubois", "orange"]),
    ("fr", "Mon numéro de dossier est Az. 123/45, née le 4 juillet 1988, IBAN FR76 3000 6000 0112 3456 7890 189",
     ["123", "45", "juillet 1988", "FR76", "3000"]),
]
# One ordinary question per language (and German nouns mid-sentence): kept word for word.
ORDINARY = [
    ("de", "Wo bekomme ich einen Kita-Platz?"),
    ("de", "Wo kann meine Frau Deutsch lernen und wo gibt es Hilfe beim Jobcenter für 2 Kinder?"),
    ("en", "How do I register my address in Jena?"),
    ("uk", "Де я можу вивчати німецьку мову?"),
    ("ru", "Где мне получить вид на жительство?"),
    ("ar", "أين أتعلم اللغة الألمانية؟"),
    ("fa", "فرزند من به مهد کودک نیاز دارد، کجا ثبت نام کنم؟"),
    ("tr", "Oturma izni için ilk adım nedir?"),
    ("fr", "Quel est le point de contact pour le logement à Jena ?"),
]


def _words(text: str) -> str:
    # Placeholders hold no personal data; leave them out so that e.g. "mail" is not found in "[email]".
    return " ".join(word for word in text.replace("[", " [").replace("]", "] ").split()
                    if not (word.startswith("[") and word.endswith("]")))


@pytest.mark.parametrize("lang, question, personal", PERSONAL_DATA,
                         ids=[f"{lang}-{n}" for n, (lang, _, _) in enumerate(PERSONAL_DATA)])
def test_personal_data_is_not_kept_in_any_language(tmp_path: Path, lang: str, question: str,
                                                   personal: list[str]) -> None:
    settings = make_settings(tmp_path, log_gaps=True)
    record_gap(settings, question, lang)
    [entry] = _lines(settings.gaps_path)
    kept = _words(entry["question"])
    for item in personal:
        assert item not in kept, f"{item!r} kept: {kept}"


@pytest.mark.parametrize("lang, question", ORDINARY, ids=[f"{lang}-{n}" for n, (lang, _) in enumerate(ORDINARY)])
def test_an_ordinary_question_is_kept_word_for_word(tmp_path: Path, lang: str, question: str) -> None:
    settings = make_settings(tmp_path, log_gaps=True)
    record_gap(settings, question, lang)
    [entry] = _lines(settings.gaps_path)
    assert entry["question"] == question


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
    record_gap(settings, "neu", "ar", today=dt.date(2026, 1, 31))
    # A purge deletes the expired ones without anything being written.
    assert purge_gaps(settings, today=dt.date(2026, 1, 31)) == 1
    assert [e["question"] for e in _lines(settings.gaps_path)] == ["mittel", "neu"]
    assert purge_gaps(settings, today=dt.date(2026, 1, 31)) == 0
    # Reading deletes them too.
    assert [e["question"] for e in read_gaps(settings, today=dt.date(2026, 2, 19))] == ["neu"]
    assert [e["question"] for e in _lines(settings.gaps_path)] == ["neu"]
    assert read_gaps(settings, today=dt.date(2026, 3, 2)) == []
    assert _lines(settings.gaps_path) == []


def test_no_gaps_file_means_no_gaps(tmp_path: Path) -> None:
    assert read_gaps(make_settings(tmp_path)) == []


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _write_entries(path: Path, count: int, day: dt.date) -> None:
    line = json.dumps({"day": day.isoformat(), "lang": "de", "question": "Wo finde ich Hilfe?"}) + "\n"
    path.write_text(line * count, encoding="utf-8")


def _bytes_read_by_this_process() -> int:
    with open("/proc/self/io", encoding="ascii") as io:
        return int(next(line for line in io if line.startswith("rchar:")).split()[1])


def test_gaps_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, log_gaps=True)
    record_gap(settings, "Wo finde ich Hilfe?", "de")
    assert _mode(settings.gaps_path) == 0o600
    # A file an older version left world-readable is closed on the next write ...
    settings.gaps_path.chmod(0o644)
    record_gap(settings, "Wo finde ich Hilfe?", "de")
    assert _mode(settings.gaps_path) == 0o600
    # ... or on the next purge, when nobody writes.
    settings.gaps_path.chmod(0o644)
    purge_gaps(settings)
    assert _mode(settings.gaps_path) == 0o600
    assert len(_lines(settings.gaps_path)) == 2


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="counts bytes read through /proc/self/io (Linux)")
@pytest.mark.parametrize("existing", [10, 100_000])
def test_keeping_a_question_appends_without_reading_or_rewriting_the_file(tmp_path: Path, existing: int) -> None:
    settings = make_settings(tmp_path, log_gaps=True, gaps_max_bytes=100_000_000)
    _write_entries(settings.gaps_path, existing, dt.date.today())
    before = settings.gaps_path.read_bytes()
    inode = settings.gaps_path.stat().st_ino
    record_gap(settings, "Wo finde ich Hilfe?", "de")  # the first write may import or create the lock file
    read_before = _bytes_read_by_this_process()
    assert record_gap(settings, "Gibt es Hilfe beim Umzug?", "de")
    read = _bytes_read_by_this_process() - read_before
    # The cost of a write does not grow with the file: its old content is neither read nor rewritten.
    assert read < 64 * 1024, f"{read} bytes read to append to a file of {len(before)} bytes"
    assert settings.gaps_path.stat().st_ino == inode
    after = settings.gaps_path.read_bytes()
    assert after.startswith(before)
    assert [json.loads(line)["question"] for line in after[len(before):].splitlines()] == [
        "Wo finde ich Hilfe?", "Gibt es Hilfe beim Umzug?"]


def test_two_worker_processes_append_concurrently_without_losing_entries(tmp_path: Path) -> None:
    gaps_path = tmp_path / "gaps.jsonl"
    _write_entries(gaps_path, 50, dt.date(2000, 1, 1))  # expired: worker 0 purges them halfway
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(2)
    workers = [spawn.Process(target=append_gaps, args=(gaps_path, worker, 200, start)) for worker in (0, 1)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    questions = [entry["question"] for entry in _lines(gaps_path)]
    assert sorted(questions) == sorted(f"Frage {letters(w)} {letters(n)}" for w in (0, 1) for n in range(200))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gaps.jsonl", "gaps.jsonl.lock"]  # no temporary file


def test_gaps_file_never_grows_beyond_its_cap(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, log_gaps=True, gaps_max_bytes=2048)
    kept = [record_gap(settings, f"Wo finde ich Hilfe für {letters(n)}?", "de") for n in range(100)]
    size = settings.gaps_path.stat().st_size
    assert 2048 - 100 < size <= 2048
    # Once full, new questions are dropped; the ones kept first stay.
    assert kept.index(False) == len(_lines(settings.gaps_path)) and not any(kept[kept.index(False):])
    assert _lines(settings.gaps_path)[0]["question"] == "Wo finde ich Hilfe für a?"
    # An operator who lowers the cap gets the newest entries that fit at the next purge.
    smaller = settings.model_copy(update={"gaps_max_bytes": 1024})
    assert purge_gaps(smaller) > 0
    assert settings.gaps_path.stat().st_size <= 1024
    assert _lines(settings.gaps_path)[-1]["question"] == f"Wo finde ich Hilfe für {letters(kept.index(False) - 1)}?"


def test_the_purge_timer_deletes_expired_entries_while_nobody_writes(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, log_gaps=True, gaps_retention_days=30)
    today = dt.date.today()
    record_gap(settings, "neu", "de", today=today)
    record_gap(settings, "alt", "de", today=today - dt.timedelta(days=31))

    async def questions_while_purging() -> list[list[str]]:
        seen = []
        async with purging_gaps(settings, interval_s=0.05):
            for _ in range(2):
                # Each round: wait (bounded) until the timer has deleted the expired entry, then add another.
                for _ in range(100):
                    await asyncio.sleep(0.05)
                    if len(_lines(settings.gaps_path)) == 1:
                        break
                seen.append([e["question"] for e in _lines(settings.gaps_path)])
                record_gap(settings, "alt", "de", today=today - dt.timedelta(days=40))
        return seen

    assert asyncio.run(questions_while_purging()) == [["neu"], ["neu"]]


def test_the_app_purges_the_gaps_file_at_start_up_and_on_a_timer(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)  # gap logging off: what was kept earlier must still expire
    today = dt.date.today()
    record_gap(settings, "neu", "de", today=today)
    record_gap(settings, "alt", "de", today=today - dt.timedelta(days=400))
    settings.gaps_path.chmod(0o644)
    app = create_app(settings)
    with TestClient(app):
        deadline = time.monotonic() + 10
        while len(_lines(settings.gaps_path)) > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [e["question"] for e in _lines(settings.gaps_path)] == ["neu"]
        assert _mode(settings.gaps_path) == 0o600
        timer = app.state.gaps_purger
        assert not timer.done()
    assert timer.done()  # stopped at shutdown


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


@pytest.mark.integration
def test_the_ask_route_keeps_a_gap_off_the_event_loop(ingested_settings: Settings, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    threads = []

    def spy(*args: object) -> bool:
        try:
            asyncio.get_running_loop()
            threads.append("event loop")
        except RuntimeError:
            threads.append("worker thread")
        return record_gap(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(ask_route, "record_gap", spy)
    gaps_path = tmp_path / "gaps.jsonl"
    with app_client(ingested_settings, log_gaps=True, gaps_path=gaps_path) as operator_client:
        assert operator_client.post("/api/ask", json={"question": UNANSWERED}).json()["answered"] is False
    assert threads == ["worker thread"]
    assert [e["question"] for e in _lines(gaps_path)] == [UNANSWERED]


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
