"""``wegweiser ingest`` into a real embedded Qdrant with the real model: counts, idempotence, bad input."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest.corpus import load_corpus
from ingest.documents import build_documents
from ingest.errors import CorpusError
from ingest.indexer import BATCH_SIZE, _reusable_vectors, load_validated, run_ingest
from pipelines.edge import copy_store
from pipelines.indexing import build_indexing_pipeline
from pipelines.query import ask
from pipelines.serving import ServingState
from pipelines.settings import Settings
from pipelines.store import (
    build_metadata,
    close_shared_client,
    collection_name,
    create_collection,
    embedding_dimension,
    fetch_records,
    index_info,
    new_build_name,
    open_document_store,
    served_build,
    shared_client,
)
from tests.conftest import CORPUS, make_settings

pytestmark = pytest.mark.integration


def _copy_store(source: Settings, root: Path, corpus: Path = CORPUS) -> Settings:
    """A private copy of the session's store (ingesting from scratch takes minutes; a copy reuses vectors)."""
    settings = make_settings(root, corpus_dir=corpus)
    copy_store(source.qdrant_path, settings.qdrant_path)
    return settings


def test_ingest_indexes_every_unit_in_every_language(ingested_settings: Settings) -> None:
    units = len(load_corpus(CORPUS).units)  # the counts per kind are asserted once, in test_corpus.py
    info = index_info(ingested_settings)
    assert info.metadata["units"] == units
    assert set(info.languages) == {"de", "de-simple", "en", "uk", "ru", "ar", "fa", "tr", "fr"}
    client = shared_client(ingested_settings)
    for language in info.languages:
        assert client.count(collection_name(info.build, language), exact=True).count == units
    records = fetch_records(client, info.build, ["ik/2.4/z2/m2", "svc/sprintpool", "office/fd-personal",
                                                 "proc/wohnung-anmelden", "ik/2.8/z3/m1"])
    procedure = records["proc/wohnung-anmelden"]
    assert procedure["kind"] == "procedure" and procedure["service"]["responsible"] == ["svc/buergerservice"]
    assert set(procedure["texts"]) == set(info.languages)
    # A plan names what a resident can use today, first what its own practice examples name.
    assert records["ik/2.8/z3/m1"]["practice_named"][0] == "svc/antidiskriminierungsstelle"
    measure = records["ik/2.4/z2/m2"]
    assert measure["text_de"].startswith("Maßnahme 2: Die Stadt Jena setzt sich weiterhin")
    assert set(measure["texts"]) == set(info.languages)
    assert measure["offices"] == ["office/buero-migration-integration", "office/fd-soziales"]
    assert records["svc/sprintpool"]["service"]["contact"]["phone"][0]["source"].startswith("https://")


def test_second_run_changes_nothing(ingested_settings: Settings) -> None:
    before = served_build(shared_client(ingested_settings), ingested_settings)
    report = run_ingest(ingested_settings)
    assert report.skipped and report.build == before
    assert served_build(shared_client(ingested_settings), ingested_settings) == before


