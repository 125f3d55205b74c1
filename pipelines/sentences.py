"""Sentence-level evidence: which sentences of a page answer a question, and whether the page answers it at all.

Every sentence of a page is described by a few numbers — how close e5 puts it to the question (in German, in
the question's language, and on average over every language version of the page), how close its chunk is, how
many of the question's rarer words it shares (in the question's language and in German), the same for its
neighbours, its position, how much of the question's wording the page holds anywhere — and a logistic model
turns them into the probability that it belongs to the answer. A second pass looks at each sentence's
neighbours' probabilities (an answer is mostly a run of lines: a list under its lead-in), and the answer is the
sentences whose probabilities stand out most. A page-level model decides from the best sentences and from how
much of the question the page covers whether the page answers at all, helped (when the caller passes the
question's e5 vector) by a prior on the question alone. The models and their
thresholds are fitted on the OMoS-QA train split (``python -m eval.omos fit``) and stored in
``pipelines/sentence_model.json``; no library beyond numpy is needed to apply them.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines.lexical import stem_terms

MODEL_PATH = Path(__file__).with_name("sentence_model.json")
FEATURES = (
    "dense", "dense_gap", "dense_rank", "chunk", "chunk_gap", "lexical", "lexical_de", "lexical_gap",
    "neighbour_dense_gap", "neighbour_lexical", "position", "is_first", "log_length", "page_dense_max",
    "page_lexical_max", "dense_x_lexical", "distance_to_best", "after_best", "log_page_sentences",
    "dense_both", "dense_both_gap", "dense_all", "dense_all_gap", "page_cover", "page_cover_terms",
    "page_missing_terms", "page_cover_de", "page_cover_terms_de", "page_missing_terms_de",
)
#: The features that describe the whole page (the same on every line), which the page model reads as they are.
PAGE_COVER = ("page_cover", "page_cover_terms", "page_missing_terms", "page_cover_de", "page_cover_terms_de",
              "page_missing_terms_de")
#: What the second pass adds to FEATURES: the first pass's log-odds of the sentence and of its neighbours.
CONTEXT_FEATURES = FEATURES + (
    "logit", "logit_gap", "logit_previous", "logit_next", "logit_previous_2", "logit_next_2",
    "logit_neighbour_max", "logit_neighbour_min",
)


def split_sentences(text: str) -> list[str]:
    """A page's sentences: its lines, numbered from 0 (pages keep one sentence, heading or list item per line).

    Empty lines stay as empty sentences, so that line *i* of a translation is still sentence *i* of the original.
    """
    return [line.strip() for line in text.strip("\n").split("\n")]


def lexical_match(question: str, sentences: list[str], languages: list[str],
                  ) -> tuple[np.ndarray, tuple[float, float, float]]:
    """The question's words against a page's sentences, stemmed once for both: each sentence's overlap (see
    :func:`lexical_overlap`) and the page's cover of the question (see :func:`lexical_cover`)."""
    stems = [set().union(*(stem_terms(s, lang) for lang in languages)) if s else set() for s in sentences]
    frequency = Counter(term for terms in stems for term in terms)
    query = set().union(*(stem_terms(question, lang) for lang in languages))
    weights = {t: math.log(1 + (len(sentences) + 1) / (frequency[t] + 1)) for t in query}
    total = sum(weights.values())
    if not query or not total:
        return np.zeros(len(sentences), dtype=np.float32), (0.0, 0.0, 0.0)
    overlap = np.array([sum(weights[t] for t in query & terms) / total for terms in stems], dtype=np.float32)
    found = {t for t in query if frequency[t]}
    return overlap, (sum(weights[t] for t in found) / total, len(found) / len(query), float(len(query) - len(found)))


def lexical_overlap(question: str, sentences: list[str], languages: list[str]) -> np.ndarray:
    """The share of the question's term weight (IDF within the page) that each sentence contains.

    Rare words of the page ("Aufenthaltstitel", "Kita-Gutschein") count more than words on every line.
    """
    return lexical_match(question, sentences, languages)[0]


