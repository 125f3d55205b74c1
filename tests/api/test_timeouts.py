"""BodyTimeoutMiddleware with hand-made ASGI messages (the real server is in tests/test_server_limits.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from api.timeouts import BodyTimeoutMiddleware

SCOPE = {"type": "http", "method": "POST", "path": "/api/ask", "headers": []}


def run(app: Any, chunks: list[dict[str, Any]], timeout_s: float) -> tuple[list[dict[str, Any]], list[str]]:
    """Run ``app`` behind the middleware; ``chunks`` arrive at once, then the client goes silent."""
    sent: list[dict[str, Any]] = []
    seen: list[str] = []
    queue = list(chunks)

    async def receive() -> dict[str, Any]:
        if queue:
            return queue.pop(0)
        await asyncio.sleep(3600)  # a silent client
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def recording_app(scope: Any, receive: Any, send: Any) -> None:
        await app(scope, receive, send, seen)

    asyncio.run(asyncio.wait_for(BodyTimeoutMiddleware(recording_app, timeout_s)(SCOPE, receive, send), 5))
    return sent, seen


async def read_body_then_answer(scope: Any, receive: Any, send: Any, seen: list[str]) -> None:
    more = True
    while more:
        message = await receive()
        seen.append(message["type"])
        more = message["type"] == "http.request" and message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_a_body_that_arrives_in_time_passes_through() -> None:
    chunks = [{"type": "http.request", "body": b"{", "more_body": True},
              {"type": "http.request", "body": b"}", "more_body": False}]
    sent, seen = run(read_body_then_answer, chunks, timeout_s=0.2)
    assert seen == ["http.request", "http.request"]
    assert [m.get("status") for m in sent] == [200, None]


def test_a_stalled_body_gets_408_with_connection_close_and_the_app_sees_a_disconnect() -> None:
    sent, seen = run(read_body_then_answer, [{"type": "http.request", "body": b"{", "more_body": True}],
                     timeout_s=0.1)
    assert seen == ["http.request", "http.disconnect"]
    assert sent[0]["status"] == 408 and (b"connection", b"close") in sent[0]["headers"]
    assert len(sent) == 2, "the app's own answer after the timeout must be dropped"
    assert b"did not arrive within 0.1 s" in sent[1]["body"]


def test_waiting_for_a_disconnect_after_a_complete_body_is_not_timed() -> None:
    async def wait_for_disconnect(scope: Any, receive: Any, send: Any, seen: list[str]) -> None:
        seen.append((await receive())["type"])
        try:  # a streaming response listens for the client going away: that may take longer than the deadline
            await asyncio.wait_for(receive(), 0.3)
        except TimeoutError:
            seen.append("still waiting")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent, seen = run(wait_for_disconnect, [{"type": "http.request", "body": b"{}", "more_body": False}],
                     timeout_s=0.1)
    assert seen == ["http.request", "still waiting"]
    assert sent[0]["status"] == 200


def test_the_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        BodyTimeoutMiddleware(read_body_then_answer, 0)
