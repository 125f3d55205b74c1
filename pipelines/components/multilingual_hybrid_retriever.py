"""Hybrid retrieval in the question's language and in German, one Qdrant collection per language."""

from __future__ import annotations

import dataclasses
from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict
from haystack.dataclasses import SparseEmbedding
from haystack_integrations.components.retrievers.qdrant import QdrantHybridRetriever
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore


@component
class MultilingualHybridRetriever:
    """Runs a ``QdrantHybridRetriever`` (dense e5 + lexical sparse, fused by Qdrant's RRF) on the collection of
    the question's language and on the German collections, then keeps the best hit per unit.

    Each collection holds one point per unit, so a unit can appear once per searched language; grouping by
    unit id before ranking keeps one unit from filling several slots. Scores are the fused RRF scores of each
    collection (comparable across collections because every list is ranked the same way).

    Usage:
    ```python
    retriever = MultilingualHybridRetriever(document_stores={"de": store_de, "uk": store_uk})
    retriever.run(query_embedding=q, query_sparse_embedding=s, language="uk")["documents"]
    ```
    """

    def __init__(self, document_stores: dict[str, QdrantDocumentStore], always: list[str] | None = None,
                 top_k: int = 10) -> None:
        """
        :param document_stores: one store per language code (collection of that language).
        :param always: languages searched for every question (default: German).
        :param top_k: hits per collection.
        :raises ValueError: when a store is not a QdrantDocumentStore or ``always`` names a missing language.
        """
        always = list(always) if always is not None else ["de"]
        if not document_stores or any(not isinstance(s, QdrantDocumentStore) for s in document_stores.values()):
            raise ValueError("document_stores must map language codes to QdrantDocumentStore instances")
        missing = [lang for lang in always if lang not in document_stores]
        if missing:
            raise ValueError(f"no document store for the always-searched languages {missing}")
        if top_k < 1:
            raise ValueError("top_k must be at least 1")
        self.document_stores = document_stores
        self.always = always
        self.top_k = top_k
        self._retrievers = {lang: QdrantHybridRetriever(document_store=store, top_k=top_k, return_embedding=True)
                            for lang, store in document_stores.items()}

    @property
    def languages(self) -> list[str]:
        """Languages with a collection."""
        return list(self.document_stores)

    def to_dict(self) -> dict[str, Any]:
        """Serialize, stores included."""
        return default_to_dict(self, document_stores={k: s.to_dict() for k, s in self.document_stores.items()},
                               always=self.always, top_k=self.top_k)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MultilingualHybridRetriever:
        """Deserialize, stores included."""
        stores = data["init_parameters"]["document_stores"]
        data["init_parameters"]["document_stores"] = {k: QdrantDocumentStore.from_dict(v) for k, v in stores.items()}
        return default_from_dict(cls, data)

    @component.output_types(documents=list[Document])
    def run(self, query_embedding: list[float], query_sparse_embedding: SparseEmbedding, language: str = "de",
            filters: dict[str, Any] | None = None, top_k: int | None = None) -> dict[str, list[Document]]:
        """
        :param query_embedding: the question's dense vector.
        :param query_sparse_embedding: the question's sparse vector.
        :param language: the question's language; its collection is searched if there is one.
        :param filters: Haystack filters applied in every collection.
        :param top_k: hits per collection.
        :returns: the best document per unit, best first.
        """
        variants: dict[str, list[Document]] = {}
        for lang in dict.fromkeys([language, *self.always]):
            retriever = self._retrievers.get(lang)
            if retriever is None:
                continue
            docs = retriever.run(query_embedding=query_embedding, query_sparse_embedding=query_sparse_embedding,
                                 filters=filters, top_k=top_k or self.top_k)["documents"]
            for doc in docs:
                variants.setdefault(doc.meta["unit_id"], []).append(doc)
        # A unit found in several languages is fused once more (summed RRF scores) and represented by its
        # best-ranked variant.
        merged = []
        for docs in variants.values():
            representative = max(docs, key=lambda d: d.score or 0.0)
            total = sum(d.score or 0.0 for d in docs)
            merged.append(dataclasses.replace(representative, score=total, meta={
                **representative.meta, "matched_languages": [d.meta.get("language") for d in docs]}))
        merged.sort(key=lambda d: d.score or 0.0, reverse=True)
        return {"documents": merged}
