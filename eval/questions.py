"""The evaluation question set (``eval/questions/*.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

QUESTIONS_DIR = Path(__file__).resolve().parent / "questions"
KINDS = ("resident", "staff", "simple", "out_of_scope")
SPLITS = ("dev", "test")
#: Files that are a reporting group of their own rather than one language's questions.
GROUP_FILES = ("staff", "simple", "practical", "parallel", "partial")
#: Files of another shape (two-turn conversations, ``eval/followups.py``), not single questions.
OTHER_SHAPES = ("followups",)


@dataclass(frozen=True)
class Question:
    """One evaluation question."""

    id: str
    lang: str
    question: str
    kind: str
    answerable: bool
    expected_units: tuple[str, ...]
    expected_offices: tuple[str, ...]
    field: str | None
    split: str
    source_file: str
    #: the service whose contact card a good answer shows first (resident questions), if any
    expected_contact: str | None = None
    #: questions asked in several languages share a tag (``parallel.yaml``)
    parallel: str | None = None
    #: ``full`` or ``partial`` where the question asks for a detail (``partial.yaml``)
    expected_coverage: str | None = None
    expected_missing: tuple[str, ...] = ()

    @property
    def simple(self) -> bool:
        """Asked in Einfache-Sprache mode."""
        return self.kind == "simple"

    @property
    def group(self) -> str:
        """The reporting group: the language, or the file for files that are a group of their own (staff,
        simple, practical, parallel, partial)."""
        return self.source_file if self.source_file in GROUP_FILES else self.lang

    @property
    def expected_contacts(self) -> tuple[str, ...]:
        """Services a good answer may show on its first contact card: the named one, else every expected
        service or procedure's service in the expected units."""
        if self.expected_contact:
            return (self.expected_contact,)
        return tuple(u for u in self.expected_units if u.startswith("svc/"))


class QuestionSetError(ValueError):
    """A malformed question file."""


def load_questions(directory: Path = QUESTIONS_DIR, split: str | None = None) -> list[Question]:
    """Every question (optionally of one split), in file order.

    :raises QuestionSetError: for a missing key, a duplicate id, an unknown kind or split.
    """
    questions: list[Question] = []
    seen: set[str] = set()
    for path in sorted(p for p in directory.glob("*.yaml") if p.stem not in OTHER_SHAPES):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            try:
                question = Question(
                    id=str(item["id"]), lang=str(item["lang"]), question=str(item["question"]),
                    kind=str(item["kind"]), answerable=bool(item["answerable"]),
                    expected_units=tuple(item.get("expected_units") or ()),
                    expected_offices=tuple(item.get("expected_offices") or ()),
                    field=item.get("field"), split=str(item["split"]), source_file=path.stem,
                    expected_contact=item.get("expected_contact"), parallel=item.get("parallel"),
                    expected_coverage=item.get("expected_coverage"),
                    expected_missing=tuple(item.get("expected_missing") or ()))
            except KeyError as exc:
                raise QuestionSetError(f"{path.name}: question {item.get('id')!r} lacks {exc}") from exc
            if question.id in seen:
                raise QuestionSetError(f"{path.name}: duplicate question id {question.id}")
            if question.kind not in KINDS or question.split not in SPLITS:
                raise QuestionSetError(f"{path.name}: {question.id} has kind {question.kind!r} / split "
                                       f"{question.split!r}")
            if question.answerable and not question.expected_units:
                raise QuestionSetError(f"{path.name}: answerable question {question.id} names no expected unit")
            seen.add(question.id)
            if split is None or question.split == split:
                questions.append(question)
    return questions
