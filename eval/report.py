"""Write the evaluation report: ``latest.json``, ``latest.md`` and PNG plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SYSTEM_LABELS = {"full": "Wegweiser (hybrid + memory)", "bm25-de": "BM25, German only",
                 "dense-de": "dense only, German"}


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown page."""
    systems = list(report["overall"]["systems"])
    lines = [f"# Evaluation — {report['split']} split", "",
             f"Build `{report['build']}`, {report['overall']['questions']} questions, {report['seconds']} s.", "",
             "## Retrieval (answerable questions)", "",
             "| group | n | " + " | ".join(f"hit@5 {s}" for s in systems) + " | hit@1 | hit@3 | MRR | nDCG@5 |",
             "|---|---|" + "---|" * len(systems) + "---|---|---|---|"]
    rows = [("overall", report["overall"]), *report["by_language"].items()]
    for name, block in rows:
        full = block["systems"].get("full") or {}
        if not full:
            continue
        lines.append(f"| {name} | {full.get('n', 0)} | "
                     + " | ".join(_pct((block["systems"].get(s) or {}).get("hit@5")) for s in systems)
                     + f" | {_pct(full.get('hit@1'))} | {_pct(full.get('hit@3'))} | {_pct(full.get('mrr'))} | "
                       f"{_pct(full.get('ndcg@5'))} |")
    lines += ["", "## Decisions and answers (full system)", "",
              "| group | abstention precision | abstention recall | abstention accuracy | office accuracy | "
              "office first | answer language | simple compliance | latency median ms | p95 ms |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for name, block in rows:
        lines.append(f"| {name} | {_pct(block['abstention_precision'])} | {_pct(block['abstention_recall'])} | "
                     f"{_pct(block['abstention_accuracy'])} | {_pct(block['office_accuracy'])} | "
                     f"{_pct(block['office_first'])} | {_pct(block['answer_language'])} | "
                     f"{_pct(block['simple_compliance'])} | {_pct(block['latency_median_ms'])} | "
                     f"{_pct(block['latency_p95_ms'])} |")
    lines += ["", "## Resident usefulness (full system)", "",
              "Contact first: for resident questions with an expected service, the first contact card is that "
              "service. Simple parity: a question answered with a card also gets one in Einfache Sprache. "
              "Coverage: full/partial as expected (detail questions).", "",
              "| group | contact first | n | simple parity | coverage accuracy | partial answers |",
              "|---|---|---|---|---|---|"]
    for name, block in rows:
        lines.append(f"| {name} | {_pct(block.get('contact_first'))} | {block.get('contact_first_n', 0)} | "
                     f"{_pct(block.get('simple_contact_parity'))} | {_pct(block.get('coverage_accuracy'))} | "
                     f"{block.get('partial_answers', 0)} |")
    same = report.get("same_first_contact") or {}
    if same:
        lines += ["", f"Same first contact across the eight languages ({same['questions']} questions asked in "
                      f"every language): overall {_pct(same['overall'])}; "
                  + ", ".join(f"{lang} {_pct(v)}" for lang, v in same["by_language"].items()) + "."]
    practical = report.get("practical_by_language") or {}
    if practical:
        lines += ["", "## Practical newcomer questions per language (full system)", "",
                  "| language | n | hit@1 | hit@5 | contact first | answered (all are answerable) |",
                  "|---|---|---|---|---|---|"]
        for name, block in practical.items():
            full = block["systems"].get("full") or {}
            lines.append(f"| {name} | {full.get('n', 0)} | {_pct(full.get('hit@1'))} | {_pct(full.get('hit@5'))} | "
                         f"{_pct(block.get('contact_first'))} | {_pct(block.get('abstention_accuracy'))} |")
    lines += ["", "## Per action field (full system)", "", "| field | n | hit@1 | hit@5 | MRR |",
              "|---|---|---|---|---|"]
    for name, block in report["by_field"].items():
        full = block["systems"].get("full") or {}
        if full:
            lines.append(f"| {name} | {full['n']} | {_pct(full['hit@1'])} | {_pct(full['hit@5'])} | "
                         f"{_pct(full['mrr'])} |")
    lines += ["", f"## Misses ({len(report['failures'])})", "",
              "Questions whose expected units are not in the top 5, or whose answer/abstain decision is wrong.", "",
              "| id | question | expected | got (top 3) | answered | confidence |", "|---|---|---|---|---|---|"]
    for f in report["failures"]:
        question = f["question"].replace("|", "/")
        lines.append(f"| {f['id']} | {question} | {', '.join(f['expected'][:3])} | {', '.join(f['got'])} | "
                     f"{f['answered']} | {f['confidence']:.3f} |")
    return "\n".join(lines) + "\n"


def plots(report: dict[str, Any], directory: Path, threshold: float | None) -> list[Path]:
    """hit@5 per language and system; confidence of answerable vs unanswerable questions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    paths = []
    groups = [g for g, b in report["by_language"].items() if (b["systems"].get("full") or {}).get("n")]
    systems = list(report["overall"]["systems"])
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / len(systems)
    x = np.arange(len(groups))
    for i, system in enumerate(systems):
        values = [report["by_language"][g]["systems"][system].get("hit@5", 0) for g in groups]
        ax.bar(x + i * width - 0.4 + width / 2, values, width, label=SYSTEM_LABELS.get(system, system))
    ax.set_xticks(x, groups)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("hit@5")
    ax.set_title(f"hit@5 per language and system ({report['split']} split)")
    ax.axhline(0.9, color="grey", linestyle=":", linewidth=1)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path = directory / "hit5_by_language.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)

    fig, ax = plt.subplots(figsize=(8, 4))
    answerable = [s["confidence"] for s in report["scores"] if s["answerable"]]
    unanswerable = [s["confidence"] for s in report["scores"] if not s["answerable"]]
    bins = np.linspace(0, 1, 26)
    ax.hist(answerable, bins=bins, alpha=0.6, label=f"answerable ({len(answerable)})")
    ax.hist(unanswerable, bins=bins, alpha=0.6, label=f"not answerable ({len(unanswerable)})")
    if threshold is not None:
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.2f}")
    ax.set_xlabel("calibrated confidence of the best unit")
    ax.set_ylabel("questions")
    ax.set_title(f"Confidence: answerable vs. not answerable ({report['split']} split)")
    ax.legend()
    fig.tight_layout()
    path = directory / "confidence_distribution.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)
    return paths


def write_report(report: dict[str, Any], directory: Path = RESULTS_DIR, threshold: float | None = None
                 ) -> list[Path]:
    """Write ``latest.json``, ``latest.md`` and the plots; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "latest.json"
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path = directory / "latest.md"
    md_path.write_text(markdown(report), encoding="utf-8")
    return [json_path, md_path, *plots(report, directory, threshold)]
