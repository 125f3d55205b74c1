"""Lexical (BM25-style) sparse vectors for documents, stemmed in each document's own language."""

from __future__ import annotations

import dataclasses
from typing import Any

from haystack import Document, component
from haystack.dataclasses import SparseEmbedding

from pipelines.lexical import document_vector


@component
class LexicalDocumentSparseEmbedder:
    """Adds a sparse vector of stemmed terms to each document (language from ``meta[language_field]``).

    Qdrant's IDF modifier turns these term-frequency weights into BM25 scores at query time.

    Usage:
    ```python
    embedder = LexicalDocumentSparseEmbedder()
    doc = Document(content="Sprachmittlung in allen Ämtern", meta={"language": "de"})
    embedder.run(documents=[doc])["documents"][0].sparse_embedding
    ```
    """

    def __init__(self, language_field: str = "language", default_language: str = "de") -> None:
        """
        :param language_field: the meta field that names a document's language.
        :param default_language: used when a document has no language.
        """
        if not language_field:
            raise ValueError("language_field must not be empty")
        self.language_field = language_field
        self.default_language = default_language

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """
        :param documents: the documents; they are not modified.
        :returns: copies with ``sparse_embedding`` set.
        """
        result = []
        for doc in documents:
            language = str(doc.meta.get(self.language_field) or self.default_language)
            indices, values = document_vector(doc.content or "", language)
            result.append(dataclasses.replace(doc, sparse_embedding=SparseEmbedding(indices=indices,
                                                                                     values=values)))
        return {"documents": result}
