"""The multilingual retriever's batched queries return what its qdrant-haystack retrievers returned, to the letter.

The reference is the retriever as it was before its queries were batched: qdrant-haystack's
``QdrantHybridRetriever`` and ``QdrantEmbeddingRetriever``, one call per branch, with their Documents merged. It
runs on the same store as the batched retriever, and both must give the same documents (ids, content, scores,
meta with ``meta["match"]``) in the same order — on qdrant-client's local mode and in-memory engine (what a
Qdrant server is measured against), on Qdrant Edge before and after a collection is sealed (whole payloads are
then read once), and for every dev question on the real index.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from haystack import Document
from haystack.dataclasses import SparseEmbedding
from haystack_integrations.components.retrievers.qdrant import QdrantEmbeddingRetriever, QdrantHybridRetriever
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore
from haystack_integrations.document_stores.qdrant.converters import convert_qdrant_point_to_haystack_document
from qdrant_client import QdrantClient
from qdrant_client.http import models as rest

from pipelines.components.multilingual_hybrid_retriever import MultilingualHybridRetriever
from pipelines.edge import edge_client, seal_collections
from pipelines.point_hits import PointHit
from pipelines.store import create_collection

DIM = 16


class ReferenceRetriever:
    """``MultilingualHybridRetriever.run`` as it was with qdrant-haystack's retrievers (kept verbatim)."""

    def __init__(self, document_stores: dict[str, QdrantDocumentStore], always: list[str] | None = None,
                 dense_also: list[str] | None = None, top_k: int = 10, dense_top_k: int = 30,
                 question_stores: dict[str, QdrantDocumentStore] | None = None, question_top_k: int = 20) -> None:
        self.always = list(always) if always is not None else ["de"]
        self.dense_also = list(dense_also) if dense_also is not None else ["de-simple"]
        self.top_k, self.dense_top_k = top_k, dense_top_k
        self._questions = {lang: QdrantEmbeddingRetriever(document_store=store, top_k=question_top_k)
                           for lang, store in (question_stores or {}).items()}
        self._hybrid = {lang: QdrantHybridRetriever(document_store=store, top_k=top_k, return_embedding=True)
                        for lang, store in document_stores.items()}
        self._dense = {lang: QdrantEmbeddingRetriever(document_store=store, top_k=max(dense_top_k, 1))
                       for lang, store in document_stores.items()}

    @classmethod
    def like(cls, retriever: MultilingualHybridRetriever) -> ReferenceRetriever:
        """A reference with the same stores and parameters as ``retriever``."""
        return cls(document_stores=retriever.document_stores, always=retriever.always,
                   dense_also=retriever.dense_also, top_k=retriever.top_k, dense_top_k=retriever.dense_top_k,
                   question_stores=retriever.question_stores, question_top_k=retriever.question_top_k)

    def run(self, query_vector: np.ndarray, query_sparse_embedding: SparseEmbedding, language: str = "de",
            filters: dict[str, Any] | None = None, top_k: int | None = None) -> dict[str, list[Document]]:
        query_embedding = [float(x) for x in query_vector]
        hybrid_languages = [lang for lang in dict.fromkeys([language, *self.always]) if lang in self._hybrid]
        dense_languages = [lang for lang in dict.fromkeys([*hybrid_languages, *self.dense_also])
                           if lang in self._dense]
        found: list[tuple[Document, float, float | None]] = []
        asked: list[tuple[str, str, float, int]] = []
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
    def _lexical_coverage(query: SparseEmbedding | None, doc: Document) -> float:
        if query is None or not query.indices or doc.sparse_embedding is None:
            return 0.0
        terms = set(doc.sparse_embedding.indices)
        return sum(1 for t in query.indices if t in terms) / len(query.indices)

    @classmethod
    def _merge(cls, found: list[tuple[Document, float, float | None]], asked: list[tuple[str, str, float, int]],
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
                unit["lexical"][lang] = cls._lexical_coverage(sparse, doc)
        questions: dict[str, dict[str, float]] = {}
        votes: dict[str, float] = {}
        for unit_id, lang, cosine, rank in asked:
            questions.setdefault(unit_id, {})[lang] = max(questions.get(unit_id, {}).get(lang, 0.0), cosine)
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
            merged.append(dataclasses.replace(representative, score=match["rrf"], embedding=None,
                                              sparse_embedding=None, meta={**representative.meta, "match": match}))
        merged.sort(key=lambda d: (d.meta["match"]["rrf"], d.meta["match"]["dense"]), reverse=True)
        return merged


def _same(got: list[Document], expected: list[Document], exact: bool = True) -> None:
    """The same documents in the same order: ids, content, scores and meta (``match`` included), exactly.

    :param exact: False for qdrant-client's Python engine, whose cosine similarities of one query differ from one
        call to the next in the 8th decimal (numpy's float32 dot products): scores are then compared to 1e-6.
    """
    assert [d.id for d in got] == [d.id for d in expected]
    if exact:
        assert [d.score for d in got] == [d.score for d in expected]
        assert [d.meta for d in got] == [d.meta for d in expected]
        assert got == expected  # Document equality: every field, vectors and content too
        return
    assert [d.score for d in got] == pytest.approx([d.score for d in expected], abs=1e-6)
    for doc, reference in zip(got, expected, strict=True):
        assert {k: v for k, v in doc.meta.items() if k != "match"} == \
            {k: v for k, v in reference.meta.items() if k != "match"}
        match, expected_match = dict(doc.meta["match"]), dict(reference.meta["match"])
        assert match.pop("hybrid_languages") == expected_match.pop("hybrid_languages")
        assert match == pytest.approx(expected_match, abs=1e-6)
        assert dataclasses.replace(doc, score=None, meta={}) == dataclasses.replace(reference, score=None, meta={})


# --- points read as documents ---------------------------------------------------------------------------------


def _point(payload: dict[str, Any], vector: Any = None, score: float = 0.5) -> rest.ScoredPoint:
    return rest.ScoredPoint(id="58f640f3-f162-5b0d-bc21-0b171a07207a", version=0, score=score, payload=payload,
                            vector=vector)


@pytest.mark.parametrize("point", [
    _point({"id": "u#de", "content": "Text", "blob": None, "meta": {"unit_id": "u", "offices": ["o"]}, "score": None}),
    _point({"id": "u#de", "content": "Text", "meta": {"unit_id": "u"}, "extra": 1, "title": "beside meta"},
           vector={"text-dense": [0.5, 0.25], "text-sparse": rest.SparseVector(indices=[3, 9], values=[1.0, 2.0])}),
    _point({"id": "u#de", "content": None, "blob": {"data": [104, 105], "mime_type": "text/plain", "meta": {}},
            "meta": {}}, vector={"text-dense": [0.5, 0.25]}),
    _point({"id": "u#uk", "content": "Текст"}, score=0.0),
], ids=["as-stored", "vectors-and-keys-beside-meta", "blob-without-sparse", "no-meta"])
def test_a_hit_becomes_the_document_qdrant_haystack_makes_of_the_point(point: rest.ScoredPoint) -> None:
    expected = convert_qdrant_point_to_haystack_document(point.model_copy(deep=True), use_sparse_embeddings=True)
    hit = PointHit.from_point(point)
    document = hit.to_document()
    assert document == expected and document.score == expected.score
    document.meta["unit_id"] = "changed"  # a document owns its meta: the hit (and the next document) keep theirs
    assert hit.to_document() == expected
    assert hit.to_document(score=1.0, embedding=None, sparse_embedding=None) == \
        dataclasses.replace(expected, score=1.0, embedding=None, sparse_embedding=None)


# --- a small synthetic corpus, on every engine -----------------------------------------------------------------

LANGUAGES = ("de", "de-simple", "uk")
QUESTION_LANGUAGES = ("de", "uk")


def _unit_vector(rng: random.Random) -> list[float]:
    vector = np.array([rng.gauss(0, 1) for _ in range(DIM)], dtype=np.float32)
    return (vector / np.linalg.norm(vector)).tolist()


def _sparse(rng: random.Random, terms: int) -> SparseEmbedding:
    # Weights of 1, as the lexical embedder writes them: many sparse and fused scores tie.
    return SparseEmbedding(indices=sorted(rng.sample(range(40), terms)), values=[1.0] * terms)


def _documents(seed: int = 3) -> tuple[dict[str, list[Document]], dict[str, list[Document]]]:
    """Units in three languages (some missing in a language, a few with search questions only) and 2–4 search
    questions per unit in two languages."""
    rng = random.Random(seed)
    units: dict[str, list[Document]] = {lang: [] for lang in LANGUAGES}
    questions: dict[str, list[Document]] = {lang: [] for lang in QUESTION_LANGUAGES}
    for i in range(70):
        unit_id, kind = f"svc/unit-{i}", rng.choice(["service", "measure", "office"])
        base = {"unit_id": unit_id, "kind": kind, "title": f"Einheit {i}", "offices": [f"office-{i % 5}"],
                "build": "b1"}
        for lang in LANGUAGES:
            if i >= 64 or rng.random() < 0.15:
                continue  # only search questions (i ≥ 64), or not translated into this language
            units[lang].append(Document(id=f"{unit_id}#{lang}", content=f"Text {i} {lang}",
                                        meta={**base, "language": lang}, embedding=_unit_vector(rng),
                                        sparse_embedding=_sparse(rng, rng.randint(2, 7))))
        for lang in QUESTION_LANGUAGES:
            for n in range(rng.randint(2, 4)):
                questions[lang].append(Document(
                    id=f"{unit_id}#{lang}#q{n}", content=f"Frage {n} zu {i}",
                    meta={**base, "language": lang, "search_question": True}, embedding=_unit_vector(rng)))
    return units, questions


def _stores(client: QdrantClient, seal: bool) -> tuple[dict[str, QdrantDocumentStore], dict[str, QdrantDocumentStore]]:
    units, questions = _documents()

    def store(name: str, docs: list[Document]) -> QdrantDocumentStore:
        create_collection(client, name, DIM, {})
        document_store = QdrantDocumentStore(location=":memory:", index=name, embedding_dim=DIM,
                                             use_sparse_embeddings=True, sparse_idf=True, progress_bar=False)
        document_store._client = client  # noqa: SLF001 - as pipelines.store.attach_shared_client does
        document_store.write_documents(docs)
        return document_store

    document_stores = {lang: store(f"units_{lang.replace('-', '_')}", docs) for lang, docs in units.items()}
    question_stores = {lang: store(f"questions_{lang}", docs) for lang, docs in questions.items()}
    if seal:
        seal_collections(client, [s.index for s in [*document_stores.values(), *question_stores.values()]])
    return document_stores, question_stores


@pytest.fixture(params=["memory", "local", "edge", "edge-sealed"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[dict[str, QdrantDocumentStore],
                                                                              dict[str, QdrantDocumentStore], bool]]:
    """The synthetic corpus on qdrant-client's in-memory engine, its local mode (the stand-ins for a server) and
    Qdrant Edge, unsealed and sealed; and whether the engine's scores are reproducible to the last bit."""
    if request.param == "memory":
        client = QdrantClient(location=":memory:")
    elif request.param == "local":
        client = QdrantClient(path=str(tmp_path / "local"))
    else:
        client = edge_client(tmp_path / "edge")
    yield (*_stores(client, seal=request.param == "edge-sealed"), request.param.startswith("edge"))
    client.close()


def _questions(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    kinds = {"field": "meta.kind", "operator": "in", "value": ["service", "office"]}
    return [{"query_vector": np.array(_unit_vector(rng), dtype=np.float32),
             "query_sparse_embedding": _sparse(rng, rng.randint(1, 4)),
             "language": rng.choice(["de", "uk", "fr", "de-simple"]),
             "filters": kinds if i % 5 == 4 else None, "top_k": 6 if i % 7 == 6 else None} for i in range(40)]


def test_batched_queries_return_what_the_qdrant_haystack_retrievers_returned(stores) -> None:  # type: ignore[no-untyped-def]
    document_stores, question_stores, exact = stores
    retriever = MultilingualHybridRetriever(document_stores=document_stores, question_stores=question_stores,
                                            top_k=8, dense_top_k=12, question_top_k=10)
    reference = ReferenceRetriever.like(retriever)
    seen_question_only = seen_filtered = 0
    for inputs in _questions(11):
        got = retriever.run(**inputs)["documents"]
        _same(got, reference.run(**inputs)["documents"], exact)
        seen_question_only += any(d.meta.get("search_question") for d in got)
        seen_filtered += bool(inputs["filters"]) and bool(got)
        _same(retriever.run(**inputs)["documents"], got, exact)  # a second run (payloads now read once) agrees
    assert seen_question_only and seen_filtered  # every path of the merge was taken


def test_candidates_own_their_meta(stores) -> None:  # type: ignore[no-untyped-def]
    """Changing a candidate's meta (never done, but possible) must not change the next question's candidates."""
    document_stores, question_stores, exact = stores
    retriever = MultilingualHybridRetriever(document_stores=document_stores, question_stores=question_stores)
    inputs = _questions(5)[0]
    first = retriever.run(**inputs)["documents"]
    expected = [Document.from_dict(d.to_dict(flatten=False)) for d in first]
    for doc in first:
        doc.meta["unit_id"] = "changed"
        doc.meta.pop("title", None)
    _same(retriever.run(**inputs)["documents"], expected, exact)


# --- the real index --------------------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.slow
def test_every_dev_question_gets_the_same_candidates_as_before(served, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The served ask pipeline's retriever against the reference, on the inputs it gets for every dev question
    of every language (and the same inputs with a filter and a smaller top_k)."""
    from eval.questions import load_questions
    from pipelines.query import ask

    retriever = served.ask.get_component("retriever")
    assert isinstance(retriever, MultilingualHybridRetriever)
    reference = ReferenceRetriever.like(retriever)
    calls: list[tuple[dict[str, Any], list[Document]]] = []
    run = retriever.run

    def recording_run(**inputs: Any) -> dict[str, list[Document]]:
        result = run(**inputs)
        calls.append((inputs, result["documents"]))
        return result

    monkeypatch.setattr(retriever, "run", recording_run)
    questions = [q for q in load_questions(split="dev") if q.source_file != "followups"]
    for q in questions:
        ask(served.ask, q.question, q.lang, q.simple)
    monkeypatch.undo()
    assert len(calls) >= len(questions) >= 150
    assert {inputs["language"] for inputs, _ in calls} >= {"de", "uk", "ar", "fa", "ru", "tr", "en", "fr"}
    for inputs, got in calls:
        _same(got, reference.run(**inputs)["documents"])
    services = {"field": "meta.kind", "operator": "==", "value": "service"}
    for inputs, _ in calls[::10]:
        variant = {**inputs, "filters": services, "top_k": 5}
        got = retriever.run(**variant)["documents"]
        assert got and all(d.meta["kind"] == "service" for d in got)
        _same(got, reference.run(**variant)["documents"])
