"""Redirects name no host: the ``Host`` header a client sends never comes back in a ``Location``."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.middleware import relative_location

FOREIGN_HOST = "evil.example"


@pytest.mark.integration
@pytest.mark.parametrize("path, location", [
    ("/staff/", "/staff"), ("/sources/services/", "/sources/services"), ("/api/languages/", "/api/languages"),
    ("/api/search/?q=Kita&k=2", "/api/search?q=Kita&k=2"), ("/static", "/static/"),
])
def test_trailing_slash_redirects_are_relative(client: TestClient, path: str, location: str) -> None:
    response = client.get(path, headers={"Host": FOREIGN_HOST}, follow_redirects=False)
    assert response.is_redirect
    assert response.headers["location"] == location


@pytest.mark.integration
def test_redirect_of_a_question_is_relative(client: TestClient) -> None:
    response = client.post("/api/ask/", json={"question": "Wo lerne ich Deutsch?"},
                           headers={"Host": f"{FOREIGN_HOST}:8443"}, follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/api/ask"


@pytest.mark.parametrize("location, relative", [
    ("http://evil.example/staff", "/staff"),
    ("https://EVIL.example/sources/services?x=1#ik-2", "/sources/services?x=1#ik-2"),
    ("http://evil.example", "/"),
    ("http://evil.example//other.example/x", "/other.example/x"),  # never a protocol-relative URL
    ("https://www.jena.de/", "https://www.jena.de/"),  # another site: unchanged
    ("http://evil.example.other/x", "http://evil.example.other/x"),
    ("/already/relative", "/already/relative"),
    ("mailto:someone@evil.example", "mailto:someone@evil.example"),
])
def test_only_locations_on_the_requested_host_become_relative(location: str, relative: str) -> None:
    assert relative_location(location, FOREIGN_HOST) == relative