def test_removed_unit_disappears_and_unchanged_vectors_are_reused(ingested_settings: Settings, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    copy_store(CORPUS, corpus)
    (corpus / "services" / "thekiz.yaml").unlink()
    settings = _copy_store(ingested_settings, tmp_path / "store", corpus)
    try:
        report = run_ingest(settings)
        assert not report.skipped and report.previous
        assert report.embedded == 0, "nothing new to embed: every remaining text was indexed before"
        client = shared_client(settings)
        assert fetch_records(client, report.build, ["svc/thekiz"]) == {}
        assert build_metadata(client, report.build)["units"] == len(load_corpus(CORPUS).units) - 1
        assert not [c.name for c in client.get_collections().collections if c.name.startswith(report.previous)]
    finally:
        close_shared_client(settings)


def test_the_vectors_kept_for_reuse_are_compact(ingested_settings: Settings) -> None:
    # A re-ingest holds every vector of the served build at once. As lists of Python floats (12 KiB per vector)
    # they were six million small objects whose freed arenas stayed resident in the server (issue 12).
    tracemalloc.start()
    try:
        reuse = _reusable_vectors(ingested_settings, served_build(shared_client(ingested_settings), ingested_settings))
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(reuse) > 1000
    assert held / len(reuse) < 4096, f"{held / len(reuse):.0f} bytes per 384-dimensional vector"


def test_malformed_corpus_fails_with_file_and_line_and_leaves_the_index_untouched(
        ingested_settings: Settings, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    copy_store(CORPUS, corpus)
    offices = corpus / "offices.yaml"
    offices.write_text(offices.read_text(encoding="utf-8").replace("  - id: office/kij\n", "  - id office/kij\n"),
                       encoding="utf-8")
    settings = _copy_store(ingested_settings, tmp_path / "store", corpus)
    try:
        client = shared_client(settings)
        served = served_build(client, settings)
        collections = sorted(c.name for c in client.get_collections().collections)
        with pytest.raises(CorpusError) as error:
            run_ingest(settings, force=True)
        assert error.value.path.endswith("offices.yaml") and error.value.line
        assert served_build(client, settings) == served
        assert sorted(c.name for c in client.get_collections().collections) == collections
    finally:
        close_shared_client(settings)


def test_cli_ingest_reports_units_and_exits_2_on_bad_input(ingested_settings: Settings, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.settings import get_settings
    from wegweiser.cli import app

    corpus = tmp_path / "corpus"
    copy_store(CORPUS, corpus)
    settings = _copy_store(ingested_settings, tmp_path / "store", corpus)
    monkeypatch.setenv("WEGWEISER_QDRANT_PATH", str(settings.qdrant_path))
    monkeypatch.setenv("WEGWEISER_CORPUS_DIR", str(corpus))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["ingest"])
        assert result.exit_code == 0, result.output
        assert "Units per kind" in result.output and "measure" in result.output and "63" in result.output
        (corpus / "translations" / "fr.yaml").write_text("language: fr\nunits: [unclosed\n", encoding="utf-8")
        result = CliRunner().invoke(app, ["ingest", "--force"])
        assert result.exit_code == 2
        assert "fr.yaml" in result.output and "untouched" in result.output
    finally:
        get_settings.cache_clear()
        close_shared_client(settings)


def _kill_an_ingest_midway(settings: Settings) -> str:
    """Leave what an ingest killed while writing leaves: a batch written into each of its first collections,
    nothing switched (a killed process runs no clean-up)."""
    client = shared_client(settings)
    build = new_build_name(settings)
    corpus, memory, glossary = load_validated(settings)
    documents, _ = build_documents(corpus, memory, glossary, build)
    for language in ("de", "en"):
        name = collection_name(build, language)
        create_collection(client, name, embedding_dimension(settings), {"language": language})
        docs = [d for d in documents if d.meta["language"] == language][:BATCH_SIZE]
        build_indexing_pipeline(settings, open_document_store(settings, index=name)).run(
            {"embedder": {"documents": docs}})
    return build


def test_a_normal_ingest_removes_what_a_killed_ingest_left(ingested_settings: Settings, tmp_path: Path) -> None:
    settings = _copy_store(ingested_settings, tmp_path / "store")
    try:
        client = shared_client(settings)
        served = served_build(client, settings)
        partial = _kill_an_ingest_midway(settings)
        report = run_ingest(settings)  # not forced, nothing changed
        assert report.skipped and report.build == served
        assert sorted(report.dropped) == [collection_name(partial, "de"), collection_name(partial, "en")]
        names = [c.name for c in client.get_collections().collections]
        assert not [n for n in names if n.startswith(partial)]
        assert [n for n in names if n.startswith(served)], "the served build stays"
        answer = ask(ServingState(settings).current().ask, "Wo finde ich einen Dolmetscher für den Arztbesuch?")
        assert answer["answered"] and answer["citations"]
    finally:
        close_shared_client(settings)
