"""The query pipelines: ``ask`` (cited answer in the asker's language) and ``search`` (staff search)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from haystack import Pipeline
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from pipelines.components.answer_context_fetcher import AnswerContextFetcher
from pipelines.components.answer_translator import AnswerTranslator
from pipelines.components.cited_answer_builder import CitedAnswerBuilder
from pipelines.components.lexical_text_sparse_embedder import LexicalTextSparseEmbedder
from pipelines.components.multilingual_hybrid_retriever import MultilingualHybridRetriever
from pipelines.components.out_of_scope_scorer import OutOfScopeScorer
from pipelines.components.query_analyzer import QueryAnalyzer
from pipelines.components.query_language_detector import QueryLanguageDetector
from pipelines.components.translation_memory_lookup import TranslationMemoryLookup
from pipelines.components.unit_ranker import UnitRanker
from pipelines.components.verified_generator import VerifiedGenerator
from pipelines.embedders import make_text_embedder
from pipelines.settings import Settings
from pipelines.store import (
    OUT_OF_SCOPE,
    IndexInfo,
    attach_shared_client,
    collection_name,
    index_info,
    open_document_store,
    question_collection,
    scroll_records,
    store_client,
)

CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration.json"
#: Hits per collection for answers and for the staff search (filters and facets are computed over them).
ASK_CANDIDATES = 10
#: Dense-only hits per collection that widen the pool beyond the hybrid top 10 (0: none).
DENSE_CANDIDATES = 30
SEARCH_CANDIDATES = 25


def load_calibration(path: Path = CALIBRATION_FILE) -> dict[str, Any]:
    """The ranking and abstention parameters fitted on the evaluation's development split (defaults if none)."""
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        keys = ("ranking_weights", "ranking_bias", "abstain_weights", "abstain_bias", "threshold")
        return {k: data[k] for k in keys if k in data}
    return {}


@dataclass(frozen=True)
class ServedIndex:
    """The document stores of one index build: units per language, search questions per language, records
    (through the German store's client) and out-of-scope topics."""

    build: str
    stores: dict[str, QdrantDocumentStore]
    question_stores: dict[str, QdrantDocumentStore]
    oos_store: QdrantDocumentStore

    @property
    def languages(self) -> list[str]:
        """Languages with a unit collection."""
        return list(self.stores)

    @cached_property
    def office_names(self) -> dict[str, list[str]]:
        """Name and aliases of every office of the build, by office id (from its records, not from corpus/).
        Read once per build: the ask and the search pipeline both need them."""
        records = scroll_records(store_client(self.stores["de"]), self.build, "office")
        return {r["unit_id"]: [r["title"], *((r.get("office") or {}).get("aliases") or [])] for r in records}


def open_served_index(settings: Settings, info: IndexInfo | None = None) -> ServedIndex:
    """The stores of the served build (or of ``info``'s build).

    :raises IndexNotReadyError: when there is no index yet.
    :raises StoreUnavailableError: when Qdrant cannot be reached.
    """
    info = info or index_info(settings)
    return ServedIndex(
        build=info.build,
        stores={lang: open_document_store(settings, collection_name(info.build, lang)) for lang in info.languages},
        question_stores={lang: open_document_store(settings, question_collection(info.build, lang))
                         for lang in info.metadata.get("question_languages") or []},
        oos_store=open_document_store(settings, collection_name(info.build, OUT_OF_SCOPE)),
    )


def attach_stores(pipeline: Pipeline, settings: Settings) -> Pipeline:
    """Give every document store of a pipeline (e.g. one made by ``Pipeline.loads``) this process's client.

    Qdrant's embedded mode locks its folder for one client per process; a deserialized pipeline would
    otherwise try to open a second one.
    """
    for name in pipeline.graph.nodes:
        component = pipeline.get_component(name)
        stores = [getattr(component, "document_store", None)]
        for attribute in ("document_stores", "question_stores"):
            stores.extend((getattr(component, attribute, None) or {}).values())
        for store in stores:
            if isinstance(store, QdrantDocumentStore):
                attach_shared_client(store, settings)
    return pipeline


