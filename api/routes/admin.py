"""POST/GET /api/admin/reindex — re-ingest inside the running server (embedded store: one process only).

Qdrant's embedded mode lets a single process open the store, so ``wegweiser ingest`` hands the work to the
running server. Only loopback clients holding the token the server wrote to ``<data>/admin-token`` (readable
by the operator's account only) may call it.
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Header, HTTPException, Request

from api.deps import SettingsDep
from pipelines.settings import Settings

router = APIRouter(prefix="/api/admin", include_in_schema=False)
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
GRACE_SECONDS = 5.0


def token_path(settings: Settings) -> Path:
    """Where the admin token lives: beside the embedded store."""
    return settings.qdrant_path.parent / "admin-token"


def ensure_token(settings: Settings) -> str:
    """The admin token, created (mode 0600) on first use."""
    path = token_path(settings)
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(token)
    return token


@dataclasses.dataclass
class ReindexJob:
    """State of the one re-ingest a server runs at a time."""

    state: str = "idle"
    done: int = 0
    total: int = 0
    report: dict[str, Any] | None = None
    error: str | None = None
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def public(self) -> dict[str, Any]:
        return {"state": self.state, "done": self.done, "total": self.total, "report": self.report,
                "error": self.error}


def _authorize(request: Request, settings: Settings, authorization: str | None) -> None:
    client = (request.client.host if request.client else "")
    expected = f"Bearer {ensure_token(settings)}".encode()
    # Compared as bytes: compare_digest refuses str with non-ASCII characters (a TypeError, so a 500), and any
    # header (missing, malformed, another scheme or token, non-ASCII) must get the same 403 in constant time.
    given = (authorization or "").encode("utf-8", errors="replace")
    # A request that came through a proxy nobody declared (forwarding headers from an untrusted peer, see
    # api/clients.py) is not "from this machine", even when that proxy runs here.
    proxied = request.scope.get("state", {}).get("forwarded_by_untrusted_peer", False)
    if client not in LOOPBACK or proxied or not hmac.compare_digest(given, expected):
        raise HTTPException(403, "admin calls need the local admin token and must come from this machine")


def _run(job: ReindexJob, settings: Settings, force: bool) -> None:
    from ingest.errors import CorpusError
    from ingest.indexer import run_ingest

    def progress(done: int, total: int) -> None:
        job.done, job.total = done, total

    try:
        report = run_ingest(settings, force=force, progress=progress, grace_seconds=GRACE_SECONDS)
        job.report, job.state = dataclasses.asdict(report), "done"
    except CorpusError as exc:
        job.error, job.state = str(exc), "failed"
    except Exception as exc:  # reported to the CLI; the served index is untouched
        job.error, job.state = f"{type(exc).__name__}: {exc}", "failed"


@router.post("/reindex", status_code=202)
async def post_reindex(request: Request, settings: SettingsDep, force: bool = False,
                       authorization: str | None = Header(default=None)) -> dict[str, Any]:
    """Start a re-ingest in the background (409 while one runs)."""
    _authorize(request, settings, authorization)
    job: ReindexJob = request.app.state.reindex
    with job.lock:
        if job.state == "running":
            raise HTTPException(409, "a re-ingest is already running")
        job.state, job.done, job.total, job.report, job.error = "running", 0, 0, None, None
    threading.Thread(target=_run, args=(job, settings, force), name="reindex", daemon=True).start()
    return job.public()


@router.get("/reindex")
async def get_reindex(request: Request, settings: SettingsDep,
                      authorization: str | None = Header(default=None)) -> dict[str, Any]:
    """The state of the last re-ingest."""
    _authorize(request, settings, authorization)
    return request.app.state.reindex.public()
