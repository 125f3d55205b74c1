"""UnitRanker with a previous turn: the earlier answer's units lead a follow-up's ranking."""

from __future__ import annotations

from haystack import Document

from pipelines.components.unit_ranker import UnitRanker


def candidate(unit_id: str, kind: str, dense: float) -> Document:
    match = {"dense": dense, "lexical": 0.0, "rrf": 0.0, "question": 0.0}
    return Document(content=unit_id, meta={"unit_id": unit_id, "kind": kind, "match": match})


DOCS = [candidate("svc/ernst-abbe-buecherei", "service", 0.9), candidate("svc/sprachcafes", "service", 0.6),
        candidate("proc/integrationskurs", "procedure", 0.55), candidate("svc/vhs", "service", 0.5)]
WEAK = {"oos_similarity": 0.95}  # closer to an out-of-scope topic than to any unit: abstains on its own


def ids(out: dict) -> list[str]:
    return [d.meta["unit_id"] for d in out["documents"]]


def test_a_follow_up_is_answered_about_the_previous_answers_lead() -> None:
    ranker = UnitRanker(threshold=0.9)
    alone = ranker.run(documents=DOCS, **WEAK)
    assert ids(alone)[0] == "svc/ernst-abbe-buecherei" and not alone["answerable"]
    # The previous answer was about the VHS; a language café was only "see also".
    out = ranker.run(documents=DOCS, previous_ids=["svc/vhs", "ik/2.3.2/z1/m1", "proc/x", "svc/sprachcafes"],
                     **WEAK)
    assert ids(out)[:2] == ["svc/vhs", "svc/sprachcafes"]
    assert out["answerable"]


def test_among_the_previous_answers_first_units_the_ranking_decides() -> None:
    out = UnitRanker().run(documents=DOCS, previous_ids=["svc/vhs", "proc/integrationskurs"])
    assert ids(out)[:2] == ["proc/integrationskurs", "svc/vhs"]


def test_previous_units_no_longer_in_the_index_change_nothing() -> None:
    ranker = UnitRanker(threshold=0.9)
    out = ranker.run(documents=DOCS, previous_ids=["svc/dropped-by-a-rebuild"], **WEAK)
    assert ids(out) == ids(ranker.run(documents=DOCS, **WEAK))
    assert not out["answerable"]


def test_an_attack_is_never_answered_as_a_follow_up() -> None:
    assert not UnitRanker().run(documents=DOCS, intent="injection", previous_ids=["svc/vhs"])["answerable"]


def test_probabilities_are_the_weighted_sum_term_by_term_to_the_last_bit() -> None:
    """The ranker's logistic (summed in C over the weights) gives exactly what the formula gives summed term by
    term in the order of the weights: fitted weights and eval results stay valid."""
    import math
    import random

    from pipelines.components.unit_ranker import RANKING_FEATURES, candidate_features, logistic

    rng = random.Random(3)
    for _ in range(500):
        weights = {name: rng.uniform(-30, 30) for name in rng.sample(RANKING_FEATURES, rng.randint(1, 20))}
        match = {"dense": rng.random(), "lexical": rng.random(), "rrf": rng.choice([0.0, rng.random()]),
                 "question": rng.random(), "question_votes": rng.random() * 3}
        kind = rng.choice(["service", "procedure", "office", "page"])
        features = candidate_features(match, kind, rng.choice(["resident", "staff"]), 0.9, 0.5, 0.8)
        bias = rng.uniform(-20, 5)
        total = 0
        for name, weight in weights.items():
            total += weight * features.get(name, 0.0)
        z = bias + total
        assert logistic(weights, bias, features) == 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))
        # Every feature, the kinds last (in KINDS order) and exactly one of them set unless the kind is unknown.
        kinds = [f for f in RANKING_FEATURES if f.startswith("kind_")]
        assert set(features) == set(RANKING_FEATURES) and list(features)[-len(kinds):] == kinds
        ranked_as = "kind_service" if kind == "procedure" else f"kind_{kind}"
        assert [k for k in kinds if features[k] == 1.0] == ([ranked_as] if ranked_as in kinds else [])
