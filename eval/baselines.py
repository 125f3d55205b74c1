"""The two baselines the full system is compared with, run in the same process on the same build.

* ``bm25-de``: German-only BM25 — the lexical sparse vector against the German collection only (no
  translation memory, no dense vectors).
* ``dense-de``: dense-only cross-lingual retrieval — the e5 query vector against the German collection only
  (no translation memory, no sparse vectors).
"""

from __future__ import annotations

from haystack import Pipeline
from haystack_integrations.components.retrievers.qdrant import (
    QdrantEmbeddingRetriever,
    QdrantSparseEmbeddingRetriever,
)
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from pipelines.components.lexical_text_sparse_embedder import LexicalTextSparseEmbedder
from pipelines.components.query_language_detector import QueryLanguageDetector
from pipelines.embedders import make_text_embedder
from pipelines.settings import Settings

BASELINES = ("bm25-de", "dense-de")


def build_baseline_pipeline(name: str, settings: Settings, store_de: QdrantDocumentStore, top_k: int = 5
                            ) -> Pipeline:
    """A retrieval-only pipeline over the German collection.

    :raises ValueError: for an unknown baseline name.
    """
    p = Pipeline()
    if name == "bm25-de":
        p.add_component("language_detector", QueryLanguageDetector())
        p.add_component("sparse_embedder", LexicalTextSparseEmbedder())
        p.add_component("retriever", QdrantSparseEmbeddingRetriever(document_store=store_de, top_k=top_k))
        p.connect("language_detector.language", "sparse_embedder.language")
        p.connect("sparse_embedder.sparse_embedding", "retriever.query_sparse_embedding")
    elif name == "dense-de":
        p.add_component("text_embedder", make_text_embedder(settings))
        p.add_component("retriever", QdrantEmbeddingRetriever(document_store=store_de, top_k=top_k))
        p.connect("text_embedder.embedding", "retriever.query_embedding")
    else:
        raise ValueError(f"unknown baseline {name!r}; expected one of {BASELINES}")
    return p


def run_baseline(pipeline: Pipeline, name: str, question: str) -> list[str]:
    """Ranked unit ids of a baseline for one question."""
    if name == "bm25-de":
        data = {"language_detector": {"text": question}, "sparse_embedder": {"text": question}}
    else:
        data = {"text_embedder": {"text": question}}
    return [d.meta["unit_id"] for d in pipeline.run(data)["retriever"]["documents"]]
