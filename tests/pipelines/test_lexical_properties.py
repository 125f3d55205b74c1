"""Lexical analysis on arbitrary Unicode (hypothesis): tokenize and stem never crash and stay normalised."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from pipelines.lexical import stem_terms, term_id, tokenize
from pipelines.settings import SUPPORTED_LANGUAGES

ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=300)
LANGUAGES = st.sampled_from([*SUPPORTED_LANGUAGES, "sw", "xx", ""])


@given(ANY_TEXT)
@example("")
@example("Migrations-Beirat, KdU und Sprach-Mittlung!")
@example("مُهاجِر ـــ")
@example("\u200cمی\u200cخواهم")
@example("\ud800")
def test_tokenize_never_crashes_and_yields_normalised_words(text: str) -> None:
    tokens = tokenize(text)
    assert all(isinstance(t, str) and t for t in tokens)
    assert all(not any(ch.isspace() for ch in t) for t in tokens)


@given(ANY_TEXT, LANGUAGES)
@example("Die Stadt Jena setzt sich für Sprachmittlung ein", "de")
@example("Де знайти перекладача до лікаря?", "uk")
@example("أين أتعلم اللغة الألمانية؟", "ar")
def test_stem_terms_never_crash_in_any_language(text: str, language: str) -> None:
    terms = stem_terms(text, language)
    assert all(isinstance(t, str) and t for t in terms)
    assert all(0 <= term_id(t) < 2**31 for t in terms)



def test_compounds_are_kept_whole_and_split_and_case_is_folded() -> None:
    assert tokenize("Migrations-Beirat") == ["migrations-beirat", "migrations", "beirat"]
