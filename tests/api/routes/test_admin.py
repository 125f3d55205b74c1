"""/api/admin/reindex: only loopback clients with the local admin token; any other header is a readable 403."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.routes.admin import token_path
from tests.api.conftest import assert_problem
from tests.conftest import make_settings

LOOPBACK_CLIENT = ("127.0.0.1", 50000)


class Admin(NamedTuple):
    client: TestClient
    token: str


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[Admin]:
    """A client on this machine of an app without an index (reading the job state needs none)."""
    settings = make_settings(tmp_path)
    # raise_server_exceptions=False: a 500 is answered as a 500 here, as it would be to a real client.
    with TestClient(create_app(settings), client=LOOPBACK_CLIENT, raise_server_exceptions=False) as client:
        yield Admin(client, token_path(settings).read_text().strip())


def test_local_admin_token_reads_the_job_state(admin: Admin) -> None:
    response = admin.client.get("/api/admin/reindex", headers={"Authorization": f"Bearer {admin.token}"})
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "idle"


BAD_HEADERS = {
    # name: the raw Authorization header value (None: no header)
    "missing": None,
    "empty": b"",
    "scheme only": b"Bearer",
    "wrong token": b"Bearer not-the-token",
    "non-ASCII token in UTF-8": "Bearer ä€".encode(),
    "non-ASCII token in Latin-1": "Bearer äöü".encode("latin-1"),
    "control bytes": b"Bearer \x01\x7f",
}


@pytest.mark.parametrize("name", list(BAD_HEADERS))
@pytest.mark.parametrize("method", ["get", "post"])
def test_any_bad_authorization_header_is_a_readable_403(admin: Admin, name: str, method: str,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    value = BAD_HEADERS[name]
    headers = [] if value is None else [(b"authorization", value)]
    body = {"content": b"{}", "headers": [*headers, (b"content-type", b"application/json")]} if method == "post" \
        else {"headers": headers}  # a POST without JSON is refused (415) before the token is looked at
    with caplog.at_level(logging.DEBUG):
        response = admin.client.request(method, "/api/admin/reindex", **body)
    assert_problem(response, 403, "admin token")
    assert not [r for r in caplog.records if r.exc_info], "no traceback is logged for a bad header"


@pytest.mark.parametrize("header", ["Basic {token}", "Token {token}", "Bearer {token}x", "Bearer  {token}",
                                    "Bearer {token}ä", "{token}"])
def test_the_token_in_another_form_is_refused(admin: Admin, header: str) -> None:
    value = header.format(token=admin.token).encode()
    response = admin.client.get("/api/admin/reindex", headers=[(b"authorization", value)])
    assert_problem(response, 403, "admin token")


def test_the_token_from_another_machine_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings), client=("192.0.2.7", 50000)) as remote:
        token = token_path(settings).read_text().strip()
        response = remote.get("/api/admin/reindex", headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 403, "this machine")


@pytest.mark.parametrize("forwarding", [{"X-Forwarded-For": "203.0.113.5"}, {"Forwarded": "for=203.0.113.5"},
                                        {"X-Real-IP": "203.0.113.5"}])
def test_the_token_through_an_undeclared_proxy_on_this_machine_is_refused(admin: Admin, forwarding: dict) -> None:
    response = admin.client.get("/api/admin/reindex",
                                headers={"Authorization": f"Bearer {admin.token}", **forwarding})
    assert_problem(response, 403, "this machine")


def test_behind_a_trusted_proxy_the_visitor_counts_not_the_proxy(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, trusted_proxies=["127.0.0.1"])
    with TestClient(create_app(settings), client=LOOPBACK_CLIENT) as proxy:
        token = token_path(settings).read_text().strip()
        visitor = proxy.get("/api/admin/reindex", headers={"Authorization": f"Bearer {token}",
                                                          "X-Forwarded-For": "203.0.113.5"})
        local = proxy.get("/api/admin/reindex", headers={"Authorization": f"Bearer {token}"})
    assert_problem(visitor, 403, "this machine")
    assert local.status_code == 200  # `wegweiser ingest` on this machine talks to the server directly
