"""The concept parser on arbitrary text (hypothesis): it fails only with a CorpusError that names a line."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest.concept import logical_lines, parse_structure
from ingest.errors import CorpusError
from tests.conftest import FIXTURES

SEED = (FIXTURES / "integrationskonzept-seed.txt").read_text(encoding="utf-8")
SEED_LINES = SEED.splitlines()
# Fragments of the real document's grammar, so that generated text reaches deep into the parser.
GRAMMAR = st.sampled_from([
    "2.4 Gesundheit", "2.3.1 Kita und Schule", "1. Einleitung", "Strategische Leitidee",
    "Operative Ziele und Maßnahmen", "Operatives Ziel 1: Ziel", "Operatives Ziel 1:", "Maßnahme 1: Tun",
    "Maßnahmen 2: Mehr", "Verantwortung: FD Gesundheit", "Verantwortung:", "Termin: fortlaufend",
    "Praxis-Beispiele: Sprintpool", "Fokus: Kinder", "<p>Maßnahme 3: A</p><p>Termin: 2025</p>", "<p>", "</p>",
    "¹ Fußnote", "²⁶ Quelle", "Text^{27 28} mit Fußnote", "Maßnahme 1: A Verantwortung: B Termin: C", "", " ",
])
DOCUMENT_LINES = st.lists(st.one_of(GRAMMAR, st.text(max_size=60)), max_size=40)


def _measures(text: str) -> int:
    return sum(len(g.measures) for f in parse_structure(text).fields for g in f.goals)


def _parse_or_corpus_error(text: str) -> None:
    try:
        parse_structure(text, "integrationskonzept.md")
    except CorpusError as exc:
        assert exc.path == "integrationskonzept.md"
        assert exc.line is None or 1 <= exc.line <= max(1, len(text.splitlines()))
        assert exc.reason


@given(st.text(max_size=400))
@example("")
@example("\n\n\n")
@example("2.4")
@example("2.4 Gesundheit\nMaßnahme 1: x")
def test_arbitrary_text_raises_nothing_but_a_corpus_error(text: str) -> None:
    _parse_or_corpus_error(text)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENT_LINES)
def test_document_like_text_raises_nothing_but_a_corpus_error(lines: list[str]) -> None:
    _parse_or_corpus_error("\n".join(lines))


@given(st.text(max_size=400))
def test_logical_lines_keep_the_words_and_name_real_lines(text: str) -> None:
    lines = text.splitlines()
    for ll in logical_lines(text):
        assert 1 <= ll.line <= len(lines)
        assert ll.text and ll.text == ll.text.strip()
        assert ll.fmt in {"lines", "p", "inline"}
        assert ll.text.replace("<p>", "").replace("</p>", "").split()[0] in lines[ll.line - 1]


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(min_value=1, max_value=60))
def test_seed_with_blank_lines_inserted_still_has_63_measures(rng: random.Random, count: int) -> None:
    lines = list(SEED_LINES)
    for _ in range(count):
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(["", " ", "\t", "   "]))
    assert _measures("\n".join(lines)) == 63


def test_seed_itself_has_63_measures() -> None:
    assert _measures(SEED) == 63
