"""The ``wegweiser`` command line: ingest, serve, ask, search, offices, eval, bench, models, tm, gaps."""

from __future__ import annotations

import json
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
            if settings.qdrant_url:
                _fail(str(exc), 3)
            # The embedded store is open in a running server: that server does the work (zero downtime).
            report = _ingest_in_server(settings, force, lambda done, total: bar.update(task, completed=done,
                                                                                       total=total))
    _print_ingest_report(report)


def _ingest_in_server(settings, force: bool, progress):  # type: ignore[no-untyped-def]
    import time

    import httpx

    from api.routes.admin import token_path
    from ingest.indexer import IngestReport

    path = token_path(settings)
    if not path.exists():
        _fail(f"the embedded store {settings.qdrant_path} is locked by another process, and no server token "
              f"was found at {path}: stop that process or point WEGWEISER_QDRANT_URL at a Qdrant server", 3)
    base = _server_url()
    headers = {"Authorization": f"Bearer {path.read_text().strip()}"}
    err.print(f"The embedded store is in use by the server at {base}; it re-ingests while it keeps serving.")
    try:
        # An empty JSON body: the API accepts POSTs only as application/json (415 otherwise).
        response = httpx.post(f"{base}/api/admin/reindex", params={"force": force}, json={}, headers=headers,
                              timeout=10)
        if response.status_code not in (202, 409):
            _fail(f"the server refused the re-ingest ({response.status_code}): {response.json().get('detail')}", 3)
        while True:
            state = httpx.get(f"{base}/api/admin/reindex", headers=headers, timeout=10).json()
            if state["total"]:
                progress(state["done"], state["total"])
            if state["state"] in ("done", "failed"):
                break
            time.sleep(0.5)
    except httpx.HTTPError as exc:
        _fail(f"the store is locked and the server at {base} cannot be reached: {exc}", 3)
    if state["state"] == "failed":
        _fail(f"{state['error']}\nThe served index was left untouched.", 2)
    return IngestReport(**state["report"])


def _server_url() -> str:
    import os

    return os.environ.get("WEGWEISER_SERVER_URL", f"http://127.0.0.1:{os.environ.get('PORT', '8000')}").rstrip("/")


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
    workers: Annotated[int, typer.Option(
        help="Worker processes (any number on Qdrant Edge or a server; 1 with the local-mode engine).")] = 1,
) -> None:
    """Serve the API, the widget, the demo page and the staff page."""
    from api.server import serve as run_server

    settings = get_settings()
    if workers > 1 and not settings.qdrant_url and settings.store_engine == "local":
        _fail("the local-mode store can be opened by one process only: use --workers 1, the default engine "
              "(WEGWEISER_STORE_ENGINE=edge) or WEGWEISER_QDRANT_URL")
    # Slow-client deadlines, the connection limit, bounded shutdown and logging: see api/server.py.
    run_server(settings, host, port, workers)


def _progress(label: str) -> Progress:
    return Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


@app.command("eval")
def eval_command(
    split: Annotated[str, typer.Option(help="Question split to score: test (default) or dev.")] = "test",
    calibrate: Annotated[bool, typer.Option("--calibrate", help="First fit the abstention decision on the dev "
                                                                "split, then score.")] = False,
    output: Annotated[Path | None, typer.Option(help="Folder for latest.json/latest.md/plots.")] = None,
    set_baseline: Annotated[bool, typer.Option("--set-baseline", help="Record this run as the regression "
                                                                     "baseline (eval/results/baseline.json).")] = False,
    dataset: Annotated[str, typer.Option(help="jena (default): the Jena question set; omos-qa: OMoS-QA pages and "
                                              "questions (splits dev/train; see eval/omos.py).")] = "jena",
) -> None:
    """Score the real pipeline and two baselines on the multilingual question set."""
    if dataset == "omos-qa":
        _eval_omos(split)
        return
    if dataset != "jena":
        _fail("--dataset must be jena or omos-qa")
    from eval.calibrate import calibrate as fit
    from eval.questions import load_questions
    from eval.report import RESULTS_DIR, write_report
    from eval.runner import run_questions, summarize
    from pipelines.query import load_calibration
    from pipelines.store import IndexNotReadyError, StoreUnavailableError

    if split not in ("test", "dev"):
        _fail("--split must be test or dev")
    if set_baseline and split != "test":
        _fail("the baseline is recorded from the test split")
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
    if set_baseline:
        baseline = {"hit@5": report["overall"]["systems"]["full"]["hit@5"],
                    "abstention_accuracy": report["overall"]["abstention_accuracy"], "build": report["build"],
                    "questions": report["overall"]["questions"]}
        (RESULTS_DIR / "baseline.json").write_text(json.dumps(baseline, indent=2) + "\n", encoding="utf-8")
        paths.append(RESULTS_DIR / "baseline.json")
    _print_eval(report)
    console.print("Wrote " + ", ".join(str(p) for p in paths))


