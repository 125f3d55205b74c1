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


def test_conditional_logit_learns_which_feature_marks_the_right_candidate() -> None:
    from eval.omos import fit_conditional_logit

    rng = np.random.default_rng(3)
    groups = []
    for _ in range(200):
        x = rng.normal(size=(10, 2))
        groups.append((x, int(np.argmax(x[:, 0] + 0.3 * rng.normal(size=10)))))
    weights = fit_conditional_logit(groups)
    assert weights[0] > 3 * abs(weights[1])
    assert np.allclose(fit_conditional_logit(groups), weights)  # the fit reproduces


def test_the_shipped_page_search_weights_are_the_fitted_ones() -> None:
    from eval.omos import load_page_ranker
    from pipelines.components.page_ranker import ADAPTED_WEIGHTS, FITTED_WEIGHTS
    from pipelines.page_search import ADAPTED_EVIDENCE_WEIGHTS, EVIDENCE_WEIGHTS, QUERY_ADAPTER_PATH

    fitted = load_page_ranker()
    # The weights were fitted with the query adapter's searches: the evaluation applies both together, and they
    # are the pipeline's defaults when it is built with the adapter.
    assert fitted.page == ADAPTED_WEIGHTS and fitted.evidence == ADAPTED_EVIDENCE_WEIGHTS
    assert fitted.adapter is not None and Path(fitted.adapter) == QUERY_ADAPTER_PATH and QUERY_ADAPTER_PATH.exists()
    assert FITTED_WEIGHTS != ADAPTED_WEIGHTS and EVIDENCE_WEIGHTS != ADAPTED_EVIDENCE_WEIGHTS


def test_page_search_weights_and_the_adapter_round_trip(tmp_path: Path) -> None:
    from eval.omos import Rankers, load_page_ranker, save_page_ranker
    from pipelines.page_search import QUERY_ADAPTER_PATH

    rankers = Rankers({"dense_gap": 2.0}, {"ranker_gap": 1.0}, str(QUERY_ADAPTER_PATH))
    save_page_ranker(rankers, tmp_path / "ranker.json")
    assert load_page_ranker(tmp_path / "ranker.json") == rankers
    save_page_ranker(Rankers({"dense_gap": 2.0}), tmp_path / "plain.json")
    assert load_page_ranker(tmp_path / "plain.json").adapter is None


def test_the_question_prior_is_fitted_out_of_fold_and_round_trips() -> None:
    from eval.omos import fit_selector
    from pipelines.sentences import FEATURES, SentenceSelector

    rng = np.random.default_rng(5)
    questions, matrices, lines, vectors = [], [], [], []
    for number in range(120):
        answered = number % 4 != 0
        matrix = rng.normal(size=(6, len(FEATURES)))
        if answered:
            matrix[2, FEATURES.index("dense")] += 3.0
        questions.append(_question(number, (2,) if answered else ()))
        matrices.append(matrix)
        lines.append(["Zeile"] * 6)
        vector = rng.normal(size=8)
        vector[0] += 0.0 if answered else 2.0  # unanswerable questions lean one way
        vectors.append(vector)
    selector = fit_selector(matrices, questions, lines, [True] * len(FEATURES), np.array(vectors))
    assert selector.question is not None and selector.question.coefficients[0] > 0
    assert SentenceSelector.from_dict(selector.to_dict()) == selector
    again = fit_selector(matrices, questions, lines, [True] * len(FEATURES), np.array(vectors))
    assert again == selector  # the fit reproduces
    # Without a question vector the training mean stands in: the selector still decides.
    assert selector.select(matrices[1], lines[1]).selected == selector.select(matrices[1], lines[1]).selected
    assert selector.question_prior(None) == selector.question_mean


def _question(number: int, answers: tuple[int, ...]):  # type: ignore[no-untyped-def]
    from eval.omos import Question

    return Question(number, "de", "Frage?", f"stadt/{number // 2}", answers, False)


def test_the_report_has_every_required_figure_and_labels_the_city_scoped_one() -> None:
    systems = ("full", "dense", "lexical")
    row = {"id": 1, "lang": "de", "gold": [1], "ms": 40.0, "rank_ranker": 2, "rank_full_city": 1,
           **{f"rank_{s}": 1 for s in systems}, **{f"{m}_{s}": [1] for m in ("given", "e2e") for s in systems}}
    summary = summarize([row])
    for block in summary.values():
        assert {"hit@1", "hit@5", "mrr"} <= set(block["full"]) and "given_page" in block["full"]
        assert "end_to_end" in block["full"] and {"median", "p95"} == set(block["latency_ms"])
        assert block["page_ranker_only"]["hit@1"] == 0.0 and block["city_scoped"]["hit@1"] == 1.0
    text = markdown({"split": "dev", "questions": 1, "seconds": 1.0, "summary": summary})
    assert "Secondary figure, **not** the measure above" in text and "hit@5 page ranker only" in text


def test_no_test_question_is_in_the_repository() -> None:
    """Only train and dev exist here; the committed report holds dev rows only, and no file is named test."""
    import json

    from eval.omos import DATASET_DIR, RESULTS_DIR

    report = RESULTS_DIR / "omos_dev.json"
    if report.exists():
        assert json.loads(report.read_text(encoding="utf-8"))["split"] == "dev"
    assert not list(RESULTS_DIR.glob("omos_test*"))
    if DATASET_DIR.exists():
        dev_ids = {json.loads(line)["id"] for line in (DATASET_DIR / "dev_questions.jsonl").open(encoding="utf-8")}
        if report.exists():
            rows = json.loads(report.read_text(encoding="utf-8"))["rows"]
            assert {row["id"] for row in rows} <= dev_ids


@pytest.mark.slow
def test_the_shipped_model_reproduces_the_reported_dev_choices() -> None:
    """The sentence model file, applied to a few dev questions, picks what the committed dev report says it
    picked, and says nothing on the pages it finds do not answer."""
    import json

    from eval.omos import (
        DATASET_DIR,
        OMOS_HOME,
        RESULTS_DIR,
        PageBook,
        _key,
        load_omos_pages,
        open_cache,
        question_vectors,
    )
    from pipelines.sentences import SentenceSelector

    report = RESULTS_DIR / "omos_dev.json"
    if not (DATASET_DIR.exists() and report.exists() and (OMOS_HOME / "embeddings.sqlite").exists()):
        pytest.skip("needs the OMoS-QA dataset, its vector cache and the dev report")
    rows = {(row["id"], row["lang"]): row for row in json.loads(report.read_text(encoding="utf-8"))["rows"]}
    questions = load_omos_questions("dev")[::97]
    cache = open_cache()
    book, vectors, selector = PageBook(load_omos_pages(), cache), question_vectors(questions, cache), \
        SentenceSelector.load()
    for question in questions:
        vector = vectors[_key(question)]
        selection = selector.select(*book.features(question, vector, question.page_id), vector)
        assert selection.selected == rows[(question.id, question.lang)]["given_full"]
        assert selection.answered == bool(selection.selected)
