"""What the HTTP layer costs per request: server CPU per ``POST /api/ask`` against the fast path alone.

Usage:
``python -m eval.bench_http_cost [--requests 120] [--rounds 3] [--before /tmp/http-before] [--profile]``

* Starts one server per source tree (this checkout, and with ``--before`` another tree, e.g. a copy of ``api/``
  beside symlinks to the rest) the way ``wegweiser serve`` does (``api.server.uvicorn_options``), each on its own
  copy of the store, with the answer cache off and the rate limits lifted, and sends the same uncached questions
  with 8 connections, the trees interleaved round by round. A server's CPU time (user + system, from
  ``/proc/<pid>/stat``) over a round divided by the requests is its CPU per request; on a loaded shared machine
  CPU time per request is far steadier than requests per second.
* In a fresh process, ``pipelines.query.ask`` on the fast path for the same questions: the CPU per ask without
  HTTP. The difference is the HTTP layer's cost.
* Per round also: requests per second, the event loop's CPU (the server's main thread), and how busy the two
  pipeline slots were with each run's wall and CPU time (``api.deps.PipelineRunner._run`` is timed in the server).
  With the fast path's rate and the embedding floor (:mod:`eval.embedding_floor`) the report gives
  ``throughput_over_limit`` and the ``cpu_bound_ceiling`` (embedding CPU / request CPU: the best ratio this
  request cost allows with every core busy).
* With two trees, every answer is also fetched once from each and compared: status, headers (but ``date``), body.
* ``--cached`` leaves the answer cache on and fills it first: what a request then costs is the HTTP layer's own.
  ``--compare-env NAME=VALUE`` adds a server of this tree with that variable set (e.g. ``MALLOC_ARENA_MAX=8``).
* With ``--profile``, each server also runs under ``cProfile`` (thread CPU time) in every thread and writes the
  merged profile beside the report (a profiled round's totals are not comparable with the others).

Prints medians and spread; writes ``eval/results/http_cost.json`` (``http_cost_cached.json``). Nothing but
127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from eval.bench import RESULTS_DIR, free_port, stop_process, wait_ready
from eval.questions import load_questions

RESULT_FILE = RESULTS_DIR / "http_cost.json"
CONCURRENCY = 8
TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def thread_cpu_s(pid: int) -> dict[int, float]:
    """User + system CPU seconds of each thread of a process, by thread id."""
    times = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            times[int(task.name)] = process_cpu_s_of(task / "stat")
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended meanwhile
    return times


def process_cpu_s_of(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def questions(count: int) -> list[dict[str, Any]]:
    """``count`` ask payloads from every question file, each question once (uncached when the cache is off)."""
    seen: set[tuple[str, str]] = set()
    payloads = []
    for q in load_questions():
        if (q.question, q.lang) not in seen:
            seen.add((q.question, q.lang))
            payloads.append({"question": q.question, "lang": q.lang, "simple": q.simple})
    return payloads[:count]


def serve(port: int, profile_out: str | None) -> None:
    """Run the app like ``wegweiser serve`` (one worker); with ``profile_out``, profile every thread."""
    import uvicorn

    from api.server import uvicorn_options
    from pipelines.settings import get_settings

    profiles: list[cProfile.Profile] = []
    if profile_out:
        def start_profile(*_: Any) -> None:
            # CPU time of the thread, not wall time: waits for the GIL, a lock or a socket cost nothing here.
            profile = cProfile.Profile(time.thread_time)
            profiles.append(profile)
            profile.enable()  # replaces this hook in the new thread

        threading.setprofile(start_profile)
        start_profile()

    def dump(*_: Any) -> None:
        stats = pstats.Stats()
        for profile in profiles:
            profile.create_stats()
            if profile.stats:  # type: ignore[attr-defined]  # a thread that ran nothing since the warm-up has none
                stats.add(profile)
        stats.dump_stats(profile_out)
        Path(profile_out + ".done").touch()

    def clear(*_: Any) -> None:
        for profile in profiles:
            profile.clear()

    runs: list[tuple[float, float, float]] = []  # (start, end, thread CPU) of every pipeline run, in perf_counter s
    from api.deps import PipelineRunner

    original_run = PipelineRunner._run

    def timed_run(self: PipelineRunner, func: Any, *args: Any) -> Any:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return original_run(self, func, *args)
        finally:
            runs.append((started, time.perf_counter(), time.thread_time() - cpu))

    PipelineRunner._run = timed_run  # type: ignore[method-assign]

    def dump_runs(*_: Any) -> None:
        Path(f"/tmp/http-runs-{port}.json").write_text(json.dumps(runs))
        runs.clear()

    signal.signal(signal.SIGUSR2 if not profile_out else signal.SIGHUP, dump_runs)
    if profile_out:
        signal.signal(signal.SIGUSR1, dump)
        signal.signal(signal.SIGUSR2, clear)  # after the warm-up
    uvicorn.run("api.main:create_app", factory=True, host="127.0.0.1", port=port, workers=1,
                **uvicorn_options(get_settings()))


def in_process(count: int, threads: int) -> None:
    """Print, as JSON, the fast path's CPU ms per ask and asks per second (``threads`` at a time, like the server's
    pipeline concurrency) per round after a warm-up, and the embedding floor (:mod:`eval.embedding_floor`)."""
    from concurrent.futures import ThreadPoolExecutor

    from eval.embedding_floor import measure_floor
    from pipelines.query import ask
    from pipelines.serving import ServingState
    from pipelines.settings import get_settings

    served = ServingState(get_settings()).current()
    payloads = questions(count)
    for p in payloads[:10]:
        ask(served.fast_ask, p["question"], p["lang"], p["simple"])
    cpu_ms, per_s = [], []
    for _ in range(3):
        started, cpu = time.perf_counter(), process_cpu_s(os.getpid())
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda p: ask(served.fast_ask, p["question"], p["lang"], p["simple"]), payloads))
        cpu_ms.append((process_cpu_s(os.getpid()) - cpu) / len(payloads) * 1000)
        per_s.append(len(payloads) / (time.perf_counter() - started))
    floor = measure_floor([p["question"] for p in payloads[:30]], rounds=2)
    print(json.dumps({"cpu_ms": cpu_ms, "per_s": per_s, "floor": floor}))


class Server:
    """A server process serving one source tree from its own store copy."""

    def __init__(self, label: str, tree: Path, store: Path, profile_out: str | None, cached: bool = False,
                 extra_env: dict[str, str] | None = None) -> None:
        self.label = label
        self.port = free_port()
        workdir = Path(tempfile.mkdtemp(prefix=f"http-{label}-"))
        env = {**os.environ, "WEGWEISER_QDRANT_PATH": str(store),
               "WEGWEISER_ANSWER_CACHE_SIZE": "100000" if cached else "0",
               "WEGWEISER_RATE_LIMIT_PER_MINUTE": "100000", "WEGWEISER_REQUESTS_IN_FLIGHT_PER_CLIENT": "1000",
               "WEGWEISER_FEEDBACK_PATH": str(workdir / "feedback.sqlite3"),
               "WEGWEISER_GAPS_PATH": str(workdir / "gaps.jsonl"), "PYTHONPATH": str(tree), **(extra_env or {})}
        command = [sys.executable, "-m", "eval.bench_http_cost", "--serve", str(self.port)]
        if profile_out:
            command += ["--profile-out", profile_out]
        self.profile_out = profile_out
        if profile_out:
            Path(profile_out + ".done").unlink(missing_ok=True)
        self.log = workdir / "server.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        wait_ready(self.url, self.process, self.log)

    def stop(self) -> None:
        if self.profile_out:
            self.process.send_signal(signal.SIGUSR1)
            while not Path(self.profile_out + ".done").exists() and self.process.poll() is None:
                time.sleep(0.2)
        stop_process(self.process)


async def fire(url: str, payloads: list[dict[str, Any]]) -> list[int]:
    queue = list(reversed(payloads))
    statuses: list[int] = []
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        async def worker() -> None:
            while queue:
                response = await client.post("/api/ask", json=queue.pop())
                statuses.append(response.status_code)
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return statuses


def slot_use(server: Server, concurrency: int = 2) -> dict[str, float]:
    """The pipeline runs since the last call: how busy the slots were, and each run's wall and CPU time."""
    out = Path(f"/tmp/http-runs-{server.port}.json")
    out.unlink(missing_ok=True)
    server.process.send_signal(signal.SIGHUP if server.profile_out else signal.SIGUSR2)
    while not out.exists():
        time.sleep(0.05)
    time.sleep(0.1)
    runs = json.loads(out.read_text())
    out.unlink()
    if not runs:
        return {}
    wall = max(end for _, end, _ in runs) - min(start for start, _, _ in runs)
    return {"slot_utilisation": round(sum(end - start for start, end, _ in runs) / (wall * concurrency), 3),
            "run_wall_ms": round(statistics.median((end - start) * 1000 for start, end, _ in runs), 1),
            "run_cpu_ms": round(statistics.median(cpu * 1000 for _, _, cpu in runs), 1)}


