"""``wegweiser bench`` end to end: a real server subprocess on a copy of the session's store, a small load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from pipelines.edge import copy_store
from pipelines.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_bench_reports_a_small_search_load_without_errors(ingested_settings: Settings,
                                                          tmp_path: Path) -> None:
    # The session's store is open in this process; the benchmark's server needs a store of its own.
    store = tmp_path / "qdrant"
    copy_store(ingested_settings.qdrant_path, store)
    report_path = tmp_path / "bench.json"
    env = {**os.environ, "WEGWEISER_QDRANT_PATH": str(store), "WEGWEISER_ARGOS_DIR": str(tmp_path / "argos"),
           "WEGWEISER_GAPS_PATH": str(tmp_path / "gaps.jsonl"), "COLUMNS": "160"}
    env.pop("WEGWEISER_QDRANT_URL", None)

    done = subprocess.run(
        [str(Path(sys.executable).with_name("wegweiser")), "bench", "--requests", "50", "--concurrency", "4",
         "--target", "search", "--output", str(report_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr
    report = json.loads(report_path.read_text(encoding="utf-8"))
    search = report["targets"]["search"]
    assert list(report["targets"]) == ["search"]
    assert search["requests"] == 50 and search["errors"] == 0 and search["errors_by_status"] == {}
    assert search["requests_per_s"] > 0 and search["peak_rss_mb"] > 0
    assert 0 < search["latency_ms"]["median"] <= search["latency_ms"]["p95"] <= search["latency_ms"]["max"]
    assert "req/s" in done.stdout and "search" in done.stdout  # the table for the operator
    # The run states its own floor, and the request figures as multiples of it.
    floor = report["floor"]
    assert 0 < floor["latency_ms"] <= min(floor["median_ms_by_threads"].values()) + 0.01
    assert search["ratios"]["p50_over_floor"] == round(search["latency_ms"]["median"] / floor["latency_ms"], 2)
    assert search["ratios"]["p50_over_floor"] >= 1  # a request embeds its question, and does more
    assert 0 < search["ratios"]["throughput_over_limit"] <= 1.5
    assert report["server"]["start_to_first_answer_s"] > 0
    # Where the cores went: the server's CPU per request holds at least its embedding; the load generator's is
    # reported beside it, as it shares the cores.
    assert search["cpu_ms_per_request"]["server"] > 0.5 * floor["cpu_ms"]
    assert 0 <= search["cpu_ms_per_request"]["load_generator"] < search["cpu_ms_per_request"]["server"]
    assert "× floor" in done.stdout


def test_the_cpu_split_counts_the_embedding_and_every_component_of_a_served_question(
        ingested_settings: Settings, tmp_path: Path) -> None:
    store = tmp_path / "qdrant"
    copy_store(ingested_settings.qdrant_path, store)
    report_path = tmp_path / "split.json"
    env = {**os.environ, "WEGWEISER_QDRANT_PATH": str(store), "WEGWEISER_ARGOS_DIR": str(tmp_path / "argos"),
           "WEGWEISER_GAPS_PATH": str(tmp_path / "gaps.jsonl"),
           "WEGWEISER_FEEDBACK_PATH": str(tmp_path / "feedback.sqlite3")}
    env.pop("WEGWEISER_QDRANT_URL", None)
    done = subprocess.run([sys.executable, "-m", "eval.bench_cpu_split", "--requests", "30", "--rounds", "1",
                           "--concurrency", "4", "--warm-up", "8", "--output", str(report_path)],
                          cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    split = json.loads(report_path.read_text(encoding="utf-8"))["rounds_measured"][0]
    assert split["errors"] == 0
    # Every question was embedded in the server, and the embedding is most of what a question costs.
    assert split["embedding_ms"] > split["beyond_embedding_ms"] > 0
    components = split["components_ms"]
    assert {"retriever", "ranker", "answer_builder", "language_detector", "text_embedder"} <= components.keys()
    assert all(value > 0 for name, value in components.items() if name != "translator")
    assert split["event_loop_ms"] > 0 and split["context_switches"] > 0
    assert split["server_ms"] == pytest.approx(split["embedding_ms"] + split["beyond_embedding_ms"], abs=0.01)


def test_bench_refuses_a_local_mode_store_another_process_holds(tmp_path: Path) -> None:
    # qdrant-client's local mode (the reference engine) admits one process: this test process holds a store
    # open, exactly like a running `wegweiser serve` would. (Qdrant Edge, the default, lets every process read.)
    held = QdrantClient(path=str(tmp_path / "qdrant"))
    env = {**os.environ, "WEGWEISER_QDRANT_PATH": str(tmp_path / "qdrant"), "WEGWEISER_STORE_ENGINE": "local",
           "COLUMNS": "200"}
    env.pop("WEGWEISER_QDRANT_URL", None)
    try:
        done = subprocess.run([str(Path(sys.executable).with_name("wegweiser")), "bench", "--requests", "5",
                               "--output", str(tmp_path / "bench.json")],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    finally:
        held.close()

    assert done.returncode == 3
    assert "in use by another process" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "bench.json").exists()
