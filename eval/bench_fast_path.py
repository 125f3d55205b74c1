"""The lean serving path, measured in one run: the fast path against ``Pipeline.run``, and the language detector's
memory with its models loaded lazily against all of them preloaded.

Usage: ``python -m eval.bench_fast_path [--rounds 5] [--per-file 4]`` (uses the configured store, like
``eval.bench_pipeline``: point ``WEGWEISER_QDRANT_PATH`` at a copy while a server holds it).

* Per request, in one process: ``ask`` and ``search`` through ``Pipeline.run`` (``served.ask``) and through the fast
  path (``served.fast_ask``), interleaved per question in a random order, over questions from every question
  file; medians, the 10th and 90th percentiles, and the fast path's time as a share of ``Pipeline.run``'s (the
  ratio of the medians and the distribution of the per-question ratios). The answers of both are compared too.
* The language detector, in two fresh processes started by this run: as shipped (models loaded when a question
  needs them, the Latin-script ones at warm-up) and with every model preloaded (as before): resident memory after
  warm-up and after detecting every eval question, warm-up time, and whether every decision is the same — on the
  eval questions and, as a wider check, on the corpus's search questions and out-of-scope phrasings.

Writes ``eval/results/fast_path.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from eval.bench import RESULTS_DIR, BenchError, percentile
from eval.followups import load_conversations
from eval.questions import Question, load_questions
from pipelines.settings import PROJECT_ROOT, Settings, get_settings

RESULT_FILE = RESULTS_DIR / "fast_path.json"

_DETECTOR_PROCESS = """
import json, sys, time
import psutil
from pipelines.components import query_language_detector as module

if sys.argv[1] == "preloaded":  # as before: all eight languages' models loaded when the detector is built
    from functools import lru_cache
    from lingua import Language, LanguageDetectorBuilder

    @lru_cache(maxsize=4)
    def preloaded(languages):
        chosen = [getattr(Language, module._LINGUA_NAMES[lang]) for lang in languages]
        return LanguageDetectorBuilder.from_languages(*chosen).with_preloaded_language_models().build()

    module._lingua_detector = preloaded
texts = json.loads(sys.stdin.read())
process = psutil.Process()
rss = lambda: process.memory_info().rss / 1e6
detector = module.QueryLanguageDetector()
before = rss()
started = time.perf_counter()
detector.warm_up()
warm_up_s = time.perf_counter() - started
after_warm_up = rss()
eval_decisions = [detector.run(text=t) for t in texts["eval"]]
after_eval = rss()
wider_decisions = [detector.run(text=t)["detected_language"] for t in texts["wider"]]
print(json.dumps({"warm_up_s": round(warm_up_s, 2), "rss_warm_up_mb": round(after_warm_up - before, 1),
                  "rss_after_eval_mb": round(after_eval - before, 1),
                  "rss_after_wider_mb": round(rss() - before, 1),
                  "eval": eval_decisions, "wider": wider_decisions}))
