"""Qdrant Edge as the embedded store: the Qdrant engine in-process, behind qdrant-client's own interface.

``qdrant-edge-py`` (module ``qdrant_edge``) is the Qdrant team's in-process engine in Rust: the same segments,
HNSW, sparse index with IDF and RRF fusion as a Qdrant server, with no server process. It knows a *shard* (a
directory) and nothing else: no collections, no aliases, no lock. :class:`EdgeLocal` adds exactly those, as
qdrant-client's local mode does for its Python engine, so every layer above — qdrant-haystack's
``QdrantDocumentStore``, the retrievers, :mod:`pipelines.store` with its builds and aliases — runs unchanged on
either engine, and a Qdrant server stays one URL away.

Layout of a store folder (beside which qdrant-client's local-mode files may exist; no name is shared)::

    edge/shards/<collection>/          one shard per collection (``<build>_<language>`` …)
    edge/shards/<collection>.json      its vector configuration and metadata; ``sealed`` once complete
    edge/aliases.json                  alias → collection, replaced atomically (write, fsync, rename)
    edge/writer.lock                   ``flock`` of the one process that may write

* **Atomic, zero-downtime switch.** An ingest writes a new build's shards, then ``update_collection_aliases``
  *seals* each target (flush, optimise into the compact layout, record the point count) and replaces
  ``aliases.json`` in one rename. A reader resolves an alias to a concrete collection and keeps it.
* **Half-written or corrupt builds are never served.** An alias may point only at a sealed collection; opening
  one checks that the shard loads and holds the sealed number of points, and refuses it otherwise
  (:class:`CorruptCollectionError`) instead of answering from part of an index.
* **Several processes.** Any number of processes read (each opens the shards it needs, read-only in use); a
  process takes the writer lock at its first write and keeps it until it closes, so two ingests never
  interleave, and a second writer gets a clear "in use" error.
* **One call of the engine per batch.** ``query_batch_points`` runs every request of a batch (a hybrid request as
  its branches) in one ``query_batch``; the whole payloads of a sealed collection are read once per process
  (see ``_Collection.payloads``), as they are the larger part of what a question costs the engine.
* **Compact layout.** Shards are created without a write-ahead log (a build is written once, then sealed with
  ``flush``), with vectors and payloads ``Memory.Cold`` (read through the memory map when needed, so only the
  pages in use are resident) and one search thread each: requests are already parallel, one per core.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import qdrant_edge as qe
from qdrant_client import QdrantClient
from qdrant_client.client_base import QdrantBase
from qdrant_client.http import models as rest

from pipelines.store import StoreUnavailableError

#: The sub-folder of a store folder that holds the Edge layout.
EDGE_DIR = "edge"
#: The fused score's rank constant when a query does not name one (Qdrant's default; local mode's too).
DEFAULT_RRF_K = 2
#: Results of a prefetch stage that names no limit (Qdrant's default).
DEFAULT_PREFETCH_LIMIT = 10
_DISTANCES = {rest.Distance.COSINE: qe.Distance.Cosine, rest.Distance.DOT: qe.Distance.Dot,
              rest.Distance.EUCLID: qe.Distance.Euclid, rest.Distance.MANHATTAN: qe.Distance.Manhattan}
#: A payload-only collection (the records of a build) still needs one vector name in Edge: an empty sparse one.
_PAYLOAD_ONLY_VECTOR = "_none"


class CorruptCollectionError(RuntimeError):
    """A collection's shard does not load, or holds other points than were sealed: it is never served."""


class WriterLockedError(StoreUnavailableError):
    """Another process holds the store's writer lock (an ingest or a server that re-indexed is running)."""


def edge_root(path: str | os.PathLike[str]) -> Path:
    """The Edge folder inside a store folder."""
    return Path(path) / EDGE_DIR


def _write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


# --- qdrant-client models → Edge ------------------------------------------------------------------------------


def _point_id(value: Any) -> Any:
    return value if isinstance(value, int) else uuid.UUID(str(value))


def _rest_id(value: Any) -> int | str:
    return value if isinstance(value, int) else str(value)


def _sparse(vector: rest.SparseVector) -> qe.SparseVector:
    return qe.SparseVector(indices=list(vector.indices), values=[float(v) for v in vector.values])


def _vector(vector: Any) -> Any:
    if isinstance(vector, rest.SparseVector):
        return _sparse(vector)
    if isinstance(vector, Mapping):
        return {name: _vector(value) for name, value in vector.items()}
    if hasattr(vector, "tolist"):  # numpy
        return vector.tolist()
    return list(map(float, vector))  # the same floats as a comprehension, in a third of the time (384 a query)


