"""POST /api/feedback — was an answer helpful? Counted in aggregate only (see api/feedback.py)."""

from __future__ import annotations

import logging
import sqlite3

from fastapi import APIRouter, HTTPException, Response
from starlette.concurrency import run_in_threadpool

from api.deps import ServedDep, SettingsDep
from api.feedback import record_feedback
from api.routes.languages import languages_served
from api.schemas import FeedbackRequest, Problem

router = APIRouter(prefix="/api", tags=["assistant"])
logger = logging.getLogger(__name__)


@router.post("/feedback", status_code=204, response_class=Response,
             responses={413: {"model": Problem}, 415: {"model": Problem}, 422: {"model": Problem},
                        429: {"model": Problem}, 503: {"model": Problem}})
async def post_feedback(feedback: FeedbackRequest, settings: SettingsDep, served: ServedDep) -> Response:
    """Say whether an answer helped. Only counters are kept (per unit, language, coverage, verdict, reason and
    day): no question text, no IP address."""
    if feedback.lang is not None:
        served_codes = {item["code"] for item in await run_in_threadpool(languages_served, settings.argos_dir)}
        if feedback.lang not in served_codes:
            raise HTTPException(422, f"lang: {feedback.lang!r} is not a served language "
                                     f"({', '.join(sorted(served_codes))})")
    if feedback.unit_ids:
        found = await run_in_threadpool(served.records, feedback.unit_ids)
        unknown = [u for u in feedback.unit_ids if u not in found]
        if unknown:
            raise HTTPException(422, f"unit_ids: unknown unit {unknown[0]!r}")
    try:
        await run_in_threadpool(record_feedback, settings, feedback.unit_ids, feedback.lang, feedback.coverage,
                                feedback.helpful, feedback.reason)
    except (OSError, sqlite3.Error) as exc:
        logger.warning("feedback not counted: %s", exc)
        raise HTTPException(503, "feedback cannot be stored right now; please try again later") from exc
    return Response(status_code=204)
