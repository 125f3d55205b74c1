"""POST /api/ask: the answer contract, citations that resolve to the source, and readable 4xx on bad input."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from pipelines.settings import Settings
from tests.api.conftest import app_client, assert_problem

pytestmark = pytest.mark.integration

CONTRACT_FIELDS = {"question", "lang", "detected_lang", "answered", "coverage", "missing", "answer", "answer_de",
                   "simple", "citations", "contacts", "offices", "services", "translation", "dir", "follow_up"}
OPTIONAL_FIELDS = {"generator"}  # only filled in when the optional generator is configured
CITATION_FIELDS = {"n", "id", "kind", "section", "title", "text", "text_translated", "source", "as_of", "url",
                   "quote"}
CITATION_KINDS = {"measure", "goal", "field", "intro", "strategy", "service", "procedure", "office"}
OUT_OF_SCOPE = "Wie wird das Wetter morgen in Jena?"

QUESTIONS: dict[str, dict[str, Any]] = {
    "german": {"question": "Wer ist zuständig für die Sprachmittlung in den Ämtern?"},
    "ukrainian": {"question": "Де знайти перекладача до лікаря?"},
    "arabic": {"question": "أين أتعلم اللغة الألمانية؟"},
    "simple": {"question": "Wo lerne ich Deutsch?", "simple": True},
}
EXPECTED = {  # name → (lang, dir, translation method)
    "german": ("de", "ltr", "none"),
    "ukrainian": ("uk", "ltr", "memory"),
    "arabic": ("ar", "rtl", "memory"),
    "simple": ("de", "ltr", "none"),
}


@pytest.fixture(scope="module")
def answers(client: TestClient) -> dict[str, dict[str, Any]]:
    """One real answer per sample question (asked once for the module)."""
    result = {}
    for name, body in QUESTIONS.items():
        response = client.post("/api/ask", json=body)
        assert response.status_code == 200, response.text
        result[name] = response.json()
    return result


def _contact_items(contact: dict[str, Any]) -> Iterator[dict[str, Any]]:
    assert isinstance(contact, dict)
    for kind, items in contact.items():
        assert isinstance(kind, str) and isinstance(items, list)
        yield from items


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_answer_has_every_contract_field_with_its_type(answers: dict[str, dict[str, Any]], name: str) -> None:
    answer = answers[name]
    assert CONTRACT_FIELDS <= set(answer) <= CONTRACT_FIELDS | OPTIONAL_FIELDS
    lang, direction, method = EXPECTED[name]
    assert answer["question"] == QUESTIONS[name]["question"]
    assert answer["lang"] == lang and answer["detected_lang"] == lang
    assert answer["dir"] == direction
    assert answer["answered"] is True
    assert answer["simple"] is QUESTIONS[name].get("simple", False)
    assert isinstance(answer["answer"], str) and answer["answer"].strip()
    assert isinstance(answer["answer_de"], str) and answer["answer_de"].strip()
    assert answer["translation"]["method"] == method
    assert answer["translation"]["notice"] is None or isinstance(answer["translation"]["notice"], str)
    assert isinstance(answer["citations"], list) and answer["citations"]
    assert isinstance(answer["offices"], list) and isinstance(answer["services"], list)


@pytest.mark.parametrize("name", ["ukrainian", "arabic"])
def test_translated_answer_is_in_the_askers_language_with_german_beside_it(
        answers: dict[str, dict[str, Any]], name: str) -> None:
    answer = answers[name]
    script = {"ukrainian": r"[\u0400-\u04FF]", "arabic": r"[\u0600-\u06FF]"}[name]
    assert re.search(script, answer["answer"])
    assert not re.search(script, answer["answer_de"])
    assert any(c["text_translated"] and re.search(script, c["text_translated"]) for c in answer["citations"])


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_citations_are_numbered_and_every_marker_refers_to_one(answers: dict[str, dict[str, Any]],
                                                                name: str) -> None:
    answer = answers[name]
    citations = answer["citations"]
    assert [c["n"] for c in citations] == list(range(1, len(citations) + 1))
    for citation in citations:
        assert set(citation) == CITATION_FIELDS
        assert citation["kind"] in CITATION_KINDS
        for key in ("id", "section", "title", "text", "source", "as_of", "url"):
            assert isinstance(citation[key], str) and citation[key], key
        # Optional: the answering lines of a long unit, verbatim from its text.
        quote = citation["quote"]
        assert quote is None or (set(quote) == {"lines", "text", "text_translated", "url"}
                                 and quote["text"] in citation["text"])
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", answer["answer"])}
    assert markers and markers <= {c["n"] for c in citations}
    assert {int(m) for m in re.findall(r"\[(\d+)\]", answer["answer_de"])} <= {c["n"] for c in citations}


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_citations_carry_the_german_text_of_record_verbatim(client: TestClient,
                                                             answers: dict[str, dict[str, Any]],
                                                             name: str) -> None:
    for citation in answers[name]["citations"]:
        unit = client.get(f"/api/units/{citation['id']}")
        assert unit.status_code == 200, unit.text
        assert citation["text"] == unit.json()["text"]
        assert citation["section"] == unit.json()["section"]


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_citation_urls_open_the_source_page_at_the_cited_passage(client: TestClient,
                                                                  answers: dict[str, dict[str, Any]],
                                                                  name: str) -> None:
    for citation in answers[name]["citations"]:
        url = urlsplit(citation["url"])
        assert not url.netloc and url.path.startswith("/sources/") and url.fragment
        page = client.get(url.path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert f'id="{url.fragment}"' in page.text


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_offices_and_services_have_their_contract_shape(answers: dict[str, dict[str, Any]], name: str) -> None:
    answer = answers[name]
    for office in answer["offices"]:
        assert office["id"].startswith("office/") and isinstance(office["name"], str) and office["name"]
        for item in _contact_items(office["contact"]):
            assert isinstance(item["value"], str) and item["source"].startswith("http")
    for service in answer["services"]:
        assert service["id"].startswith("svc/") and isinstance(service["name"], str) and service["name"]
        assert service["sources"] and all(s.startswith("http") for s in service["sources"])
        for item in _contact_items(service["contact"]):
            assert isinstance(item["value"], str) and item["source"].startswith("http")


def test_answers_name_the_office_responsible(answers: dict[str, dict[str, Any]]) -> None:
    german = answers["german"]
    office_ids = {o["id"] for o in german["offices"]}
    assert office_ids, "a question about who is responsible names an office"
    assert any(o["name"] in german["answer"] for o in german["offices"])


def test_out_of_scope_question_is_not_answered_and_names_a_sourced_contact(client: TestClient) -> None:
    response = client.post("/api/ask", json={"question": OUT_OF_SCOPE})
    assert response.status_code == 200
    answer = response.json()
    assert answer["answered"] is False and answer["coverage"] == "none"
    first = answer["contacts"][0]
    assert first["id"] == "svc/welcome-center" and first["role"] == "fallback"
    address = first["contact"]["address"][0]
    assert address["value"] in answer["answer"] and address["source"].startswith("https://")
    # No promise of help "in person" without an address, and no 2022 Ukraine-help address as the contact.
    assert "persönlich" not in answer["answer"] and "neu@jena.de" not in answer["answer"]


def test_language_without_translation_is_answered_in_english_and_german_with_a_notice(client: TestClient) -> None:
    response = client.post("/api/ask", json={"question": "Wo lerne ich Deutsch?", "lang": "sw"})
    assert response.status_code == 200
    answer = response.json()
    assert answer["lang"] == "en" and answer["dir"] == "ltr"
    assert answer["translation"]["method"] == "none"
    assert answer["translation"]["notice"] and "Deutsch" in answer["translation"]["notice"]
    assert answer["answer"] != answer["answer_de"]


def test_dari_is_served_with_the_farsi_texts(client: TestClient) -> None:
    response = client.post("/api/ask", json={"question": "کجا آلمانی یاد بگیرم؟", "lang": "prs"})
    assert response.status_code == 200
    answer = response.json()
    assert answer["lang"] == "fa" and answer["dir"] == "rtl" and answer["translation"]["method"] == "memory"


def test_arabic_answers_keep_phone_numbers_in_order(client: TestClient) -> None:
    answer = client.post("/api/ask", json={"question": "تعرضت للتمييز. من يساعدني؟"}).json()
    assert answer["dir"] == "rtl"
    phones = [i["value"] for c in answer["contacts"] for i in c["contact"].get("phone", [])]
    assert phones and all(f"\u2066{p}\u2069" in answer["answer"] for p in phones[:1])


def test_language_code_is_accepted_in_any_case(client: TestClient) -> None:
    response = client.post("/api/ask", json={"question": "Wo lerne ich Deutsch?", "lang": " UK "})
    assert response.status_code == 200
    assert response.json()["lang"] == "uk"


def test_control_characters_are_stripped_from_the_question(client: TestClient) -> None:
    # Sent as JSON escapes: a lone surrogate ("\ud800") cannot even be encoded by the client otherwise.
    body = json.dumps({"question": "\u200bWo\u0000 lerne\u0007 ich\n Deutsch?\ufeff\ud800"})
    response = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["question"] == "Wo lerne ich Deutsch?"


def test_question_of_1000_characters_with_surrounding_spaces_is_accepted(client: TestClient) -> None:
    question = ("Wo finde ich Sprachmittlung für einen Termin beim Jobcenter? " * 20)[:1000]
    assert len(question) == 1000 and question == question.strip()
    response = client.post("/api/ask", json={"question": f"   {question}\n\t  "})
    assert response.status_code == 200, response.text
    assert response.json()["question"] == question


def _streamed(size: int) -> Iterator[bytes]:
    yield b'{"question": "'
    for _ in range(size // 1000):
        yield b"a" * 1000
    yield b'"}'


BAD_REQUESTS = {
    # name: (request kwargs, status, fragments of the detail)
    "unknown field": ({"json": {"question": "Wo lerne ich Deutsch?", "topic": "x"}}, 422, ["topic", "unknown"]),
    "unknown language code": ({"json": {"question": "Wo?", "lang": "xx"}}, 422, ["lang", "ISO 639-1"]),
    "language name instead of code": ({"json": {"question": "Wo?", "lang": "english"}}, 422, ["lang"]),
    "empty question": ({"json": {"question": ""}}, 422, ["question", "empty"]),
    "whitespace question": ({"json": {"question": " \n\t \u200b "}}, 422, ["question", "empty"]),
    "1001 characters": ({"json": {"question": "  " + "a" * 1001 + "  "}}, 422, ["question", "1000"]),
    "question missing": ({"json": {"lang": "de"}}, 422, ["question"]),
    "question not a string": ({"json": {"question": 42}}, 422, ["question"]),
    "simple not a boolean": ({"json": {"question": "Wo?", "simple": "maybe"}}, 422, ["simple"]),
    "body not an object": ({"json": ["Wo lerne ich Deutsch?"]}, 422, ["JSON object"]),
    "empty body": ({"content": b"", "headers": {"content-type": "application/json"}}, 422, ["body"]),
    "malformed JSON": ({"content": b'{"question": "Wo', "headers": {"content-type": "application/json"}},
                       422, ["not valid JSON"]),
    "not UTF-8": ({"content": '{"question": "Größe"}'.encode("latin-1"),
                   "headers": {"content-type": "application/json"}}, 422, ["UTF-8"]),
    "form instead of JSON": ({"data": {"question": "Wo?"}}, 415, ["application/json"]),
    "no content type": ({"content": b'{"question": "Wo?"}'}, 415, ["application/json"]),
    "text/plain": ({"content": b'{"question": "Wo?"}', "headers": {"content-type": "text/plain"}},
                   415, ["application/json"]),
    "oversized body": ({"json": {"question": "a" * 20_000}}, 413, ["larger than"]),
    "oversized body streamed without Content-Length": (
        {"content": _streamed, "headers": {"content-type": "application/json"}}, 413, ["larger than"]),
}


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_bad_input_gets_a_readable_4xx(client: TestClient, name: str) -> None:
    kwargs, status, fragments = BAD_REQUESTS[name]
    if callable(kwargs.get("content")):
        kwargs = {**kwargs, "content": kwargs["content"](20_000)}  # a fresh generator for every run
    response = client.post("/api/ask", **kwargs)
    if "Content-Length" in name:
        assert "content-length" not in response.request.headers
    assert_problem(response, status, *fragments)


def test_oversized_limit_follows_the_settings(client: TestClient, ingested_settings: Settings) -> None:
    limit = ingested_settings.max_body_bytes
    padding = limit - len('{"question": ""}')
    accepted = client.post("/api/ask", content=b'{"question": "' + b" " * padding + b'"}',
                           headers={"content-type": "application/json"})
    assert_problem(accepted, 422, "empty")  # read in full (and found empty), not refused for its size
    refused = client.post("/api/ask", content=b'{"question": "' + b" " * (padding + 1) + b'"}',
                          headers={"content-type": "application/json"})
    assert_problem(refused, 413, str(limit))


def test_without_an_index_the_assistant_answers_503_with_a_reason(empty_client: TestClient) -> None:
    response = empty_client.post("/api/ask", json={"question": "Wo lerne ich Deutsch?"})
    assert_problem(response, 503, "wegweiser ingest")
    assert int(response.headers["retry-after"]) > 0


def test_question_text_is_logged_only_when_the_operator_turns_it_on(
        ingested_settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    question = "Wo lerne ich Deutsch? Zebrafink-4711"
    with app_client(ingested_settings, log_questions=True) as operator_client, caplog.at_level(logging.INFO):
        assert operator_client.post("/api/ask", json={"question": question}).status_code == 200
    assert question in caplog.text


def test_requests_are_answered_by_the_fast_path_with_the_pipelines_answer(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Serving calls the components in graph order (``pipelines/fast_path.py``), not ``Pipeline.run``, and
    answers exactly what ``Pipeline.run`` answers."""
    from haystack import Pipeline

    from api.schemas import AskResponse
    from pipelines.i18n import direction
    from pipelines.query import ask

    question = "Wer hilft mir, meinen ausländischen Berufsabschluss anerkennen zu lassen?"
    answer = ask(client.app.state.serving.current().ask, question)
    by_pipeline = AskResponse(**answer, dir=direction(answer["lang"])).model_dump(mode="json")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a request ran Pipeline.run")

    monkeypatch.setattr(Pipeline, "run", refuse)
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 200, response.text
    assert response.json() == by_pipeline
    assert by_pipeline["answered"] and by_pipeline["citations"]


