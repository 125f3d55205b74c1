"""Detect the language of a question; robust on two-word questions and on German words mixed in."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from haystack import component

from pipelines.languages import (
    ARABIC_ONLY_LETTERS,
    ARABIC_SCRIPT,
    CYRILLIC,
    PERSIAN_LETTERS,
    RUSSIAN_LETTERS,
    UKRAINIAN_LETTERS,
)
from pipelines.lexical import STOPWORDS, tokenize
from pipelines.settings import SUPPORTED_LANGUAGES

_LATIN = re.compile(r"[A-Za-zÀ-ÿ]")

_LINGUA_NAMES = {
    "de": "GERMAN", "en": "ENGLISH", "uk": "UKRAINIAN", "ru": "RUSSIAN", "ar": "ARABIC", "fa": "PERSIAN",
    "tr": "TURKISH", "fr": "FRENCH",
}


#: Languages that are not served but must be recognised as what they are (and never taken for a served one):
#: common first languages of newcomers in Thuringia. Close relatives of a served language (Dutch, Belarusian,
#: Azerbaijani) are left out on purpose: mixed German-English questions would be taken for Dutch.
OTHER_LANGUAGES = ("POLISH", "ROMANIAN", "SPANISH", "ITALIAN", "PORTUGUESE", "VIETNAMESE", "ALBANIAN", "CROATIAN",
                   "BOSNIAN", "SERBIAN", "BULGARIAN", "SOMALI", "CZECH", "HUNGARIAN", "URDU", "HINDI", "CHINESE",
                   "JAPANESE", "KOREAN", "GEORGIAN", "ARMENIAN", "GREEK", "INDONESIAN", "KAZAKH", "MACEDONIAN")


@lru_cache(maxsize=1)
def _wide_detector() -> Any:
    # Low-accuracy mode (trigram models only): about 35 MB for every language here, well under 1 ms per question.
    from lingua import Language, LanguageDetectorBuilder

    chosen = [getattr(Language, name) for name in (*_LINGUA_NAMES.values(), *OTHER_LANGUAGES)]
    return LanguageDetectorBuilder.from_languages(*chosen).with_low_accuracy_mode().build()


#: A Latin-script question without letters particular to one language (lingua narrows its candidates by such
#: letters, and would then load fewer models): it makes lingua load the models of every Latin-script language.
_LATIN_WARM_UP = "where can I find help"


@lru_cache(maxsize=4)
def _lingua_detector(languages: tuple[str, ...]) -> Any:
    # Shared by every pipeline of the process. Models are not preloaded: lingua loads a language's models the
    # first time a question of its script leaves it among the candidates (all eight preloaded: 250-280 MB, 2.5 s).
    # The same detector with the same models decides, so the decisions are those of the preloaded one.
    from lingua import Language, LanguageDetectorBuilder

    chosen = [getattr(Language, _LINGUA_NAMES[lang]) for lang in languages]
    return LanguageDetectorBuilder.from_languages(*chosen).build()


@component
class QueryLanguageDetector:
    """Detects the question's language among the supported ones; an explicit ``lang`` wins.

    Script comes first: a question with Cyrillic letters is Ukrainian or Russian however many German words
    it contains ("де взяти Dolmetscher?"), and letters only one of the two languages has decide it. Within a
    script, lingua decides between the remaining candidates. Latin-script questions too short or too mixed
    for lingua to be sure fall back to German, the language of the city's texts.

    Usage:
    ```python
    detector = QueryLanguageDetector()
    detector.warm_up()
    detector.run(text="перекладач лікар")  # {"language": "uk", "detected_language": "uk", ...}
    ```
    """

    def __init__(self, languages: list[str] | None = None, default_language: str = "de",
                 min_confidence: float = 0.5) -> None:
        """
        :param languages: candidate languages (ISO 639-1), default: all supported.
        :param default_language: used when nothing can be decided.
        :param min_confidence: lingua confidence below which a Latin-script question counts as undecided.
        :raises ValueError: for a language lingua does not know.
        """
        self.languages = list(languages or SUPPORTED_LANGUAGES)
        unknown = [lang for lang in self.languages if lang not in _LINGUA_NAMES]
        if unknown:
            raise ValueError(f"no language model for {unknown}")
        self.default_language = default_language
        self.min_confidence = min_confidence
        self._detector: Any = None

    def warm_up(self) -> None:
        """Build the lingua detector (its models ship inside the package; built once per process) and load what
        most questions need: the models of the Latin-script languages (German, English, Turkish, French: about
        130 MB, 1.3 s) and the wide detector's. Cyrillic and Arabic-script models load with the first question
        that needs them — one whose letters leave Ukrainian and Russian, or Arabic and Farsi, open (about
        55 MB and 0.8 s per pair, once)."""
        if self._detector is None:
            self._detector = _lingua_detector(tuple(self.languages))
            if len(self._script_candidates(_LATIN_WARM_UP)) > 1:
                self._detector.compute_language_confidence_values(_LATIN_WARM_UP)
            _wide_detector().compute_language_confidence_values(_LATIN_WARM_UP)

    def detect_other(self, text: str) -> str | None:
        """The code of a language Wegweiser does not serve, when the question is clearly written in one.

        Only longer questions (three words or more) or scripts none of the served languages uses are judged:
        a two-word question is too short to tell Polish from a typo.
        """
        words = text.split()
        served_script = bool(CYRILLIC.search(text) or ARABIC_SCRIPT.search(text) or _LATIN.search(text))
        if served_script and len(words) < 3:
            return None
        if self._function_word_vote(text, self.languages):
            return None
        values = _wide_detector().compute_language_confidence_values(text)
        if not values:
            return None
        top = values[0]
        code = self._code(top.language)
        if code in self.languages or top.value < 0.85:
            return None
        return code

    def detect(self, text: str) -> str:
        """The most likely supported language of a text."""
        candidates = self._script_candidates(text)
        if len(candidates) == 1:
            return candidates[0]
        latin_script = not (CYRILLIC.search(text) or ARABIC_SCRIPT.search(text))
        voted = self._function_word_vote(text, candidates) if latin_script else None
        if voted and len(text.split()) > 3:
            # What lingua would say cannot change this answer (a clear vote overrules it below, and the fallback
            # to the default language is for three words or fewer), so its cost (about 1 ms) is saved.
            return voted
        self.warm_up()
        scores = {self._code(c.language): c.value for c in self._detector.compute_language_confidence_values(text)}
        ranked = sorted(candidates, key=lambda lang: scores.get(lang, 0.0), reverse=True)
        best = ranked[0]
        if latin_script:
            if voted and voted != best:
                return voted
            if scores.get(best, 0.0) < self.min_confidence and self.default_language in candidates and \
                    len(text.split()) <= 3:
                return self.default_language
        return best

    @staticmethod
    def _function_word_vote(text: str, candidates: list[str]) -> str | None:
        """The language whose function words dominate, if clearly so.

        Newcomers mix German nouns into their own language ("need a Dolmetscher for my Termin"): the nouns
        pull a character-based detector towards German, but the small words give the asker's language away.
        """
        words = tokenize(text)
        # Only words that are function words of exactly one candidate count ("du" is German and French).
        owners = {w: [lang for lang in candidates if w in STOPWORDS.get(lang, ())] for w in words}
        votes = {lang: sum(1 for w in words if owners[w] == [lang]) for lang in candidates}
        ranked = sorted(votes.items(), key=lambda item: item[1], reverse=True)
        if len(ranked) > 1 and ranked[0][1] >= 2 and ranked[0][1] >= 2 * ranked[1][1]:
            return ranked[0][0]
        return None

    def _script_candidates(self, text: str) -> list[str]:
        def supported(*langs: str) -> list[str]:
            return [lang for lang in langs if lang in self.languages]

        if CYRILLIC.search(text):
            if UKRAINIAN_LETTERS.search(text) and not RUSSIAN_LETTERS.search(text):
                return supported("uk") or supported("uk", "ru")
            if RUSSIAN_LETTERS.search(text) and not UKRAINIAN_LETTERS.search(text):
                return supported("ru") or supported("uk", "ru")
            return supported("uk", "ru") or self.languages
        if ARABIC_SCRIPT.search(text):
            if PERSIAN_LETTERS.search(text) and not ARABIC_ONLY_LETTERS.search(text):
                return supported("fa") or supported("ar", "fa")
            if ARABIC_ONLY_LETTERS.search(text) and not PERSIAN_LETTERS.search(text):
                return supported("ar") or supported("ar", "fa")
            return supported("ar", "fa") or self.languages
        latin = [lang for lang in self.languages if lang not in ("uk", "ru", "ar", "fa")]
        return latin if len(latin) < len(self.languages) else self.languages

    @staticmethod
    def _code(language: Any) -> str:
        return language.iso_code_639_1.name.lower()

    @component.output_types(language=str, detected_language=str)
    def run(self, text: str, lang: str | None = None) -> dict[str, str]:
        """
        :param text: the question.
        :param lang: an explicit answer language; it overrides detection for the answer.
        :returns: ``language`` (answer language) and ``detected_language``.
        """
        detected = (self.detect_other(text) or self.detect(text)) if text.strip() else self.default_language
        return {"language": lang or detected, "detected_language": detected}
