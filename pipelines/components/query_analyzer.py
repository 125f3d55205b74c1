"""Classify a question (resident, staff lookup, instruction attack) and scope retrieval to its languages."""

from __future__ import annotations

import re
from typing import Any

from haystack import component

# Staff questions ask who is responsible, or what a named body has to do.
_STAFF = [re.compile(p, re.IGNORECASE) for p in (
    r"\bzuständig", r"\bzuständigkeit", r"\bverantwortlich", r"\bverantwortung\b", r"\bfederführ",
    r"welche maßnahmen (hat|haben|macht|machen|betreu|gehör)", r"\bmaßnahmen (von|des|der|vom)\b",
    r"\bwho(?:'s| is| are)? (?:responsible|in charge)\b", r"\bresponsib", r"\bwhich (?:office|department|body)\b",
    r"\bwhat measures (?:does|do|is|are)\b", r"\bmeasures (?:of|by|for) (?:the )?(?:fd|office|department)",
    r"хто відповіда", r"хто відповідальн", r"кто отвечает", r"кто ответствен", r"من المسؤول",
    r"چه کسی مسئول", r"مسئول .* کیست", r"kim sorumlu", r"\bsorumlu (?:kurum|birim)", r"qui est responsable",
    r"\bresponsable de\b",
)]

# Attempts to make the assistant leave its task. Such questions are never answered from the corpus.
_INJECTION = [re.compile(p, re.IGNORECASE) for p in (
    r"ignor\w*\s+(?:all\w*\s+|any\s+|the\s+|your\s+|previous\s+|prior\s+|above\s+|earlier\s+)*"
    r"(?:instruction|prompt|rule|direction|anweisung|regel|vorgabe)",
    r"(?:disregard|forget|override)\s+(?:all\s+|any\s+|your\s+|the\s+|previous\s+)*"
    r"(?:instruction|prompt|rule|guideline)",
    r"vergiss\s+(?:alle\s+|deine\s+|die\s+|bisherigen\s+)*(?:anweisung|regel|vorgabe)",
    r"system\s*-?\s*prompt", r"\bjailbreak", r"\bdeveloper mode\b", r"\bdo anything now\b", r"\bDAN\b",
    r"you are now\b", r"du bist (?:jetzt|ab sofort|nun)\b", r"act as\b.*\b(?:unfiltered|unrestricted|evil)",
    r"(?:print|reveal|show|output|repeat)\s+(?:me\s+)?(?:your|the)\s+(?:hidden\s+|initial\s+|system\s+)?"
    r"(?:prompt|instructions)",
    r"ігноруй", r"забудь (?:усі|всі|все) (?:інструкц|правил)", r"игнорируй", r"забудь (?:все|всё) (?:инструкц|правил)",
    r"تجاهل\s+(?:كل|جميع)?\s*(?:ال)?تعليمات", r"انس\s+(?:كل|جميع)\s+(?:ال)?تعليمات",
    r"دستورالعمل\S*\s+(?:را\s+)?نادیده بگیر", r"نادیده بگیر", r"talimat\w*\s+(?:yok say|görmezden gel|unut)",
    r"ignore[sz]?\s+(?:toutes\s+)?(?:les\s+|tes\s+|vos\s+)?(?:instructions|consignes|règles)",
    r"oublie[sz]?\s+(?:toutes\s+)?(?:les\s+|tes\s+|vos\s+)?(?:instructions|consignes|règles)",
)]


@component
class QueryAnalyzer:
    """Finds the intent of a question and the languages retrieval should search.

    * ``staff``: "Wer ist zuständig für …", "Welche Maßnahmen hat JenaKultur?" — offices first in the answer.
    * ``injection``: attempts to override the assistant's instructions — never answered from the corpus.
    * ``resident``: everything else.

    The ``search_language`` is the question's language if the index has a collection for it, else German.

    Usage:
    ```python
    QueryAnalyzer().run(text="Wer ist zuständig für Sprachmittlung?", language="de")
    # {"intent": "staff", "search_language": "de"}
    ```
    """

    def __init__(self, indexed_languages: list[str] | None = None) -> None:
        """
        :param indexed_languages: languages present in the index; others search German only.
        """
        self.indexed_languages = list(indexed_languages) if indexed_languages is not None else None

    @staticmethod
    def classify(text: str) -> str:
        """``injection``, ``staff`` or ``resident``."""
        if any(p.search(text) for p in _INJECTION):
            return "injection"
        if any(p.search(text) for p in _STAFF):
            return "staff"
        return "resident"

    @component.output_types(intent=str, search_language=str)
    def run(self, text: str, language: str) -> dict[str, Any]:
        """
        :param text: the question.
        :param language: the detected (or requested) language.
        :returns: ``intent`` and the ``search_language`` (collection and stemmer to use).
        """
        indexed = self.indexed_languages
        search_language = language if indexed is None or language in indexed else "de"
        return {"intent": self.classify(text), "search_language": search_language}
