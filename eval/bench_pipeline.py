"""In-process pipeline benchmark: cold start, warm latency of ask and search, resident memory.

Usage: ``python -m eval.bench_pipeline [--rounds 2] [--limit N]`` (uses the configured store; refuses to run
while another process holds the embedded store). No HTTP: this measures the pipelines alone.

* cold start: wall time from spawning a fresh ``python -c`` that imports the pipelines, builds the serving
  state and answers one question, until that answer is printed (the child also reports its own phases);
* warm latency (median, p95) of ``ask`` for German questions, of ``ask`` in the languages of the translation
  memory, and of ``search`` for every question — over the evaluation questions, several rounds, after a
  warm-up on a few questions of each kind;
* resident memory (RSS) after the warm-up and at the end.

Writes ``eval/results/bench_pipeline.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

from eval.bench import RESULTS_DIR, BenchError, check_store_free, latency_summary, run_cli
from eval.questions import Question, load_questions
from pipelines.settings import SUPPORTED_LANGUAGES, Settings, get_settings

COLD_QUESTION = "Wo finde ich einen Dolmetscher für den Arztbesuch?"
_COLD_START = """
import json, time
t0 = time.perf_counter()
from pipelines.query import ask
from pipelines.serving import ServingState
from pipelines.settings import get_settings
t1 = time.perf_counter()
served = ServingState(get_settings()).current()
t2 = time.perf_counter()
answer = ask(served.ask, {question!r}, "de")
t3 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "load_s": t2 - t1, "first_answer_s": t3 - t2,
                  "answered": answer["answered"], "citations": len(answer["citations"])}}), flush=True)
"""
#: Languages answered from the curated translation memory (everything supported but German).
MEMORY_LANGUAGES = tuple(lang for lang in SUPPORTED_LANGUAGES if lang != "de")
#: Questions per group run once before measuring.
WARMUP_QUESTIONS = 10


def measure_cold_start(timeout_s: float = 600.0) -> dict[str, Any]:
    """Spawn a fresh interpreter that imports, loads the served build and answers one question.

    :raises BenchError: when the child fails.
    """
    env = dict(os.environ)  # telemetry is already off here (pipelines.offline); the child inherits that
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _COLD_START.format(question=COLD_QUESTION)], env=env,
                          capture_output=True, text=True, timeout=timeout_s)
    wall = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise BenchError(f"the cold-start process failed ({done.returncode}):\n{done.stderr[-2000:]}")
    phases = json.loads(lines[-1])
    rounded = {k: round(v, 2) if isinstance(v, float) else v for k, v in phases.items()}
    return {"wall_s": round(wall, 2), **rounded}


def _timed(run: Callable[[], Any]) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000


def measure_warm(settings: Settings, questions: list[Question], rounds: int,
                 progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Latency of ask and search over the questions (after a warm-up), and resident memory."""
    from pipelines.query import ask, search
    from pipelines.serving import ServingState

    served = ServingState(settings).current()
    groups = {"ask_de": [q for q in questions if q.lang == "de"],
              "ask_memory_languages": [q for q in questions if q.lang in MEMORY_LANGUAGES],
              "search": questions}
    def run_ask(q: Question) -> object:
        return ask(served.ask, q.question, q.lang, q.simple)

    runs: dict[str, Callable[[Question], object]] = {
        "ask_de": run_ask,
        "ask_memory_languages": run_ask,
        "search": lambda q: search(served.search, q.question, 10, q.lang),
    }
    warmup = {group: subset[:WARMUP_QUESTIONS] for group, subset in groups.items()}
    total = sum(len(s) for s in warmup.values()) + rounds * sum(len(s) for s in groups.values())
    done = 0
    timings: dict[str, list[float]] = {group: [] for group in groups}
    process = psutil.Process()
    # Round 0 warms up (models, caches, first allocations) on a few questions per group; it is not counted.
    for round_number in range(1 + rounds):
        for group, subset in (warmup if round_number == 0 else groups).items():
            for q in subset:
                ms = _timed(lambda q=q, group=group: runs[group](q))
                if round_number:
                    timings[group].append(ms)
                done += 1
                if progress:
                    progress(done, total)
        if round_number == 0:
            rss_warm = process.memory_info().rss
    return {"build": served.build, "rounds": rounds,
            "latency_ms": {group: {"n": len(values), **latency_summary(values)} for group, values in timings.items()},
            "rss_after_warmup_mb": round(rss_warm / 1e6, 1),
            "rss_end_mb": round(process.memory_info().rss / 1e6, 1)}


def bench_table(report: dict[str, Any]) -> Table:
    """The report as a rich table."""
    cold = report["cold_start"]
    table = Table(title=f"Pipelines in-process ({report['warm']['rounds']} warm rounds, "
                        f"{report['cpus']} CPUs)")
    table.add_column("measure")
    table.add_column("n", justify="right")
    table.add_column("median ms", justify="right")
    table.add_column("p95 ms", justify="right")
    table.add_column("max ms", justify="right")
    for group, row in report["warm"]["latency_ms"].items():
        table.add_row(group, str(row["n"]), *(f"{row[k]:.0f}" if row[k] is not None else "–"
                                              for k in ("median", "p95", "max")))
    table.add_row("cold start to first answer", "1", f"{cold['wall_s'] * 1000:.0f}", "", "")
    warm = report["warm"]
    table.caption = (f"cold start {cold['wall_s']:.1f} s (import {cold['import_s']:.1f} s, load and warm-up "
                     f"{cold['load_s']:.1f} s, first answer {cold['first_answer_s']:.2f} s); RSS after "
                     f"warm-up {warm['rss_after_warmup_mb']:.0f} MB, at the end {warm['rss_end_mb']:.0f} MB")
    return table


def run_pipeline_bench(settings: Settings, rounds: int = 2, limit: int | None = None,
                       progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Cold start first (the child needs the embedded store to itself), then the warm measurements here.

    :param limit: use only ``limit`` questions, spread over the languages (for a quick check).
    :raises BenchError: when the store is locked by another process or the child fails.
    """
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    check_store_free(settings)
    questions = load_questions()
    if limit:  # every n-th question, so that a quick run still covers every language
        questions = questions[:: max(1, len(questions) // limit)][:limit]
    cold = measure_cold_start()
    warm = measure_warm(settings, questions, rounds, progress)
    return {"started": started, "cpus": os.cpu_count(),
            "questions": len(questions), "cold_start": cold, "warm": warm}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_pipeline",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="Warm rounds over the questions (default 2).")
    parser.add_argument("--limit", type=int, default=None, help="Use only N questions (all languages).")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "bench_pipeline.json",
                        help="JSON report.")
    args = parser.parse_args(argv)
    console = Console()
    console.print("Cold start in a fresh process first, then warm rounds in this one …")
    return run_cli("Pipelines", lambda progress: run_pipeline_bench(get_settings(), args.rounds, args.limit,
                                                                  progress),
                   bench_table, args.output, console)


if __name__ == "__main__":
    raise SystemExit(main())
