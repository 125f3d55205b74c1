"""GET /api/search: the staff search — hits, filters by action field and office, facets, validated parameters."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import assert_problem

pytestmark = pytest.mark.integration

HIT_FIELDS = {"id", "kind", "section", "title", "text", "text_translated", "score", "field", "termin", "url",
              "offices"}


def _search(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/api/search", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_hits_have_their_contract_shape(client: TestClient) -> None:
    result = _search(client, q="Sprachmittlung", k=10)
    assert result["query"] == "Sprachmittlung" and result["lang"] == "de"
    assert 1 <= len(result["hits"]) <= 10
    for hit in result["hits"]:
        assert set(hit) == HIT_FIELDS
        assert isinstance(hit["score"], float)
        assert hit["url"].startswith("/sources/") and "#" in hit["url"]
        assert hit["text"].strip() and hit["section"].strip() and hit["title"].strip()
        for office in hit["offices"]:
            assert set(office) == {"id", "name"} and office["id"].startswith("office/")
    assert set(result["facets"]) == {"field", "office"}


def test_hits_are_ordered_by_score_and_the_best_one_matches_the_query(client: TestClient) -> None:
    hits = _search(client, q="professionelle Sprachmittlung am Universitätsklinikum", k=5)["hits"]
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert hits[0]["id"] == "ik/2.4/z2/m2"


def test_hits_carry_the_german_text_of_record(client: TestClient) -> None:
    for hit in _search(client, q="Sprachmittlung", k=5)["hits"]:
        assert hit["text"] == client.get(f"/api/units/{hit['id']}").json()["text"]


@pytest.mark.parametrize("k", [1, 3, 50])
def test_k_bounds_the_number_of_hits(client: TestClient, k: int) -> None:
    assert 1 <= len(_search(client, q="Sprachmittlung", k=k)["hits"]) <= k


@pytest.mark.parametrize("k", ["0", "51", "-1", "ten"])
def test_k_outside_1_to_50_is_refused(client: TestClient, k: str) -> None:
    assert_problem(client.get("/api/search", params={"q": "Sprachmittlung", "k": k}), 422, "k")


@pytest.mark.parametrize("field", ["2.4", "2.3"])
def test_field_filter_keeps_only_units_of_that_field_and_its_sub_fields(client: TestClient, field: str) -> None:
    hits = _search(client, q="Sprachmittlung Beratung Gesundheit", k=50, field=field)["hits"]
    assert hits
    for hit in hits:
        assert hit["field"] == field or hit["field"].startswith(f"{field}."), hit["id"]
        assert hit["id"].startswith(f"ik/{field}")


def test_field_filter_finds_sub_fields(client: TestClient) -> None:
    hits = _search(client, q="Deutsch lernen Schule Kita", k=50, field="2.3")["hits"]
    assert {h["field"] for h in hits} & {"2.3.1", "2.3.2"}


def test_office_filter_keeps_units_naming_the_office_or_the_office_itself(client: TestClient) -> None:
    office = "office/fd-gesundheit"
    hits = _search(client, q="Gesundheit", k=50, office=office)["hits"]
    assert hits
    for hit in hits:
        assert hit["id"] == office or office in {o["id"] for o in hit["offices"]}, hit["id"]


def test_filters_combine(client: TestClient) -> None:
    office = "office/buero-migration-integration"
    hits = _search(client, q="Sprachmittlung", k=50, field="2.4", office=office)["hits"]
    assert hits
    assert all(h["field"] == "2.4" and office in {o["id"] for o in h["offices"]} for h in hits)


def test_facets_count_the_fields_and_offices_of_all_candidates(client: TestClient) -> None:
    unfiltered = _search(client, q="Sprachmittlung", k=50)
    hits = unfiltered["hits"]
    assert len(hits) < 50, "all candidates are shown, so the facets must add up over the hits"
    fields = Counter(h["field"] for h in hits if h["field"])
    offices = Counter(o["id"] for h in hits for o in h["offices"])
    assert unfiltered["facets"]["field"] == dict(fields)
    assert unfiltered["facets"]["office"] == dict(offices)
    assert list(unfiltered["facets"]["field"].values()) == sorted(fields.values(), reverse=True)

    # A filter narrows the hits, not the facets: staff see what else the query finds.
    filtered = _search(client, q="Sprachmittlung", k=50, field="2.4")
    assert filtered["facets"] == unfiltered["facets"]
    assert len(filtered["hits"]) == unfiltered["facets"]["field"]["2.4"]


def test_lang_returns_translated_snippets(client: TestClient) -> None:
    result = _search(client, q="перекладач лікар", k=5, lang="uk")
    assert result["lang"] == "uk"
    translated = [h["text_translated"] for h in result["hits"] if h["text_translated"]]
    assert translated and any(any("\u0400" <= ch <= "\u04ff" for ch in t) for t in translated)


def test_german_search_has_no_translated_snippets(client: TestClient) -> None:
    assert all(h["text_translated"] is None for h in _search(client, q="Sprachmittlung", lang="de")["hits"])


BAD_PARAMS = {
    "unknown language": ({"q": "Sprachmittlung", "lang": "xx"}, ["lang", "ISO 639-1"]),
    "language name": ({"q": "Sprachmittlung", "lang": "german"}, ["lang"]),
    "query missing": ({}, ["q"]),
    "empty query": ({"q": ""}, ["q"]),
    "blank query": ({"q": " \u200b\t "}, ["q", "empty"]),
    "query too long": ({"q": "a" * 1001}, ["q", "1000"]),
    "malformed field": ({"q": "Sprachmittlung", "field": "gesundheit"}, ["field"]),
    "field outside the concept's numbering": ({"q": "Sprachmittlung", "field": "3.1"}, ["field"]),
    "malformed office": ({"q": "Sprachmittlung", "office": "fd-gesundheit"}, ["office"]),
}


@pytest.mark.parametrize("name", list(BAD_PARAMS))
def test_bad_parameters_get_a_readable_422(client: TestClient, name: str) -> None:
    params, fragments = BAD_PARAMS[name]
    assert_problem(client.get("/api/search", params=params), 422, *fragments)


def test_unknown_office_finds_nothing_rather_than_failing(client: TestClient) -> None:
    assert _search(client, q="Sprachmittlung", office="office/gibt-es-nicht")["hits"] == []


@pytest.mark.parametrize("nonsense", ["asdfghjk", "qwertzuiop", "lorem ipsum dolor"])
def test_a_query_the_texts_do_not_cover_finds_nothing(client: TestClient, nonsense: str) -> None:
    result = _search(client, q=nonsense, k=20)
    assert result["hits"] == []
    assert result["facets"] == {"field": {}, "office": {}}


def test_hits_are_cut_off_where_relevance_ends(client: TestClient) -> None:
    # Fewer hits than asked for: only units that share a word with the query or are close to it in meaning.
    hits = _search(client, q="Elternberatung", k=20)["hits"]
    assert 1 <= len(hits) < 20
    assert hits[0]["id"] == "ik/2.3.1/z2/m2"


def test_without_a_query_a_field_lists_all_its_units_in_document_order(client: TestClient) -> None:
    result = _search(client, field="2.4")
    ids = [h["id"] for h in result["hits"]]
    assert result["query"] == "" and ids[0] == "ik/2.4"
    assert "ik/2.4/z2/m2" in ids and all(i.startswith("ik/2.4") for i in ids)
    # Document order: 2.4, 2.4/z1, 2.4/z1/m1 … (numbers compared as numbers).
    def position(unit_id: str) -> list[int]:
        return [int(part.lstrip("zm")) if part[1:].isdigit() else 0 for part in unit_id.split("/")[2:]]
    assert [position(i) for i in ids] == sorted(position(i) for i in ids)
    assert result["facets"]["field"] == {"2.4": len(ids)}
    assert all(h["score"] == 0 for h in result["hits"])
    assert len(_search(client, field="2.4", k=3)["hits"]) == 3


def test_without_a_query_an_office_lists_everything_it_is_responsible_for(client: TestClient) -> None:
    office = client.get("/api/offices/fd-gesundheit").json()
    listed = {h["id"] for h in _search(client, office="office/fd-gesundheit")["hits"]}
    assert {u["id"] for u in office["responsibilities"]} <= listed
    narrowed = _search(client, office="office/fd-gesundheit", field="2.4")["hits"]
    assert narrowed and all(h["field"] == "2.4" for h in narrowed)


def test_browsing_needs_a_field_or_an_office(client: TestClient) -> None:
    assert_problem(client.get("/api/search", params={"k": 5}), 422, "q", "field or office")


def test_searches_are_answered_by_the_fast_path_with_the_pipelines_hits(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Serving calls the components in graph order (``pipelines/fast_path.py``), not ``Pipeline.run``, and
    finds exactly what ``Pipeline.run`` finds."""
    import json

    from haystack import Pipeline

    from pipelines.query import search

    query = ("Anerkennung ausländischer Abschlüsse Beratung", 7, "uk", None, None)
    by_pipeline = json.loads(json.dumps(search(client.app.state.serving.current().search, *query)))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a request ran Pipeline.run")

    monkeypatch.setattr(Pipeline, "run", refuse)
    assert _search(client, q=query[0], k=query[1], lang=query[2]) == by_pipeline
    assert by_pipeline["hits"]
