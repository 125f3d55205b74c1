"""``wegweiser bench``: a bounded load test of the real HTTP server on 127.0.0.1.

Starts the app in a subprocess the way ``wegweiser serve`` does, with the current environment (so it serves
the configured store), fires ``requests`` requests per target with ``concurrency`` connections at
``GET /api/search`` and ``POST /api/ask`` — questions from ``eval/questions`` in every language — and reports
requests/s, latency percentiles, errors by status and the server's peak resident memory (sampled every
100 ms). The server's rate limit and per-client share are lifted for the run. Nothing but 127.0.0.1 is
contacted.

Before the server starts, the embedding floor is measured in this process (:mod:`eval.embedding_floor`), and
every target's figures are also given as multiples of it (``ratios``): absolute timings on a shared machine
vary from run to run, the ratios much less.

Usage:
```python
report = run_bench(get_settings(), requests=200, concurrency=8, targets=["search"])
report["targets"]["search"]["latency_ms"]["p95"]
```
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import psutil

from eval.embedding_floor import floor_ratios, measure_floor
from eval.questions import load_questions
from eval.report import RESULTS_DIR as RESULTS_DIR  # re-exported for the benchmark scripts
from pipelines.settings import Settings

TARGETS = ("search", "ask")
#: Questions the embedding floor is measured on (each with one and with two threads, three times).
FLOOR_QUESTIONS = 60
#: Asked once right after start-up: the time from starting the process to this answer is reported.
FIRST_QUESTION = {"question": "Wo kann ich meine Wohnung anmelden?", "lang": None, "simple": False}
#: The settings' upper bound for the per-client rate limit: far above anything one benchmark client sends.
UNLIMITED_RATE = "100000"
#: The settings' upper bound for requests in flight per client: the benchmark's connections all come from
#: 127.0.0.1 but stand for many residents, so the per-client share would turn most of them into 429s.
UNLIMITED_IN_FLIGHT = "1000"
STARTUP_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 60.0

Progress = Callable[[int, int], None]


class BenchError(RuntimeError):
    """The benchmark cannot run (store locked by another process, no index, server did not start)."""


@dataclass(frozen=True)
class Call:
    """One request of the workload."""

    target: str
    lang: str
    payload: dict[str, Any]


def workload(target: str, count: int, seed: int = 0) -> list[Call]:
    """``count`` requests for one target, cycling through the evaluation questions (all languages)."""
    questions = load_questions()
    random.Random(seed).shuffle(questions)
    calls = []
    for i in range(count):
        q = questions[i % len(questions)]
        if target == "ask":
            payload: dict[str, Any] = {"question": q.question, "lang": q.lang, "simple": q.simple}
        else:
            payload = {"q": q.question, "lang": q.lang}
        calls.append(Call(target, q.lang, payload))
    return calls


def mixed_workload(count: int, seed: int = 0) -> list[Call]:
    """Alternating ask and search requests in every language."""
    asks, searches = workload("ask", (count + 1) // 2, seed), workload("search", count // 2, seed + 1)
    return [c for pair in zip(asks, searches, strict=False) for c in pair] + asks[len(searches):]


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of the values, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered))) - 1))]


def latency_summary(latencies_ms: list[float]) -> dict[str, float | None]:
    """Median, p95, p99 and max of the latencies in milliseconds (rounded to 0.1 ms)."""
    values = {"median": percentile(latencies_ms, 50), "p95": percentile(latencies_ms, 95),
              "p99": percentile(latencies_ms, 99), "max": max(latencies_ms) if latencies_ms else None}
    return {k: None if v is None else round(v, 1) for k, v in values.items()}


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_store_free(settings: Settings) -> None:
    """Refuse to start a second process on an embedded store another process holds.

    :raises BenchError: with a readable message when the store's folder lock is taken.
    """
    if settings.qdrant_url:
        return
    from pipelines.store import StoreUnavailableError, close_shared_client, shared_client

    try:
        shared_client(settings)
    except StoreUnavailableError as exc:
        raise BenchError(
            f"the embedded store {settings.qdrant_path} is in use by another process (a running `wegweiser "
            "serve`?). Stop it, point WEGWEISER_QDRANT_PATH at a copy of the store, or use a Qdrant server "
            "(WEGWEISER_QDRANT_URL).") from exc
    finally:
        close_shared_client(settings)


class RssSampler:
    """Samples a process's resident memory (with its children) every ``interval`` seconds in a thread."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def rss(self) -> int:
        """Resident memory now, in bytes (0 once the process is gone)."""
        try:
            processes = [self.process, *self.process.children(recursive=True)]
            return sum(p.memory_info().rss for p in processes)
        except psutil.Error:
            return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            self._stop.wait(self.interval)

    def reset_peak(self) -> None:
        """Start a new peak from the current value."""
        self.peak = self.rss()

    def __enter__(self) -> RssSampler:
        self.reset_peak()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