def lexical_cover(question: str, sentences: list[str], languages: list[str]) -> tuple[float, float, float]:
    """How much of the question the page says anywhere: the share of the question's term weight (IDF within the
    page) and of its terms found on the page, and how many terms are missing. A question after something the
    page never mentions (a fee, an age limit) is seldom answered by it.
    """
    return lexical_match(question, sentences, languages)[1]


def _neighbour_max(values: np.ndarray) -> np.ndarray:
    left = np.concatenate([[values.min()], values[:-1]])
    right = np.concatenate([values[1:], [values.min()]])
    return np.maximum(left, right)


def sentence_features(question: str, language: str, question_vector: np.ndarray, sentences: list[str],
                      sentences_de: list[str], vectors_de: np.ndarray, chunk_scores: np.ndarray,
                      vectors_own: np.ndarray | None = None,
                      vectors_all: list[np.ndarray] | None = None) -> np.ndarray:
    """The feature matrix of a page's sentences for one question (rows: sentences, columns: FEATURES).

    :param question: the question text; ``language`` its language.
    :param question_vector: its e5 query vector.
    :param sentences: the page's sentences in the question's language (aligned with ``sentences_de``).
    :param sentences_de: the page's German sentences; ``vectors_de`` their e5 passage vectors (rows).
    :param chunk_scores: per sentence, the similarity of the question to the chunk that holds the sentence.
    :param vectors_own: e5 passage vectors of ``sentences`` when the question is not German (optional): a
        question and a sentence in the same language are compared more reliably than across languages, and the
        two comparisons together are steadier than either.
    :param vectors_all: e5 passage vectors of every language version of the page that is line-aligned with
        ``sentences_de`` (German included; optional, default: German and ``vectors_own``). Five translations of a
        line agree on what it says more steadily than one or two do.
    """
    n = len(sentences_de)
    empty = np.array([not s for s in sentences_de])
    dense = vectors_de @ question_vector
    dense[empty] = dense[~empty].min() if (~empty).any() else 0.0
    order = np.argsort(-dense)
    rank = np.empty(n)
    rank[order] = np.arange(n)
    lexical, cover = lexical_match(question, sentences, [language])
    german_languages = list(dict.fromkeys([language, "de"]))
    lexical_de, cover_de = lexical_match(question, sentences_de, german_languages)
    dense_gap = dense - dense.max()
    both = dense if vectors_own is None else (dense + vectors_own @ question_vector) / 2
    both[empty] = both[~empty].min() if (~empty).any() else 0.0
    versions = vectors_all or [vectors_de] + ([] if vectors_own is None else [vectors_own])
    everywhere = np.mean([v @ question_vector for v in versions], axis=0)
    everywhere[empty] = everywhere[~empty].min() if (~empty).any() else 0.0
    # Answers are mostly runs of consecutive lines (a list under its lead-in): how far a line is from the one
    # that matches best tells much about lines that share no words with the question.
    best = int(np.argmax(dense_gap + lexical))
    columns = [
        dense, dense_gap, 1.0 / (1.0 + rank), chunk_scores, chunk_scores - chunk_scores.max(), lexical, lexical_de,
        lexical - lexical.max(), _neighbour_max(dense_gap), _neighbour_max(lexical),
        np.arange(n) / max(n - 1, 1), (np.arange(n) == 0).astype(float),
        np.log1p([len(s) for s in sentences_de]), np.full(n, dense.max()), np.full(n, lexical.max()),
        dense * lexical, np.log1p(np.abs(np.arange(n) - best)), (np.arange(n) > best).astype(float),
        np.full(n, math.log1p(n)), both, both - both.max(), everywhere, everywhere - everywhere.max(),
        *(np.full(n, value) for value in (*cover, *cover_de)),
    ]
    return np.stack(columns, axis=1).astype(np.float32)


@dataclass(frozen=True)
class SentenceSelection:
    """The sentences chosen as the answer (empty when the page does not answer), with every probability."""

    selected: list[int]
    probabilities: list[float]
    answered: bool
    unanswerable: float