def _match(match: Any) -> Any:
    if isinstance(match, rest.MatchValue):
        return qe.MatchValue(match.value)
    if isinstance(match, rest.MatchAny):
        return qe.MatchAny(list(match.any))
    if isinstance(match, rest.MatchExcept):
        return qe.MatchExcept(list(match.except_))
    if isinstance(match, rest.MatchText):
        return qe.MatchText(match.text)
    raise NotImplementedError(f"the embedded store does not support the match {type(match).__name__}")


def _condition(condition: Any) -> Any:
    if isinstance(condition, rest.Filter):
        return to_edge_filter(condition)
    if isinstance(condition, rest.FieldCondition):
        rng = condition.range
        return qe.FieldCondition(
            key=condition.key, match=_match(condition.match) if condition.match is not None else None,
            range=qe.RangeFloat(gte=rng.gte, gt=rng.gt, lte=rng.lte, lt=rng.lt) if rng is not None else None,
            is_empty=condition.is_empty, is_null=condition.is_null)
    if isinstance(condition, rest.IsEmptyCondition):
        return qe.IsEmptyCondition(condition.is_empty.key)
    if isinstance(condition, rest.IsNullCondition):
        return qe.IsNullCondition(condition.is_null.key)
    if isinstance(condition, rest.HasIdCondition):
        return qe.HasIdCondition({_point_id(i) for i in condition.has_id})
    if isinstance(condition, rest.NestedCondition):
        return qe.NestedCondition(condition.nested.key, to_edge_filter(condition.nested.filter))
    raise NotImplementedError(f"the embedded store does not support the condition {type(condition).__name__}")


def _conditions(value: Any) -> list[Any] | None:
    if value is None:
        return None
    return [_condition(c) for c in (value if isinstance(value, list) else [value])]


def to_edge_filter(flt: rest.Filter | None) -> qe.Filter | None:
    """An Edge filter with the meaning of a qdrant-client filter (None stays None)."""
    if flt is None:
        return None
    min_should = None
    if flt.min_should is not None:
        min_should = qe.MinShould(_conditions(flt.min_should.conditions) or [], flt.min_should.min_count)
    return qe.Filter(must=_conditions(flt.must), should=_conditions(flt.should),
                     must_not=_conditions(flt.must_not), min_should=min_should)


def _query(query: Any, using: str | None) -> Any:
    if query is None:
        return None
    if isinstance(query, rest.NearestQuery):
        query = query.nearest
    if isinstance(query, rest.FusionQuery):
        if query.fusion == rest.Fusion.RRF:
            return qe.Fusion.Rrf(k=DEFAULT_RRF_K)
        return qe.Fusion.Dbsf()
    if isinstance(query, rest.RrfQuery):
        k = query.rrf.k if query.rrf.k is not None else DEFAULT_RRF_K
        return qe.Fusion.Rrf(k=k, weights=query.rrf.weights)
    if isinstance(query, rest.SparseVector):
        return qe.Query.Nearest(_sparse(query), using=using)
    if isinstance(query, (list, tuple)) or hasattr(query, "tolist"):
        return qe.Query.Nearest(_vector(query), using=using)
    raise NotImplementedError(f"the embedded store does not support the query {type(query).__name__}")


def _is_rrf(query: Any) -> bool:
    return isinstance(query, rest.RrfQuery) or (isinstance(query, rest.FusionQuery) and query.fusion == rest.Fusion.RRF)


def _both(first: rest.Filter | None, second: rest.Filter | None) -> rest.Filter | None:
    if first is None or second is None:
        return first or second
    return rest.Filter(must=[first, second])


def _prefetch(prefetch: rest.Prefetch) -> qe.Prefetch:
    nested = prefetch.prefetch
    return qe.Prefetch(
        limit=prefetch.limit if prefetch.limit is not None else DEFAULT_PREFETCH_LIMIT,
        query=_query(prefetch.query, prefetch.using),
        prefetches=[_prefetch(p) for p in (nested if isinstance(nested, list) else [nested])] if nested else None,
        filter=to_edge_filter(prefetch.filter), score_threshold=prefetch.score_threshold)


def _with_payload(value: Any) -> Any:
    if isinstance(value, rest.PayloadSelectorInclude):
        return list(value.include)
    if isinstance(value, (bool, list)):
        return value
    raise NotImplementedError(f"the embedded store does not support with_payload={value!r}")


def _with_vectors(value: Any) -> Any:
    return value if isinstance(value, (bool, list)) else bool(value)


# --- Edge → qdrant-client models ------------------------------------------------------------------------------


def _rest_vector(vector: Any) -> Any:
    if vector is None:
        return None
    if isinstance(vector, qe.SparseVector):
        return rest.SparseVector(indices=list(vector.indices), values=list(vector.values))
    if isinstance(vector, Mapping):
        return {name: _rest_vector(value) for name, value in vector.items() if name != _PAYLOAD_ONLY_VECTOR}
    return vector


