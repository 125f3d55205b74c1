"""Rank pages from the chunks that the retrievers found: a page is found when any of its chunks is."""

from __future__ import annotations

from typing import Any

import numpy as np
from haystack import Document, component

#: What the page ranker weighs, per page: how far its best dense chunk is below the best of all (``dense_gap``),
#: the same for its second-best chunk (a page with two matching chunks is more likely about the question), its
#: best lexical score as a share of the best (``lexical_share``), the same against the German text
#: (``german_share``: office names inside a question in another language), and ``r / (r + rank)`` of its rank
#: in each list. Reciprocal ranks alone (RRF) ignore how close the runners-up are; scores alone ignore that
#: dense and lexical scores live on different scales.
PAGE_FEATURES = ("dense_gap", "dense_second_gap", "dense_rank", "lexical_share", "lexical_rank", "german_share",
                 "german_rank")
#: Weights fitted on the OMoS-QA train split (``python -m eval.omos fit-ranker``: logistic regression, right page
#: against the 40 best other candidates of each question), used when no others are given.
FITTED_WEIGHTS: dict[str, float] = {
    "dense_gap": 57.0769, "dense_second_gap": 3.6032, "dense_rank": 4.8916, "lexical_share": 4.5036,
    "lexical_rank": -0.0087, "german_share": 0.5305, "german_rank": 0.2727,
}
#: The same fit on searches with the query adapter (pipelines/page_search.py: QUERY_ADAPTER_PATH), whose dense
#: scores spread about twice as wide as the plain e5 vector's: a gap in dense score counts for less.
ADAPTED_WEIGHTS: dict[str, float] = {
    "dense_gap": 25.5311, "dense_second_gap": 0.9157, "dense_rank": 7.7861, "lexical_share": 4.7927,
    "lexical_rank": -0.5911, "german_share": 0.3058, "german_rank": 0.1561,
}
RANK_CONSTANT = 60


def ranker_weights(top_k: int, weights: dict[str, float] | None, features: tuple[str, ...],
                   default: dict[str, float], kind: str) -> dict[str, float]:
    """A ranker's own copy of its weights (``default`` when None), checked with its ``top_k``.

    :raises ValueError: when top_k is below 1 or a weight names none of ``features`` (``kind`` names them).
    """
    if top_k < 1:
        raise ValueError("top_k must be at least 1")
    unknown = set(weights or {}) - set(features)
    if unknown:
        raise ValueError(f"unknown {kind} features: {sorted(unknown)}")
    return dict(weights) if weights is not None else dict(default)


def _best_per_page(documents: list[Document], page_field: str) -> tuple[dict[str, float], dict[str, float],
                                                                        dict[str, int]]:
    best: dict[str, float] = {}
    second: dict[str, float] = {}
    rank: dict[str, int] = {}
    for doc in documents:
        page = doc.meta.get(page_field)
        if page is None:
            continue
        if page not in best:
            best[page], rank[page] = float(doc.score or 0.0), len(rank) + 1
        elif page not in second:
            second[page] = float(doc.score or 0.0)
    return best, second, rank


def page_feature_matrix(dense: list[Document], lexical: list[Document], german: list[Document] | None = None,
                        page_field: str = "page_id") -> tuple[list[str], np.ndarray]:
    """The candidate pages (every page any list found) and their PAGE_FEATURES (rows: pages).

    A page missing from a list gets that list's lowest score (dense) or zero (lexical), and the rank after its last.

    :param dense: chunks of the dense retriever, best first; ``lexical`` of the lexical one; ``german`` of the
        lexical one over the German text (optional: then the lexical list stands in).
    """
    german = lexical if german is None else german
    lists = [_best_per_page(docs, page_field) for docs in (dense, lexical, german)]
    pages = list(dict.fromkeys(p for best, _, _ in lists for p in best))
    columns = []
    (best, second, rank), docs = lists[0], dense
    top = float(docs[0].score or 0.0) if docs else 0.0
    floor = float(docs[-1].score or 0.0) if docs else 0.0
    absent = len(docs) + 1
    columns.append([best.get(p, floor) - top for p in pages])
    columns.append([second.get(p, best.get(p, floor)) - top for p in pages])
    columns.append([RANK_CONSTANT / (RANK_CONSTANT + rank.get(p, absent)) for p in pages])
    for (best, _, rank), docs in zip(lists[1:], (lexical, german), strict=True):
        top = max(float(docs[0].score or 0.0), 1e-9) if docs else 1.0
        absent = len(docs) + 1
        columns.append([best.get(p, 0.0) / top for p in pages])
        columns.append([RANK_CONSTANT / (RANK_CONSTANT + rank.get(p, absent)) for p in pages])
    return pages, np.array(columns, dtype=np.float64).T.reshape(len(pages), len(PAGE_FEATURES))


