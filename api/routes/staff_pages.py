"""Staff pages beyond the search: an office's printable list of responsibilities, and the content dashboard.

The dashboard shows counters only (api/feedback.py) and is served to this machine only, like the admin endpoint:
it also offers the pseudonymised unanswered questions (api/gaps.py), which need the local admin token on top.
"""

from __future__ import annotations

import hmac
from collections import Counter
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.deps import ServedDep, SettingsDep
from api.feedback import read_report
from api.gaps import read_gaps
from api.records import office_summary
from api.routes.admin import LOOPBACK, ensure_token
from api.routes.offices import office_with_units
from api.routes.pages import TEMPLATES
from pipelines.i18n import label
from pipelines.serving import Served
from pipelines.settings import Settings

router = APIRouter(include_in_schema=False)

CONTACT_LABELS = {"phone": "Telefon", "email": "E-Mail", "website": "Internet", "address": "Adresse",
                  "hours": "Öffnungszeiten"}
KIND_LABELS = {"measure": "Maßnahme", "goal": "Operatives Ziel", "field": "Handlungsfeld", "intro": "Einleitung",
               "strategy": "Sozialstrategie", "service": "Dienst", "procedure": "Verfahren", "office": "Stelle"}


@router.get("/staff/offices/{slug}/print", response_class=HTMLResponse)
async def get_office_print_page(slug: str, request: Request, served: ServedDep) -> HTMLResponse:
    """Everything an office is responsible for, laid out for paper (works without JavaScript)."""
    record, units = await office_with_units(slug, served)
    return TEMPLATES.TemplateResponse(request, "office_print.html", {
        "office": office_summary(record), "slug": slug, "units": units, "contact_labels": CONTACT_LABELS,
        "kind_labels": KIND_LABELS, "build": served.build})


REASON_LABELS = {"wrong": "falsch", "outdated_contact": "Kontakt veraltet", "not_understandable": "unverständlich",
                 "not_my_question": "nicht meine Frage"}
OUTCOME_LABELS = {"full": "Beantwortet", "partial": "Teilweise beantwortet", "none": "Nicht beantwortet"}


def _from_this_machine(request: Request) -> bool:
    """The admin endpoint's rule: a loopback client that did not come through an undeclared proxy."""
    client = request.client.host if request.client else ""
    proxied = request.scope.get("state", {}).get("forwarded_by_untrusted_peer", False)
    return client in LOOPBACK and not proxied


async def _dashboard(request: Request, settings: Settings, served: Served, show_gaps: bool,
                     token_refused: bool = False) -> HTMLResponse:
    if not _from_this_machine(request):
        raise HTTPException(403, "the dashboard is only served to this machine (see README: Feedback and dashboard)")
    await run_in_threadpool(request.app.state.outcomes.flush)  # the questions of the last second too
    report = await run_in_threadpool(read_report, settings)
    titles = await run_in_threadpool(served.records, [u.unit_id for u in report.units if u.unit_id])
    gaps = await run_in_threadpool(read_gaps, settings) if settings.log_gaps else []
    questions = report.questions
    outcomes = [{"key": key, "label": label, "count": report.outcomes.get(key, 0),
                 "percent": round(100 * report.outcomes.get(key, 0) / questions) if questions else 0}
                for key, label in OUTCOME_LABELS.items()]
    units = [{"id": u.unit_id, "title": (titles.get(u.unit_id) or {}).get("title") or "(ohne Quelle)",
              "url": (titles.get(u.unit_id) or {}).get("url"), "helpful": u.helpful, "not_helpful": u.not_helpful,
              "reasons": ", ".join(f"{REASON_LABELS.get(r, r)}: {n}" for r, n in sorted(u.reasons.items()))}
             for u in report.units]
    languages = [{"code": code or "–", "label": label(code) if code else "unbekannt", "count": count}
                 for code, count in report.languages.items()]
    gap_languages = Counter(entry.get("lang") or "–" for entry in gaps)
    return TEMPLATES.TemplateResponse(request, "dashboard.html", {
        "report": report, "questions": questions, "outcomes": outcomes, "units": units, "languages": languages,
        "retention_days": settings.feedback_retention_days, "log_gaps": settings.log_gaps,
        "gaps_retention_days": settings.gaps_retention_days, "gap_count": len(gaps),
        "gap_languages": gap_languages.most_common(), "gaps": gaps if show_gaps else None,
        "token_refused": token_refused}, status_code=403 if token_refused else 200,
        headers={"Cache-Control": "no-store"})


@router.get("/staff/dashboard", response_class=HTMLResponse)
async def get_dashboard(request: Request, settings: SettingsDep, served: ServedDep) -> HTMLResponse:
    """Aggregated outcomes, feedback per unit and languages (no question text); from this machine only."""
    return await _dashboard(request, settings, served, show_gaps=False)


@router.post("/staff/dashboard", response_class=HTMLResponse)
async def post_dashboard(request: Request, settings: SettingsDep, served: ServedDep) -> HTMLResponse:
    """The dashboard with the pseudonymised unanswered questions, for the holder of the local admin token."""
    body = (await request.body()).decode("utf-8", errors="replace")
    token = (parse_qs(body).get("token") or [""])[0].strip()
    expected = ensure_token(settings).encode()
    allowed = bool(token) and hmac.compare_digest(token.encode("utf-8", errors="replace"), expected)
    return await _dashboard(request, settings, served, show_gaps=allowed, token_refused=not allowed)