# The engine's values are already of the model's types: constructing without validation saves a third of the
# conversion, which runs for every point of every query (about 140 per question).


def _scored(point_id: Any, point: qe.ScoredPoint, score: float,
            payload: dict[str, Any] | None = None) -> rest.ScoredPoint:
    """The point as qdrant-client's model, with its id and score already read (and its payload, if not its own)."""
    return rest.ScoredPoint.model_construct(id=_rest_id(point_id), version=point.version, score=score,
                                            payload=point.payload if payload is None else payload,
                                            vector=_rest_vector(point.vector), shard_key=None,
                                            order_value=point.order_value)


def _record(record: qe.Record) -> rest.Record:
    return rest.Record.model_construct(id=_rest_id(record.id), payload=record.payload,
                                       vector=_rest_vector(record.vector), shard_key=None,
                                       order_value=record.order_value)


def _rrf(branches: Sequence[Sequence[qe.ScoredPoint]], limit: int, k: int | None,
         weights: list[float] | None) -> list[tuple[Any, qe.ScoredPoint, float]]:
    """qdrant-client's ``reciprocal_rank_fusion``, step for step (so scores and ties come out the same), over the
    engine's own points: only the points that make the cut become qdrant-client models.

    :returns: (id, point, fused score) of the best ``limit`` points.
    """
    if weights is not None and len(weights) != len(branches):
        raise ValueError("Length of weights must match the number of responses in RRF")
    constant = k if k is not None else DEFAULT_RRF_K

    def score_at(position: int, weight: float) -> float:
        return 0.0 if weight <= 0 else 1 / ((position + 1.0) / weight + constant - 1.0)

    scores: dict[Any, float] = {}
    first: dict[Any, qe.ScoredPoint] = {}
    for index, branch in enumerate(branches):
        weight = weights[index] if weights is not None else 1.0
        for position, point in enumerate(branch):
            point_id = point.id  # the engine makes a new UUID at every access
            if point_id in scores:
                scores[point_id] += score_at(position, weight)
            else:
                first[point_id] = point
                scores[point_id] = score_at(position, weight)
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    return [(point_id, first[point_id], score) for point_id, score in ranked[:limit]]


class FoundPoint(NamedTuple):
    """A point a query found, as the engine gives it: no qdrant-client model is made (about 10 µs a point).

    ``payload`` may be the collection's cached dict (see :meth:`_Collection.payloads`): read it, never change it.
    ``vector`` is what the request asked for: None, a list of floats, or a mapping from vector name to a list of
    floats or a sparse vector (anything with ``indices`` and ``values``).
    """

    payload: dict[str, Any]
    score: float
    vector: Any


class _Plan:
    """How one qdrant-client query request runs in the engine: the requests it needs, and how their results
    become the request's points.

    RRF over one-level prefetches runs as its branches, fused here rather than in the engine: Edge fuses equally
    scored points in no fixed order (a hash map), so the same question could rank tied units differently from one
    request to the next. Fused the way qdrant-client does it (ties keep the order of the branches), the ranking
    is stable and the same as the reference engine's.
    """

    def __init__(self, request: rest.QueryRequest, cached_payloads: bool = False) -> None:
        """
        :param cached_payloads: whether whole payloads come from :meth:`_Collection.payloads` rather than with
            the search.
        """
        if request.lookup_from is not None:
            raise NotImplementedError("the embedded store does not look up vectors in other collections")
        prefetch = request.prefetch
        prefetches = [] if prefetch is None else (prefetch if isinstance(prefetch, list) else [prefetch])
        self.limit = request.limit if request.limit is not None else DEFAULT_PREFETCH_LIMIT
        self.offset = request.offset or 0
        self.score_threshold = request.score_threshold
        with_payload = _with_payload(request.with_payload if request.with_payload is not None else False)
        self.cached_payloads = cached_payloads and with_payload is True
        if self.cached_payloads:
            with_payload = False
        with_vector = _with_vectors(request.with_vector)
        self.fused = _is_rrf(request.query) and bool(prefetches) and not any(p.prefetch for p in prefetches)
        if self.fused:
            rrf = request.query.rrf if isinstance(request.query, rest.RrfQuery) else None
            self.k, self.weights = (rrf.k, rrf.weights) if rrf is not None else (None, None)
            self.edge_requests = [qe.QueryRequest(
                limit=p.limit if p.limit is not None else DEFAULT_PREFETCH_LIMIT, query=_query(p.query, p.using),
                # The top-level filter reaches every branch (as on a server), so branch limits count filtered points.
                filter=to_edge_filter(_both(request.filter, p.filter)), score_threshold=p.score_threshold,
                with_payload=with_payload, with_vector=with_vector) for p in prefetches]
        else:
            self.edge_requests = [qe.QueryRequest(
                limit=self.limit, offset=request.offset, query=_query(request.query, request.using),
                prefetches=[_prefetch(p) for p in prefetches] or None, with_vector=with_vector,
                with_payload=with_payload, filter=to_edge_filter(request.filter),
                score_threshold=request.score_threshold)]

    def _found(self, results: Sequence[Sequence[qe.ScoredPoint]]) -> list[tuple[Any, qe.ScoredPoint, float]]:
        """(id, engine point, score) of the request's points, from the results of its engine requests."""
        if self.fused:
            found = _rrf(results, self.limit + self.offset, self.k, self.weights)
            if self.score_threshold is not None:
                found = [(i, p, score) for i, p, score in found if score >= self.score_threshold]
            return found[self.offset:]
        return [(p.id, p, p.score) for p in results[0]]

    def points(self, results: Sequence[Sequence[qe.ScoredPoint]], collection: _Collection) -> list[rest.ScoredPoint]:
        """The request's points from the results of its engine requests (in their order)."""
        found = self._found(results)
        if not self.cached_payloads:
            return [_scored(i, p, score) for i, p, score in found]
        payloads = collection.payloads(i for i, _, _ in found)
        # A copy of the top level: qdrant-haystack's conversion writes the score into the payload it gets.
        return [_scored(i, p, score, dict(payloads[i])) for i, p, score in found]

    def found(self, results: Sequence[Sequence[qe.ScoredPoint]], collection: _Collection) -> list[FoundPoint]:
        """The request's points as :class:`FoundPoint` (what :meth:`points` returns, before it becomes
        qdrant-client's models)."""
        found = self._found(results)
        if not self.cached_payloads:
            return [FoundPoint(p.payload or {}, score, p.vector) for _, p, score in found]
        payloads = collection.payloads(i for i, _, _ in found)
        return [FoundPoint(payloads[i], score, p.vector) for i, p, score in found]


