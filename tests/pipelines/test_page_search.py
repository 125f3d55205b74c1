"""The evidence ranker: candidate pages re-ordered by how close their best sentences come to the question."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from haystack import Document

from pipelines.page_search import (
    EVIDENCE_FEATURES,
    EVIDENCE_WEIGHTS,
    EvidenceRanker,
    SentenceVectors,
    evidence_features,
)


def _unit(*values: float) -> np.ndarray:
    vector = np.zeros(384, dtype=np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


def _vectors() -> SentenceVectors:
    """Two near-identical pages of two towns; only ``b/2`` holds a sentence on the question (axis 0)."""
    german = np.stack([_unit(0.2, 1), _unit(0.1, 1, 0.3), _unit(0.95, 0.3), _unit(0.2, 1)])
    ukrainian = german[[1, 0, 2, 3]]
    offsets = np.array([0, 2, 4])  # a/1: rows 0-1, b/2: rows 2-3
    return SentenceVectors(("a/1", "b/2"), {"de": german, "uk": ukrainian}, {"de": offsets, "uk": offsets},
                           np.log1p(np.array([900.0, 1000.0])))


def _candidates() -> list[Document]:
    return [Document(id="a/1", score=2.0, meta={"page_id": "a/1", "title": "Kita"}),
            Document(id="b/2", score=1.9, meta={"page_id": "b/2", "title": "Kita"})]


def test_features_count_against_the_best_candidate() -> None:
    features = evidence_features(_candidates(), _unit(1), "uk", _vectors())
    assert features.shape == (2, len(EVIDENCE_FEATURES))
    best = EVIDENCE_FEATURES.index("sentence_de_best")
    assert features[1, best] == 0.0 and features[0, best] < 0  # b/2 holds the closer sentence
    assert features[0, EVIDENCE_FEATURES.index("ranker_gap")] == 0.0
    assert np.all(features[:, :5] <= 0)


def test_the_page_with_the_answering_sentence_rises_to_the_top() -> None:
    ranker = EvidenceRanker("unused.npz", top_k=1)
    ranker._vectors = _vectors()
    candidates = _candidates()
    pages = ranker.run(pages=candidates, query_embedding=_unit(1).tolist(), language="uk")["pages"]
    assert [p.meta["page_id"] for p in pages] == ["b/2"]
    assert pages[0].meta["ranker_score"] == 1.9 and pages[0].meta["title"] == "Kita"
    assert candidates[1].score == 1.9 and "ranker_score" not in candidates[1].meta  # inputs unchanged
    # Weighing only the page ranker's score keeps its order.
    only_ranker = EvidenceRanker("unused.npz", weights={"ranker_gap": 1.0})
    only_ranker._vectors = _vectors()
    assert [p.id for p in only_ranker.run(candidates, _unit(1).tolist(), "uk")["pages"]] == ["a/1", "b/2"]


def test_a_language_without_vectors_falls_back_to_german(tmp_path: Path) -> None:
    vectors = _vectors()
    vectors.save(tmp_path / "vectors.npz")
    loaded = SentenceVectors.load(tmp_path / "vectors.npz")
    assert loaded.page_ids == ("a/1", "b/2") and set(loaded.vectors) == {"de", "uk"}
    assert np.allclose(loaded.matrix("ar", "b/2"), vectors.matrix("de", "b/2"), atol=1e-3)
    assert loaded.matrix("de", "c/3").shape == (0, 384)
    assert np.allclose(evidence_features(_candidates(), _unit(1), "ar", loaded),
                       evidence_features(_candidates(), _unit(1), "de", loaded))


def test_arguments_are_checked_early() -> None:
    with pytest.raises(ValueError, match="top_k"):
        EvidenceRanker("x.npz", top_k=0)
    with pytest.raises(ValueError, match="unknown evidence features"):
        EvidenceRanker("x.npz", weights={"title": 1.0})
    assert set(EVIDENCE_WEIGHTS) == set(EVIDENCE_FEATURES)


def test_the_pipeline_with_the_evidence_ranker_round_trips(tmp_path: Path) -> None:
    from haystack import Pipeline
    from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

    from pipelines.page_search import EVIDENCE_CANDIDATES, build_page_search_pipeline
    from tests.conftest import make_settings

    settings = make_settings(tmp_path)
    store = QdrantDocumentStore(location=":memory:", embedding_dim=384, use_sparse_embeddings=True)
    pipeline = build_page_search_pipeline(settings, store, top_k=5, sentence_vectors=tmp_path / "v.npz")
    loaded = Pipeline.loads(pipeline.dumps(), allowed_modules=["pipelines", "haystack_integrations"])
    assert loaded.get_component("page_ranker").top_k == EVIDENCE_CANDIDATES  # the candidates it re-orders
    evidence = loaded.get_component("evidence_ranker")
    assert evidence.top_k == 5 and evidence.vectors_path == str(tmp_path / "v.npz")
    assert evidence.weights == EVIDENCE_WEIGHTS
    assert "evidence_ranker" not in build_page_search_pipeline(settings, store).graph.nodes
