"""Rank candidate units and decide whether the corpus answers the question at all.

Both decisions are small logistic models whose weights are fitted on the development split of the evaluation
set (``wegweiser eval --calibrate``), never on its test split:

* ranking — the probability that a candidate answers the question, from how it matched (dense similarity in
  each language, lexical coverage, fused RRF score) and what kind of unit it is;
* abstention — the probability that the question is answerable at all, from the best candidate's probability,
  its margin to the runner-up, and how close the question is to out-of-scope topics.
"""

from __future__ import annotations

import dataclasses
import math
from itertools import repeat
from operator import mul
from typing import Any

from haystack import Document, component

KINDS = ("measure", "service", "goal", "field", "strategy", "intro", "office")
RANKING_FEATURES = ("dense", "dense_gap", "dense_query_lang", "dense_de", "lexical", "lexical_gap", "rrf",
                    "in_hybrid", "question", "question_gap", "question_query_lang", "question_votes",
                    *(f"kind_{k}" for k in KINDS), "staff_office", "staff_measure")
_NO_KIND = dict.fromkeys((f"kind_{k}" for k in KINDS), 0.0)
ABSTAIN_FEATURES = ("top_probability", "margin", "top_dense", "top_lexical", "top_question", "top_votes",
                    "oos_margin")

# Before calibration: prefer dense similarity, reward lexical matches and Qdrant's fused rank.
DEFAULT_RANKING = {"dense": 20.0, "dense_gap": 10.0, "lexical": 2.0, "rrf": 15.0, "question_gap": 10.0,
                   "kind_office": -1.0, "staff_office": 2.0}
DEFAULT_RANKING_BIAS = -18.0
DEFAULT_ABSTAIN = {"top_probability": 6.0, "margin": 2.0, "oos_margin": -20.0}
DEFAULT_ABSTAIN_BIAS = -2.0
#: Of a previous answer's unit ids (for a follow-up), how many name what it was about: its lead and contacts.
PREVIOUS_LEAD_IDS = 3


def candidate_features(match: dict[str, Any], kind: str, intent: str, best_dense: float,
                       best_lexical: float, best_question: float = 0.0) -> dict[str, float]:
    """The ranking features of one candidate (see :data:`RANKING_FEATURES`)."""
    features = {
        "question": match.get("question", 0.0), "question_gap": match.get("question", 0.0) - best_question,
        "question_query_lang": match.get("question_query_lang", 0.0),
        "question_votes": match.get("question_votes", 0.0),
        "dense": match["dense"], "dense_gap": match["dense"] - best_dense,
        "dense_query_lang": match.get("dense_query_lang", 0.0), "dense_de": match.get("dense_de", 0.0),
        "lexical": match["lexical"], "lexical_gap": match["lexical"] - best_lexical, "rrf": match["rrf"],
        "in_hybrid": 1.0 if match["rrf"] > 0 else 0.0,
        "staff_office": 1.0 if intent == "staff" and kind == "office" else 0.0,
        "staff_measure": 1.0 if intent == "staff" and kind == "measure" else 0.0,
    }
    # A procedure is ranked like a service: both are what a resident can act on (one fitted weight for both).
    kind = "service" if kind == "procedure" else kind
    features.update(_NO_KIND)
    if kind in KINDS:
        features[f"kind_{kind}"] = 1.0
    return features


def abstain_features(ranked: list[Document], oos_similarity: float) -> dict[str, float]:
    """The answerability features of a ranked list (see :data:`ABSTAIN_FEATURES`)."""
    if not ranked:
        return {name: 0.0 for name in ABSTAIN_FEATURES} | {"oos_margin": oos_similarity}
    top, second = ranked[0], ranked[1] if len(ranked) > 1 else None
    return {
        "top_probability": top.score or 0.0,
        "margin": (top.score or 0.0) - ((second.score or 0.0) if second else 0.0),
        "top_dense": top.meta["match"]["dense"], "top_lexical": top.meta["match"]["lexical"],
        "top_question": top.meta["match"].get("question", 0.0),
        "top_votes": top.meta["match"].get("question_votes", 0.0),
        "oos_margin": oos_similarity - max(top.meta["match"]["dense"], top.meta["match"].get("question", 0.0)),
    }


def logistic(weights: dict[str, float], bias: float, features: dict[str, float]) -> float:  # noqa: D401
    """σ(bias + Σ wᵢ·xᵢ)."""
    # The products and their sum in the order of the weights, as a generator over weights.items() gives them,
    # without a Python-level step per weight (about 20 weights for each of about 65 candidates a question).
    z = bias + sum(map(mul, weights.values(), map(features.get, weights.keys(), repeat(0.0))))
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


@dataclasses.dataclass(frozen=True, slots=True)
class _Candidate:
    """A candidate unit with its probability of answering and the features it was scored on."""

    source: Document
    probability: float
    features: dict[str, float]

    @property
    def unit_id(self) -> Any:
        return self.source.meta.get("unit_id")

    def document(self) -> Document:
        """The candidate as the ranker returns it: ``score`` the probability, ``meta["features"]`` the features."""
        return dataclasses.replace(self.source, score=self.probability,
                                   meta={**self.source.meta, "features": self.features})


