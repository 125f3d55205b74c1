"""GET /api/search — the staff search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import RunnerDep, ServedDep
from api.schemas import Problem, SearchResponse, check_language, clean_question
from pipelines.query import search

router = APIRouter(prefix="/api", tags=["staff search"])


@router.get("/search", response_model=SearchResponse,
            responses={422: {"model": Problem}, 429: {"model": Problem}, 503: {"model": Problem}})
async def get_search(
    served: ServedDep, runner: RunnerDep,
    q: Annotated[str, Query(description="Search words, 1–1000 characters.", min_length=1, max_length=1000,
                            examples=["Sprachmittlung", "Kita Elternberatung", "перекладач"])],
    k: Annotated[int, Query(ge=1, le=50, description="Number of hits.")] = 10,
    lang: Annotated[str | None, Query(description="Language for translated snippets (ISO 639-1).",
                                      max_length=8)] = None,
    field: Annotated[str | None, Query(pattern=r"^2(\.\d){1,2}$", description="Action field, e.g. 2.4 or 2.3.1.",
                                       examples=["2.4"])] = None,
    office: Annotated[str | None, Query(pattern=r"^office/[a-z0-9-]+$", description="Responsible office id.",
                                        examples=["office/fd-gesundheit"])] = None,
) -> SearchResponse:
    """Find the units (measures, goals, services, offices) matching a query, with the responsible offices."""
    from fastapi import HTTPException

    query = clean_question(q)
    if not query:
        raise HTTPException(422, "q: the query is empty")
    try:
        language = check_language(lang)
    except ValueError as exc:
        raise HTTPException(422, f"lang: {exc}") from exc
    result = await runner(served.cached, "search", lambda *a: search(served.search, *a), query, k, language, field,
                          office)
    return SearchResponse(**result)
