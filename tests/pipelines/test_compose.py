"""Composing the answer from hand-made records: the resident's next step first, plans as plans, honest gaps."""

from __future__ import annotations

import re

import pytest

from pipelines.bidi import LRI, PDI, strip_isolates
from pipelines.compose import Question, choose_lead, compose_answer
from pipelines.records import OfficeCard, UnitRecord
from pipelines.simple_language import simple_language_problems

PHONE = {"value": "03641 49-3800", "source": "https://example.org/bs", "as_of": "2025-03"}


def strip_markers(text: str) -> str:
    return re.sub(r"\s*\[\d+\]", "", text)


def record(unit_id: str, kind: str, text: str, **extra) -> UnitRecord:
    texts = {"de-simple": text, "en": f"EN {text}", "ar": f"عربي {text}"}
    return UnitRecord(id=unit_id, kind=kind, title=extra.pop("title", unit_id), section="S", url=f"/u/{unit_id}",
                      source="src", as_of="2024", text_de=text, texts=texts, **extra)


COLLECTIVE = OfficeCard("office/werkleitungen", "Werkleitungen", {}, "sammelbegriff", None, {})
BUERO = OfficeCard("office/buero", "Büro für Migration", {}, "verwaltung", "svc/buero",
                   {"email": [{"value": "buero@jena.de", "source": "https://example.org/b", "as_of": None}]})
SERVICE = record("svc/buergerservice", "service", "Der Bürgerservice meldet Wohnungen an.", title="Bürgerservice",
                 contact={"phone": [PHONE]}, fact_fields=("about", "hours"))
PROCEDURE = record("proc/wohnung-anmelden", "procedure", "Sie melden sich innerhalb von zwei Wochen an.",
                   title="Wohnung anmelden", responsible=("svc/buergerservice",), links=("ik/2.1/z4/m1",),
                   contact={"email": [{"value": "bs-antrag@jena.de", "source": "https://example.org/e",
                                       "as_of": None}]}, fact_fields=("deadline", "documents"))
MEASURE = record("ik/2.1/z4/m1", "measure", "Alle Stellen sollen Sprachmittlung nutzen.", termin="2027",
                 office_cards=(COLLECTIVE, BUERO), practice=("proc/wohnung-anmelden",))
BUERO_SERVICE = record("svc/buero", "service", "Das Büro berät.", title="Büro für Migration",
                       contact=BUERO.contact)
FALLBACK = record("svc/welcome-center", "service", "Das Welcome Center berät kostenlos.", title="Welcome Center",
                  contact={"address": [{"value": "Teichgraben 5, Jena", "source": "https://example.org/w",
                                        "as_of": None}]})
RELATED = {r.id: r for r in (SERVICE, PROCEDURE, MEASURE, BUERO_SERVICE, FALLBACK)}


def ask(text: str, ranked: list[UnitRecord], language: str = "de", **kwargs) -> dict:
    question = Question(text=text, language=language, asker_language=language, detected_language=language,
                        answerable=kwargs.pop("answerable", True), **kwargs)
    return compose_answer(question, ranked, [0.9, 0.5, 0.4][: len(ranked)], RELATED).to_dict()


def test_a_plan_on_top_leads_with_what_puts_it_into_practice_and_stays_a_plan() -> None:
    answer = ask("Wie melde ich meine Wohnung an?", [MEASURE])
    assert [c["id"] for c in answer["contacts"]][:2] == ["svc/buergerservice", "proc/wohnung-anmelden"]
    assert answer["answer"].startswith("Sie melden sich innerhalb von zwei Wochen an.")
    assert "keine Zusage" in answer["answer"] and "bis 2027" in answer["answer"]
    assert answer["coverage"] == "full" and answer["missing"] == []


