"""The benchmark's load generator against a real HTTP/1.1 server on 127.0.0.1: every way a response can end."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from eval.bench import Call, LoadConnection, encode_request, fire


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, bytes]] = []  # noqa: RUF012 - the test reads what the server received

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes, *, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.seen.append(("GET", self.path, b""))
        if self.path.startswith("/api/search?q=chunked"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b'{"hits":', b" []}"):
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif self.path.startswith("/api/search?q=close"):
            self._reply(200, b"{}", close=True)
        elif self.path.startswith("/api/search?q=drop"):
            self.close_connection = True  # no response at all: the connection just ends
        else:
            self._reply(200, b'{"hits": []}')

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append(("POST", self.path, body))
        self._reply(422 if not json.loads(body).get("question") else 200, b'{"detail": "x"}')


@pytest.fixture
def server() -> Iterator[tuple[str, int]]:
    _Handler.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def _run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run`` in a thread of its own: earlier tests (the browser's sync API) may leave an event loop
    running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _search(q: str, lang: str | None = "de") -> Call:
    return Call("search", lang or "de", {"q": q, "lang": lang})


def test_each_response_is_read_whole_and_the_connection_kept_or_reopened(server: tuple[str, int]) -> None:
    host, port = server
    netloc = f"{host}:{port}"

    async def run() -> list[str]:
        connection = LoadConnection(host, port)
        statuses = []
        for call in (_search("plain"), _search("chunked"), _search("close"), _search("after close"),
                     _search("drop"), _search("after drop", lang=None),
                     Call("ask", "uk", {"question": "Де зареєструватися?", "lang": "uk", "simple": False}),
                     Call("ask", "de", {"question": "", "lang": None, "simple": False})):
            statuses.append(await asyncio.wait_for(connection.send(encode_request(call, netloc)), 10))
        connection.close()
        return statuses

    statuses = _run(run())
    # A dropped connection is an error named as such; every other response is read to its end, so the next
    # request on the same connection gets its own response.
    assert statuses == ["200", "200", "200", "200", "IncompleteReadError", "200", "200", "422"]
    paths = [path for method, path, _ in _Handler.seen if method == "GET"]
    assert paths[-1] == "/api/search?q=after+drop"  # no lang=None sent
    method, path, body = _Handler.seen[-2]
    assert (method, path) == ("POST", "/api/ask") and json.loads(body)["question"] == "Де зареєструватися?"


def test_fire_sends_every_call_once_over_a_few_connections(server: tuple[str, int]) -> None:
    calls = [_search(f"q{i}") for i in range(40)]
    outcomes, seconds = _run(fire(f"http://{server[0]}:{server[1]}", calls, concurrency=4))
    assert sorted(o.call.payload["q"] for o in outcomes) == sorted(c.payload["q"] for c in calls)
    assert {o.status for o in outcomes} == {"200"} and seconds > 0
    assert all(o.latency_ms > 0 for o in outcomes)
