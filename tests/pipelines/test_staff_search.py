"""The staff search's relevance cut-off and browsing without a query, on hand-made matches and records."""

from __future__ import annotations

import pytest

from pipelines.query import SEARCH_MIN_SIMILARITY, browse, is_relevant


@pytest.mark.parametrize(("match", "relevant"), [
    ({"lexical": 0.5, "dense": 0.70, "question": 0.0}, True),           # shares a word: always a hit
    ({"lexical": 0.0, "dense": SEARCH_MIN_SIMILARITY, "question": 0.0}, True),
    ({"lexical": 0.0, "dense": 0.80, "question": SEARCH_MIN_SIMILARITY + 0.01}, True),
    ({"lexical": 0.0, "dense": 0.846, "question": 0.86}, False),         # "asdfghjk" as measured
    ({}, False),
])
def test_a_hit_shares_a_word_or_is_close_in_meaning(match: dict[str, float], relevant: bool) -> None:
    assert is_relevant(match) is relevant


def record(unit_id: str, field: str | None, offices: list[str], order: int) -> dict:
    return {"unit_id": unit_id, "kind": "measure", "section": unit_id, "title": f"Titel {unit_id}",
            "text_de": "Text", "texts": {"uk": "Текст"}, "field": field, "url": f"/sources/x#{unit_id}",
            "termin": None, "offices": offices, "order": order,
            "office_cards": [{"id": o, "name": o.upper()} for o in offices]}


RECORDS = [record("ik/2.3", "2.3", [], 1), record("ik/2.3.1/z1/m1", "2.3.1", ["office/a"], 2),
           record("ik/2.4/z1/m1", "2.4", ["office/a", "office/b"], 3), record("ik/2.4/z1/m2", "2.4", ["office/b"], 4),
           record("office/a", None, [], 5)]


def test_browsing_a_field_lists_it_and_its_sub_fields_in_the_given_order() -> None:
    result = browse(RECORDS, field="2.3")
    assert [h["id"] for h in result["hits"]] == ["ik/2.3", "ik/2.3.1/z1/m1"]
    assert result["query"] == "" and result["facets"] == {"field": {"2.3": 1, "2.3.1": 1}, "office": {"office/a": 1}}


def test_browsing_an_office_lists_its_units_and_itself() -> None:
    assert [h["id"] for h in browse(RECORDS, office="office/a")["hits"]] == \
        ["ik/2.3.1/z1/m1", "ik/2.4/z1/m1", "office/a"]
    assert [h["id"] for h in browse(RECORDS, field="2.4", office="office/b", k=1)["hits"]] == ["ik/2.4/z1/m1"]


def test_browsing_in_another_language_carries_the_translation() -> None:
    hit = browse(RECORDS, field="2.4", lang="uk")["hits"][0]
    assert hit["text_translated"] == "Текст" and hit["text"] == "Text" and hit["score"] == 0


def test_browsing_needs_a_field_or_an_office() -> None:
    with pytest.raises(ValueError, match="field or an office"):
        browse(RECORDS)
