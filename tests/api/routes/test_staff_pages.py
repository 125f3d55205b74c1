"""Staff pages: an office's print view (the dashboard's tests are in test_feedback.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.middleware import PAGE_CSP

pytestmark = pytest.mark.integration


def test_print_view_lists_every_unit_of_the_office_with_its_deadline(client: TestClient) -> None:
    office = client.get("/api/offices/fd-gesundheit").json()
    response = client.get("/staff/offices/fd-gesundheit/print")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == PAGE_CSP
    page = response.text
    assert f"<h1>{office['name']}</h1>" in page
    assert page.count("<tr>") == len(office["responsibilities"]) + 1
    for unit in office["responsibilities"]:
        assert unit["id"] in page and (unit["termin"] or "–") in page
    assert 'href="/api/offices/fd-gesundheit/measures.csv"' in page


@pytest.mark.parametrize("slug", ["gibt-es-nicht", "FD..", "%3Cscript%3E"])
def test_print_view_of_an_unknown_office_is_a_404(client: TestClient, slug: str) -> None:
    assert client.get(f"/staff/offices/{slug}/print").status_code == 404
