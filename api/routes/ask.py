"""POST /api/ask — the assistant."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Body
from haystack.core.errors import PipelineRuntimeError
from starlette.concurrency import run_in_threadpool

from api.deps import OutcomesDep, RunnerDep, ServedDep, ServingDep, SettingsDep
from api.gaps import record_gap
from api.schemas import QUESTION_EXAMPLES, AskRequest, AskResponse, Problem
from pipelines.followup import Turn
from pipelines.i18n import direction
from pipelines.query import ask
from pipelines.serving import Served

router = APIRouter(prefix="/api", tags=["assistant"])


def build_dropped(exc: BaseException) -> bool:
    """True when a record lookup failed because the build was dropped (Haystack wraps a component's
    ``LookupError`` in a ``PipelineRuntimeError``)."""
    while exc is not None:
        if isinstance(exc, LookupError):
            return True
        exc = exc.__cause__  # type: ignore[assignment]
    return False
logger = logging.getLogger(__name__)


@router.post("/ask", response_model=AskResponse,
             responses={413: {"model": Problem}, 415: {"model": Problem}, 422: {"model": Problem},
                        429: {"model": Problem}, 503: {"model": Problem}})
async def post_ask(settings: SettingsDep, served: ServedDep, serving: ServingDep, runner: RunnerDep,
                   outcomes: OutcomesDep,
                   request: AskRequest = Body(openapi_examples=QUESTION_EXAMPLES)) -> AskResponse:
    """Answer a question in the asker's language, with numbered citations to the source passages."""
    # The turns are part of the cache key: the same words after another answer are another question.
    previous = tuple(Turn(t.question, tuple(t.unit_ids)) for t in request.previous or ())

    def answer_from(current: Served) -> dict[str, Any]:
        return current.cached("ask", lambda q, lang, simple, turns: ask(current.fast_ask, q, lang, simple, turns),
                              request.question, request.lang, request.simple, previous)

    try:
        answer = await runner(answer_from, served)
    except (LookupError, PipelineRuntimeError) as exc:
        if not build_dropped(exc):
            raise
        # The build was replaced and dropped while this request ran: answer once more from the new build.
        served = serving.current()
        answer = await runner(answer_from, served)
    if settings.log_questions:
        logger.info("question lang=%s answered=%s: %s", answer["lang"], answer["answered"], request.question)
    if not answer["answered"] and settings.log_gaps:
        try:
            # Off the event loop: the append may wait for another worker's lock on the gaps file.
            await run_in_threadpool(record_gap, settings, request.question, answer["detected_lang"])
        except OSError as exc:
            # The asker still gets the answer when the gaps file cannot be written (full disk, permissions).
            logger.warning("unanswered question not kept in the gaps file: %s", exc)
    # Aggregated counter only (day × answer language × coverage), in memory until the next write; see
    # api/feedback.py: OutcomeTally.
    outcomes.add(answer["lang"], answer["coverage"])
    return AskResponse(**answer, dir=direction(answer["lang"]))
