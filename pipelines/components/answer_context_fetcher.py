"""Fetch every record an answer may cite besides the ranked units, so that composing it needs no I/O."""

from __future__ import annotations

from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from pipelines.components.translation_memory_lookup import trim_record
from pipelines.compose import FALLBACK_UNITS, MEDIATION_UNIT
from pipelines.records import UnitRecord, shared_record_store


def related_ids(records: list[UnitRecord], depth: int = 3) -> list[str]:
    """Ids the answer may cite besides ``records``: for the top ``depth`` units the services that handle a
    procedure, what puts a plan into practice, the plans a procedure belongs to, the services of responsible
    offices, an office's measures; plus the mediation measure and the fallback contacts."""
    ids: list[str] = [MEDIATION_UNIT, *FALLBACK_UNITS]
    for record in records[:depth]:
        ids += [*record.responsible, *record.practice, *record.links]
        ids += [c.service for c in record.office_cards if c.service]
        ids += list(record.measures)
    return list(dict.fromkeys(ids))


@component
class AnswerContextFetcher:
    """Turns the ranked documents into typed records and reads the records the answer may cite besides them
    (two hops: a plan's procedure and the service that handles it).

    Usage:
    ```python
    fetcher = AnswerContextFetcher(document_store=store_de)
    out = fetcher.run(documents=looked_up_docs, language="uk")
    out["records"][0].id, out["related"]["svc/buergerservice"].contact
    ```
    """

    def __init__(self, document_store: QdrantDocumentStore, cache_size: int = 1024) -> None:
        """
        :param document_store: any store of the served build (its client reads the records collection).
        :param cache_size: records kept in memory.
        """
        if not isinstance(document_store, QdrantDocumentStore):
            raise ValueError("document_store must be a QdrantDocumentStore")
        self.document_store = document_store
        self.cache_size = cache_size
        self._records = shared_record_store(document_store, cache_size)

    def to_dict(self) -> dict[str, Any]:
        """Serialize, store included."""
        return default_to_dict(self, document_store=self.document_store.to_dict(), cache_size=self.cache_size)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnswerContextFetcher:
        """Deserialize, store included."""
        data["init_parameters"]["document_store"] = QdrantDocumentStore.from_dict(
            data["init_parameters"]["document_store"])
        return default_from_dict(cls, data)

    def _fetch(self, build: str, ids: list[str], language: str) -> dict[str, UnitRecord]:
        return {u: UnitRecord.from_payload(trim_record(p, language)) for u, p in self._records.get(build, ids).items()}

    @component.output_types(records=list[UnitRecord], scores=list[float], related=dict[str, UnitRecord])
    def run(self, documents: list[Document], language: str) -> dict[str, Any]:
        """
        :param documents: ranked units with their records (``meta["record"]``), best first.
        :param language: the answer language (records keep German, simple German and this language).
        :returns: ``records`` (typed, ranked), their ``scores`` and the ``related`` records by id.
        """
        records = [UnitRecord.from_payload(d.meta["record"]) for d in documents]
        scores = [float(d.score or 0.0) for d in documents]
        if not documents:
            return {"records": records, "scores": scores, "related": {}}
        build = documents[0].meta["build"]
        related = self._fetch(build, related_ids(records), language)
        second = [u for r in related.values() if r.practical for u in r.responsible if u not in related]
        related.update(self._fetch(build, second, language))
        return {"records": records, "scores": scores, "related": related}