@dataclass
class Server:
    """A uvicorn subprocess serving the app."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    ready: dict[str, Any]
    started: float = 0.0  # time.perf_counter() when the process was started


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


#: The benchmark's server: what ``wegweiser serve`` runs (``api.server.serve``: the HTTP protocol, its
#: deadlines, the connection limit), with a quieter log (no line per request). Run with ``python -c``: the CLI
#: would also load typer and rich into the server.
SERVE_CODE = """
import sys

from api.server import serve
from pipelines.settings import get_settings

serve(get_settings(), "127.0.0.1", int(sys.argv[1]), int(sys.argv[2]), log_level="warning")
"""


@contextmanager
def running_server(settings: Settings, workers: int = 1, code: str = SERVE_CODE) -> Iterator[Server]:
    """Start the app on 127.0.0.1 as ``wegweiser serve`` does (:data:`SERVE_CODE`), with the current
    environment; stop it afterwards.

    :param workers: uvicorn worker processes (more than one needs Qdrant Edge or a Qdrant server).
    :param code: the server process's program (``SERVE_CODE``, possibly after a probe of its own; see
        ``eval.bench_cpu_split``).

    :raises BenchError: when the store is locked, the server exits or never becomes ready.
    """
    check_store_free(settings)
    port = free_port()
    # Telemetry is already off in this environment (pipelines.offline), so the server inherits that.
    env = {**os.environ, "WEGWEISER_RATE_LIMIT_PER_MINUTE": UNLIMITED_RATE,
           "WEGWEISER_REQUESTS_IN_FLIGHT_PER_CLIENT": UNLIMITED_IN_FLIGHT}
    log = Path(tempfile.mkstemp(prefix="wegweiser-bench-", suffix=".log")[1])
    command = [sys.executable, "-c", code, str(port), str(workers)]
    started = time.perf_counter()
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        ready = wait_ready(url, process, log)
        yield Server(url, process, log, ready, started)
    finally:
        stop_process(process)
        log.unlink(missing_ok=True)  # its tail is in the error message when startup failed


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Terminate a server process; kill it when it has not exited after ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    detail = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"the server exited with code {process.returncode}:\n{_log_tail(log)}")
        try:
            response = httpx.get(f"{url}/readyz", timeout=10)
        except httpx.HTTPError as exc:
            detail = f"{type(exc).__name__}"
        else:
            if response.status_code == 200:
                return response.json()
            detail = response.json().get("detail", response.text)
            if "wegweiser ingest" in detail:
                raise BenchError(f"the server has no index: {detail}")
        time.sleep(0.1)  # start-up time is reported: poll finely
    raise BenchError(f"the server was not ready after {STARTUP_TIMEOUT_S:.0f} s ({detail})")


@dataclass
class Outcome:
    """One request's result."""

    call: Call
    status: str  # HTTP status, or the exception's name for a transport error
    latency_ms: float


def encode_request(call: Call, host: str) -> bytes:
    """The HTTP/1.1 request of one call, as bytes (``GET /api/search?…`` or ``POST /api/ask`` with JSON)."""
    if call.target == "ask":
        body = json.dumps(call.payload).encode()
        head = (f"POST /api/ask HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n")
        return head.encode() + body
    query = urlencode({k: v for k, v in call.payload.items() if v is not None})
    return f"GET /api/search?{query} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


