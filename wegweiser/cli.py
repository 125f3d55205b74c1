"""The ``wegweiser`` command line: ingest, serve, ask, search, offices, eval, bench, models, tm, gaps."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipelines.settings import get_settings

app = typer.Typer(help="Wegweiser Jena: the cited, multilingual guide to the City of Jena's Integrationskonzept.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
models_app = typer.Typer(help="Manage argostranslate models for languages without a curated translation.",
                         no_args_is_help=True)
tm_app = typer.Typer(help="The translation memory: coverage and work lists for translators.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(tm_app, name="tm")
console = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]Error:[/] {message}")
    raise typer.Exit(code)


@app.command()
def ingest(
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when the corpus is unchanged.")] = False,
) -> None:
    """Validate corpus/ and (re)build the index; skipped when nothing changed."""
    from ingest.errors import CorpusError
    from ingest.indexer import run_ingest
    from pipelines.store import StoreUnavailableError

    settings = get_settings()
    with Progress(TextColumn("[bold]Embedding"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as bar:
        task = bar.add_task("embed", total=None)
        try:
            report = run_ingest(settings, force=force,
                                progress=lambda done, total: bar.update(task, completed=done, total=total))
        except CorpusError as exc:
            _fail(f"{exc}\nThe served index was left untouched.", 2)
        except StoreUnavailableError as exc:
            _fail(str(exc), 3)
    _print_ingest_report(report)


def _print_ingest_report(report) -> None:  # type: ignore[no-untyped-def]
    if report.skipped:
        console.print(f"[green]Corpus unchanged[/] — the served index [bold]{report.build}[/] is current "
                      f"(checked in {report.seconds:.1f} s). Use --force to rebuild.")
    table = Table(title="Units per kind")
    table.add_column("kind")
    table.add_column("units", justify="right")
    for kind, count in sorted(report.units_by_kind.items()):
        table.add_row(kind, str(count))
    table.add_row("[bold]total", f"[bold]{sum(report.units_by_kind.values())}")
    console.print(table)
    fields = Table(title="Units per action field")
    fields.add_column("field")
    fields.add_column("units", justify="right")
    for name, count in report.units_by_field.items():
        fields.add_row(name, str(count))
    console.print(fields)
    coverage = Table(title="Translation memory")
    for column in ("language", "current", "stale", "missing", "indexed documents"):
        coverage.add_column(column, justify="right" if column != "language" else "left")
    for lang, row in sorted(report.coverage.items()):
        coverage.add_row(lang, f"{row['fresh']}/{row['total']}", str(row["stale"]), str(row["missing"]),
                         str(report.documents_by_language.get(lang, "–")))
    console.print(coverage)
    if not report.skipped:
        size = f", {report.size_bytes / 1e6:.1f} MB on disk" if report.size_bytes else ""
        console.print(f"[green]Built[/] [bold]{report.build}[/]: {report.documents} documents "
                      f"({report.embedded} embedded, {report.reused} reused) in {report.seconds:.1f} s{size}.")
        if report.previous:
            console.print(f"Switched the aliases from {report.previous}; dropped {len(report.dropped)} old "
                          "collections.")


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar="HOST", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PORT", help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (embedded store: 1).")] = 1,
) -> None:
    """Serve the API, the widget, the demo page and the staff page."""
    import uvicorn

    settings = get_settings()
    if workers > 1 and not settings.qdrant_url:
        _fail("the embedded store can be opened by one process only: use --workers 1 or WEGWEISER_QDRANT_URL")
    uvicorn.run("api.main:create_app", factory=True, host=host, port=port, workers=workers,
                access_log=False, log_level="info")


def _progress(label: str) -> Progress:
    return Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


@app.command("eval")
def eval_command(
    split: Annotated[str, typer.Option(help="Question split to score: test (default) or dev.")] = "test",
    calibrate: Annotated[bool, typer.Option("--calibrate", help="First fit the abstention decision on the dev "
                                                                "split, then score.")] = False,
    output: Annotated[Path | None, typer.Option(help="Folder for latest.json/latest.md/plots.")] = None,
) -> None:
    """Score the real pipeline and two baselines on the multilingual question set."""
    from eval.calibrate import calibrate as fit
    from eval.questions import load_questions
    from eval.report import RESULTS_DIR, write_report
    from eval.runner import run_questions, summarize
    from pipelines.query import load_calibration
    from pipelines.store import IndexNotReadyError, StoreUnavailableError

    if split not in ("test", "dev"):
        _fail("--split must be test or dev")
    settings = get_settings()
    try:
        if calibrate:
            questions = load_questions(split="dev")
            with _progress("Calibrating on dev") as bar:
                task = bar.add_task("dev", total=len(questions))
                result = fit(settings, questions, progress=lambda done, total: bar.update(task, completed=done))
            console.print(f"Ranking and abstention fitted on {result['questions']} dev questions "
                          f"({result['unanswerable']} unanswerable); threshold {result['threshold']}.")
        questions = load_questions(split=split)
        with _progress(f"Evaluating {split}") as bar:
            task = bar.add_task(split, total=len(questions))
            run = run_questions(settings, questions, lambda done, total: bar.update(task, completed=done))
    except (IndexNotReadyError, StoreUnavailableError) as exc:
        _fail(str(exc), 3)
    report = summarize(run)
    paths = write_report(report, output or RESULTS_DIR, load_calibration().get("threshold"))
    _print_eval(report)
    console.print("Wrote " + ", ".join(str(p) for p in paths))


def _print_eval(report: dict) -> None:  # type: ignore[type-arg]
    systems = list(report["overall"]["systems"])
    table = Table(title=f"Evaluation ({report['split']} split, {report['overall']['questions']} questions)")
    for column in ("group", "n", *[f"hit@5 {s}" for s in systems], "hit@1", "MRR", "nDCG@5", "abstain P/R",
                   "office", "lang", "median ms"):
        table.add_column(column, justify="left" if column == "group" else "right")
    for name, block in [("overall", report["overall"]), *report["by_language"].items()]:
        full = block["systems"]["full"]
        if not full:
            continue
        table.add_row(name, str(full["n"]), *[f"{block['systems'][s]['hit@5']:.3f}" for s in systems],
                      f"{full['hit@1']:.3f}", f"{full['mrr']:.3f}", f"{full['ndcg@5']:.3f}",
                      f"{block['abstention_precision']:.2f}/{block['abstention_recall']:.2f}",
                      "–" if block["office_accuracy"] is None else f"{block['office_accuracy']:.2f}",
                      "–" if block["answer_language"] is None else f"{block['answer_language']:.2f}",
                      f"{block['latency_median_ms']:.0f}")
    console.print(table)


@app.command()
def version() -> None:
    """Print the version."""
    from importlib.metadata import version as package_version

    console.print(package_version("wegweiser-jena"))


def main() -> None:  # pragma: no cover - entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