def _eval_omos(split: str) -> None:
    from eval.omos import evaluate, markdown

    if split not in ("dev", "train"):
        _fail("OMoS-QA is scored on dev (or train); its test split is kept back for independent evaluation")
    with _progress(f"OMoS-QA {split}") as bar:
        task = bar.add_task(split, total=None)
        report, paths = evaluate(split, progress=lambda done, total: bar.update(task, completed=done, total=total),
                                 log=console.print)
    console.print(markdown(report))
    console.print("Wrote " + ", ".join(str(p) for p in paths))


@app.command()
def bench(
    requests: Annotated[int, typer.Option(min=1, max=100_000, help="Requests per target.")] = 2000,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Connections at once.")] = 16,
    target: Annotated[str, typer.Option(help="What to load: search, ask or both.")] = "both",
    output: Annotated[Path | None, typer.Option(help="JSON report (default eval/results/bench.json).")
                      ] = None,
    workers: Annotated[int, typer.Option(min=1, max=16, help="Server worker processes.")] = 1,
) -> None:
    """Load-test a real server on 127.0.0.1: requests/s, latency percentiles, errors, peak memory."""
    from eval.bench import (
        RESULTS_DIR,
        TARGETS,
        BenchError,
        report_table,
        run_bench,
        write_report,
    )

    if target not in (*TARGETS, "both"):
        _fail("--target must be search, ask or both")
    targets = list(TARGETS) if target == "both" else [target]
    settings = get_settings()
    err.print("Starting a server on 127.0.0.1 for the run (it warms up first) …")
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as bar:
        tasks = {t: bar.add_task(f"Load {t}", total=requests, start=False) for t in targets}

        def progress(t: str, done: int, total: int) -> None:
            bar.start_task(tasks[t])  # the clock of a target starts with its first answer, not at startup
            bar.update(tasks[t], completed=done)

        try:
            report = run_bench(settings, requests, concurrency, targets, progress=progress, workers=workers)
        except BenchError as exc:
            _fail(str(exc), 3)
    console.print(report_table(report))
    path = write_report(report, output or RESULTS_DIR / "bench.json")
    console.print(f"Wrote {path}")


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


def _open_pipelines(settings):  # type: ignore[no-untyped-def]
    """The served pipelines, or None when the embedded store is held by a running server (use HTTP then)."""
    from pipelines.serving import ServingState
    from pipelines.store import IndexNotReadyError, StoreUnavailableError

    try:
        return ServingState(settings).current()
    except IndexNotReadyError as exc:
        _fail(f"{exc}", 3)
    except StoreUnavailableError as exc:
        if settings.qdrant_url or "in use" not in str(exc):
            _fail(str(exc), 3)
    return None


