"""/docs (Swagger UI) and /redoc (ReDoc) work offline: every file comes from this server, under its CSP."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def open_recorded(context, live_server: str, path: str):
    """Open ``path`` and return the page, every URL it requested and its console errors."""
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    response = page.goto(path)
    assert response is not None and response.status == 200
    policy = response.headers["content-security-policy"]
    assert "http" not in policy and "*" not in policy, policy  # no origin but the server's own
    return page, requests, errors


def assert_only_this_server(requests: list[str], live_server: str) -> None:
    origin = urlsplit(live_server)
    for url in requests:
        parts = urlsplit(url)
        if parts.scheme == "blob":  # ReDoc's search worker, made by its own script from this origin
            parts = urlsplit(url[len("blob:"):])
        assert (parts.scheme, parts.netloc) == (origin.scheme, origin.netloc), f"third-party request: {url}"
        assert parts.hostname == "127.0.0.1"


def test_swagger_ui_lists_the_operations_offline(context, live_server):
    page, requests, errors = open_recorded(context, live_server, "/docs")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/ask")).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/search")).to_be_visible()
    # "Try it out" works against this server.
    page.locator(".opblock-summary-path", has_text="/api/languages").click()
    page.get_by_role("button", name="Try it out").click()
    with page.expect_response(lambda r: urlsplit(r.url).path == "/api/languages") as answer:
        page.get_by_role("button", name="Execute").click()
    assert answer.value.status == 200
    assert_only_this_server(requests, live_server)
    assert not errors, errors


def test_redoc_lists_the_operations_offline(context, live_server):
    page, requests, errors = open_recorded(context, live_server, "/redoc")
    expect(page.get_by_role("heading", name="Wegweiser Jena API")).to_be_visible()
    expect(page.locator("[data-section-id^='operation/']").first).to_be_visible()
    assert page.locator("[data-section-id^='operation/']").count() >= 5
    expect(page.locator("span", has_text="/api/ask").first).to_be_attached()
    page.wait_for_load_state("networkidle")
    assert_only_this_server(requests, live_server)
    assert not errors, errors