_UPDATED = rest.UpdateResult(operation_id=0, status=rest.UpdateStatus.COMPLETED)


class _Collection:
    """One open shard and its description (``<name>.json``)."""

    def __init__(self, shard: qe.EdgeShard, description: dict[str, Any]) -> None:
        self.shard = shard
        self.description = description
        self.lock = threading.Lock()  # writes of this process to this shard
        self._payloads: dict[Any, dict[str, Any]] = {}  # point id → payload, once sealed (see payloads())

    @property
    def sealed(self) -> bool:
        """Whether the collection is complete: its points never change again."""
        return bool(self.description.get("sealed"))

    def payloads(self, ids: Iterable[Any]) -> dict[Any, dict[str, Any]]:
        """The whole payloads of points of a sealed collection, each read from the shard once.

        Reading a payload costs the engine three times the search that found the point (about 16 µs a point
        against 5): a third of a question's retrieval. A sealed collection never changes, so each payload is read
        once per process and kept with the open shard. The price is memory: 38 MB (traced) once every one of a
        build's 15,600 points has been found at least once, most of them search questions; a question finds
        about 150. Callers get the stored dicts: they copy what they change.
        """
        known = self._payloads
        missing = list(dict.fromkeys(i for i in ids if i not in known))
        if missing:
            for record in self.shard.retrieve(missing, with_payload=True, with_vector=False):
                known[record.id] = record.payload or {}
        return known

    def info(self) -> rest.CollectionInfo:
        vectors = {name: rest.VectorParams(size=v["size"], distance=rest.Distance(v["distance"]))
                   for name, v in self.description["vectors"].items()}
        sparse = {name: rest.SparseVectorParams(modifier=rest.Modifier.IDF if v.get("idf") else None)
                  for name, v in self.description["sparse_vectors"].items() if name != _PAYLOAD_ONLY_VECTOR}
        shard_info = self.shard.info()
        return rest.CollectionInfo(
            status=rest.CollectionStatus.GREEN, optimizer_status=rest.OptimizersStatusOneOf.OK,
            indexed_vectors_count=shard_info.indexed_vectors_count, points_count=shard_info.points_count,
            segments_count=shard_info.segments_count, payload_schema={},
            config=rest.CollectionConfig(
                params=rest.CollectionParams(vectors=vectors, sparse_vectors=sparse or None),
                hnsw_config=rest.HnswConfig(m=16, ef_construct=100, full_scan_threshold=10000),
                optimizer_config=rest.OptimizersConfig(deleted_threshold=0.2, vacuum_min_vector_number=1000,
                                                       default_segment_number=0, flush_interval_sec=5),
                wal_config=None, quantization_config=None,
                metadata=dict(self.description.get("metadata") or {})))


