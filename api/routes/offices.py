"""GET /api/offices, /api/offices/{slug} — who is responsible for what."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool

from api.deps import ServedDep
from api.errors import NotFoundError
from api.records import office_summary, unit_public
from api.schemas import OfficeDetail, OfficeSummary, Problem

router = APIRouter(prefix="/api", tags=["offices"])
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}$")


@router.get("/offices", response_model=list[OfficeSummary],
            responses={429: {"model": Problem}, 503: {"model": Problem}})
async def list_offices(served: ServedDep) -> list[OfficeSummary]:
    """Every body named as responsible in the Integrationskonzept, with contact where a source gives one."""
    records = await run_in_threadpool(served.all_records, "office")
    return [OfficeSummary(**office_summary(r)) for r in records]


@router.get("/offices/{slug}", response_model=OfficeDetail,
            responses={404: {"model": Problem}, 429: {"model": Problem}, 503: {"model": Problem}})
async def get_office(slug: Annotated[str, Path(description="The office id without `office/`.",
                                               examples=["fd-gesundheit", "buero-migration-integration"])],
                     served: ServedDep) -> OfficeDetail:
    """One office, its contact, and every unit it is responsible for."""
    if not _SLUG.match(slug):
        raise NotFoundError(f"no office {slug!r}")
    office_id = f"office/{slug}"
    record = (await run_in_threadpool(served.records, [office_id])).get(office_id)
    if record is None:
        raise NotFoundError(f"no office {slug!r}")
    measures = (record.get("office") or {}).get("measures") or []
    found = await run_in_threadpool(served.records, measures)
    responsibilities = [unit_public(found[u]) for u in measures if u in found]
    return OfficeDetail(**office_summary(record), responsibilities=responsibilities)