@dataclass(frozen=True)
class Logistic:
    """A logistic model on standardised features."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coefficients: tuple[float, ...]
    intercept: float

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """Probabilities for the rows of ``features``."""
        z = (np.asarray(features, dtype=np.float64) - np.array(self.mean)) / np.array(self.scale)
        return 1.0 / (1.0 + np.exp(-(z @ np.array(self.coefficients) + self.intercept)))


def _shifted(values: np.ndarray, by: int) -> np.ndarray:
    """``values`` moved down (``by`` > 0: each row sees the row ``by`` above it) with the minimum at the edges."""
    pad = np.full(min(abs(by), len(values)), values.min())
    if by > 0:
        return np.concatenate([pad, values[:-by]])[: len(values)]
    return np.concatenate([values[-by:], pad])[-len(values):]


def context_features(probabilities: np.ndarray, features: np.ndarray) -> np.ndarray:
    """The second pass's input (CONTEXT_FEATURES): each sentence's features and the first pass's log-odds of the
    sentence and its neighbours — a list item that shares no word with the question follows a lead-in that does."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-6, 1 - 1e-6)
    logit = np.log(p / (1 - p))
    previous, following = _shifted(logit, 1), _shifted(logit, -1)
    columns = [logit, logit - logit.max(), previous, following, _shifted(logit, 2), _shifted(logit, -2),
               np.maximum(previous, following), np.minimum(previous, following)]
    return np.hstack([np.asarray(features, dtype=np.float64), np.stack(columns, axis=1)])


def best_run(probabilities: np.ndarray, threshold: float, sentences_de: list[str] | None = None) -> list[int]:
    """The run of consecutive sentences whose probabilities exceed ``threshold`` by the largest total (empty
    lines inside a run neither add nor cost, and are never chosen); the best sentence when none exceeds it."""
    values = np.asarray(probabilities, dtype=np.float64) - threshold
    if sentences_de is not None:
        values = np.where([bool(s) for s in sentences_de], values, 0.0)
    best, total, start, span = -np.inf, 0.0, 0, (0, 0)
    for i, value in enumerate(values):
        total, start = (value, i) if total <= 0 else (total + value, start)
        if total > best:
            best, span = total, (start, i)
    chosen = [i for i in range(span[0], span[1] + 1) if sentences_de is None or sentences_de[i]]
    return chosen if best > 0 and chosen else [int(np.argmax(probabilities))]


def page_features(probabilities: np.ndarray, features: np.ndarray) -> np.ndarray:
    """What the does-this-page-answer decision looks at: how strong the best sentences are, how well the page
    as a whole matches (a page with one strong line differs from a page that is merely on the topic), and how
    much of the question's wording the page holds anywhere (PAGE_COVER)."""
    top = np.sort(probabilities)[::-1]
    dense = features[:, FEATURES.index("dense")]
    cover = [features[0, FEATURES.index(name)] for name in PAGE_COVER]
    return np.array([top[0], top[:2].mean(), top[:3].mean(), top[:5].mean(), dense.max(),
                     features[:, FEATURES.index("lexical")].max(), features[:, FEATURES.index("lexical_de")].max(),
                     features[:, FEATURES.index("chunk")].max(), dense.max() - dense.mean(),
                     math.log1p(len(probabilities)), float((probabilities > 0.3).sum()), *cover])


