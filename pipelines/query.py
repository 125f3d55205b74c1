"""The query pipelines: ``ask`` (cited answer in the asker's language) and ``search`` (staff search)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
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
from pipelines.followup import MAX_TURNS, NEW_TOPIC_CONFIDENCE, FollowUpContext, Turn, follow_up_context, follow_up_cue
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
#: A staff-search hit must share a word with the query (lexical coverage > 0) or be at least this similar to it
#: (the best of its dense and its typical-question similarity). e5's similarities are compressed: nonsense such
#: as "asdfghjk" still reaches 0.83-0.87 with some unit. `python -m eval.calibrate_search` chooses the smallest
#: value (in steps of 0.005) at which no nonsense probe without a lexical match keeps a hit; on the development
#: split that keeps an expected unit among the first 20 hits for 144 of 146 answerable questions (146 unfiltered).
SEARCH_MIN_SIMILARITY = 0.875


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


def ask(pipeline: Pipeline, question: str, lang: str | None = None, simple: bool = False,
        previous: Sequence[Turn] = ()) -> dict[str, Any]:
    """Run the ask pipeline.

    :param previous: the conversation's earlier turns as the client holds them, oldest first (see
        :func:`ask_traced`).
    :returns: the answer dict of the API contract (plus ``intent`` and ``confidence``).
    """
    return ask_traced(pipeline, question, lang, simple, previous)[0]


Traced = tuple[dict[str, Any], list[str], dict[str, float]]


def ask_traced(pipeline: Pipeline, question: str, lang: str | None = None, simple: bool = False,
               previous: Sequence[Turn] = ()) -> Traced:
    """Run the ask pipeline and also return the ranked unit ids and the abstention features (for evaluation).

    With ``previous`` turns, a question that points back to them ("und wann hat die offen?") is retrieved
    together with the earlier question and answered about the earlier answer's units; a question of its own
    ignores them (see :mod:`pipelines.followup`). The answer's ``follow_up`` says which happened.

    :returns: (answer dict, ranked unit ids, decision features).
    """
    # A refused attempt to override the assistant is no topic to continue.
    turns = [t for t in previous if QueryAnalyzer.classify(t.question) != "injection"][-MAX_TURNS:]
    cue = follow_up_cue(question) if turns else None
    if cue is None:
        return _run_ask(pipeline, question, lang, simple)
    context = follow_up_context(question, turns)
    if cue == "weak":
        # "Was kostet der Integrationskurs?" is complete; "Коли відчинено?" is not. Only the answer on its own
        # tells them apart: a confident answer about something else is a new topic.
        alone = _run_ask(pipeline, question, lang, simple)
        if alone[0]["confidence"] >= NEW_TOPIC_CONFIDENCE and alone[1] and alone[1][0] not in context.previous_ids:
            return alone
    return _run_ask(pipeline, question, lang, simple, context)


def _run_ask(pipeline: Pipeline, question: str, lang: str | None, simple: bool,
             context: FollowUpContext | None = None) -> Traced:
    search_text = context.search_text if context else question
    result = pipeline.run({
        "language_detector": {"text": question, "lang": lang},
        "query_analyzer": {"text": question},
        "text_embedder": {"text": search_text},
        "sparse_embedder": {"text": search_text},
        "ranker": {"previous_ids": list(context.previous_ids) if context else None},
        "answer_builder": {"question": question, "simple": simple},
    }, include_outputs_from={"ranker"})
    ranker = result["ranker"]
    answer = {**_final_answer(result), "follow_up": context is not None}
    return answer, [d.meta["unit_id"] for d in ranker["documents"]], ranker["features"]


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


def is_relevant(match: dict[str, float], min_similarity: float = SEARCH_MIN_SIMILARITY) -> bool:
    """Whether a candidate's match (``doc.meta["match"]``) is worth showing as a staff-search hit."""
    return match.get("lexical", 0.0) > 0 or max(match.get("dense", 0.0), match.get("question", 0.0)) >= min_similarity


def _in_field(field_of_unit: str | None, field: str | None) -> bool:
    return field is None or field_of_unit == field or (field_of_unit or "").startswith(f"{field}.")


def _search_hit(record: dict[str, Any], score: float, text_translated: str | None) -> dict[str, Any]:
    return {
        "id": record["unit_id"], "kind": record["kind"], "section": record["section"], "title": record["title"],
        "text": record["text_de"], "text_translated": text_translated, "score": round(score, 4),
        "field": record.get("field"), "url": record["url"], "termin": record.get("termin"),
        "offices": [{"id": c["id"], "name": c["name"]} for c in record.get("office_cards") or []
                    if c["id"] != record["unit_id"]],
    }


def _facets(fields: list[str | None], offices: list[list[str]]) -> dict[str, dict[str, int]]:
    return {"field": dict(Counter(f for f in fields if f).most_common()),
            "office": dict(Counter(o for ids in offices for o in ids).most_common())}


def browse(records: list[dict[str, Any]], field: str | None = None, office: str | None = None,
           lang: str | None = None, k: int | None = None) -> dict[str, Any]:
    """The staff search without a query: every unit of an action field and/or office, in document order.

    :param records: every record of the build, in document order.
    :returns: the search result shape (``query`` empty, ``score`` 0, facets over the units shown).
    """
    if field is None and office is None:
        raise ValueError("browsing needs an action field or an office")
    selected = [r for r in records if _in_field(r.get("field"), field)
                and (office is None or office in (r.get("offices") or []) or r["unit_id"] == office)]
    language = lang or "de"
    hits = [_search_hit(r, 0.0, (r.get("texts") or {}).get(language) if language != "de" else None)
            for r in selected[:k]]
    return {"query": "", "lang": language, "hits": hits,
            "facets": _facets([r.get("field") for r in selected], [r.get("offices") or [] for r in selected])}


def search(pipeline: Pipeline, query: str, k: int = 10, lang: str | None = None, field: str | None = None,
           office: str | None = None) -> dict[str, Any]:
    """Run the staff search: hits filtered by action field and office, with facet counts over all candidates
    that are relevant at all (see :func:`is_relevant`: nonsense finds nothing rather than the 25 nearest units).

    :returns: ``{"query", "lang", "hits", "facets"}`` as in the API contract.
    """
    result = pipeline.run({
        "language_detector": {"text": query, "lang": lang},
        "query_analyzer": {"text": query},
        "text_embedder": {"text": query},
        "sparse_embedder": {"text": query},
    }, include_outputs_from={"language_detector"})
    docs = [d for d in result["tm_lookup"]["documents"] if is_relevant(d.meta.get("match") or {})]
    language = result["language_detector"]["language"]
    facets = _facets([d.meta.get("field") for d in docs], [d.meta.get("offices") or [] for d in docs])

    def of_office(doc: Any) -> bool:
        return office is None or office in (doc.meta.get("offices") or []) or doc.meta["unit_id"] == office

    selected = [d for d in docs if _in_field(d.meta.get("field"), field) and of_office(d)]
    hits = [_search_hit(d.meta["record"], float(d.score or 0.0),
                        d.meta["display"]["text"] if language != "de" else None) for d in selected[:k]]
    return {"query": query, "lang": language, "hits": hits, "facets": facets}
