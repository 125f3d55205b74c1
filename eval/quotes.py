"""Do answers from long units quote the lines that answer? Measured on questions that ask for one detail.

A question asks for a detail (documents, fee, opening hours, deadline: :func:`pipelines.details.asked_details`)
of a long service or procedure (:func:`pipelines.evidence.is_long`); the lines that give it are known from the
corpus: the unit's facts of that field (``corpus/services``, ``corpus/procedures``), which are lines 1… of the
unit's German text of record. For every such question the report says whether a quote was made, whether it
holds an answering line, what share of the answering lines it holds, and how many lines the answer shows
against the unit's whole text. Two question sources: the corpus's search questions (on which the quote's
constants were chosen) and the evaluation questions (not used to choose them), per language.

The same questions also go through the whole assistant (``end_to_end``: retrieval, ranking and composition), which
says how often the answer cites the question's unit first, cites it at all, and quotes an answering line of it.

Usage: ``python -m eval.quotes`` (the served index of ``WEGWEISER_*``; writes ``eval/results/quotes.json``).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from eval.questions import load_questions
from ingest.corpus import load_services
from pipelines import evidence
from pipelines.details import asked_details
from pipelines.records import UnitRecord
from pipelines.settings import PROJECT_ROOT, Settings, get_settings

CORPUS = PROJECT_ROOT / "corpus"
RESULTS = PROJECT_ROOT / "eval" / "results" / "quotes.json"
#: The corpus fact fields that give each detail a question can ask for.
DETAIL_FIELDS = {"fee": ("fee", "cost", "costs"), "hours": ("hours",), "documents": ("documents",),
                 "deadline": ("deadline", "processing_time")}


@dataclass(frozen=True)
class DetailQuestion:
    """A question for a detail of a long unit, with the lines of the unit's text of record that give it."""

    source: str  # "search" (corpus/search_questions) or "eval" (eval/questions)
    language: str
    question: str
    unit_id: str
    answering_lines: frozenset[int]


def long_records(settings: Settings) -> dict[str, UnitRecord]:
    """The served build's services and procedures that are long enough to be quoted."""
    from pipelines.query import open_served_index
    from pipelines.store import scroll_records, store_client

    index = open_served_index(settings)
    client = store_client(index.stores["de"])
    records = [UnitRecord.from_payload(r) for kind in ("service", "procedure")
               for r in scroll_records(client, index.build, kind)]
    return {r.id: r for r in records if evidence.is_long(r)}


def answering_lines(record: UnitRecord, facts: tuple[dict[str, Any], ...], details: list[str]) -> frozenset[int]:
    """Lines of ``record.text_de`` that give one of ``details`` (empty when the text and facts do not line up)."""
    lines = record.text_de.split("\n")
    fields = {f for d in details for f in DETAIL_FIELDS.get(d, ())}
    found = set()
    for number, fact in enumerate(facts, 1):
        if number >= len(lines) or lines[number] != str(fact["text"]).strip():
            return frozenset()
        if fact.get("field") in fields:
            found.add(number)
    return frozenset(found)


