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


def test_an_office_s_units_export_as_csv_for_excel(client: TestClient) -> None:
    import csv
    import io

    office = client.get("/api/offices/buero-migration-integration").json()
    response = client.get("/api/offices/buero-migration-integration/measures.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == \
        'attachment; filename="massnahmen-buero-migration-integration.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads the umlauts right
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0] == ["ID", "Art", "Titel", "Handlungsfeld", "Abschnitt", "Termin", "Verantwortung laut Quelle",
                       "Quelle"]
    units = office["responsibilities"]
    assert [r[0] for r in rows[1:]] == [u["id"] for u in units]
    for row, unit in zip(rows[1:], units, strict=True):
        assert row[2] == unit["title"] and row[5] == (unit["termin"] or "") and row[7] == unit["url"]


def test_csv_cells_never_start_a_formula() -> None:
    from api.routes.offices import measures_csv

    data = measures_csv([{"id": "x", "title": '=HYPERLINK("http://evil")', "verantwortung": 'a; "b"\nc'}])
    text = data.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and '"a; ""b""\nc"' in text


def test_unknown_office_has_no_csv(client: TestClient) -> None:
    assert_problem(client.get("/api/offices/gibt-es-nicht/measures.csv"), 404, "gibt-es-nicht")
