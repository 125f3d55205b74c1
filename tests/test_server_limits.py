"""Slow and greedy clients against the real ``wegweiser serve`` (a uvicorn subprocess), over raw sockets.

Incomplete headers and bodies are closed with a 408 instead of being held for ever, a connection limit answers
503 beyond it, SIGTERM ends the process even while a client holds an unfinished body, and the server's log
carries question texts exactly when ``WEGWEISER_LOG_QUESTIONS`` is on. The tests marked ``BOTH_PARSERS`` run
once with each HTTP protocol ``api.server.http_protocol`` can pick: httptools (installed, so picked) and h11
(httptools hidden from the server, so the fallback is what serves). The first ones need no index (the server
still answers /healthz); the logging test asks real questions and warms up the real model.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from pipelines.edge import copy_store
from pipelines.settings import PROJECT_ROOT, Settings
from tests.test_faults import free_port

HEADER_TIMEOUT_S = 2
BODY_TIMEOUT_S = 3
#: Generous bound on "closed rather than held for ever": the deadline plus a busy two-core machine's slack.
SLACK_S = 10.0
HALF_OPEN = 300
PARTIAL_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
#: h11 insists on the Host header of HTTP/1.1 (400), llhttp does not (200): which parser served, from outside.
HEALTHZ_WITHOUT_HOST = b"GET /healthz HTTP/1.1\r\n\r\n"
PARSERS = ("httptools", "h11")
#: Runs a test once per HTTP protocol (the ``serve`` fixture starts the server with that one).
BOTH_PARSERS = pytest.mark.parametrize("serve", PARSERS, indirect=True)


def ask_head(content_length: int) -> bytes:
    return (b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(content_length).encode() + b"\r\n\r\n")


@dataclass
class ServerProcess:
    """A ``wegweiser serve`` subprocess on 127.0.0.1; its stderr goes to ``log``."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def start_server(root: Path, env: dict[str, str], startup_s: float = 60, args: tuple[str, ...] = ()) -> ServerProcess:
    """Start ``wegweiser serve`` with settings under ``root`` (and more ``args``); wait until /healthz answers."""
    port = free_port()
    log = root / f"server-{port}.log"
    environment = {**os.environ, "WEGWEISER_QDRANT_PATH": str(root / "qdrant"), "WEGWEISER_ARGOS_DIR":
                   str(root / "argos"), "WEGWEISER_GAPS_PATH": str(root / "gaps.jsonl"), **env}
    with log.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "wegweiser.cli", "serve", "--host", "127.0.0.1",
                                    "--port", str(port), *args], cwd=PROJECT_ROOT, env=environment,
                                   stdout=subprocess.DEVNULL, stderr=sink)
    server = ServerProcess(process, port, log)
    deadline = time.monotonic() + startup_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with server.connect() as sock:
                sock.sendall(HEALTHZ)
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return server
        except OSError:
            pass
        time.sleep(0.2)
    stop(server)
    raise AssertionError(f"the server did not start:\n{server.stderr()[-2000:]}")


def stop(server: ServerProcess) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


Serve = Callable[..., ServerProcess]


def hide_httptools(root: Path) -> dict[str, str]:
    """Environment in which the server cannot import httptools (a package of that name that fails first)."""
    package = root / "without-httptools" / "httptools"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text('raise ImportError("hidden by tests/test_server_limits.py")\n')
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(package.parent), os.environ.get("PYTHONPATH")]))}


def served_parser(server: ServerProcess) -> str:
    """Which parser answers: see ``HEALTHZ_WITHOUT_HOST``."""
    with server.connect() as sock:
        sock.sendall(HEALTHZ_WITHOUT_HOST)
        status = sock.recv(64).split(b" ", 2)[1]
    return {b"200": "httptools", b"400": "h11"}[status]


