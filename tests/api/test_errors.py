"""Error mapping: every body the JSON parser cannot read is a readable 422, never FastAPI's bare 400 or a 500."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.conftest import assert_problem
from tests.conftest import make_settings

pytestmark = pytest.mark.integration

JSON = {"content-type": "application/json"}
UNREADABLE_BODIES = {
    # name: (body, fragments of the detail)
    "invalid JSON": (b'{"question": "Wo', ["not valid JSON"]),
    "empty body": (b"", ["body"]),
    "array nested deeper than the parser goes": (b"[" * 10_000, ["nested too deeply"]),
    "objects nested deeper than the parser goes": (b'{"question":' * 1_200, ["nested too deeply"]),
    "deep nesting inside a valid object": (b'{"question": "Wo?", "x": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
                                          ["nested too deeply"]),
    "integer of 10,000 digits": (b'{"question": ' + b"1" * 10_000 + b"}", ["digits"]),
    "integer of 10,000 digits as the body": (b"9" * 10_000, ["digits"]),
    "negative integer of 5,000 digits in a list": (b'{"question": "Wo?", "lang": [-' + b"7" * 5_000 + b"]}",
                                                   ["digits"]),
    "invalid UTF-8": ('{"question": "Größe"}'.encode("latin-1"), ["UTF-8"]),
    "a lone UTF-8 continuation byte": (b'{"question": "\x80"}', ["UTF-8"]),
    "an array instead of an object": (b'["Wo lerne ich Deutsch?"]', ["JSON object"]),
    "a string instead of an object": (b'"Wo lerne ich Deutsch?"', ["JSON object"]),
    "a number instead of an object": (b"42", ["JSON object"]),
    "NaN as the question": (b'{"question": NaN}', ["question"]),
    "a float beyond double range": (b'{"question": 1e999999}', ["question"]),
}


@pytest.fixture(scope="module")
def roomy_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A client of an app without an index that takes bodies of 1 MiB (the body is parsed before the index is
    asked for, so the parser's refusals do not need one)."""
    settings = make_settings(tmp_path_factory.mktemp("errors"), max_body_bytes=1_048_576)
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize("name", list(UNREADABLE_BODIES))
def test_unreadable_body_is_a_readable_422(client: TestClient, name: str, caplog: pytest.LogCaptureFixture) -> None:
    body, fragments = UNREADABLE_BODIES[name]
    with caplog.at_level(logging.DEBUG):
        response = client.post("/api/ask", content=body, headers=JSON)
    assert_problem(response, 422, *fragments)
    assert not [r for r in caplog.records if r.exc_info], "no traceback is logged for a client's mistake"


def test_nesting_and_numbers_far_beyond_the_parser_are_a_readable_422(roomy_client: TestClient) -> None:
    for body, fragment in [(b"[" * 100_000, "nested too deeply"), (b'{"a":' * 100_000, "nested too deeply"),
                           (b"[" + b"1" * 500_000 + b"]", "digits")]:
        assert_problem(roomy_client.post("/api/ask", content=body, headers=JSON), 422, fragment)


def test_unreadable_body_on_a_route_without_one_is_ignored(tmp_path: Path) -> None:
    # POST /api/admin/reindex takes no body: nothing is parsed, so nothing can go wrong with it.
    with TestClient(create_app(make_settings(tmp_path))) as local:
        response = local.post("/api/admin/reindex", content=b"[" * 10_000, headers=JSON)
    assert_problem(response, 403, "admin token")
