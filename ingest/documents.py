"""Turn units and their translations into Haystack Documents: one per unit and language.

Every document carries the unit's full record in its payload (German text of record, every translation,
responsible offices with their contact, glossary entries), so that one retrieval call returns everything an
answer needs. That makes every answer come from one index build, even while a new build is switched in.
"""

from __future__ import annotations

import hashlib
from typing import Any

from haystack import Document

from ingest.corpus import Corpus
from ingest.translations import GlossaryTerm, TranslationMemory, glossary_keys_in
from pipelines.settings import SIMPLE_GERMAN
from pipelines.units import Unit, strip_footnote_markers


def _office_card(corpus: Corpus, office_id: str) -> dict[str, Any]:
    office = corpus.offices.offices[office_id]
    service = corpus.services.get(office.service) if office.service else None
    return {
        "id": office.id, "name": office.name, "type": office.type, "service": office.service,
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
    keys = list(dict.fromkeys([*(simple.terms if simple else ()), *glossary_keys_in(unit.text, glossary)]))
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
        "office_cards": [_office_card(corpus, o) for o in unit.offices],
        "glossary": terms,
    }
    if unit.kind == "service":
        payload["service"] = {k: unit.extra[k] for k in ("category", "contact", "sources", "short_name",
                                                          "not_in_sources")}
    if unit.kind == "office":
        payload["office"] = {k: unit.extra[k] for k in ("type", "aliases", "service", "contact", "measures")}
        payload["office_cards"] = [_office_card(corpus, unit.id)]
    return payload


def build_documents(corpus: Corpus, memory: TranslationMemory, glossary: dict[str, GlossaryTerm],
                    collection: str) -> list[Document]:
    """One document per unit and per language that has a current text for it.

    :param collection: the collection being built (recorded so that follow-up lookups stay in one build).
    """
    documents = []
    languages = ["de", *[lang for lang in memory.files]]
    for unit in corpus.units:
        payload = unit_payload(unit, corpus, memory, glossary)
        for language in languages:
            if language != "de" and memory.entry(unit.id, language) is None:
                continue
            content = _embed_text(unit, language, memory, corpus)
            meta = {**payload, "language": language, "collection": collection,
                    "embed_hash": hashlib.sha256(content.encode()).hexdigest()[:16]}
            documents.append(Document(id=f"{unit.id}#{language}", content=content, meta=meta))
    return documents
