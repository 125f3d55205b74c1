"""Derived texts (Einfache Sprache, translations) keep the source's modality, restrictions and contacts."""

from __future__ import annotations

from collections import Counter

import pytest

from ingest.content_checks import FINDING_CLASSES, check_derived
from ingest.corpus import load_corpus
from ingest.translations import load_translation_memory
from pipelines.i18n import catalog
from pipelines.units import Unit
from tests.conftest import CORPUS

MEASURE = Unit(id="ik/2.1/z4/m1", kind="measure", title="t", section="s", url="u", source="s", as_of="2024",
               text="Alle Verwaltungseinheiten mit Kundenkontakt sollen Sprachmittlung nutzen. Termin: 2027")
SERVICE = Unit(id="svc/weisser-ring", kind="service", title="t", section="s", url="u", source="s", as_of="2024",
               text="Weisser Ring. Beratung nur mit Termin. Opfertelefon 116 006. "
                    "Die Adresse ist alt. (Diese Angabe ist möglicherweise veraltet.)")


@pytest.fixture(scope="module")
def corpus_and_memory():
    corpus = load_corpus(CORPUS)
    return corpus, load_translation_memory(CORPUS / "translations", corpus.units)


def kinds(unit: Unit, language: str, text: str) -> list[str]:
    return [f.kind for f in check_derived(unit, language, text)]


def test_a_plan_turned_into_a_fact_is_caught_in_every_language() -> None:
    assert kinds(MEASURE, "de-simple", "Alle Ämter nutzen Sprachmittlung.") == ["modality"]
    assert kinds(MEASURE, "de-simple", "Alle Ämter sollen Sprachmittlung nutzen. Das ist geplant bis 2027.") == []
    assert kinds(MEASURE, "en", "All offices use interpreters.") == ["modality"]
    assert kinds(MEASURE, "en", "All offices should use interpreters by 2027.") == []
    assert kinds(MEASURE, "uk", "Усі установи користуються перекладачами.") == ["modality"]
    assert kinds(MEASURE, "tr", "Tüm daireler tercüman kullanır.") == ["modality"]


def test_must_is_fine_where_the_simple_german_says_muss() -> None:
    simple = "Die Stadt will Stellen ausschreiben. Sie beschreibt, was man können muss. Geplant bis 2027."
    assert kinds(MEASURE, "en", "The city plans job ads. They say what you must be able to do.") == ["obligation"]
    assert not check_derived(MEASURE, "en", "The city plans job ads. They say what you must be able to do.", simple)


def test_should_turned_into_must_is_caught() -> None:
    assert "obligation" in kinds(MEASURE, "en", "All offices must use interpreters by 2027.")
    assert "obligation" in kinds(MEASURE, "ru", "Все ведомства обязаны использовать переводчиков до 2027 года.")
    assert "obligation" in kinds(MEASURE, "tr", "2027'ye kadar tüm daireler tercüman kullanmak zorunda.")


def test_a_dropped_restriction_hotline_or_outdated_label_is_caught() -> None:
    found = kinds(SERVICE, "en", "White Ring. Advice by appointment. The address is old.")
    assert Counter(found) == Counter(["restriction", "contact", "dated"])
    assert kinds(SERVICE, "en", "White Ring. Advice only by appointment. Victims' line 116 006. "
                                "The address is old. (This information may be out of date.)") == []


def test_every_finding_has_a_known_class() -> None:
    found = check_derived(SERVICE, "fr", "Rien.") + check_derived(MEASURE, "fr", "Rien.")
    assert found and {f.kind for f in found} <= set(FINDING_CLASSES)


@pytest.mark.parametrize("language", ["de-simple", "en", "uk", "ru", "ar", "fa", "tr", "fr"])
def test_the_translation_memory_keeps_modality_restrictions_and_contacts(corpus_and_memory, language: str) -> None:
    corpus, memory = corpus_and_memory
    units = {u.id: u for u in corpus.units}
    simple = memory.fresh.get("de-simple", {})
    findings = [f for unit_id, entry in memory.fresh.get(language, {}).items()
                for f in check_derived(units[unit_id], language, entry.text,
                                       simple[unit_id].text if unit_id in simple else None)]
    assert not findings, "\n".join(f"{f.unit_id} {f.kind}: {f.detail}" for f in findings)


@pytest.mark.parametrize("language", ["de", "en", "uk", "ru", "ar", "fa", "tr", "fr"])
def test_the_mediation_hint_of_every_answer_presents_the_plan_as_a_plan(language: str) -> None:
    hint = catalog(language)["answer.mediation"]
    checked = "de-simple" if language == "de" else language
    assert [f.kind for f in check_derived(MEASURE, checked, hint) if f.kind in ("modality", "obligation")] == []
