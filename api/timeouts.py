"""Deadlines for slow clients: request headers (in the HTTP protocol) and request bodies (in ASGI).

Uvicorn has no header-read timeout of its own: ``timeout_keep_alive`` only runs between two requests of a
kept-alive connection, so a client that opens a connection and sends half a request line is held for ever,
and so is one that sends the headers and then half a body. ``HeaderTimeoutProtocol`` closes the first kind
with a ``408``; ``BodyTimeoutMiddleware`` answers the second kind with a ``408`` and closes the connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger(__name__)

HEADER_TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                           b"content-length: 36\r\nconnection: close\r\n\r\nThe request headers came too slowly.")


class HeaderTimeoutProtocol(H11Protocol):
    """Uvicorn's h11 protocol, plus a deadline for the headers of each request.

    The clock starts when the connection is accepted, and for a kept-alive connection with the first byte of
    the next request (the idle time before it is uvicorn's ``timeout_keep_alive``). It stops as soon as h11
    has parsed the complete request head. A connection still without complete headers when it runs out gets
    a ``408`` and is closed.

    Usage (``uvicorn.Config`` instantiates the protocol per connection, so pass the deadline with a partial):
    ```python
    http = functools.partial(HeaderTimeoutProtocol, header_timeout_s=10.0)
    uvicorn.run("api.main:create_app", factory=True, http=http)
    ```
    """

    def __init__(self, *args: Any, header_timeout_s: float = 10.0, **kwargs: Any) -> None:
        if header_timeout_s <= 0:
            raise ValueError("header_timeout_s must be positive")
        super().__init__(*args, **kwargs)
        self.header_timeout_s = header_timeout_s
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # uvicorn arms no timer for a fresh connection: without this one a silent client is kept for ever.
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._waiting_for_headers():
            self._arm_header_timer()  # a no-op while the deadline for this request's head is running
        else:
            self._disarm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _waiting_for_headers(self) -> bool:
        # h11 leaves IDLE when it has parsed a complete request head (then SEND_BODY or DONE).
        return self.conn.their_state is h11.IDLE and not self.transport.is_closing()

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._on_header_timeout)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _on_header_timeout(self) -> None:
        self._header_timer = None
        if not self._waiting_for_headers():
            return
        logger.debug("closed a connection whose request headers did not arrive within %.1f s",
                     self.header_timeout_s)
        # Written past h11: no request was parsed, so h11 has nothing to answer; the connection ends here.
        self.transport.write(HEADER_TIMEOUT_RESPONSE)
        self.conn.send(h11.ConnectionClosed())
        self.transport.close()


class BodyTimeoutMiddleware:
    """Answers ``408`` and closes the connection when a request body has not fully arrived in time.

    The deadline covers the whole body from the moment the request reaches the app, so a client dripping a
    byte now and then does not get around it. After the body is complete, ``receive`` is passed through
    untouched (it then waits for a disconnect, which may take as long as the response does). The app is told
    that the client disconnected, and whatever it sends afterwards is dropped.

    Usage:
    ```python
    app.add_middleware(BodyTimeoutMiddleware, timeout_s=15.0)
    ```
    """

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        body_complete = False
        timed_out = False
        started = False

        async def send_408() -> None:
            body = f'{{"detail": "The request body did not arrive within {self.timeout_s:g} s."}}'.encode()
            await send({"type": "http.response.start", "status": 408,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body})

        async def timed_receive() -> Message:
            nonlocal body_complete, timed_out
            if body_complete:
                return await receive()
            if timed_out:
                return {"type": "http.disconnect"}
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                timed_out = True
                if not started:
                    await send_408()  # "connection: close" makes uvicorn close the connection after it
                return {"type": "http.disconnect"}
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_complete = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if timed_out:
                return  # the 408 (or the cut-off response) was the last word on this connection
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, timed_receive, guarded_send)