def detail_questions(records: dict[str, UnitRecord], corpus: Path = CORPUS) -> list[DetailQuestion]:
    """Every search and evaluation question that asks for a detail a long unit gives."""
    facts = {s.id: s.facts for s in [*load_services(corpus / "services").values(),
                                      *load_services(corpus / "procedures", "proc").values()]}
    asked: list[tuple[str, str, str, str]] = []
    for q in load_questions():
        unit = next((u for u in q.expected_units if u in records), None) if q.answerable else None
        if unit:
            asked.append(("eval", q.lang, q.question, unit))
    for path in sorted((corpus / "search_questions").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for unit, entry in data["units"].items():
            if unit in records:
                asked += [("search", data["language"], text, unit) for text in entry["questions"]]
    found = []
    for source, language, text, unit in asked:
        details = [d for d in asked_details(text) if d in DETAIL_FIELDS]
        lines = answering_lines(records[unit], facts.get(unit, ()), details) if details else frozenset()
        if lines:
            found.append(DetailQuestion(source, language, text, unit, lines))
    return found


def quote_report(questions: list[DetailQuestion], records: dict[str, UnitRecord]) -> dict[str, Any]:
    """Per source and language: questions, share quoted, share whose quote holds an answering line, share of
    answering lines quoted, lines shown per quote against the unit's lines."""
    tallies: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for q in questions:
        record = records[q.unit_id]
        quote = evidence.select_quote(q.question, q.language, record)
        quoted = frozenset(quote.record_lines) if quote else frozenset()
        for key in ((q.source, q.language), (q.source, "all")):
            t = tallies[key]
            t["questions"] += 1
            t["quoted"] += quote is not None
            t["holds_answer"] += bool(quoted & q.answering_lines)
            t["answer_lines"] += len(q.answering_lines)
            t["answer_lines_quoted"] += len(quoted & q.answering_lines)
            t["unit_lines"] += sum(len(p) for p in evidence.paragraphs(record.text(q.language)))
            if quote:
                t["shown_lines"] += len(quote.shown(q.language))
    return _by_source_and_language(tallies, lambda t, n: {
        "questions": int(n),
        "quoted": round(t["quoted"] / n, 3),
        "quote_holds_an_answering_line": round(t["holds_answer"] / n, 3),
        "answering_lines_quoted": round(t["answer_lines_quoted"] / max(t["answer_lines"], 1), 3),
        "lines_shown_per_quote": round(t["shown_lines"] / t["quoted"], 1) if t["quoted"] else None,
        "unit_lines": round(t["unit_lines"] / n, 1),
    })


def _by_source_and_language(tallies: dict[tuple[str, str], dict[str, float]],
                            row: Callable[[dict[str, float], float], dict[str, Any]]) -> dict[str, Any]:
    """``{source: {language: row(tally, questions)}}`` from tallies per (source, language)."""
    report: dict[str, Any] = {}
    for (source, language), t in sorted(tallies.items()):
        report.setdefault(source, {})[language] = row(t, t["questions"])
    return report


def end_to_end_report(questions: list[DetailQuestion], answer: Callable[[str, str], dict[str, Any]],
                      ) -> dict[str, Any]:
    """The same questions through the whole assistant (retrieval included), per source and language: the share
    answered with the question's unit cited first and cited at all, and the share whose answer quotes an
    answering line of that unit (in the unit's citation).

    :param answer: asks a question in a language and returns the API's answer (``pipelines.query.ask``).
    """
    tallies: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for q in questions:
        result = answer(q.question, q.language)
        cited = [c for c in result["citations"] if c["id"] == q.unit_id]
        quote = (cited[0].get("quote") or {}) if cited else {}
        for key in ((q.source, q.language), (q.source, "all")):
            t = tallies[key]
            t["questions"] += 1
            t["first"] += bool(result["citations"]) and result["citations"][0]["id"] == q.unit_id
            t["cited"] += bool(cited)
            t["holds_answer"] += bool(set(quote.get("lines") or ()) & q.answering_lines)
    return _by_source_and_language(tallies, lambda t, n: {
        "questions": int(n),
        "unit_cited_first": round(t["first"] / n, 3),
        "unit_cited": round(t["cited"] / n, 3),
        "quote_holds_an_answering_line": round(t["holds_answer"] / n, 3),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    settings = get_settings()
    records = long_records(settings)
    questions = detail_questions(records)
    report = quote_report(questions, records)
    from pipelines.query import ask
    from pipelines.serving import ServingState

    served = ServingState(settings).current()
    report["end_to_end"] = end_to_end_report(questions, lambda text, lang: ask(served.fast_ask, text, lang))
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for label, part in (("", {k: v for k, v in report.items() if k != "end_to_end"}),
                        ("end to end ", report["end_to_end"])):
        for source, languages in part.items():
            for language, row in languages.items():
                print(f"{label}{source:6} {language:4} {row}")


if __name__ == "__main__":
    main()