class LoadConnection:
    """One keep-alive HTTP/1.1 connection of the load generator.

    The generator shares the machine's cores with the server it measures, so it is kept lean: requests are
    encoded once, responses are read by their length and not parsed. httpx's client cost about 2.8 ms CPU per
    request here (about a twelfth of an embedding), which the server's throughput paid for.

    Usage:
    ```python
    connection = LoadConnection("127.0.0.1", 8000)
    status = await connection.send(encode_request(call, "127.0.0.1:8000"))  # "200", or an error's name
    ```
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes) -> str:
        """Send one request and read its whole response: the status code, or the exception's name when the
        connection failed (it is then closed, and the next request opens a new one)."""
        try:
            if self._writer is None:
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            assert self._reader is not None
            self._writer.write(request)
            head = await self._reader.readuntil(b"\r\n\r\n")
            status, close, length, chunked = _response_head(head)
            if chunked:
                while size := int((await self._reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16):
                    await self._reader.readexactly(size + 2)
                await self._reader.readuntil(b"\r\n")
            elif length:
                await self._reader.readexactly(length)
            if close:
                self.close()
            return status
        except (OSError, EOFError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
            self.close()
            return type(error).__name__

    def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def _response_head(head: bytes) -> tuple[str, bool, int, bool]:
    """(status, whether the server closes the connection, Content-Length, whether the body is chunked)."""
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ", 2)[1]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    return (status, headers.get("connection") == "close", int(headers.get("content-length", "0") or 0),
            headers.get("transfer-encoding") == "chunked")


async def fire(url: str, calls: list[Call], concurrency: int, progress: Progress | None = None,
               on_result: Callable[[Outcome], None] | None = None) -> tuple[list[Outcome], float]:
    """Send the calls with ``concurrency`` keep-alive connections (see :class:`LoadConnection`); returns the
    outcomes and the wall time in seconds."""
    address = urlsplit(url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    queue: asyncio.Queue[tuple[Call, bytes]] = asyncio.Queue()
    for call in calls:
        queue.put_nowait((call, encode_request(call, address.netloc)))
    outcomes: list[Outcome] = []

    async def worker() -> None:
        connection = LoadConnection(host, port)
        try:
            while True:
                try:
                    call, request = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                try:
                    async with asyncio.timeout(REQUEST_TIMEOUT_S):  # no task per request, unlike wait_for
                        status = await connection.send(request)
                except TimeoutError:
                    connection.close()
                    status = "TimeoutError"
                outcome = Outcome(call, status, (time.perf_counter() - started) * 1000)
                outcomes.append(outcome)
                if on_result:
                    on_result(outcome)
                if progress:
                    progress(len(outcomes), len(calls))
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(calls))))))
    return outcomes, time.perf_counter() - started


def summarize(outcomes: list[Outcome], seconds: float) -> dict[str, Any]:
    """Throughput, latency of successful requests, and errors by status."""
    ok = [o.latency_ms for o in outcomes if o.status == "200"]
    errors = Counter(o.status for o in outcomes if o.status != "200")
    return {"requests": len(outcomes), "seconds": round(seconds, 2),
            "requests_per_s": round(len(outcomes) / seconds, 2) if seconds else None,
            "latency_ms": latency_summary(ok),
            "errors": sum(errors.values()), "errors_by_status": dict(sorted(errors.items()))}


def run_bench(settings: Settings, requests: int = 2000, concurrency: int = 16,
              targets: list[str] | None = None,
              progress: Callable[[str, int, int], None] | None = None, workers: int = 1) -> dict[str, Any]:
    """Start a server, load each target in turn, stop the server.

    :param requests: requests per target.
    :param workers: server worker processes (memory is summed over them).
    :param progress: called with (target, done, total).
    :returns: the report (also what :func:`write_report` stores).
    :raises BenchError: when the benchmark cannot run.
    """
    targets = targets or list(TARGETS)
    report: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                              "requests_per_target": requests, "concurrency": concurrency, "workers": workers,
                              "cpus": os.cpu_count(), "targets": {}}
    # Measured before the server starts, so that the floor is this machine's, not the server's load.
    floor_questions = [c.payload["question"] for c in workload("ask", FLOOR_QUESTIONS)]
    report["floor"] = floor = measure_floor(floor_questions)
    with running_server(settings, workers) as server, RssSampler(server.process.pid) as sampler:
        first = httpx.post(f"{server.url}/api/ask", json=FIRST_QUESTION, timeout=REQUEST_TIMEOUT_S)
        report["server"] = {"build": server.ready.get("build"), "points": server.ready.get("points"),
                            "start_to_first_answer_s": round(time.perf_counter() - server.started, 2)
                            if first.status_code == 200 else None,
                            "rss_ready_mb": round(sampler.rss() / 1e6, 1),
                            "answer_cache_size": settings.answer_cache_size}
        for target in targets:
            sampler.reset_peak()
            calls = workload(target, requests)
            client_cpu, server_cpu = time.process_time(), _cpu_seconds(server.process.pid)
            outcomes, seconds = asyncio.run(fire(server.url, calls, concurrency, progress=(
                (lambda done, total, t=target: progress(t, done, total)) if progress else None)))
            summary = summarize(outcomes, seconds)
            # Where the cores went, per request: the server's CPU time (embedding included) and the load
            # generator's (which shares the cores; see LoadConnection).
            cpu_ms = {"server": round((_cpu_seconds(server.process.pid) - server_cpu) * 1000 / len(calls), 2),
                      "load_generator": round((time.process_time() - client_cpu) * 1000 / len(calls), 2)}
            report["targets"][target] = {**summary, "peak_rss_mb": round(sampler.peak / 1e6, 1),
                                         "cpu_ms_per_request": cpu_ms, "ratios": floor_ratios(summary, floor)}
        report["server"]["rss_end_mb"] = round(sampler.rss() / 1e6, 1)
    return report


def _cpu_seconds(pid: int) -> float:
    """CPU time (user and system) of a process and its children so far, in seconds (0 once it is gone)."""
    try:
        process = psutil.Process(pid)
        return sum(sum(p.cpu_times()[:2]) for p in [process, *process.children(recursive=True)])
    except psutil.Error:
        return 0.0


def write_report(report: dict[str, Any], path: Path) -> Path:
    """Write the report as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def report_table(report: dict[str, Any]) -> Any:
    """The report as a rich table."""
    from rich.table import Table

    floor = report.get("floor")
    caption = None
    if floor:  # reports written before the floor existed have none
        caption = (f"floor: one embedding {floor['latency_ms']:.1f} ms (better median of "
                   f"{' and '.join(floor['median_ms_by_threads'])} threads), {floor['cpu_ms']:.1f} ms CPU → "
                   f"limit {floor['limit_per_s']:.0f}/s on {floor['cores']} cores; start to first answer "
                   f"{report['server'].get('start_to_first_answer_s')} s")
    table = Table(title=f"HTTP load: {report['requests_per_target']} requests per target, concurrency "
                        f"{report['concurrency']}, {report['cpus']} CPUs", caption=caption)
    ratio_columns = ("p50 × floor", "p99 / p50", "req/s ÷ limit") if floor else ()
    for column in ("target", "req/s", "median ms", "p95 ms", "p99 ms", "max ms", "errors", "peak RSS MB",
                   *ratio_columns):
        table.add_column(column, justify="left" if column == "target" else "right")

    def ms(value: float | None) -> str:
        return "–" if value is None else f"{value:.0f}"

    for target, row in report["targets"].items():
        errors = ", ".join(f"{k}: {v}" for k, v in row["errors_by_status"].items()) or "0"
        lat = row["latency_ms"]
        ratios = [("–" if v is None else f"{v:.2f}") for v in row.get("ratios", {}).values()] if floor else []
        table.add_row(target, f"{row['requests_per_s']:.1f}", ms(lat["median"]), ms(lat["p95"]),
                      ms(lat["p99"]), ms(lat["max"]), errors, f"{row['peak_rss_mb']:.0f}", *ratios)
    return table


def run_cli(label: str, run: Callable[[Progress], dict[str, Any]], table: Callable[[dict[str, Any]], Any],
            output: Path, console: Any, total: int | None = None) -> int:
    """Run a benchmark under a progress bar, print its table and write its report (the ``main`` of
    ``eval.soak`` and ``eval.bench_pipeline``).

    :param total: the number of steps if known before the run; its clock then starts with the first step.
    :returns: the exit code: 0, or 3 when the benchmark cannot run (store locked, no index, …).
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    try:
        with Bar(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                 console=console) as bar:
            task = bar.add_task(label, total=total, start=total is None)

            def progress(done: int, steps: int) -> None:
                bar.start_task(task)
                bar.update(task, completed=done, total=steps)

            report = run(progress)
    except BenchError as exc:
        Console(stderr=True).print(f"[bold red]Error:[/] {exc}")
        return 3
    console.print(table(report))
    console.print(f"Wrote {write_report(report, output)}")
    return 0
