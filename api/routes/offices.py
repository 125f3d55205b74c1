"""GET /api/offices, /api/offices/{slug} — who is responsible for what."""

from __future__ import annotations

import csv
import io
import re
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.deps import ServedDep
from api.errors import NotFoundError
from api.records import office_summary, unit_public
from api.schemas import OfficeDetail, OfficeSummary, Problem
from pipelines.serving import Served

router = APIRouter(prefix="/api", tags=["offices"])
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}$")


@router.get("/offices", response_model=list[OfficeSummary],
            responses={429: {"model": Problem}, 503: {"model": Problem}})
async def list_offices(served: ServedDep) -> list[OfficeSummary]:
    """Every body named as responsible in the Integrationskonzept, with contact where a source gives one."""
    records = await run_in_threadpool(served.all_records, "office")
    return [OfficeSummary(**office_summary(r)) for r in records]


SlugPath = Annotated[str, Path(description="The office id without `office/`.",
                              examples=["fd-gesundheit", "buero-migration-integration"])]
#: Columns of the CSV export: (header, field of the public unit).
CSV_COLUMNS = (("ID", "id"), ("Art", "kind"), ("Titel", "title"), ("Handlungsfeld", "field"),
               ("Abschnitt", "section"), ("Termin", "termin"), ("Verantwortung laut Quelle", "verantwortung"),
               ("Quelle", "url"))
# A cell starting with one of these is a formula to Excel and LibreOffice (CSV injection): such cells get a
# leading apostrophe, which both show as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


async def office_with_units(slug: str, served: Served) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An office's record and every unit it is responsible for (public shape), in the order the office lists them.

    :raises NotFoundError: for a malformed or unknown slug.
    """
    if not _SLUG.match(slug):
        raise NotFoundError(f"no office {slug!r}")
    office_id = f"office/{slug}"
    record = (await run_in_threadpool(served.records, [office_id])).get(office_id)
    if record is None:
        raise NotFoundError(f"no office {slug!r}")
    measures = (record.get("office") or {}).get("measures") or []
    found = await run_in_threadpool(served.records, measures)
    return record, [unit_public(found[u]) for u in measures if u in found]


@router.get("/offices/{slug}", response_model=OfficeDetail,
            responses={404: {"model": Problem}, 429: {"model": Problem}, 503: {"model": Problem}})
async def get_office(slug: SlugPath, served: ServedDep) -> OfficeDetail:
    """One office, its contact, and every unit it is responsible for."""
    record, responsibilities = await office_with_units(slug, served)
    return OfficeDetail(**office_summary(record), responsibilities=responsibilities)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def measures_csv(units: list[dict[str, Any]]) -> bytes:
    """The units as CSV for Excel: UTF-8 with a byte order mark, semicolons (what Excel expects in German
    locales), every field quoted where needed, CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([header for header, _ in CSV_COLUMNS])
    for unit in units:
        writer.writerow([_cell(unit.get(key)) for _, key in CSV_COLUMNS])
    return out.getvalue().encode("utf-8-sig")


@router.get("/offices/{slug}/measures.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "The office's units as CSV (UTF-8 with "
                                                                          "BOM, `;`-separated)."},
                       404: {"model": Problem}, 429: {"model": Problem}, 503: {"model": Problem}})
async def get_office_measures_csv(slug: SlugPath, served: ServedDep) -> Response:
    """Everything an office is responsible for, as a spreadsheet: id, kind, title, field, section, deadline,
    responsibility as written in the source, and the link to the source passage (relative to this server)."""
    _, units = await office_with_units(slug, served)
    return Response(measures_csv(units), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="massnahmen-{slug}.csv"'})
