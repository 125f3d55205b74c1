"""Can one client starve the others? A bounded loopback load test of a real ``wegweiser serve``.

A normal client asks ordinary questions one after another, first alone ("quiet"), then while twelve other
connections send 1,000-character questions in Chinese script and emoji (the most expensive to embed):

- ``one-address``: the twelve connections come from one address (127.0.0.1), as one abusive client would;
- ``twelve-addresses``: each comes from its own loopback address (127.0.0.2 …), each below the rate limit;
- ``send-and-drop``: one address sends and hangs up after 50 ms, again and again (work for a gone client).

The normal client uses its own loopback address (127.0.0.200). Reported per phase: the normal client's
median, p99 and errors, and the median as a ratio to the quiet median measured in the same run; the heavy
clients' statuses. The answer cache is off so that every question is real work. Nothing but 127.0.0.0/8 is
contacted; every phase is bounded in time.

Usage: ``python -m eval.load_fairness [--seconds 20] [--app-dir DIR] [--output FILE]``. ``--app-dir`` serves
another checkout (for a before/after comparison: ``git worktree add /tmp/before <rev>``); the server gets a
copy of the configured store, so a running ``wegweiser serve`` is not disturbed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from eval.bench import RESULTS_DIR, free_port, latency_summary, stop_process, wait_ready
from eval.questions import load_questions
from pipelines.edge import copy_store
from pipelines.settings import get_settings

HEAVY_CONNECTIONS = 12
HEAVY_CHARACTERS = 1000
NORMAL_ADDRESS = "127.0.0.200"
NORMAL_INTERVAL_S = 0.6
#: CJK ideographs and emoji: the scripts whose characters each become several tokens.
_HEAVY_ALPHABET = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)] + [chr(c) for c in range(0x1F600, 0x1F640)]


def heavy_question(rng: random.Random) -> str:
    """A fresh 1,000-character question (never cached, never the same)."""
    return "".join(rng.choice(_HEAVY_ALPHABET) for _ in range(HEAVY_CHARACTERS))


def normal_questions() -> list[dict[str, Any]]:
    """Ordinary answerable questions of every language, in a fixed order."""
    questions = [q for q in load_questions() if q.answerable]
    random.Random(7).shuffle(questions)
    return [{"question": q.question, "lang": q.lang, "simple": False} for q in questions]


@contextmanager
def serve(app_dir: Path, rate_limit: int, extra_env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``wegweiser serve`` of ``app_dir`` on a free port, on a copy of the configured store."""
    settings = get_settings()
    with tempfile.TemporaryDirectory(prefix="wegweiser-load-") as tmp:
        store = Path(tmp) / "qdrant"
        copy_store(settings.qdrant_path, store)
        port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(app_dir),
            "WEGWEISER_QDRANT_PATH": str(store),
            "WEGWEISER_ANSWER_CACHE_SIZE": "0",
            "WEGWEISER_RATE_LIMIT_PER_MINUTE": str(rate_limit),
            **extra_env,
        }
        log = Path(tmp) / "server.log"
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "wegweiser.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                cwd=app_dir,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, process, log)
            yield url, process
        finally:
            stop_process(process, timeout=30)


def _client(url: str, address: str, timeout: float) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=url, transport=transport, timeout=timeout)


