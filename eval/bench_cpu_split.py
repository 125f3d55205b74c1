"""Where a served question's CPU goes under load: the embedding against everything else, component by component.

Usage: ``python -m eval.bench_cpu_split [--requests 1000] [--rounds 3] [--concurrency 8]`` (uses the configured
store, like ``wegweiser bench``; nothing but 127.0.0.1 is contacted).

The throughput ratio of ``wegweiser bench`` divides by an embedding floor measured in another process, whose own
spread on a shared machine (several per cent from run to run) hides a change of a millisecond in what a request
costs beyond the embedding. This measures that part directly, in the server, under the bench's own load:

* the server is started as ``wegweiser serve`` starts it (:data:`eval.bench.SERVE_CODE`), with a probe that adds
  the thread CPU time of every batch the query embedder runs (``pipelines.e5.QueryBatcher``) and of every
  component the request path runs (``pipelines.fast_path.FastPath``), and writes the totals to a file;
* after a warm-up, ``rounds`` rounds of ``requests`` uncached asks (the bench's ask workload, 8 connections);
* per request: the server's CPU time (user and system, ``/proc``), the embedding's, each component's outside the
  embedding, the event loop thread's, and the server's context switches (every thread's, voluntary or not).

Prints medians and ranges; writes ``eval/results/cpu_split.json``. Run it from two source trees (e.g. a
``git worktree`` of an earlier commit) in turn to compare them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest.mock import patch

import psutil

from eval.bench import SERVE_CODE, fire, running_server, summarize, workload
from eval.bench_http_cost import thread_cpu_s
from eval.report import RESULTS_DIR
from pipelines.settings import get_settings

#: Runs in the server before ``SERVE_CODE``: thread CPU time of the embedding and of each component, written to
#: the file named by ``WEGWEISER_CPU_SPLIT_FILE`` every 0.1 s (a JSON object).
PROBE_CODE = """
import json, os, threading, time

import pipelines.e5 as _e5
import pipelines.fast_path as _fast_path

_spent = {"embedding": 0.0}
_batch_run, _component_run = _e5.QueryBatcher._run, _fast_path.FastPath._run_component


def _timed_batch(self, batch, alone=False):
    # Every batch on one thread here (as if never alone): thread CPU time cannot see an OpenMP team's others.
    started = time.thread_time()
    try:
        return _batch_run(self, batch, False)
    finally:
        _spent["embedding"] += time.thread_time() - started


def _timed_component(step, inputs):
    started = time.thread_time()
    try:
        return _component_run(step, inputs)
    finally:
        _spent[step.name] = _spent.get(step.name, 0.0) + time.thread_time() - started


def _write():
    path = os.environ["WEGWEISER_CPU_SPLIT_FILE"]
    while True:
        time.sleep(0.1)
        with open(path + ".tmp", "w") as out:
            json.dump(dict(_spent), out)
        os.replace(path + ".tmp", path)


_e5.QueryBatcher._run = _timed_batch
_fast_path.FastPath._run_component = staticmethod(_timed_component)
threading.Thread(target=_write, daemon=True).start()
"""
WARM_UP_REQUESTS = 200


def _process_cpu(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process (ended threads included)."""
    times = psutil.Process(pid).cpu_times()
    return times.user, times.system


def _context_switches(pid: int) -> int:
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            for line in Path(f"/proc/{pid}/task/{tid}/status").read_text().splitlines():
                if "ctxt_switches:" in line:
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def _probe(path: Path) -> dict[str, float]:
    time.sleep(0.3)  # the probe writes every 0.1 s
    return json.loads(path.read_text())


def measure(requests: int, rounds: int, concurrency: int, warm_up: int = WARM_UP_REQUESTS) -> dict[str, Any]:
    """Rounds of uncached asks against one server (after ``warm_up`` asks); per round the CPU split per request."""
    probe_file = Path(tempfile.mkstemp(prefix="wegweiser-cpu-split-", suffix=".json")[1])
    measured: list[dict[str, Any]] = []
    # The server inherits this environment: where its probe writes, and no answer cache (every ask is answered).
    server_env = {"WEGWEISER_CPU_SPLIT_FILE": str(probe_file), "WEGWEISER_ANSWER_CACHE_SIZE": "0"}
    try:
        with patch.dict(os.environ, server_env), \
                running_server(get_settings(), code=PROBE_CODE + SERVE_CODE) as server:
            pid = server.process.pid
            asyncio.run(fire(server.url, workload("ask", warm_up, seed=5), concurrency))
            for _ in range(rounds):
                before, cpu_before = _probe(probe_file), _process_cpu(pid)
                threads_before, switches_before = thread_cpu_s(pid), _context_switches(pid)
                outcomes, seconds = asyncio.run(fire(server.url, workload("ask", requests), concurrency))
                cpu_after, threads_after, switches_after = _process_cpu(pid), thread_cpu_s(pid), _context_switches(pid)
                after = _probe(probe_file)
                summary = summarize(outcomes, seconds)

                def per_request(seconds_spent: float) -> float:
                    return round(seconds_spent * 1000 / requests, 3)

                spent = {name: after[name] - before.get(name, 0.0) for name in after}
                embedding = spent.pop("embedding")
                # The text embedder's run holds the embedding; what is left of it is the embedder's own work.
                spent["text_embedder"] = spent.get("text_embedder", 0.0) - embedding
                server_cpu = sum(cpu_after) - sum(cpu_before)
                event_loop = threads_after.get(pid, 0.0) - threads_before.get(pid, 0.0)
                components = sum(spent.values())
                measured.append({
                    "requests_per_s": summary["requests_per_s"], "errors": summary["errors"],
                    "server_ms": per_request(server_cpu), "system_ms": per_request(cpu_after[1] - cpu_before[1]),
                    "embedding_ms": per_request(embedding),
                    "beyond_embedding_ms": per_request(server_cpu - embedding),
                    "event_loop_ms": per_request(event_loop),
                    "components_ms": {name: per_request(value) for name, value in
                                      sorted(spent.items(), key=lambda item: -item[1])},
                    "rest_ms": per_request(server_cpu - embedding - components - event_loop),
                    "context_switches": round((switches_after - switches_before) / requests, 1),
                })
    finally:
        probe_file.unlink(missing_ok=True)
        Path(f"{probe_file}.tmp").unlink(missing_ok=True)
    keys = [k for k in measured[0] if k != "components_ms"]
    summary_all = {k: _spread([m[k] for m in measured]) for k in keys}
    summary_all["components_ms"] = {name: _spread([m["components_ms"].get(name, 0.0) for m in measured])
                                    for name in measured[0]["components_ms"]}
    return {"requests": requests, "rounds": rounds, "concurrency": concurrency, "median_and_range": summary_all,
            "rounds_measured": measured}


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": min(values), "max": max(values)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="asks per round (default 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (default 3)")
    parser.add_argument("--concurrency", type=int, default=8, help="connections (default 8)")
    parser.add_argument("--warm-up", type=int, default=WARM_UP_REQUESTS, help="asks before measuring (default 200)")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "cpu_split.json")
    args = parser.parse_args(argv)
    report = measure(args.requests, args.rounds, args.concurrency, args.warm_up)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    table = report["median_and_range"]
    for key, value in table.items():
        if key == "components_ms":
            for name, spread in value.items():
                print(f"  {name:<22} {spread['median']:8.3f} ms  ({spread['min']}–{spread['max']})")
        else:
            print(f"{key:<24} {value['median']:8.3f}     ({value['min']}–{value['max']})")
    print(f"Wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
