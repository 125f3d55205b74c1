"""GET /api/units/{id} — one unit with its German text of record and translations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool

from api.deps import ServedDep
from api.errors import NotFoundError
from api.records import unit_public
from api.schemas import Problem, UnitPublic
from pipelines.units import is_unit_id

router = APIRouter(prefix="/api", tags=["units"])


@router.get("/units/{unit_id:path}", response_model=UnitPublic,
            responses={404: {"model": Problem}, 429: {"model": Problem}, 503: {"model": Problem}})
async def get_unit(unit_id: Annotated[str, Path(description="A unit id.", examples=[
                       "ik/2.4/z2/m2", "ks/armutspraevention", "svc/sprintpool", "proc/wohnung-anmelden",
                       "office/fd-personal"])],
                   served: ServedDep) -> UnitPublic:
    """A unit (e.g. ``ik/2.4/z2/m2``, ``svc/sprintpool``, ``proc/wohnung-anmelden``) with all its texts."""
    if not is_unit_id(unit_id):
        raise NotFoundError(f"no unit {unit_id!r}: ids look like ik/2.4/z2/m2, ks/10ppa, svc/…, proc/… or office/…")
    record = (await run_in_threadpool(served.records, [unit_id])).get(unit_id)
    if record is None:
        raise NotFoundError(f"no unit {unit_id!r}")
    return UnitPublic(**unit_public(record))
