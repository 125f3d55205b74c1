"""HTML pages (demo, staff, source documents) and the widget's files."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import assert_problem

pytestmark = pytest.mark.integration

FOREIGN_HOST = "evil.example"


@pytest.mark.parametrize("path", ["/", "/staff"])
def test_pages_are_html_in_german(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="de"' in response.text


def test_demo_page_embeds_the_widget(client: TestClient) -> None:
    page = client.get("/").text
    assert "wegweiser-chat" in page and "/widget/wegweiser-chat.js" in page


@pytest.mark.parametrize("path", ["/", "/staff", "/sources/integrationskonzept", "/sources/services"])
def test_pages_name_no_host_the_request_sent(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"Host": FOREIGN_HOST})
    assert response.status_code == 200
    assert FOREIGN_HOST not in response.text
    assert not any(FOREIGN_HOST in value for value in response.headers.values())


def test_demo_page_loads_the_widget_from_its_own_origin(client: TestClient) -> None:
    page = client.get("/", headers={"Host": FOREIGN_HOST}).text
    assert '<script type="module" src="/widget/wegweiser-chat.js"></script>' in page
    # No api-url: the widget calls the origin it was loaded from.
    assert re.findall(r"<wegweiser-chat\b[^>]*>", page) == ['<wegweiser-chat share-param="frage">']


@pytest.mark.parametrize("document, prefix", [("integrationskonzept", "ik-"), ("sozialstrategie", "ks-"),
                                              ("services", "svc-"), ("offices", "office-")])
def test_source_pages_have_an_anchor_per_unit(client: TestClient, document: str, prefix: str) -> None:
    response = client.get(f"/sources/{document}")
    assert response.status_code == 200
    anchors = re.findall(r'<section[^>]* id="([^"]+)"', response.text)
    assert anchors and all(a.startswith(prefix) for a in anchors)
    assert len(anchors) == len(set(anchors))


def test_integrationskonzept_page_shows_the_measure_verbatim(client: TestClient) -> None:
    unit = client.get("/api/units/ik/2.4/z2/m2").json()
    page = client.get("/sources/integrationskonzept").text
    assert 'id="ik-2.4-z2-m2"' in page
    first_line = unit["text"].splitlines()[0]
    assert first_line in page


def test_unknown_source_document_is_a_readable_404(client: TestClient) -> None:
    assert_problem(client.get("/sources/geheim"), 404, "no source document")


def test_widget_script_is_served_as_javascript(client: TestClient) -> None:
    response = client.get("/widget/wegweiser-chat.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "customElements" in response.text


def test_widget_messages_and_languages(client: TestClient) -> None:
    languages = client.get("/widget/languages.json").json()
    assert {"de", "uk", "ar"} <= {item["code"] for item in languages}
    for item in languages:
        messages = client.get(f"/widget/messages/{item['code']}.json")
        assert messages.status_code == 200
        assert messages.json()["@dir"] == item["dir"]


@pytest.mark.parametrize("language", ["xx", "DE", "de-simple", "..%2Fetc"])
def test_unknown_widget_catalog_is_a_readable_404(client: TestClient, language: str) -> None:
    assert_problem(client.get(f"/widget/messages/{language}.json"), 404)


def test_a_source_page_marks_quoted_lines_and_ignores_a_malformed_request(client: TestClient) -> None:
    page = client.get("/sources/procedures?unit=proc-wohnung-anmelden&lines=3,4").text
    assert re.findall(r'<p id="proc-wohnung-anmelden-l(\d+)" class="quoted"><mark>', page) == ["3", "4"]
    assert "Markiert: die Sätze" in page
    for query in ("unit=proc-wohnung-anmelden&lines=3;alert(1)", "unit=<script>&lines=3", "lines=3"):
        response = client.get(f"/sources/procedures?{query}")
        assert response.status_code == 200 and 'class="quoted"' not in response.text
