"""OMoS-QA evaluation (issue 15): find the page among all 617, pick its answering sentences, or say it has none.

Dataset: **OMoS-QA** by Tür an Tür – Digitalfabrik gGmbH (``digitalfabrik/integreat-qa-dataset``; paper
"OMoS-QA: A Dataset for Cross-Lingual Extractive Question Answering in a German Migration Context",
KONVENS 2024), licensed CC BY 4.0. Every report written here names it.

``python -m eval.omos index``   build the page collection (every page in all five languages) in data/omos/qdrant
``python -m eval.omos fit``     fit the sentence model and its thresholds on the train split
``python -m eval.omos fit-ranker``   fit the query adapter and the page and evidence rankers' weights on train
``python -m eval.omos run --split dev``   score dev: retrieval, sentences, unanswerable, baselines, latency

Sentence metrics follow the dataset repository's evaluation (tools/evaluate_answers.py): over answerable
questions, per-question precision (1 when nothing is selected) and recall are averaged and F1 is taken of the
two means; unanswerable detection is P/R/F1 of "selected nothing" against "the page has no answer".
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ingest.pages import (
    EmbeddingCache,
    Page,
    chunk_page,
    index_pages,
    page_collection,
    sentence_vectors,
    validate_page,
)
from pipelines.page_search import QUERY_ADAPTER_PATH, SentenceVectors
from pipelines.sentences import (
    FEATURES,
    MODEL_PATH,
    Logistic,
    SentenceSelector,
    context_features,
    page_features,
    sentence_features,
)
from pipelines.settings import PROJECT_ROOT, Settings

logger = logging.getLogger(__name__)

DATASET_DIR = Path(os.environ.get("WEGWEISER_OMOS_DIR", "/work/shared/datasets/omos-qa"))
LANGUAGES = ("de", "en", "ar", "fr", "uk")
OMOS_HOME = PROJECT_ROOT / "data" / "omos"
COLLECTION = "omos"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
ATTRIBUTION = ("Dataset: OMoS-QA, Tür an Tür – Digitalfabrik gGmbH (github.com/digitalfabrik/integreat-qa-dataset),"
               " CC BY 4.0. Results are ours, on the public dev split; the paper's figures are on the test split.")
SYSTEMS = ("full", "dense", "lexical")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Question:
    """One OMoS-QA question: its page and the German sentence numbers that answer it (empty: unanswerable)."""

    id: int
    lang: str
    text: str
    page_id: str
    answers: tuple[int, ...]
    machine_translated: bool


def page_id(city: str, number: int | str) -> str:
    """The page id used in the index: ``<city>/<page id>``."""
    return f"{city}/{number}"


def load_omos_pages(dataset: Path = DATASET_DIR, languages: tuple[str, ...] = LANGUAGES) -> list[Page]:
    """Every page of the dataset in every language, as page-source pages."""
    pages = []
    for language in languages:
        with (dataset / f"pages_{language}.jsonl").open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                raw = json.loads(line)
                pages.append(validate_page(
                    {"id": page_id(raw["city"], raw["page_id"]), "text": raw["context"], "language": language,
                     "meta": {"city": raw["city"]}}, f"pages_{language}.jsonl:{number}"))
    return pages


def load_omos_questions(split: str, dataset: Path = DATASET_DIR) -> list[Question]:
    """The questions of ``train`` or ``dev`` (the test split is not in this repository and is never read)."""
    if split not in ("train", "dev"):
        raise ValueError("split must be train or dev: the test split is kept back for independent evaluation")
    with (dataset / f"{split}_questions.jsonl").open(encoding="utf-8") as lines:
        return [Question(raw["id"], raw["lang"], raw["question"], page_id(raw["city"], raw["page_id"]),
                         tuple(raw["answers_de"]), bool(raw["machine_translated"]))
                for raw in map(json.loads, lines)]


def omos_settings(base: Settings | None = None, home: Path = OMOS_HOME) -> Settings:
    """Settings whose embedded store is the OMoS store (never the served index's store)."""
    base = base or Settings()
    return base.model_copy(update={"qdrant_path": home / "qdrant", "qdrant_url": None})


def open_cache(home: Path = OMOS_HOME) -> EmbeddingCache:
    """The vector cache of the OMoS collection (kept under data/omos/, reused by every later run)."""
    return EmbeddingCache(home / "embeddings.sqlite")


# --- metrics -------------------------------------------------------------------------------------------------


def page_metrics(ranks: list[int | None]) -> dict[str, float]:
    """hit@1, hit@5 and MRR (rank 1-based; None: not among the pages returned)."""
    n = len(ranks) or 1
    return {"hit@1": sum(1 for r in ranks if r == 1) / n, "hit@5": sum(1 for r in ranks if r and r <= 5) / n,
            "mrr": sum(1 / r for r in ranks if r) / n, "n": len(ranks)}


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def sentence_metrics(gold: list[tuple[int, ...]], predicted: list[list[int]]) -> dict[str, float]:
    """Answer-sentence P/R/F1 over answerable questions and unanswerable-detection P/R/F1 (see module doc)."""
    precisions, recalls = [], []
    for answers, chosen in zip(gold, predicted, strict=True):
        if not answers:
            continue
        hit = len(set(answers) & set(chosen))
        precisions.append(hit / len(chosen) if chosen else 1.0)
        recalls.append(hit / len(answers))
    p = statistics.fmean(precisions) if precisions else 0.0
    r = statistics.fmean(recalls) if recalls else 0.0
    relevant = sum(1 for a in gold if not a)
    retrieved = sum(1 for c in predicted if not c)
    true = sum(1 for a, c in zip(gold, predicted, strict=True) if not a and not c)
    up, ur = (true / retrieved if retrieved else 0.0), (true / relevant if relevant else 0.0)
    return {"precision": p, "recall": r, "f1": _f1(p, r), "unanswerable_precision": up,
            "unanswerable_recall": ur, "unanswerable_f1": _f1(up, ur)}


# --- sentence features ---------------------------------------------------------------------------------------


class PageBook:
    """Every page by (id, language), its chunks and cached vectors: what sentence selection reads for a page."""

    def __init__(self, pages: list[Page], cache: EmbeddingCache) -> None:
        self.pages = {(p.id, p.language): p for p in pages}
        self.cache = cache

    def features(self, question: Question, question_vector: np.ndarray, page: str) -> tuple[np.ndarray, list[str]]:
        """Features of ``page``'s sentences for ``question`` (the sentences of the German page and of the
        question's language embedded on first use)."""
        german = self.pages[(page, "de")]
        own = self.pages.get((page, question.lang), german)
        de_sentences, own_sentences = german.sentences, own.sentences
        translated = own is not german and len(own_sentences) == len(de_sentences)
        if not translated:  # German, or a translation out of line: compare with German only
            own_sentences = de_sentences
        de_vectors = self._sentence_vectors(de_sentences)
        own_vectors = self._sentence_vectors(own_sentences) if translated else None
        chunks = chunk_page(own)
        chunk_vectors = self.cache.embed([c.text for c in chunks], is_query=False)
        chunk_scores = np.zeros(len(de_sentences), dtype=np.float32)
        for chunk, vector in zip(chunks, chunk_vectors, strict=True):
            chunk_scores[chunk.first:chunk.last + 1] = float(vector @ question_vector)
        versions = [self.pages.get((page, language)) for language in LANGUAGES]
        every_vectors = [de_vectors if v is german else own_vectors if v is own and translated
                         else self._sentence_vectors(v.sentences) for v in versions
                         if v is not None and len(v.sentences) == len(de_sentences)]
        return sentence_features(question.text, question.lang, question_vector, own_sentences, de_sentences,
                                 de_vectors, chunk_scores, own_vectors, every_vectors), de_sentences

    def _sentence_vectors(self, sentences: list[str]) -> np.ndarray:
        """e5 passage vectors of a page's sentences (zeros for empty lines; embedded on first use)."""
        present = [s for s in sentences if s]
        vectors = dict(zip(present, self.cache.embed(present, is_query=False), strict=True)) if present else {}
        return np.stack([vectors.get(s, np.zeros(384, np.float32)) for s in sentences])


def question_vectors(questions: list[Question], cache: EmbeddingCache) -> dict[int, np.ndarray]:
    """e5 query vectors by question id (cached)."""
    vectors = cache.embed([q.text for q in questions], is_query=True)
    return {_key(q): v for q, v in zip(questions, vectors, strict=True)}


def _key(question: Question) -> int:
    # Question ids are shared by the five language versions of a question.
    return question.id * 10 + LANGUAGES.index(question.lang)


# --- fitting -------------------------------------------------------------------------------------------------


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 25) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method on standardised features (numpy only)."""
    design = np.hstack([x, np.ones((len(x), 1))])
    weights = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-design @ weights))
        gradient = design.T @ (p - y) + penalty * weights
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-6:
            break
    return weights[:-1], float(weights[-1])


def _logistic(x: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None) -> Logistic:
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    mask = np.ones(x.shape[1], dtype=bool) if mask is None else mask
    coefficients, intercept = fit_logistic(((x - mean) / scale)[:, mask], y)
    full = np.zeros(x.shape[1])
    full[mask] = coefficients
    return Logistic(tuple(mean.tolist()), tuple(scale.tolist()), tuple(full.tolist()), intercept)


def tune_thresholds(selector: SentenceSelector, matrices: list[np.ndarray], gold: list[tuple[int, ...]],
                    sentences: list[list[str]], probabilities: list[np.ndarray] | None = None,
                    unanswerable: np.ndarray | None = None) -> SentenceSelector:
    """The decoding and thresholds that maximise the mean of answer-sentence F1 and unanswerable F1 on these
    questions.

    Same rule as SentenceSelector.select, vectorised over questions so that a fine grid stays cheap.

    :param probabilities: the sentence probabilities to tune on (default: the selector's own on ``matrices``;
        pass out-of-fold ones so that the thresholds do not learn the fit's optimism).
    :param unanswerable: each question's does-not-answer probability (default: the selector's page model on
        ``probabilities``, without a question vector).
    """
    if probabilities is None:
        probabilities = [selector.probabilities(m) for m in matrices]
    unanswerable_p = unanswerable if unanswerable is not None else np.array(
        [selector.unanswerable(p, m) for p, m in zip(probabilities, matrices, strict=True)])
    answerable = np.array([bool(g) for g in gold])
    gold_sizes = np.array([max(len(g), 1) for g in gold])
    trials = [("run", 0.0)] + [("each", relative) for relative in (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)]
    best, best_score = selector, -1.0
    for decoding, relative in trials:
        for threshold in np.arange(0.05, 0.8, 0.025):
            trial = replace(selector, threshold=float(threshold), relative=relative, decoding=decoding)
            hits, counts = np.zeros(len(gold)), np.zeros(len(gold))
            for q, (probs, lines, answers) in enumerate(zip(probabilities, sentences, gold, strict=True)):
                chosen = trial.choose(probs, lines)
                hits[q], counts[q] = len(set(chosen) & set(answers)), len(chosen)
            for unanswerable_threshold in np.arange(0.05, 0.96, 0.025):
                empty = unanswerable_p >= unanswerable_threshold
                precision = np.where(empty, 1.0, hits / counts)[answerable].mean()
                recall = np.where(empty, 0.0, hits / gold_sizes)[answerable].mean()
                true = (empty & ~answerable).sum()
                unanswerable = _f1(true / max(empty.sum(), 1), true / max((~answerable).sum(), 1))
                score = (_f1(precision, recall) + unanswerable) / 2
                if score > best_score:
                    best_score = score
                    best = replace(trial, unanswerable_threshold=float(unanswerable_threshold))
    return best


FEATURE_SETS = {
    "full": [True] * len(FEATURES),
    "dense": [f.startswith(("dense", "chunk", "neighbour_dense", "page_dense")) and f != "dense_x_lexical"
              for f in FEATURES],
    "lexical": [f.startswith(("lexical", "neighbour_lexical", "page_lexical")) for f in FEATURES],
}


def page_folds(questions: list[Question], folds: int = 5) -> list[np.ndarray]:
    """Question indices split into ``folds`` groups by page (all questions of a page in one group)."""
    pages = sorted({q.page_id for q in questions})
    fold_of = {page: number % folds for number, page in enumerate(pages)}
    return [np.array([i for i, q in enumerate(questions) if fold_of[q.page_id] == f]) for f in range(folds)]


def _out_of_fold(matrices: list[np.ndarray], labels: list[np.ndarray], folds: list[np.ndarray],
                 mask: np.ndarray) -> list[np.ndarray]:
    """Each question's probabilities from a model fitted on the other folds' questions (other pages)."""
    probabilities: list[np.ndarray] = [np.zeros(0)] * len(matrices)
    for held in folds:
        rest = np.setdiff1d(np.arange(len(matrices)), held)
        model = _logistic(np.vstack([matrices[i] for i in rest]), np.concatenate([labels[i] for i in rest]), mask)
        for i in held:
            probabilities[i] = model(matrices[i])
    return probabilities


#: L2 penalty of the question prior (on raw e5 vectors). Chosen on train: page-grouped cross-validation of the
#: page model with the prior as input (on the 21 sentence features of the time), over six shuffles of the page
#: folds, gave AUC 0.894 / 0.897 / 0.898 / 0.894 and average precision 0.694 / 0.697 / 0.692 / 0.675 for
#: 0.1 / 0.3 / 1 / 3 (an earlier 0.1 had been picked on dev).
QUESTION_PRIOR_L2 = 0.3


def fit_selector(matrices: list[np.ndarray], questions: list[Question], lines: list[list[str]],
                 mask: list[bool], vectors: np.ndarray | None = None) -> SentenceSelector:
    """Fit the sentence model (on the features in ``mask``), its second pass on the neighbours' probabilities,
    the question prior (with ``vectors``, the questions' e5 vectors as rows), the page model, then decoding and
    thresholds.

    The second pass, the page model and the thresholds learn from out-of-fold probabilities (folds by page), so
    they see the first pass and the question prior as they behave on pages they were not fitted on.
    """
    labels = [np.isin(np.arange(len(m)), q.answers).astype(float) for m, q in zip(matrices, questions, strict=True)]
    sentence_mask = np.array(mask)
    sentence = _logistic(np.vstack(matrices), np.concatenate(labels), sentence_mask)
    folds = page_folds(questions)
    first = _out_of_fold(matrices, labels, folds, sentence_mask)
    contexts = [context_features(p, m) for p, m in zip(first, matrices, strict=True)]
    context_mask = np.concatenate([sentence_mask, np.ones(contexts[0].shape[1] - len(mask), dtype=bool)])
    context = _logistic(np.vstack(contexts), np.concatenate(labels), context_mask)
    second = _out_of_fold(contexts, labels, folds, context_mask)
    pages = np.array([page_features(p, m) for p, m in zip(second, matrices, strict=True)])
    unanswered = np.array([0.0 if q.answers else 1.0 for q in questions])
    question, question_mean = None, 0.0
    if vectors is not None:
        prior = np.zeros(len(questions))
        for held in folds:
            rest = np.setdiff1d(np.arange(len(questions)), held)
            weights, intercept = fit_logistic(vectors[rest], unanswered[rest], l2=QUESTION_PRIOR_L2)
            prior[held] = vectors[held] @ weights + intercept
        weights, intercept = fit_logistic(vectors, unanswered, l2=QUESTION_PRIOR_L2)
        dimension = vectors.shape[1]
        question = Logistic((0.0,) * dimension, (1.0,) * dimension, tuple(weights.tolist()), intercept)
        question_mean = float((vectors @ weights + intercept).mean())
        pages = np.hstack([pages, prior[:, None]])
    page = _logistic(pages, unanswered)
    selector = SentenceSelector(sentence, page, 0.5, 0.5, context=context, question=question,
                                question_mean=question_mean)
    return tune_thresholds(selector, matrices, [q.answers for q in questions], lines, probabilities=second,
                           unanswerable=page(pages))


def fit(pages: list[Page], cache: EmbeddingCache, questions: list[Question],
        progress: Progress | None = None) -> dict[str, SentenceSelector]:
    """Fit the full sentence model and the dense-only and lexical-only baselines on ``questions`` (train)."""
    book = PageBook(pages, cache)
    vectors = question_vectors(questions, cache)
    rows = np.array([vectors[_key(q)] for q in questions], dtype=np.float64)
    matrices, lines = [], []
    for done, question in enumerate(questions, 1):
        matrix, de_sentences = book.features(question, vectors[_key(question)], question.page_id)
        matrices.append(matrix)
        lines.append(de_sentences)
        if progress:
            progress(done, len(questions))
    # The question prior is a dense signal of the full model; the baselines keep to their one kind of feature.
    return {name: fit_selector(matrices, questions, lines, mask, rows if name == "full" else None)
            for name, mask in FEATURE_SETS.items()}


def save_selectors(selectors: dict[str, SentenceSelector], model_path: Path = MODEL_PATH,
                   baselines_path: Path = RESULTS_DIR / "omos_sentence_baselines.json") -> None:
    """The full model goes to pipelines/ (it is what Wegweiser applies); the baselines stay with the results."""
    source = {"fitted_on": "OMoS-QA train split (Tür an Tür – Digitalfabrik gGmbH, CC BY 4.0)"}
    model_path.write_text(json.dumps({**selectors["full"].to_dict(), **source}, indent=1) + "\n", encoding="utf-8")
    baselines_path.parent.mkdir(parents=True, exist_ok=True)
    baselines_path.write_text(json.dumps({k: {**v.to_dict(), **source} for k, v in selectors.items()}, indent=1)
                              + "\n", encoding="utf-8")


def load_selectors(baselines_path: Path = RESULTS_DIR / "omos_sentence_baselines.json") -> dict[str, SentenceSelector]:
    """The full model and its baselines as fitted by ``fit``."""
    raw = json.loads(baselines_path.read_text(encoding="utf-8"))
    return {name: SentenceSelector.from_dict(value) for name, value in raw.items()}


# --- the run -------------------------------------------------------------------------------------------------


def build_index(settings: Settings, pages: list[Page], cache: EmbeddingCache, progress: Progress | None = None):  # type: ignore[no-untyped-def]
    """Index every page in every language (a no-op when the store already holds exactly these pages), and write
    the sentence vectors the evidence ranker reads when they are missing or the pages changed."""
    report = index_pages(settings, COLLECTION, pages, cache, progress=progress)
    if not report.skipped or not SENTENCE_VECTORS.exists():
        sentence_vectors(pages, cache).save(SENTENCE_VECTORS)
    return report


RANKER_PATH = RESULTS_DIR / "omos_page_ranker.json"
#: The evidence ranker's input: every sentence vector of the collection (gitignored, rebuilt from the cache).
SENTENCE_VECTORS = OMOS_HOME / "sentence_vectors.npz"
#: Wrong pages per question the page ranker is fitted against: the best-placed ones, which it must learn to
#: put below the right page (far-off pages teach it nothing).
RANKER_NEGATIVES = 40


@dataclass(frozen=True)
class Rankers:
    """The fitted weights of page search: the page ranker's and the evidence ranker's (None: shipped ones), and
    the query adapter's file (None: no adapter)."""

    page: dict[str, float] | None = None
    evidence: dict[str, float] | None = None
    adapter: str | None = None


def _search(settings: Settings, questions: list[Question], rankers: Rankers | None,
            progress: Progress | None = None, *, evidence: bool = True) -> list[dict[str, Any]]:
    """Run the page-search pipeline for every question in its own language; the page ranking, the page ranker's
    candidates, every retriever's chunks and the time each search took (embedding included).

    :param evidence: with the evidence ranker (else the page ranker's ranking is the result).
    """
    from pipelines.page_search import build_page_search_pipeline
    from pipelines.store import open_document_store

    rankers = rankers or Rankers()
    pipelines: dict[str, Any] = {}
    german = open_document_store(settings, page_collection(COLLECTION, "de"))
    results = []
    for done, question in enumerate(questions, 1):
        if question.lang not in pipelines:
            store = open_document_store(settings, page_collection(COLLECTION, question.lang))
            pipelines[question.lang] = build_page_search_pipeline(
                settings, store, top_k=20, german_store=german, weights=rankers.page,
                sentence_vectors=SENTENCE_VECTORS if evidence else None, evidence_weights=rankers.evidence,
                query_adapter=rankers.adapter)
            pipelines[question.lang].warm_up()
        inputs = {"text": question.text, "language": question.lang}
        data: dict[str, Any] = {"text_embedder": {"text": question.text}, "sparse_embedder": inputs,
                                "german_sparse_embedder": inputs}
        if evidence:
            data["evidence_ranker"] = {"language": question.lang}
        if rankers.adapter is not None:
            data["query_adapter"] = {"language": question.lang}
        started = time.perf_counter()
        output = pipelines[question.lang].run(data, include_outputs_from={
            "dense_retriever", "sparse_retriever", "german_sparse_retriever", "page_ranker"})
        seconds = time.perf_counter() - started
        candidates = output["page_ranker"]["pages"]
        results.append({"pages": output["evidence_ranker"]["pages"] if evidence else candidates,
                        "candidates": candidates, "dense": output["dense_retriever"]["documents"],
                        "lexical": output["sparse_retriever"]["documents"],
                        "german": output["german_sparse_retriever"]["documents"], "ms": seconds * 1000})
        if progress:
            progress(done, len(questions))
    return results


def retrieve(settings: Settings, questions: list[Question], rankers: Rankers | None = None,
             progress: Progress | None = None) -> list[dict[str, Any]]:
    """Page rankings of the full system (the page-search pipeline), of its page ranker alone (before the
    evidence ranker), and of the dense-only and lexical-only baselines (a page placed by its best chunk in that
    one retriever's list), and each search's time."""
    from pipelines.components.page_ranker import PageRanker

    ranker = PageRanker(top_k=20)
    results = []
    for found in _search(settings, questions, rankers, progress):
        rankings = {
            "full": [p.meta["page_id"] for p in found["pages"]],
            "ranker": [p.meta["page_id"] for p in found["candidates"][:20]],
            "dense": [p.meta["page_id"] for p in ranker.run(found["dense"])["pages"]],
            "lexical": [p.meta["page_id"] for p in ranker.run(found["lexical"])["pages"]],
        }
        results.append({"rankings": rankings, "ms": found["ms"]})
    return results


def fit_conditional_logit(groups: list[tuple[np.ndarray, int]], l2: float = 1.0,
                          iterations: int = 30) -> np.ndarray:
    """Weights (on the raw features) of a conditional logit: in each group (candidates' features, index of the
    right one) the right candidate's softmax probability is maximised, with an L2 penalty on standardised
    features (Newton's method, numpy only)."""
    rows = np.vstack([x for x, _ in groups])
    mean, scale = rows.mean(axis=0), rows.std(axis=0) + 1e-9
    weights = np.zeros(rows.shape[1])
    for _ in range(iterations):
        gradient, hessian = l2 * weights, l2 * np.eye(len(weights))
        for x, right in groups:
            z = (x - mean) / scale
            scores = z @ weights
            p = np.exp(scores - scores.max())
            p /= p.sum()
            expected = p @ z
            gradient -= z[right] - expected
            hessian += (z * p[:, None]).T @ z - np.outer(expected, expected)
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-6:
            break
    # The mean the standardisation subtracts is the same for every candidate of a group: ranking ignores it.
    return weights / scale


def fit_page_ranker(settings: Settings, questions: list[Question], progress: Progress | None = None,
                    negatives: int = RANKER_NEGATIVES, vectors: SentenceVectors | None = None,
                    adapter_path: Path | None = QUERY_ADAPTER_PATH) -> Rankers:
    """The query adapter (with ``adapter_path``: fitted on all ``questions`` (train) and written there), then
    the page ranker's weights (a logistic model of "this is the right page" over PAGE_FEATURES, fitted on the
    answerable questions against each question's best-placed wrong pages), then the evidence ranker's (a
    conditional logit over the page ranker's candidates, so it learns to re-order what the fitted page ranker
    hands it). One search per question serves both rankers: the retrievers do not depend on their weights.

    The searches the rankers learn from use out-of-fold adapters (folds by page): on its own training questions
    an adapter places the right page better than it will on new ones, and the rankers would learn to trust
    dense search too much."""
    from pipelines.components.page_ranker import PAGE_FEATURES, PageRanker, page_feature_matrix
    from pipelines.page_search import EVIDENCE_CANDIDATES, EVIDENCE_FEATURES, evidence_features

    answerable = [q for q in questions if q.answers]
    if adapter_path is None:
        found_all = _search(settings, answerable, None, progress, evidence=False)
    else:
        found_all = _search_out_of_fold(settings, questions, answerable, adapter_path, progress)
    rows, labels = [], []
    for question, found in zip(answerable, found_all, strict=True):
        pages, features = page_feature_matrix(found["dense"], found["lexical"], found["german"])
        dense_rank, lexical_rank = PAGE_FEATURES.index("dense_rank"), PAGE_FEATURES.index("lexical_rank")
        keep = np.argsort(-(features[:, dense_rank] + features[:, lexical_rank]), kind="stable")[:negatives]
        rows.append(features[keep])
        labels.append(np.array([pages[i] == question.page_id for i in keep], dtype=float))
    x, y = np.vstack(rows), np.concatenate(labels)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    coefficients, _ = fit_logistic((x - mean) / scale, y)
    # On raw features the constant the standardisation adds is the same for every page: ranking ignores it.
    page = {name: round(float(w), 4) for name, w in zip(PAGE_FEATURES, coefficients / scale, strict=True)}
    vectors = vectors or SentenceVectors.load(SENTENCE_VECTORS)
    ranker = PageRanker(top_k=EVIDENCE_CANDIDATES, weights=page)
    vector_of = question_vectors(answerable, open_cache())
    groups = []
    for question, found in zip(answerable, found_all, strict=True):
        candidates = ranker.run(dense_documents=found["dense"], lexical_documents=found["lexical"],
                                german_documents=found["german"])["pages"]
        ids = [p.meta["page_id"] for p in candidates]
        if question.page_id in ids:  # a page the ranker did not hand over cannot be re-ranked into place
            groups.append((evidence_features(candidates, vector_of[_key(question)], question.lang, vectors),
                           ids.index(question.page_id)))
    evidence = {name: round(float(w), 4) for name, w in
                zip(EVIDENCE_FEATURES, fit_conditional_logit(groups), strict=True)}
    return Rankers(page, evidence, None if adapter_path is None else str(adapter_path))


def _search_out_of_fold(settings: Settings, questions: list[Question], answerable: list[Question],
                        adapter_path: Path, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Fit the query adapter on ``questions`` (written to ``adapter_path``), and search each answerable
    question with an adapter fitted on the other folds' pages (results in the order of ``answerable``)."""
    import tempfile

    from eval.omos_adapter import chunk_matrices, fit_query_adapter

    pages, cache = load_omos_pages(), open_cache()
    page_ids = list(dict.fromkeys(p.id for p in pages))
    chunks = chunk_matrices(pages, cache, page_ids)
    vector_of = question_vectors(questions, cache)
    rows = np.array([vector_of[_key(q)] for q in questions], dtype=np.float32)
    languages = [q.lang for q in questions]
    number = {page: n for n, page in enumerate(page_ids)}
    numbers = np.array([number[q.page_id] for q in questions])
    fit_query_adapter(rows, languages, numbers, chunks).save(adapter_path)
    position = {_key(q): n for n, q in enumerate(answerable)}
    found_all: list[dict[str, Any]] = [{}] * len(answerable)
    with tempfile.TemporaryDirectory() as folder:
        for number, held in enumerate(page_folds(questions)):
            rest = np.setdiff1d(np.arange(len(questions)), held)
            path = Path(folder) / f"fold{number}.npz"
            fit_query_adapter(rows[rest], [languages[i] for i in rest], numbers[rest], chunks).save(path)
            searched = [questions[i] for i in held if _key(questions[i]) in position]
            for question, found in zip(searched, _search(settings, searched, Rankers(adapter=str(path)), progress,
                                                         evidence=False), strict=True):
                found_all[position[_key(question)]] = found
    return found_all


def load_page_ranker(path: Path = RANKER_PATH) -> Rankers:
    """The fitted page-search weights (None each when not fitted: the shipped weights apply)."""
    if not path.exists():
        return Rankers()
    raw = json.loads(path.read_text(encoding="utf-8"))
    adapter = raw.get("query_adapter")
    return Rankers(raw.get("weights"), raw.get("evidence_weights"),
                   str(PROJECT_ROOT / adapter) if adapter else None)


def save_page_ranker(rankers: Rankers, path: Path = RANKER_PATH) -> None:
    """Keep the fitted weights with the results (copy them into ADAPTED_WEIGHTS and ADAPTED_EVIDENCE_WEIGHTS,
    or FITTED_WEIGHTS and EVIDENCE_WEIGHTS when fitted without the adapter, to ship them)."""
    adapter = Path(rankers.adapter).resolve() if rankers.adapter else None
    path.write_text(json.dumps({"weights": rankers.page, "evidence_weights": rankers.evidence,
                                "query_adapter": str(adapter.relative_to(PROJECT_ROOT)) if adapter else None,
                                "fitted_on": "OMoS-QA train split, answerable questions "
                                "(Tür an Tür – Digitalfabrik gGmbH, CC BY 4.0)"}, indent=1) + "\n",
                    encoding="utf-8")


def _rank(ranking: list[str], page: str) -> int | None:
    return ranking.index(page) + 1 if page in ranking else None


def run(split: str, settings: Settings, pages: list[Page], cache: EmbeddingCache,
        selectors: dict[str, SentenceSelector], progress: Progress | None = None,
        end_to_end_baselines: bool = False) -> dict[str, Any]:
    """Score one split: per question language, page retrieval, sentences given the right page and end to end,
    unanswerable detection, for the full system and the dense-only and lexical-only baselines.

    :param end_to_end_baselines: also score the baselines end to end (each wrong top-1 page's sentences must be
        embedded: minutes on two cores).
    """
    started = time.perf_counter()
    questions = load_omos_questions(split)
    retrieved = retrieve(settings, questions, load_page_ranker(), progress)
    book = PageBook(pages, cache)
    vectors = question_vectors(questions, cache)
    rows = []
    for question, found in zip(questions, retrieved, strict=True):
        vector = vectors[_key(question)]
        row: dict[str, Any] = {"id": question.id, "lang": question.lang, "gold": list(question.answers),
                               "ms": found["ms"]}
        features = {question.page_id: book.features(question, vector, question.page_id)}
        row["rank_ranker"] = _rank(found["rankings"]["ranker"], question.page_id)
        # Secondary (an Integreat app serves one region): the rank among the pages of the question's own city.
        city = question.page_id.split("/")[0] + "/"
        row["rank_full_city"] = _rank([p for p in found["rankings"]["full"] if p.startswith(city)], question.page_id)
        for system in SYSTEMS:
            ranking = found["rankings"][system]
            row[f"rank_{system}"] = _rank(ranking, question.page_id)
            row[f"given_{system}"] = selectors[system].select(*features[question.page_id], vector).selected
            top = ranking[0] if ranking else None
            if system != "full" and not end_to_end_baselines:
                continue
            if top is None:
                row[f"e2e_{system}"] = []
                continue
            if top not in features:
                features[top] = book.features(question, vector, top)
            chosen = selectors[system].select(*features[top], vector).selected
            # Sentences of a wrong page never count as answers: numbered from -1 down, they miss every gold line.
            row[f"e2e_{system}"] = chosen if top == question.page_id else [-1 - i for i in chosen]
        rows.append(row)
    return {"split": split, "questions": len(rows), "seconds": round(time.perf_counter() - started, 1),
            "summary": summarize(rows), "attribution": ATTRIBUTION, "rows": rows}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Metrics per question language and overall."""
    groups = {"overall": rows, **{lang: [r for r in rows if r["lang"] == lang] for lang in LANGUAGES}}
    summary: dict[str, Any] = {}
    for name, group in groups.items():
        if not group:
            continue
        block: dict[str, Any] = {}
        for system in SYSTEMS:
            gold = [tuple(r["gold"]) for r in group]
            block[system] = {
                **page_metrics([r[f"rank_{system}"] for r in group if r["gold"]]),
                "hit@5_all_questions": page_metrics([r[f"rank_{system}"] for r in group])["hit@5"],
                "given_page": sentence_metrics(gold, [r[f"given_{system}"] for r in group]),
            }
            if all(f"e2e_{system}" in r for r in group):
                block[system]["end_to_end"] = sentence_metrics(gold, [r[f"e2e_{system}"] for r in group])
        answerable = [r for r in group if r["gold"]]
        if all("rank_ranker" in r for r in answerable):
            block["page_ranker_only"] = page_metrics([r["rank_ranker"] for r in answerable])
            block["city_scoped"] = page_metrics([r["rank_full_city"] for r in answerable])
        times = sorted(r["ms"] for r in group)
        block["latency_ms"] = {"median": round(statistics.median(times), 1),
                               "p95": round(times[int(0.95 * (len(times) - 1))], 1)}
        summary[name] = block
    return summary


# --- the report ----------------------------------------------------------------------------------------------

PUBLISHED = ("Published, German **test** split, right page given (from the dataset repository's tables): answer-"
             "sentence F1 62.0 / unanswerable F1 72.9 Llama-3-70B 5-shot; 62.5 / 70.2 Mixtral-8x7B 5-shot; 58.1 / "
             "70.9 GPT-3.5 5-shot; 62.5 / 60.5 DeBERTa fine-tuned; human upper bound 69.7 (sentences).")


def _f(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown (percentages), with the dataset's attribution."""
    summary = report["summary"]
    lines = [f"# OMoS-QA — {report['split']} split", "", f"*{ATTRIBUTION}*", "",
             f"{report['questions']} questions ({report['seconds']} s). Pages searched: all 617, every language "
             "version indexed; each question searches its own language. *full* = dense e5 and lexical search (in the "
             "question's language, and lexically in German; for en/ar/fr/uk questions dense search uses the e5 "
             "vector moved by a query adapter, a linear map fitted on train), pages weighed by the page ranker fitted "
             "on train and its first 30 re-ordered by the evidence ranker (how close each page's best sentences come "
             "to the question), with the full sentence model (whose does-it-answer decision also weighs a prior on the "
             "question's e5 vector); *page ranker only* = the same without the evidence ranker; "
             "*dense* / *lexical* = one retriever (a page placed by its best chunk) "
             "and a sentence model on only that kind of feature. Every model and threshold is fitted on the train "
             "split; dev is only scored.", "", "## Finding the page (answerable questions)", "",
             "| language | n | hit@1 full | hit@5 full | MRR full | hit@5 page ranker only | hit@5 dense | "
             "hit@5 lexical | MRR dense | MRR lexical | latency median / p95 ms |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, block in summary.items():
        full, dense, lexical = block["full"], block["dense"], block["lexical"]
        ranker_only = (block.get("page_ranker_only") or {}).get("hit@5")
        lines.append(f"| {name} | {full['n']} | {_f(full['hit@1'])} | {_f(full['hit@5'])} | {_f(full['mrr'])} | "
                     f"{_f(ranker_only)} | {_f(dense['hit@5'])} | {_f(lexical['hit@5'])} | {_f(dense['mrr'])} | "
                     f"{_f(lexical['mrr'])} | {block['latency_ms']['median']} / {block['latency_ms']['p95']} |")
    if all("city_scoped" in block for block in summary.values()):
        lines += ["", "Secondary figure, **not** the measure above: the same ranking restricted to the pages of the "
                  "question's own city (an Integreat app serves one region).", "",
                  "| language | hit@1 city-scoped | hit@5 city-scoped | MRR city-scoped |", "|---|---|---|---|"]
        lines += [f"| {name} | {_f(block['city_scoped']['hit@1'])} | {_f(block['city_scoped']['hit@5'])} | "
                  f"{_f(block['city_scoped']['mrr'])} |" for name, block in summary.items()]
    for mode, title in (("given_page", "Answer sentences, right page given (the published task)"),
                        ("end_to_end", "Answer sentences end to end (top-1 page of the same system)")):
        lines += ["", f"## {title}", "",
                  "| language | P full | R full | **F1 full** | F1 dense | F1 lexical | unanswerable P | "
                  "unanswerable R | **unanswerable F1 full** | unans. F1 dense | unans. F1 lexical |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, block in summary.items():
            full, dense, lexical = (block[s].get(mode) or {} for s in SYSTEMS)
            lines.append(f"| {name} | {_f(full['precision'])} | {_f(full['recall'])} | **{_f(full['f1'])}** | "
                         f"{_f(dense.get('f1'))} | {_f(lexical.get('f1'))} | {_f(full['unanswerable_precision'])} | "
                         f"{_f(full['unanswerable_recall'])} | **{_f(full['unanswerable_f1'])}** | "
                         f"{_f(dense.get('unanswerable_f1'))} | {_f(lexical.get('unanswerable_f1'))} |")
    lines += ["", PUBLISHED, "", "Targets on dev: hit@5 ≥ 90 in every language; sentence F1 (right page) ≥ 60; "
              "unanswerable F1 ≥ 70.", ""]
    return "\n".join(lines)


def plot(report: dict[str, Any], folder: Path) -> list[Path]:
    """Two bar charts by question language, full system against both baselines: hit@5, and sentence F1 given
    the right page."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    languages = [lang for lang in LANGUAGES if lang in report["summary"]]
    charts = {"omos_dev_hit5.png": ("page hit@5", lambda b, s: b[s]["hit@5"], 90),
              "omos_dev_sentence_f1.png": ("answer-sentence F1, right page given",
                                           lambda b, s: b[s]["given_page"]["f1"], 60)}
    paths = []
    for filename, (label, value, target) in charts.items():
        fig, axis = plt.subplots(figsize=(7, 3.6))
        width = 0.27
        for offset, system in enumerate(SYSTEMS):
            heights = [100 * value(report["summary"][lang], system) for lang in languages]
            axis.bar([i + (offset - 1) * width for i in range(len(languages))], heights, width, label=system)
        axis.set_xticks(range(len(languages)), languages)
        axis.axhline(target, color="grey", linestyle="--", linewidth=1, label=f"target {target}")
        axis.set_ylim(0, 115)
        axis.set_ylabel(label + " (%)")
        axis.set_title(f"OMoS-QA {report['split']}: {label}", fontsize=10)
        axis.legend(fontsize=8, loc="upper center", ncol=4)
        fig.text(0.01, 0.01, "Data: OMoS-QA, Tür an Tür – Digitalfabrik gGmbH, CC BY 4.0", fontsize=6)
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        path = folder / filename.replace("dev", report["split"])
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def write_report(report: dict[str, Any], folder: Path = RESULTS_DIR) -> list[Path]:
    """``omos_<split>.json`` (summary and per-question rows), ``omos_<split>.md`` and the plots."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / f"omos_{report['split']}.json"
    # Summary readable, one line per question below it: the file stays diffable and small.
    rows = ",\n".join(json.dumps(row, ensure_ascii=False) for row in report["rows"])
    head = json.dumps({k: v for k, v in report.items() if k != "rows"}, indent=1, ensure_ascii=False)
    json_path.write_text(f"{head[:-2]},\n \"rows\": [\n{rows}\n]}}\n", encoding="utf-8")
    md_path = folder / f"omos_{report['split']}.md"
    md_path.write_text(markdown(report), encoding="utf-8")
    return [json_path, md_path, *plot(report, folder)]


def evaluate(split: str = "dev", *, refit: bool = False, progress: Progress | None = None,
             log: Callable[[str], None] = print) -> tuple[dict[str, Any], list[Path]]:
    """Everything ``wegweiser eval --dataset omos-qa`` does: index on first run, fit when there is no model yet
    (or ``refit``), score the split, write the report."""
    settings = omos_settings()
    cache = open_cache()
    pages = load_omos_pages()
    report_index = build_index(settings, pages, cache, progress)
    log(f"index: {'unchanged' if report_index.skipped else 'built'}, {sum(report_index.chunks_by_language.values())}"
        f" chunks, {report_index.embedded} newly embedded")
    baselines = RESULTS_DIR / "omos_sentence_baselines.json"
    if refit or not baselines.exists():
        log("fitting the sentence model on the train split")
        save_selectors(fit(pages, cache, load_omos_questions("train")))
    if refit or not RANKER_PATH.exists():
        log("fitting the page ranker on the train split")
        save_page_ranker(fit_page_ranker(settings, load_omos_questions("train")))
    report = run(split, settings, pages, cache, load_selectors(baselines), progress)
    return report, write_report(report)


def main(argv: list[str] | None = None) -> int:
    """``python -m eval.omos [index|fit|run] [--split dev]``."""
    parser = argparse.ArgumentParser(prog="python -m eval.omos", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("index", "fit", "fit-ranker", "run"), nargs="?", default="run")
    parser.add_argument("--split", choices=("dev", "train"), default="dev")
    parser.add_argument("--refit", action="store_true", help="fit the sentence model again before scoring")
    parser.add_argument("--train-pages", type=int, default=0,
                        help="fit on the questions of this many train pages only (0: all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    cache = open_cache()
    pages = load_omos_pages()
    if args.command == "index":
        report = build_index(omos_settings(), pages, cache)
        print(f"{report.collection}: {report.chunks_by_language} ({report.embedded} embedded)")  # noqa: T201
    elif args.command == "fit":
        questions = load_omos_questions("train")
        if args.train_pages:
            questions = subset_by_pages(questions, args.train_pages)
        selectors = fit(pages, cache, questions)
        save_selectors(selectors)
        for name, selector in selectors.items():
            print(name, f"threshold {selector.threshold:.3f}, unanswerable {selector.unanswerable_threshold:.3f}, "  # noqa: T201
                  f"relative {selector.relative}, decoding {selector.decoding}")
    elif args.command == "fit-ranker":
        weights = fit_page_ranker(omos_settings(), load_omos_questions("train"))
        save_page_ranker(weights)
        print("page ranker weights", weights.page, "evidence ranker weights", weights.evidence)  # noqa: T201
    else:
        report, paths = evaluate(args.split, refit=args.refit)
        print(markdown(report))  # noqa: T201
        print("wrote", ", ".join(str(p) for p in paths))  # noqa: T201
    return 0


def subset_by_pages(questions: list[Question], pages: int, seed: int = 15) -> list[Question]:
    """The questions of ``pages`` randomly chosen pages (a cheaper fit when embedding time is short)."""
    import random

    ids = sorted({q.page_id for q in questions})
    random.Random(seed).shuffle(ids)
    chosen = set(ids[:pages])
    return [q for q in questions if q.page_id in chosen]


if __name__ == "__main__":  # pragma: no cover - command line
    sys.exit(main())
