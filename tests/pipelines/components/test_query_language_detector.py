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
