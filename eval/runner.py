"""``wegweiser eval``: score the real pipeline and two baselines on the question set, in one run."""

from __future__ import annotations

import logging
import re
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from haystack import Document
from haystack.components.evaluators import DocumentMRREvaluator, DocumentNDCGEvaluator, DocumentRecallEvaluator

from eval.baselines import BASELINES, build_baseline_pipeline, run_baseline
from eval.questions import Question, load_questions
from ingest.corpus import load_corpus
from pipelines.components.query_language_detector import QueryLanguageDetector
from pipelines.query import ask_traced, build_query_pipeline, open_served_index
from pipelines.records import has_current_contact
from pipelines.settings import SUPPORTED_LANGUAGES, Settings
from pipelines.simple_language import simple_language_problems

# Haystack's evaluators warn for every question a baseline finds nothing for; the report counts those as misses.
logging.getLogger("haystack.components.evaluators").setLevel(logging.ERROR)

FULL = "full"
SYSTEMS = (FULL, *BASELINES)
K_VALUES = (1, 3, 5)
_MARKER = re.compile(r"\s*\[\d+\]")

Progress = Callable[[int, int], None]


@dataclass
class QuestionResult:
    """One question's outcome for every system."""

    question: Question
    ranked: dict[str, list[str]]
    answered: bool
    confidence: float
    features: dict[str, float]
    offices: list[str]
    answer_language: str | None
    simple_problems: list[str]
    latency_ms: float
    contacts: list[str] = field(default_factory=list)
    #: the expected contacts a card can show at all (services with a current contact in the corpus)
    expected_contacts: tuple[str, ...] = ()
    simple_contacts: list[str] | None = None
    coverage: str = "none"
    missing: list[str] = field(default_factory=list)


@dataclass
class EvalRun:
    """Every question's result, plus what was evaluated."""

    split: str
    build: str
    results: list[QuestionResult] = field(default_factory=list)
    seconds: float = 0.0


def _answer_text(answer: dict[str, Any]) -> str:
    return _MARKER.sub("", answer.get("answer", ""))


def run_questions(settings: Settings, questions: list[Question], progress: Progress | None = None,
                  systems: tuple[str, ...] = SYSTEMS) -> EvalRun:
    """Ask every question of every system and collect the raw results.

    :raises IndexNotReadyError: when there is no index.
    """
    index = open_served_index(settings)
    full = build_query_pipeline(settings, index)
    full.warm_up()
    baselines = {name: build_baseline_pipeline(name, settings, index.stores["de"])
                 for name in systems if name != FULL}
    for pipeline in baselines.values():
        pipeline.warm_up()
    detector = QueryLanguageDetector()
    detector.warm_up()
    contactable = {u.id for u in load_corpus(settings.corpus_dir).units if has_current_contact(u.extra.get("contact"))}
    run = EvalRun(split=",".join(sorted({q.split for q in questions})), build=index.build)
    started = time.perf_counter()
    for i, question in enumerate(questions, start=1):
        t0 = time.perf_counter()
        answer, ranked, features = ask_traced(full, question.question, None, question.simple)
        latency = (time.perf_counter() - t0) * 1000
        text = _answer_text(answer)
        problems = simple_language_problems(text.split("\n" + _first_glossary_line(answer))[0]) \
            if question.simple and answer["answered"] else []
        contacts = [c["id"] for c in answer.get("contacts", [])]
        simple_contacts = None
        if question.kind == "resident" and answer["answered"] and contacts:
            # The same question in Einfache-Sprache mode must show a contact card too.
            simple_contacts = [c["id"] for c in ask_traced(full, question.question, None, True)[0].get("contacts", [])]
        run.results.append(QuestionResult(
            question=question,
            ranked={FULL: ranked, **{name: run_baseline(p, name, question.question) for name, p in baselines.items()}},
            answered=answer["answered"], confidence=answer.get("confidence", 0.0), features=features,
            offices=[o["id"] for o in answer.get("offices", [])],
            answer_language=detector.detect(text) if text.strip() else None,
            simple_problems=problems, latency_ms=latency, contacts=contacts, simple_contacts=simple_contacts,
            expected_contacts=tuple(c for c in question.expected_contacts if c in contactable),
            coverage=answer.get("coverage", "none"), missing=list(answer.get("missing", [])),
        ))
        if progress:
            progress(i, len(questions))
    run.seconds = time.perf_counter() - started
    return run