@pytest.fixture
def serve(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Serve]:
    """Starts servers (stopped at the end of the test); keyword arguments become ``WEGWEISER_*`` variables.

    Parametrized indirectly (``BOTH_PARSERS``) with a parser's name, it starts servers that run that one (and
    checks that they do); otherwise the one ``wegweiser serve`` picks.
    """
    parser: str | None = getattr(request, "param", None)
    started: list[ServerProcess] = []

    def start(root: Path = tmp_path, startup_s: float = 60, args: tuple[str, ...] = (),
              **settings: object) -> ServerProcess:
        env = {f"WEGWEISER_{name.upper()}": str(value).lower() if isinstance(value, bool) else str(value)
               for name, value in settings.items()}
        if parser == "h11":
            env.update(hide_httptools(root))
        started.append(start_server(root, env, startup_s, args))
        if parser is not None:
            assert served_parser(started[-1]) == parser
        return started[-1]

    yield start
    for server in started:
        stop(server)


def read_until_closed(sock: socket.socket, deadline: float) -> tuple[bytes, bool]:
    """What the server sent, and whether it closed the connection before ``deadline``."""
    data = b""
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            break
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def read_response(sock: socket.socket) -> bytes:
    """One complete response with a Content-Length (the connection stays open)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
                  if line.startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(4096)
    return head + b"\r\n\r\n" + body


@BOTH_PARSERS
def test_connections_without_complete_headers_are_closed_after_the_header_timeout(serve: Serve) -> None:
    server = serve(header_timeout_s=HEADER_TIMEOUT_S)
    sockets = []
    try:
        opened = time.monotonic()
        for n in range(HALF_OPEN):
            sock = server.connect()
            if n % 2:  # half of them send part of a request head, the other half nothing at all
                sock.sendall(PARTIAL_HEADERS)
            sockets.append(sock)
        deadline = opened + HEADER_TIMEOUT_S + SLACK_S
        results = [read_until_closed(sock, deadline) for sock in sockets]
        closed_after = time.monotonic() - opened
    finally:
        for sock in sockets:
            sock.close()
    held = sum(not closed for _, closed in results)
    print(f"\n{HALF_OPEN} half-open connections, header timeout {HEADER_TIMEOUT_S} s: {held} held, "
          f"all answered within {closed_after:.1f} s")
    assert held == 0
    assert all(data.startswith(b"HTTP/1.1 408 ") for data, _ in results)
    with server.connect() as sock:  # and the server still serves
        sock.sendall(HEALTHZ)
        assert sock.recv(64).startswith(b"HTTP/1.1 200")


@BOTH_PARSERS
def test_a_head_in_small_pieces_within_the_deadline_is_served(serve: Serve) -> None:
    server = serve(header_timeout_s=HEADER_TIMEOUT_S)
    with server.connect() as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # each piece its own segment
        sent = time.monotonic()
        for start in range(0, len(HEALTHZ), 4):  # 11 pieces over about a second: within the deadline of 2 s
            sock.sendall(HEALTHZ[start:start + 4])
            time.sleep(0.1)
        response = read_response(sock)
    assert response.startswith(b"HTTP/1.1 200"), response[:200]
    assert time.monotonic() - sent < HEADER_TIMEOUT_S


@BOTH_PARSERS
def test_a_head_dripped_past_the_deadline_gets_408_when_its_first_deadline_runs_out(serve: Serve) -> None:
    """Each piece of the head must not restart the clock: a byte now and then would hold the connection."""
    server = serve(header_timeout_s=HEADER_TIMEOUT_S)
    with server.connect() as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        opened = time.monotonic()
        data, closed = b"", False
        for byte in PARTIAL_HEADERS:
            try:
                sock.sendall(bytes([byte]))
            except OSError:  # closed by the server meanwhile
                break
            chunk, closed = read_until_closed(sock, time.monotonic() + 0.25)
            data += chunk
            if closed:
                break
        seconds = time.monotonic() - opened
    assert closed and data.startswith(b"HTTP/1.1 408 "), data[:200]
    assert HEADER_TIMEOUT_S * 0.9 <= seconds < HEADER_TIMEOUT_S + SLACK_S


@BOTH_PARSERS
def test_a_kept_alive_connection_gets_a_new_header_deadline_for_each_request(serve: Serve) -> None:
    server = serve(header_timeout_s=HEADER_TIMEOUT_S)
    with server.connect() as sock:
        sock.sendall(HEALTHZ)
        assert read_response(sock).startswith(b"HTTP/1.1 200")
        time.sleep(1.5)  # idle, within uvicorn's keep-alive timeout (5 s): the header deadline is not running
        # The first byte of the next request stops uvicorn's keep-alive timer; the header deadline takes over.
        sent = time.monotonic()
        sock.sendall(PARTIAL_HEADERS)
        data, closed = read_until_closed(sock, sent + HEADER_TIMEOUT_S + SLACK_S)
        seconds = time.monotonic() - sent
    assert closed and data.startswith(b"HTTP/1.1 408 "), data[:200]
    assert seconds >= HEADER_TIMEOUT_S * 0.9  # timed from the new head's first byte, not from the last response


@BOTH_PARSERS
def test_pipelined_requests_are_all_answered_and_an_unfinished_one_behind_them_gets_408(serve: Serve) -> None:
    server = serve(header_timeout_s=HEADER_TIMEOUT_S)
    with server.connect() as sock:
        sock.sendall(HEALTHZ * 3)
        assert [read_response(sock)[:12] for _ in range(3)] == [b"HTTP/1.1 200"] * 3
        # A whole request and, in the same segment, half of the next: its deadline starts once the first is
        # answered (uvicorn's keep-alive timer alone would close the connection after 5 s without a word).
        sent = time.monotonic()
        sock.sendall(HEALTHZ + PARTIAL_HEADERS)
        assert read_response(sock).startswith(b"HTTP/1.1 200")
        data, closed = read_until_closed(sock, sent + HEADER_TIMEOUT_S + SLACK_S)
        seconds = time.monotonic() - sent
    assert closed and data.startswith(b"HTTP/1.1 408 "), data[:200]
    assert HEADER_TIMEOUT_S * 0.9 <= seconds < 5  # the 408, not the silent close of keep-alive


@BOTH_PARSERS
def test_a_body_that_does_not_arrive_in_time_gets_408_and_the_connection_is_closed(serve: Serve) -> None:
    server = serve(body_timeout_s=BODY_TIMEOUT_S)
    body = b'{"question": "Wo finde ich einen Dolmetscher?"}'
    with server.connect() as sock:
        sent = time.monotonic()
        sock.sendall(ask_head(len(body)) + body[:10])
        data, closed = read_until_closed(sock, sent + BODY_TIMEOUT_S + SLACK_S)
        seconds = time.monotonic() - sent
    status_line = data.split(b"\r\n", 1)[0]
    print(f"\nhalf a body, body timeout {BODY_TIMEOUT_S} s: {status_line!r}, closed after {seconds:.1f} s")
    assert closed and data.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in data.lower() and b"did not arrive" in data


@BOTH_PARSERS
def test_requests_beyond_max_connections_get_503_until_connections_are_freed(serve: Serve) -> None:
    limit = 20
    server = serve(max_connections=limit, header_timeout_s=60)
    idle = [server.connect() for _ in range(limit)]
    try:
        with server.connect() as sock:
            sock.sendall(HEALTHZ)
            refused = sock.recv(4096)
    finally:
        for sock in idle:
            sock.close()
    assert refused.startswith(b"HTTP/1.1 503 "), refused[:200]
    deadline = time.monotonic() + SLACK_S
    while True:  # the server notices the closed connections within moments
        with server.connect() as sock:
            sock.sendall(HEALTHZ)
            answer = sock.recv(64)
        if answer.startswith(b"HTTP/1.1 200") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert answer.startswith(b"HTTP/1.1 200"), answer


@BOTH_PARSERS
def test_sigterm_ends_the_server_while_a_client_holds_an_unfinished_body(serve: Serve) -> None:
    graceful_s = 2
    # The body deadline is far away: only the graceful-shutdown bound can end this request.
    server = serve(body_timeout_s=300, graceful_shutdown_s=graceful_s)
    with server.connect() as sock:
        sock.sendall(ask_head(100) + b'{"question": "Wo finde')
        time.sleep(0.5)  # the request is now waiting for the rest of its body
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        try:
            code = server.process.wait(timeout=graceful_s + SLACK_S)
        except subprocess.TimeoutExpired:
            code = None
        seconds = time.monotonic() - signalled
    print(f"\nSIGTERM with an unfinished body held, graceful shutdown {graceful_s} s: exit code {code} after "
          f"{seconds:.1f} s")
    assert code is not None, f"the server was still running {seconds:.0f} s after SIGTERM"


@pytest.mark.integration
@pytest.mark.slow
def test_questions_reach_the_log_only_when_log_questions_is_on(
        serve: Serve, ingested_settings: Settings, tmp_path: Path) -> None:
    import httpx

    copy_store(ingested_settings.qdrant_path, tmp_path / "qdrant")
    logs = {}
    for log_questions in (True, False):
        marker = f"pruefmarke{uuid.uuid4().hex[:8]}"
        server = serve(startup_s=240, log_questions=log_questions)
        response = httpx.post(f"http://127.0.0.1:{server.port}/api/ask", timeout=120,
                              json={"question": f"Wo finde ich einen Dolmetscher für den Arztbesuch? {marker}"})
        assert response.status_code == 200, response.text
        stop(server)
        logs[log_questions] = (marker, server.stderr())
    for log_questions, (marker, text) in logs.items():
        assert "POST /api/ask 200" in text, text[-2000:]  # the request line: logging is configured
        assert (marker in text) is log_questions, text[-2000:]


def test_forwarded_for_counts_only_from_the_proxies_an_operator_trusts(serve: Serve, tmp_path: Path) -> None:
    """Uvicorn on its own trusts X-Forwarded-For from 127.0.0.1: a new header per request was a new bucket."""
    def statuses(server: ServerProcess) -> list[int]:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http:
            return [http.get("/api/languages", headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
                    for i in range(1, 8)]

    direct = statuses(serve(rate_limit_per_minute=3))
    assert direct[:3] == [200, 200, 200] and set(direct[3:]) == {429}
    (tmp_path / "proxied").mkdir()
    behind_proxy = statuses(serve(root=tmp_path / "proxied", rate_limit_per_minute=3,
                                  trusted_proxies='["127.0.0.1"]'))
    assert behind_proxy == [200] * 7  # each visitor named by the trusted proxy has their own limit


@pytest.mark.integration
@pytest.mark.slow
def test_two_workers_and_this_process_serve_the_same_build_at_once(
        serve: Serve, ingested_settings: Settings, served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Qdrant Edge lets every process read a build: `serve --workers 2` runs on the very store this test process
    has open, and both workers answer exactly as the in-process pipelines do."""
    import re
    from concurrent.futures import ThreadPoolExecutor

    from pipelines.query import ask

    questions = ["Wo finde ich einen Dolmetscher für den Arztbesuch?", "Wie melde ich meine Wohnung an?",
                 "Де записатися на інтеграційний курс?", "أين أجد مكانا في الروضة لطفلي؟"]
    server = serve(startup_s=240, args=("--workers", "2"), qdrant_path=ingested_settings.qdrant_path,
                   answer_cache_size=0, requests_in_flight_per_client=8)

    def post(question: str) -> httpx.Response:
        return httpx.post(f"http://127.0.0.1:{server.port}/api/ask", json={"question": question}, timeout=120)

    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(post, questions * 4))
    assert [r.status_code for r in responses] == [200] * 16, [r.text[:200] for r in responses]
    for question, response in zip(questions * 4, responses, strict=True):
        expected = ask(served.ask, question)
        got = response.json()
        assert [c["id"] for c in got["citations"]] == [c["id"] for c in expected["citations"]]
        assert got["answer"] == expected["answer"]
    workers = set(re.findall(r"Started server process \[(\d+)\]", server.stderr()))
    assert len(workers) == 2, server.stderr()[-2000:]