def _http(method: str, path: str, **kwargs):  # type: ignore[no-untyped-def]
    import httpx

    base = _server_url()
    try:
        response = httpx.request(method, f"{base}{path}", timeout=30, **kwargs)
    except httpx.HTTPError as exc:
        _fail(f"the embedded store is in use by another process and no server answers at {base} ({exc})", 3)
    if response.status_code >= 400:
        _fail(f"{response.status_code}: {response.json().get('detail')}", 1)
    return response.json()


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in any language.")],
    lang: Annotated[str | None, typer.Option("--lang", help="Answer language (ISO 639-1), e.g. uk, ar, sw.")] = None,
    simple: Annotated[bool, typer.Option("--simple", help="Answer in Einfache Sprache.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON of the API contract.")] = False,
) -> None:
    """Ask the assistant; prints the answer with its citations."""
    from api.schemas import AskRequest
    from pipelines.i18n import direction
    from pipelines.query import ask as run_ask

    try:
        request = AskRequest(question=question, lang=lang, simple=simple)
    except ValueError as exc:
        _fail(str(exc).splitlines()[-1], 2)
    settings = get_settings()
    served = _open_pipelines(settings)
    if served is not None:
        answer = run_ask(served.ask, request.question, request.lang, request.simple)
        answer["dir"] = direction(answer["lang"])  # as the API does: the answer's language, not the request's
    else:
        answer = _http("POST", "/api/ask", json=request.model_dump())
    answer.pop("intent", None)
    answer.pop("confidence", None)
    if as_json:
        console.print_json(json.dumps(answer, ensure_ascii=False))
        return
    _print_answer(answer)


def _print_answer(answer: dict) -> None:  # type: ignore[type-arg]
    from rich.panel import Panel

    title = f"[bold]{'Answer' if answer['answered'] else 'Not covered'}[/] · {answer['lang']}"
    if answer["simple"]:
        title += " · Einfache Sprache"
    console.print(Panel(answer["answer"], title=title, expand=False))
    notice = (answer.get("translation") or {}).get("notice")
    if notice:
        console.print(f"[italic]{notice}[/]")
    for office in answer["offices"]:
        name = office["name"] + (f" ({office['name_translated']})" if office.get("name_translated") else "")
        details = "; ".join(f"{item['value']} (Stand {item.get('as_of') or 'unbekannt'})"
                            for items in office["contact"].values() for item in items)
        console.print(f"[bold]Zuständig:[/] {name}" + (f" — {details}" if details else ""))
    for citation in answer["citations"]:
        console.print(f"[bold][{citation['n']}][/] {citation['section']} — [link={citation['url']}]"
                      f"{citation['id']}[/link] ({citation['source']}, Stand {citation['as_of']})")
        console.print(f"    [dim]{citation['text'][:400]}[/]")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Search words.")],
    k: Annotated[int, typer.Option(min=1, max=50, help="Number of hits.")] = 10,
    field: Annotated[str | None, typer.Option(help="Action field, e.g. 2.4.")] = None,
    office: Annotated[str | None, typer.Option(help="Office id, e.g. office/fd-gesundheit.")] = None,
    lang: Annotated[str | None, typer.Option(help="Language of the query (default: detected).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON of the API contract.")] = False,
) -> None:
    """Staff search: the units that match, with their responsible offices."""
    from pipelines.query import search as run_search

    settings = get_settings()
    served = _open_pipelines(settings)
    if served is not None:
        result = run_search(served.search, query, k, lang, field, office)
    else:
        params = {"q": query, "k": k, **({"field": field} if field else {}), **({"office": office} if office else {}),
                  **({"lang": lang} if lang else {})}
        result = _http("GET", "/api/search", params=params)
    if as_json:
        console.print_json(json.dumps(result, ensure_ascii=False))
        return
    table = Table(title=f"{len(result['hits'])} hits for {query!r}")
    for column in ("#", "unit", "section", "responsible", "score"):
        table.add_column(column)
    for i, hit in enumerate(result["hits"], start=1):
        table.add_row(str(i), hit["id"], hit["section"], ", ".join(o["name"] for o in hit["offices"]) or "–",
                      f"{hit['score']:.2f}")
    console.print(table)


