"""/docs and /redoc: the OpenAPI documentation, served entirely from this server.

FastAPI's built-in pages load Swagger UI and ReDoc from a public CDN (blank offline, and a third-party request
from every visitor) and start them with an inline script (blocked by the pages' Content-Security-Policy). These
pages load the same bundles from the installed ``fastapi-offline`` package (mounted at ``/docs-assets``) and
start Swagger UI from ``/static/docs-init.js``; ReDoc starts itself from its ``<redoc>`` element.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

#: Swagger UI's and ReDoc's files, as shipped inside the fastapi-offline wheel (nothing is downloaded).
ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS_URL = "/docs-assets"
OPENAPI_URL = "/openapi.json"
# ReDoc's sidebar shows a logo from its vendor's CDN: the one third-party request its bundle would make.
_REDOC_CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"

router = APIRouter(include_in_schema=False)

# Relative URLs only, as on every other page: the Host header is the client's to choose.
_SWAGGER_PAGE = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Wegweiser Jena API – Swagger UI</title>
  <link rel="icon" href="{ASSETS_URL}/favicon.png">
  <link rel="stylesheet" href="{ASSETS_URL}/swagger-ui.css">
</head>
<body>
  <main id="swagger-ui" data-openapi-url="{OPENAPI_URL}"><p>Loading the API description …</p></main>
  <script src="{ASSETS_URL}/swagger-ui-bundle.js"></script>
  <script src="/static/docs-init.js"></script>
</body>
</html>
"""

_REDOC_PAGE = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Wegweiser Jena API – ReDoc</title>
  <link rel="icon" href="{ASSETS_URL}/favicon.png">
</head>
<body>
  <redoc spec-url="{OPENAPI_URL}"></redoc>
  <script src="{ASSETS_URL}/redoc.standalone.js"></script>
</body>
</html>
"""


@router.get("/docs", response_class=HTMLResponse)
async def get_swagger_ui() -> HTMLResponse:
    """Swagger UI over this server's OpenAPI description."""
    return HTMLResponse(_SWAGGER_PAGE)


@router.get("/redoc", response_class=HTMLResponse)
async def get_redoc() -> HTMLResponse:
    """ReDoc over this server's OpenAPI description."""
    return HTMLResponse(_REDOC_PAGE)


@cache
def _redoc_bundle() -> bytes:
    # Read once per process (1 MB): the bundle only changes with the installed package.
    return (ASSETS_DIR / "redoc.standalone.js").read_bytes().replace(_REDOC_CDN_LOGO,
                                                                     f"{ASSETS_URL}/favicon.png".encode())


@router.get(f"{ASSETS_URL}/redoc.standalone.js")
async def get_redoc_bundle() -> Response:
    """ReDoc's bundle with its vendor logo pointing at a local file (this route comes before the mount)."""
    return Response(_redoc_bundle(), media_type="text/javascript", headers={"Cache-Control": "public, max-age=3600"})