def test_collective_bodies_never_get_a_card_but_contactable_offices_do() -> None:
    answer = ask("Sprachmittlung im Amt", [MEASURE])
    ids = [c["id"] for c in answer["contacts"]]
    assert "office/werkleitungen" not in ids
    assert "svc/buero" in ids
    # The contract's `offices` still lists every responsible body (staff and the cited text name them).
    assert {o["id"] for o in answer["offices"]} == {"office/werkleitungen", "office/buero"}


def test_a_procedure_is_led_by_the_service_that_handles_it() -> None:
    answer = ask("anmeldung wohnung", [PROCEDURE, MEASURE])
    first = answer["contacts"][0]
    assert first["id"] == "svc/buergerservice" and first["role"] == "responsible"
    assert "03641 49-3800" in answer["answer"]
    assert re.search(r"Kontakt \(Bürgerservice\): Telefon: 03641 49-3800 \(Stand 2025-03\) \[\d\]", answer["answer"])


@pytest.mark.parametrize(("question", "missing"), [
    ("Was kostet die Anmeldung?", ["fee"]),
    ("Wann hat der Bürgerservice offen? Öffnungszeiten?", []),  # the Bürgerservice's hours are in the sources
    ("Welche Unterlagen brauche ich für die Anmeldung?", []),
])
def test_a_detail_no_source_gives_makes_the_answer_partial_and_names_the_contact(question: str,
                                                                                  missing: list[str]) -> None:
    answer = ask(question, [PROCEDURE])
    assert answer["missing"] == missing
    assert answer["coverage"] == ("partial" if missing else "full")
    if missing:
        expected = "Nur teilweise beantwortet. Nicht (oder nur veraltet) in den Quellen: Kosten oder Gebühren."
        assert expected in answer["answer"]
        partial = next(line for line in answer["answer"].split("\n") if line.startswith("Nur teilweise"))
        assert partial.endswith("Bitte fragen Sie direkt nach: Bürgerservice.")


def test_a_service_ranked_close_to_a_plan_leads_the_answer() -> None:
    answer = ask("Bürgerservice Jena", [MEASURE, SERVICE])
    assert answer["answer"].startswith("Der Bürgerservice meldet Wohnungen an.")
    assert answer["contacts"][0]["id"] == "svc/buergerservice" and answer["contacts"][0]["role"] == "lead"


def test_simple_mode_keeps_the_contact_cards_in_short_lines() -> None:
    normal = ask("Wie melde ich meine Wohnung an?", [MEASURE, SERVICE])
    simple = ask("Wie melde ich meine Wohnung an?", [MEASURE, SERVICE], simple=True)
    assert [c["id"] for c in simple["contacts"]] == [c["id"] for c in normal["contacts"]]
    assert "So erreichen Sie Bürgerservice:" in simple["answer"]
    assert "- Telefon: 03641 49-3800. Stand 2025-03." in simple["answer"].split("\n")
    assert not simple_language_problems(strip_markers(simple["answer"]))


def test_not_covered_names_a_sourced_fallback_and_promises_nothing_in_person() -> None:
    answer = ask("Wie wird das Wetter?", [MEASURE], answerable=False)
    assert answer["coverage"] == "none" and not answer["answered"]
    assert [c["role"] for c in answer["contacts"]] == ["fallback"]
    assert "Teichgraben 5, Jena" in answer["answer"]
    assert "persönlich" not in answer["answer"]


def test_rtl_answers_isolate_numbers_and_keep_citation_markers() -> None:
    answer = ask("كيف أسجل سكني؟", [PROCEDURE], language="ar")
    assert f"{LRI}03641 49-3800{PDI}" in answer["answer"]
    assert f"{LRI}bs-antrag@jena.de{PDI}" in answer["answer"]
    assert re.search(r"\[\d\]", answer["answer"]), "citation markers must stay plain"
    assert LRI not in answer["answer_de"]
    assert "03641 49-3800" in strip_isolates(answer["answer"])


def test_staff_questions_keep_the_responsible_bodies_first() -> None:
    answer = ask("Wer ist zuständig für Sprachmittlung?", [MEASURE], intent="staff")
    assert answer["answer"].startswith("Zuständig sind: Werkleitungen, Büro für Migration.")


