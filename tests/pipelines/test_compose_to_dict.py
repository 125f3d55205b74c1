"""An answer becomes plain dicts exactly as ``dataclasses.asdict`` makes them, with every container a copy."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Any, NamedTuple

import pytest

from eval.questions import load_questions
from pipelines.compose import ComposedAnswer, _plain
from pipelines.query import ask


class Point(NamedTuple):
    x: int
    label: str


@dataclasses.dataclass(frozen=True)
class Inner:
    name: str
    values: list[Any]


@dataclasses.dataclass(frozen=True)
class Outer:
    inner: Inner
    inners: list[Inner]
    mapping: dict[str, Any]
    pair: tuple[int, Inner]
    point: Point
    ordered: OrderedDict[str, int]
    maybe: float | None = None


def _containers(value: Any) -> list[Any]:
    found = []
    if isinstance(value, (dict, list)):
        found.append(value)
        for item in value.values() if isinstance(value, dict) else value:
            found.extend(_containers(item))
    return found


def test_every_kind_of_value_is_converted_as_asdict_converts_it() -> None:
    inner = Inner("a", [1, 2.5, None, {"k": [True]}])
    value = Outer(inner, [inner, Inner("b", [])], {"n": {"deep": [inner]}}, (3, inner), Point(1, "p"),
                  OrderedDict(z=1, a=2))
    converted = _plain(value)
    assert converted == dataclasses.asdict(value)
    assert type(converted["ordered"]) is OrderedDict
    assert type(converted["point"]) is Point and type(converted["pair"]) is tuple


@pytest.mark.integration
def test_real_answers_convert_as_asdict_and_share_no_container(served, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    composed: list[ComposedAnswer] = []
    original = ComposedAnswer.to_dict

    def keep(self: ComposedAnswer) -> dict[str, Any]:
        composed.append(self)
        return original(self)

    monkeypatch.setattr(ComposedAnswer, "to_dict", keep)
    for question in load_questions(split="dev")[:60]:
        ask(served.fast_ask, question.question, question.lang, question.simple)
    assert len(composed) >= 60
    for answer in composed:
        plain = _plain(answer)
        assert plain == dataclasses.asdict(answer)
        # A copy throughout: no dict or list of the answer is one the records (or the answer) hold.
        held = {id(c) for c in _containers([getattr(answer, f.name) for f in dataclasses.fields(answer)])}
        assert not held & {id(c) for c in _containers(plain)}