async def normal_client(url: str, questions: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """Ask one question after another for ``seconds``; latencies of 200s and statuses of the rest."""
    latencies, statuses = [], Counter()
    deadline = time.monotonic() + seconds
    async with _client(url, NORMAL_ADDRESS, 30.0) as client:
        i = 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                response = await client.post("/api/ask", json=questions[i % len(questions)])
                status = str(response.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            statuses[status] += 1
            if status == "200":
                latencies.append((time.perf_counter() - started) * 1000)
            i += 1
            # A person reads, then asks again: one question every NORMAL_INTERVAL_S at most (below the limit).
            await asyncio.sleep(max(0.0, NORMAL_INTERVAL_S - (time.perf_counter() - started)))
    return {
        "requests": sum(statuses.values()),
        "errors": sum(n for s, n in statuses.items() if s != "200"),
        "statuses": dict(statuses),
        "latency_ms": latency_summary(latencies),
    }


async def heavy_client(
    url: str,
    address: str,
    seed: int,
    stop: asyncio.Event,
    statuses: Counter,
    hang_up_after: float | None,
    per_minute: int | None,
) -> None:
    """Send long questions as fast as allowed (or hang up after ``hang_up_after`` seconds) until stopped."""
    rng = random.Random(seed)
    async with _client(url, address, hang_up_after or 30.0) as client:
        while not stop.is_set():
            started = time.monotonic()
            try:
                response = await client.post("/api/ask", json={"question": heavy_question(rng)})
                statuses[str(response.status_code)] += 1
            except httpx.TimeoutException:
                statuses["hung up"] += 1
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
            if per_minute:  # stay below the per-client rate limit
                await asyncio.sleep(max(0.0, 60 / per_minute - (time.monotonic() - started)))


async def phase(
    url: str, questions: list[dict[str, Any]], seconds: float, scenario: str | None, rate_limit: int
) -> dict[str, Any]:
    """The normal client's experience with the scenario's heavy clients running (none: quiet)."""
    stop, statuses = asyncio.Event(), Counter()
    heavy = []
    if scenario:
        for i in range(HEAVY_CONNECTIONS):
            address = f"127.0.0.{2 + i}" if scenario == "twelve-addresses" else "127.0.0.1"
            heavy.append(
                asyncio.create_task(
                    heavy_client(
                        url,
                        address,
                        i,
                        stop,
                        statuses,
                        0.05 if scenario == "send-and-drop" else None,
                        int(rate_limit * 0.9) if scenario == "twelve-addresses" else None,
                    )
                )
            )
        await asyncio.sleep(1.0)  # let the load build up
    result = await normal_client(url, questions, seconds)
    stop.set()
    await asyncio.gather(*heavy)
    result["heavy_statuses"] = dict(statuses)
    return result


async def run(url: str, seconds: float, rate_limit: int) -> dict[str, Any]:
    questions = normal_questions()
    # Warm-up: the first questions of a fresh server load the model's caches.
    await normal_client(url, questions, 3.0)
    phases: dict[str, Any] = {"quiet": await phase(url, questions, seconds, None, rate_limit)}
    for scenario in ("one-address", "twelve-addresses", "send-and-drop"):
        phases[scenario] = await phase(url, questions, seconds, scenario, rate_limit)
        await asyncio.sleep(2.0)  # let dropped work drain before the next phase
    quiet = phases["quiet"]["latency_ms"]["median"]
    for result in phases.values():
        median = result["latency_ms"]["median"]
        result["median_ratio_to_quiet"] = round(median / quiet, 2) if median and quiet else None
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="Length of each phase.")
    parser.add_argument("--app-dir", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--rate-limit", type=int, default=120, help="The server's per-client limit per minute.")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="A WEGWEISER_* setting for the server, e.g. --set PIPELINE_CONCURRENCY=4.",
    )
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "load_fairness.json")
    args = parser.parse_args()
    app_dir = args.app_dir.resolve()
    revision = subprocess.run(
        ["git", "-C", str(app_dir), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    extra_env = {f"WEGWEISER_{name.upper()}": value for name, value in (item.split("=", 1) for item in args.set)}
    with serve(app_dir, args.rate_limit, extra_env) as (url, _):
        phases = asyncio.run(run(url, args.seconds, args.rate_limit))
    report = {
        "revision": revision,
        "settings": extra_env,
        "seconds_per_phase": args.seconds,
        "heavy_connections": HEAVY_CONNECTIONS,
        "heavy_characters": HEAVY_CHARACTERS,
        "rate_limit_per_minute": args.rate_limit,
        "phases": phases,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for name, result in phases.items():
        latency = result["latency_ms"]
        print(
            f"{name:17s} normal client: median {latency['median']} ms  p99 {latency['p99']} ms  "
            f"x{result['median_ratio_to_quiet']}  errors {result['errors']}/{result['requests']}  "
            f"heavy: {result['heavy_statuses']}"
        )


if __name__ == "__main__":
    main()
