"""Request models: questions are cleaned and bounded, language codes checked — for any input (hypothesis)."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError

from api.schemas import AskRequest, check_language, clean_question
from pipelines.languages import ALIASES, ISO_639_1, normalize_language

CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b\u2028\u2029\ufeff\ud800-\udfff]")
# Any code point, lone surrogates included (JSON "\ud800" escapes decode to them).
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=1200)
VISIBLE = st.characters(categories=("L", "M", "N", "P", "S"))


@given(ANY_TEXT)
@example("\u0000")
@example(" \u200b\ufeff\n\t ")
@example("a" * 1001)
@example("\ud800Wo?")
def test_any_text_is_either_refused_readably_or_cleaned(text: str) -> None:
    try:
        request = AskRequest(question=text)
    except ValidationError as exc:
        message = exc.errors()[0]["msg"]
        assert "empty" in message or "1000" in message, message
        return
    question = request.question
    assert 1 <= len(question) <= 1000
    assert not CONTROL.search(question) and "\n" not in question and "\r" not in question
    assert question == question.strip() and "  " not in question
    assert unicodedata.is_normalized("NFC", question)
    question.encode("utf-8")  # every later step may encode it


@given(st.text(VISIBLE, min_size=1, max_size=1000), st.text(" \t\n\r\u200b\ufeff\x00", max_size=20),
       st.text(" \t\n\r\u200b\ufeff\x00", max_size=20))
def test_visible_text_of_1_to_1000_characters_is_accepted_whatever_surrounds_it(
        text: str, before: str, after: str) -> None:
    expected = unicodedata.normalize("NFC", text)
    if len(expected) > 1000:  # a few code points decompose under NFC
        return
    assert AskRequest(question=before + text + after).question == expected


@given(st.text(VISIBLE, min_size=1001, max_size=1100))
def test_more_than_1000_visible_characters_are_refused(text: str) -> None:
    if len(clean_question(text)) <= 1000:  # NFC can compose several code points into one
        return
    with pytest.raises(ValidationError, match="longer than 1000"):
        AskRequest(question=text)


@given(st.sampled_from(sorted(ISO_639_1)), st.sampled_from(["", " "]), st.booleans())
def test_every_iso_639_1_code_is_accepted_in_any_case(code: str, padding: str, upper: bool) -> None:
    value = padding + (code.upper() if upper else code) + padding
    served_as = ALIASES.get(code, code)  # Dari is served as Farsi
    assert check_language(value) == served_as
    assert AskRequest(question="Wo?", lang=value).lang == served_as


@pytest.mark.parametrize(("value", "code"), [("de-DE", "de"), ("uk-UA", "uk"), ("fa-AF", "fa"), ("prs", "fa"),
                                           ("PRS", "fa"), ("ar_SY", "ar"), ("zh-Hant", "zh")])
def test_regional_tags_and_dari_are_served_as_their_language(value: str, code: str) -> None:
    assert check_language(value) == code


@given(st.text(max_size=12))
@example("english")
@example("xx")
@example("de-DEU!")
@example("de-")
@example("")
def test_anything_else_is_refused_with_a_readable_message(value: str) -> None:
    if normalize_language(value) in ISO_639_1:
        return
    with pytest.raises(ValueError, match="ISO 639-1"):
        check_language(value)


def test_no_language_means_detect_it() -> None:
    assert check_language(None) is None
    assert AskRequest(question="Wo?").lang is None


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="question_de"):
        AskRequest(question="Wo?", question_de="x")  # type: ignore[call-arg]