class EdgeLocal(QdrantBase):
    """qdrant-client's interface (the part Wegweiser and qdrant-haystack use) over Qdrant Edge shards.

    Usage (through :func:`edge_client`, which wraps it in a ``QdrantClient``):
    ```python
    client = edge_client("data/qdrant")
    client.query_points("wegweiser_de", prefetch=[...], query=rest.FusionQuery(fusion=rest.Fusion.RRF))
    ```
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.root = edge_root(path)
        self.shards_dir = self.root / "shards"
        self.shards_dir.mkdir(parents=True, exist_ok=True)
        self._open: dict[str, _Collection] = {}
        self._lock = threading.RLock()
        self._writer: int | None = None  # the writer lock's file descriptor, once taken
        self._aliases: dict[str, str] = {}
        self._aliases_stamp: tuple[int, int] | None = None

    # -- files and locks -----------------------------------------------------------------------------------

    def _description_path(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"not a collection name: {name!r}")
        return self.shards_dir / f"{name}.json"

    def _read_description(self, name: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._description_path(name).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise CorruptCollectionError(f"collection {name}: unreadable description ({exc})") from exc

    def _become_writer(self) -> None:
        with self._lock:
            if self._writer is not None:
                return
            fd = os.open(self.root / "writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise WriterLockedError(
                    f"the embedded store {self.root.parent} is in use by another process that writes to it "
                    "(a running `wegweiser ingest`, or a server that re-indexed)") from None
            self._writer = fd

    def _alias_map(self) -> dict[str, str]:
        path = self.root / "aliases.json"
        try:
            stat = path.stat()
        except FileNotFoundError:
            return {}
        stamp = (stat.st_mtime_ns, stat.st_ino)
        with self._lock:
            if stamp != self._aliases_stamp:
                try:
                    self._aliases = dict(json.loads(path.read_text(encoding="utf-8")))
                except ValueError as exc:
                    raise CorruptCollectionError(f"{path}: unreadable aliases ({exc})") from exc
                self._aliases_stamp = stamp
            return dict(self._aliases)

    def _forget_deleted(self) -> None:
        """Close shards another process deleted (each new alias map is a chance to notice)."""
        for name in [n for n in self._open if not self._description_path(n).exists()]:
            self._open.pop(name).shard.close()

    def _resolve(self, name: str) -> str:
        """The collection a name means (an alias's target, or the name itself)."""
        return self._alias_map().get(name) or name

    def _collection(self, collection_name: str) -> _Collection:
        # A collection already open by its own name needs no alias lookup (a stat of aliases.json, about five a
        # question): no alias may carry a collection's name (see update_collection_aliases).
        opened = self._open.get(collection_name)
        if opened is not None:
            return opened
        name = self._resolve(collection_name)
        with self._lock:
            opened = self._open.get(name)
            if opened is not None:
                return opened
            description = self._read_description(name)
            if description is None:
                raise ValueError(f"Collection {collection_name} not found")
            if not description.get("sealed"):
                # A collection this client created is in _open; any other must be complete to be read.
                raise CorruptCollectionError(f"collection {name} was never completed: it is not served")
            path = self.shards_dir / name
            try:
                shard = qe.EdgeShard.load(str(path))
            except Exception as exc:  # noqa: BLE001 - any failure to load means the shard cannot be served
                raise CorruptCollectionError(f"collection {name}: the shard does not load ({exc})") from exc
            sealed = description.get("sealed")
            if sealed and shard.count(qe.CountRequest(exact=True)) != sealed["points"]:
                shard.close()
                raise CorruptCollectionError(
                    f"collection {name}: holds other points than the {sealed['points']} it was sealed with")
            opened = self._open[name] = _Collection(shard, description)
            return opened

    # -- collections ---------------------------------------------------------------------------------------

    def get_collections(self, **kwargs: Any) -> rest.CollectionsResponse:
        names = sorted(p.name[:-5] for p in self.shards_dir.glob("*.json") if not p.name.startswith("."))
        return rest.CollectionsResponse(collections=[rest.CollectionDescription(name=n) for n in names])

    def collection_exists(self, collection_name: str, **kwargs: Any) -> bool:
        return self._description_path(self._resolve(collection_name)).exists()

    def get_collection(self, collection_name: str, **kwargs: Any) -> rest.CollectionInfo:
        return self._collection(collection_name).info()

    def create_collection(self, collection_name: str,
                          vectors_config: rest.VectorParams | Mapping[str, rest.VectorParams] | None = None,
                          sparse_vectors_config: Mapping[str, rest.SparseVectorParams] | None = None,
                          metadata: dict[str, Any] | None = None, **kwargs: Any) -> bool:
        self._become_writer()
        if isinstance(vectors_config, rest.VectorParams):
            raise NotImplementedError("the embedded store needs named vectors")
        vectors = {name: {"size": params.size, "distance": params.distance.value}
                   for name, params in (vectors_config or {}).items()}
        sparse = {name: {"idf": params.modifier == rest.Modifier.IDF}
                  for name, params in (sparse_vectors_config or {}).items()}
        if not vectors and not sparse:
            sparse = {_PAYLOAD_ONLY_VECTOR: {"idf": False}}
        with self._lock:
            if self.collection_exists(collection_name):
                raise ValueError(f"Collection {collection_name} already exists")
            path = self.shards_dir / collection_name
            shutil.rmtree(path, ignore_errors=True)  # a shard left without its description by a killed write
            config = qe.EdgeConfig(
                # Cold: vectors are read through the memory map as searched. The default (Cached) loads each
                # shard's whole preallocated chunk — 424 MB resident for 23 MB of vectors in 26 collections.
                vectors={name: qe.EdgeVectorParams(size=v["size"], distance=_DISTANCES[rest.Distance(v["distance"])],
                                                   memory=qe.Memory.Cold)
                         for name, v in vectors.items()} or None,
                sparse_vectors={name: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf if v["idf"] else None)
                                for name, v in sparse.items()} or None,
                payload_memory=qe.Memory.Cold, max_search_threads=1, wal_enabled=False)
            shard = qe.EdgeShard.create(str(path), config)
            description = {"vectors": vectors, "sparse_vectors": sparse, "metadata": dict(metadata or {}),
                           "sealed": None}
            _write_json_atomically(self._description_path(collection_name), description)
            self._open[collection_name] = _Collection(shard, description)
        return True

    def update_collection(self, collection_name: str, metadata: dict[str, Any] | None = None,
                          **kwargs: Any) -> bool:
        self._become_writer()
        collection = self._collection(collection_name)
        with self._lock:
            if metadata:
                collection.description["metadata"] = {**collection.description.get("metadata", {}), **metadata}
                _write_json_atomically(self._description_path(self._resolve(collection_name)),
                                       collection.description)
        return True

    def delete_collection(self, collection_name: str, **kwargs: Any) -> bool:
        self._become_writer()
        with self._lock:
            aliases = self._alias_map()
            if collection_name in aliases.values():
                self._write_aliases({a: c for a, c in aliases.items() if c != collection_name})
            opened = self._open.pop(collection_name, None)
            if opened is not None:
                opened.shard.close()
            description = self._description_path(collection_name)
            existed = description.exists()
            description.unlink(missing_ok=True)  # first: a shard without its description is never opened
            shutil.rmtree(self.shards_dir / collection_name, ignore_errors=True)
            return existed

    def seal(self, collection_name: str) -> None:
        """Make a collection servable: flush it, optimise it into the compact layout and record its points."""
        self._become_writer()
        collection = self._collection(collection_name)
        with collection.lock:
            if collection.description.get("sealed"):
                return
            collection.shard.flush()
            collection.shard.optimize()
            collection.shard.flush()
            points = collection.shard.count(qe.CountRequest(exact=True))
            collection.description["sealed"] = {"points": points, "at": round(time.time())}
            _write_json_atomically(self._description_path(collection_name), collection.description)

    # -- aliases -------------------------------------------------------------------------------------------

    def get_aliases(self, **kwargs: Any) -> rest.CollectionsAliasesResponse:
        with self._lock:  # a server asks every second: the moment to let go of shards another process deleted
            self._forget_deleted()
        return rest.CollectionsAliasesResponse(aliases=[
            rest.AliasDescription(alias_name=a, collection_name=c) for a, c in sorted(self._alias_map().items())])

    def get_collection_aliases(self, collection_name: str, **kwargs: Any) -> rest.CollectionsAliasesResponse:
        return rest.CollectionsAliasesResponse(aliases=[
            rest.AliasDescription(alias_name=a, collection_name=c)
            for a, c in sorted(self._alias_map().items()) if c == collection_name])

    def _write_aliases(self, aliases: dict[str, str]) -> None:
        _write_json_atomically(self.root / "aliases.json", aliases)
        with self._lock:
            self._aliases, self._aliases_stamp = dict(aliases), None

    def update_collection_aliases(self, change_aliases_operations: Sequence[Any], **kwargs: Any) -> bool:
        """Apply every operation at once: the new alias map replaces the old one in one rename, after every
        collection it points at is sealed."""
        self._become_writer()
        with self._lock:
            aliases = self._alias_map()
            for operation in change_aliases_operations:
                if isinstance(operation, rest.CreateAliasOperation):
                    target = operation.create_alias.collection_name
                    if self._description_path(operation.create_alias.alias_name).exists():
                        # As on a Qdrant server: a name means one collection, whether it is an alias or not.
                        raise ValueError(f"an alias cannot be named {operation.create_alias.alias_name}: "
                                         "a collection has that name")
                    if not self._description_path(target).exists():
                        raise ValueError(f"Collection {target} not found")
                    self.seal(target)
                    aliases[operation.create_alias.alias_name] = target
                elif isinstance(operation, rest.DeleteAliasOperation):
                    aliases.pop(operation.delete_alias.alias_name, None)
                elif isinstance(operation, rest.RenameAliasOperation):
                    old = operation.rename_alias.old_alias_name
                    if old in aliases:
                        aliases[operation.rename_alias.new_alias_name] = aliases.pop(old)
                else:
                    raise NotImplementedError(f"alias operation {type(operation).__name__}")
            self._write_aliases(aliases)
        return True

    # -- points --------------------------------------------------------------------------------------------

    def upsert(self, collection_name: str, points: Any, **kwargs: Any) -> rest.UpdateResult:
        self._become_writer()
        collection = self._collection(collection_name)
        if isinstance(points, rest.Batch):
            raise NotImplementedError("the embedded store takes a list of points, not a Batch")
        payload_only = not collection.description["vectors"] and _PAYLOAD_ONLY_VECTOR in \
            collection.description["sparse_vectors"]
        edge_points = [qe.Point(_point_id(p.id), _vector(p.vector) if p.vector else {}, p.payload)
                       for p in points]
        if payload_only:
            edge_points = [qe.Point(p.id, {_PAYLOAD_ONLY_VECTOR: qe.SparseVector([], [])}, p.payload)
                           for p in edge_points]
        with collection.lock:
            if collection.description.get("sealed"):
                raise ValueError(f"collection {collection_name} is sealed (served builds never change)")
            collection.shard.update(qe.UpdateOperation.upsert_points(edge_points))
        return _UPDATED

    def delete(self, collection_name: str, points_selector: Any, **kwargs: Any) -> rest.UpdateResult:
        self._become_writer()
        collection = self._collection(collection_name)
        if isinstance(points_selector, rest.PointIdsList):
            operation = qe.UpdateOperation.delete_points([_point_id(i) for i in points_selector.points])
        elif isinstance(points_selector, rest.FilterSelector):
            operation = qe.UpdateOperation.delete_points_by_filter(to_edge_filter(points_selector.filter))
        elif isinstance(points_selector, rest.Filter):
            operation = qe.UpdateOperation.delete_points_by_filter(to_edge_filter(points_selector))
        else:
            operation = qe.UpdateOperation.delete_points([_point_id(i) for i in points_selector])
        with collection.lock:
            if collection.description.get("sealed"):
                raise ValueError(f"collection {collection_name} is sealed (served builds never change)")
            collection.shard.update(operation)
        return _UPDATED

    def create_payload_index(self, collection_name: str, field_name: str, field_schema: Any = None,
                             field_type: Any = None, **kwargs: Any) -> rest.UpdateResult:
        # Payload indexes pay off on large collections; a build's collections hold a few thousand points,
        # which Edge filters faster by scanning.
        return _UPDATED

    def count(self, collection_name: str, count_filter: rest.Filter | None = None, exact: bool = True,
              **kwargs: Any) -> rest.CountResult:
        shard = self._collection(collection_name).shard
        return rest.CountResult(count=shard.count(qe.CountRequest(exact=True, filter=to_edge_filter(count_filter))))

    def retrieve(self, collection_name: str, ids: Sequence[Any], with_payload: Any = True,
                 with_vectors: Any = False, **kwargs: Any) -> list[rest.Record]:
        shard = self._collection(collection_name).shard
        records = shard.retrieve([_point_id(i) for i in ids], with_payload=_with_payload(with_payload),
                                 with_vector=_with_vectors(with_vectors))
        return [_record(r) for r in records]

    def scroll(self, collection_name: str, scroll_filter: rest.Filter | None = None, limit: int = 10,
               order_by: Any = None, offset: Any = None, with_payload: Any = True, with_vectors: Any = False,
               **kwargs: Any) -> tuple[list[rest.Record], Any]:
        if order_by is not None:
            raise NotImplementedError("the embedded store does not scroll by order")
        shard = self._collection(collection_name).shard
        records, next_offset = shard.scroll(qe.ScrollRequest(
            offset=_point_id(offset) if offset is not None else None, limit=limit,
            filter=to_edge_filter(scroll_filter), with_payload=_with_payload(with_payload),
            with_vector=_with_vectors(with_vectors)))
        return [_record(r) for r in records], _rest_id(next_offset) if next_offset is not None else None

    def query_points(self, collection_name: str, query: Any = None, using: str | None = None,
                     prefetch: rest.Prefetch | list[rest.Prefetch] | None = None,
                     query_filter: rest.Filter | None = None, limit: int = 10, offset: int | None = None,
                     with_payload: Any = True, with_vectors: Any = False, score_threshold: float | None = None,
                     lookup_from: Any = None, **kwargs: Any) -> rest.QueryResponse:
        request = rest.QueryRequest.model_construct(
            query=query, using=using, prefetch=prefetch, filter=query_filter, limit=limit, offset=offset,
            with_payload=with_payload, with_vector=with_vectors, score_threshold=score_threshold,
            lookup_from=lookup_from)
        return self.query_batch_points(collection_name, [request])[0]

    def _run_batch(self, collection_name: str, requests: Sequence[rest.QueryRequest],
                   ) -> tuple[_Collection, list[tuple[_Plan, Sequence[Sequence[qe.ScoredPoint]]]]]:
        """Every request in one call of the engine: the collection, and each request's plan with its results."""
        collection = self._collection(collection_name)
        plans = [_Plan(request, cached_payloads=collection.sealed) for request in requests]
        edge_requests = [edge_request for plan in plans for edge_request in plan.edge_requests]
        results = collection.shard.query_batch(qe.QueryBatchRequest(edge_requests)) if edge_requests else []
        runs, start = [], 0
        for plan in plans:
            end = start + len(plan.edge_requests)
            runs.append((plan, results[start:end]))
            start = end
        return collection, runs

    def query_batch_points(self, collection_name: str, requests: Sequence[rest.QueryRequest],
                           **kwargs: Any) -> list[rest.QueryResponse]:
        """Every request in one call of the engine; the branches of a hybrid request run beside the others."""
        collection, runs = self._run_batch(collection_name, requests)
        return [rest.QueryResponse.model_construct(points=plan.points(results, collection)) for plan, results in runs]

    def query_batch_found(self, collection_name: str,
                          requests: Sequence[rest.QueryRequest]) -> list[list[FoundPoint]]:
        """As :meth:`query_batch_points`, with each request's points as :class:`FoundPoint`: for callers that read
        payloads and scores and have no use for qdrant-client's models."""
        collection, runs = self._run_batch(collection_name, requests)
        return [plan.found(results, collection) for plan, results in runs]

    def close(self, **kwargs: Any) -> None:
        with self._lock:
            for collection in self._open.values():
                collection.shard.close()
            self._open.clear()
            if self._writer is not None:
                os.close(self._writer)  # releases the flock
                self._writer = None


