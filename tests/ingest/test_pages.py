"""The page source: loading, chunking, the vector cache, and indexing into a separate store (real model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ingest.pages import (
    EmbeddingCache,
    Page,
    PageSourceError,
    chunk_documents,
    chunk_page,
    load_pages,
    page_collection,
    validate_page,
)
from tests.conftest import FIXTURES, make_settings

PAGES = FIXTURES / "pages"


def test_jsonl_pages_keep_id_language_title_url_and_meta() -> None:
    pages = load_pages(PAGES / "pages.jsonl")
    assert len(pages) == 9
    first = pages[0]
    assert (first.id, first.language, first.title) == ("jena/anmeldung", "de", "Wohnung anmelden")
    assert first.url == "https://example.org/anmeldung" and first.meta == {"topic": "anmeldung"}
    assert {p.language for p in pages} == {"de", "en", "uk"}


def test_markdown_folder_pages_take_id_from_path_and_language_from_suffix() -> None:
    pages = {(p.id, p.language): p for p in load_pages(PAGES / "markdown")}
    german = pages[("beratung/migrationsberatung", "de")]
    assert german.title == "Migrationsberatung"
    assert german.url == "https://example.org/migrationsberatung"
    assert german.meta == {"audience": "Erwachsene"}
    assert german.sentences[0] == "Migrationsberatung"  # the heading is the first sentence, without '#'
    assert ("beratung/migrationsberatung", "en") in pages


@pytest.mark.parametrize(("raw", "message"), [
    ({"id": "a b", "text": "x", "language": "de"}, "id"),
    ({"id": "a", "text": " ", "language": "de"}, "no text"),
    ({"id": "a", "text": "x", "language": "German"}, "language"),
    ({"id": "a", "text": "x", "language": "de", "meta": [1]}, "meta"),
])
def test_malformed_pages_are_refused(raw: dict, message: str) -> None:
    with pytest.raises(PageSourceError, match=message):
        validate_page(raw, "test")


def test_duplicate_page_and_bad_json_are_refused(tmp_path: Path) -> None:
    line = json.dumps({"id": "a", "text": "x", "language": "de"})
    (tmp_path / "dup.jsonl").write_text(f"{line}\n{line}\n", encoding="utf-8")
    with pytest.raises(PageSourceError, match="twice"):
        load_pages(tmp_path / "dup.jsonl")
    (tmp_path / "bad.jsonl").write_text("{not json\n", encoding="utf-8")
    with pytest.raises(PageSourceError, match="bad.jsonl:1"):
        load_pages(tmp_path / "bad.jsonl")


def test_chunks_cover_every_sentence_once_with_stable_ids() -> None:
    text = "Titel\n" + "\n".join(f"Satz {i} " + "x" * 150 for i in range(12))
    page = Page("p/1", "de", "Titel", text)
    chunks = chunk_page(page)
    covered = [i for c in chunks for i in range(c.first, c.last + 1)]
    assert covered == list(range(len(page.sentences)))
    assert [c.id for c in chunks] == [f"p/1#de/c{i}" for i in range(len(chunks))]
    assert len(chunks) > 1 and all(c.text.startswith("Titel\n") for c in chunks[1:])
    assert all(len(c.text) <= 600 + len("Titel\n") + 160 for c in chunks)


def test_empty_lines_keep_sentence_numbers_aligned_with_the_original() -> None:
    page = validate_page({"id": "p", "text": "Titel\nA\n\nB", "language": "ar"}, "test")
    assert page.sentences == ["Titel", "A", "", "B"]
    assert chunk_page(page)[0].text == "Titel\nA\nB"


def test_chunk_documents_carry_page_and_sentence_range() -> None:
    docs = chunk_documents(load_pages(PAGES / "pages.jsonl"))
    doc = docs[0]
    assert doc.id == "jena/anmeldung#de/c0"
    assert doc.meta["page_id"] == "jena/anmeldung" and doc.meta["language"] == "de"
    assert (doc.meta["first"], doc.meta["last"]) == (0, 4)
    assert doc.meta["m_topic"] == "anmeldung"


def test_collection_names_are_per_language() -> None:
    assert page_collection("omos", "uk") == "pages_omos_uk"


@pytest.mark.integration
def test_cache_embeds_each_text_once(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "vectors.sqlite")
    first = cache.embed(["Wohnung anmelden", "Kita-Platz"], is_query=False)
    assert first.shape == (2, 384)
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-3)
    again = EmbeddingCache(tmp_path / "vectors.sqlite")  # another process would see the same vectors
    assert len(again.get([])) == 0
    calls: list[tuple[int, int]] = []
    assert np.allclose(again.embed(["Kita-Platz"], is_query=False, progress=lambda *a: calls.append(a)), first[1])
    assert calls == []  # nothing left to embed


@pytest.mark.integration
def test_index_and_search_every_language_in_a_separate_store(tmp_path: Path) -> None:
    from ingest.pages import index_pages
    from pipelines.page_search import build_page_search_pipeline
    from pipelines.store import close_shared_client, open_document_store, shared_client

    settings = make_settings(tmp_path, qdrant_path=tmp_path / "pages")
    cache = EmbeddingCache(tmp_path / "vectors.sqlite")
    pages = load_pages(PAGES / "pages.jsonl")
    report = index_pages(settings, "fixture", pages, cache)
    assert not report.skipped and report.chunks_by_language == {"de": 3, "en": 3, "uk": 3}
    client = shared_client(settings)
    assert sorted(c.name for c in client.get_collections().collections) == [
        "pages_fixture_de", "pages_fixture_en", "pages_fixture_uk"]
    assert index_pages(settings, "fixture", pages, cache).skipped  # unchanged pages: nothing rebuilt
    questions = {"de": "Welche Unterlagen brauche ich für die Anmeldung der Wohnung?",
                 "en": "How much does a place in a day-care centre cost?",
                 "uk": "Де можна вивчати німецьку мову?"}
    expected = {"de": "jena/anmeldung", "en": "jena/kita", "uk": "jena/deutschkurs"}
    for language, question in questions.items():
        store = open_document_store(settings, page_collection("fixture", language))
        pipeline = build_page_search_pipeline(settings, store, top_k=3)
        pages_found = pipeline.run({"text_embedder": {"text": question},
                                    "sparse_embedder": {"text": question, "language": language}})
        top = pages_found["page_ranker"]["pages"][0]
        assert top.meta["page_id"] == expected[language]
        assert top.meta["chunks"][0][0] == 0  # the found chunk names its sentences (short pages: one chunk)
    close_shared_client(settings)


def test_page_search_pipeline_round_trips(tmp_path: Path) -> None:
    from haystack import Pipeline
    from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

    from pipelines.page_search import build_page_search_pipeline

    settings = make_settings(tmp_path)
    store = QdrantDocumentStore(location=":memory:", embedding_dim=384, use_sparse_embeddings=True)
    german = QdrantDocumentStore(location=":memory:", embedding_dim=384, use_sparse_embeddings=True)
    pipeline = build_page_search_pipeline(settings, store, top_k=4, german_store=german,
                                          weights={"dense_gap": 1.0})
    loaded = Pipeline.loads(pipeline.dumps(), allowed_modules=["pipelines", "haystack_integrations"])
    assert loaded.get_component("page_ranker").top_k == 4
    assert loaded.get_component("page_ranker").weights == {"dense_gap": 1.0}
    assert set(loaded.graph.nodes) == {"text_embedder", "sparse_embedder", "dense_retriever", "sparse_retriever",
                                       "german_sparse_embedder", "german_sparse_retriever", "page_ranker"}
    without_german = build_page_search_pipeline(settings, store)
    assert "german_sparse_retriever" not in without_german.graph.nodes


def test_sentence_vectors_hold_every_language_of_every_page_in_page_order(tmp_path: Path) -> None:
    from ingest.pages import sentence_vectors, text_hash

    pages = load_pages(PAGES / "pages.jsonl")
    cache = EmbeddingCache(tmp_path / "vectors.sqlite")
    lines = {s for page in pages for s in page.sentences if s}
    rng = np.random.default_rng(0)
    cache.put({text_hash(s, is_query=False): rng.normal(size=384).astype(np.float32) for s in lines})  # no model
    vectors = sentence_vectors(pages, cache)
    assert vectors.page_ids == tuple(dict.fromkeys(p.id for p in pages))
    assert set(vectors.vectors) == {"de", "en", "uk"}
    for page in pages:
        present = [s for s in page.sentences if s]
        expected = cache.get([text_hash(s, is_query=False) for s in present])
        matrix = vectors.matrix(page.language, page.id)
        assert matrix.shape == (len(present), 384)
        assert np.allclose(matrix[0], expected[text_hash(present[0], is_query=False)])
    german = {p.id: p for p in pages if p.language == "de"}
    number = vectors.index["jena/kita"]
    assert vectors.log_length[number] == pytest.approx(np.log1p(len(german["jena/kita"].text)))
    vectors.save(tmp_path / "sentences.npz")
    assert type(vectors).load(tmp_path / "sentences.npz").page_ids == vectors.page_ids
