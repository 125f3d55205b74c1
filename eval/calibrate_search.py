"""Choose the staff search's relevance cut-off (``pipelines.query.SEARCH_MIN_SIMILARITY``).

A hit is shown when it shares a word with the query or its similarity reaches the cut-off. This script runs the
search pipeline on nonsense probes (keyboard rows, placeholder text, digits) and on the development split of the
question set, and prints, per candidate cut-off, how many probes still find something and how many answerable
development questions keep an expected unit among their first 20 hits. The chosen value is the smallest at which
no probe without a lexical match keeps a hit. The test split is not used.

Usage: ``python -m eval.calibrate_search`` (needs an ingested index).
"""

from __future__ import annotations

from typing import Any

from eval.questions import load_questions
from pipelines.query import is_relevant
from pipelines.serving import ServingState
from pipelines.settings import get_settings

#: Queries a person might type by mistake or to try the search out; none is about the city's texts.
NONSENSE = ["asdfghjk", "qwertzuiop", "xyz", "aaaa", "hjkl", "123456", "lorem ipsum dolor", "jjjjjj", "ölkjhg",
            "zxcvbnm", "asdf asdf", "foo bar baz", "blablabla", "ghjk", "йцукен", "фывапр", "شسيبل", "xxxxx", "0000"]
CUTOFFS = [round(0.85 + 0.005 * i, 3) for i in range(15)]
SHOWN = 20


def candidates(pipeline: Any, query: str) -> list[tuple[str, dict[str, float]]]:
    """The search pipeline's ranked candidates: (unit id, match features)."""
    result = pipeline.run({"language_detector": {"text": query, "lang": None}, "query_analyzer": {"text": query},
                           "text_embedder": {"text": query}, "sparse_embedder": {"text": query}})
    return [(d.meta["unit_id"], d.meta["match"]) for d in result["tm_lookup"]["documents"]]


def main() -> None:
    """Print the table and the chosen cut-off."""
    pipeline = ServingState(get_settings()).current().search
    probes = {q: candidates(pipeline, q) for q in NONSENSE}
    dev = [(set(q.expected_units), candidates(pipeline, q.question))
           for q in load_questions(split="dev") if q.answerable]
    unfiltered = sum(any(u in expected for u, _ in found[:SHOWN]) for expected, found in dev)
    chosen = None
    print("cut-off  probes with hits  dev questions with an expected unit in the first 20")
    for cutoff in CUTOFFS:
        with_hits = sum(any(is_relevant(m, cutoff) for _, m in found) for found in probes.values())
        kept = sum(any(u in expected for u, m in [c for c in found if is_relevant(c[1], cutoff)][:SHOWN])
                   for expected, found in dev)
        print(f"{cutoff:7.3f}  {with_hits:3d} of {len(probes)}        {kept} of {len(dev)} (unfiltered {unfiltered})")
        if chosen is None and with_hits == 0:
            chosen = cutoff
    print(f"chosen: {chosen}")


if __name__ == "__main__":
    main()