def measure_round(server: Server, payloads: list[dict[str, Any]]) -> dict[str, float]:
    """One round: the server's CPU ms per request (the whole process, and its main thread: the event loop),
    requests per second, and how busy the pipeline slots were."""
    pid = server.process.pid
    slot_use(server)
    before, loop_before = process_cpu_s(pid), thread_cpu_s(pid).get(pid, 0.0)
    started = time.perf_counter()
    statuses = asyncio.run(fire(server.url, payloads))
    seconds = time.perf_counter() - started
    cpu, loop_cpu = process_cpu_s(pid) - before, thread_cpu_s(pid).get(pid, 0.0) - loop_before
    slots = slot_use(server)
    if any(s != 200 for s in statuses):
        raise RuntimeError(f"{server.label}: statuses {sorted(set(statuses))}")
    return {"cpu_ms": cpu / len(payloads) * 1000, "event_loop_cpu_ms": loop_cpu / len(payloads) * 1000,
            "per_s": len(payloads) / seconds, **slots}


async def responses(url: str, payloads: list[dict[str, Any]]) -> list[tuple[int, list[tuple[str, str]], bytes]]:
    """Status, headers (without ``date``) and body of each ask, one at a time."""
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        answers = []
        for payload in payloads:
            response = await client.post("/api/ask", json=payload)
            answers.append((response.status_code, [(k, v) for k, v in response.headers.multi_items() if k != "date"],
                            response.content))
        return answers


def spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2),
            "max": round(max(values), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    parser.add_argument("--in-process", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=2, help="in-process asks at a time (the server's "
                                                                "WEGWEISER_PIPELINE_CONCURRENCY)")
    parser.add_argument("--requests", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", type=Path, help="another source tree to compare with (interleaved)")
    parser.add_argument("--store", type=Path, default=Path("/tmp/edge-store"), help="store to copy per server")
    parser.add_argument("--compare-env", action="append", default=[], metavar="NAME=VALUE",
                        help="also run this tree with these environment variables (a server labelled 'env')")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--skip-in-process", action="store_true")
    parser.add_argument("--cached", action="store_true", help="answers from the cache (filled by the warm-up): "
                        "what is left is the HTTP layer's own cost")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.profile_out)
        return
    if args.in_process:
        in_process(args.in_process, args.threads)
        return

    from pipelines.edge import copy_store

    trees = {"after": Path.cwd()} | ({"before": args.before} if args.before else {})
    extra_env = dict(pair.split("=", 1) for pair in args.compare_env)
    if extra_env:
        trees["env"] = Path.cwd()
    payloads = questions(args.requests)
    servers = []
    scratch: list[Path] = []

    def store_copy(label: str) -> Path:
        scratch.append(Path(tempfile.mkdtemp(prefix=f"http-store-{label}-")))
        copy_store(args.store, scratch[-1] / "store")
        return scratch[-1] / "store"

    try:
        for label, tree in trees.items():
            store = store_copy(label)
            profile_out = str(RESULTS_DIR / f"http_cost_{label}.prof") if args.profile else None
            servers.append(Server(label, tree, store, profile_out, args.cached,
                                  extra_env if label == "env" else None))
        for server in servers:  # warm-up: lazily loaded language models, first-call costs (or every answer)
            measure_round(server, payloads if args.cached else payloads[: 2 * CONCURRENCY])
            if server.profile_out:
                server.process.send_signal(signal.SIGUSR2)
        rounds: dict[str, list[dict[str, float]]] = {s.label: [] for s in servers}
        for i in range(args.rounds):
            for server in servers if i % 2 == 0 else reversed(servers):
                result = measure_round(server, payloads)
                rounds[server.label].append(result)
                print(f"round {i + 1} {server.label}: " + ", ".join(f"{k} {v:.3g}" for k, v in result.items()),
                      flush=True)
        if len(servers) > 1:  # every tree must answer byte for byte alike (the cache is off: each answer is new)
            first, *others = [asyncio.run(responses(server.url, payloads)) for server in servers]
            differing = [p["question"] for other in others for p, a, b in zip(payloads, first, other, strict=True)
                         if a != b]
            print(f"responses compared: {len(payloads)}, differing: {len(differing)} {differing[:3]}", flush=True)
    finally:
        for server in servers:
            server.stop()
            shutil.rmtree(server.log.parent, ignore_errors=True)
    report: dict[str, Any] = {"requests": len(payloads), "concurrency": CONCURRENCY, "cached": args.cached,
                              "server": {label: {key: spread([r[key] for r in results if key in r])
                                                 for key in results[0]} for label, results in rounds.items()},
                              "rounds": rounds}
    if not (args.skip_in_process or args.cached):
        store = store_copy("inproc")
        output = subprocess.run([sys.executable, "-m", "eval.bench_http_cost", "--in-process", str(len(payloads)),
                                 "--threads", str(args.threads)],
                                env={**os.environ, "WEGWEISER_QDRANT_PATH": str(store)}, check=True,
                                capture_output=True, text=True).stdout
        fast_path = json.loads(output.strip().splitlines()[-1])
        floor = fast_path["floor"]
        report["fast_path"] = {"cpu_ms": spread(fast_path["cpu_ms"]), "per_s": spread(fast_path["per_s"]),
                               "throughput_over_limit": round(statistics.median(fast_path["per_s"])
                                                              / floor["limit_per_s"], 2)}
        report["embedding_floor"] = {k: floor[k] for k in ("cpu_ms", "cores", "limit_per_s")}
        for label, results in rounds.items():
            cpu = statistics.median(r["cpu_ms"] for r in results)
            report["server"][label] |= {
                "http_layer_cpu_ms": round(cpu - statistics.median(fast_path["cpu_ms"]), 2),
                "throughput_over_limit": round(statistics.median(r["per_s"] for r in results)
                                               / floor["limit_per_s"], 2),
                # What the ratio could be with every core busy with this server alone: embedding CPU / request CPU.
                "cpu_bound_ceiling": round(floor["cpu_ms"] / cpu, 2)}
    for path in scratch:
        shutil.rmtree(path, ignore_errors=True)
    result_file = RESULT_FILE.with_stem("http_cost_cached") if args.cached else RESULT_FILE
    result_file.parent.mkdir(parents=True, exist_ok=True)
    result_file.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k != "rounds"}, indent=2))


if __name__ == "__main__":
    main()
