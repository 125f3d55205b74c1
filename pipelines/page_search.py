"""The page-search pipeline: hybrid (dense + lexical) search over one language of a page collection.

As in Haystack's hybrid-retrieval examples, the graph shows every step: the question is embedded densely and
lexically, the retrievers search the collection of the question's language (and, lexically, the German one, where
office names in a question of another language still match), and the page ranker weighs what each found for a
page into one ranking of pages. Given the collection's sentence vectors, the evidence ranker then re-orders the
page ranker's first candidates by how close their best sentences come to the question (OMoS-QA's misses were
mostly near-identical pages of several towns, where the page that holds an answering sentence should win).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from haystack import Document, Pipeline, component
from haystack_integrations.components.retrievers.qdrant import (
    QdrantEmbeddingRetriever,
    QdrantSparseEmbeddingRetriever,
)
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from pipelines.components.lexical_text_sparse_embedder import LexicalTextSparseEmbedder
from pipelines.components.page_ranker import ADAPTED_WEIGHTS, PageRanker, ranker_weights
from pipelines.components.query_adapter import QueryAdapter
from pipelines.embedders import make_text_embedder
from pipelines.settings import Settings

#: Chunks each retriever returns: the ranker compares a page's scores with the best and with the runners-up, so
#: it needs long lists (an OMoS language collection holds about 2,400 chunks; 300 cost a few milliseconds).
CHUNKS_PER_RETRIEVER = 300


def build_page_search_pipeline(settings: Settings, document_store: QdrantDocumentStore, *, top_k: int = 10,
                               german_store: QdrantDocumentStore | None = None,
                               weights: dict[str, float] | None = None,
                               extra_languages: list[str] | None = None,
                               sentence_vectors: str | Path | None = None,
                               evidence_weights: dict[str, float] | None = None,
                               query_adapter: str | Path | None = None) -> Pipeline:
    """Question in (``text_embedder.text``, ``sparse_embedder.text`` and ``.language``, with a German store also
    ``german_sparse_embedder.text`` and ``.language``, with sentence vectors also ``evidence_ranker.language``,
    with a query adapter also ``query_adapter.language``), pages out (``page_ranker.pages``, or
    ``evidence_ranker.pages`` with sentence vectors).

    :param document_store: one language collection of a page collection (see ingest/pages.py).
    :param top_k: pages returned.
    :param german_store: the collection's German texts, searched lexically with the question stemmed in its own
        language and in German (optional).
    :param weights: the page ranker's feature weights (default: fitted on OMoS-QA train, with or without the
        query adapter as it is given).
    :param extra_languages: languages a question is also stemmed with (default none: page collections hold
        every language, so each question is matched against its own language's text).
    :param sentence_vectors: the collection's sentence vectors (an ``.npz``, see ingest/pages.py); when given,
        the page ranker's first EVIDENCE_CANDIDATES pages go through the evidence ranker.
    :param evidence_weights: the evidence ranker's weights (default: fitted on OMoS-QA train, like ``weights``).
    :param query_adapter: a query adapter's weights (an ``.npz``, e.g. QUERY_ADAPTER_PATH): the dense retriever
        then searches with the adapted question vector, and the default weights are the ones fitted with it
        (ADAPTED_WEIGHTS, ADAPTED_EVIDENCE_WEIGHTS: adapted scores spread differently).
    """
    if query_adapter is not None:
        weights = ADAPTED_WEIGHTS if weights is None else weights
        evidence_weights = ADAPTED_EVIDENCE_WEIGHTS if evidence_weights is None else evidence_weights
    pipeline = Pipeline()
    pipeline.add_component("text_embedder", make_text_embedder(settings))
    pipeline.add_component("sparse_embedder", LexicalTextSparseEmbedder(extra_languages=extra_languages or []))
    pipeline.add_component("dense_retriever", QdrantEmbeddingRetriever(document_store=document_store,
                                                                        top_k=CHUNKS_PER_RETRIEVER))
    pipeline.add_component("sparse_retriever", QdrantSparseEmbeddingRetriever(document_store=document_store,
                                                                              top_k=CHUNKS_PER_RETRIEVER))
    candidates = max(top_k, EVIDENCE_CANDIDATES) if sentence_vectors is not None else top_k
    pipeline.add_component("page_ranker", PageRanker(top_k=candidates, weights=weights))
    if query_adapter is not None:
        pipeline.add_component("query_adapter", QueryAdapter(str(query_adapter)))
        pipeline.connect("text_embedder.embedding", "query_adapter.embedding")
        pipeline.connect("query_adapter.embedding", "dense_retriever.query_embedding")
    else:
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
    if sentence_vectors is not None:
        pipeline.add_component("evidence_ranker", EvidenceRanker(str(sentence_vectors), top_k=top_k,
                                                                 weights=evidence_weights))
        pipeline.connect("page_ranker.pages", "evidence_ranker.pages")
        pipeline.connect("text_embedder.embedding", "evidence_ranker.query_embedding")
    return pipeline


#: The query adapter fitted on OMoS-QA train (``python -m eval.omos fit-ranker``; see
#: pipelines/components/query_adapter.py).
QUERY_ADAPTER_PATH = Path(__file__).resolve().parent / "query_adapter.npz"
#: Pages the page ranker hands to the evidence ranker: the right page is among the first 30 for 95 % of OMoS-QA
#: train questions, and 30 pages of about 26 sentences cost well under a millisecond to compare.
EVIDENCE_CANDIDATES = 30
#: What the evidence ranker weighs, per candidate page: the page ranker's score below the best candidate's, how
#: close e5 puts the page's best sentence and its best three sentences to the question (German text and the
#: question's language, each below the best candidate's), and the log of the page's length (long pages
#: collect chance matches: a page is not more likely the answer because it says more).
EVIDENCE_FEATURES = ("ranker_gap", "sentence_de_best", "sentence_de_top3", "sentence_own_best",
                     "sentence_own_top3", "log_length")
#: Fitted on the OMoS-QA train split (``python -m eval.omos fit-ranker``: conditional logit, the right page
#: against the other candidates of each answerable question).
EVIDENCE_WEIGHTS: dict[str, float] = {
    "ranker_gap": 0.6917, "sentence_de_best": 12.128, "sentence_de_top3": 18.2686,
    "sentence_own_best": 12.6244, "sentence_own_top3": 3.4265, "log_length": -1.2378,
}
#: The same fit behind the page ranker's ADAPTED_WEIGHTS (searches with the query adapter).
ADAPTED_EVIDENCE_WEIGHTS: dict[str, float] = {
    "ranker_gap": 0.681, "sentence_de_best": 12.4811, "sentence_de_top3": 28.3751,
    "sentence_own_best": 13.6632, "sentence_own_top3": -1.4953, "log_length": -1.0865,
}


@dataclass(frozen=True)
class SentenceVectors:
    """e5 passage vectors of every non-empty sentence of every page, per language (see ingest/pages.py:
    write_sentence_vectors): ``matrix(language, page)`` are the rows of one page's sentences.

    Usage:
    ```python
    vectors = SentenceVectors.load(Path("data/omos/sentence_vectors.npz"))
    vectors.matrix("de", "muenchen/5564868").shape  # (sentences, 384)
    ```
    """

    page_ids: tuple[str, ...]
    vectors: dict[str, np.ndarray]
    offsets: dict[str, np.ndarray]
    log_length: np.ndarray

    @classmethod
    def load(cls, path: Path) -> SentenceVectors:
        """Read the file written by ``save``."""
        with np.load(path, allow_pickle=False) as data:
            languages = [key.removeprefix("vectors_") for key in data.files if key.startswith("vectors_")]
            return cls(tuple(data["page_ids"].tolist()), {lang: data[f"vectors_{lang}"] for lang in languages},
                       {lang: data[f"offsets_{lang}"] for lang in languages}, data["log_length"])

    def save(self, path: Path) -> None:
        """Write the vectors (float16: half the size, no measurable change in the similarities)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f"vectors_{lang}": v.astype(np.float16) for lang, v in self.vectors.items()}
        arrays.update({f"offsets_{lang}": o for lang, o in self.offsets.items()})
        np.savez(path, page_ids=np.array(self.page_ids), log_length=self.log_length, **arrays)

    @cached_property
    def index(self) -> dict[str, int]:
        """Row of each page id."""
        return {page: number for number, page in enumerate(self.page_ids)}

    def matrix(self, language: str, page: str) -> np.ndarray:
        """The sentence vectors of ``page`` in ``language`` (the German ones when that language is missing; an
        empty matrix for an unknown page)."""
        language = language if language in self.vectors else "de"
        number = self.index.get(page)
        if number is None or language not in self.vectors:
            return np.zeros((0, 384), dtype=np.float32)
        offsets = self.offsets[language]
        return self.vectors[language][offsets[number]:offsets[number + 1]]