@component
class UnitRanker:
    """Orders candidate units by their fitted probability of answering the question and decides whether to
    answer at all.

    Usage:
    ```python
    ranker = UnitRanker()
    out = ranker.run(documents=candidates, intent="resident", oos_similarity=0.81)
    out["documents"][0].score, out["answerable"], out["confidence"]
    ```
    """

    def __init__(self, ranking_weights: dict[str, float] | None = None, ranking_bias: float = DEFAULT_RANKING_BIAS,
                 abstain_weights: dict[str, float] | None = None, abstain_bias: float = DEFAULT_ABSTAIN_BIAS,
                 threshold: float = 0.5, top_k: int = 5) -> None:
        """
        :param ranking_weights: weight per ranking feature (missing features weigh 0).
        :param ranking_bias: bias of the ranking model.
        :param abstain_weights: weight per abstention feature.
        :param abstain_bias: bias of the abstention model.
        :param threshold: minimum answerability for an answer.
        :param top_k: units returned.
        :raises ValueError: for unknown feature names, a threshold outside (0, 1) or top_k below 1.
        """
        ranking_weights = dict(ranking_weights if ranking_weights is not None else DEFAULT_RANKING)
        abstain_weights = dict(abstain_weights if abstain_weights is not None else DEFAULT_ABSTAIN)
        unknown = [k for k in ranking_weights if k not in RANKING_FEATURES] + \
            [k for k in abstain_weights if k not in ABSTAIN_FEATURES]
        if unknown:
            raise ValueError(f"unknown features {unknown}")
        if not 0.0 < threshold < 1.0:
            raise ValueError("threshold must be between 0 and 1")
        if top_k < 1:
            raise ValueError("top_k must be at least 1")
        self.ranking_weights = ranking_weights
        self.ranking_bias = ranking_bias
        self.abstain_weights = abstain_weights
        self.abstain_bias = abstain_bias
        self.threshold = threshold
        self.top_k = top_k

    def rank(self, documents: list[Document], intent: str) -> list[Document]:
        """All candidates, best first, ``score`` = probability of answering the question."""
        return [candidate.document() for candidate in self._scored(documents, intent)]

    def _scored(self, documents: list[Document], intent: str) -> list[_Candidate]:
        """All candidates with their probability and features, best first (Documents are made only for those
        that are returned: about 65 candidates, 5 returned)."""
        if not documents:
            return []
        best_dense = max(d.meta["match"]["dense"] for d in documents)
        best_lexical = max(d.meta["match"]["lexical"] for d in documents)
        best_question = max(d.meta["match"].get("question", 0.0) for d in documents)
        scored = []
        for doc in documents:
            features = candidate_features(doc.meta["match"], doc.meta.get("kind", ""), intent, best_dense,
                                          best_lexical, best_question)
            scored.append(_Candidate(doc, logistic(self.ranking_weights, self.ranking_bias, features), features))
        scored.sort(key=lambda c: c.probability, reverse=True)
        return scored

    @component.output_types(documents=list[Document], confidence=float, answerable=bool,
                            features=dict[str, float])
    def run(self, documents: list[Document], intent: str = "resident", oos_similarity: float = 0.0,
            top_k: int | None = None, named_offices: list[str] | None = None,
            previous_ids: list[str] | None = None) -> dict[str, Any]:
        """
        :param documents: candidates from the retriever (with ``meta["match"]``).
        :param intent: ``resident``, ``staff`` or ``injection`` (never answerable).
        :param oos_similarity: the question's similarity to the nearest out-of-scope topic.
        :param top_k: overrides the number of units returned.
        :param named_offices: offices the question names. A staff question about a named office is always
            answerable: the office's own unit lists everything it is responsible for.
        :param previous_ids: for a follow-up question ("und wann hat die offen?"), the units of the previous
            answer, most relevant first. Those among the candidates go first (the first
            :data:`PREVIOUS_LEAD_IDS` before the others, each group in ranked order), and the question counts
            as answerable: it asks about something the previous turn answered.
        :returns: ranked ``documents``, the answerability ``confidence``, the decision ``answerable`` and the
            decision ``features``.
        """
        ranked = self._scored(documents, intent)
        features = abstain_features([c.document() for c in ranked[:2]], oos_similarity)
        confidence = 0.0 if intent == "injection" else logistic(self.abstain_weights, self.abstain_bias, features)
        if intent == "staff" and named_offices:
            confidence = max(confidence, self.threshold)
            # Offices first: the named office's own unit is the answer to "what does this office do?".
            named = [c for c in ranked if c.unit_id in named_offices]
            ranked = named + [c for c in ranked if c.unit_id not in named_offices]
        if previous_ids and intent != "injection":
            earlier = [c for c in ranked if c.unit_id in previous_ids]
            if earlier:
                confidence = max(confidence, self.threshold)
                # The previous answer's first units (its lead and contacts) before its "see also"; among them
                # the ranking decides (a procedure with its documents before the office that handles it).
                lead_ids = previous_ids[:PREVIOUS_LEAD_IDS]
                earlier.sort(key=lambda c: c.unit_id not in lead_ids)
                ranked = earlier + [c for c in ranked if c.unit_id not in previous_ids]
        return {"documents": [c.document() for c in ranked[: top_k or self.top_k]], "confidence": confidence,
                "answerable": intent != "injection" and bool(ranked) and confidence >= self.threshold,
                "features": features}
