"""Fit the ranking and the abstention decision on the development split (never on the test split)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from eval.questions import Question
from pipelines.components.unit_ranker import (
    ABSTAIN_FEATURES,
    RANKING_FEATURES,
    UnitRanker,
    abstain_features,
)
from pipelines.query import CALIBRATION_FILE, build_query_pipeline, open_served_index, trace_candidates
from pipelines.settings import Settings

Progress = Callable[[int, int], None]


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 0.01, steps: int = 5_000, rate: float = 0.5,
                 sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Logistic regression by gradient descent on standardized features (L2 on the standardized weights).

    :returns: weights and bias on the original feature scale.
    """
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std < 1e-9] = 1.0
    z = (x - mean) / std
    sw = np.ones(len(y)) if sample_weight is None else sample_weight / sample_weight.mean()
    w = np.zeros(z.shape[1])
    b = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
        residual = (p - y) * sw
        w -= rate * (z.T @ residual / len(y) + l2 * w)
        b -= rate * float(np.mean(residual))
    return w / std, b - float(np.sum(w * mean / std))


#: The share of questions the corpus cannot answer that the threshold is chosen for. The development split holds
#: many more of them (to fit the abstention features) than residents ask; choosing the threshold on the raw split
#: would abstain on answerable questions that now always come with a contact, a worse failure than an
#: answer that names the office and says what the sources do not cover.
OUT_OF_SCOPE_SHARE = 0.15


def choose_threshold(confidence: np.ndarray, answerable: np.ndarray, out_of_scope_share: float = OUT_OF_SCOPE_SHARE
                     ) -> float:
    """The threshold with the best accuracy when unanswerable questions make up ``out_of_scope_share`` of all
    questions (ties: the middle of the best range).

    A wrong abstention costs a resident the next step; a wrong answer still names a contact and is honest about
    what the sources say. Weighting the classes by their expected share in real use, rather than by their
    share in the development split, keeps the threshold from following how many unanswerable questions were
    written for calibration.
    """
    answerable = answerable.astype(bool)
    n_answerable, n_unanswerable = max(1, int(answerable.sum())), max(1, int((~answerable).sum()))
    weight = out_of_scope_share / (1 - out_of_scope_share) * n_answerable / n_unanswerable
    candidates = np.unique(np.concatenate([confidence, [0.5]]))
    best_score, best = -1.0, []
    for t in candidates:
        abstained = confidence < t
        score = float(np.sum(~abstained & answerable)) + weight * float(np.sum(abstained & ~answerable))
        if score > best_score + 1e-9:
            best_score, best = score, [float(t)]
        elif abs(score - best_score) <= 1e-9:
            best.append(float(t))
    return float(np.clip(np.median(best), 0.01, 0.99))


def collect(settings: Settings, questions: list[Question], progress: Progress | None = None
            ) -> tuple[str, list[dict[str, Any]]]:
    """Candidates, intent and out-of-scope similarity of every question, from the real pipeline."""
    index = open_served_index(settings)
    pipeline = build_query_pipeline(settings, index)
    pipeline.warm_up()
    traces = []
    for i, question in enumerate(questions, start=1):
        traces.append({"question": question, **trace_candidates(pipeline, question.question, question.simple)})
        if progress:
            progress(i, len(questions))
    return index.build, traces


def calibrate(settings: Settings, questions: list[Question], path: Path = CALIBRATION_FILE,
              progress: Progress | None = None) -> dict[str, Any]:
    """Fit both models on development-split questions and write them next to the pipelines.

    :raises ValueError: when a question is not from the development split (tuning must never see the test split).
    """
    if any(q.split != "dev" for q in questions):
        raise ValueError("calibration uses the development split only")
    build, traces = collect(settings, questions, progress)

    # 1. ranking: which candidate answers the question (answerable questions only)
    rows, labels, weights = [], [], []
    for trace in traces:
        question = trace["question"]
        if not question.answerable or not trace["candidates"]:
            continue
        scored = UnitRanker().rank(trace["candidates"], trace["intent"])
        for doc in scored:
            rows.append([doc.meta["features"][name] for name in RANKING_FEATURES])
            labels.append(1.0 if doc.meta["unit_id"] in question.expected_units else 0.0)
        positives = sum(labels[-len(scored):]) or 1.0
        weights.extend([1.0 / positives if y else 1.0 / max(1, len(scored) - positives) for y in labels[-len(scored):]])
    w, b = fit_logistic(np.array(rows), np.array(labels), sample_weight=np.array(weights))
    ranking_weights = {name: round(float(v), 4) for name, v in zip(RANKING_FEATURES, w, strict=True)}
    ranker = UnitRanker(ranking_weights=ranking_weights, ranking_bias=float(b))

    # 2. abstention: is the question answerable at all (every question)
    x = np.array([[abstain_features(ranker.rank(t["candidates"], t["intent"]), t["oos_similarity"])[name]
                   for name in ABSTAIN_FEATURES] for t in traces])
    y = np.array([1.0 if t["question"].answerable else 0.0 for t in traces])
    injection = np.array([t["intent"] == "injection" for t in traces])
    class_weight = np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
    aw, ab = fit_logistic(x[~injection], y[~injection], sample_weight=class_weight[~injection])
    confidence = 1.0 / (1.0 + np.exp(-(x @ aw + ab)))
    confidence[injection] = 0.0
    threshold = choose_threshold(confidence, y)
    result = {
        "ranking_weights": ranking_weights, "ranking_bias": round(float(b), 4),
        "abstain_weights": {name: round(float(v), 4) for name, v in zip(ABSTAIN_FEATURES, aw, strict=True)},
        "abstain_bias": round(float(ab), 4), "threshold": round(threshold, 4),
        "fitted_on": "dev", "questions": len(traces), "unanswerable": int(len(y) - y.sum()),
        "candidates": len(rows), "build": build, "fitted_at": time.strftime("%Y-%m-%d"),
    }
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result
