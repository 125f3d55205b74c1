"""GET /api/offices, /api/offices/{slug}: who is responsible for what, checked against the corpus itself."""

from __future__ import annotations

import pytest
import yaml
from fastapi.testclient import TestClient

from ingest.corpus import Corpus, load_corpus
from tests.api.conftest import assert_problem
from tests.conftest import CORPUS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus(CORPUS)


def _measures_of(corpus: Corpus, office_id: str) -> set[str]:
    return {u.id for u in corpus.units if u.kind == "measure" and office_id in u.offices}


def test_every_office_of_the_corpus_is_listed(client: TestClient) -> None:
    expected = {o["id"]: o["name"] for o in yaml.safe_load((CORPUS / "offices.yaml").read_text())["offices"]}
    response = client.get("/api/offices")
    assert response.status_code == 200
    listed = {o["id"]: o["name"] for o in response.json()}
    assert listed == expected


def test_office_list_counts_the_units_each_office_is_responsible_for(client: TestClient, corpus: Corpus) -> None:
    for office in client.get("/api/offices").json():
        assert office["units"] == len(_measures_of(corpus, office["id"])), office["id"]
        assert isinstance(office["aliases"], list) and isinstance(office["contact"], dict)


@pytest.mark.parametrize("slug", ["fd-gesundheit", "buero-migration-integration", "fd-personal"])
def test_office_lists_exactly_the_measures_it_is_responsible_for(client: TestClient, corpus: Corpus,
                                                                 slug: str) -> None:
    response = client.get(f"/api/offices/{slug}")
    assert response.status_code == 200, response.text
    office = response.json()
    assert office["id"] == f"office/{slug}"
    responsibilities = office["responsibilities"]
    assert {u["id"] for u in responsibilities} == _measures_of(corpus, office["id"])
    assert len(responsibilities) == len({u["id"] for u in responsibilities}) == office["units"]
    for unit in responsibilities:
        assert unit["kind"] == "measure"
        assert unit["text"] == corpus.unit(unit["id"]).text
        assert office["id"] in {o["id"] for o in unit["offices"]}


def test_office_with_a_linked_service_shows_its_sourced_contact(client: TestClient) -> None:
    office = client.get("/api/offices/buero-migration-integration").json()
    assert office["service"] == "svc/buero-migration-integration"
    items = [item for items in office["contact"].values() for item in items]
    assert items and all(item["value"] and item["source"].startswith("http") for item in items)


@pytest.mark.parametrize("slug", ["gibt-es-nicht", "FD-Gesundheit", "fd_gesundheit", "-x"])
def test_unknown_office_is_a_readable_404(client: TestClient, slug: str) -> None:
    assert_problem(client.get(f"/api/offices/{slug}"), 404, "no office")
