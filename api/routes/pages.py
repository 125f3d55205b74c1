"""HTML pages: the demo portal page, the staff page, the readable source documents; widget files."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from api.deps import ServedDep
from api.errors import NotFoundError
from pipelines.i18n import catalog, catalog_languages
from pipelines.settings import PROJECT_ROOT

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
WIDGET_DIR = PROJECT_ROOT / "widget"
SOURCES = {
    "integrationskonzept": ("Integrationskonzept der Stadt Jena (Fortschreibung 2024)", ("ik/",)),
    "sozialstrategie": ("Kommunale Sozialstrategie der Stadt Jena", ("ks/",)),
    "services": ("Verlinkte Dienste und Beratungsstellen", ("svc/",)),
    "procedures": ("Verfahren für Neuzugezogene: Anmeldung, Aufenthalt, Kita, Schule, Arbeit, Wohnen, Leistungen",
                   ("proc/",)),
    "offices": ("Zuständige Stellen im Integrationskonzept", ("office/",)),
}
_LANG = re.compile(r"^[a-z]{2,3}$")
_ANCHOR = re.compile(r"^(ik|ks|svc|proc|office)-[a-z0-9][a-z0-9.-]{0,120}$")
_LINES = re.compile(r"^\d{1,3}(,\d{1,3}){0,39}$")

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def get_demo_page(request: Request) -> HTMLResponse:
    """A "Neu in Jena" portal page with the widget embedded as an editor would."""
    # Relative URLs only: the request's Host header is the client's to choose and must not end up in the page.
    return TEMPLATES.TemplateResponse(request, "demo.html", {})


@router.get("/staff", response_class=HTMLResponse)
async def get_staff_page(request: Request) -> HTMLResponse:
    """The staff search page."""
    return TEMPLATES.TemplateResponse(request, "staff.html", {})


@router.get("/sources/{document}", response_class=HTMLResponse)
async def get_source_page(document: str, request: Request, served: ServedDep, unit: str | None = None,
                          lines: str | None = None) -> HTMLResponse:
    """A source document with an anchor on every unit (the cited one is highlighted via ``:target``); with
    ``unit`` (an anchor) and ``lines`` ("4,5,9"), those lines of that unit are marked as the quoted ones."""
    if document not in SOURCES:
        raise NotFoundError(f"no source document {document!r}")
    title, prefixes = SOURCES[document]
    records = await run_in_threadpool(served.all_records)
    units = [r for r in records if r["unit_id"].startswith(prefixes)]
    return TEMPLATES.TemplateResponse(request, "source.html", {"title": title, "units": units,
                                                                "build": served.build,
                                                                "quoted": quoted_lines(unit, lines)})


def quoted_lines(unit: str | None, lines: str | None) -> dict[str, frozenset[int]]:
    """The lines to mark, by unit anchor, from the page's query (``?unit=proc-wohnung-anmelden&lines=4,5``);
    anything malformed marks nothing (a stale or hand-edited link still shows the page)."""
    if not unit or not lines or not _ANCHOR.match(unit) or not _LINES.match(lines):
        return {}
    return {unit: frozenset(int(n) for n in lines.split(","))}


@router.get("/widget/wegweiser-chat.js")
async def get_widget() -> FileResponse:
    """The embeddable chat widget (one ES module)."""
    return FileResponse(WIDGET_DIR / "wegweiser-chat.js", media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=300"})


@router.get("/widget/messages/{language}.json")
async def get_messages(language: str) -> JSONResponse:
    """The widget's strings in one language: the answers' catalog plus the widget's own (widget/messages/)."""
    if not _LANG.match(language) or language not in catalog_languages():
        raise NotFoundError(f"no message catalog for {language!r}")
    return JSONResponse({**catalog(language), **widget_catalog(language)},
                        headers={"Cache-Control": "public, max-age=300"})


@lru_cache(maxsize=16)
def widget_catalog(language: str) -> dict[str, str]:
    """The widget's own interface strings (widget/messages/<language>.json); empty if it has none."""
    path = WIDGET_DIR / "messages" / f"{language}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


@router.get("/widget/languages.json")
async def get_widget_languages() -> JSONResponse:
    """Languages with a catalog, by their own names (for the widget's language picker)."""
    languages = [{"code": c, "label": catalog(c)["@label"], "dir": catalog(c)["@dir"]} for c in catalog_languages()]
    return JSONResponse(languages, headers={"Cache-Control": "public, max-age=300"})