"""


def spread(values: list[float]) -> dict[str, float | None]:
    """Median with the 10th and 90th percentiles (ms, rounded to 0.01)."""
    return {name: None if (v := percentile(values, q)) is None else round(v, 2)
            for name, q in (("p10", 10), ("median", 50), ("p90", 90))}


def sample_questions(per_file: int) -> list[Question]:
    """``per_file`` questions spread over each question file (every language, staff, simple, out of scope …)."""
    by_file: dict[str, list[Question]] = {}
    for question in load_questions():
        by_file.setdefault(question.source_file, []).append(question)
    return [q for qs in by_file.values() for q in qs[:: max(1, len(qs) // per_file)][:per_file]]


def _timed(run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = run()
    return (time.perf_counter() - started) * 1000, result


def compare_paths(settings: Settings, questions: list[Question], rounds: int, seed: int = 0) -> dict[str, Any]:
    """Per-request time of ``Pipeline.run`` and of the fast path, interleaved, after one uncounted round."""
    from pipelines.query import ask, search
    from pipelines.serving import ServingState

    served = ServingState(settings).current()
    paths = {
        "ask": {"pipeline_run": lambda q: ask(served.ask, q.question, None, q.simple),
                "fast_path": lambda q: ask(served.fast_ask, q.question, None, q.simple)},
        "search": {"pipeline_run": lambda q: search(served.search, q.question, 10, q.lang),
                   "fast_path": lambda q: search(served.fast_search, q.question, 10, q.lang)},
    }
    order = random.Random(seed)
    timings = {kind: {path: [] for path in runs} for kind, runs in paths.items()}
    ratios: dict[str, list[float]] = {kind: [] for kind in paths}
    identical = {kind: 0 for kind in paths}
    for round_number in range(1 + rounds):  # round 0 warms caches and allocations up
        for question in questions:
            for kind, runs in paths.items():
                names = list(runs)
                order.shuffle(names)
                measured = {name: _timed(lambda run=runs[name], q=question: run(q)) for name in names}
                if not round_number:
                    continue
                for name, (ms, _) in measured.items():
                    timings[kind][name].append(ms)
                ratios[kind].append(measured["fast_path"][0] / measured["pipeline_run"][0])
                identical[kind] += json.dumps(measured["fast_path"][1], ensure_ascii=False) == \
                    json.dumps(measured["pipeline_run"][1], ensure_ascii=False)
    report: dict[str, Any] = {"build": served.build, "questions": len(questions), "rounds": rounds}
    for kind in paths:
        pipeline_ms, fast_ms = (spread(timings[kind][path]) for path in ("pipeline_run", "fast_path"))
        report[kind] = {
            "pipeline_run_ms": pipeline_ms, "fast_path_ms": fast_ms,
            "ratio_of_medians": round(fast_ms["median"] / pipeline_ms["median"], 3),
            "saved_ms_median": round(pipeline_ms["median"] - fast_ms["median"], 2),
            "per_request_ratio": {k: None if v is None else round(v, 3) for k, v in
                                  ((n, percentile(ratios[kind], q)) for n, q in (("p10", 10), ("median", 50),
                                                                                  ("p90", 90)))},
            "identical_answers": f"{identical[kind]}/{len(ratios[kind])}",
        }
    return report


def detector_texts() -> dict[str, list[str]]:
    """The eval questions (with both turns of each follow-up conversation), and a wider set: the corpus's
    search questions and out-of-scope phrasings in every language."""
    corpus = PROJECT_ROOT / "corpus"
    wider = [q for path in sorted((corpus / "search_questions").glob("*.yaml"))
             for unit in (yaml.safe_load(path.read_text(encoding="utf-8"))["units"] or {}).values()
             for q in unit.get("questions") or []]
    topics = yaml.safe_load((corpus / "out_of_scope.yaml").read_text(encoding="utf-8"))["topics"]
    wider += [phrase for phrases in topics.values() for phrase in phrases]
    return {"eval": [q.question for q in load_questions()] + [t for c in load_conversations() for t in c.turns],
            "wider": wider}


def compare_detectors(timeout_s: float = 900.0) -> dict[str, Any]:
    """The detector as shipped against all models preloaded, each in a fresh process of this run.

    :raises BenchError: when a child process fails.
    """
    texts = detector_texts()
    runs = {}
    for mode in ("preloaded", "as_shipped"):
        done = subprocess.run([sys.executable, "-c", _DETECTOR_PROCESS, mode], input=json.dumps(texts),
                              capture_output=True, text=True, timeout=timeout_s, cwd=PROJECT_ROOT, env=dict(os.environ))
        if done.returncode != 0:
            raise BenchError(f"the {mode} detector process failed ({done.returncode}):\n{done.stderr[-2000:]}")
        runs[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    before, after = runs["preloaded"], runs["as_shipped"]

    def differing(key: str) -> list[dict[str, Any]]:
        return [{"text": text, "preloaded": a, "as_shipped": b}
                for text, a, b in zip(texts[key], before[key], after[key], strict=True) if a != b]

    return {
        "eval_texts": len(texts["eval"]), "wider_texts": len(texts["wider"]),
        **{mode: {k: v for k, v in run.items() if k not in ("eval", "wider")} for mode, run in runs.items()},
        "identical_eval_decisions": f"{len(texts['eval']) - len(differing('eval'))}/{len(texts['eval'])}",
        "identical_wider_decisions": f"{len(texts['wider']) - len(differing('wider'))}/{len(texts['wider'])}",
        "differing": differing("eval") + differing("wider"),
    }


def bench_table(report: dict[str, Any]) -> Table:
    """The report as a rich table."""
    paths = report["fast_path"]
    table = Table(title=f"Fast path against Pipeline.run ({paths['questions']} questions × {paths['rounds']} rounds, "
                        f"{report['cpus']} CPUs, store engine {report['store_engine']})")
    for column in ("request", "Pipeline.run median (p10–p90) ms", "fast path median (p10–p90) ms",
                   "fast / Pipeline.run", "per-request ratio p10–p90", "identical"):
        table.add_column(column)
    for kind in ("ask", "search"):
        row = paths[kind]
        pipeline, fast, per = row["pipeline_run_ms"], row["fast_path_ms"], row["per_request_ratio"]
        table.add_row(kind, f"{pipeline['median']:.1f} ({pipeline['p10']:.1f}–{pipeline['p90']:.1f})",
                      f"{fast['median']:.1f} ({fast['p10']:.1f}–{fast['p90']:.1f})", f"{row['ratio_of_medians']:.2f}",
                      f"{per['p10']:.2f}–{per['p90']:.2f}", row["identical_answers"])
    detector = report["language_detector"]
    table.caption = (
        f"language detector RSS: warm-up {detector['preloaded']['rss_warm_up_mb']:.0f} → "
        f"{detector['as_shipped']['rss_warm_up_mb']:.0f} MB, after the eval questions "
        f"{detector['preloaded']['rss_after_eval_mb']:.0f} → {detector['as_shipped']['rss_after_eval_mb']:.0f} MB; "
        f"warm-up {detector['preloaded']['warm_up_s']:.1f} → {detector['as_shipped']['warm_up_s']:.1f} s; "
        f"identical decisions {detector['identical_eval_decisions']} (eval), "
        f"{detector['identical_wider_decisions']} (wider)")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds over the questions")
    parser.add_argument("--per-file", type=int, default=4, help="questions taken from each question file")
    args = parser.parse_args(argv)
    settings = get_settings()
    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpus": os.cpu_count(),
        "store_engine": "server" if settings.qdrant_url else getattr(settings, "store_engine", "local"),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
    }
    try:
        report["language_detector"] = compare_detectors()
        report["fast_path"] = compare_paths(settings, sample_questions(args.per_file), args.rounds)
    except BenchError as exc:
        Console(stderr=True).print(f"[red]{exc}[/red]")
        return 1
    RESULT_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULT_FILE.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    Console().print(bench_table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