DOCUMENTS_QUESTIONS = {
    "de": "Welche Unterlagen brauche ich für die Anmeldung meiner Wohnung?",
    "uk": "Які документи потрібні для реєстрації житла в Єні?",
    "ar": "ما هي الأوراق التي أحتاجها لتسجيل السكن في ينا؟",
    "en": "What documents do I need to register my flat in Jena?",
}


@pytest.mark.parametrize("lang", list(DOCUMENTS_QUESTIONS))
def test_a_documents_question_quotes_the_documents_lines_and_the_source_page_marks_them(
        client: TestClient, lang: str) -> None:
    answer = client.post("/api/ask", json={"question": DOCUMENTS_QUESTIONS[lang], "lang": lang}).json()
    cited = next(c for c in answer["citations"] if c["id"] == "proc/wohnung-anmelden")
    quote = cited["quote"]
    assert quote is not None
    lines = cited["text"].split("\n")
    documents = [i for i, line in enumerate(lines) if "Wohnungsgeberbestätigung" in line and "vorlegen" in line]
    assert documents and set(documents) <= set(quote["lines"])
    assert len(quote["lines"]) < len(lines) - 1  # a quote, not the whole text
    # The answer quotes the documents paragraph in the asker's language …
    shown = cited["text_translated"] if lang != "de" else None
    first_documents_line = next(line for line in (shown or "").split("\n") if "Wohnungsgeberbestätigung" in line) \
        if shown else "Sie brauchen die Wohnungsgeberbestätigung von Ihrem Vermieter."
    assert first_documents_line in answer["answer"].replace("\u2066", "").replace("\u2069", "")
    if lang != "de":
        assert first_documents_line in quote["text_translated"]
    # … the contact that helps still comes first, and the two-week deadline is not cut.
    assert answer["contacts"][0]["id"] == "svc/buergerservice"
    assert re.search(r"\b2\b", answer["answer"])
    # The source page the quote points to marks exactly the quoted lines.
    page = client.get(quote["url"].split("#")[0]).text
    marked = re.findall(r'<p id="proc-wohnung-anmelden-l(\d+)" class="quoted"><mark>', page)
    assert [int(n) for n in marked] == quote["lines"]
    assert page.count('class="quoted"') == len(quote["lines"])


def test_a_general_question_about_a_long_unit_is_not_quoted(client: TestClient) -> None:
    answer = client.post("/api/ask", json={"question": "Wie melde ich meine Wohnung an?"}).json()
    assert all(c["quote"] is None for c in answer["citations"])


def test_an_hours_question_quotes_the_hours_and_keeps_the_appointment_rule(client: TestClient) -> None:
    answer = client.post("/api/ask", json={"question": "Wann hat der Bürgerservice geöffnet?"}).json()
    cited = next(c for c in answer["citations"] if c["id"] == "svc/buergerservice")
    assert cited["quote"] and "Öffnungszeiten" in cited["quote"]["text"]
    assert "Donnerstag 8:30 bis 16 Uhr" in answer["answer"]
    # not asked, but a restriction of the quoted unit: never cut
    assert "Termine machen Sie normalerweise online." in answer["answer"]
    assert "Der Fachdienst heißt Bürgerdienste." not in answer["answer"]  # the description that does not answer
