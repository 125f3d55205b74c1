"""Deadlines for slow clients: request headers (in the HTTP protocol) and request bodies (in ASGI).

Uvicorn has no header-read timeout of its own: ``timeout_keep_alive`` only runs between two requests of a
kept-alive connection, so a client that opens a connection and sends half a request line is held for ever,
and so is one that sends the headers and then half a body. ``HeaderTimeoutProtocol`` (uvicorn's h11 protocol)
and ``HttpToolsHeaderTimeoutProtocol`` (uvicorn's httptools protocol, a C parser) close the first kind with a
``408``; both take the deadline from one mixin, ``HeaderDeadlineMixin``, and only say when their parser is
waiting for a request head. ``BodyTimeoutMiddleware`` answers the second kind with a ``408`` and closes the
connection. Which protocol ``wegweiser serve`` runs is decided in ``api.server.http_protocol``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Literal

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is not installed: api.server.http_protocol falls back to h11
    HTTPTOOLS_AVAILABLE = False
else:
    HTTPTOOLS_AVAILABLE = True

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger(__name__)

HEADER_TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                           b"content-length: 36\r\nconnection: close\r\n\r\nThe request headers came too slowly.")

if TYPE_CHECKING:
    class _UvicornHTTPProtocol(asyncio.Protocol):
        """What the mixin uses of uvicorn's HTTP protocols: both have it, but they share no base class."""

        loop: asyncio.AbstractEventLoop
        transport: asyncio.Transport

        def __init__(self, *args: Any, **kwargs: Any) -> None: ...

        def on_response_complete(self) -> None: ...

        def _unset_keepalive_if_required(self) -> None: ...
else:
    _UvicornHTTPProtocol = asyncio.Protocol


class HeaderDeadlineMixin(_UvicornHTTPProtocol):
    """A deadline for the head of each request, for one of uvicorn's HTTP protocols (put it first in the bases).

    The clock starts when the connection is accepted, and for a kept-alive connection with the first byte of
    the next request (the idle time before it is uvicorn's ``timeout_keep_alive``). A pipelined request whose
    head was still incomplete when the response before it ended is timed from that moment, as if its bytes
    had just arrived. The clock stops as soon as the parser has the complete request head. A connection still
    without complete headers when it runs out gets a ``408`` and is closed.

    A subclass says what its parser is doing (``_waiting_for_headers``, ``_head_begun``); the timer lives
    here only, so both parsers keep exactly the same deadline.

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

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The bytes of a pipelined head came while the response before it ran, when nothing was timed; uvicorn
        # would now arm its keep-alive timer, which closes without an answer, for a connection that is not idle.
        if self._head_begun() and self._waiting_for_headers():
            self._unset_keepalive_if_required()
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _waiting_for_headers(self) -> bool:
        """Whether the connection is open, no request on it is being answered, and no complete head is due."""
        raise NotImplementedError

    def _head_begun(self) -> bool:
        """Whether the parser holds part of a request head (a byte of it or more, but not all of it)."""
        raise NotImplementedError

    def _parser_closed(self) -> None:
        """Tell the parser that the connection ends here (after a ``408``); most parsers need not know."""

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
        # Written past the parser: no request was parsed, so uvicorn has nothing to answer; the connection ends.
        self.transport.write(HEADER_TIMEOUT_RESPONSE)
        self._parser_closed()
        self.transport.close()


class HeaderTimeoutProtocol(HeaderDeadlineMixin, H11Protocol):
    """Uvicorn's h11 protocol (pure Python), plus the deadline for request heads of ``HeaderDeadlineMixin``.

    The fallback of ``api.server.http_protocol`` when httptools is not installed.

    Usage:
    ```python
    http = functools.partial(HeaderTimeoutProtocol, header_timeout_s=10.0)
    uvicorn.run("api.main:create_app", factory=True, http=http)
    ```
    """

    def _waiting_for_headers(self) -> bool:
        # h11 leaves IDLE when it has parsed a complete request head (then SEND_BODY or DONE), and only comes
        # back to it (start_next_cycle) when the response is complete, so IDLE says all of it.
        return self.conn.their_state is h11.IDLE and not self.transport.is_closing()

    def _head_begun(self) -> bool:
        return self.conn.their_state is h11.IDLE and bool(self.conn.trailing_data[0])

    def _parser_closed(self) -> None:
        self.conn.send(h11.ConnectionClosed())


if HTTPTOOLS_AVAILABLE:
    class HttpToolsHeaderTimeoutProtocol(HeaderDeadlineMixin, HttpToolsProtocol):
        """Uvicorn's httptools protocol (llhttp, in C), plus the deadline for request heads of
        ``HeaderDeadlineMixin``: what ``wegweiser serve`` runs (``api.server.http_protocol``).

        Unlike h11, llhttp parses pipelined requests as they come, while the one before them is still being
        answered; the parser's stage is therefore tracked from its callbacks, and a head that is complete or
        begun behind a running response is not waited for yet (as with h11, whose parser pauses there).

        Usage:
        ```python
        http = functools.partial(HttpToolsHeaderTimeoutProtocol, header_timeout_s=10.0)
        uvicorn.run("api.main:create_app", factory=True, http=http)
        ```
        """

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # Where llhttp is in the current message: set by its callbacks below.
            self._stage: Literal["between", "head", "body"] = "between"

        def on_message_begin(self) -> None:
            self._stage = "head"
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._stage = "body"
            self._disarm_header_timer()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._stage = "between"
            super().on_message_complete()

        def _waiting_for_headers(self) -> bool:
            if self.transport.is_closing() or self._stage == "body" or self.pipeline:
                return False
            return self.cycle is None or self.cycle.response_complete

        def _head_begun(self) -> bool:
            return self._stage == "head"


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
