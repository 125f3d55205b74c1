"""Rank pages by their best chunk: a page is found when any of its chunks is."""

from __future__ import annotations

from typing import Any

from haystack import Document, component


@component
class PageRanker:
    """Turns a ranked list of chunk documents into a ranked list of pages (the first chunk of a page places it).

    Each page document carries the page id, its title and URL, the chunks that were found (``meta["chunks"]``:
    ``[first sentence, last sentence, score]`` each) and the score of its best chunk.

    Usage:
    ```python
    ranker = PageRanker(top_k=5)
    chunks = [Document(content="…", score=0.9, meta={"page_id": "muenchen/1", "first": 0, "last": 3})]
    ranker.run(documents=chunks)["pages"][0].meta["page_id"]  # "muenchen/1"
    ```
    """

    def __init__(self, top_k: int = 10, page_field: str = "page_id") -> None:
        """
        :param top_k: pages returned at most.
        :param page_field: the meta field that names a chunk's page.
        :raises ValueError: when top_k is below 1.
        """
        if top_k < 1:
            raise ValueError("top_k must be at least 1")
        self.top_k = top_k
        self.page_field = page_field

    @component.output_types(pages=list[Document])
    def run(self, documents: list[Document], top_k: int | None = None) -> dict[str, Any]:
        """
        :param documents: chunks, best first.
        :param top_k: overrides the init value.
        :returns: ``pages``: one document per page, best first; the chunks are not modified.
        """
        pages: dict[str, dict[str, Any]] = {}
        for doc in documents:
            page_id = doc.meta.get(self.page_field)
            if page_id is None:
                continue
            found = pages.setdefault(page_id, {"score": doc.score, "meta": doc.meta, "chunks": []})
            found["chunks"].append([doc.meta.get("first"), doc.meta.get("last"), doc.score])
        ranked = [Document(id=page_id, content=None, score=found["score"],
                           meta={self.page_field: page_id, "title": found["meta"].get("title"),
                                 "url": found["meta"].get("url"), "language": found["meta"].get("language"),
                                 "chunks": found["chunks"]})
                  for page_id, found in pages.items()]
        return {"pages": ranked[: top_k or self.top_k]}