def _first_glossary_line(answer: dict[str, Any]) -> str:
    from pipelines.i18n import has_catalog, message

    language = answer["lang"] if has_catalog(answer["lang"]) else "de"
    return message(language, "answer.glossary")


# -- metrics ------------------------------------------------------------------------------------------------
def _docs(ids: list[str] | tuple[str, ...]) -> list[Document]:
    return [Document(content=unit_id) for unit_id in ids]


def retrieval_metrics(results: list[QuestionResult], system: str) -> dict[str, float]:
    """hit@1/3/5 (Haystack's single-hit recall), MRR and nDCG@5 over answerable questions."""
    answerable = [r for r in results if r.question.answerable]
    if not answerable:
        return {}
    truth = [_docs(r.question.expected_units) for r in answerable]
    metrics: dict[str, float] = {}
    recall = DocumentRecallEvaluator(mode="single_hit")
    for k in K_VALUES:
        retrieved = [_docs(r.ranked[system][:k]) for r in answerable]
        metrics[f"hit@{k}"] = recall.run(ground_truth_documents=truth, retrieved_documents=retrieved)["score"]
    top5 = [_docs(r.ranked[system][:5]) for r in answerable]
    metrics["mrr"] = DocumentMRREvaluator().run(ground_truth_documents=truth, retrieved_documents=top5)["score"]
    metrics["ndcg@5"] = DocumentNDCGEvaluator().run(ground_truth_documents=truth, retrieved_documents=top5)["score"]
    return {"n": len(answerable), **{k: round(float(v), 4) for k, v in metrics.items()}}


def decision_metrics(results: list[QuestionResult]) -> dict[str, float]:
    """Abstention precision/recall/accuracy, office accuracy, answer language and simple-language compliance."""
    abstained = [r for r in results if not r.answered]
    unanswerable = [r for r in results if not r.question.answerable]
    correct_abstentions = [r for r in abstained if not r.question.answerable]
    with_office = [r for r in results if r.question.answerable and r.question.expected_offices and r.answered]
    office_any = [r for r in with_office if set(r.question.expected_offices) & set(r.offices)]
    office_first = [r for r in with_office if r.offices and r.offices[0] == r.question.expected_offices[0]]
    language_checked = [r for r in results if r.question.lang in SUPPORTED_LANGUAGES and r.answer_language]
    language_ok = [r for r in language_checked if r.answer_language == r.question.lang]
    simple = [r for r in results if r.question.simple and r.answered]
    latencies = sorted(r.latency_ms for r in results)
    # Resident usefulness: the right contact on the first card, contacts in simple mode, honest coverage.
    with_contact = [r for r in results if r.question.kind == "resident" and r.question.answerable
                    and r.expected_contacts]
    contact_first = [r for r in with_contact if r.contacts and r.contacts[0] in r.expected_contacts]
    parity = [r for r in results if r.simple_contacts is not None]
    coverage = [r for r in results if r.question.expected_coverage]
    coverage_ok = [r for r in coverage if r.coverage == r.question.expected_coverage
                   and set(r.question.expected_missing) <= set(r.missing)]
    metrics = {
        "questions": len(results),
        "abstention_precision": len(correct_abstentions) / len(abstained) if abstained else 1.0,
        "abstention_recall": len(correct_abstentions) / len(unanswerable) if unanswerable else 1.0,
        "abstention_accuracy": sum(1 for r in results if r.answered == r.question.answerable) / len(results),
        "office_accuracy": len(office_any) / len(with_office) if with_office else None,
        "office_first": len(office_first) / len(with_office) if with_office else None,
        "answer_language": len(language_ok) / len(language_checked) if language_checked else None,
        "simple_compliance": sum(1 for r in simple if not r.simple_problems) / len(simple) if simple else None,
        "contact_first": len(contact_first) / len(with_contact) if with_contact else None,
        "contact_first_n": len(with_contact),
        "simple_contact_parity": sum(1 for r in parity if r.simple_contacts) / len(parity) if parity else None,
        "coverage_accuracy": len(coverage_ok) / len(coverage) if coverage else None,
        "partial_answers": sum(1 for r in results if r.coverage == "partial"),
        "latency_median_ms": statistics.median(latencies) if latencies else None,
        "latency_p95_ms": latencies[max(0, int(round(0.95 * len(latencies))) - 1)] if latencies else None,
    }
    return {k: (round(float(v), 4) if isinstance(v, float) else v) for k, v in metrics.items()}


