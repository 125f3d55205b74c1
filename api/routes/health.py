"""GET /healthz, /readyz — for the operator's monitoring."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.deps import ServingDep
from pipelines.store import IndexNotReadyError, StoreUnavailableError

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def get_health() -> dict[str, str]:
    """The process is up (says nothing about the index)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready, with the reason."}})
async def get_ready(serving: ServingDep) -> JSONResponse:
    """The index is loaded and the models are warm; 503 with a reason otherwise."""
    try:
        served = await run_in_threadpool(serving.current)
    except (IndexNotReadyError, StoreUnavailableError) as exc:
        return JSONResponse({"status": "not ready", "detail": str(exc)}, status_code=503,
                            headers={"Retry-After": "5"})
    return JSONResponse({"status": "ready", "build": served.build, "languages": served.info.languages,
                         "points": served.info.points, "built_at": served.info.metadata.get("built_at")})
