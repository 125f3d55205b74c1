"""ASGI middleware: request limits, rate limits, HEAD, relative redirects, security headers, private request logs."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.datastructures import URL
from starlette.routing import BaseRoute, Match

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger("wegweiser.requests")

# The demo, staff and source pages load only their own scripts and styles; nothing third-party.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
            "object-src 'none'")
# ReDoc (/redoc) styles itself with styled-components, which inserts <style> elements and offers no nonce hook in
# its standalone bundle, and runs its search index in a worker it creates from a blob: URL. That one page may
# therefore apply inline styles and start blob: workers; scripts, connections and everything else stay 'self'
# only, and no third-party origin is allowed anywhere. Swagger UI (/docs) runs under PAGE_CSP itself.
REDOC_CSP = PAGE_CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'") + "; worker-src 'self' blob:"


async def _send_json(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None
                     ) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class RequestLimitsMiddleware:
    """Rejects oversized bodies (413) and JSON endpoints called with another content type (415).

    The body is counted while it streams, so a missing or false ``Content-Length`` does not get around the limit.
    Given the app's ``routes``, only a method and path that a route answers gets a 415; anything else is left
    to routing (404, or 405 for a method the path does not take).
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, routes: Sequence[BaseRoute] = ()) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.routes = routes

    def _is_routed(self, scope: Scope) -> bool:
        return not self.routes or any(route.matches(scope)[0] == Match.FULL for route in self.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _send_json(send, 413, f"The request body is larger than {self.max_body_bytes} bytes.")
            return
        if scope["path"].startswith("/api/") and \
                headers.get("content-type", "").split(";")[0].strip().lower() != "application/json" and \
                self._is_routed(scope):
            await _send_json(send, 415, "Send the request as JSON (Content-Type: application/json).")
            return
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    too_large = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large and not started:
                started = True
                await _send_json(send, 413, f"The request body is larger than {self.max_body_bytes} bytes.")
                return
            if too_large:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, limited_receive, guarded_send)


class RateLimitMiddleware:
    """A token bucket per client on ``/api/*``: ``per_minute`` requests, bursts up to the same number.

    Clients are told when to come back (``429`` with ``Retry-After``). Client addresses are kept in memory
    only, for as long as their bucket matters, and never logged.
    """

    def __init__(self, app: ASGIApp, per_minute: int, max_clients: int = 10_000) -> None:
        self.app = app
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _take(self, client: str) -> float:
        """0 when allowed, else the seconds until a token is free."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets[client] = (tokens - 1 if tokens >= 1 else tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self._take(client)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            await _send_json(send, 429, f"Too many requests. Please wait {seconds} s and try again.",
                             [(b"retry-after", str(seconds).encode())])
            return
        await self.app(scope, receive, send)


class HeadAsGetMiddleware:
    """Answers ``HEAD`` on every ``GET`` route: the route runs as ``GET`` and only the headers are sent.

    Monitors and link checkers use ``HEAD``; FastAPI's routes only declare ``GET``, and would answer 405.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)  # the start message keeps GET's content-length, as HEAD should

        await self.app({**scope, "method": "GET"}, receive, headers_only)


class ResponseHeadersMiddleware:
    """Base for middleware that only rewrites the headers of the response start; the body passes untouched.

    A subclass implements ``rewrite(scope, headers)``: given the request scope and the response's headers, it
    returns the headers to send. Non-HTTP scopes (lifespan, websockets) pass through.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def rewrite(self, scope: Scope, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """The headers to send instead of ``headers``."""
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def rewritten(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": self.rewrite(scope, list(message.get("headers", [])))}
            await send(message)

        await self.app(scope, receive, rewritten)


class SecurityHeadersMiddleware(ResponseHeadersMiddleware):
    """Security headers on every response; a strict Content-Security-Policy on HTML pages."""

    def rewrite(self, scope: Scope, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """``headers`` plus the security headers the response does not set itself."""
        path = scope["path"]
        names = {k.lower() for k, _ in headers}
        content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
        extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                 (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()")]
        if content_type.startswith(b"text/html"):
            policy = REDOC_CSP if path == "/redoc" else PAGE_CSP
            extra += [(b"content-security-policy", policy.encode()), (b"x-frame-options", b"DENY")]
        if path.startswith("/widget/"):
            # The widget is loaded by other sites (the portal): it may be embedded cross-origin.
            extra.append((b"cross-origin-resource-policy", b"cross-origin"))
        else:
            extra.append((b"cross-origin-resource-policy", b"same-site"))
        return headers + [(k, v) for k, v in extra if k not in names]


class RequestLogMiddleware:
    """One log line per request: method, path without query string, status, duration.

    No question text, no query string, no client address and no user agent, unless an operator turns on
    ``WEGWEISER_LOG_QUESTIONS`` (then the ask route logs the question itself).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            logger.info("%s %s %d %.1fms", scope["method"], scope["path"], status,
                        (time.perf_counter() - started) * 1000)


def relative_location(location: str, own_netloc: str) -> str:
    """``location`` without scheme and host when it names ``own_netloc`` (the host the request was sent to).

    Usage:
    ```python
    relative_location("http://evil.example/staff?x=1", "evil.example")  # "/staff?x=1"
    relative_location("https://www.jena.de/", "evil.example")  # unchanged: another site
    ```
    """
    parts = urlsplit(location)
    # RedirectResponse percent-quotes its URL, host included: compare with the quoted form as well.
    own = {own_netloc.lower(), quote(own_netloc, safe=":/%#?=@[]!$&'()*+,;").lower()}
    if parts.scheme not in ("http", "https") or parts.netloc.lower() not in own:
        return location
    # One leading slash only: "//evil.example/x" would be a protocol-relative URL to another site.
    path = "/" + parts.path.lstrip("/")
    return path + (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")


class RelativeRedirectMiddleware(ResponseHeadersMiddleware):
    """Makes redirects to this server relative, so that no response repeats the ``Host`` header a client sent.

    Starlette builds its trailing-slash redirect (``/staff/`` → ``/staff``) from the request's URL, whose host
    is whatever the client put in ``Host``; a relative ``Location`` reflects nothing and works behind any
    proxy name. Redirects to other sites pass unchanged.

    Usage:
    ```python
    app.add_middleware(RelativeRedirectMiddleware)
    ```
    """

    def rewrite(self, scope: Scope, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """``headers`` with a ``Location`` to this server made relative."""
        if not any(name.lower() == b"location" for name, _ in headers):
            return headers
        own_netloc = URL(scope=scope).netloc
        return [(name, relative_location(value.decode("latin-1"), own_netloc).encode("latin-1"))
                if name.lower() == b"location" else (name, value)
                for name, value in headers]
