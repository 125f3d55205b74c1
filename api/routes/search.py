"""GET /api/search — the staff search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from starlette.concurrency import run_in_threadpool

from api.deps import RunnerDep, ServedDep
from api.schemas import Problem, SearchResponse, check_language, clean_question
from pipelines.query import browse, search

router = APIRouter(prefix="/api", tags=["staff search"])


@router.get("/search", response_model=SearchResponse,
            responses={422: {"model": Problem}, 429: {"model": Problem}, 503: {"model": Problem}})
async def get_search(
    served: ServedDep, runner: RunnerDep,
    q: Annotated[str | None, Query(description="Search words, 1–1000 characters. Leave it out to browse: with "
                                               "`field` and/or `office`, every unit of that action field or office "
                                               "is listed in document order (`score` 0).",
                                   min_length=1, max_length=1000,
                                   examples=["Sprachmittlung", "Kita Elternberatung", "перекладач"])] = None,
    k: Annotated[int | None, Query(ge=1, le=50, description="Number of hits (default 10; when browsing: all).")
                 ] = None,
    lang: Annotated[str | None, Query(description="Language for translated snippets (ISO 639-1).",
                                      max_length=8)] = None,
    field: Annotated[str | None, Query(pattern=r"^2(\.\d){1,2}$", description="Action field, e.g. 2.4 or 2.3.1.",
                                       examples=["2.4"])] = None,
    office: Annotated[str | None, Query(pattern=r"^office/[a-z0-9-]+$", description="Responsible office id.",
                                        examples=["office/fd-gesundheit"])] = None,
) -> SearchResponse:
    """Find the units (measures, goals, services, offices) matching a query, with the responsible offices.

    Only units that share a word with the query or are close to it in meaning are hits: a query the texts do not
    cover finds nothing. Without `q`, lists every unit of the given action field and/or office.
    """
    try:
        language = check_language(lang)
    except ValueError as exc:
        raise HTTPException(422, f"lang: {exc}") from exc
    if q is None:
        if field is None and office is None:
            raise HTTPException(422, "q: give a search query, or an action field or office to browse")
        records = await run_in_threadpool(served.all_records)
        return SearchResponse(**browse(records, field, office, language, k))
    query = clean_question(q)
    if not query:
        raise HTTPException(422, "q: the query is empty")
    result = await runner(served.cached, "search", lambda *a: search(served.fast_search, *a), query, k or 10, language,
                          field, office)
    return SearchResponse(**result)
