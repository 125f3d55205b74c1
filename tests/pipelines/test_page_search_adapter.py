"""The query adapter: a linear map on the question vector, fitted so that dense search finds the right page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipelines.components.query_adapter import AdapterWeights, QueryAdapter
from pipelines.page_search import QUERY_ADAPTER_PATH


def _units(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _distorted_questions(pages: np.ndarray, per_page: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Questions near their page's vector turned by one shared rotation (as a translation might turn them)."""
    rng = np.random.default_rng(seed)
    numbers = np.repeat(np.arange(len(pages)), per_page)
    q, r = np.linalg.qr(np.eye(16) + 0.35 * np.random.default_rng(7).standard_normal((16, 16)))
    turn = q * np.sign(np.diag(r))  # a rotation near the identity, no axis flipped
    questions = pages[numbers].copy()
    questions[:, :16] = questions[:, :16] @ turn
    return _units(questions + 0.02 * rng.standard_normal(questions.shape)), numbers


def _hit_at_1(questions: np.ndarray, numbers: np.ndarray, pages: np.ndarray) -> float:
    return float(np.mean(np.argmax(questions @ pages.T, axis=1) == numbers))


def test_a_fitted_adapter_finds_more_pages_of_questions_it_was_not_fitted_on() -> None:
    pytest.importorskip("torch")  # fitting only: the pipeline applies the map with numpy
    from eval.omos_adapter import ChunkMatrix, fit_query_adapter

    rng = np.random.default_rng(0)
    pages = np.zeros((40, 384), dtype=np.float32)
    pages[:, :16] = _units(rng.standard_normal((40, 16)))  # the topics span a few directions
    questions, numbers = _distorted_questions(pages, 4, seed=1)
    train, held = numbers < 20, numbers >= 20  # held-out questions are on other pages
    chunks = {"uk": ChunkMatrix(pages, np.arange(len(pages)))}
    weights = fit_query_adapter(questions[train], ["uk"] * int(train.sum()), numbers[train], chunks,
                                adapted=("uk",), steps=60, learning_rate=1e-2)
    adapted = np.stack([weights.apply(q, "uk") for q in questions[held]])
    assert _hit_at_1(adapted, numbers[held], pages) > _hit_at_1(questions[held], numbers[held], pages) + 0.1
    assert np.allclose(weights.apply(questions[0], "de"), questions[0])  # languages it was not fitted on


def test_weights_round_trip_and_the_component_returns_a_unit_vector(tmp_path: Path) -> None:
    delta = np.zeros((384, 384), dtype=np.float32)
    delta[1, 0] = 1.0  # moves weight from axis 1 onto axis 0
    AdapterWeights(delta, ("fr",)).save(tmp_path / "adapter.npz")
    adapter = QueryAdapter(str(tmp_path / "adapter.npz"))
    vector = np.zeros(384)
    vector[1] = 1.0
    moved = np.array(adapter.run(embedding=vector.tolist(), language="fr")["embedding"])
    assert np.isclose(np.linalg.norm(moved), 1.0) and moved[0] > 0.7
    assert adapter.run(embedding=vector.tolist(), language="de")["embedding"] == vector.tolist()


def test_the_shipped_adapter_is_small_and_loads_with_numpy() -> None:
    if not QUERY_ADAPTER_PATH.exists():
        pytest.skip("no adapter fitted (python -m eval.omos fit-ranker)")
    assert QUERY_ADAPTER_PATH.stat().st_size < 1_000_000
    weights = AdapterWeights.load(QUERY_ADAPTER_PATH)
    assert weights.delta.shape == (384, 384) and "de" not in weights.languages
    # A correction, not a new map: the adapted vector stays close to the question's own.
    vector = np.random.default_rng(3).standard_normal(384).astype(np.float32)
    vector /= np.linalg.norm(vector)
    assert 0.5 < float(weights.apply(vector, "uk") @ vector) < 0.9999


@pytest.mark.slow
def test_on_held_out_folds_of_train_the_adapter_finds_more_pages() -> None:
    """Fitted on four page-grouped folds of OMoS-QA train's Ukrainian questions and tried on the fifth (each fold
    in turn), dense search over the real chunk vectors places the right page in the first five more often (on
    two cores: 314 -> 333 of 461 questions, about 15 s)."""
    pytest.importorskip("torch")  # fitting only
    from eval.omos import (
        DATASET_DIR,
        OMOS_HOME,
        _key,
        load_omos_pages,
        load_omos_questions,
        open_cache,
        page_folds,
        question_vectors,
    )
    from eval.omos_adapter import chunk_matrices, fit_query_adapter

    if not (DATASET_DIR.exists() and (OMOS_HOME / "embeddings.sqlite").exists()):
        pytest.skip("needs the OMoS-QA dataset and its vector cache")
    pages, cache = load_omos_pages(languages=("de", "uk")), open_cache()
    page_ids = list(dict.fromkeys(p.id for p in pages))
    chunks = chunk_matrices(pages, cache, page_ids)
    questions = [q for q in load_omos_questions("train") if q.lang == "uk"]
    vectors = question_vectors(questions, cache)
    rows = np.array([vectors[_key(q)] for q in questions], dtype=np.float32)
    numbers = np.array([page_ids.index(q.page_id) for q in questions])

    def hits_at_5(query_rows: np.ndarray, right: np.ndarray) -> int:
        similarities = query_rows @ chunks["uk"].vectors.T
        best = np.full((len(query_rows), len(page_ids)), -1.0)
        for column, page in enumerate(chunks["uk"].page_numbers):
            best[:, page] = np.maximum(best[:, page], similarities[:, column])
        top = np.argsort(-best, axis=1)[:, :5]
        return sum(int(right[i] in top[i]) for i in range(len(right)))

    plain = adapted = 0
    for held in page_folds(questions):
        rest = np.setdiff1d(np.arange(len(questions)), held)
        weights = fit_query_adapter(rows[rest], ["uk"] * len(rest), numbers[rest], chunks, adapted=("uk",))
        plain += hits_at_5(rows[held], numbers[held])
        adapted += hits_at_5(np.stack([weights.apply(v, "uk") for v in rows[held]]), numbers[held])
    assert adapted >= plain + 0.02 * len(questions)


def test_the_pipeline_searches_densely_with_the_adapted_vector(tmp_path: Path) -> None:
    from haystack import Pipeline
    from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

    from pipelines.components.page_ranker import ADAPTED_WEIGHTS, FITTED_WEIGHTS
    from pipelines.page_search import build_page_search_pipeline
    from pipelines.settings import Settings

    AdapterWeights(np.zeros((384, 384), dtype=np.float32), ("uk",)).save(tmp_path / "adapter.npz")
    store = QdrantDocumentStore(location=":memory:", embedding_dim=384, use_sparse_embeddings=True)
    adapted = build_page_search_pipeline(Settings(), store, query_adapter=tmp_path / "adapter.npz")
    senders = {(sender, receiver) for sender, receiver, _ in adapted.graph.edges(data=True)}
    assert ("text_embedder", "query_adapter") in senders and ("query_adapter", "dense_retriever") in senders
    assert ("text_embedder", "dense_retriever") not in senders
    assert adapted.get_component("page_ranker").weights == ADAPTED_WEIGHTS  # fitted with the adapter
    loaded = Pipeline.loads(adapted.dumps(), allowed_modules=["pipelines"])
    assert loaded.get_component("query_adapter").weights_path == str(tmp_path / "adapter.npz")
    plain = build_page_search_pipeline(Settings(), store)
    assert "query_adapter" not in plain.graph.nodes and plain.get_component("page_ranker").weights == FITTED_WEIGHTS
