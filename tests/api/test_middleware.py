"""Middleware: security headers, CORS, rate limiting and request logs that keep no personal data."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from pipelines.settings import Settings
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.integration

PAGES = ["/", "/staff", "/sources/integrationskonzept"]
API_CALLS = [("get", "/api/languages", {}), ("get", "/api/search?q=Sprachmittlung", {}),
             ("get", "/api/units/ik/2.4", {}), ("get", "/api/units/nope", {}), ("get", "/healthz", {}),
             ("post", "/api/ask", {"json": {"question": ""}}), ("post", "/api/ask", {"content": b"x"})]
FOREIGN_ORIGIN = "https://evil.example"


def _csp(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        if part.strip():
            name, *values = part.split()
            directives[name] = values
    return directives


@pytest.mark.parametrize("method, path, kwargs", API_CALLS)
def test_api_responses_carry_the_security_headers(client: TestClient, method: str, path: str,
                                                  kwargs: dict) -> None:
    response = getattr(client, method)(path, **kwargs)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("path", PAGES)
def test_pages_have_a_strict_content_security_policy(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    csp = _csp(response.headers["content-security-policy"])
    script_src = csp.get("script-src", csp.get("default-src"))
    assert script_src and "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "*" not in script_src
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("path", PAGES)
def test_pages_work_under_their_policy(client: TestClient, path: str) -> None:
    """Inline scripts, styles or handlers would be blocked by the policy: the page must not need any."""
    page = client.get(path).text
    for script in re.findall(r"<script\b[^>]*>", page):
        assert "src=" in script, script
    assert "<style" not in page
    assert not re.search(r"\sstyle=\"", page)
    assert not re.search(r"\son[a-z]+=", page)


def test_widget_may_be_embedded_by_other_sites_but_pages_may_not(client: TestClient) -> None:
    assert client.get("/widget/wegweiser-chat.js").headers["cross-origin-resource-policy"] == "cross-origin"
    assert client.get("/").headers["cross-origin-resource-policy"] == "same-site"


def test_allowed_origin_may_call_the_api_from_a_browser(client: TestClient, ingested_settings: Settings) -> None:
    origin = ingested_settings.cors_origins[0]
    response = client.get("/api/languages", headers={"Origin": origin})
    assert response.headers["access-control-allow-origin"] == origin
    assert "access-control-allow-credentials" not in response.headers
    preflight = client.options("/api/ask", headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                                     "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "POST" in preflight.headers["access-control-allow-methods"]


def test_foreign_origin_gets_no_cors_permission(client: TestClient) -> None:
    response = client.get("/api/languages", headers={"Origin": FOREIGN_ORIGIN})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    preflight = client.options("/api/ask", headers={"Origin": FOREIGN_ORIGIN,
                                                     "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


def test_no_response_sets_a_cookie(client: TestClient) -> None:
    responses = [client.get(path) for path in [*PAGES, "/healthz", "/readyz", "/api/offices", "/docs",
                                               "/openapi.json", "/widget/wegweiser-chat.js"]]
    responses.append(client.post("/api/ask", json={"question": "Wo lerne ich Deutsch?"}))
    assert all(r.status_code == 200 for r in responses)
    assert not any("set-cookie" in r.headers for r in responses)
    assert not client.cookies


@pytest.fixture(scope="module")
def limited_app(ingested_settings: Settings):  # type: ignore[no-untyped-def]
    return create_app(ingested_settings.model_copy(update={"rate_limit_per_minute": 5}))


def test_sixth_question_within_a_minute_is_told_to_wait(limited_app) -> None:  # type: ignore[no-untyped-def]
    with TestClient(limited_app, client=("198.51.100.7", 40000)) as asker:
        for _ in range(5):
            assert asker.post("/api/ask", json={"question": "Wo lerne ich Deutsch?"}).status_code == 200
        refused = asker.post("/api/ask", json={"question": "Wo lerne ich Deutsch?"})
        assert_problem(refused, 429, "too many requests")
        wait = int(refused.headers["retry-after"])
        assert 1 <= wait <= 60
        assert f"{wait} s" in refused.json()["detail"]
        assert refused.headers["x-content-type-options"] == "nosniff"
        for _ in range(10):
            assert asker.get("/healthz").status_code == 200
            assert asker.get("/").status_code == 200
    with TestClient(limited_app, client=("198.51.100.8", 40000)) as neighbour:
        assert neighbour.post("/api/ask", json={"question": "Wo lerne ich Deutsch?"}).status_code == 200


def test_preflights_do_not_use_up_questions_and_refusals_carry_cors_headers(
        ingested_settings: Settings) -> None:
    origin = ingested_settings.cors_origins[0]
    app = create_app(ingested_settings.model_copy(update={"rate_limit_per_minute": 2}))
    preflight = {"Origin": origin, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}
    with TestClient(app, client=("198.51.100.9", 40000)) as browser:
        for _ in range(5):
            answered = browser.options("/api/ask", headers=preflight)
            assert answered.status_code == 200 and answered.headers["access-control-allow-origin"] == origin
        for _ in range(2):
            asked = browser.post("/api/ask", json={"question": "Wo lerne ich Deutsch?"}, headers={"Origin": origin})
            assert asked.status_code == 200
        refused = browser.post("/api/ask", json={"question": "Wo lerne ich Deutsch?"}, headers={"Origin": origin})
        assert refused.status_code == 429
        assert refused.headers["access-control-allow-origin"] == origin  # the widget can say "please wait"
    with TestClient(create_app(ingested_settings), client=("198.51.100.10", 40000)) as browser:
        too_big = browser.post("/api/ask", content=b"{" + b" " * 20_000 + b"}",
                               headers={"Origin": origin, "Content-Type": "application/json"})
        wrong_type = browser.post("/api/ask", content=b"x", headers={"Origin": origin, "Content-Type": "text/plain"})
        for refusal, status in ((too_big, 413), (wrong_type, 415)):
            assert refusal.status_code == status and refusal.headers["access-control-allow-origin"] == origin
        foreign = browser.post("/api/ask", content=b"x", headers={"Origin": FOREIGN_ORIGIN,
                                                                   "Content-Type": "text/plain"})
        assert foreign.status_code == 415 and "access-control-allow-origin" not in foreign.headers


PRIVATE_QUESTION = "Zebrafink-4711 wo lerne ich Deutsch?"
PRIVATE_QUERY = "Okapi-0815"
CLIENT_ADDRESS = ("203.0.113.42", 51234)
USER_AGENT = "Distinctive-Browser/9.87"


def test_request_log_keeps_no_question_query_address_or_user_agent(
        ingested_settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(ingested_settings)
    with TestClient(app, client=CLIENT_ADDRESS, headers={"User-Agent": USER_AGENT}) as visitor, \
            caplog.at_level(logging.INFO):
        assert visitor.post("/api/ask", json={"question": PRIVATE_QUESTION}).status_code == 200
        assert visitor.get("/api/search", params={"q": PRIVATE_QUERY, "k": 3}).status_code == 200
        assert visitor.get(f"/api/search?q={PRIVATE_QUERY}&k=0").status_code == 422
    request_lines = [r.getMessage() for r in caplog.records if r.name == "wegweiser.requests"]
    assert any(re.match(r"POST /api/ask 200 ", line) for line in request_lines), request_lines
    assert any(re.match(r"GET /api/search 200 ", line) for line in request_lines), request_lines
    assert any(re.match(r"GET /api/search 422 ", line) for line in request_lines), request_lines
    # The test client logs the URLs it requests itself (httpx); only what the server logs counts.
    everything = "\n".join(f"{r.name} {r.getMessage()} {r.args}" for r in caplog.records
                           if not r.name.startswith("httpx"))
    for secret in ("Zebrafink", PRIVATE_QUERY, "q=", CLIENT_ADDRESS[0], "Distinctive-Browser"):
        assert secret not in everything, secret


@pytest.mark.parametrize("method, path, status", [
    ("put", "/api/ask", 405), ("delete", "/api/ask", 405), ("post", "/api/languages", 405),
    ("patch", "/api/offices", 405), ("post", "/api/gibt-es-nicht", 404),
])
def test_wrong_method_or_path_is_told_so_rather_than_asked_for_json(client: TestClient, method: str, path: str,
                                                                     status: int) -> None:
    assert_problem(client.request(method.upper(), path, content=b"x"), status)


def test_every_api_operation_documents_the_rate_limit(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    operations = [(path, op) for path, item in paths.items() if path.startswith("/api/") for op in item.values()]
    assert operations
    for path, operation in operations:
        assert "429" in operation["responses"], path


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/", "/staff", "/api/languages", "/widget/wegweiser-chat.js",
                                  "/api/search?q=Sprachmittlung"])
def test_monitors_may_use_head_on_every_page_and_get_endpoint(client: TestClient, path: str) -> None:
    got, head = client.get(path), client.head(path)
    assert got.status_code == 200
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == got.headers["content-length"]
    assert head.headers["x-content-type-options"] == "nosniff"


def test_head_is_not_a_way_around_post_only_routes(client: TestClient) -> None:
    assert client.head("/api/ask").status_code == 405
