"""Follow-up conversations (``eval/questions/followups.yaml``): is a second question that points back answered
about the first answer's service, and does a new topic start fresh?"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from haystack import Pipeline

from eval.questions import QUESTIONS_DIR, QuestionSetError
from pipelines.followup import Turn
from pipelines.query import ask

FOLLOWUPS_FILE = QUESTIONS_DIR / "followups.yaml"
#: Unit ids the widget sends per turn (the contract's limit).
MAX_UNIT_IDS = 10


@dataclass(frozen=True)
class Conversation:
    """Two turns and what the second answer must do."""

    id: str
    lang: str
    turns: tuple[str, str]
    follow_up: bool
    expected_contact: str
    split: str


@dataclass(frozen=True)
class ConversationResult:
    """What the second answer did."""

    conversation: Conversation
    follow_up: bool
    first_contact: str | None
    coverage: str

    @property
    def correct(self) -> bool:
        """Detected as it should be, and the expected service on the first contact card."""
        return (self.follow_up == self.conversation.follow_up
                and self.first_contact == self.conversation.expected_contact)


def load_conversations(path: Path = FOLLOWUPS_FILE, split: str | None = None) -> list[Conversation]:
    """The conversations of the file (optionally of one split).

    :raises QuestionSetError: for a missing key or a conversation that is not two turns.
    """
    conversations = []
    for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
        try:
            turns = tuple(str(t) for t in item["turns"])
            conversation = Conversation(id=str(item["id"]), lang=str(item["lang"]), turns=turns,  # type: ignore[arg-type]
                                        follow_up=bool(item["follow_up"]),
                                        expected_contact=str(item["expected_contact"]), split=str(item["split"]))
        except KeyError as exc:
            raise QuestionSetError(f"{path.name}: conversation {item.get('id')!r} lacks {exc}") from exc
        if len(turns) != 2:
            raise QuestionSetError(f"{path.name}: {conversation.id} has {len(turns)} turns, not 2")
        if split is None or conversation.split == split:
            conversations.append(conversation)
    return conversations


def previous_turn(question: str, answer: dict[str, Any]) -> Turn:
    """The turn as the widget sends it: the answer's contact cards, then its citations (at most 10 ids)."""
    ids = [c["id"] for c in answer.get("contacts", [])] + [c["id"] for c in answer.get("citations", [])]
    return Turn(question, tuple(dict.fromkeys(ids))[:MAX_UNIT_IDS])


def run_conversation(pipeline: Pipeline, conversation: Conversation) -> ConversationResult:
    """Ask both turns, the second with the first as ``previous``."""
    first, second = conversation.turns
    answer = ask(pipeline, second, previous=[previous_turn(first, ask(pipeline, first))])
    contacts = answer.get("contacts") or []
    return ConversationResult(conversation, follow_up=bool(answer.get("follow_up")),
                              first_contact=contacts[0]["id"] if contacts else None,
                              coverage=answer.get("coverage", "none"))


def follow_up_report(results: list[ConversationResult]) -> dict[str, Any]:
    """Accuracy overall, per expectation (follow-up or new topic) and per language, with the failures."""
    def share(rs: list[ConversationResult]) -> float | None:
        return round(sum(r.correct for r in rs) / len(rs), 4) if rs else None

    languages = sorted({r.conversation.lang for r in results})
    return {
        "conversations": len(results), "accuracy": share(results),
        "follow_up_accuracy": share([r for r in results if r.conversation.follow_up]),
        "new_topic_accuracy": share([r for r in results if not r.conversation.follow_up]),
        "detection_accuracy": round(sum(r.follow_up == r.conversation.follow_up for r in results)
                                    / len(results), 4) if results else None,
        "by_language": {lang: share([r for r in results if r.conversation.lang == lang]) for lang in languages},
        "failures": [{"id": r.conversation.id, "expected": r.conversation.expected_contact,
                      "got": r.first_contact, "follow_up": r.follow_up} for r in results if not r.correct],
    }