@component
class PageRanker:
    """Turns chunk documents into a ranked list of pages.

    Given the dense and the lexical retriever's chunks (and optionally the lexical chunks of the German text), a
    page's score is a weighted sum of PAGE_FEATURES; given one ranked list (``documents``, e.g. a joiner's
    output), the first chunk of a page places it. Each page document carries the page id, its title and URL, the
    chunks that were found (``meta["chunks"]``: ``[first sentence, last sentence, score]`` each) and its score.

    Usage:
    ```python
    ranker = PageRanker(top_k=5)
    chunks = [Document(content="…", score=0.9, meta={"page_id": "muenchen/1", "first": 0, "last": 3})]
    ranker.run(documents=chunks)["pages"][0].meta["page_id"]  # "muenchen/1"
    ranker.run(dense_documents=chunks, lexical_documents=[])["pages"][0].meta["page_id"]  # "muenchen/1"
    ```
    """

    def __init__(self, top_k: int = 10, page_field: str = "page_id", weights: dict[str, float] | None = None) -> None:
        """
        :param top_k: pages returned at most.
        :param page_field: the meta field that names a chunk's page.
        :param weights: a weight per PAGE_FEATURES name (default: FITTED_WEIGHTS).
        :raises ValueError: when top_k is below 1 or a weight names no feature.
        """
        self.top_k = top_k
        self.page_field = page_field
        self.weights = ranker_weights(top_k, weights, PAGE_FEATURES, FITTED_WEIGHTS, "page")

    @component.output_types(pages=list[Document])
    def run(self, documents: list[Document] | None = None, dense_documents: list[Document] | None = None,
            lexical_documents: list[Document] | None = None, german_documents: list[Document] | None = None,
            top_k: int | None = None) -> dict[str, Any]:
        """
        :param documents: one ranked list of chunks, best first (pages in the order of their first chunk).
        :param dense_documents: the dense retriever's chunks; with ``lexical_documents`` (and optionally
            ``german_documents``) pages are scored by the weighted features instead.
        :param top_k: overrides the init value.
        :returns: ``pages``: one document per page, best first; the chunks are not modified.
        """
        if dense_documents is None and lexical_documents is None:
            ranked = self._first_chunk_order(documents or [])
            chunks = documents or []
        else:
            dense, lexical = dense_documents or [], lexical_documents or []
            pages, features = page_feature_matrix(dense, lexical, german_documents, self.page_field)
            weights = np.array([self.weights.get(name, 0.0) for name in PAGE_FEATURES])
            scores = features @ weights if len(pages) else np.zeros(0)
            # Ties (equal features) keep the order in which the lists found the pages.
            ranked = [(pages[i], float(scores[i])) for i in sorted(range(len(pages)), key=lambda i: -scores[i])]
            chunks = [*dense, *lexical]
        found: dict[str, list[Document]] = {}
        for doc in chunks:
            page = doc.meta.get(self.page_field)
            if page is not None:
                found.setdefault(page, []).append(doc)
        pages_out = []
        for page, score in ranked[: top_k or self.top_k]:
            meta = next((d.meta for d in found.get(page, [])), None) or next(
                d.meta for d in german_documents or [] if d.meta.get(self.page_field) == page)
            pages_out.append(Document(id=page, content=None, score=score, meta={
                self.page_field: page, "title": meta.get("title"), "url": meta.get("url"),
                "language": meta.get("language"),
                "chunks": [[d.meta.get("first"), d.meta.get("last"), d.score] for d in found.get(page, [])]}))
        return {"pages": pages_out}

    def _first_chunk_order(self, documents: list[Document]) -> list[tuple[str, float]]:
        ranked: dict[str, float] = {}
        for doc in documents:
            page = doc.meta.get(self.page_field)
            if page is not None and page not in ranked:
                ranked[page] = doc.score  # type: ignore[assignment]
        return list(ranked.items())
