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


# Names that occur in the concept's "Verantwortung" lines but name no particular body a question could be about.
GENERIC_OFFICE_NAMES = frozenset({"alle", "stadt jena"})
# A question naming an office and asking about its measures or tasks is a staff lookup ("Maßnahmen FD Personal").
_ABOUT_MEASURES = re.compile(r"\bmaßnahmen?\b|\baufgaben?\b|\bmeasures?\b|\btasks?\b", re.IGNORECASE)


def office_patterns(offices: dict[str, list[str]]) -> list[tuple[re.Pattern[str], str]]:
    """One whole-word, case-insensitive pattern per office name or alias, longest first."""
    names = sorted(((name, office_id) for office_id, names in offices.items() for name in names
                    if name.strip() and name.strip().casefold() not in GENERIC_OFFICE_NAMES),
                   key=lambda item: -len(item[0]))
    return [(re.compile(rf"(?<!\w){re.escape(name.strip())}(?!\w)", re.IGNORECASE), office_id)
            for name, office_id in names]


@component
class QueryAnalyzer:
    """Finds the intent of a question and the languages retrieval should search.

    * ``staff``: "Wer ist zuständig für …", "Welche Maßnahmen hat JenaKultur?" — offices first in the answer.
    * ``injection``: attempts to override the assistant's instructions — never answered from the corpus.
    * ``resident``: everything else.

    The ``search_language`` is the question's language if the index has a collection for it, else German;
    ``named_offices`` are the offices the question names (by name or alias, as in ``offices.yaml``).

    Usage:
    ```python
    QueryAnalyzer(offices={"office/fd-soziales": ["Fachdienst Soziales", "FD Soziales"]}).run(
        text="Welche Maßnahmen hat der FD Soziales?", language="de")
    # {"intent": "staff", "search_language": "de", "named_offices": ["office/fd-soziales"]}
    ```
    """

    def __init__(self, indexed_languages: list[str] | None = None,
                 offices: dict[str, list[str]] | None = None) -> None:
        """
        :param indexed_languages: languages present in the index; others search German only.
        :param offices: names and aliases by office id (the served build's office records).
        """
        self.indexed_languages = list(indexed_languages) if indexed_languages is not None else None
        self.offices = {office_id: list(names) for office_id, names in (offices or {}).items()}
        self._office_patterns = office_patterns(self.offices)

    @staticmethod
    def classify(text: str, named_offices: list[str] | None = None) -> str:
        """``injection``, ``staff`` or ``resident``."""
        if any(p.search(text) for p in _INJECTION):
            return "injection"
        if any(p.search(text) for p in _STAFF) or (named_offices and _ABOUT_MEASURES.search(text)):
            return "staff"
        return "resident"

    def named_offices(self, text: str) -> list[str]:
        """The offices named in the text, in order of first mention; a longer name wins over a name it contains."""
        found: dict[str, int] = {}
        taken: list[tuple[int, int]] = []
        for pattern, office_id in self._office_patterns:
            for match in pattern.finditer(text):
                if any(start < match.end() and match.start() < end for start, end in taken):
                    continue
                taken.append(match.span())
                found[office_id] = min(found.get(office_id, match.start()), match.start())
        return sorted(found, key=found.__getitem__)

    @component.output_types(intent=str, search_language=str, named_offices=list[str])
    def run(self, text: str, language: str) -> dict[str, Any]:
        """
        :param text: the question.
        :param language: the detected (or requested) language.
        :returns: ``intent``, the ``search_language`` (collection and stemmer to use) and ``named_offices``.
        """
        indexed = self.indexed_languages
        search_language = language if indexed is None or language in indexed else "de"
        named = self.named_offices(text)
        return {"intent": self.classify(text, named), "search_language": search_language, "named_offices": named}
