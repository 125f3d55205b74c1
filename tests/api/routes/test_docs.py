"""/docs and /redoc: local assets only, under a Content-Security-Policy without third-party origins."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.middleware import PAGE_CSP, REDOC_CSP

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("path", "policy"), [("/docs", PAGE_CSP), ("/redoc", REDOC_CSP)])
def test_docs_pages_load_only_files_of_this_server(client: TestClient, path: str, policy: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == policy
    assert "script-src 'self';" in policy and not re.search(r"https?:|\*", policy)
    assert not re.search(r"""(?:src|href)=["'](?:https?:)?//""", response.text)
    for url in re.findall(r"""(?:src|href)=["'](/[^"']+)["']""", response.text):
        assert client.get(url).status_code == 200, url


def test_redoc_bundle_names_no_cdn(client: TestClient) -> None:
    bundle = client.get("/docs-assets/redoc.standalone.js")
    assert bundle.status_code == 200 and bundle.headers["content-type"].startswith("text/javascript")
    assert b"cdn.redoc.ly" not in bundle.content and len(bundle.content) > 500_000
