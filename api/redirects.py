"""Redirects without a host: a ``Location`` that points back at this server is sent as a relative URL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.datastructures import URL

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


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


class RelativeRedirectMiddleware:
    """Makes redirects to this server relative, so that no response repeats the ``Host`` header a client sent.

    Starlette builds its trailing-slash redirect (``/staff/`` → ``/staff``) from the request's URL, whose host
    is whatever the client put in ``Host``; a relative ``Location`` reflects nothing and works behind any
    proxy name. Redirects to other sites pass unchanged.

    Usage:
    ```python
    app.add_middleware(RelativeRedirectMiddleware)
    ```
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        own_netloc = URL(scope=scope).netloc

        async def send_relative(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(name, relative_location(value.decode("latin-1"), own_netloc).encode("latin-1"))
                           if name.lower() == b"location" else (name, value)
                           for name, value in message.get("headers", [])]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_relative)
