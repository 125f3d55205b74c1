"""API fixtures: one app over the session's real index (its lifespan run once), and helpers for error bodies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from pipelines.settings import Settings
from tests.conftest import make_settings

#: How many requests schemathesis generated in this session (set by ``test_schemathesis.py``).
SCHEMATHESIS_CASES = pytest.StashKey[dict[str, int]]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    cases = config.stash.get(SCHEMATHESIS_CASES, None)
    if cases:
        terminalreporter.write_sep("-", f"schemathesis: {sum(cases.values())} generated cases")
        for operation, count in sorted(cases.items()):
            terminalreporter.write_line(f"{count:5d}  {operation}")


@pytest.fixture(scope="session")
def client(ingested_settings: Settings) -> Iterator[TestClient]:
    """A client of the app over the real, fully ingested corpus (rate limit high, logging defaults)."""
    with TestClient(create_app(ingested_settings)) as test_client:
        yield test_client


def app_client(settings: Settings, **overrides: object) -> TestClient:
    """A client of a second app over the same index with some settings changed (use it in a ``with``)."""
    return TestClient(create_app(settings.model_copy(update=overrides)))


@pytest.fixture
def empty_client(tmp_path: Path) -> Iterator[TestClient]:
    """A client of an app whose store holds no index yet (nobody ran ``wegweiser ingest``)."""
    with TestClient(create_app(make_settings(tmp_path))) as test_client:
        yield test_client


def assert_problem(response: httpx.Response, status: int, *fragments: str) -> str:
    """The response is an error with a readable ``{"detail": str}`` body naming ``fragments``; returns detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"detail"}, body
    detail = body["detail"]
    assert isinstance(detail, str) and detail.strip()
    assert "Traceback" not in response.text and 'File "' not in response.text
    for fragment in fragments:
        assert fragment.lower() in detail.lower(), detail
    return detail
