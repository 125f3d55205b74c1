"""Domain errors of the API and their mapping to readable HTTP responses (never a traceback)."""

from __future__ import annotations

import logging
import sys

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.scheduler import ClientBusyError, ClientGoneError
from pipelines.store import IndexNotReadyError, StoreUnavailableError

logger = logging.getLogger(__name__)
#: FastAPI's 400 for a body ``json.loads`` refused other than with a JSONDecodeError (bad UTF-8, too deep, ...).
_BODY_PARSE_ERROR = "There was an error parsing the body"


class NotFoundError(LookupError):
    """A unit or office that does not exist."""


class PipelineTimeoutError(TimeoutError):
    """A pipeline run took longer than the configured request timeout."""


def _readable(errors: list[dict]) -> str:
    parts = []
    for error in errors:
        location = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        if error.get("type") == "json_invalid":
            return "the request body is not valid JSON"
        if error.get("type") == "extra_forbidden":
            message = "unknown field"
        if not location and error.get("type") == "missing":
            message = "the request body is missing: send a JSON object"
        elif not location and error.get("type") in ("model_attributes_type", "dict_type"):
            message = "the request body must be a JSON object"
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts) or "invalid request"


def _unparsable_body(cause: BaseException) -> str:
    """What is wrong with a body that ``json.loads`` refused with something other than a ``JSONDecodeError``."""
    if isinstance(cause, UnicodeDecodeError):
        return "the request body is not valid JSON: send JSON encoded as UTF-8"
    if isinstance(cause, RecursionError):
        return "the request body is not valid JSON: it is nested too deeply"
    if isinstance(cause, ValueError) and "integer string conversion" in str(cause):
        # Python refuses to convert integers of more than sys.get_int_max_str_digits() digits (CVE-2020-10735).
        return f"the request body is not valid JSON: a number in it has more than {sys.get_int_max_str_digits()} digits"
    return "the request body is not valid JSON"


def install_error_handlers(app: FastAPI) -> None:
    """Map domain exceptions once, for every route."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _readable(list(exc.errors()))}, status_code=422)

    @app.exception_handler(NotFoundError)
    async def not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(IndexNotReadyError)
    async def not_ready(_: Request, exc: IndexNotReadyError) -> JSONResponse:
        return JSONResponse({"detail": f"The index is not ready: {exc}"}, status_code=503,
                            headers={"Retry-After": "30"})

    @app.exception_handler(StoreUnavailableError)
    async def unavailable(_: Request, exc: StoreUnavailableError) -> JSONResponse:
        logger.warning("store unavailable: %s", exc)
        return JSONResponse({"detail": "The search index is temporarily unavailable. Please try again shortly."},
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(PipelineTimeoutError)
    async def timeout(_: Request, exc: PipelineTimeoutError) -> JSONResponse:
        return JSONResponse({"detail": "The answer took too long. Please try again."}, status_code=503,
                            headers={"Retry-After": "2"})

    @app.exception_handler(ClientBusyError)
    async def busy(_: Request, exc: ClientBusyError) -> JSONResponse:
        return JSONResponse({"detail": "Your previous questions are still being answered. Please wait for them "
                                       "and try again."}, status_code=429, headers={"Retry-After": "1"})

    @app.exception_handler(ClientGoneError)
    async def gone(_: Request, exc: ClientGoneError) -> JSONResponse:
        # Nobody reads this (the client hung up); 499 marks it in the request log, as nginx does.
        return JSONResponse({"detail": "The client closed the request."}, status_code=499)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.__cause__ is not None and exc.detail == _BODY_PARSE_ERROR:
            # FastAPI's own message does not say what to fix, and its 400 differs from every other bad body (422).
            return JSONResponse({"detail": _unparsable_body(exc.__cause__)}, status_code=422)
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error", exc_info=exc)
        return JSONResponse({"detail": "Something went wrong on our side. Please try again."}, status_code=500)
