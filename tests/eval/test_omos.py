"""OMoS-QA evaluation: the metrics follow the dataset repository's definitions; the report names the source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eval.omos import (
    ATTRIBUTION,
    fit_logistic,
    load_omos_questions,
    markdown,
    page_metrics,
    sentence_metrics,
    summarize,
)


def test_page_metrics() -> None:
    assert page_metrics([1, 3, None, 6]) == {"hit@1": 0.25, "hit@5": 0.5, "mrr": (1 + 1 / 3 + 1 / 6) / 4, "n": 4}


def test_sentence_metrics_average_per_question_then_take_f1() -> None:
    gold = [(1, 2), (3,), ()]
    predicted = [[1], [], []]  # half right; nothing chosen counts as precision 1; a correct "no answer"
    metrics = sentence_metrics(gold, predicted)
    assert metrics["precision"] == 1.0 and metrics["recall"] == 0.25
    assert metrics["f1"] == pytest.approx(2 * 0.25 / 1.25)
    assert metrics["unanswerable_precision"] == 0.5 and metrics["unanswerable_recall"] == 1.0


def test_logistic_fit_separates_a_separable_feature() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] > 0).astype(float)
    coefficients, _ = fit_logistic(x, y)
    assert coefficients[0] > 3 * abs(coefficients[1])


def test_the_test_split_is_never_read() -> None:
    with pytest.raises(ValueError, match="kept back"):
        load_omos_questions("test", Path("/nonexistent"))


def test_report_names_the_dataset_and_its_licence() -> None:
    row = {"id": 1, "lang": "de", "gold": [1], "ms": 40.0, **{f"rank_{s}": 1 for s in ("full", "dense", "lexical")},
           **{f"{m}_{s}": [1] for m in ("given", "e2e") for s in ("full", "dense", "lexical")}}
    report = {"split": "dev", "questions": 1, "seconds": 1.0, "summary": summarize([row])}
    text = markdown(report)
    assert ATTRIBUTION in text and "CC BY 4.0" in text and "Digitalfabrik" in text
    assert "| de | 1 | 100.0 | 100.0 | 100.0 |" in text


def test_thresholds_are_tuned_to_separate_answerable_from_unanswerable_pages() -> None:
    from eval.omos import tune_thresholds
    from pipelines.sentences import FEATURES, Logistic, SentenceSelector

    n = len(FEATURES)
    coefficients = [0.0] * n
    coefficients[0] = 1.0
    selector = SentenceSelector(Logistic((0.0,) * n, (1.0,) * n, tuple(coefficients), 0.0), None, 0.5, 0.5)
    # Feature 0 is the logit: answerable pages have one strong line, unanswerable pages none.
    strong, weak = np.zeros((3, n)), np.zeros((3, n))
    strong[:, 0], weak[:, 0] = [3.0, -2.0, -2.0], [-1.0, -1.5, -2.0]
    tuned = tune_thresholds(selector, [strong, weak] * 3, [(0,), ()] * 3, [["a", "b", "c"]] * 6)
    assert tuned.select(strong).selected == [0]
    assert tuned.select(weak).selected == []


def test_folds_keep_each_page_whole_so_out_of_fold_probabilities_are_honest() -> None:
    from eval.omos import Question, page_folds

    questions = [Question(i, lang, "?", f"city/{i % 7}", (1,), False) for i in range(40) for lang in ("de", "uk")]
    folds = page_folds(questions, folds=3)
    assert sorted(int(i) for fold in folds for i in fold) == list(range(len(questions)))
    pages = [{questions[i].page_id for i in fold} for fold in folds]
    assert all(not (a & b) for n, a in enumerate(pages) for b in pages[n + 1:])
