"""The FastAPI app: ``create_app(settings)`` builds it; its lifespan warms the pipelines once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from api.clients import ClientAddressMiddleware
from api.deps import PipelineRunner
from api.errors import install_error_handlers
from api.feedback import OutcomeTally, counting_outcomes, purging_feedback
from api.gaps import purging_gaps
from api.middleware import (
    HeadAsGetMiddleware,
    RateLimitMiddleware,
    RelativeRedirectMiddleware,
    RequestLimitsMiddleware,
    RequestLogMiddleware,
    SecurityHeadersMiddleware,
)
from api.routes import admin, ask, docs, feedback, health, languages, offices, pages, search, staff_pages, units
from api.timeouts import BodyTimeoutMiddleware
from pipelines.memory import limit_malloc_arenas
from pipelines.serving import ServingState
from pipelines.settings import Settings, get_settings
from pipelines.store import IndexNotReadyError, StoreUnavailableError

logger = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"
#: glibc malloc arenas of a server process (see :func:`pipelines.memory.limit_malloc_arenas`).
SERVER_MALLOC_ARENAS = 1


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build and warm the pipelines once (if an index exists); requests then reuse them."""
    serving: ServingState = app.state.serving
    try:
        await run_in_threadpool(serving.current)
    except (IndexNotReadyError, StoreUnavailableError) as exc:
        # Serve anyway: /healthz answers, /readyz and the API say why they cannot answer yet.
        logger.warning("starting without an index: %s", exc)
    # Expired gap entries are deleted on a timer, not only when someone writes or reads the file.
    # Question outcomes are counted in memory and written every second, and once more when the app stops.
    async with purging_gaps(app.state.settings) as app.state.gaps_purger, purging_feedback(app.state.settings), \
            counting_outcomes(app.state.outcomes):
        yield


def create_app(settings: Settings | None = None) -> FastAPI:
    """The Wegweiser Jena app.

    :param settings: defaults to the environment (``WEGWEISER_*``).
    """
    settings = settings or get_settings()
    # Before any thread of the pool runs: one malloc arena instead of glibc's eight per core. Pool threads allocate
    # mostly while they hold the GIL, so more arenas buy little concurrency, and each kept its own free memory:
    # 8 clients of `wegweiser bench` left 230–250 MB in 17 arenas, 80–110 MB of it free (pipelines/memory.py).
    limit_malloc_arenas(SERVER_MALLOC_ARENAS)
    app = FastAPI(
        title="Wegweiser Jena API",
        version=version("wegweiser-jena"),
        description=(
            "Multilingual, cited answers from the City of Jena's Integrationskonzept and the services it links "
            "to. Every answer names the responsible office and cites the German source passage verbatim. "
            "Translations are unofficial; the German text is authoritative."
        ),
        lifespan=lifespan,
        # /docs and /redoc come from api/routes/docs.py: local assets instead of a CDN, under the page CSP.
        docs_url=None, redoc_url=None,
    )
    app.state.settings = settings
    app.state.serving = ServingState(settings)
    app.state.outcomes = OutcomeTally(settings)
    app.state.runner = PipelineRunner(settings.pipeline_concurrency, settings.request_timeout_s,
                                      settings.requests_in_flight_per_client)
    install_error_handlers(app)
    app.state.reindex = admin.ReindexJob()
    if not settings.qdrant_url:
        admin.ensure_token(settings)
    for router in (ask.router, search.router, offices.router, units.router, languages.router, health.router,
                   admin.router, pages.router, docs.router, staff_pages.router, feedback.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount(docs.ASSETS_URL, StaticFiles(directory=docs.ASSETS_DIR), name="docs-assets")
    # Outermost last: logging sees every request; limits run before any work is done. CORS wraps the limits, so
    # that a refusal (413, 415, 429) reaches a widget on another origin readably instead of as "status 0", and
    # a preflight is answered before the rate limit (it must not cost the asker a question).
    # Innermost: the trailing-slash redirects (/staff/ → /staff) name no host taken from the request.
    app.add_middleware(RelativeRedirectMiddleware)
    app.add_middleware(RequestLimitsMiddleware, max_body_bytes=settings.max_body_bytes, routes=app.router.routes)
    app.add_middleware(RateLimitMiddleware, per_minute=settings.rate_limit_per_minute)
    # Inside CORS too: a 408 for a body that never came is readable cross-origin.
    app.add_middleware(BodyTimeoutMiddleware, timeout_s=settings.body_timeout_s)
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                       allow_headers=["Content-Type"], allow_credentials=False, max_age=600)
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestLogMiddleware)
    # Outermost: every limit and check below sees the client as WEGWEISER_TRUSTED_PROXIES resolves it.
    app.add_middleware(ClientAddressMiddleware, trusted_proxies=settings.trusted_proxies)
    return app
