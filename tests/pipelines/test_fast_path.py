"""The serving fast path: the same answers as ``Pipeline.run``, byte for byte, on real questions; the graph's rules
(optional inputs, silent branches, what is returned) on small pipelines; no component changes what it is given."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from haystack import Document, Pipeline, component
from haystack.components.joiners import DocumentJoiner
from haystack.core.errors import PipelineRuntimeError

from eval.followups import load_conversations, previous_turn
from eval.questions import load_questions
from pipelines.fast_path import FastPath
from pipelines.query import ask, ask_traced, search

# --- small pipelines: the graph's rules, in milliseconds ------------------------------------------------------


@component
class Split:
    @component.output_types(words=list[str], count=int)
    def run(self, text: str) -> dict[str, Any]:
        return {"words": text.split(), "count": len(text.split())}


@component
class Join:
    @component.output_types(text=str, parts=int)
    def run(self, words: list[str], separator: str = " ", suffix: str | None = None) -> dict[str, Any]:
        return {"text": separator.join(words) + (suffix or ""), "parts": len(words)}


@component
class Gate:
    """Passes its text on only when it is open (a branch that may stay silent)."""

    @component.output_types(text=str)
    def run(self, text: str, open: bool = True) -> dict[str, Any]:
        return {"text": text} if open else {}


@component
class Shout:
    @component.output_types(text=str)
    def run(self, text: str, times: int = 1) -> dict[str, Any]:
        return {"text": text.upper() * times}


@component
class Collect:
    @component.output_types(items=list[str])
    def run(self, items: list[str] = []) -> dict[str, Any]:  # noqa: B006 (a mutable default on purpose)
        items.append("collected")  # changes its default: each run must still start from an empty list
        return {"items": items}


@component
class Fail:
    @component.output_types(text=str)
    def run(self, text: str) -> dict[str, Any]:
        raise LookupError(f"no record for {text}")


@component
class Docs:
    @component.output_types(documents=list[Document])
    def run(self, text: str) -> dict[str, Any]:
        return {"documents": [Document(content=text)]}


def split_join(connect: str = "count") -> Pipeline:
    p = Pipeline()
    p.add_component("split", Split())
    p.add_component("join", Join())
    p.add_component("gate", Gate())
    p.add_component("shout", Shout())
    p.connect("split.words", "join.words")
    p.connect(f"split.{connect}", "shout.times")
    p.connect("gate.text", "join.suffix")
    p.connect("gate.text", "shout.text")
    return p


CASES = [
    ({"split": {"text": "a b c"}, "gate": {"text": "!"}}, None),
    ({"split": {"text": "a b c"}, "gate": {"text": "!"}, "join": {"separator": "-"}}, None),
    ({"split": {"text": "a b c"}, "gate": {"text": "!"}}, {"split", "join"}),
    # A closed gate: join gets its default suffix, shout misses its mandatory text and does not run.
    ({"split": {"text": "a b"}, "gate": {"text": "!", "open": False}}, None),
    ({"split": {"text": "a b"}, "gate": {"text": "!", "open": False}}, {"gate", "shout"}),
]


@pytest.mark.parametrize(("data", "include"), CASES)
def test_small_pipeline_gives_what_pipeline_run_gives(data: dict[str, Any], include: set[str] | None) -> None:
    pipeline = split_join()
    expected = pipeline.run(data, include_outputs_from=include)
    assert FastPath(pipeline).run(data, include_outputs_from=include) == expected


def test_the_wiring_is_read_from_the_pipeline() -> None:
    data = {"split": {"text": "a b c"}, "gate": {"text": "x"}}
    by_count, by_default = split_join("count"), split_join("count")
    by_default.remove_component("shout")
    by_default.add_component("shout", Shout())
    by_default.connect("gate.text", "shout.text")
    assert FastPath(by_count).run(data)["shout"] == {"text": "XXX"}
    assert FastPath(by_default).run(data)["shout"] == {"text": "X"}
    assert FastPath(by_default).run(data) == by_default.run(data)


def test_outputs_are_handed_on_without_copies() -> None:
    seen: list[Any] = []
    pipeline = split_join()
    join = pipeline.get_component("join")
    real_run = join.run

    def watching(**inputs: Any) -> dict[str, Any]:
        seen.append(inputs["words"])
        return real_run(**inputs)

    join.run = watching
    result = FastPath(pipeline).run({"split": {"text": "a b"}, "gate": {"text": "!"}}, include_outputs_from={"split"})
    assert seen[0] is result["split"]["words"]


def test_a_default_is_fresh_for_every_run() -> None:
    p = Pipeline()
    p.add_component("collect", Collect())
    fast = FastPath(p)
    assert fast.run({}) == fast.run({}) == {"collect": {"items": ["collected"]}}


def test_a_failing_component_is_reported_as_pipeline_run_reports_it() -> None:
    p = Pipeline()
    p.add_component("fail", Fail())
    with pytest.raises(PipelineRuntimeError) as raised:
        FastPath(p).run({"fail": {"text": "svc/vhs"}})
    # The API answers again from a new build when a record lookup failed: it looks for the LookupError.
    assert isinstance(raised.value.__cause__, LookupError)
    assert "fail" in str(raised.value)


@pytest.mark.parametrize(("data", "message"), [
    ({"nobody": {"text": "x"}}, "not found"),
    ({"split": {"txt": "x"}, "gate": {"text": "!"}}, "not found"),
    ({"gate": {"text": "!"}}, "Missing mandatory input"),
    ({"split": {"text": "x"}, "gate": {"text": "!"}, "join": {"words": ["y"]}}, "connected"),
])
def test_inputs_the_pipeline_would_refuse_are_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FastPath(split_join()).run(data)


def test_graphs_it_cannot_run_the_same_way_are_refused_up_front() -> None:
    p = Pipeline()
    # e.g. two retrievers and Haystack's DocumentJoiner: the joiner's input collects from both (variadic)
    p.add_component("dense", Docs())
    p.add_component("sparse", Docs())
    p.add_component("joiner", DocumentJoiner())
    p.connect("dense.documents", "joiner.documents")
    p.connect("sparse.documents", "joiner.documents")
    with pytest.raises(ValueError, match="variadic"):
        FastPath(p)


# --- the real pipelines on the real index ----------------------------------------------------------------------

def sample_questions(per_file: int = 4) -> list[Any]:
    """Questions spread over every question file: each language, staff, simple (asked in simple mode),
    out-of-scope, partial coverage, parallel and practical ones."""
    by_file: dict[str, list[Any]] = {}
    for question in load_questions():
        by_file.setdefault(question.source_file, []).append(question)
    return [q for qs in by_file.values() for q in qs[:: max(1, len(qs) // per_file)][:per_file]]


# (query, k, lang, field, office)
SEARCHES = [
    ("Sprachmittlung", 10, None, None, None),
    ("перекладач лікар", 5, "uk", None, None),
    ("Kita Elternberatung", 10, None, "2.3", None),
    ("Beratung", 20, "ar", None, "office/buero-migration-integration"),
    ("asdfghjk", 10, None, None, None),
    ("Wer ist zuständig für Einbürgerung?", 10, "fr", None, None),
]


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@pytest.mark.integration
def test_answers_are_byte_identical_to_pipeline_run(served) -> None:
    """The answer as the API sends it, and the ranking, are the same byte for byte. The unrounded decision
    features may differ in the 16th digit: the store's similarity scores do so from one ``Pipeline.run`` to the
    next as well (numpy's sums depend on where a temporary array lands in memory)."""
    asked = 0
    for question in sample_questions():
        for lang in (None, "de") if question.lang != "de" else (None,):
            answer, ranked, features = ask_traced(served.ask, question.question, lang, question.simple)
            fast_answer, fast_ranked, fast_features = ask_traced(served.fast_ask, question.question, lang,
                                                                 question.simple)
            assert as_json(fast_answer) == as_json(answer), question.id
            assert fast_ranked == ranked, question.id
            assert fast_features == pytest.approx(features, rel=1e-12, abs=1e-12), question.id
            asked += 1
    # A language outside the eight (composed in English, German beside it).
    assert as_json(ask(served.fast_ask, "Wo kann ich Deutsch lernen?", "sw")) == \
        as_json(ask(served.ask, "Wo kann ich Deutsch lernen?", "sw"))
    assert asked >= 60


@pytest.mark.integration
def test_follow_ups_are_byte_identical_to_pipeline_run(served) -> None:
    conversations = load_conversations()
    follow_ups = 0
    for conversation in conversations:
        first, second = conversation.turns
        turn = previous_turn(first, ask(served.ask, first))
        by_pipeline = ask(served.ask, second, previous=[turn])
        by_fast_path = ask(served.fast_ask, second, previous=[turn])
        assert as_json(by_fast_path) == as_json(by_pipeline), conversation.id
        follow_ups += by_pipeline["follow_up"]
    assert len(conversations) >= 20 and follow_ups >= 10  # both kinds of second turn were compared


@pytest.mark.integration
@pytest.mark.parametrize("query", SEARCHES, ids=[s[0] for s in SEARCHES])
def test_search_results_are_byte_identical_to_pipeline_run(served, query: tuple[Any, ...]) -> None:
    assert as_json(search(served.fast_search, *query)) == as_json(search(served.search, *query))


def watch_inputs(name: str, run: Callable[..., Any], changed: list[str], seen: set[str]) -> Callable[..., Any]:
    def watched(**inputs: Any) -> Any:
        before = pickle.dumps(inputs)
        outputs = run(**inputs)
        seen.add(name)
        if pickle.dumps(inputs) != before:
            changed.append(name)
        return outputs
    return watched


@pytest.mark.integration
def test_no_component_changes_what_it_is_given(served, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path hands every component the objects other components made (and the record cache's own
    dicts, through the lookups): a component that changed them would change other answers."""
    changed: list[str] = []
    seen: set[str] = set()
    for fast in (served.fast_ask, served.fast_search):
        for name, instance in fast.pipeline.walk():
            monkeypatch.setattr(instance, "run", watch_inputs(name, instance.run, changed, seen))
    for question in sample_questions(per_file=2):
        ask(served.fast_ask, question.question, None, question.simple)
        search(served.fast_search, question.question, 10, question.lang)
    conversation = load_conversations()[0]
    ask(served.fast_ask, conversation.turns[1],
        previous=[previous_turn(conversation.turns[0], ask(served.fast_ask, conversation.turns[0]))])
    ask(served.fast_ask, "Wo kann ich Deutsch lernen?", "sw")
    assert seen == set(served.ask.graph.nodes)
    assert changed == []
