"""The page-search pipeline: hybrid (dense + lexical) search over one language of a page collection.

As in Haystack's hybrid-retrieval examples, the graph shows every step: the question is embedded densely and
lexically, the retrievers search the collection of the question's language (and, lexically, the German one, where
office names in a question of another language still match), and the page ranker weighs what each found for a
page into one ranking of pages.
"""

from __future__ import annotations

from haystack import Pipeline
from haystack_integrations.components.retrievers.qdrant import (
    QdrantEmbeddingRetriever,
    QdrantSparseEmbeddingRetriever,
)
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from pipelines.components.lexical_text_sparse_embedder import LexicalTextSparseEmbedder
from pipelines.components.page_ranker import PageRanker
from pipelines.embedders import make_text_embedder
from pipelines.settings import Settings

#: Chunks each retriever returns: the ranker compares a page's scores with the best and with the runners-up, so
#: it needs long lists (an OMoS language collection holds about 2,400 chunks; 300 cost a few milliseconds).
CHUNKS_PER_RETRIEVER = 300


def build_page_search_pipeline(settings: Settings, document_store: QdrantDocumentStore, *, top_k: int = 10,
                               german_store: QdrantDocumentStore | None = None,
                               weights: dict[str, float] | None = None,
                               extra_languages: list[str] | None = None) -> Pipeline:
    """Question in (``text_embedder.text``, ``sparse_embedder.text`` and ``.language``, with a German store also
    ``german_sparse_embedder.text`` and ``.language``), pages out (``page_ranker.pages``).

    :param document_store: one language collection of a page collection (see ingest/pages.py).
    :param top_k: pages returned.
    :param german_store: the collection's German texts, searched lexically with the question stemmed in its own
        language and in German (optional).
    :param weights: the page ranker's feature weights (default: fitted on OMoS-QA train).
    :param extra_languages: languages a question is also stemmed with (default none: page collections hold
        every language, so each question is matched against its own language's text).
    """
    pipeline = Pipeline()
    pipeline.add_component("text_embedder", make_text_embedder(settings))
    pipeline.add_component("sparse_embedder", LexicalTextSparseEmbedder(extra_languages=extra_languages or []))
    pipeline.add_component("dense_retriever", QdrantEmbeddingRetriever(document_store=document_store,
                                                                        top_k=CHUNKS_PER_RETRIEVER))
    pipeline.add_component("sparse_retriever", QdrantSparseEmbeddingRetriever(document_store=document_store,
                                                                              top_k=CHUNKS_PER_RETRIEVER))
    pipeline.add_component("page_ranker", PageRanker(top_k=top_k, weights=weights))
    pipeline.connect("text_embedder.embedding", "dense_retriever.query_embedding")
    pipeline.connect("sparse_embedder.sparse_embedding", "sparse_retriever.query_sparse_embedding")
    pipeline.connect("dense_retriever.documents", "page_ranker.dense_documents")
    pipeline.connect("sparse_retriever.documents", "page_ranker.lexical_documents")
    if german_store is not None:
        pipeline.add_component("german_sparse_embedder", LexicalTextSparseEmbedder(extra_languages=["de"]))
        pipeline.add_component("german_sparse_retriever", QdrantSparseEmbeddingRetriever(
            document_store=german_store, top_k=CHUNKS_PER_RETRIEVER))
        pipeline.connect("german_sparse_embedder.sparse_embedding", "german_sparse_retriever.query_sparse_embedding")
        pipeline.connect("german_sparse_retriever.documents", "page_ranker.german_documents")
    return pipeline
