"""Soak test: many mixed requests against a real server, watching errors, latency and memory growth.

Usage: ``python -m eval.soak --requests 10000 --concurrency 32`` (uses the configured store, like
``wegweiser serve``; refuses to run while another process holds the embedded store). Alternating
``POST /api/ask`` and ``GET /api/search`` with the evaluation questions of every language; the server's
resident memory is recorded before and after a warm-up (every distinct request once), after every 1000
requests and at the end. Writes
``eval/results/soak.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from eval.bench import (
    RESULTS_DIR,
    Outcome,
    Progress,
    RssSampler,
    fire,
    latency_summary,
    mixed_workload,
    run_cli,
    running_server,
)
from pipelines.settings import Settings, get_settings

MEMORY_EVERY = 1000


def run_soak(settings: Settings, requests: int = 10_000, concurrency: int = 32,
             memory_every: int = MEMORY_EVERY, progress: Progress | None = None) -> dict[str, Any]:
    """Start a server, send the mixed workload, stop the server.

    :param progress: called with (requests done, requests total).

    :returns: errors, latency percentiles (overall and per endpoint) and the memory timeline.
    :raises BenchError: when the soak cannot run (store locked, no index, server did not start).
    """
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    calls = mixed_workload(requests)
    # Every distinct request once before measuring: that fills the bounded caches (answers, records) the way
    # a server's first minutes in service do, so the timeline shows growth in steady state, not the cache fill.
    distinct = list({(c.target, repr(sorted(c.payload.items()))): c for c in calls}.values())
    with running_server(settings) as server, RssSampler(server.process.pid) as sampler:
        before_warm_up = round(sampler.rss() / 1e6, 1)
        warm_up_outcomes, _ = asyncio.run(fire(server.url, distinct, concurrency, None, None))
        memory = [{"requests": 0, "rss_mb": round(sampler.rss() / 1e6, 1)}]
        done = 0

        def on_result(_: Outcome) -> None:
            nonlocal done
            done += 1
            if done % memory_every == 0 and done < len(calls):
                memory.append({"requests": done, "rss_mb": round(sampler.rss() / 1e6, 1)})

        outcomes, seconds = asyncio.run(fire(server.url, calls, concurrency, progress, on_result))
        memory.append({"requests": len(outcomes), "rss_mb": round(sampler.rss() / 1e6, 1)})
        peak = sampler.peak
    start, end = memory[0]["rss_mb"], memory[-1]["rss_mb"]
    errors = Counter(f"{o.call.target} {o.status}" for o in outcomes if o.status != "200")
    by_target = {target: latency_summary([o.latency_ms for o in outcomes if o.status == "200"
                                          and o.call.target == target]) for target in ("ask", "search")}
    return {
        "started": started, "requests": len(outcomes),
        "concurrency": concurrency, "seconds": round(seconds, 1),
        "requests_per_s": round(len(outcomes) / seconds, 2) if seconds else None,
        "build": server.ready.get("build"), "answer_cache_size": settings.answer_cache_size,
        "errors": sum(errors.values()), "errors_by_status": dict(sorted(errors.items())),
        "latency_ms": {"all": latency_summary([o.latency_ms for o in outcomes if o.status == "200"]),
                       **by_target},
        "warm_up": {"requests": len(distinct), "errors": sum(o.status != "200" for o in warm_up_outcomes),
                    "rss_mb_before": before_warm_up},
        "memory_mb": memory, "peak_rss_mb": round(peak / 1e6, 1),
        "memory_growth_percent": round(100 * (end - start) / start, 1) if start else None,
        "memory_growth_with_warm_up_percent": round(100 * (end - before_warm_up) / before_warm_up, 1)
        if before_warm_up else None,
    }


def soak_table(report: dict[str, Any]) -> Table:
    """The report as a rich table."""
    table = Table(title=f"Soak: {report['requests']} requests, concurrency {report['concurrency']}, "
                        f"{report['seconds']:.0f} s, {report['requests_per_s']:.1f} req/s")
    table.add_column("measure")
    table.add_column("value", justify="right")
    errors = ", ".join(f"{k}: {v}" for k, v in report["errors_by_status"].items())
    table.add_row("errors", f"{report['errors']}" + (f" ({errors})" if errors else ""))
    for name, lat in report["latency_ms"].items():
        if lat["median"] is not None:
            table.add_row(f"{name} p50 / p99 ms", f"{lat['median']:.0f} / {lat['p99']:.0f}")
    table.add_row("memory MB (start → every 1000 → end)",
                  " → ".join(f"{m['rss_mb']:.0f}" for m in report["memory_mb"]))
    warm_up = report["warm_up"]
    table.add_row("warm-up (every distinct request once)",
                  f"{warm_up['requests']} requests, {warm_up['errors']} errors, "
                  f"memory {warm_up['rss_mb_before']:.0f} → {report['memory_mb'][0]['rss_mb']:.0f} MB")
    table.add_row("memory growth after warm-up", f"{report['memory_growth_percent']:+.1f} %")
    table.add_row("memory growth incl. warm-up", f"{report['memory_growth_with_warm_up_percent']:+.1f} %")
    table.add_row("peak RSS MB", f"{report['peak_rss_mb']:.0f}")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="Requests in total (default 10000).")
    parser.add_argument("--concurrency", type=int, default=32, help="Connections at once (default 32).")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "soak.json", help="JSON report.")
    args = parser.parse_args(argv)
    console = Console()
    console.print(f"Soak: {args.requests} mixed requests with concurrency {args.concurrency} against a "
                  "server on 127.0.0.1 (it warms up first) …")
    return run_cli("Soak", lambda progress: run_soak(get_settings(), args.requests, args.concurrency,
                                                     progress=progress),
                   soak_table, args.output, console, total=args.requests)


if __name__ == "__main__":
    raise SystemExit(main())