def same_first_contact(results: list[QuestionResult]) -> dict[str, Any]:
    """For questions asked in every language (``parallel``): how often each language's answer names the same
    first contact as most languages do (the answer's content must not depend on the language asked)."""
    by_tag: dict[str, dict[str, str | None]] = defaultdict(dict)
    for r in results:
        if r.question.parallel:
            by_tag[r.question.parallel][r.question.lang] = r.contacts[0] if r.contacts else None
    if not by_tag:
        return {}
    agree: dict[str, list[bool]] = defaultdict(list)
    for firsts in by_tag.values():
        majority = max(set(firsts.values()), key=lambda c: list(firsts.values()).count(c))
        for lang, first in firsts.items():
            agree[lang].append(first == majority)
    per_language = {lang: round(sum(v) / len(v), 4) for lang, v in sorted(agree.items())}
    overall = sum(sum(v) for v in agree.values()) / sum(len(v) for v in agree.values())
    return {"overall": round(overall, 4), "questions": len(by_tag), "by_language": per_language}


def summarize(run: EvalRun, systems: tuple[str, ...] = SYSTEMS) -> dict[str, Any]:
    """The report: overall, per language group and per action field, every system side by side."""
    def block(results: list[QuestionResult]) -> dict[str, Any]:
        return {"systems": {s: retrieval_metrics(results, s) for s in systems}, **decision_metrics(results)}

    by_group: dict[str, list[QuestionResult]] = defaultdict(list)
    by_field: dict[str, list[QuestionResult]] = defaultdict(list)
    for r in run.results:
        by_group[r.question.group].append(r)
        if r.question.field:
            by_field[r.question.field.split(".")[0] + "." + r.question.field.split(".")[1]].append(r)
    failures = [{"id": r.question.id, "question": r.question.question, "expected": list(r.question.expected_units),
                 "got": r.ranked[FULL][:3], "answered": r.answered, "answerable": r.question.answerable,
                 "confidence": r.confidence}
                for r in run.results
                if (r.question.answerable and not set(r.question.expected_units) & set(r.ranked[FULL][:5]))
                or r.answered != r.question.answerable]
    practical = defaultdict(list)
    for r in run.results:
        if r.question.group == "practical":
            practical[r.question.lang if r.question.kind != "simple" else "simple"].append(r)
    return {
        "split": run.split, "build": run.build, "seconds": round(run.seconds, 1),
        "overall": block(run.results),
        "by_language": {g: block(rs) for g, rs in sorted(by_group.items())},
        "practical_by_language": {g: block(rs) for g, rs in sorted(practical.items())},
        "same_first_contact": same_first_contact(run.results),
        "by_field": {f: block(rs) for f, rs in sorted(by_field.items())},
        "scores": [{"id": r.question.id, "answerable": r.question.answerable, "confidence": r.confidence,
                    "features": {k: round(v, 4) for k, v in r.features.items()}} for r in run.results],
        "failures": failures,
    }


def evaluate(settings: Settings, split: str = "test", progress: Progress | None = None) -> dict[str, Any]:
    """Run and summarize one split."""
    return summarize(run_questions(settings, load_questions(split=split), progress))
