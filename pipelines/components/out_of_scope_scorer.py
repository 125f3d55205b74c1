"""How close a question is to topics the assistant must not answer (weather, passports, attacks …)."""

from __future__ import annotations

from typing import Any

import numpy as np
from haystack import component, default_from_dict, default_to_dict
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore
from haystack_integrations.document_stores.qdrant.converters import DENSE_VECTORS_NAME

from pipelines.store import store_client


@component
class OutOfScopeScorer:
    """The highest similarity of the question to the out-of-scope topics of ``corpus/out_of_scope.yaml``.

    The topics are embedded at ingest into the build's ``oos`` collection. The similarity is one feature of
    the calibrated abstention decision, not a rule on its own. The few dozen topic vectors are loaded once and
    compared in memory: a query to the store would cost more than the comparison.

    Usage:
    ```python
    OutOfScopeScorer(document_store=oos_store).run(query_vector=q)  # {"similarity": 0.87, "topic": "weather"}
    ```
    """

    def __init__(self, document_store: QdrantDocumentStore) -> None:
        """
        :param document_store: the build's out-of-scope collection.
        """
        if not isinstance(document_store, QdrantDocumentStore):
            raise ValueError("document_store must be a QdrantDocumentStore")
        self.document_store = document_store
        self._vectors: np.ndarray | None = None
        self._topics: list[str] = []

    def warm_up(self) -> None:
        """Load the topic vectors of the build."""
        if self._vectors is not None:
            return
        client = store_client(self.document_store)
        vectors, topics, offset = [], [], None
        while True:
            points, offset = client.scroll(self.document_store.index, limit=256, offset=offset,
                                           with_vectors=[DENSE_VECTORS_NAME], with_payload=["meta.topic"])
            for point in points:
                vectors.append(point.vector[DENSE_VECTORS_NAME])
                topics.append(str(((point.payload or {}).get("meta") or {}).get("topic", "")))
            if offset is None:
                break
        matrix = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True) if len(vectors) else np.ones((0, 1))
        self._vectors, self._topics = matrix / np.maximum(norms, 1e-12), topics

    def to_dict(self) -> dict[str, Any]:
        """Serialize, store included."""
        return default_to_dict(self, document_store=self.document_store.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutOfScopeScorer:
        """Deserialize, store included."""
        data["init_parameters"]["document_store"] = QdrantDocumentStore.from_dict(
            data["init_parameters"]["document_store"])
        return default_from_dict(cls, data)

    @component.output_types(similarity=float, topic=str)
    def run(self, query_vector: np.ndarray) -> dict[str, Any]:
        """
        :param query_vector: the question's dense vector.
        :returns: ``similarity`` (cosine, 0 when there are no topics) and the nearest ``topic``.
        """
        self.warm_up()
        assert self._vectors is not None
        if not len(self._vectors):
            return {"similarity": 0.0, "topic": ""}
        query = np.asarray(query_vector, dtype=np.float32)
        scores = self._vectors @ (query / max(float(np.linalg.norm(query)), 1e-12))
        best = int(np.argmax(scores))
        return {"similarity": float(scores[best]), "topic": self._topics[best]}
