"""Sentence selection: features, the selector's two decisions, and the fitted model file."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from pipelines.sentences import (
    CONTEXT_FEATURES,
    FEATURES,
    MODEL_PATH,
    Logistic,
    SentenceSelector,
    best_run,
    context_features,
    lexical_cover,
    lexical_overlap,
    page_features,
    sentence_features,
    split_sentences,
)


def test_split_keeps_empty_lines_for_alignment() -> None:
    assert split_sentences("A\n\nB\n") == ["A", "", "B"]


def test_lexical_overlap_weighs_rare_words_of_the_page() -> None:
    sentences = ["Kita Anmeldung", "Kita Gebühren Einkommen", "Kita Öffnungszeiten"]
    overlap = lexical_overlap("Wie hoch sind die Kita-Gebühren?", sentences, ["de"])
    assert overlap.argmax() == 1 and overlap[1] > 2 * overlap[0]  # "Gebühren" is rarer on the page than "Kita"
    assert lexical_overlap("und oder", sentences, ["de"]).tolist() == [0.0, 0.0, 0.0]



def test_cover_says_how_much_of_the_question_the_page_mentions_anywhere() -> None:
    page = ["Kita-Anmeldung", "Die Anmeldung erfolgt online.", "Kita Öffnungszeiten"]
    answered = lexical_cover("Wo ist die Kita-Anmeldung?", page, ["de"])
    unanswered = lexical_cover("Wie hoch sind die Kita-Gebühren?", page, ["de"])
    assert answered[:2] == (1.0, 1.0) and answered[2] == 0.0
    assert unanswered[0] < 0.5 and unanswered[2] == 3.0  # "hoch", "Gebühren", "Kita-Gebühren" are nowhere
    assert lexical_cover("und oder", page, ["de"]) == (0.0, 0.0, 0.0)


def _features(n: int = 4) -> np.ndarray:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(n, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    sentences = ["Titel", "Die Gebühren hängen vom Einkommen ab.", "", "Anmeldung beim Fachdienst."][:n]
    return sentence_features("Wovon hängen die Gebühren ab?", "de", vectors[1], sentences, sentences, vectors,
                             np.linspace(0.8, 0.5, n).astype(np.float32))


def test_features_have_one_row_per_sentence_and_the_matching_sentence_stands_out() -> None:
    features = _features()
    assert features.shape == (4, len(FEATURES))
    dense, lexical = FEATURES.index("dense"), FEATURES.index("lexical")
    assert features[:, dense].argmax() == 1 and features[:, lexical].argmax() == 1
    assert features[0, FEATURES.index("is_first")] == 1.0
    assert np.isfinite(features).all()


def _selector(unanswerable_threshold: float) -> SentenceSelector:
    n = len(FEATURES)
    coefficients = [0.0] * n
    coefficients[FEATURES.index("dense")] = 4.0
    sentence = Logistic((0.0,) * n, (1.0,) * n, tuple(coefficients), -1.0)
    return SentenceSelector(sentence, None, 0.5, unanswerable_threshold, 0.5)


def test_selector_picks_sentences_above_threshold_and_never_empty_lines() -> None:
    features = _features()
    selection = _selector(0.9).select(features, ["Titel", "Die Gebühren …", "", "Anmeldung …"])
    assert selection.answered and selection.selected == [1]
    assert len(selection.probabilities) == 4


def test_selector_says_the_page_does_not_answer_when_the_best_sentence_is_weak() -> None:
    selection = _selector(0.001).select(_features())
    assert not selection.answered and selection.selected == []


def test_the_answer_is_the_run_of_lines_that_stands_out_not_every_line_above_the_threshold() -> None:
    lines = ["Kita", "Sie brauchen:", "den Pass", "", "die Meldebescheinigung", "Öffnungszeiten", "Mehr erfahren"]
    probabilities = np.array([0.3, 0.7, 0.45, 0.0, 0.4, 0.1, 0.35])
    assert best_run(probabilities, 0.3, lines) == [1, 2, 4]  # the empty line neither breaks the list nor is chosen
    selector = SentenceSelector(_selector(0.9).sentence, None, 0.3, 0.9, decoding="run")
    assert selector.choose(probabilities, lines) == [1, 2, 4]
    assert replace(selector, decoding="each").choose(probabilities, lines) == [0, 1, 2, 4, 6]
    assert best_run(np.array([0.1, 0.2]), 0.5) == [1]  # nothing stands out: the best line


def test_the_second_pass_takes_a_list_item_after_a_strong_lead_in() -> None:
    features = _features()
    first = _selector(0.9).probabilities(features)
    context = context_features(first, features)
    assert context.shape == (4, len(CONTEXT_FEATURES))
    weights = [0.0] * len(CONTEXT_FEATURES)
    weights[CONTEXT_FEATURES.index("logit")] = 1.0
    weights[CONTEXT_FEATURES.index("logit_previous")] = 1.0
    n = len(CONTEXT_FEATURES)
    selector = SentenceSelector(_selector(0.9).sentence, None, 0.5, 0.9, context=Logistic((0.0,) * n, (1.0,) * n,
                                                                                          tuple(weights), 0.0))
    lifted = selector.probabilities(features)
    assert lifted[2] > first[2]  # the line after the matching sentence 1 gains from its neighbour


def test_the_sentence_in_the_question_language_counts_when_given() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(3, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    question = vectors[2]
    german, own = ["Gebühren", "Anmeldung", "Öffnungszeiten"], ["Плата", "Реєстрація", "Години роботи"]
    chunks = np.zeros(3, dtype=np.float32)
    own_vectors = vectors[[0, 2, 1]]  # the Ukrainian line 1 is the one that matches the question
    both = FEATURES.index("dense_both")
    alone = sentence_features("Як зареєструватися?", "uk", question, own, german, vectors, chunks)
    with_own = sentence_features("Як зареєструватися?", "uk", question, own, german, vectors, chunks, own_vectors)
    assert alone[:, both].argmax() == 2 and with_own[:, both][1] > alone[:, both][1]


def test_every_language_version_of_a_line_counts_when_given() -> None:
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(3, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    question, german, chunks = vectors[2], ["Gebühren", "Anmeldung", "Öffnungszeiten"], np.zeros(3, np.float32)
    # German alone puts line 2 first; three translations that all put line 1 first outvote it.
    versions = [vectors, vectors[[0, 2, 1]], vectors[[0, 2, 1]], vectors[[0, 2, 1]]]
    every = FEATURES.index("dense_all")
    alone = sentence_features("Anmeldung?", "de", question, german, german, vectors, chunks)
    voted = sentence_features("Anmeldung?", "de", question, german, german, vectors, chunks, vectors_all=versions)
    assert alone[:, every].argmax() == 2 and voted[:, every].argmax() == 1
    assert np.array_equal(alone[:, every], alone[:, FEATURES.index("dense")])  # German only: the German score


def test_the_page_model_sees_the_cover_of_the_question() -> None:
    features = _features()
    row = page_features(np.array([0.2, 0.9, 0.0, 0.1]), features)
    assert row[-6] == features[0, FEATURES.index("page_cover")] and row[-6] > 0  # "Gebühren", "hängen" are there


def test_the_shipped_model_matches_the_features() -> None:
    selector = SentenceSelector.load(MODEL_PATH)
    assert len(selector.sentence.coefficients) == len(FEATURES) and selector.page is not None
    assert selector.context is not None and len(selector.context.coefficients) == len(CONTEXT_FEATURES)
    assert 0 < selector.threshold < 1 and 0 < selector.unanswerable_threshold < 1
    assert SentenceSelector.from_dict(selector.to_dict()) == selector