def test_choose_lead_prefers_a_practical_unit_close_to_the_top() -> None:
    assert choose_lead([MEASURE, SERVICE], [0.8, 0.5], {}) is SERVICE
    assert choose_lead([MEASURE, SERVICE], [0.8, 0.1], RELATED) is PROCEDURE  # via the plan's practice link
    assert choose_lead([MEASURE], [0.8], {}) is None


def test_a_plan_is_led_by_the_first_service_its_own_practice_examples_name() -> None:
    plan = record("ik/2.8/z3/m1", "measure", "Opfer von Diskriminierung erfahren Beratung.", termin="fortlaufend",
                  practice=("svc/buero", "proc/wohnung-anmelden"), practice_named=("svc/buero",))
    answer = ask("Ich wurde diskriminiert. Wer hilft mir?", [plan, SERVICE])
    assert answer["contacts"][0]["id"] == "svc/buero"
    assert answer["answer"].startswith("Das Büro berät.")
    assert "fortlaufend" in answer["answer"]


def test_the_fallback_shows_only_the_contact_details_chosen_for_it() -> None:
    portal = record("svc/neu-in-jena", "service", "Portal Neu in Jena.\nDas Portal informiert Zugezogene.",
                    title="Portal Neu in Jena", contact={
                        "email": [{"value": "neu@jena.de", "source": "s", "as_of": "2022", "dated": True}],
                        "website": [{"value": "neu.jena.de", "source": "s", "as_of": None}]})
    question = Question(text="Wetter?", language="de", asker_language="de", detected_language="de",
                        answerable=False)
    answer = compose_answer(question, [MEASURE], [0.2], {**RELATED, portal.id: portal}).to_dict()
    cards = {c["id"]: c for c in answer["contacts"]}
    assert set(cards["svc/neu-in-jena"]["contact"]) == {"website"}
    assert "neu@jena.de" not in answer["answer"]
    assert "Das Portal informiert Zugezogene." in answer["answer"]


def test_a_lead_without_contact_still_gets_a_card_from_the_next_reachable_answer() -> None:
    counselling = record("svc/awo", "service", "Die AWO berät Zugewanderte.", title="AWO")  # no contact known
    answer = ask("Wer hilft mir mit dem Brief vom Jobcenter?", [counselling, SERVICE])
    assert answer["answer"].startswith("Die AWO berät Zugewanderte.")
    assert [(c["id"], c["role"]) for c in answer["contacts"]] == [("svc/buergerservice", "related")]


def test_without_a_reachable_lead_a_plan_close_to_the_top_lends_its_named_service() -> None:
    procedure = record("proc/arzt-finden", "procedure", "Gehen Sie zuerst in eine Arztpraxis.", title="Arzt finden")
    plan = record("ik/2.4/z2/m3", "measure", "Die Stadt will Sprachmittlung fördern.", termin="fortlaufend",
                  practice=("svc/buero",), practice_named=("svc/buero",))
    answer = ask("Dolmetscher beim Arzt?", [procedure, plan])
    assert answer["answer"].startswith("Gehen Sie zuerst in eine Arztpraxis.")
    assert [(c["id"], c["role"]) for c in answer["contacts"]] == [("svc/buero", "related")]


def test_a_restriction_noted_on_a_contact_is_kept_in_every_language() -> None:
    answer = ask("how do I register?", [PROCEDURE], language="en")
    assert "bs-antrag@jena.de" in answer["answer"]
    note = "nur für Fachkräfte, nicht für Privatpersonen"
    limited = record("svc/x", "service", "X hilft.", title="X",
                     contact={"phone": [{"value": "0361 123456", "source": "s", "as_of": None, "note": note}]})
    answer = ask("who helps?", [limited], language="uk")
    assert "„nur für Fachkräfte, nicht für Privatpersonen“" in answer["answer"]