def _retrieval_front(settings: Settings, index: ServedIndex, ranker: UnitRanker, top_k: int,
                     plain_german: bool) -> Pipeline:
    """What ask and search share: detect the language, embed densely and lexically, retrieve, rank, and look
    up each unit's record and text in the question's language."""
    p = Pipeline()
    p.add_component("language_detector", QueryLanguageDetector())
    p.add_component("query_analyzer", QueryAnalyzer(indexed_languages=list(index.stores),
                                                    offices=index.office_names))
    p.add_component("text_embedder", make_text_embedder(settings))
    p.add_component("sparse_embedder", LexicalTextSparseEmbedder())
    p.add_component("retriever", MultilingualHybridRetriever(document_stores=index.stores, top_k=top_k,
                                                             question_stores=index.question_stores,
                                                             dense_top_k=DENSE_CANDIDATES))
    p.add_component("ranker", ranker)
    p.add_component("tm_lookup", TranslationMemoryLookup(document_store=index.stores["de"],
                                                         plain_german=plain_german))
    p.connect("language_detector.language", "query_analyzer.language")
    p.connect("language_detector.language", "tm_lookup.language")
    p.connect("query_analyzer.search_language", "sparse_embedder.language")
    p.connect("query_analyzer.search_language", "retriever.language")
    p.connect("query_analyzer.intent", "ranker.intent")
    p.connect("query_analyzer.named_offices", "ranker.named_offices")
    p.connect("text_embedder.vector", "retriever.query_vector")
    p.connect("sparse_embedder.sparse_embedding", "retriever.query_sparse_embedding")
    p.connect("retriever.documents", "ranker.documents")
    p.connect("ranker.documents", "tm_lookup.documents")
    return p


def build_query_pipeline(settings: Settings, index: ServedIndex) -> Pipeline:
    """question (+ lang, simple) → answer dict of the API contract.

    :param index: the stores of the build to serve (see :func:`open_served_index`).
    """
    calibration = load_calibration()
    if settings.abstain_threshold is not None:
        calibration["threshold"] = settings.abstain_threshold
    p = _retrieval_front(settings, index, UnitRanker(**calibration), ASK_CANDIDATES, plain_german=True)
    p.add_component("out_of_scope", OutOfScopeScorer(document_store=index.oos_store))
    p.add_component("context_fetcher", AnswerContextFetcher(document_store=index.stores["de"]))
    p.add_component("answer_builder", CitedAnswerBuilder())
    p.add_component("translator", AnswerTranslator(packages_dir=str(settings.argos_dir)))
    p.connect("language_detector.language", "answer_builder.language")
    p.connect("language_detector.language", "translator.language")
    p.connect("language_detector.detected_language", "answer_builder.detected_language")
    p.connect("query_analyzer.intent", "answer_builder.intent")
    p.connect("text_embedder.vector", "out_of_scope.query_vector")
    p.connect("out_of_scope.similarity", "ranker.oos_similarity")
    p.connect("ranker.answerable", "answer_builder.answerable")
    p.connect("ranker.confidence", "answer_builder.confidence")
    p.connect("tm_lookup.documents", "context_fetcher.documents")
    p.connect("language_detector.language", "context_fetcher.language")
    p.connect("context_fetcher.records", "answer_builder.records")
    p.connect("context_fetcher.scores", "answer_builder.scores")
    p.connect("context_fetcher.related", "answer_builder.related")
    p.connect("tm_lookup.method", "translator.memory_method")
    p.connect("answer_builder.answer", "translator.answer")
    if settings.generator_url:
        # Keep the generator well inside the request timeout, so a slow model falls back to the composed
        # answer instead of turning the request into a 503.
        p.add_component("generator", VerifiedGenerator(api_base_url=settings.generator_url,
                                                       model=settings.generator_model,
                                                       timeout_s=min(10.0, settings.request_timeout_s / 2)))
        p.connect("translator.answer", "generator.answer")
    return p


def _final_answer(result: dict[str, Any]) -> dict[str, Any]:
    """The last answer-producing component's output: the generator's when the pipeline has one."""
    return (result.get("generator") or result["translator"])["answer"]


