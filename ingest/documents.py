"""Turn units and their translations into Haystack Documents: one per unit and language.

Searchable documents carry a slim payload (what a hit list shows); each unit's full record (German text of
record, every translation, responsible offices with their contact, glossary entries) is stored once per build
in its records collection and read by unit id for the few units an answer cites. Both belong to one build,
so an answer never mixes two builds, even while a new build is switched in.
"""

from __future__ import annotations

import hashlib
from typing import Any

from haystack import Document

from ingest.corpus import Corpus
from ingest.translations import GlossaryTerm, TranslationMemory
from pipelines.settings import SIMPLE_GERMAN
from pipelines.units import PRACTICAL_KINDS, Unit, strip_footnote_markers


def _office_card(corpus: Corpus, office_id: str, memory: TranslationMemory) -> dict[str, Any]:
    office = corpus.offices.offices[office_id]
    service = corpus.services.get(office.service) if office.service else None
    names = {}
    for language in memory.files:
        entry = memory.entry(office_id, language)
        if entry and entry.title:
            names[language] = entry.title
    return {
        "id": office.id, "name": office.name, "names": names, "type": office.type, "service": office.service,
        "service_name": service.name if service else None,
        "contact": service.contact if service else {},
    }


def _embed_text(unit: Unit, language: str, memory: TranslationMemory, corpus: Corpus) -> str:
    """What is embedded: the unit with its context (field title, goal), in one language."""
    if language == "de":
        return f"{unit.context}\n{strip_footnote_markers(unit.text)}".strip()
    entry = memory.entry(unit.id, language)
    assert entry is not None
    parts: list[str] = []
    if unit.kind in ("measure", "goal") and unit.field:
        field_entry = memory.entry(f"ik/{unit.field}", language)
        if field_entry and field_entry.title:
            parts.append(field_entry.title)
    if unit.kind == "measure" and unit.parent:
        goal_entry = memory.entry(unit.parent, language)
        if goal_entry:
            parts.append(goal_entry.text)
    if entry.title:
        parts.append(entry.title)
    parts.append(entry.text)
    return "\n".join(parts)


def unit_payload(unit: Unit, corpus: Corpus, memory: TranslationMemory,
                 glossary: dict[str, GlossaryTerm]) -> dict[str, Any]:
    """The record of a unit shared by all its language documents."""
    texts = {"de": unit.text}
    titles = {"de": unit.title}
    provenance: dict[str, str] = {}
    for language, language_file in memory.files.items():
        entry = memory.entry(unit.id, language)
        if entry:
            texts[language] = entry.text
            if entry.title:
                titles[language] = entry.title
            provenance[language] = language_file.provenance.get(entry.provenance, entry.provenance)
    simple = memory.entry(unit.id, SIMPLE_GERMAN)
    # Only the terms an editor linked in the simple text: matching every glossary word would flag "Maßnahme".
    keys = list(dict.fromkeys(simple.terms if simple else ()))
    terms = [{"key": k, "term": glossary[k].terms, "text": glossary[k].texts} for k in keys if k in glossary]
    payload = {
        **unit.payload(),
        "text_de": unit.text,
        "texts": texts,
        "titles": titles,
        "provenance": provenance,
        "verantwortung": unit.verantwortung,
        "praxis_beispiele": unit.praxis_beispiele,
        "fokus": unit.fokus,
        "footnotes": [{"n": f.number, "text": f.text} for f in unit.footnotes],
        "office_cards": [_office_card(corpus, o, memory) for o in unit.offices],
        "glossary": terms,
    }
    if unit.kind in PRACTICAL_KINDS:
        payload["service"] = {k: unit.extra[k] for k in ("category", "contact", "sources", "short_name",
                                                          "not_in_sources", "responsible", "links", "conflicts",
                                                          "fact_fields")}
    payload["practice"] = list(unit.extra.get("practice") or [])
    payload["practice_named"] = list(unit.extra.get("practice_named") or [])
    if unit.kind == "office":
        payload["office"] = {k: unit.extra[k] for k in ("type", "aliases", "service", "contact", "measures")}
        payload["office_cards"] = [_office_card(corpus, unit.id, memory)]
    return payload


SEARCH_FIELDS = ("unit_id", "kind", "title", "field", "parent", "offices")


def search_meta(record: dict[str, Any]) -> dict[str, Any]:
    """The slim payload of a searchable point: what grouping, ranking, filters and facets need. Everything
    shown comes from the unit's full record in the build's records collection (Qdrant's embedded mode copies
    every payload it returns, so small payloads keep queries fast)."""
    return {key: record.get(key) for key in SEARCH_FIELDS}


def build_documents(corpus: Corpus, memory: TranslationMemory, glossary: dict[str, GlossaryTerm],
                    build: str) -> tuple[list[Document], dict[str, dict[str, Any]]]:
    """One searchable document per unit and per language that has a current text for it, plus each unit's
    full record (German text of record, every translation, offices with contact, glossary entries).

    :param build: the build being made (recorded so that follow-up lookups stay in one build).
    :returns: (documents, records by unit id).
    """
    documents = []
    records = {}
    languages = ["de", *[lang for lang in memory.files]]
    for order, unit in enumerate(corpus.units):
        record = {**unit_payload(unit, corpus, memory, glossary), "order": order}
        records[unit.id] = record
        slim = search_meta(record)
        for language in languages:
            if language != "de" and memory.entry(unit.id, language) is None:
                continue
            content = _embed_text(unit, language, memory, corpus)
            meta = {**slim, "language": language, "build": build,
                    "embed_hash": hashlib.sha256(content.encode()).hexdigest()[:16]}
            documents.append(Document(id=f"{unit.id}#{language}", content=content, meta=meta))
    return documents, records


def build_question_documents(questions: dict[str, dict[str, list[str]]], records: dict[str, dict[str, Any]],
                             build: str) -> list[Document]:
    """One document per search question, carrying its unit's slim payload (the unit is what is found)."""
    documents = []
    for language, by_unit in questions.items():
        for unit_id, texts in by_unit.items():
            slim = search_meta(records[unit_id])
            for i, text in enumerate(texts):
                meta = {**slim, "language": language, "build": build, "search_question": True,
                        "embed_hash": hashlib.sha256(f"query: {text}".encode()).hexdigest()[:16]}
                documents.append(Document(id=f"{unit_id}#{language}#q{i}", content=text, meta=meta))
    return documents
