"""Compose the contract's answer from typed records — no language model and no I/O, so nothing is invented."""

from __future__ import annotations

from typing import Any

from haystack import component

from pipelines.compose import Limits, Question, compose_answer
from pipelines.i18n import has_catalog
from pipelines.records import UnitRecord

#: Language an answer is composed in when the asker's language has no message catalog (with the German one).
FALLBACK_LANGUAGE = "en"


@component
class CitedAnswerBuilder:
    """Builds the contract's answer (``answer``, ``answer_de``, ``coverage``, ``citations``, ``contacts`` …).

    Usage:
    ```python
    builder = CitedAnswerBuilder()
    builder.run(question="…", records=records, scores=scores, related=related, language="uk",
                detected_language="uk", answerable=True)["answer"]["answer"]
    ```
    """

    def __init__(self, see_also: int = 2, max_staff_measures: int = 8, max_contacts: int = 3,
                 max_lead_lines: int = 8) -> None:
        """
        :param see_also: how many further units are named under "see also".
        :param max_staff_measures: how many of an office's measures a staff answer lists.
        :param max_contacts: how many contact cards an answer shows.
        :param max_lead_lines: lines of a long unit text shown before "…" (the citation has the whole text).
        """
        if see_also < 0 or max_staff_measures < 1 or max_contacts < 0 or max_lead_lines < 1:
            raise ValueError("see_also and max_contacts must be >= 0, max_staff_measures and max_lead_lines >= 1")
        self.see_also = see_also
        self.max_staff_measures = max_staff_measures
        self.max_contacts = max_contacts
        self.max_lead_lines = max_lead_lines

    @component.output_types(answer=dict[str, Any])
    def run(self, question: str, records: list[UnitRecord], related: dict[str, UnitRecord], language: str,
            detected_language: str, answerable: bool, scores: list[float] | None = None,
            intent: str = "resident", simple: bool = False, confidence: float = 0.0) -> dict[str, Any]:
        """
        :param question: the question as asked.
        :param records: ranked units, best first.
        :param related: further records the answer may cite (see :class:`AnswerContextFetcher`).
        :param language: the answer language; without a message catalog the answer is composed in English (and
            German) and left to the translator.
        :param detected_language: the question's detected language.
        :param answerable: the ranker's decision.
        :param scores: the ranking probabilities of ``records``.
        :param intent: ``resident``, ``staff`` or ``injection``.
        :param simple: Einfache-Sprache mode — one unit with its contacts, hard words explained.
        :param confidence: the ranker's calibrated confidence (reported, not used).
        :returns: ``answer``: the API contract's fields (``translation`` is added by the translator).
        """
        compose_language = language if has_catalog(language) else FALLBACK_LANGUAGE
        asked = Question(text=question, language=compose_language, asker_language=language,
                         detected_language=detected_language, answerable=answerable and intent != "injection",
                         intent=intent, simple=simple, confidence=confidence)
        limits = Limits(see_also=self.see_also, max_staff_measures=self.max_staff_measures,
                        max_contacts=self.max_contacts, max_lead_lines=self.max_lead_lines)
        answer = compose_answer(asked, records, scores or [], related, limits)
        return {"answer": answer.to_dict()}
