"""Lexical sparse vector of a query, stemmed for the question's language and German."""

from __future__ import annotations

from typing import Any

from haystack import component
from haystack.dataclasses import SparseEmbedding

from pipelines.lexical import query_vector


@component
class LexicalTextSparseEmbedder:
    """Turns a query into stemmed term ids (weight 1 each) for Qdrant's BM25-style sparse search.

    The query is stemmed with its detected language and with German: newcomers often write German office
    names ("Jobcenter", "Ausländerbehörde") inside a question in their own language.

    Usage:
    ```python
    embedder = LexicalTextSparseEmbedder()
    embedder.run(text="де знайти Dolmetscher?", language="uk")["sparse_embedding"]
    ```
    """

    def __init__(self, extra_languages: list[str] | None = None) -> None:
        """
        :param extra_languages: languages every query is also stemmed with (default: German).
        """
        self.extra_languages = list(extra_languages) if extra_languages is not None else ["de"]

    @component.output_types(sparse_embedding=SparseEmbedding)
    def run(self, text: str, language: str = "de") -> dict[str, Any]:
        """
        :param text: the query.
        :param language: the query's language.
        :returns: ``sparse_embedding`` with one entry per distinct stemmed term.
        """
        indices, values = query_vector(text, [language, *self.extra_languages])
        return {"sparse_embedding": SparseEmbedding(indices=indices, values=values)}
