"""The page-search pipeline: hybrid (dense + lexical) search over one language of a page collection.

As in Haystack's hybrid-retrieval examples, the graph shows every step: the question is embedded densely and
lexically, two retrievers search the same collection, a joiner fuses their rankings (reciprocal rank fusion)
and the page ranker turns chunks into pages.
"""

from __future__ import annotations

from haystack import Pipeline
from haystack.components.joiners import DocumentJoiner
from haystack_integrations.components.retrievers.qdrant import (
    QdrantEmbeddingRetriever,
    QdrantSparseEmbeddingRetriever,
)
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from pipelines.components.lexical_text_sparse_embedder import LexicalTextSparseEmbedder
from pipelines.components.page_ranker import PageRanker
from pipelines.embedders import make_text_embedder
from pipelines.settings import Settings

#: Chunks each retriever returns: enough that the fused list still holds ten distinct pages.
CHUNKS_PER_RETRIEVER = 40


def build_page_search_pipeline(settings: Settings, document_store: QdrantDocumentStore, *, top_k: int = 10,
                               weights: tuple[float, float] = (0.5, 0.5),
                               extra_languages: list[str] | None = None) -> Pipeline:
    """Question in (``text_embedder.text``, ``sparse_embedder.text`` and ``.language``), pages out
    (``page_ranker.pages``).

    :param document_store: one language collection of a page collection (see ingest/pages.py).
    :param top_k: pages returned.
    :param weights: weights of the dense and the lexical ranking in the fusion.
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
    pipeline.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion", weights=list(weights),
                                                    top_k=2 * CHUNKS_PER_RETRIEVER))
    pipeline.add_component("page_ranker", PageRanker(top_k=top_k))
    pipeline.connect("text_embedder.embedding", "dense_retriever.query_embedding")
    pipeline.connect("sparse_embedder.sparse_embedding", "sparse_retriever.query_sparse_embedding")
    pipeline.connect("dense_retriever.documents", "joiner.documents")
    pipeline.connect("sparse_retriever.documents", "joiner.documents")
    pipeline.connect("joiner.documents", "page_ranker.documents")
    return pipeline
