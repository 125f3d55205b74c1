"""GET /healthz, /readyz: the process is up; the index is loaded (503 with a reason before the first ingest)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pipelines.settings import Settings
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.integration


def test_healthz_answers_ok(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_the_served_build(client: TestClient, ingested_settings: Settings) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    ready = response.json()
    assert ready["status"] == "ready"
    assert ready["build"].startswith(ingested_settings.collection_alias)
    assert ready["points"] > 0 and ready["built_at"]
    assert {"de", "uk", "ar"} <= set(ready["languages"])


def test_without_an_index_readyz_says_how_to_build_one(empty_client: TestClient) -> None:
    response = empty_client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert "wegweiser ingest" in body["detail"]
    assert int(response.headers["retry-after"]) > 0


def test_without_an_index_the_process_is_still_healthy(empty_client: TestClient) -> None:
    assert empty_client.get("/healthz").status_code == 200


@pytest.mark.parametrize("path", ["/api/search?q=Sprachmittlung", "/api/offices", "/api/units/ik/2.4"])
def test_without_an_index_the_api_answers_503_with_a_reason(empty_client: TestClient, path: str) -> None:
    assert_problem(empty_client.get(path), 503, "wegweiser ingest")