def evidence_features(pages: list[Document], query_embedding: list[float] | np.ndarray, language: str,
                      vectors: SentenceVectors) -> np.ndarray:
    """EVIDENCE_FEATURES of candidate pages (rows, in the order given) for one question."""
    query = np.asarray(query_embedding, dtype=np.float32)
    columns = np.zeros((len(pages), len(EVIDENCE_FEATURES)))
    for row, page in enumerate(pages):
        page_id = page.meta.get("page_id", page.id)
        number = vectors.index.get(page_id)
        columns[row, 0] = float(page.score or 0.0)
        columns[row, 5] = float(vectors.log_length[number]) if number is not None else 0.0
        for offset, lang in ((1, "de"), (3, language)):
            similarities = np.sort(vectors.matrix(lang, page_id).astype(np.float32) @ query)[::-1]
            if len(similarities):
                columns[row, offset], columns[row, offset + 1] = similarities[0], similarities[:3].mean()
    if len(pages):
        # Each similarity counts against the best candidate's: what separates pages, not how easy the question is.
        columns[:, :5] -= columns[:, :5].max(axis=0)
    return columns


@component
class EvidenceRanker:
    """Re-ranks the page ranker's candidates by their sentences: the page that holds a sentence close to the
    question rises above a near-identical page that is merely about the topic.

    Usage:
    ```python
    ranker = EvidenceRanker(vectors_path="data/omos/sentence_vectors.npz", top_k=5)
    ranker.warm_up()
    ranker.run(pages=candidates, query_embedding=vector, language="uk")["pages"]
    ```
    """

    def __init__(self, vectors_path: str, top_k: int = 10, weights: dict[str, float] | None = None) -> None:
        """
        :param vectors_path: the sentence vectors of the page collection (an ``.npz`` from ingest/pages.py).
        :param top_k: pages returned.
        :param weights: a weight per EVIDENCE_FEATURES name (default: EVIDENCE_WEIGHTS).
        :raises ValueError: when top_k is below 1 or a weight names no feature.
        """
        self.vectors_path = vectors_path
        self.top_k = top_k
        self.weights = ranker_weights(top_k, weights, EVIDENCE_FEATURES, EVIDENCE_WEIGHTS, "evidence")
        self._vectors: SentenceVectors | None = None

    def warm_up(self) -> None:
        """Load the sentence vectors (once)."""
        if self._vectors is None:
            self._vectors = SentenceVectors.load(Path(self.vectors_path))

    @component.output_types(pages=list[Document])
    def run(self, pages: list[Document], query_embedding: list[float], language: str = "de",
            top_k: int | None = None) -> dict[str, Any]:
        """
        :param pages: candidate pages, best first (the page ranker's output).
        :param query_embedding: the question's e5 vector.
        :param language: the question's language (its sentences are compared too; German when missing).
        :param top_k: overrides the init value.
        :returns: ``pages``: the candidates re-ordered (score: the evidence score; ``meta["ranker_score"]``:
            the page ranker's), the input documents unchanged.
        """
        self.warm_up()
        assert self._vectors is not None
        features = evidence_features(pages, query_embedding, language, self._vectors)
        weights = np.array([self.weights.get(name, 0.0) for name in EVIDENCE_FEATURES])
        scores = features @ weights
        order = sorted(range(len(pages)), key=lambda i: -scores[i])  # stable: ties keep the ranker's order
        ranked = [replace(pages[i], score=float(scores[i]), meta={**pages[i].meta, "ranker_score": pages[i].score})
                  for i in order[: top_k or self.top_k]]
        return {"pages": ranked}
