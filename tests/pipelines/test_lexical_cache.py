"""Cached stems are the stems: the same terms as the Snowball stemmers give, on first use, again, and after the
cache was cleared."""

from __future__ import annotations

import pytest
import snowballstemmer

from pipelines import lexical
from pipelines.lexical import STOPWORDS, stem_terms, tokenize
from tests.conftest import CORPUS

SAMPLES = {
    "de": "Wo melde ich meine Wohnung an? Anmeldungen und Ummeldungen beim Bürgerservice, Wohnungsgeberbestätigung.",
    "en": "Where do I register my flat? Registrations at the citizens' office need an appointment.",
    "fr": "Où dois-je déclarer mon logement ? Les déclarations se font au bureau des citoyens.",
    "ru": "Где зарегистрировать квартиру? Регистрации проводятся в бюро по делам граждан.",
    "tr": "Dairemi nereye kaydettirmeliyim? Kayıtlar vatandaş bürosunda randevuyla yapılır.",
    "ar": "أين أسجل شقتي؟ التسجيلات في مكتب المواطنين بموعد مسبق.",
}


def _uncached(text: str, language: str) -> list[str]:
    stop = STOPWORDS.get(language, frozenset())
    words = [w for w in tokenize(text) if lexical._is_content_word(w, stop)]
    name = lexical._STEMMERS.get(language)
    return snowballstemmer.stemmer(name).stemWords(words) if name else words


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_cached_stems_equal_the_stemmers_on_first_and_later_use(language: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lexical, "_STEMS", {})
    text = SAMPLES[language] + " " + (CORPUS / "integrationskonzept.md").read_text(encoding="utf-8")[:3000]
    expected = _uncached(text, language)
    assert stem_terms(text, language) == expected
    assert lexical._STEMS[language]  # the words are cached now
    assert stem_terms(text, language) == expected


def test_a_full_cache_starts_afresh_and_still_gives_every_stem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lexical, "_STEMS", {})
    monkeypatch.setattr(lexical, "MAX_CACHED_STEMS", 8)
    text = (CORPUS / "integrationskonzept.md").read_text(encoding="utf-8")[:5000]
    expected = _uncached(text, "de")
    for _ in range(3):
        assert stem_terms(text, "de") == expected
        assert len(lexical._STEMS["de"]) <= len(set(tokenize(text)))


def test_ukrainian_words_are_cached_with_the_suffix_stripper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lexical, "_STEMS", {})
    assert stem_terms("реєстрація квартири", "uk") == [lexical._stem_uk("реєстрація"), lexical._stem_uk("квартири")]
    assert stem_terms("реєстрація квартири", "uk") == [lexical._stem_uk("реєстрація"), lexical._stem_uk("квартири")]