def _ranking_only(calibration: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in calibration.items() if k.startswith("ranking")}


def ask(pipeline: Pipeline, question: str, lang: str | None = None, simple: bool = False) -> dict[str, Any]:
    """Run the ask pipeline.

    :returns: the answer dict of the API contract (plus ``intent`` and ``confidence``).
    """
    return ask_traced(pipeline, question, lang, simple)[0]


def ask_traced(pipeline: Pipeline, question: str, lang: str | None = None,
               simple: bool = False) -> tuple[dict[str, Any], list[str], dict[str, float]]:
    """Run the ask pipeline and also return the ranked unit ids and the abstention features (for evaluation).

    :returns: (answer dict, ranked unit ids, decision features).
    """
    result = pipeline.run({
        "language_detector": {"text": question, "lang": lang},
        "query_analyzer": {"text": question},
        "text_embedder": {"text": question},
        "sparse_embedder": {"text": question},
        "answer_builder": {"question": question, "simple": simple},
    }, include_outputs_from={"ranker"})
    ranker = result["ranker"]
    return _final_answer(result), [d.meta["unit_id"] for d in ranker["documents"]], ranker["features"]


def trace_candidates(pipeline: Pipeline, question: str, simple: bool = False) -> dict[str, Any]:
    """The retriever's candidates and the out-of-scope similarity for one question (for calibration)."""
    result = pipeline.run({
        "language_detector": {"text": question, "lang": None},
        "query_analyzer": {"text": question},
        "text_embedder": {"text": question},
        "sparse_embedder": {"text": question},
        "answer_builder": {"question": question, "simple": simple},
    }, include_outputs_from={"retriever", "out_of_scope", "query_analyzer"})
    return {"candidates": result["retriever"]["documents"], "oos_similarity": result["out_of_scope"]["similarity"],
            "intent": result["query_analyzer"]["intent"]}


def build_search_pipeline(settings: Settings, index: ServedIndex) -> Pipeline:
    """query → ranked units (no abstention, no answer): the staff search."""
    ranker = UnitRanker(**_ranking_only(load_calibration()), top_k=SEARCH_CANDIDATES)
    return _retrieval_front(settings, index, ranker, SEARCH_CANDIDATES, plain_german=False)


def search(pipeline: Pipeline, query: str, k: int = 10, lang: str | None = None, field: str | None = None,
           office: str | None = None) -> dict[str, Any]:
    """Run the staff search: hits filtered by action field and office, with facet counts over all candidates.

    :returns: ``{"query", "lang", "hits", "facets"}`` as in the API contract.
    """
    result = pipeline.run({
        "language_detector": {"text": query, "lang": lang},
        "query_analyzer": {"text": query},
        "text_embedder": {"text": query},
        "sparse_embedder": {"text": query},
    }, include_outputs_from={"language_detector"})
    docs = result["tm_lookup"]["documents"]
    language = result["language_detector"]["language"]
    facets = {"field": dict(Counter(d.meta["field"] for d in docs if d.meta.get("field")).most_common()),
              "office": dict(Counter(o for d in docs for o in d.meta.get("offices") or []).most_common())}
    def in_field(doc: Any) -> bool:
        return field is None or doc.meta.get("field") == field or (doc.meta.get("field") or "").startswith(f"{field}.")

    def of_office(doc: Any) -> bool:
        return office is None or office in (doc.meta.get("offices") or []) or doc.meta["unit_id"] == office

    selected = [d for d in docs if in_field(d) and of_office(d)]
    hits = []
    for d in selected[:k]:
        record = d.meta["record"]
        hits.append({
            "id": record["unit_id"], "kind": record["kind"], "section": record["section"], "title": record["title"],
            "text": record["text_de"], "text_translated": d.meta["display"]["text"] if language != "de" else None,
            "score": round(float(d.score or 0.0), 4), "field": record.get("field"), "url": record["url"],
            "termin": record.get("termin"),
            "offices": [{"id": c["id"], "name": c["name"]} for c in record.get("office_cards") or []
                        if c["id"] != record["unit_id"]],
        })
    return {"query": query, "lang": language, "hits": hits, "facets": facets}