@dataclass(frozen=True)
class SentenceSelector:
    """Chooses the answering sentences of a page from their features (see sentence_features), or none when the
    page-level model finds that the page does not answer the question.

    Usage:
    ```python
    selector = SentenceSelector.load()
    selection = selector.select(sentence_features(question, "uk", qvec, uk_lines, de_lines, de_vecs, chunks))
    selection.selected  # e.g. [3, 4, 5]; [] when the page does not answer the question
    selector.select(features, de_lines, question_vector=qvec)  # the question prior sharpens "no answer"
    ```
    """

    sentence: Logistic
    page: Logistic | None
    threshold: float
    unanswerable_threshold: float
    relative: float = 0.0
    #: The second pass (on CONTEXT_FEATURES), or None for the first pass alone.
    context: Logistic | None = None
    #: "run": the best run of consecutive sentences; "each": every sentence above the thresholds.
    decoding: str = "each"
    #: A prior on the question alone (its e5 vector), or None: some questions ask for what pages of their kind
    #: seldom say (a fee, an opening time). Its log-odds are the page model's last input; without a question
    #: vector the prior's mean on the training questions stands in.
    question: Logistic | None = None
    question_mean: float = 0.0

    @classmethod
    def from_dict(cls, raw: dict) -> SentenceSelector:  # type: ignore[type-arg]
        """Read a model written by ``to_dict``."""
        if tuple(raw["features"]) != FEATURES:
            raise ValueError("the sentence model was fitted on other features; refit with `python -m eval.omos fit`")
        page = Logistic(**raw["page"]) if raw.get("page") else None
        context = Logistic(**raw["context"]) if raw.get("context") else None
        question = Logistic(**raw["question"]) if raw.get("question") else None
        return cls(Logistic(**raw["sentence"]), page, float(raw["threshold"]), float(raw["unanswerable_threshold"]),
                   float(raw.get("relative", 0.0)), context, str(raw.get("decoding", "each")), question,
                   float(raw.get("question_mean", 0.0)))

    def to_dict(self) -> dict:  # type: ignore[type-arg]
        """The model as JSON-ready values."""
        return {"features": list(FEATURES), "sentence": self.sentence.__dict__,
                "page": self.page.__dict__ if self.page else None, "threshold": self.threshold,
                "unanswerable_threshold": self.unanswerable_threshold, "relative": self.relative,
                "context": self.context.__dict__ if self.context else None, "decoding": self.decoding,
                "question": self.question.__dict__ if self.question else None, "question_mean": self.question_mean}

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> SentenceSelector:
        """The fitted model (see ``python -m eval.omos fit``)."""
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """The probability that each sentence belongs to the answer (after the second pass, if there is one)."""
        first = self.sentence(features)
        if self.context is None or not len(first):
            return first
        return self.context(context_features(first, features))

    def question_prior(self, question_vector: np.ndarray | None) -> float:
        """The log-odds that a question like this one goes unanswered, from its e5 vector alone (the training
        mean without a vector or without a question model)."""
        if self.question is None or question_vector is None:
            return self.question_mean
        p = float(np.clip(self.question(np.asarray(question_vector)[None, :])[0], 1e-9, 1 - 1e-9))
        return math.log(p / (1 - p))

    def unanswerable(self, probabilities: np.ndarray, features: np.ndarray,
                     question_vector: np.ndarray | None = None) -> float:
        """The probability that the page does not answer the question (1 - best sentence without a page model).

        :param question_vector: the question's e5 vector, for the question prior (optional).
        """
        if self.page is None:
            return float(1.0 - probabilities.max())
        row = page_features(probabilities, features)
        if self.question is not None:
            row = np.append(row, self.question_prior(question_vector))
        return float(self.page(row[None, :])[0])

    def choose(self, probabilities: np.ndarray, sentences_de: list[str] | None = None) -> list[int]:
        """The answer's sentences, never an empty line: the best run (see best_run), or with ``decoding`` "each"
        the sentences above ``threshold`` and within ``relative`` of the best."""
        if self.decoding == "run":
            return best_run(probabilities, self.threshold, sentences_de)
        cut = max(self.threshold, self.relative * probabilities.max())
        chosen = [i for i, p in enumerate(probabilities) if p >= cut and (sentences_de is None or sentences_de[i])]
        return chosen or [int(probabilities.argmax())]

    def select(self, features: np.ndarray, sentences_de: list[str] | None = None,
               question_vector: np.ndarray | None = None) -> SentenceSelection:
        """Select the answering sentences, or none when the page does not answer.

        :param features: from sentence_features.
        :param sentences_de: the sentences (to skip empty lines), optional.
        :param question_vector: the question's e5 vector (optional; sharpens the does-it-answer decision).
        """
        probabilities = self.probabilities(features)
        if not len(probabilities):
            return SentenceSelection([], [], False, 1.0)
        unanswerable = self.unanswerable(probabilities, features, question_vector)
        if unanswerable >= self.unanswerable_threshold:
            return SentenceSelection([], probabilities.tolist(), False, unanswerable)
        return SentenceSelection(self.choose(probabilities, sentences_de), probabilities.tolist(), True, unanswerable)
