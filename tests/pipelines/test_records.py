"""The shared record store of a build: shared while the build is used, gone with it."""

from __future__ import annotations

import gc
import weakref

from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from pipelines.records import shared_record_store


def _store() -> QdrantDocumentStore:
    return QdrantDocumentStore(location=":memory:", index="units_de", embedding_dim=4)


def test_components_of_one_build_share_one_record_store() -> None:
    store = _store()
    first = shared_record_store(store)
    assert shared_record_store(store) is first
    assert shared_record_store(_store()) is not first


def test_a_dropped_build_takes_its_document_store_and_record_cache_along() -> None:
    # A re-ingest replaces every store of the served build: the registry must not keep the old ones.
    store = _store()
    records = shared_record_store(store)
    records._cache[("build", "svc/vhs")] = {"unit_id": "svc/vhs"}  # noqa: SLF001 - a cached record
    gone_store, gone_records = weakref.ref(store), weakref.ref(records)
    del store, records
    gc.collect()
    assert gone_store() is None and gone_records() is None
