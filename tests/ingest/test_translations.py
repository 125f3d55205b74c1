"""The translation memory, Einfache Sprache, the glossary, search questions and the message catalogs."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest
import textstat
import yaml

from ingest.corpus import load_corpus
from ingest.errors import CorpusError
from ingest.translations import load_glossary, load_language_file, load_search_questions, load_translation_memory
from pipelines.components.query_language_detector import QueryLanguageDetector
from pipelines.i18n import MESSAGES_DIR, catalog, catalog_languages
from pipelines.settings import SIMPLE_GERMAN, SUPPORTED_LANGUAGES
from pipelines.simple_language import MAX_WORDS, sentences, simple_language_problems, word_count
from pipelines.units import strip_footnote_markers
from tests.conftest import CORPUS

TRANSLATED = [lang for lang in SUPPORTED_LANGUAGES if lang != "de"]


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(CORPUS)


@pytest.fixture(scope="module")
def memory(corpus):
    return load_translation_memory(CORPUS / "translations", corpus.units)


@pytest.fixture(scope="module")
def detector() -> QueryLanguageDetector:
    detector = QueryLanguageDetector()
    detector.warm_up()
    return detector


@pytest.mark.parametrize("language", [SIMPLE_GERMAN, *TRANSLATED])
def test_every_unit_is_translated_and_nothing_is_stale(memory, corpus, language: str) -> None:
    coverage = memory.coverage(len(corpus.units))[language]
    assert coverage == {"fresh": len(corpus.units), "stale": 0, "missing": 0, "orphans": 0,
                        "total": len(corpus.units)}, f"{language}: stale {memory.stale.get(language)}"


@pytest.mark.parametrize("language", [SIMPLE_GERMAN, *TRANSLATED])
def test_every_entry_carries_an_unofficial_provenance_label(memory, language: str) -> None:
    language_file = memory.files[language]
    assert language_file.provenance, language
    for entry in language_file.entries.values():
        assert entry.provenance in language_file.provenance


def test_a_changed_source_marks_its_simple_text_and_all_translations_stale(corpus, tmp_path: Path) -> None:
    from dataclasses import replace

    changed = [replace(u, text=u.text + " Geändert.") if u.id == "ik/2.4/z2/m2" else u for u in corpus.units]
    memory = load_translation_memory(CORPUS / "translations", changed)
    assert "ik/2.4/z2/m2" in memory.stale[SIMPLE_GERMAN]
    for language in TRANSLATED:
        # The simple German is no longer current, so nothing made from it is either.
        assert memory.entry("ik/2.4/z2/m2", language) is None


def test_corrupt_translation_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "uk.yaml"
    text = (CORPUS / "translations" / "uk.yaml").read_text(encoding="utf-8")
    path.write_text(text.replace('source_hash: "', 'source_hash: "zz', 1), encoding="utf-8")
    with pytest.raises(CorpusError, match="source_hash must be 12 hex digits") as error:
        load_language_file(path)
    assert error.value.line and error.value.line > 1


def test_simple_german_follows_the_rules_of_einfache_sprache(memory) -> None:
    problems = {uid: simple_language_problems(e.text) for uid, e in memory.fresh[SIMPLE_GERMAN].items()}
    problems = {uid: p for uid, p in problems.items() if p}
    assert not problems, problems
    assert max(word_count(s) for e in memory.fresh[SIMPLE_GERMAN].values() for s in sentences(e.text)) <= MAX_WORDS


def test_simple_language_checker_catches_long_sentences_and_abbreviations() -> None:
    assert simple_language_problems("Der FD Soziales hilft. " + " ".join(["Wort"] * 16) + ".")
    assert not simple_language_problems("Der Fachdienst Soziales hilft Ihnen.\n- Beratung\n- Geld am 29.10.2025.")


def test_simple_german_is_easier_to_read_than_its_source(memory, corpus) -> None:
    textstat.set_lang("de")
    source_scores, simple_scores = [], []
    for unit in corpus.units:
        if unit.kind == "office":
            # An office's text is the list of the action fields it has measures in; the simple text keeps those
            # names as they are, so the formula would measure the names, not the plain language around them.
            continue
        simple = memory.text(unit.id, SIMPLE_GERMAN)
        source = textstat.wiener_sachtextformel(strip_footnote_markers(unit.text), 1)
        easy = textstat.wiener_sachtextformel(simple, 1)
        source_scores.append(source)
        simple_scores.append(easy)
        assert easy <= source, f"{unit.id}: simple {easy:.1f} vs source {source:.1f}"
    # The distribution, for the record: median grade of the sources vs the simple texts.
    print(f"Wiener Sachtextformel median: source {statistics.median(source_scores):.2f}, "
          f"simple {statistics.median(simple_scores):.2f}")
    assert statistics.median(simple_scores) < statistics.median(source_scores) - 3


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_translation_is_detected_as_its_language(memory, detector, language: str) -> None:
    wrong = {uid: detector.detect(e.text) for uid, e in memory.fresh[language].items()
             if detector.detect(e.text) != language}
    assert not wrong, wrong


@pytest.mark.parametrize("language", TRANSLATED)
def test_office_names_stay_german_with_a_translation(memory, corpus, language: str) -> None:
    # The measure on Sprachmittlung names the Büro für Migration und Integration: the German name stays, so a
    # resident can show it at the counter.
    entry = memory.entry("ik/2.1/z4/m2", language)
    assert "Büro für Migration und Integration" in entry.text


def test_glossary_has_every_term_in_every_language(detector) -> None:
    glossary = load_glossary(CORPUS / "glossary.yaml")
    assert len(glossary) >= 40
    for key in ("sprachmittlung", "jobcenter", "kosten-der-unterkunft", "beirat", "migrationsgeschichte",
                "quartiersmanagement", "kita", "bildungs-und-teilhabepaket", "antidiskriminierungsstelle"):
        assert key in glossary
    for term in glossary.values():
        assert set(term.texts) == set(SUPPORTED_LANGUAGES)
        for language, text in term.texts.items():
            assert detector.detect(text) == language, (term.key, language, text)


def test_simple_texts_link_only_glossary_terms(memory) -> None:
    glossary = load_glossary(CORPUS / "glossary.yaml")
    for entry in memory.fresh[SIMPLE_GERMAN].values():
        assert set(entry.terms) <= set(glossary), entry.unit_id


def test_message_catalogs_are_complete_with_the_same_placeholders() -> None:
    master = catalog("de")
    placeholders = {k: set(re.findall(r"\{[a-z_]+\}", v)) for k, v in master.items()}
    assert set(catalog_languages()) >= set(SUPPORTED_LANGUAGES)
    for language in catalog_languages():
        messages = catalog(language)
        assert messages.keys() == master.keys(), language
        assert messages["@language"] == language
        for key, value in messages.items():
            assert set(re.findall(r"\{[a-z_]+\}", value)) == placeholders[key], (language, key)
        assert messages["@dir"] == ("rtl" if language in ("ar", "fa") else "ltr")
    assert sorted(p.stem for p in MESSAGES_DIR.glob("*.json")) == sorted(catalog_languages())


@pytest.mark.parametrize("language", [lang for lang in TRANSLATED if lang != "en"])
def test_ui_strings_are_translated_not_copied_from_english(language: str) -> None:
    english, messages = catalog("en"), catalog(language)
    same = [k for k in messages if k.startswith(("ui.", "answer.")) and messages[k] == english[k]
            and k not in ("ui.title", "ui.assistant", "answer.glossary_item")]
    # A word or two may legitimately be the same ("Sources" in French); whole sentences may not.
    assert len(same) <= 2 and all(len(messages[k].split()) == 1 for k in same), same


def test_search_questions_cover_every_unit_in_every_language(corpus) -> None:
    questions = load_search_questions(CORPUS / "search_questions", corpus.units)
    assert set(questions.by_language) == set(SUPPORTED_LANGUAGES)
    for language, by_unit in questions.by_language.items():
        assert set(by_unit) == {u.id for u in corpus.units}, language
        assert not questions.orphans.get(language)


def test_translation_files_are_valid_yaml_with_matching_language() -> None:
    for path in sorted((CORPUS / "translations").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert data["language"] == path.stem
