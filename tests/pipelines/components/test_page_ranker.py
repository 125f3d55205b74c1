"""PageRanker: chunks in, pages out, best chunk first."""

from __future__ import annotations

import pytest
from haystack import Document

from pipelines.components.page_ranker import PageRanker


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
