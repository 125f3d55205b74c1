"""Schemathesis: requests generated from the app's own OpenAPI schema (valid and invalid ones).

No generated request may cause a 5xx, and every response must be one the schema documents, with a body
that matches it. The app runs over the real index with its lifespan (schemathesis starts it once).
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.main import create_app
from pipelines.settings import Settings
from tests.api.conftest import SCHEMATHESIS_CASES

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Generated cases by operation and response class ("POST /api/ask 2xx"), over the tests of this module.
CASES: Counter[str] = Counter()
#: Examples per operation: /api/ask and /api/search run the pipelines; the lookups are cheap.
ASK = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
SEARCH = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
LOOKUPS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
MINIMUM_CASES = 500


def _openapi_document() -> dict:
    """The app's OpenAPI document; it does not depend on the index, so no store is opened to build it."""
    return create_app(Settings(qdrant_url="http://127.0.0.1:9")).openapi()


# Loaded when the module is collected (schemathesis' lazy fixture loader does not work with pytest 9.2).
schema = schemathesis.openapi.from_dict(_openapi_document())


@pytest.fixture(scope="module")
def served_app(ingested_settings: Settings) -> FastAPI:
    """The app over the real index; schemathesis runs its lifespan once, on the first request."""
    return create_app(ingested_settings.model_copy(update={"rate_limit_per_minute": 100_000}))


def test_the_served_schema_is_the_one_tested(served_app: FastAPI) -> None:
    with TestClient(served_app) as client:
        assert client.get("/openapi.json").json() == schema.raw_schema


def _call_and_validate(case: Case, app: FastAPI) -> None:
    # Every other built-in check runs (server errors, documented status codes, content types, response
    # schemas and headers, invalid data rejected). "Valid data accepted" cannot hold: the API checks more than
    # JSON Schema can say (a real ISO 639-1 code, a question that is not blank once cleaned) and answers 422.
    response = case.call_and_validate(app=app, excluded_checks=[positive_data_acceptance])
    CASES[f"{case.operation.label} {response.status_code // 100}xx"] += 1
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"detail"} and isinstance(body["detail"], str), body
        assert "Traceback" not in response.text


@schema.include(path="/api/ask").parametrize()
@ASK
def test_ask_conforms_to_its_schema(case: Case, served_app: FastAPI) -> None:
    _call_and_validate(case, served_app)


@schema.include(path="/api/search").parametrize()
@SEARCH
def test_search_conforms_to_its_schema(case: Case, served_app: FastAPI) -> None:
    _call_and_validate(case, served_app)


@schema.exclude(path_regex=r"^/api/(ask|search)$").parametrize()
@LOOKUPS
def test_lookups_conform_to_their_schema(case: Case, served_app: FastAPI) -> None:
    _call_and_validate(case, served_app)


def test_enough_cases_were_generated(request: pytest.FixtureRequest) -> None:
    """Runs after the generated tests of this module (pytest keeps file order); the count is in the summary."""
    request.config.stash[SCHEMATHESIS_CASES] = dict(CASES)
    total = sum(CASES.values())
    assert total >= MINIMUM_CASES, f"only {total} cases: run the whole module ({dict(CASES)})"
    # Both answered requests (the pipelines ran) and refused ones (validation ran) were generated.
    for operation in ("POST /api/ask", "GET /api/search", "GET /api/offices/{slug}", "GET /api/units/{unit_id}"):
        assert CASES[f"{operation} 2xx"] and CASES[f"{operation} 4xx"], operation
