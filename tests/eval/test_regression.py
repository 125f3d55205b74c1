"""The regression gate: the full system on the test split must not fall more than 2 points below the
committed baseline (``eval/results/baseline.json``) in hit@5 or abstention accuracy."""

from __future__ import annotations

import json

import pytest

from eval.questions import load_questions
from eval.report import RESULTS_DIR
from eval.runner import FULL, run_questions, summarize

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TOLERANCE = 0.02


@pytest.fixture(scope="module")
def report(ingested_settings):  # type: ignore[no-untyped-def]
    return summarize(run_questions(ingested_settings, load_questions(split="test"), systems=(FULL,)), systems=(FULL,))


def test_hit_at_5_and_abstention_do_not_regress(report) -> None:  # type: ignore[no-untyped-def]
    baseline = json.loads((RESULTS_DIR / "baseline.json").read_text(encoding="utf-8"))
    overall = report["overall"]
    hit5, abstention = overall["systems"][FULL]["hit@5"], overall["abstention_accuracy"]
    print(f"test split: hit@5 {hit5:.3f} (baseline {baseline['hit@5']:.3f}), abstention accuracy "
          f"{abstention:.3f} (baseline {baseline['abstention_accuracy']:.3f})")
    assert hit5 >= baseline["hit@5"] - TOLERANCE
    assert abstention >= baseline["abstention_accuracy"] - TOLERANCE


def test_every_language_is_evaluated(report) -> None:  # type: ignore[no-untyped-def]
    assert {"de", "en", "uk", "ru", "ar", "fa", "tr", "fr", "staff", "simple"} <= set(report["by_language"])


def test_question_set_meets_its_specification() -> None:
    questions = load_questions()
    assert len(questions) >= 240
    by_language = {lang: sum(1 for q in questions if q.lang == lang) for lang in ("de", "en", "uk", "ru", "ar", "fa",
                                                                                   "tr", "fr")}
    assert min(by_language.values()) >= 25, by_language
    assert sum(1 for q in questions if not q.answerable) >= 0.15 * len(questions)
    assert sum(1 for q in questions if q.kind == "staff") >= 30
    assert any(q.simple for q in questions)
    dev, test = [q for q in questions if q.split == "dev"], [q for q in questions if q.split == "test"]
    assert dev and test and not {q.id for q in dev} & {q.id for q in test}
