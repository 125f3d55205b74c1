"""Look up each retrieved unit's record and its text in the answer language (translation memory)."""

from __future__ import annotations

import dataclasses
from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from pipelines.records import shared_record_store
from pipelines.settings import SIMPLE_GERMAN


def display_text(record: dict[str, Any], language: str, plain_german: bool = True) -> dict[str, Any]:
    """The text, title and provenance to show for one unit in one language.

    German answers use the Einfache-Sprache text (plain words; the citation keeps the text of record); other
    languages use their translation of it. A language without a translation gets ``method = "missing"`` and
    the simple German text, for the translator to handle.
    """
    texts: dict[str, str] = record.get("texts") or {}
    titles: dict[str, str] = record.get("titles") or {}
    provenance: dict[str, str] = record.get("provenance") or {}
    simple = texts.get(SIMPLE_GERMAN) if plain_german else None
    if language == "de":
        chosen = SIMPLE_GERMAN if simple else "de"
        return {"language": "de", "text": texts.get(chosen, record.get("text_de", "")),
                "title": titles.get(SIMPLE_GERMAN) or titles.get("de") or record.get("title", ""),
                "method": "source" if chosen == "de" else "memory", "provenance": provenance.get(chosen)}
    if language in texts:
        return {"language": language, "text": texts[language],
                "title": titles.get(language) or record.get("title", ""), "method": "memory",
                "provenance": provenance.get(language)}
    return {"language": "de", "text": texts.get(SIMPLE_GERMAN) or record.get("text_de", ""),
            "title": titles.get(SIMPLE_GERMAN) or record.get("title", ""), "method": "missing",
            "provenance": provenance.get(SIMPLE_GERMAN)}


def trim_record(record: dict[str, Any], language: str) -> dict[str, Any]:
    """The record with only the languages an answer in ``language`` needs (German, simple German, the
    language itself): the pipeline copies what passes between components, and nine languages of every
    text would make that copy the slowest step."""
    keep = {"de", SIMPLE_GERMAN, language}

    def only(mapping: dict[str, Any] | None) -> dict[str, Any]:
        return {k: v for k, v in (mapping or {}).items() if k in keep}

    trimmed = {**record, "texts": only(record.get("texts")), "titles": only(record.get("titles")),
               "provenance": only(record.get("provenance"))}
    trimmed["office_cards"] = [{**card, "names": only(card.get("names"))} for card in record.get("office_cards") or []]
    trimmed["glossary"] = [{**term, "term": only(term.get("term")), "text": only(term.get("text"))}
                           for term in record.get("glossary") or []]
    return trimmed


@component
class TranslationMemoryLookup:
    """Attaches to each retrieved unit its full record (``meta["record"]``) and the text to show in the answer
    language (``meta["display"]``), looked up by unit id and language.

    The translation memory is indexed with every build (one record per unit), so the lookup reads the same
    build the unit was retrieved from. Records are cached per build: a build never changes.

    Usage:
    ```python
    lookup = TranslationMemoryLookup(document_store=store_de)
    lookup.run(documents=docs, language="uk")["documents"][0].meta["display"]["text"]
    ```
    """

    def __init__(self, document_store: QdrantDocumentStore, plain_german: bool = True,
                 cache_size: int = 1024) -> None:
        """
        :param document_store: any store of the served build (its client reads the records).
        :param plain_german: show German questions the Einfache-Sprache text where there is one.
        :param cache_size: records kept in memory.
        """
        if not isinstance(document_store, QdrantDocumentStore):
            raise ValueError("document_store must be a QdrantDocumentStore")
        self.document_store = document_store
        self.plain_german = plain_german
        self.cache_size = cache_size
        self._records = shared_record_store(document_store, cache_size)

    def to_dict(self) -> dict[str, Any]:
        """Serialize, store included."""
        return default_to_dict(self, document_store=self.document_store.to_dict(), plain_german=self.plain_german,
                               cache_size=self.cache_size)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TranslationMemoryLookup:
        """Deserialize, store included."""
        data["init_parameters"]["document_store"] = QdrantDocumentStore.from_dict(
            data["init_parameters"]["document_store"])
        return default_from_dict(cls, data)

    @component.output_types(documents=list[Document], method=str)
    def run(self, documents: list[Document], language: str) -> dict[str, Any]:
        """
        :param documents: ranked units.
        :param language: the answer language.
        :returns: copies of the documents with ``meta["record"]`` and ``meta["display"]``; ``method`` is
            ``memory`` when every unit had a text in the language, ``missing`` when one had none, ``source``
            when only German source texts were used.
        """
        result = []
        by_build: dict[str, list[str]] = {}
        for doc in documents:
            by_build.setdefault(doc.meta["build"], []).append(doc.meta["unit_id"])
        records = {(b, u): r for b, ids in by_build.items() for u, r in self._records.get(b, ids).items()}
        for doc in documents:
            record = records.get((doc.meta["build"], doc.meta["unit_id"]))
            if record is None:  # the build was dropped under us; the caller retries on a fresh build
                raise LookupError(f"no record for {doc.meta['unit_id']} in build {doc.meta['build']}")
            result.append(dataclasses.replace(doc, meta={**doc.meta, "record": trim_record(record, language),
                                                         "display": display_text(record, language,
                                                                                 self.plain_german)}))
        methods = {d.meta["display"]["method"] for d in result}
        method = "missing" if "missing" in methods else ("memory" if "memory" in methods else "source")
        return {"documents": result, "method": method}
