"""The indexing pipeline: dense embedding, lexical sparse vector, write to Qdrant."""

from __future__ import annotations

from haystack import Pipeline
from haystack.components.writers import DocumentWriter
from haystack.document_stores.types import DuplicatePolicy
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from pipelines.components.lexical_document_sparse_embedder import LexicalDocumentSparseEmbedder
from pipelines.embedders import make_document_embedder
from pipelines.settings import Settings


def build_indexing_pipeline(settings: Settings, document_store: QdrantDocumentStore, *,
                            sparse: bool = True, as_queries: bool = False) -> Pipeline:
    """Documents in, points in ``document_store`` out.

    Documents that already carry an embedding (reused from the served build) are not embedded again.

    :param sparse: also compute the lexical sparse vector (units); search questions are matched densely only.
    :param as_queries: embed the documents as queries (e5's ``query:`` prefix): search questions are compared
        with questions, so both sides carry the same prefix.
    """
    pipeline = Pipeline()
    pipeline.add_component("embedder", make_document_embedder(settings, as_queries=as_queries))
    pipeline.add_component("writer", DocumentWriter(document_store=document_store,
                                                    policy=DuplicatePolicy.OVERWRITE))
    if sparse:
        pipeline.add_component("sparse_embedder", LexicalDocumentSparseEmbedder())
        pipeline.connect("embedder.documents", "sparse_embedder.documents")
        pipeline.connect("sparse_embedder.documents", "writer.documents")
    else:
        pipeline.connect("embedder.documents", "writer.documents")
    return pipeline
