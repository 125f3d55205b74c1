"""Re-rank retrieved units and decide whether the corpus answers the question at all."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from haystack import Document, component
from haystack.dataclasses import SparseEmbedding

# How much each kind of unit is preferred as the *main* answer. Residents want measures and services;
# offices, whole action fields and the introduction are context, not answers (staff questions differ).
RESIDENT_PRIOR = {"measure": 0.0, "service": 0.01, "goal": -0.01, "field": -0.03, "strategy": -0.02,
                  "intro": -0.04, "office": -0.06}
STAFF_PRIOR = {"measure": 0.0, "service": -0.01, "goal": -0.01, "field": -0.03, "strategy": -0.03,
               "intro": -0.05, "office": 0.02}


def lexical_coverage(query: SparseEmbedding | None, doc: Document) -> float:
    """Share of the query's terms that occur in the document (0 when either side has no terms)."""
    if query is None or not query.indices or doc.sparse_embedding is None:
        return 0.0
    terms = set(doc.sparse_embedding.indices)
    return sum(1 for t in query.indices if t in terms) / len(query.indices)


@component
class UnitRanker:
    """Orders retrieved units by a blend of dense similarity, lexical coverage and a kind prior, and gives a
    calibrated confidence that the best unit answers the question.

    The confidence is a logistic function of three features of the best unit — its dense cosine similarity,
    the margin to the runner-up, and the share of query terms it contains — whose weights and threshold are
    fitted on the development split of the evaluation set (``wegweiser eval --calibrate``).

    Usage:
    ```python
    ranker = UnitRanker(weights=[14.0, 6.0, 1.5], bias=-12.0, threshold=0.5)
    ranker.run(documents=docs, query_embedding=q, query_sparse_embedding=s, intent="resident")
    ```
    """

    def __init__(self, weights: list[float] | None = None, bias: float = -12.0, threshold: float = 0.5,
                 lexical_weight: float = 0.08, top_k: int = 5) -> None:
        """
        :param weights: logistic weights for (dense similarity, margin, lexical coverage).
        :param bias: logistic bias.
        :param threshold: minimum confidence for an answer.
        :param lexical_weight: weight of lexical coverage in the ranking score.
        :param top_k: units returned.
        :raises ValueError: for a wrong number of weights or a threshold outside (0, 1).
        """
        weights = list(weights) if weights is not None else [14.0, 6.0, 1.5]
        if len(weights) != 3:
            raise ValueError("weights must have three values: dense, margin, lexical")
        if not 0.0 < threshold < 1.0:
            raise ValueError("threshold must be between 0 and 1")
        if top_k < 1:
            raise ValueError("top_k must be at least 1")
        self.weights = weights
        self.bias = bias
        self.threshold = threshold
        self.lexical_weight = lexical_weight
        self.top_k = top_k

    def features(self, ranked: list[Document]) -> list[float]:
        """(dense, margin, lexical) of the best unit."""
        if not ranked:
            return [0.0, 0.0, 0.0]
        top = ranked[0].meta["ranking"]
        runner_up = ranked[1].meta["ranking"]["dense"] if len(ranked) > 1 else 0.0
        return [top["dense"], top["dense"] - runner_up, top["lexical"]]

    def confidence(self, features: list[float]) -> float:
        """Calibrated probability that the best unit answers the question."""
        z = self.bias + sum(w * f for w, f in zip(self.weights, features, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    @component.output_types(documents=list[Document], confidence=float, answerable=bool,
                            features=list[float])
    def run(self, documents: list[Document], query_embedding: list[float],
            query_sparse_embedding: SparseEmbedding | None = None, intent: str = "resident",
            top_k: int | None = None) -> dict[str, Any]:
        """
        :param documents: retrieved documents, one per unit (with embeddings).
        :param query_embedding: the query's dense vector.
        :param query_sparse_embedding: the query's sparse vector.
        :param intent: ``resident``, ``staff`` or ``injection`` (never answerable).
        :param top_k: overrides the number of units returned.
        :returns: ranked ``documents`` (scores replaced, features in ``meta["ranking"]``), ``confidence``,
            ``answerable`` and the decision ``features``.
        """
        prior = STAFF_PRIOR if intent == "staff" else RESIDENT_PRIOR
        query = np.asarray(query_embedding, dtype=np.float32)
        scored = []
        for doc in documents:
            dense = float(np.dot(query, np.asarray(doc.embedding, dtype=np.float32))) if doc.embedding else 0.0
            lexical = lexical_coverage(query_sparse_embedding, doc)
            score = dense + self.lexical_weight * lexical + prior.get(doc.meta.get("kind", ""), 0.0)
            ranking = {"dense": dense, "lexical": lexical, "fused": doc.score or 0.0, "score": score}
            scored.append(dataclasses.replace(doc, score=score, meta={**doc.meta, "ranking": ranking}))
        scored.sort(key=lambda d: d.score or 0.0, reverse=True)
        features = self.features(scored)
        confidence = 0.0 if intent == "injection" else self.confidence(features)
        return {"documents": scored[: top_k or self.top_k], "confidence": confidence,
                "answerable": intent != "injection" and bool(scored) and confidence >= self.threshold,
                "features": features}