@app.command()
def offices(
    office: Annotated[str | None, typer.Argument(help="An office id or slug to list its responsibilities.")] = None,
) -> None:
    """List the responsible offices, or everything one office is responsible for."""
    settings = get_settings()
    served = _open_pipelines(settings)
    if served is None:
        _fail("the embedded store is in use by a running server: use GET /api/offices", 3)
    if office:
        office_id = office if office.startswith("office/") else f"office/{office}"
        record = served.records([office_id]).get(office_id)
        if record is None:
            _fail(f"no office {office!r}", 1)
        measures = (record.get("office") or {}).get("measures") or []
        found = served.records(measures)
        table = Table(title=f"{record['title']}: {len(measures)} units")
        table.add_column("unit")
        table.add_column("section")
        table.add_column("Termin")
        for unit_id in measures:
            if unit_id in found:
                table.add_row(unit_id, found[unit_id]["section"], found[unit_id].get("termin") or "")
        console.print(table)
        return
    table = Table(title="Responsible bodies in the Integrationskonzept")
    for column in ("office", "name", "type", "units", "contact"):
        table.add_column(column)
    for record in served.all_records("office"):
        info = record.get("office") or {}
        table.add_row(record["unit_id"], record["title"], info.get("type") or "", str(len(info.get("measures") or [])),
                      info.get("service") or "–")
    console.print(table)


@models_app.command("install")
def models_install(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="An .argosmodel file.")],
) -> None:
    """Install an argostranslate model from a file (nothing is downloaded)."""
    from pipelines.argos import ArgosModelError, install_model

    settings = get_settings()
    try:
        model = install_model(path, settings.argos_dir)
    except ArgosModelError as exc:
        _fail(str(exc), 2)
    console.print(f"Installed {model.from_code} → {model.to_code} into {settings.argos_dir}. Answers in "
                  f"'{model.to_code}' are now machine-translated (and marked as such).")


@models_app.command("list")
def models_list() -> None:
    """List installed argostranslate models."""
    from pipelines.argos import installed_models

    models = installed_models(get_settings().argos_dir)
    if not models:
        console.print("No argostranslate models installed.")
    for model in models:
        console.print(f"{model.from_code} → {model.to_code}  (version {model.version or '?'}, {model.path})")


@tm_app.command("status")
def tm_status() -> None:
    """Coverage of the translation memory: current, stale and missing entries per language."""
    from ingest.errors import CorpusError
    from ingest.indexer import load_validated

    try:
        corpus, memory, _ = load_validated(get_settings())
    except CorpusError as exc:
        _fail(str(exc), 2)
    table = Table(title=f"Translation memory ({len(corpus.units)} units)")
    for column in ("language", "current", "stale", "missing", "orphaned", "coverage"):
        table.add_column(column, justify="right" if column != "language" else "left")
    for lang, row in sorted(memory.coverage(len(corpus.units)).items()):
        table.add_row(lang, str(row["fresh"]), str(row["stale"]), str(row["missing"]), str(row["orphans"]),
                      f"{100 * row['fresh'] / row['total']:.0f} %")
    console.print(table)
    for lang in sorted(memory.files):
        stale = memory.stale.get(lang) or []
        if stale:
            console.print(f"[yellow]{lang}[/]: stale {', '.join(stale[:10])}{' …' if len(stale) > 10 else ''}")


@app.command()
def gaps() -> None:
    """Report anonymised unanswered questions (only kept when WEGWEISER_LOG_GAPS is on)."""
    from collections import Counter

    from api.gaps import read_gaps

    settings = get_settings()
    entries = read_gaps(settings)
    if not settings.log_gaps and not entries:
        console.print("Gap logging is off (WEGWEISER_LOG_GAPS=true turns it on). Nothing is stored.")
        return
    console.print(f"{len(entries)} unanswered questions in the last {settings.gaps_retention_days} days "
                  f"(by language: {dict(Counter(e['lang'] for e in entries))}).")
    table = Table()
    table.add_column("day")
    table.add_column("lang")
    table.add_column("question (anonymised)")
    for entry in entries[-50:]:
        table.add_row(entry["day"], entry["lang"], entry["question"])
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