def edge_client(path: str | os.PathLike[str]) -> QdrantClient:
    """A ``QdrantClient`` whose engine is Qdrant Edge in this process (see the module docstring)."""
    client = QdrantClient(location=":memory:")  # the wrapper's own set-up; its throwaway engine is replaced
    client._client.close()  # noqa: SLF001
    client._client = EdgeLocal(path)  # noqa: SLF001 - qdrant-client offers no public way to plug in an engine
    return client


def is_edge(client: QdrantClient) -> bool:
    """True for a client made by :func:`edge_client`."""
    return isinstance(client._client, EdgeLocal)  # noqa: SLF001


def query_batch(client: QdrantClient, collection_name: str,
                requests: Sequence[rest.QueryRequest]) -> list[rest.QueryResponse]:
    """``client.query_batch_points`` for requests whose queries are already models (``NearestQuery``,
    ``FusionQuery`` …), on any engine: Edge, local mode or a server.

    ``QdrantClient`` deep-copies every request of a batch to look for text or images to embed; for requests with
    a 384-float vector in each, the copies cost more than Edge's search. Requests without such inference objects
    go to the client's engine unchanged, as they would after the copy.
    """
    return client._client.query_batch_points(collection_name=collection_name, requests=requests)  # noqa: SLF001


def seal_collections(client: QdrantClient, names: Iterable[str]) -> None:
    """Seal collections of an Edge store ahead of an alias switch (a no-op on other engines)."""
    if is_edge(client):
        for name in names:
            client._client.seal(name)  # noqa: SLF001


def _copy_sparse(source: Path, target: Path) -> None:
    """Copy one file's data extents only: its holes stay holes."""
    size = source.stat().st_size
    with open(source, "rb") as src, open(target, "wb") as dst:
        fd, position = src.fileno(), 0
        while position < size:
            try:
                start = os.lseek(fd, position, os.SEEK_DATA)
            except OSError:  # no data after position: the rest is a hole
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            src.seek(start)
            dst.seek(start)
            remaining = end - start
            while remaining:
                chunk = src.read(min(remaining, 1 << 20))
                dst.write(chunk)
                remaining -= len(chunk)
            position = end
        dst.truncate(size)
    shutil.copystat(source, target)


def copy_store(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Copy a store folder (either engine), keeping sparse files sparse and leaving every lock file behind.

    A plain ``shutil.copytree`` writes the holes of Qdrant Edge's shard files as zeros: megabytes in use become
    hundreds of megabytes on disk.
    """
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".lock", "writer.lock"),
                    copy_function=lambda src, dst: _copy_sparse(Path(src), Path(dst)))
