"""GET /api/units/{id}: every kind of unit with its German text of record; readable 404s."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ingest.corpus import load_corpus
from tests.api.conftest import assert_problem
from tests.conftest import CORPUS

pytestmark = pytest.mark.integration

UNITS = {
    "ik/2.4/z2/m2": "measure",
    "ik/2.4/z2": "goal",
    "ik/2.4": "field",
    "ik/intro/p1": "intro",
    "ks/armutspraevention": "strategy",
    "svc/antidiskriminierungsstelle": "service",
    "svc/sprintpool": "service",
    "office/buero-migration-integration": "office",
    "office/fd-personal": "office",
}


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return {u.id: u.text for u in load_corpus(CORPUS).units}


@pytest.mark.parametrize("unit_id", list(UNITS))
def test_unit_has_its_german_text_of_record_and_a_source_link(client: TestClient, texts: dict[str, str],
                                                              unit_id: str) -> None:
    response = client.get(f"/api/units/{unit_id}")
    assert response.status_code == 200, response.text
    unit = response.json()
    assert unit["id"] == unit_id and unit["kind"] == UNITS[unit_id]
    assert unit["text"] == texts[unit_id]
    assert unit["url"].startswith("/sources/") and "#" in unit["url"]
    assert unit["source"] and unit["as_of"]
    assert isinstance(unit["translations"], dict)


def test_measure_names_its_offices_and_fields(client: TestClient) -> None:
    unit = client.get("/api/units/ik/2.4/z2/m2").json()
    assert unit["field"] == "2.4" and unit["termin"] == "fortlaufend"
    assert unit["verantwortung"] == "Büro für Migration und Integration, FD Soziales"
    assert {o["id"] for o in unit["offices"]} == {"office/buero-migration-integration", "office/fd-soziales"}


def test_unit_carries_translations_of_the_memory_languages(client: TestClient) -> None:
    translations = client.get("/api/units/ik/2.4/z2/m2").json()["translations"]
    assert {"en", "uk", "ar", "fa", "ru", "tr", "fr"} <= set(translations)
    assert all(isinstance(t, str) and t.strip() for t in translations.values())


@pytest.mark.parametrize("unit_id", ["ik/9.9/z1/m1", "ik/2.4/z2/m2/x", "svc/gibt-es-nicht", "office/gibt-es-nicht",
                                     "ks/nichts"])
def test_unknown_unit_is_a_readable_404(client: TestClient, unit_id: str) -> None:
    assert_problem(client.get(f"/api/units/{unit_id}"), 404, "no unit", unit_id)


@pytest.mark.parametrize("unit_id", ["nope", "ik", "svc/SPRINTPOOL", "office/a b"])
def test_malformed_unit_id_is_a_404_that_shows_what_ids_look_like(client: TestClient, unit_id: str) -> None:
    detail = assert_problem(client.get(f"/api/units/{unit_id}"), 404, "no unit")
    assert "ik/2.4/z2/m2" in detail
