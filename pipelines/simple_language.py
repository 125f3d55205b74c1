"""Rules of Einfache Sprache that a machine can check: sentence length and abbreviations."""

from __future__ import annotations

import re

MAX_WORDS = 15
# Abbreviations that must be written out in Einfache Sprache (proper names such as SprIntpool stay).
BANNED_ABBREVIATIONS = (
    "FD", "KdU", "BuT", "BVJ", "BVJ-S", "AG", "HF", "OB", "EAB", "SPDI", "vhs", "VHS", "ggf.", "bzw.", "z. B.",
    "z.B.", "u. a.", "u.a.", "etc.", "usw.", "d. h.", "ca.", "vgl.", "Nr.", "mbH", "e.V.", "ext.", "sog.",
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_DATE = re.compile(r"\b\d{1,2}\.\s?\d{1,2}\.\s?\d{2,4}\b|\b\d{1,2}\.\s(?=[A-ZÄÖÜ])")


def sentences(text: str) -> list[str]:
    """Sentences of a text: split at . ! ? and line breaks ("- " list lines are sentences of their own).

    Dates such as 29.10.2025 or "1. Juli" do not end a sentence.
    """
    protected = _DATE.sub(lambda m: m.group(0).replace(".", "\x00"), text)
    return [s.replace("\x00", ".").strip() for s in _SENTENCE_END.split(protected) if s.strip()]


def word_count(sentence: str) -> int:
    """Words of a sentence (whitespace-separated tokens, a list dash not counted)."""
    return len([w for w in sentence.removeprefix("- ").split() if w not in ("-", "–")])


def simple_language_problems(text: str) -> list[str]:
    """Why a text is not Einfache Sprache (empty list: it passes the machine-checkable rules)."""
    problems = [f"sentence of {word_count(s)} words: {s[:60]!r}" for s in sentences(text)
                if word_count(s) > MAX_WORDS]
    for abbreviation in BANNED_ABBREVIATIONS:
        if re.search(rf"(?<![\w.-]){re.escape(abbreviation)}(?![\w-])", text):
            problems.append(f"abbreviation {abbreviation!r}")
    return problems
