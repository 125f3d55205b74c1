"""Resident memory of a running server across forced re-ingests (issue 12: memory must not creep per re-ingest).

``python -m eval.bench_reingest_rss [--rounds 5] [--label after]`` copies the ingested store to a temporary
folder, starts ``uvicorn api.main:create_app`` on a free loopback port, answers a few questions, then runs
``--rounds`` forced re-ingests through ``POST /api/admin/reindex?force=true`` (the path ``wegweiser ingest``
takes while a server holds the embedded store). After each one it waits until the server serves the new build,
answers the questions again and reads the server's RSS. It prints RSS per round and the ratio last/first, and
stores the run under ``--label`` in ``eval/results/reingest_rss.json`` (other labels are kept, so runs before
and after a change sit side by side). Every wait is bounded; the server and the copy are removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from eval.report import RESULTS_DIR
from pipelines.edge import copy_store
from pipelines.settings import PROJECT_ROOT, Settings

RESULTS_FILE = RESULTS_DIR / "reingest_rss.json"
QUESTIONS = [
    {"question": "Wo finde ich einen Dolmetscher für den Arztbesuch?", "lang": "de"},
    {"question": "Где в Йене можно выучить немецкий язык?", "lang": "ru"},
    {"question": "Де знайти перекладача до лікаря?", "lang": "uk"},
    {"question": "Where can I get my foreign degree recognised?", "lang": "en"},
    {"question": "تعرضت للإهانة في الترام بسبب حجابي، من يمكنه مساعدتي؟", "lang": "ar"},
]
SEARCHES = [{"q": "Sprachmittlung"}, {"q": "Antidiskriminierung Beratung"}, {"q": "Deutschkurs", "lang": "uk"}]
POLL_SECONDS = 2.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    """Resident set size of a process in MiB."""
    return round(psutil.Process(pid).memory_info().rss / 2**20, 1)


def wait_until(check: Any, timeout: float, what: str) -> Any:
    """Poll ``check()`` until it returns something truthy; raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")


def served_build(client: httpx.Client) -> str | None:
    """The build the server answers from (None while it is not ready)."""
    try:
        response = client.get("/readyz")
    except httpx.HTTPError:
        return None
    return response.json().get("build") if response.status_code == 200 else None


def answer_questions(client: httpx.Client) -> None:
    """A few answers and staff searches, so that caches and record stores of the build are in use."""
    for body in QUESTIONS:
        client.post("/api/ask", json=body).raise_for_status()
    for params in SEARCHES:
        client.get("/api/search", params=params).raise_for_status()


def reindex(client: httpx.Client, token: str, timeout: float) -> dict[str, Any]:
    """One forced re-ingest through the admin endpoint; returns its report."""
    headers = {"Authorization": f"Bearer {token}"}
    client.post("/api/admin/reindex", params={"force": True}, json={}, headers=headers).raise_for_status()

    def finished() -> dict[str, Any] | None:
        state = client.get("/api/admin/reindex", headers=headers).json()
        return state if state["state"] in ("done", "failed") else None

    deadline = time.monotonic() + timeout
    while (state := finished()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the re-ingest did not finish within {timeout:.0f} s")
        time.sleep(POLL_SECONDS)
    if state["state"] == "failed":
        raise RuntimeError(f"the re-ingest failed: {state['error']}")
    return state["report"]


def start_server(root: Path, port: int, argos_dir: Path, env_extra: dict[str, str]) -> subprocess.Popen[bytes]:
    """uvicorn on 127.0.0.1:port over the store copy in ``root`` (its log goes to ``root/server.log``)."""
    env = {**os.environ, **env_extra, "WEGWEISER_QDRANT_PATH": str(root / "qdrant"),
           "WEGWEISER_GAPS_PATH": str(root / "gaps.jsonl"), "WEGWEISER_ARGOS_DIR": str(argos_dir),
           "WEGWEISER_RATE_LIMIT_PER_MINUTE": "100000"}
    env.pop("WEGWEISER_QDRANT_URL", None)  # the copy, never a shared server
    log = (root / "server.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """Terminate the server, and kill it if it does not stop within 30 s."""
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=30)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the server, re-ingest ``args.rounds`` times, and return the measurements."""
    root = Path(tempfile.mkdtemp(prefix="reingest-rss-"))
    env_extra = {"MALLOC_ARENA_MAX": str(args.malloc_arena_max)} if args.malloc_arena_max else {}
    server = None
    try:
        copy_store(args.store, root / "qdrant")
        port = free_port()
        server = start_server(root, port, args.argos_dir, env_extra)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            build = wait_until(lambda: served_build(client) or server.poll() is not None, args.startup_timeout,
                               "the server to start")
            if server.poll() is not None:
                raise RuntimeError(f"the server exited; see {root / 'server.log'}")
            token = (root / "admin-token").read_text().strip()
            answer_questions(client)
            rounds = [{"round": 0, "build": build, "seconds": 0.0, "rss_mib": rss_mib(server.pid)}]
            print(f"started: build {build}, RSS {rounds[0]['rss_mib']} MiB", flush=True)
            for number in range(1, args.rounds + 1):
                started = time.monotonic()
                report = reindex(client, token, args.round_timeout)
                new_build = report["build"]
                wait_until(lambda b=new_build: served_build(client) == b, 60, "the server to serve the new build")
                answer_questions(client)
                row = {"round": number, "build": report["build"], "seconds": round(time.monotonic() - started, 1),
                       "embedded": report["embedded"], "dropped": len(report["dropped"]),
                       "rss_mib": rss_mib(server.pid)}
                rounds.append(row)
                print(f"re-ingest {number}: {row['seconds']:6.1f} s, RSS {row['rss_mib']} MiB", flush=True)
    finally:
        if server is not None:
            stop_server(server)
        shutil.rmtree(root, ignore_errors=True)
    first, last = rounds[1]["rss_mib"], rounds[-1]["rss_mib"]
    return {"rounds": rounds, "ratio_last_to_first": round(last / first, 3),
            "growth_after_first_mib": round(last - first, 1),
            "env": {"MALLOC_ARENA_MAX": args.malloc_arena_max, "python": platform.python_version(),
                    "cpus": os.cpu_count()},
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="forced re-ingests (at least 2)")
    parser.add_argument("--label", default="current", help="key of this run in the results file")
    parser.add_argument("--store", type=Path, default=Settings().qdrant_path, help="ingested store to copy")
    parser.add_argument("--argos-dir", type=Path, default=Settings().argos_dir)
    parser.add_argument("--malloc-arena-max", type=int, default=0, help="MALLOC_ARENA_MAX for the server (0: unset)")
    parser.add_argument("--startup-timeout", type=float, default=300.0)
    parser.add_argument("--round-timeout", type=float, default=1200.0, help="seconds one re-ingest may take")
    parser.add_argument("--out", type=Path, default=RESULTS_FILE)
    args = parser.parse_args()
    if args.rounds < 2:
        parser.error("--rounds must be at least 2 (the ratio compares the last re-ingest with the first)")
    result = run(args)
    print(f"RSS after re-ingest {args.rounds} / after re-ingest 1: {result['ratio_last_to_first']:.3f} "
          f"({result['growth_after_first_mib']:+.1f} MiB)")
    runs = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    runs[args.label] = result
    args.out.write_text(json.dumps(runs, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
