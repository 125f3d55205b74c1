"""PageRanker: chunks in, pages out (best chunk first, or weighed from the dense and lexical lists)."""

from __future__ import annotations

import pytest
from haystack import Document

from pipelines.components.page_ranker import PAGE_FEATURES, PageRanker, page_feature_matrix


def _chunk(page: str, first: int, score: float) -> Document:
    return Document(content="…", score=score, meta={"page_id": page, "first": first, "last": first + 2,
                                                   "title": page.upper()})


def test_pages_are_ranked_by_their_first_chunk_and_keep_every_found_chunk() -> None:
    chunks = [_chunk("a", 3, 0.9), _chunk("b", 0, 0.8), _chunk("a", 0, 0.7), _chunk("c", 0, 0.5)]
    pages = PageRanker(top_k=2).run(documents=chunks)["pages"]
    assert [p.meta["page_id"] for p in pages] == ["a", "b"]
    assert pages[0].meta["chunks"] == [[3, 5, 0.9], [0, 2, 0.7]]
    assert pages[0].score == 0.9 and pages[0].meta["title"] == "A"
    assert chunks[0].meta == {"page_id": "a", "first": 3, "last": 5, "title": "A"}  # inputs untouched


def test_run_time_top_k_overrides_and_chunks_without_page_are_skipped() -> None:
    chunks = [Document(content="x", meta={}), _chunk("a", 0, 1.0), _chunk("b", 0, 0.5)]
    assert len(PageRanker(top_k=1).run(documents=chunks, top_k=5)["pages"]) == 2


def test_top_k_must_be_positive() -> None:
    with pytest.raises(ValueError):
        PageRanker(top_k=0)


def _found(page: str, score: float, first: int = 0) -> Document:
    return Document(content="…", score=score, meta={"page_id": page, "first": first, "last": first + 2,
                                                   "title": page.upper(), "language": "uk"})


def test_a_page_far_ahead_in_dense_search_beats_one_that_only_leads_the_lexical_list() -> None:
    # "a" matches the question much better than any other page (0.90 vs 0.80) but shares no rare word with it;
    # "b" is only a runner-up in dense search and first lexically. Rank fusion would put "b" first.
    dense = [_found("a", 0.90), _found("b", 0.80), _found("c", 0.79), _found("d", 0.78)]
    lexical = [_found("b", 3.0), _found("d", 2.9), _found("c", 2.0)]
    pages = PageRanker(top_k=3).run(dense_documents=dense, lexical_documents=lexical)["pages"]
    assert [p.meta["page_id"] for p in pages][0] == "a"
    assert pages[0].score > pages[1].score


def test_close_dense_scores_leave_the_decision_to_lexical_evidence_and_second_chunks() -> None:
    dense = [_found("a", 0.851), _found("b", 0.850), _found("b", 0.845, first=3), _found("c", 0.70)]
    lexical = [_found("b", 5.0), _found("c", 1.0)]
    pages = PageRanker(top_k=3).run(dense_documents=dense, lexical_documents=lexical)["pages"]
    assert [p.meta["page_id"] for p in pages] == ["b", "a", "c"]
    assert pages[0].meta["chunks"] == [[0, 2, 0.85], [3, 5, 0.845], [0, 2, 5.0]]


def test_a_page_only_the_german_text_matches_is_still_a_candidate() -> None:
    dense = [_found("a", 0.80)]
    german = [Document(content="…", score=4.0, meta={"page_id": "z", "first": 0, "last": 1, "title": "Z",
                                                      "language": "de"})]
    pages = PageRanker(top_k=3).run(dense_documents=dense, lexical_documents=[], german_documents=german)["pages"]
    assert {p.meta["page_id"] for p in pages} == {"a", "z"}
    assert next(p for p in pages if p.meta["page_id"] == "z").meta["title"] == "Z"


def test_page_features_and_weights_are_checked() -> None:
    pages, features = page_feature_matrix([_found("a", 0.9), _found("b", 0.8)], [_found("b", 2.0)])
    assert pages == ["a", "b"] and features.shape == (2, len(PAGE_FEATURES))
    assert features[1, PAGE_FEATURES.index("lexical_share")] == 1.0
    assert features[0, PAGE_FEATURES.index("lexical_share")] == 0.0  # not found lexically
    with pytest.raises(ValueError, match="unknown"):
        PageRanker(weights={"title": 1.0})
