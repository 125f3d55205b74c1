"""Points found by a Qdrant query, read as the Haystack documents qdrant-haystack stores in them.

qdrant-haystack turns every point a query returns into a ``Document`` (``Document.from_dict`` of the payload);
a question's retrieval returns about 150 points, of which about 65 survive as candidates. :class:`PointHit`
reads a point for the price of a tuple, and :meth:`PointHit.to_document` makes the same ``Document`` for the
points that are kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from haystack import Document
from haystack.dataclasses import ByteStream, SparseEmbedding
from haystack_integrations.document_stores.qdrant.converters import DENSE_VECTORS_NAME, SPARSE_VECTORS_NAME
from qdrant_client import QdrantClient
from qdrant_client.http import models as rest

from pipelines.edge import EdgeLocal, FoundPoint, query_batch

#: The payload keys that are a Document's own fields (``Document.from_dict`` puts every other key into meta).
_DOCUMENT_FIELDS = frozenset({"id", "content", "blob", "meta", "score", "embedding", "sparse_embedding",
                              "content_type", "id_hash_keys", "dataframe"})


class SparseLike(Protocol):
    """A sparse vector: qdrant-client's ``SparseVector`` or the embedded engine's."""

    indices: Sequence[int]
    values: Sequence[float]


class PointHit(NamedTuple):
    """One point a query found: the stored document's fields, the query's score and the vectors it asked for.

    Usage:
    ```python
    hits = [PointHit.from_point(p) for p in client.query_points("units_de", query=vector, using="text-dense").points]
    hits[0].meta["unit_id"], hits[0].score
    hits[0].to_document()  # the Document qdrant-haystack's retrievers return for this point
    ```
    """

    id: str
    content: str | None
    meta: dict[str, Any]
    score: float | None
    blob: dict[str, Any] | None = None
    embedding: list[float] | None = None
    #: The point's sparse vector (qdrant-client's or the engine's: ``indices`` and ``values``), if asked for.
    sparse: SparseLike | None = None

    @classmethod
    def from_point(cls, point: rest.ScoredPoint | FoundPoint) -> PointHit:
        """Read a point of a collection written by ``QdrantDocumentStore`` (with or without sparse vectors):
        qdrant-client's model, or the embedded engine's :class:`~pipelines.edge.FoundPoint`.

        The payload is not copied: a hit shares it with the point, and nothing here changes either.
        """
        payload = point.payload or {}
        meta = payload.get("meta") or {}
        if not _DOCUMENT_FIELDS.issuperset(payload):
            # Keys stored beside the document's fields belong to its meta (as Document.from_dict reads them).
            meta = {**meta, **{k: v for k, v in payload.items() if k not in _DOCUMENT_FIELDS}}
        vector = point.vector
        if type(vector) is dict or isinstance(vector, Mapping):  # the first test spares the ABC check
            embedding = vector.get(DENSE_VECTORS_NAME)
            sparse = vector.get(SPARSE_VECTORS_NAME)
            sparse = sparse if hasattr(sparse, "indices") else None
        else:  # a store without sparse vectors keeps its one dense vector unnamed
            embedding, sparse = (vector if vector is not None else payload.get("embedding")), None
        return cls(id=payload.get("id") or "", content=payload.get("content"), meta=meta, score=point.score,
                   blob=payload.get("blob"), embedding=embedding, sparse=sparse)

    def to_document(self, **changes: Any) -> Document:
        """The Document qdrant-haystack makes of this point, with ``changes`` (fields of Document) applied.

        :param changes: field values that replace the hit's (e.g. ``score=…, embedding=None``).
        """
        fields: dict[str, Any] = {"id": self.id, "content": self.content, "meta": self.meta, "score": self.score,
                                  "embedding": self.embedding}
        if "blob" not in changes and self.blob:
            fields["blob"] = ByteStream.from_dict(self.blob)
        if "sparse_embedding" not in changes and self.sparse is not None:
            fields["sparse_embedding"] = SparseEmbedding(indices=list(self.sparse.indices),
                                                         values=list(self.sparse.values))
        if "meta" not in changes:
            fields["meta"] = dict(self.meta)  # a Document owns its meta, as after Document.from_dict
        return Document(**{**fields, **changes})


def query_hits(client: QdrantClient, collection_name: str,
               requests: Sequence[rest.QueryRequest]) -> list[list[PointHit]]:
    """Each request's points as hits, in one ``query_batch_points`` (see :func:`pipelines.edge.query_batch`).

    On the embedded engine the points go straight from the engine to hits, without qdrant-client's models in
    between (about 140 points a question); on local mode and a server they are read from the models.
    """
    engine = client._client  # noqa: SLF001 - see pipelines.edge.query_batch
    if isinstance(engine, EdgeLocal):
        return [[PointHit.from_point(point) for point in found]
                for found in engine.query_batch_found(collection_name, requests)]
    return [[PointHit.from_point(point) for point in response.points]
            for response in query_batch(client, collection_name, requests)]
