"""The query language detector: script first, lingua within a script, German for short undecided questions —
with lingua's models loaded only when a question needs them, and the same decisions as with all of them loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import lru_cache

import pytest

from eval.followups import load_conversations
from eval.questions import load_questions
from pipelines.components.query_language_detector import _LINGUA_NAMES, QueryLanguageDetector
from pipelines.settings import PROJECT_ROOT


@lru_cache(maxsize=1)
def detector() -> QueryLanguageDetector:
    warmed = QueryLanguageDetector()
    warmed.warm_up()
    return warmed


@pytest.mark.parametrize(("text", "language"), [
    ("Wo finde ich einen Dolmetscher für meinen Arzttermin?", "de"),
    ("I need a Dolmetscher for my Termin at the Ausländerbehörde", "en"),
    ("де взяти Dolmetscher?", "uk"),            # Ukrainian letters decide, German words or not
    ("где найти переводчика к врачу", "ru"),
    ("أين أتعلم اللغة الألمانية؟", "ar"),
    ("کجا می‌توانم آلمانی یاد بگیرم؟", "fa"),
    ("Almanca kursu nerede var?", "tr"),
    ("où trouver un interprète pour le médecin ?", "fr"),
    ("Jobcenter Termin", "de"),                 # too short to decide: the language of the city's texts
])
def test_served_languages_are_recognised(text: str, language: str) -> None:
    assert detector().run(text=text) == {"language": language, "detected_language": language}


def test_an_explicit_language_wins_for_the_answer_but_not_for_what_was_detected() -> None:
    assert detector().run(text="Wo finde ich einen Dolmetscher?", lang="uk") == \
        {"language": "uk", "detected_language": "de"}


def test_a_language_outside_the_eight_is_recognised_as_such() -> None:
    assert detector().run(text="Gdzie mogę zameldować mieszkanie w Jenie?")["detected_language"] == "pl"


_RSS_AFTER_WARM_UP = """
import json
from pipelines.components.query_language_detector import QueryLanguageDetector


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


detector = QueryLanguageDetector()
before = rss_mb()
detector.warm_up()
latin = [detector.run(text=t)["detected_language"] for t in ("Wo finde ich Hilfe?", "where do I find help?")]
print(json.dumps({"warm_up_mb": rss_mb() - before, "latin": latin}))
"""


@pytest.mark.slow
def test_warm_up_loads_the_latin_script_models_only() -> None:
    """All eight languages preloaded took about 270 MB with the wide detector; the Latin-script four (what most
    questions need) and the wide detector take about 155 MB. Measured in a fresh process: models stay loaded
    for the life of a process."""
    out = subprocess.run([sys.executable, "-c", _RSS_AFTER_WARM_UP], cwd=PROJECT_ROOT, capture_output=True,
                         text=True, check=True, timeout=300)
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    assert measured["latin"] == ["de", "en"]
    assert measured["warm_up_mb"] < 200, measured


@pytest.mark.slow
def test_decisions_on_every_eval_question_are_those_of_all_models_preloaded() -> None:
    """Loading models lazily must not change a decision: the eval questions (every language, staff, simple,
    out-of-scope, follow-up turns) are detected as by a detector with all eight languages preloaded."""
    from lingua import Language, LanguageDetectorBuilder

    texts = [q.question for q in load_questions()] + [t for c in load_conversations() for t in c.turns]
    preloaded = QueryLanguageDetector()
    preloaded._detector = LanguageDetectorBuilder.from_languages(
        *(getattr(Language, name) for name in _LINGUA_NAMES.values())).with_preloaded_language_models().build()
    lazy = detector()
    differing = [t for t in texts if lazy.run(text=t) != preloaded.run(text=t)]
    assert len(texts) > 500 and differing == []


def _decided_with_lingua(det: QueryLanguageDetector, text: str) -> str:
    """The decision as made before the function-word shortcut: lingua's scores always computed (the reference
    the shortcut must match)."""
    from pipelines.components.query_language_detector import ARABIC_SCRIPT, CYRILLIC

    candidates = det._script_candidates(text)
    if len(candidates) == 1:
        return candidates[0]
    scores = {det._code(c.language): c.value for c in det._detector.compute_language_confidence_values(text)}
    best = sorted(candidates, key=lambda lang: scores.get(lang, 0.0), reverse=True)[0]
    if not (CYRILLIC.search(text) or ARABIC_SCRIPT.search(text)):
        voted = det._function_word_vote(text, candidates)
        if voted and voted != best:
            return voted
        if scores.get(best, 0.0) < det.min_confidence and det.default_language in candidates and \
                len(text.split()) <= 3:
            return det.default_language
    return best


def test_a_clear_function_word_vote_decides_without_lingua_and_as_lingua_would_have() -> None:
    """A question of more than three words whose small words clearly belong to one language is decided by them
    (lingua could not have changed that decision, so its millisecond is saved): the same decision as the full
    path on every eval question and follow-up turn."""
    det = detector()
    texts = [q.question for q in load_questions()] + [t for c in load_conversations() for t in c.turns]
    assert [t for t in texts if det.detect(t) != _decided_with_lingua(det, t)] == []

    class NoLingua:
        def compute_language_confidence_values(self, text: str) -> list[object]:
            raise AssertionError("lingua was asked")

    shortcut = QueryLanguageDetector()
    shortcut.warm_up()
    shortcut._detector = NoLingua()  # type: ignore[assignment]
    assert shortcut.detect("I need a Dolmetscher for my Termin at the Ausländerbehörde") == "en"
    with pytest.raises(AssertionError, match="lingua was asked"):
        shortcut.detect("Jobcenter Termin Jena")  # three words: lingua and the German default still decide
